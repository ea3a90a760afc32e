import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { auditSource } from '../../src/audit/index.js';

const FIXTURES = path.resolve('__tests__/fixtures/audit');

/** Every `BAD: rule` marker (same line) or `BAD-NEXT: rule` marker (next line) in a fixture folder. */
function expectedFindings(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const childAbs = path.join(abs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      if (statSync(childAbs).isDirectory()) {
        walk(childAbs, childRel);
        continue;
      }
      readFileSync(childAbs, 'utf8')
        .split('\n')
        .forEach((text, i) => {
          const m = /BAD(-NEXT)?: ([a-z-]+)/.exec(text);
          if (m) out.push(`${childRel}:${i + 1 + (m[1] ? 1 : 0)}:${m[2]}`);
        });
    }
  };
  walk(dir, '');
  return out.sort();
}

const LANGUAGES: { name: string; runtime: string; minimum: number }[] = [
  { name: 'node', runtime: 'node', minimum: 15 },
  { name: 'dotnet', runtime: 'dotnet', minimum: 14 },
  { name: 'python', runtime: 'python', minimum: 10 },
  { name: 'java', runtime: 'java', minimum: 10 },
];

describe.each(LANGUAGES)('audit of $name fixtures', ({ name, runtime, minimum }) => {
  it('reports exactly the marked bad lines, with the marked rule', async () => {
    const dir = path.join(FIXTURES, name, 'bad');
    const expected = expectedFindings(dir);
    expect(expected.length).toBeGreaterThanOrEqual(minimum);
    const report = await auditSource(dir);
    const actual = report.findings.map((f) => `${f.file}:${f.line}:${f.rule}`).sort();
    expect(actual).toEqual(expected);
    for (const f of report.findings) {
      expect(f.runtime).toBe(runtime);
      expect(f.column).toBeGreaterThanOrEqual(1);
      expect(f.why.length).toBeGreaterThan(20);
      expect(f.fix.length).toBeGreaterThan(20);
    }
  });

  it('finds nothing in clean code (reads, temp and env-based writes, comments, strings, static serving)', async () => {
    const dir = path.join(FIXTURES, name, 'clean');
    const report = await auditSource(dir);
    expect(report.filesScanned).toBeGreaterThan(0);
    expect(report.findings).toEqual([]);
  });
});

describe('severity and advice', () => {
  it('marks root-anchored writes as errors and relative ones as warnings, with runtime-specific temp advice', async () => {
    const report = await auditSource(path.join(FIXTURES, 'node', 'bad'));
    const root = report.findings.find((f) => f.file === 'server.js' && f.line === 9)!;
    expect(root.severity).toBe('error');
    expect(root.message).toContain('cacheDir (from __dirname)');
    expect(root.fix).toContain('os.tmpdir()');
    expect(root.fix).toContain('Blob Storage');
    const relative = report.findings.find((f) => f.rule === 'write-relative-path')!;
    expect(relative.severity).toBe('warning');
    expect(relative.why).toContain("'data/state.json'");

    const dotnet = await auditSource(path.join(FIXTURES, 'dotnet', 'bad'));
    expect(dotnet.findings.find((f) => f.rule === 'write-under-app-root')!.fix).toContain(
      'Path.GetTempPath()',
    );
    const python = await auditSource(path.join(FIXTURES, 'python', 'bad'));
    expect(python.findings.find((f) => f.rule === 'write-under-app-root')!.fix).toContain(
      'tempfile.gettempdir()',
    );
  });
});
