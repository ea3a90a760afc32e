import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeText, tempDir, unzipTest, writeTree, zipNames } from '../helpers/pack-tree.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'package', ...args], {
      cwd: repo,
      env: { ...process.env, SOURCE_DATE_EPOCH: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function app(): { base: string; src: string } {
  const base = tempDir('runpack-cli-pack-');
  roots.push(base);
  const src = path.join(base, 'publish');
  writeTree(src, {
    'server.js': codeText(8000),
    'package.json': '{"main":"server.js"}',
    'lib/a.js': codeText(3000, 3),
    'lib/a.js.map': '{}',
  });
  return { base, src };
}

describe('runpack package (CLI process)', () => {
  it('writes the zip and prints sha256, size and file count', async () => {
    const { base, src } = app();
    const out = path.join(base, 'app.zip');
    const r = await runCli([src, '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const sha = createHash('sha256').update(fs.readFileSync(out)).digest('hex');
    expect(r.stdout).toContain(sha);
    expect(r.stdout).toContain(`${fs.statSync(out).size} bytes`);
    expect(r.stdout).toMatch(/files\s+5\b/);
    expect(unzipTest(out).status).toBe(0);
  });

  it('--json prints one PackResult object; --exclude, --no-stamp and --source-date-epoch apply', async () => {
    const { base, src } = app();
    const out = path.join(base, 'app.zip');
    const r = await runCli([
      src,
      '--output',
      out,
      '--json',
      '--no-stamp',
      '--exclude',
      '*.map',
      '--source-date-epoch=1700000000',
    ]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(Object.keys(j).sort()).toEqual(['bytes', 'files', 'outFile', 'sha256', 'stamp', 'zipBytes']);
    expect(j.outFile).toBe(out);
    expect(j.sha256).toBe(createHash('sha256').update(fs.readFileSync(out)).digest('hex'));
    expect(j.zipBytes).toBe(fs.statSync(out).size);
    expect(j.files).toBe(3);
    expect(j.stamp).toBeNull();
    expect(zipNames(out)).toEqual(['lib/', 'lib/a.js', 'package.json', 'server.js']);

    const withStamp = await runCli([src, '-o', out, '--json']);
    const s = JSON.parse(withStamp.stdout) as {
      stamp: { runpack: number; contentSha256: string };
      files: number;
    };
    expect(s.stamp.runpack).toBe(1);
    expect(s.stamp.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(s.files).toBe(5);
  });

  it('gives the same bytes in any time zone and with SOURCE_DATE_EPOCH from the environment', async () => {
    const { base, src } = app();
    const a = path.join(base, 'a.zip');
    const b = path.join(base, 'b.zip');
    const c = path.join(base, 'c.zip');
    const ra = await runCli([src, '-o', a], { TZ: 'UTC' });
    const rb = await runCli([src, '-o', b], { TZ: 'Pacific/Kiritimati' });
    expect(ra.code).toBe(0);
    expect(rb.code).toBe(0);
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
    const rc = await runCli([src, '-o', c, '--json'], {
      TZ: 'America/St_Johns',
      SOURCE_DATE_EPOCH: '1700000000',
    });
    const rd = await runCli([src, '-o', b, '--json', '--source-date-epoch', '1700000000'], {
      TZ: 'Asia/Kolkata',
    });
    expect(JSON.parse(rc.stdout).sha256).toBe(JSON.parse(rd.stdout).sha256);
    expect(JSON.parse(rc.stdout).sha256).not.toBe(
      createHash('sha256').update(fs.readFileSync(a)).digest('hex'),
    );
  });

  it('--cache reuses the entries of the last pack: the same bytes, and it says what it reused', async () => {
    const { base, src } = app();
    const cache = path.join(base, 'cache');
    const first = await runCli([src, '-o', path.join(base, 'a.zip'), '--cache', cache]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/cache {3}0 entries reused, 4 compressed/);
    fs.appendFileSync(path.join(src, 'server.js'), '// next release\n');
    const second = await runCli([src, '-o', path.join(base, 'b.zip'), '--cache', cache, '--json']);
    const result = JSON.parse(second.stdout) as { sha256: string; cache: Record<string, number> };
    expect(result.cache).toEqual({ hits: 3, misses: 1, removed: 1 });
    const plain = JSON.parse((await runCli([src, '-o', path.join(base, 'c.zip'), '--json'])).stdout) as {
      sha256: string;
    };
    expect(result.sha256).toBe(plain.sha256);
    const bad = await runCli([src, '-o', path.join(base, 'd.zip'), '--cache', path.join(src, 'server.js')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^.*--cache needs a folder for the entry cache/);
  });

  it('--help prints the options and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const flag of ['-o, --output', '--exclude', '--no-stamp', '--source-date-epoch', '--json']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('exits 2 with one line for usage errors', async () => {
    const { src } = app();
    for (const args of [
      [src],
      [],
      [src, '-o'],
      [src, '-o', 'x.zip', '--bogus'],
      [src, '-o', 'x.zip', '--source-date-epoch', 'soon'],
    ]) {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^runpack package: /);
    }
  });

  it('exits with one line naming the problem: missing folder (usage, 2, as deploy and inspect), escaping link, unwritable output (1)', async () => {
    const { base, src } = app();
    const missing = await runCli([path.join(base, 'nope'), '-o', path.join(base, 'o.zip')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^runpack package: Source folder '.*nope' does not exist/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);

    fs.symlinkSync('/etc/hostname', path.join(src, 'lib', 'host'));
    const escape = await runCli([src, '-o', path.join(base, 'o.zip')]);
    expect(escape.code).toBe(1);
    expect(escape.stderr).toContain("Symlink 'lib/host' points outside the source folder");
    fs.rmSync(path.join(src, 'lib', 'host'));

    const unwritable = await runCli([src, '-o', path.join(src, 'server.js', 'o.zip')]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toContain('Cannot write output');
    expect(fs.readdirSync(base).sort()).toEqual(['publish']);
  });
});
