/**
 * The CLI as a user gets it from the registry: `npm pack` makes the tarball, which installs offline into an
 * empty project (the bundle has no runtime dependencies), and `npx runpack` from that install alone answers
 * --version and --help and deploys to the emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, setupE2E, type E2E } from '../e2e/helpers/action.js';

const run = promisify(execFile);
let e: E2E;
let project: string;
let tarball: string;
let files: string[];

beforeAll(async () => {
  e = await setupE2E();
  const packs = join(e.work, 'packs');
  mkdirSync(packs);
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', packs], { cwd: REPO_ROOT });
  const info = (JSON.parse(stdout) as { filename: string; files: { path: string }[] }[])[0];
  tarball = join(packs, info.filename);
  files = info.files.map((f) => f.path);
  project = join(e.work, 'consumer');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project });
}, 180_000);
afterAll(async () => {
  await e?.stop();
});

/** `npx runpack …` in the consumer project, with nothing but the installed tarball. */
const npx = (args: string[], env: Record<string, string> = {}) =>
  run('npx', ['--no-install', 'runpack', ...args], {
    cwd: project,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: project, ...env },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({
      code: err.code ?? -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    }),
  );

describe('npm pack', () => {
  it('ships the CLI bundle, the docs, README and LICENSE, and nothing of the sources, tests or emulator', () => {
    expect(files).toEqual(expect.arrayContaining(['dist/cli.js', 'README.md', 'LICENSE', 'package.json']));
    expect(files.some((f) => f.startsWith('docs/'))).toBe(true);
    expect(
      files.filter((f) => /^(src|emulator|__tests__|bench|extension)\//.test(f) || f === 'dist/index.js'),
    ).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      private?: boolean;
      dependencies?: Record<string, string>;
      bin: Record<string, string>;
    };
    expect(pkg.private).toBeUndefined();
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.bin).toEqual({ runpack: 'dist/cli.js' });
  });

  it('npx runpack --version and --help work from the install alone', async () => {
    const version = await npx(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const help = await npx(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: runpack <command>/);
    const deployHelp = await npx(['deploy', '--help']);
    expect(deployHelp.stdout).toMatch(/--app-name <value>/);
  });

  it('deploys to the emulator from the install alone, and --json prints an object on failure too', async () => {
    const ok = await npx(
      [
        'deploy',
        '--app-name',
        'rp-linux-web',
        '--storage-account',
        e.emu.storage.accountName,
        '--package',
        e.app('npx'),
        '--resource-manager-endpoint',
        e.emu.resourceManagerEndpoint,
        '--creds',
        e.creds(),
        '--json',
      ],
      e.emu.env,
    );
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, verified: true });
    const bad = await npx(['deploy', '--app-name', 'rp-linux-web', '--mode', 'ftp', '--json']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toEqual({
      ok: false,
      error: "Flag '--mode' must be one of auto, url, local, not 'ftp'.",
      errorCode: 'usage',
    });
  });
});
