/**
 * Releases, rollback and retention against the emulator: a bad release fails verification, a dry run writes
 * nothing, rollback to the previous release restores it and verifies, and retention keeps the live and the
 * slot's releases.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runReleases } from '../../src/commands/releases.js';
import { runRollbackCommand } from '../../src/commands/rollback.js';
import type { ReleasesReport } from '../../src/ops/releases.js';
import type { RollbackResult } from '../../src/ops/rollback.js';
import { setupOpsE2E, type OpsE2E } from '../ops/e2e-setup.js';
import { emulatorSecrets, fetchSite, findLeaks } from './helpers/action.js';

let e: OpsE2E;
beforeAll(async () => {
  e = await setupOpsE2E();
}, 120_000);
afterAll(async () => {
  if (!e) return;
  const leaks = findLeaks(e.printed.join('\n'), emulatorSecrets(e.emu));
  await e.stop();
  expect(leaks).toEqual([]);
});

const APP = ['--app-name', 'rp-linux-web'];
let v1 = '';
let v2 = '';
let v3 = '';

async function releases(
  extra: string[] = [],
): Promise<ReleasesReport & { retention?: { deleted: string[] } }> {
  const r = await e.cli(runReleases, [...APP, '--json', ...extra]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as ReleasesReport & { retention?: { deleted: string[] } };
}

describe('rollback after a bad release', () => {
  it('deploys a good v1 and a v2 that fails verification', async () => {
    const good = await e.deploy({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('v1'),
      'health-path': '/healthz',
      expect: 'v1',
    });
    expect(good.ok).toBe(true);
    v1 = good.sha256!;
    const bad = await e.deploy(
      {
        'app-name': 'rp-linux-web',
        'storage-account': e.emu.storage.accountName,
        package: e.app('v2', 'broken-health'),
        'health-path': '/healthz',
        'timeout-minutes': '1',
        // This file rolls back with the operator command; the deploy's own rollback is tested elsewhere.
        'on-failure': 'keep',
      },
      { fastClock: true },
    );
    expect(bad.ok).toBe(false);
    expect(bad.levels.find((l) => l.level === 'health')?.status).toBe('fail');
    v2 = bad.sha256!;
    expect((await fetchSite(e.emu, 'rp-linux-web', '/healthz')).status).toBe(500);
  }, 150_000);

  it('lists both releases newest first with v2 live', async () => {
    const report = await releases();
    expect(report.releases.map((r) => r.sha256)).toEqual([v2, v1]);
    expect(report.live).toBe(v2);
    expect(report.releases[0].live).toBe(true);
  });

  it('a dry run prints the plan and writes nothing', async () => {
    e.emu.admin.clearRequests();
    const r = await e.cli(runRollbackCommand, [...APP, '--release', 'previous', '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as RollbackResult;
    expect(result.plan.to.sha256).toBe(v1);
    expect(result.plan.copy).toEqual({
      container: 'app-packages',
      from: `releases/rp-linux-web/${v1}.zip`,
      to: 'rp-linux-web.zip',
    });
    expect(e.writes()).toEqual([]);
    expect((await fetchSite(e.emu, 'rp-linux-web', '/healthz')).status).toBe(500);
  });

  it('refuses a release that does not exist, naming the available ones', async () => {
    await expect(e.cli(runRollbackCommand, [...APP, '--release', 'ffffffffffff'])).rejects.toThrow(
      new RegExp(`does not exist.*${v2.slice(0, 12)} \\(live\\), ${v1.slice(0, 12)}`),
    );
  });

  it('rolls back to the previous release by a server-side copy, restarts and verifies', async () => {
    e.emu.admin.clearRequests();
    const r = await e.cli(runRollbackCommand, [...APP, '--release', 'previous', '--health-path', '/healthz']);
    expect(r.stdout).toContain(`Release ${v1.slice(0, 12)} is live and verified.`);
    expect(r.code).toBe(0);
    expect(JSON.parse((await fetchSite(e.emu, 'rp-linux-web', '/healthz')).body)).toMatchObject({
      version: 'v1',
    });
    // No re-upload: the only blob write is the copy onto the stable name.
    const blobWrites = e.writes().filter((w) => w.service === 'blob');
    expect(blobWrites.map((w) => `${w.method} ${w.path.split('?')[0]}`)).toEqual([
      expect.stringMatching(/^PUT .*\/app-packages\/rp-linux-web\.zip$/),
    ]);
    expect((await releases()).live).toBe(v1);
  });
});

describe('retention', () => {
  it('keeps the live release and the one a slot runs', async () => {
    const slot = await e.deploy({
      'app-name': 'rp-linux-web',
      slot: 'staging',
      'storage-account': e.emu.storage.accountName,
      // The slot's own identity holds no blob role in the emulator's presets: use a SAS.
      'package-access': 'sas',
      package: e.app('v3'),
      'health-path': '/healthz',
      expect: 'v3',
    });
    expect(slot.error).toBeUndefined();
    v3 = slot.sha256!;
    const before = await releases();
    expect(before.releases.map((r) => r.sha256)).toEqual([v3, v2, v1]);
    expect(before.releases[0].slots).toEqual(['staging']);
    expect(before.live).toBe(v1);

    e.emu.admin.clearRequests();
    const dry = await releases(['--keep-releases', '1', '--dry-run']);
    expect(dry.retention?.deleted).toEqual([v2]);
    expect(e.writes()).toEqual([]);

    const real = await releases(['--keep', '1']);
    expect(real.retention?.deleted).toEqual([v2]);
    const deletes = e.writes().filter((w) => w.method === 'DELETE');
    expect(deletes).toHaveLength(1);
    expect((await releases()).releases.map((r) => r.sha256)).toEqual([v3, v1]);
  });
});

describe('rollback after a slot swap', () => {
  it("copies onto the stable blob production's URL names after the swap, not its own name", async () => {
    // Staging runs v3 from rp-linux-web-staging.zip, production v1 from rp-linux-web.zip: swap them.
    const staging = await e.session('rp-linux-web', 'staging');
    await staging.arm.swapSlot(staging.target.ref, 'production');
    await e.remount('rp-linux-web');
    expect(JSON.parse((await fetchSite(e.emu, 'rp-linux-web', '/healthz')).body)).toMatchObject({
      version: 'v3',
    });
    const before = await releases();
    expect(before.live).toBe(v3);

    e.emu.admin.clearRequests();
    const dry = await e.cli(runRollbackCommand, [...APP, '--release', 'previous', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect((JSON.parse(dry.stdout) as RollbackResult).plan.copy).toEqual({
      container: 'app-packages',
      from: `releases/rp-linux-web/${v1}.zip`,
      to: 'rp-linux-web-staging.zip',
    });

    const r = await e.cli(runRollbackCommand, [...APP, '--release', 'previous', '--health-path', '/healthz']);
    expect(r.code).toBe(0);
    expect(JSON.parse((await fetchSite(e.emu, 'rp-linux-web', '/healthz')).body)).toMatchObject({
      version: 'v1',
    });
    const blobWrites = e.writes().filter((w) => w.service === 'blob');
    expect(blobWrites.map((w) => `${w.method} ${w.path.split('?')[0]}`)).toEqual([
      expect.stringMatching(/^PUT .*\/app-packages\/rp-linux-web-staging\.zip$/),
    ]);
    expect((await releases()).live).toBe(v1);
  }, 150_000);
});

describe('local mode (the packages Kudu keeps)', () => {
  const WIN = ['--app-name', 'rp-win-web'];

  it('rolls back by pointing packagename.txt at the stored previous package, then verifies', async () => {
    const good = await e.deploy({
      'app-name': 'rp-win-web',
      mode: 'local',
      package: e.app('l1'),
      'health-path': '/healthz',
      expect: 'l1',
    });
    expect(good.error).toBeUndefined();
    const bad = await e.deploy(
      {
        'app-name': 'rp-win-web',
        mode: 'local',
        package: e.app('l2', 'broken-health'),
        'health-path': '/healthz',
        'on-failure': 'keep',
      },
      { fastClock: true },
    );
    expect(bad.ok).toBe(false);

    const list = await e.cli(runReleases, [...WIN, '--json']);
    const report = JSON.parse(list.stdout) as ReleasesReport;
    expect(report.releases).toHaveLength(2);
    expect(report.live).toBe(report.releases[0].sha256);

    e.emu.admin.clearRequests();
    const dry = await e.cli(runRollbackCommand, [...WIN, '--release', 'previous', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /Rewrite data\/SitePackages\/packagename\.txt from \d{14}\.zip to \d{14}\.zip/,
    );
    expect(e.writes()).toEqual([]);

    const r = await e.cli(runRollbackCommand, [...WIN, '--release', 'previous', '--health-path', '/healthz']);
    expect(r.stdout).toContain(`Release ${report.releases[1].id} is live and verified.`);
    expect(r.code).toBe(0);
    expect(JSON.parse((await fetchSite(e.emu, 'rp-win-web', '/healthz')).body)).toMatchObject({
      version: 'l1',
    });
    const kuduWrites = e.writes().filter((w) => w.service === 'kudu');
    expect(kuduWrites.map((w) => `${w.method} ${w.path}`)).toEqual([
      'PUT /api/vfs/data/SitePackages/packagename.txt',
    ]);
  });

  it('one release id across deploy, releases and rollback; after v2, v1, v2 the previous release is v1', async () => {
    const deploy = async (version: string) => {
      const r = await e.deploy({ 'app-name': 'rp-win-web', mode: 'local', package: e.app(version) });
      expect(r.error).toBeUndefined();
      return r.releaseId!;
    };
    const v2 = await deploy('id-v2');
    // Kudu names stored packages by the second: keep the pushes apart so each is its own package.
    await new Promise((r) => setTimeout(r, 1100));
    const v1 = await deploy('id-v1');
    await new Promise((r) => setTimeout(r, 1100));
    expect(await deploy('id-v2')).toBe(v2);

    const report = JSON.parse((await e.cli(runReleases, [...WIN, '--json'])).stdout) as ReleasesReport;
    const ids = report.releases.map((r) => r.id);
    // The ids the deploys printed, each once, the release pushed again at its newest package.
    expect(ids.slice(0, 2)).toEqual([v2, v1]);
    expect(report.live?.slice(0, 12)).toBe(v2);

    const back = await e.cli(runRollbackCommand, [...WIN, '--release', 'previous']);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain(`Release ${v1} is live and verified.`);
    const again = await e.cli(runRollbackCommand, [...WIN, '--release', v2]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Release ${v2} is live and verified.`);
  });
});
