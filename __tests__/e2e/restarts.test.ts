/**
 * One restart per deploy, counted in the emulator's request log: in URL mode the settings write restarts the app
 * on its own, so runpack waits for that restart instead of requesting a second one; when the setting does not
 * change (the same stable blob, a later release) runpack restarts once itself. Local mode pushes with OneDeploy
 * and restart=false, then restarts once: one mount. A slot deploy restarts the slot once; a swap then re-mounts each side once (the platform's own
 * swap, no restart from runpack). Each (re)start is one mount of the package (the worker's MOUNT entries).
 */
import { describe, expect, it } from '@jest/globals';
import { type E2E, fetchSite, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

/** What one run caused on each site (`app` or `app/slot`): restart requests, settings writes, the worker's mounts. */
async function countedSites(apps: string[], run: () => Promise<{ code: number }>) {
  e.emu.admin.clearRequests();
  const r = await run();
  expect(r.code).toBe(0);
  // A mount the last request set off is logged when it ends.
  await new Promise((res) => setTimeout(res, 500));
  const log = e.requests();
  return apps.map((app) => {
    const [name, slot] = app.split('/');
    const id = `/sites/${name}${slot ? `/slots/${slot}` : ''}`.toLowerCase();
    const arm = (method: string, op: RegExp) =>
      log.filter(
        (q) =>
          q.service === 'arm' &&
          q.method === method &&
          op.test(q.path) &&
          q.path.toLowerCase().includes(`${id}/`) &&
          (slot !== undefined || !q.path.toLowerCase().includes('/slots/')),
      ).length;
    return {
      restarts: arm('POST', /\/restart(\?|$)/),
      settingsWrites: arm('PUT', /\/config\/appsettings(\?|$)/),
      mounts: log.filter(
        (q) => q.service === 'worker' && q.method === 'MOUNT' && q.site?.toLowerCase().endsWith(id),
      ).length,
    };
  });
}

const counted = async (app: string, run: () => Promise<{ code: number }>) =>
  (await countedSites([app], run))[0];

describe('one restart per deploy', () => {
  it('URL mode: the settings write is the restart; a later release with the same setting restarts once', async () => {
    const url = { 'app-name': 'rp-linux-web', 'storage-account': e.emu.storage.accountName };
    const first = await counted('rp-linux-web', () => e.run({ ...url, package: e.app('r1') }));
    expect(first).toEqual({ restarts: 0, settingsWrites: 1, mounts: 1 });
    expect((await fetchSite(e.emu, 'rp-linux-web', '/version.txt')).body.trim()).toMatch(/version r1$/);

    const second = await counted('rp-linux-web', () => e.run({ ...url, package: e.app('r2') }));
    expect(second).toEqual({ restarts: 1, settingsWrites: 0, mounts: 1 });
    expect((await fetchSite(e.emu, 'rp-linux-web', '/version.txt')).body.trim()).toMatch(/version r2$/);

    // Configuration with the package: still one settings write and no second restart.
    const third = await counted('rp-linux-web', () =>
      e.run({ ...url, package: e.app('r3'), 'app-settings': '[{"name":"FEATURE","value":"on"}]' }),
    );
    expect(third).toEqual({ restarts: 0, settingsWrites: 1, mounts: 1 });
  });

  it('local mode: the push restarts nothing, runpack restarts once, the package is mounted once', async () => {
    await e.run({ 'app-name': 'rp-win-web', mode: 'local', package: e.app('l0') });
    const next = await counted('rp-win-web', () =>
      e.run({ 'app-name': 'rp-win-web', mode: 'local', package: e.app('l1') }),
    );
    // The push (OneDeploy, restart=false) restarts nothing; runpack's one restart mounts the new package once.
    expect(next).toEqual({ restarts: 1, settingsWrites: 0, mounts: 1 });
    expect((await fetchSite(e.emu, 'rp-win-web', '/version.txt')).body.trim()).toMatch(/version l1$/);
  });

  it('a slot deploy swapped into production: one restart of the slot for the deploy, then the swap mounts each side once', async () => {
    // A SAS: the staging slot's own identity holds no role on the account in the preset.
    const url = {
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      'package-access': 'sas',
    };
    expect((await e.run({ ...url, package: e.app('s0') })).code).toBe(0);
    expect((await e.run({ ...url, slot: 'staging', package: e.app('s1') })).code).toBe(0);
    const [prod, staging] = await countedSites(['rp-linux-web', 'rp-linux-web/staging'], () =>
      e.run({ ...url, slot: 'staging', 'swap-to': 'production', package: e.app('s2') }),
    );
    // The slot's setting already named its stable blob: runpack restarts it once; the swap re-mounts both sides.
    expect(staging).toEqual({ restarts: 1, settingsWrites: 0, mounts: 2 });
    expect(prod).toEqual({ restarts: 0, settingsWrites: 0, mounts: 1 });
    expect((await fetchSite(e.emu, 'rp-linux-web', '/version.txt')).body.trim()).toMatch(/version s2$/);
  });
});
