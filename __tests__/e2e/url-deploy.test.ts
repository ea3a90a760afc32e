/**
 * URL mode end to end: the built action against the emulator — identity and SAS access, the unchanged-content
 * no-op, v1 → v2 with the previous release, throttling storms and short-lived tokens, and the secret scan.
 */
import { describe, expect, it } from '@jest/globals';
import { fetchSite, type E2E, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

const WRITES = /^(PUT|POST|PATCH|DELETE)$/;

describe('url mode with the app identity (Linux web app)', () => {
  let v1Release = '';

  it('deploys v1: outputs, summary, and the app answers v1', async () => {
    const r = await e.run({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('v1'),
      'health-path': '/healthz',
      expect: 'v1',
    });
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({
      mode: 'url',
      verified: 'true',
      'app-url': 'https://rp-linux-web.azurewebsites.emulator.test',
    });
    expect(r.outputs['package-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(r.outputs['release-id']).toBe(r.outputs['package-sha256'].slice(0, 12));
    expect(r.outputs['package-url']).toMatch(/\/app-packages\/rp-linux-web\.zip$/);
    expect(r.outputs['package-url']).not.toContain('?');
    expect(r.summary).toContain('(c) mounted content is this release');
    expect(r.summary).toMatch(/Package access \| identity/);
    const setting = e.emu.admin.site('rp-linux-web').appSettings.WEBSITE_RUN_FROM_PACKAGE;
    expect(setting).toBe(r.outputs['package-url']);
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version v1');
    v1Release = r.outputs['release-id'];
  });

  it('does nothing for unchanged content: no write call reaches the emulator', async () => {
    e.emu.admin.clearRequests();
    const r = await e.run({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('v1'),
      'health-path': '/healthz',
      expect: 'v1',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/already live and verified/);
    expect(r.outputs['release-id']).toBe(v1Release);
    const writes = e
      .requests()
      .filter((q) => WRITES.test(q.method))
      // Reads that ARM and Entra model as POST (token requests, list calls) are not writes.
      .filter((q) => !/oauth2|\/list|listKeys|_github/i.test(q.path));
    expect(writes).toEqual([]);
  });

  it('deploys v2 and reports v1 as the previous release', async () => {
    const r = await e.run({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('v2'),
      'health-path': '/healthz',
      expect: 'v2',
    });
    expect(r.code).toBe(0);
    expect(r.outputs['previous-release-id']).toBe(v1Release);
    expect(r.outputs['release-id']).not.toBe(v1Release);
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version v2');
  });

  it('rides out a 429/503 storm from Resource Manager and Kudu', async () => {
    e.emu.admin.setFaults('*', {
      arm: { status: 429, count: 3, retryAfter: 1 },
      kudu: { status: 503, count: 2, retryAfter: 1 },
    });
    const r = await e.run({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('v3'),
      force: 'true',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Resource Manager answered 429; retrying/);
    expect(r.stdout).toMatch(/Kudu answered 503; retrying/);
    expect(r.outputs.verified).toBe('true');
  });

  it('keeps working when tokens expire during the run', async () => {
    e.emu.admin.setFaults('*', { tokenLifetimeSeconds: 2 });
    const r = await e.run({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('v4'),
      'health-path': '/healthz',
      expect: 'v4',
    });
    expect(r.code).toBe(0);
    expect(r.outputs.verified).toBe('true');
  });
});

describe('url mode with a SAS (Windows web app, no identity)', () => {
  it('binds a read-only SAS to a stored access policy and keeps it out of outputs and logs', async () => {
    const r = await e.run({
      'app-name': 'rp-win-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('w1'),
      'health-path': '/healthz',
      expect: 'w1',
    });
    expect(r.code).toBe(0);
    const setting = e.emu.admin.site('rp-win-web').appSettings.WEBSITE_RUN_FROM_PACKAGE;
    const q = new URL(setting).searchParams;
    expect(q.get('si')).toBe('runpack-rp-win-web');
    expect(q.get('spr')).toBe('https');
    expect(q.get('sr')).toBe('b');
    expect(r.outputs['package-url']).toBe(setting.split('?')[0]);
    expect(r.everything).not.toContain(q.get('sig')!);
    expect(r.summary).toMatch(/Package access \| sas/);
  });
});

describe('slots in url mode', () => {
  it('swaps a verified staging deploy into production, and a later staging deploy leaves production alone', async () => {
    const common = {
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      'package-access': 'sas',
      'health-path': '/healthz',
    };
    const first = await e.run({
      ...common,
      slot: 'staging',
      'swap-to': 'production',
      package: e.app('s1'),
      expect: 's1',
    });
    expect(first.code).toBe(0);
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version s1');

    const second = await e.run({ ...common, slot: 'staging', package: e.app('s2'), expect: 's2' });
    expect(second.code).toBe(0);
    expect((await fetchSite(e.emu, 'rp-linux-web', '/', 'staging')).body).toContain('version s2');

    // Production runs the blob the swap brought; its next restart must still mount s1.
    const prod = e.emu.admin.site('rp-linux-web');
    await e.emu.ctx.workers.get(prod.id.toLowerCase())!.restart();
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version s1');
  });
});
