/**
 * Cancellation: a runner cancels a step with SIGINT, then SIGTERM. The built action stops starting new work,
 * removes its temp files, and says where it stopped and what the app runs now.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type E2E, fetchSite, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

const url = () => ({ 'app-name': 'rp-linux-web', 'storage-account': e.emu.storage.accountName });
/** RUNNER_TEMP of the last run: the action's temp folders go there. */
const leftovers = () => {
  const last = Math.max(
    ...readdirSync(e.work)
      .filter((n) => /^run-\d+$/.test(n))
      .map((n) => Number(n.slice(4))),
  );
  return readdirSync(join(e.work, `run-${last}`)).filter((n) => n.startsWith('runpack-'));
};

describe('cancellation (SIGINT, SIGTERM)', () => {
  it('SIGINT while the switched release is verified: says it may be live unverified, cleans up, no rollback started', async () => {
    const good = await e.run({ ...url(), package: e.app('c1') });
    expect(good.code).toBe(0);
    const crashing = e.app('c2');
    writeFileSync(join(crashing, 'server.js'), "throw new Error('boom');\n");
    const started = Date.now();
    const r = await e.run(
      { ...url(), package: crashing },
      { timeoutMs: 60_000, signal: { when: /::group::Restart/, name: 'SIGINT' } },
    );
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /::error::Cancelled \(SIGINT\) during Restart: the package of release [0-9a-f]{12} was switched but not verified, so it may be live unverified — run 'runpack rollback --release previous' or deploy again\./,
    );
    expect(r.stdout).not.toMatch(/::group::Verify|::group::Roll back/);
    expect(leftovers()).toEqual([]);
    // Which release serves depends on whether the restart request left before the signal: not claimed either way.
    expect(r.outputs['live-release-id']).toBe('');
  });

  it('SIGTERM before anything changed: the live release still is, and the step says which', async () => {
    const good = await e.run({ ...url(), package: e.app('c3') });
    expect(good.code).toBe(0);
    // Slow storage answers keep the deploy in the lock phase, before anything changes, while the signal arrives.
    e.emu.admin.setFaults(e.emu.storage.accountName, { slow: { target: 'blob', ms: 1500 } });
    const r = await e.run(
      { ...url(), package: e.app('c4') },
      { timeoutMs: 60_000, signal: { when: /::group::Deploy lock/, name: 'SIGTERM' } },
    );
    e.emu.admin.clearFaults();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(
        `::error::Cancelled \\(SIGTERM\\) during Deploy lock: nothing was changed, so release ${good.outputs['release-id']} still is\\.`,
      ),
    );
    expect(r.outputs['live-release-id']).toBe(good.outputs['release-id']);
    expect(leftovers()).toEqual([]);
    const site = await fetchSite(e.emu, 'rp-linux-web', '/version.txt');
    expect(site.body.trim()).toMatch(/version c3$/);
  });

  it('the rollback command, cancelled while it plans, changes nothing and says the live release still is', async () => {
    const v1 = await e.run({ ...url(), package: e.app('c5') });
    const v2 = await e.run({ ...url(), package: e.app('c6') });
    expect([v1.code, v2.code]).toEqual([0, 0]);
    e.emu.admin.setFaults(e.emu.storage.accountName, { slow: { target: 'blob', ms: 1500 } });
    const r = await e.run(
      { ...url(), command: 'rollback', release: 'previous' },
      { timeoutMs: 60_000, signal: { when: /::group::Releases/, name: 'SIGINT' } },
    );
    e.emu.admin.clearFaults();
    expect(r.code).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    // Stopped while it listed the releases: nothing was changed. Whether it had read which release is live by then
    // depends on the timing; when it had, it names the live one (v2), never another.
    expect(errors[0]).toMatch(
      new RegExp(
        `^::error::Cancelled \\(SIGINT\\) before the rollback changed anything: (release ${v2.outputs['release-id']}|the release that was live) still is\\.$`,
      ),
    );
    expect(r.stdout).not.toMatch(/::group::Copy the release/);
    const site = await fetchSite(e.emu, 'rp-linux-web', '/version.txt');
    expect(site.body.trim()).toMatch(/version c6$/);
  });

  // Every phase of a URL-mode deploy, cancelled as it starts: one line that says where it stopped and what the app
  // runs, and that claim holds (the app serves what the line says), no temp folder left behind.
  const PHASES = [
    'Validate inputs',
    'Log in',
    'Resolve target',
    'Package',
    'Storage',
    'Package access',
    'Upload',
    'App setting',
    'Restart',
    'Verify',
    'Record the release',
  ];
  it.each(PHASES)(
    'SIGINT as %s starts: says where it stopped, and what it says the app runs is true',
    async (phase) => {
      const base = await e.run({ ...url(), package: e.app(`p-${phase}-base`) });
      expect(base.code).toBe(0);
      const version = `p-${phase}`;
      const r = await e.run(
        { ...url(), package: e.app(version) },
        { timeoutMs: 60_000, signal: { when: new RegExp(`::group::${phase}\\n`), name: 'SIGINT' } },
      );
      expect(r.code).toBe(1);
      const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error::'));
      expect(errors).toHaveLength(1);
      const line = errors[0];
      expect(line).toMatch(/^::error::Cancelled \(SIGINT\) during [A-Z][\w ()]+: /);
      expect(leftovers()).toEqual([]);
      const served = (await fetchSite(e.emu, 'rp-linux-web', '/version.txt')).body.trim();
      if (/nothing was changed/.test(line)) {
        // Before the upload has read the stable blob, which release is live is not known yet: said so, not guessed.
        const known = line.includes(`release ${base.outputs['release-id']} still is`);
        if (!known) expect(line).toContain('the release that was live still is');
        expect(served).toMatch(new RegExp(`version ${version}-base$`));
        expect(r.outputs['live-release-id']).toBe(known ? base.outputs['release-id'] : '');
      } else if (/is live and verified/.test(line)) {
        expect(served).toMatch(new RegExp(`version ${version}$`));
        expect(r.outputs['live-release-id']).toBe(r.outputs['release-id']);
      } else
        expect(line).toMatch(
          /may be live unverified — run 'runpack rollback --release previous' or deploy again/,
        );
    },
  );
});
