/**
 * Green means every instance runs it: end to end through the built action against an app on two instances,
 * each instance is checked through Kudu and the site pinned with its ARRAffinity cookie; one that keeps the old
 * package or fails its mount fails the step with that instance named, and the summary shows a row per instance.
 */
import { describe, expect, it } from '@jest/globals';
import { type E2E, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

const APP = 'rp-scaled-web';
const url = () => ({ 'storage-account': e.emu.storage.accountName });
const ids = () => e.emu.admin.site(APP).instances.map((i) => i.id);
async function versionOn(id: string): Promise<string> {
  const site = e.emu.apps.find((a) => a.name === APP)!.siteUrl;
  const res = await fetch(`${site}/version.txt`, { headers: { cookie: `ARRAffinity=${id}` } });
  return res.status === 200 ? (await res.text()).trim() : `HTTP ${res.status}`;
}

describe('every instance runs the release', () => {
  it('checks each of two instances and shows a row per instance', async () => {
    const r = await e.run({ 'app-name': APP, ...url(), package: e.app('v1') });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2 instances: checking each one \(pinned with ARRAffinity\)/);
    expect(r.stdout).toMatch(/instances: pass — all 2 instances run release/);
    expect(r.summary).toContain('### Instances');
    for (const id of ids()) {
      expect(r.summary).toContain(
        `| \`${id.slice(0, 12)}\` | ✅ verified | mounts this release; the app answers |`,
      );
      expect(await versionOn(id)).toMatch(/version v1$/);
    }
  });

  it('fails, naming the instance, when one instance keeps the old package after the restart', async () => {
    const [first, lagging] = ids();
    e.emu.admin.setInstanceFault(APP, null, 1, 'keep-mount');
    try {
      const r = await e.run(
        { 'app-name': APP, ...url(), package: e.app('v2'), 'on-failure': 'keep' },
        { timeoutMs: 150_000 },
      );
      expect(r.code).toBe(1);
      expect(r.outputs.verified).toBe('false');
      expect(r.outputs.cause).toBe('stale-content');
      expect(r.stdout).toMatch(
        new RegExp(
          `::error::.*instance ${lagging.slice(0, 12)} still runs another release after the others were proven`,
        ),
      );
      expect(r.summary).toContain(`| \`${lagging.slice(0, 12)}\` | ❌ failed | still mounts another release`);
      expect(r.summary).toContain(`| \`${first.slice(0, 12)}\` | ✅ verified |`);
      expect(await versionOn(first)).toMatch(/version v2$/);
      expect(await versionOn(lagging)).toMatch(/version v1$/);
    } finally {
      e.emu.admin.setInstanceFault(APP, null, 1, null);
    }
  });

  it('names an instance whose mount fails as mount-blocked', async () => {
    const [, failing] = ids();
    e.emu.admin.setInstanceFault(APP, null, 1, 'fail-mount');
    try {
      const r = await e.run(
        { 'app-name': APP, ...url(), package: e.app('v3'), 'on-failure': 'keep' },
        { timeoutMs: 150_000 },
      );
      expect(r.code).toBe(1);
      expect(r.outputs.cause).toBe('mount-blocked');
      expect(r.stdout).toMatch(
        new RegExp(`instance ${failing.slice(0, 12)} shows 'FAILED TO INITIALIZE RUN FROM PACKAGE.txt'`),
      );
    } finally {
      e.emu.admin.setInstanceFault(APP, null, 1, null);
    }
  });
});
