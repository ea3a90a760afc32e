import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';

const run = promisify(execFile);
const FIXTURES = path.resolve('__tests__/fixtures/audit');

/** 1-based line of the first line of a fixture file that contains `text`. */
function lineOf(file: string, text: string): number {
  const i = readFileSync(path.join(FIXTURES, file), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(text));
  if (i < 0) throw new Error(`${text} not in ${file}`);
  return i + 1;
}

/** Runs the CLI from source as a user would run the bin; resolves with the exit code and output. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'audit', ...args],
      {
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('runpack audit (process)', () => {
  it('exits 1 and prints file:line: rule — why. Fix: … for each finding', async () => {
    const r = await cli(path.join(FIXTURES, 'node', 'bad'));
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    const line = lineOf('node/bad/server.js', 'fs.mkdirSync(cacheDir');
    const dir = path.join(FIXTURES, 'node', 'bad');
    const first = `${dir}/server.js:${line}: write-under-app-root — fs.mkdirSync writes to a path built from cacheDir (from __dirname)`;
    expect(lines.filter((l) => l.startsWith(first))).toHaveLength(1);
    const findings = lines.filter((l) => / — .+\. Fix: /.test(l));
    expect(findings.length).toBeGreaterThanOrEqual(15);
    expect(findings.every((l) => l.startsWith(`${dir}/`))).toBe(true);
    const files = new Set(findings.map((l) => l.split(':')[0])).size;
    expect(lines[lines.length - 1]).toBe(
      `${findings.length} writes under the app root in ${files} files (${files} files scanned).`,
    );
  });

  it('exits 0 on clean code', async () => {
    const r = await cli(path.join(FIXTURES, 'python', 'clean'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^No writes under the app root found/);
  });

  it('prints one JSON object with --json', async () => {
    const r = await cli(path.join(FIXTURES, 'dotnet', 'bad'), '--json');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { filesScanned: number; findings: Record<string, unknown>[] };
    expect(report.filesScanned).toBeGreaterThan(0);
    const keys = ['file', 'line', 'column', 'rule', 'runtime', 'severity', 'message', 'why', 'fix'];
    for (const f of report.findings) expect(Object.keys(f).sort()).toEqual([...keys].sort());
    expect(report.findings).toContainEqual(
      expect.objectContaining({
        file: 'Program.cs',
        line: lineOf('dotnet/bad/Program.cs', 'Directory.CreateDirectory(cache)'),
        rule: 'write-under-app-root',
      }),
    );
  });

  it('filters by --runtime', async () => {
    const r = await cli(path.join(FIXTURES, 'java', 'bad'), '--runtime', 'node', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).findings).toEqual([]);
  });

  it('audits every language with --runtime functions, and prints help with --help', async () => {
    const all = await cli(FIXTURES, '--json');
    const functions = await cli(FIXTURES, '--json', '--runtime', 'functions');
    expect(functions.code).toBe(1);
    expect(JSON.parse(functions.stdout).findings).toEqual(JSON.parse(all.stdout).findings);
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: runpack audit <source-dir>/);
  });

  it('exits 2 with a one-line message on bad usage', async () => {
    const missing = await cli();
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('give the folder to audit');
    const badRuntime = await cli(FIXTURES, '--runtime', 'cobol');
    expect(badRuntime.code).toBe(2);
    expect(badRuntime.stderr).toContain("--runtime 'cobol' has no audit rules");
    const nope = await cli(path.join(FIXTURES, 'does-not-exist'));
    expect(nope.code).toBe(2);
    expect(nope.stderr).toMatch(/^runpack audit: source folder '.*does-not-exist' does not exist;/);
    const flag = await cli(FIXTURES, '--nope');
    expect(flag.code).toBe(2);
  });
});
