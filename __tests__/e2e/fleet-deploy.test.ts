/**
 * Fleets end to end: one `app-name` listing several apps. The package is packed once, every target deployed and
 * verified; a target that cannot be deployed as asked (a Flex Consumption app with mode: url) fails the step while the others finish,
 * and the summary has a row per target.
 */
import { describe, expect, it } from '@jest/globals';
import { fetchSite, type E2E, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

interface Entry {
  app: string;
  slot: string | null;
  ok: boolean;
  verified: boolean;
  'release-id': string | null;
  'app-url': string | null;
  'error-code': string | null;
}

describe('fleet', () => {
  it('deploys and verifies every app; one failing target fails the step, the others still finish', async () => {
    const r = await e.run({
      'app-name': 'rp-linux-web\nrp-flex-func, rp-win-web',
      'storage-account': e.emu.storage.accountName,
      mode: 'url',
      package: e.app('f1'),
      'health-path': '/healthz',
      expect: 'f1',
    });
    expect(r.code).not.toBe(0);
    const results = JSON.parse(r.outputs.results) as Entry[];
    expect(results.map((x) => [x.app, x.ok, x.verified, x['error-code']])).toEqual([
      ['rp-linux-web', true, true, null],
      ['rp-flex-func', false, false, 'mode-unsupported'],
      ['rp-win-web', true, true, null],
    ]);
    // One package: the same release on every target that got one.
    const release = r.outputs['release-id'];
    expect(release).toMatch(/^[0-9a-f]{12}$/);
    expect(results.filter((x) => x.ok).map((x) => x['release-id'])).toEqual([release, release]);
    expect(results[0]['app-url']).toBe('https://rp-linux-web.azurewebsites.emulator.test');
    expect(r.outputs.verified).toBe('false');
    expect(r.outputs['app-url']).toBe('');
    expect(r.stdout).toMatch(/::error::1 of 3 targets failed: rp-flex-func \(mode-unsupported\)/);
    expect(r.stdout).toMatch(/Packed once for 3 targets/);
    // Uploaded once: the second app copies the first one's release blob inside the account.
    expect(r.stdout.match(/Uploaded releases\//g)).toHaveLength(1);
    expect(r.stdout).toMatch(
      /Copied releases\/rp-(linux|win)-web\/[0-9a-f]{64}\.zip to releases\/rp-(linux|win)-web\//,
    );
    expect(r.stdout).toMatch(/^\[rp-win-web\] /m);
    expect(r.summary).toMatch(/\| rp-linux-web \| ✅ ok \| `[0-9a-f]{12}` \| yes \|/);
    expect(r.summary).toMatch(/\| rp-win-web \| ✅ ok \| `[0-9a-f]{12}` \| yes \|/);
    expect(r.summary).toMatch(/\| rp-flex-func \| ❌ failed \|.*Flex Consumption/);
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version f1');
    expect((await fetchSite(e.emu, 'rp-win-web', '/')).body).toContain('version f1');
    expect(e.emu.admin.site('rp-flex-func').appSettings.WEBSITE_RUN_FROM_PACKAGE).toBeUndefined();
  });

  it('a dry run plans every target and writes nothing', async () => {
    e.emu.admin.clearRequests();
    const r = await e.run({
      'app-name': 'rp-linux-web\nrp-win-web',
      'storage-account': e.emu.storage.accountName,
      mode: 'url',
      package: e.app('f0'),
      'dry-run': 'true',
    });
    expect(r.code).toBe(0);
    expect(r.summary).toContain('### Plan for rp-linux-web (dry run: nothing written)');
    expect(r.summary).toContain('### Plan for rp-win-web (dry run: nothing written)');
    expect(r.outputs.verified).toBe('false');
    expect(
      e.requests().filter((q) => q.method === 'PUT' || q.method === 'DELETE' || q.method === 'PATCH'),
    ).toEqual([]);
  });

  it('succeeds when every target verifies', async () => {
    const r = await e.run({
      'app-name': 'rp-linux-web,rp-win-web',
      'storage-account': e.emu.storage.accountName,
      mode: 'url',
      package: e.app('f2'),
    });
    expect(r.code).toBe(0);
    expect(r.outputs.verified).toBe('true');
    expect(r.outputs.mode).toBe('url');
    expect((JSON.parse(r.outputs.results) as Entry[]).every((x) => x.ok && x.verified)).toBe(true);
    expect(r.summary).toMatch(/All 2 targets run release `[0-9a-f]{12}`, verified/);
  });
});
