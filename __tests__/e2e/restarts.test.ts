/**
 * One restart per deploy, counted in the emulator's request log: in URL mode the settings write restarts the app
 * on its own, so runpack waits for that restart instead of requesting a second one; when the setting does not
 * change (the same stable blob, a later release) runpack restarts once itself. Local mode requests one restart
 * after the push. Each (re)start is one mount of the package (the worker's MOUNT entries).
 */
import { describe, expect, it } from '@jest/globals';
import { type E2E, fetchSite, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

/** What one run caused: restart requests to Resource Manager, settings writes, and the worker's mounts. */
async function counted(app: string, run: () => Promise<{ code: number }>) {
  e.emu.admin.clearRequests();
  const r = await run();
  expect(r.code).toBe(0);
  // A mount the last request set off is logged when it ends.
  await new Promise((res) => setTimeout(res, 500));
  const log = e.requests();
  const site = (p: string) =>
    p.toLowerCase().includes(`/sites/${app}`) && !p.toLowerCase().includes('/slots/');
  return {
    restarts: log.filter(
      (q) => q.service === 'arm' && q.method === 'POST' && /\/restart(\?|$)/.test(q.path) && site(q.path),
    ).length,
    settingsWrites: log.filter(
      (q) =>
        q.service === 'arm' &&
        q.method === 'PUT' &&
        /\/config\/appsettings(\?|$)/.test(q.path) &&
        site(q.path),
    ).length,
    mounts: log.filter(
      (q) =>
        q.service === 'worker' && q.method === 'MOUNT' && q.site?.toLowerCase().endsWith(`/sites/${app}`),
    ).length,
  };
}

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

  it('local mode: one restart request after the push', async () => {
    await e.run({ 'app-name': 'rp-win-web', mode: 'local', package: e.app('l0') });
    const next = await counted('rp-win-web', () =>
      e.run({ 'app-name': 'rp-win-web', mode: 'local', package: e.app('l1') }),
    );
    // runpack requests one restart. Kudu's own restart after a zip deploy is a second mount that runpack does not
    // rely on (it may fail silently); pushing through OneDeploy with restart=false would leave one.
    expect(next.restarts).toBe(1);
    expect(next.settingsWrites).toBe(0);
    expect((await fetchSite(e.emu, 'rp-win-web', '/version.txt')).body.trim()).toMatch(/version l1$/);
  });
});
