/** `runpack inspect` as a user runs it: a child process, its exit code, stdout and stderr. */
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildZip, writeZip, zipWithCommand, removeTempDirs } from '../helpers/zip-fixtures.js';

afterAll(removeTempDirs);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'src/cli.ts'), 'inspect', ...args],
      { cwd: root, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const goodZip = zipWithCommand({
  'package.json': JSON.stringify({ scripts: { start: 'node server.js' } }),
  'server.js': 'require("http").createServer((q, s) => s.end("ok")).listen(process.env.PORT)',
});
const nestedZip = zipWithCommand({ 'site/index.html': '<h1>hi</h1>' });

describe('runpack inspect (CLI)', () => {
  it('exits 0 and prints exactly one JSON object for a deployable zip', async () => {
    const r = await runCli([goodZip, '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]);
    expect(report).toEqual({
      ok: true,
      runtime: 'node',
      entryPoint: 'server.js',
      files: 2,
      bytes: expect.any(Number),
      problems: [],
    });
  });

  it('exits 1 and names the problem and its fix in the readable report', async () => {
    const r = await runCli([nestedZip]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/error\s+\[nested-root\]/);
    expect(r.stdout).toMatch(/package the contents of 'site\/' instead/);
    expect(r.stdout).toMatch(/NOT DEPLOYABLE/);
  });

  it('exits 1 with a JSON report for a damaged zip, and --no-verify-data skips the CRC pass', async () => {
    const bad = writeZip(buildZip([{ name: 'index.html', data: '<p>', crc: 99 }]));
    const r = await runCli(['--json', bad]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({
      code: 'corrupt-archive',
      severity: 'error',
      path: 'index.html',
    });
    const skipped = await runCli(['--json', '--no-verify-data', bad]);
    expect(skipped.code).toBe(0);
  });

  it('honours --runtime and --function-app', async () => {
    const asStatic = await runCli([goodZip, '--runtime', 'static', '--json']);
    expect(asStatic.code).toBe(1);
    expect(JSON.parse(asStatic.stdout).problems[0].code).toBe('entry-point-missing');
    const asFunctions = await runCli([goodZip, '--function-app', '--json']);
    expect(asFunctions.code).toBe(1);
    expect(JSON.parse(asFunctions.stdout).problems.map((p: { code: string }) => p.code)).toContain(
      'functions-host-missing',
    );
  });

  it('exits 2 for usage errors, with a one-line message on stderr and nothing on stdout', async () => {
    for (const args of [
      [],
      ['--runtime', 'cobol', goodZip],
      ['--frobnicate', goodZip],
      [goodZip, nestedZip],
    ]) {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('with --json, a usage error is one JSON object on stdout and nothing on stderr', async () => {
    const r = await runCli(['/no/such/file.zip', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      error: "'/no/such/file.zip' does not exist; pass the path of a zip or of the folder to package",
      errorCode: 'usage',
    });
  });

  it('prints help with exit 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--no-verify-data/);
  });
});
