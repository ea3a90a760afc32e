/**
 * Slots end to end: deploy the Linux web app's staging slot, verify it, swap it into production and verify
 * production; the sticky-setting warning, and a swap that would break production refused before anything changes.
 */
import { describe, expect, it } from '@jest/globals';
import { fetchSite, type E2E, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

function production() {
  const s = [...e.emu.ctx.sites.values()].find((x) => x.appName === 'rp-linux-web' && x.slotName === null);
  if (!s) throw new Error('no production site');
  return s;
}

describe('staging slot of the Linux web app', () => {
  it('deploys the slot in local mode, swaps it into production and verifies both', async () => {
    const before = (await fetchSite(e.emu, 'rp-linux-web', '/')).body;
    const r = await e.run({
      'app-name': 'rp-linux-web',
      slot: 'staging',
      mode: 'local',
      package: e.app('s1'),
      'health-path': '/healthz',
      expect: 's1',
      'swap-to': 'production',
    });
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ mode: 'local', verified: 'true' });
    // Every call before the swap went to the slot: its own SCM host took the push.
    const slotScm = e.emu.admin.site('rp-linux-web', 'staging');
    const pushes = e.emu.admin
      .requests({ service: 'kudu' })
      .filter((q) => /api\/publish/.test(q.path) && q.method === 'POST');
    expect(pushes).toHaveLength(1);
    expect(r.stdout).toMatch(/Swapping slot 'staging' of rp-linux-web into production/);
    expect(r.stdout).toMatch(/wwwroot on \S+ serves release [0-9a-f]{12} \(stamp matches\)/);
    expect(r.outputs['app-url']).toBe('https://rp-linux-web.azurewebsites.emulator.test');
    expect(r.summary).toMatch(/### Swap\s+staging → production: ✅ swapped-in side verified/);
    expect(before).not.toContain('version s1');
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version s1');
    expect(e.emu.admin.site('rp-linux-web').appSettings.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
    expect(slotScm.scmHostName).not.toBe(e.emu.admin.site('rp-linux-web').scmHostName);
  });

  it('warns, in the summary too, when WEBSITE_RUN_FROM_PACKAGE is sticky and the sides differ', async () => {
    production().slotConfigNames.appSettingNames = ['WEBSITE_RUN_FROM_PACKAGE'];
    try {
      const r = await e.run({
        'app-name': 'rp-linux-web',
        slot: 'staging',
        mode: 'url',
        'storage-account': e.emu.storage.accountName,
        // The slot's own identity has no blob role: a SAS keeps this test about the slot check.
        'package-access': 'sas',
        package: e.app('s2'),
      });
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).toMatch(
        /WEBSITE_RUN_FROM_PACKAGE is slot-sticky but slot 'staging' runs a package URL/,
      );
      expect(r.summary).toMatch(/slot-swap-mode-mismatch/);
      expect(r.summary).toMatch(/FAILED TO INITIALIZE RUN FROM PACKAGE/);
    } finally {
      production().slotConfigNames.appSettingNames = [];
    }
  });

  it('refuses, before changing anything, a swap that would leave production unable to mount', async () => {
    production().slotConfigNames.appSettingNames = ['WEBSITE_RUN_FROM_PACKAGE'];
    try {
      const slotBefore = { ...e.emu.admin.site('rp-linux-web', 'staging').appSettings };
      e.emu.admin.clearRequests();
      const r = await e.run({
        'app-name': 'rp-linux-web',
        slot: 'staging',
        mode: 'url',
        'storage-account': e.emu.storage.accountName,
        package: e.app('s3'),
        'swap-to': 'production',
      });
      expect(r.code).not.toBe(0);
      expect(r.everything).toMatch(/The swap was not started; fix the settings, or set force: true/);
      expect(e.emu.admin.site('rp-linux-web', 'staging').appSettings).toEqual(slotBefore);
      const swaps = e.emu.admin.requests({ service: 'arm' }).filter((q) => /slotsswap/i.test(q.path));
      expect(swaps).toEqual([]);
      expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version s1');
    } finally {
      production().slotConfigNames.appSettingNames = [];
    }
  });
});
