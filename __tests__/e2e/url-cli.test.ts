/**
 * The same engine from the command line (runpack deploy), the action's rollback command, and a deploy
 * whose SCM site is closed (the mounted-content level is skipped, the others still prove the release).
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { emulatorSecrets, fetchSite, findLeaks, REPO_ROOT, type E2E, useE2E } from './helpers/action.js';

// The CLI entry point run from source: the bundled dist/cli.js starts its command before the bundle's
// inlined command modules are initialised (top-level await in src/cli.ts), so it cannot run any command yet.
const TSX = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI_SOURCE = join(REPO_ROOT, 'src', 'cli.ts');

let e: E2E;
useE2E((ready) => (e = ready));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(TSX, [CLI_SOURCE, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: '/usr/bin:/bin', HOME: e.work, ...e.emu.env, AZURE_CREDENTIALS: e.creds() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((r) => child.on('close', (code) => r({ code: code ?? -1, stdout, stderr })));
}

describe('runpack deploy (CLI)', () => {
  it('deploys with the same flags as the action inputs and prints the result as JSON', async () => {
    const r = await cli([
      'deploy',
      '--app-name',
      'rp-win-web',
      '--storage-account',
      e.emu.storage.accountName,
      '--package',
      e.app('c1'),
      '--health-path',
      '/healthz',
      '--expect',
      'c1',
      '--resource-manager-endpoint',
      e.emu.resourceManagerEndpoint,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { ok: boolean; outputs: Record<string, string> };
    expect(result.ok).toBe(true);
    expect(result.outputs).toMatchObject({ mode: 'url', verified: 'true' });
    const leaks = findLeaks(r.stdout + r.stderr, emulatorSecrets(e.emu));
    expect(leaks).toEqual([]);
  });

  it('speaks flags, not action inputs, in what it prints (--no-restart, --package-access)', async () => {
    const r = await cli([
      'deploy',
      '--app-name',
      'rp-linux-web',
      '--storage-account',
      e.emu.storage.accountName,
      '--package',
      e.app('c-norestart'),
      '--no-restart',
      '--resource-manager-endpoint',
      e.emu.resourceManagerEndpoint,
    ]);
    expect(r.stderr).toMatch(/warning: --no-restart; the/);
    expect(r.stdout + r.stderr).not.toMatch(/restart: false|package-access: /);
    const refused = await cli([
      'deploy',
      '--app-name',
      'rp-win-web',
      '--storage-account',
      e.emu.storage.accountName,
      '--package',
      e.app('c-identity'),
      '--package-access',
      'identity',
      '--resource-manager-endpoint',
      e.emu.resourceManagerEndpoint,
      '--json',
    ]);
    expect(refused.code).toBe(1);
    const error = (JSON.parse(refused.stdout) as { error: string }).error;
    expect(error).toMatch(/so --package-access identity cannot work;.* or use --package-access sas\./);
  });

  it('exits 2 on a bad flag without calling anything', async () => {
    e.emu.admin.clearRequests();
    const r = await cli(['deploy', '--app-name', 'rp-win-web', '--mode', 'ftp']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Flag '--mode' must be one of/);
    expect(r.stderr).not.toMatch(/Input '/);
    expect(e.requests()).toEqual([]);
  });

  it('lists every flag in --help', async () => {
    const r = await cli(['deploy', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--storage-account');
    expect(r.stdout).toContain('--package-access');
  });
});

describe('command: rollback in the action', () => {
  it('makes the previous release live again and verifies it', async () => {
    const base = {
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      'health-path': '/healthz',
    };
    const one = await e.run({ ...base, package: e.app('r1'), expect: 'r1' });
    expect(one.code).toBe(0);
    const two = await e.run({ ...base, package: e.app('r2'), expect: 'r2' });
    expect(two.code).toBe(0);
    const back = await e.run({ 'app-name': 'rp-linux-web', command: 'rollback', release: 'previous' });
    expect(back.code).toBe(0);
    expect(back.outputs['release-id']).toBe(one.outputs['release-id']);
    expect(back.outputs['previous-release-id']).toBe(two.outputs['release-id']);
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version r1');
  });

  it('diagnoses the app through the action (command: diagnose)', async () => {
    const r = await e.run({ 'app-name': 'rp-linux-web', command: 'diagnose' });
    expect(r.code).toBe(0);
    expect(r.outputs['app-url']).toBe('https://rp-linux-web.azurewebsites.emulator.test');
    expect(r.outputs.findings).toMatch(/^\d+$/);
  });

  it('needs a release', async () => {
    const r = await e.run({ 'app-name': 'rp-linux-web', command: 'rollback' });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/::error::Input 'release' is required/);
  });
});

describe('SCM closed to the runner', () => {
  it('skips the mounted-content level with the reason and still verifies through the other levels', async () => {
    e.emu.admin.setFaults('rp-win-web', { scmForbidden: true });
    const r = await e.run({
      'app-name': 'rp-win-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('k1'),
      'health-path': '/healthz',
      expect: 'k1',
    });
    expect(r.code).toBe(0);
    expect(r.summary).toMatch(/\(c\) mounted content is this release \| ➖ skipped \| SCM not reachable/);
    expect(r.outputs.verified).toBe('true');
  });
});

describe('unchanged content in local mode', () => {
  it('is a no-op without a push, a settings write or a restart', async () => {
    const app = e.app('l1');
    const first = await e.run({
      'app-name': 'rp-linux-web',
      mode: 'local',
      package: app,
      'health-path': '/healthz',
      expect: 'l1',
    });
    expect(first.code).toBe(0);
    e.emu.admin.clearRequests();
    const again = await e.run({
      'app-name': 'rp-linux-web',
      mode: 'local',
      package: app,
      'health-path': '/healthz',
      expect: 'l1',
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already live and verified/);
    const writes = e
      .requests()
      .filter((q) => /^(PUT|POST|PATCH|DELETE)$/.test(q.method))
      .filter((q) => !/oauth2|\/list|listKeys|_github/i.test(q.path));
    expect(writes).toEqual([]);
  });
});
