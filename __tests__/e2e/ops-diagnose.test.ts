/**
 * `runpack diagnose` against the emulator: a healthy app, then each of the four causes injected through the
 * emulator's controls (a write into the read-only mount, an expired SAS by moving the clock, a storage
 * firewall, a nested-root archive, `=1` with nothing deployed), each identified, with no write call made.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import AdmZip from 'adm-zip';
import { runDiagnose } from '../../src/commands/diagnose.js';
import type { DiagnoseReport } from '../../src/ops/diagnose.js';
import { setupOpsE2E, type OpsE2E } from '../ops/e2e-setup.js';
import { emulatorSecrets, findLeaks } from './helpers/action.js';

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

async function diagnose(
  app: string,
  extra: string[] = [],
): Promise<{ code: number; report: DiagnoseReport; stderr: string }> {
  e.emu.admin.clearRequests();
  const r = await e.cli(runDiagnose, ['--app-name', app, '--json', ...extra]);
  const report = JSON.parse(r.stdout) as DiagnoseReport;
  // Read-only: only GET/HEAD and Resource Manager's read POSTs reached the emulator.
  expect(e.writes()).toEqual([]);
  return { code: r.code, report, stderr: r.stderr };
}

const codes = (r: DiagnoseReport) => r.findings.map((f) => f.code);

describe('diagnose on a URL-mode app (identity access)', () => {
  it('finds nothing wrong with a freshly deployed app', async () => {
    const d = await e.deploy({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('v1'),
      'health-path': '/healthz',
    });
    expect(d.error).toBeUndefined();
    expect(d.ok).toBe(true);
    const { code, report } = await diagnose('rp-linux-web');
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(report.mode).toBe('url');
    expect(report.evidence.fetch).toMatchObject({ status: 206, as: 'caller-token' });
    expect(report.evidence.archive).toMatchObject({ opened: true, entryPoint: 'server.js' });
    expect(report.evidence.identity?.role).toBe('found');
    expect(code).toBe(0);
  });

  it('blames the storage firewall when the network rule blocks the worker (mount-blocked)', async () => {
    e.emu.admin.setStorage(e.emu.storage.accountName, { networkDefaultAction: 'Deny' });
    await e.remount('rp-linux-web');
    const { code, report } = await diagnose('rp-linux-web');
    expect(code).toBe(1);
    expect(report.cause).toBe('mount-blocked');
    expect(codes(report)).toEqual(expect.arrayContaining(['storage-firewall-blocks', 'mount-failed']));
    e.emu.admin.setStorage(e.emu.storage.accountName, { networkDefaultAction: 'Allow' });
    await e.remount('rp-linux-web');
  });

  it('finds a nested-root archive behind the URL from its central directory (mount-blocked)', async () => {
    const zip = new AdmZip();
    zip.addFile('site/package.json', Buffer.from('{"name":"x","scripts":{"start":"node server.js"}}'));
    zip.addFile('site/server.js', Buffer.from('console.log(1)'));
    const blobs = new BlobServiceClient(
      e.emu.storage.blobEndpoint.replace(/\/+$/, ''),
      new StorageSharedKeyCredential(e.emu.storage.accountName, e.emu.storage.accountKey),
    );
    const stable = blobs.getContainerClient('app-packages').getBlockBlobClient('rp-linux-web.zip');
    const before = await stable.downloadToBuffer();
    const props = await stable.getProperties();
    await stable.uploadData(zip.toBuffer(), { metadata: props.metadata });
    await e.remount('rp-linux-web');
    const { code, report } = await diagnose('rp-linux-web');
    expect(code).toBe(1);
    expect(report.cause).toBe('mount-blocked');
    expect(codes(report)).toContain('package-nested-root');
    await stable.uploadData(before, { metadata: props.metadata });
    await e.remount('rp-linux-web');
  });
});

describe('diagnose on a URL-mode app: identity and stale content', () => {
  it("names the app identity's missing blob role (mount-blocked)", async () => {
    const readers = e.emu.admin.setStorage(e.emu.storage.accountName, {}).blobReaders;
    e.emu.admin.setStorage(e.emu.storage.accountName, { blobReaders: [] });
    await e.remount('rp-linux-web');
    const { code, report } = await diagnose('rp-linux-web');
    e.emu.admin.setStorage(e.emu.storage.accountName, { blobReaders: readers });
    await e.remount('rp-linux-web');
    expect(code).toBe(1);
    expect(report.cause).toBe('mount-blocked');
    expect(codes(report)).toEqual(expect.arrayContaining(['identity-role-missing', 'mount-failed']));
  });

  it('names stale content when the blob changed without a restart (stale-content)', async () => {
    const zip = new AdmZip();
    zip.addFile('package.json', Buffer.from('{"name":"x","scripts":{"start":"node server.js"}}'));
    zip.addFile('server.js', Buffer.from('console.log(1)'));
    zip.addFile(
      '.runpack/release.json',
      Buffer.from(JSON.stringify({ runpack: 1, contentSha256: 'f'.repeat(64) })),
    );
    const blobs = new BlobServiceClient(
      e.emu.storage.blobEndpoint.replace(/\/+$/, ''),
      new StorageSharedKeyCredential(e.emu.storage.accountName, e.emu.storage.accountKey),
    );
    const stable = blobs.getContainerClient('app-packages').getBlockBlobClient('rp-linux-web.zip');
    const before = await stable.downloadToBuffer();
    const props = await stable.getProperties();
    await stable.uploadData(zip.toBuffer(), { metadata: props.metadata });
    const { code, report } = await diagnose('rp-linux-web');
    await stable.uploadData(before, { metadata: props.metadata });
    expect(code).toBe(1);
    expect(report.cause).toBe('stale-content');
    expect(report.findings.filter((f) => f.severity === 'error').map((f) => f.code)).toEqual([
      'stale-content',
    ]);
  });
});

describe('diagnose on a SAS-mode app', () => {
  it('names a write into the read-only mount (read-only-write)', async () => {
    const d = await e.deploy({
      'app-name': 'rp-win-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('w1', 'writes-wwwroot'),
    });
    expect(d.access).toBe('sas');
    const { code, report } = await diagnose('rp-win-web');
    expect(code).toBe(1);
    expect(report.cause).toBe('read-only-write');
    expect(codes(report)).toContain('read-only-write');
    expect(report.evidence.fetch?.as).toBe('sas');
  });

  it('names the expired SAS once the clock passes the policy expiry (sas-invalid), without quoting it', async () => {
    e.emu.admin.advanceClock(400 * 86_400_000);
    const r = await e.cli(runDiagnose, ['--app-name', 'rp-win-web']);
    e.emu.admin.advanceClock(-400 * 86_400_000);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Cause: sas-invalid/);
    expect(r.stdout).toMatch(/package-sas-expired/);
    expect(r.stdout).not.toMatch(/sig=(?!\*\*\*)/);
    // The fix speaks the CLI's flags, not the action's inputs.
    expect(r.stdout).toMatch(/use --package-access identity/);
    expect(r.stdout).not.toMatch(/package-access: identity/);
  });
});

describe('diagnose on local mode with nothing deployed', () => {
  it('names =1 with no package (stale-content) and the failure marker', async () => {
    const arm = await e.cli(runDiagnose, ['--app-name', 'rp-win-func', '--json']);
    expect(JSON.parse(arm.stdout).mode).toBe('unset');
    const s = await e.session('rp-win-func');
    const settings = await s.arm.listAppSettings(s.target.ref);
    await s.arm.putAppSettings(s.target.ref, { ...settings, WEBSITE_RUN_FROM_PACKAGE: '1' });
    await e.remount('rp-win-func');
    const { code, report } = await diagnose('rp-win-func');
    expect(code).toBe(1);
    expect(report.cause).toBe('stale-content');
    expect(codes(report)).toEqual(expect.arrayContaining(['local-no-package', 'mount-failed']));
  });
});
