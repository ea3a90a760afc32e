/**
 * Red means the last good release is back: end to end through the built action, a release that fails
 * verification after the switch is replaced by the previous verified release (local mode: packagename.txt points
 * back at the package Kudu kept), which is restarted and verified; a release runpack never verified is not
 * brought back, and the step says why and what stays live.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type E2E, fetchSite, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

const CRASH = `throw new Error('boom: missing DATABASE_URL');\n`;
function crashing(version: string): string {
  const dir = e.app(version);
  writeFileSync(join(dir, 'server.js'), CRASH);
  return dir;
}

describe('automatic rollback (on-failure: rollback, the default)', () => {
  it('local mode: a crashing release is replaced by the package Kudu kept, restarted and verified', async () => {
    const good = await e.run({ 'app-name': 'rp-win-web', mode: 'local', package: e.app('l1') });
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/Release [0-9a-f]{12} recorded as verified/);
    // runpack's record of verified local releases sits next to the packages Kudu keeps.
    const home = e.emu.admin.site('rp-win-web').homeDir;
    const record = JSON.parse(readFileSync(join(home, 'data', 'runpack', 'releases.json'), 'utf8')) as {
      releases: { package: string; releaseId: string }[];
    };
    expect(record.releases[0].releaseId).toBe(good.outputs['release-id']);
    const pointer = readFileSync(join(home, 'data', 'SitePackages', 'packagename.txt'), 'utf8').trim();
    expect(record.releases[0].package).toBe(pointer);

    const r = await e.run(
      { 'app-name': 'rp-win-web', mode: 'local', package: crashing('l2') },
      { timeoutMs: 120_000 },
    );
    expect(r.code).toBe(1);
    expect(r.outputs).toMatchObject({
      cause: 'app-start-failed',
      'rolled-back': 'true',
      'live-release-id': good.outputs['release-id'],
      'previous-release-id': good.outputs['release-id'],
    });
    expect(r.stdout).toMatch(new RegExp(`packagename.txt names ${pointer} again`));
    expect(r.stdout).toMatch(/::group::Restart \(rollback\)/);
    expect(readFileSync(join(home, 'data', 'SitePackages', 'packagename.txt'), 'utf8').trim()).toBe(pointer);
    const site = await fetchSite(e.emu, 'rp-win-web', '/version.txt');
    expect(site.status).toBe(200);
    expect(site.body.trim()).toMatch(/version l1$/);
  });

  it('never brings back a release runpack did not verify: the failed release stays live, and the step says why', async () => {
    const url = { 'app-name': 'rp-linux-web', 'storage-account': e.emu.storage.accountName };
    const first = await e.run(
      { ...url, package: crashing('u1'), 'on-failure': 'keep' },
      { timeoutMs: 120_000 },
    );
    expect(first.code).toBe(1);
    const r = await e.run({ ...url, package: crashing('u2') }, { timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    expect(r.outputs['rolled-back']).toBe('false');
    expect(r.outputs['live-release-id']).toBe(r.outputs['release-id']);
    expect(r.stdout).toMatch(
      new RegExp(
        `::error::Verification failed: .*Not rolled back: release ${first.outputs['release-id']} was never verified by runpack .*; release ${r.outputs['release-id']} stays live\\.`,
      ),
    );
    expect(r.summary).toMatch(
      /\| Restored release \| none: release [0-9a-f]{12} was never verified by runpack/,
    );
  });
});
