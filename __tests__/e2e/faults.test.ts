/**
 * The fault suite, one table: each row injects one fault through the emulator (or the runner's environment)
 * into a deploy through the built action, after a verified baseline release. Every row asserts what a user
 * relies on under faults: no crash (no stack, no unhandled error), the outcome and its one classified cause,
 * a bounded time, and nothing lost: the other app settings are still there, the baseline release is still
 * stored, and when the deploy failed before the switch (or was rolled back), the baseline release still serves.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import {
  type ActionRun,
  appServiceClient,
  type E2E,
  fetchSite,
  type RunOptions,
  useE2E,
} from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

const RG = 'runpack-rg';
const SENTINEL = { RUNPACK_FAULT_SENTINEL: 'keep-me' };

type Target = 'url' | 'local' | 'scaled';
const TARGETS: Record<Target, { app: string; inputs: () => Record<string, string> }> = {
  url: { app: 'rp-linux-web', inputs: () => ({ 'storage-account': e.emu.storage.accountName }) },
  local: { app: 'rp-win-web', inputs: () => ({ mode: 'local' }) },
  scaled: { app: 'rp-scaled-web', inputs: () => ({ 'storage-account': e.emu.storage.accountName }) },
};

interface Row {
  name: string;
  target: Target;
  /** Injects the fault (after the baseline deploy). */
  inject?: () => void | Promise<void>;
  /** The package to deploy (default: a good app). */
  pkg?: (version: string) => string;
  inputs?: Record<string, string>;
  run?: (e: E2E) => RunOptions;
  /** What the step must end with. */
  code: number;
  /** The step's error line (for a failure: its last ::error:: line), or a line the log shows (for a success). */
  line: RegExp;
  /** Another line the log must show (a warning, the rollback's account). */
  also?: RegExp;
  /** The cause output, when the failure has one. */
  cause?: string;
  /**
   * Which release serves after the step: the new one, or the baseline (failed before the switch, or rolled
   * back); `none` when the fault outlives the step and no release can run (a firewall the app cannot pass).
   */
  serves: 'new' | 'baseline' | 'none';
  /** The failure came before the target was read, so the live release is unknown (live-release-id empty). */
  liveUnknown?: boolean;
  /** Seconds the step may take at most. */
  within: number;
}

const crashing = (version: string) => {
  const dir = e.app(version);
  writeFileSync(join(dir, 'server.js'), "throw new Error('boom at start');\n");
  return dir;
};
const big = (version: string) => {
  const dir = e.app(version);
  writeFileSync(join(dir, 'assets.bin'), randomBytes(20 * 1024 * 1024));
  return dir;
};
/** The storage account's name stands for it in a fault: resolved when the fault is injected. */
const ACCOUNT = '<account>';
const faults = (name: string, f: Parameters<E2E['emu']['admin']['setFaults']>[1]) => () =>
  e.emu.admin.setFaults(name === ACCOUNT ? acct() : name, f);
const acct = () => e.emu.storage.accountName;

const ROWS: Row[] = [
  // Throttling and server errors: retried within the budget, honouring Retry-After.
  {
    name: 'a 429 storm from Resource Manager with Retry-After',
    target: 'url',
    inject: faults('rp-linux-web', { arm: { status: 429, count: 4, retryAfter: 1 } }),
    code: 0,
    line: /Retry|retry|429/,
    serves: 'new',
    within: 60,
  },
  {
    name: 'Resource Manager answering 503 with Retry-After',
    target: 'url',
    inject: faults('rp-linux-web', { arm: { status: 503, count: 3, retryAfter: 1 } }),
    code: 0,
    line: /503/,
    serves: 'new',
    within: 60,
  },
  {
    name: 'Resource Manager answering 500 on the settings write',
    target: 'url',
    inject: faults('rp-linux-web', { arm: { status: 500, count: 2, pathContains: 'config/appsettings' } }),
    code: 0,
    line: /500/,
    serves: 'new',
    within: 60,
  },
  {
    name: 'a 409 storm from Kudu',
    target: 'local',
    inject: faults('rp-win-web', { kudu: { status: 409, count: 4 } }),
    code: 0,
    line: /409/,
    serves: 'new',
    within: 90,
  },
  {
    name: 'Kudu answering 429 with Retry-After',
    target: 'local',
    inject: faults('rp-win-web', { kudu: { status: 429, count: 3, retryAfter: 1 } }),
    code: 0,
    line: /429/,
    serves: 'new',
    within: 60,
  },
  {
    name: 'Kudu answering 503 during the verification reads',
    target: 'url',
    inject: faults('rp-linux-web', { kudu: { status: 503, count: 3, retryAfter: 1 } }),
    code: 0,
    line: /503/,
    serves: 'new',
    within: 60,
  },
  // Dropped connections.
  {
    name: 'a connection to Resource Manager dropped once',
    target: 'url',
    inject: faults('rp-linux-web', { drop: { target: 'arm', count: 1 } }),
    code: 0,
    line: /verified/,
    serves: 'new',
    within: 60,
  },
  {
    name: 'Blob Storage dropping every block of the upload',
    target: 'url',
    pkg: big,
    inject: faults(ACCOUNT, { drop: { target: 'blob', count: 10_000, pathContains: 'comp=block' } }),
    code: 1,
    line: /::error::.*(upload|Blob Storage)/i,
    serves: 'baseline',
    within: 90,
  },
  {
    name: 'Blob Storage dropping a few blocks of the upload',
    target: 'url',
    pkg: big,
    inject: faults(ACCOUNT, { drop: { target: 'blob', count: 2, pathContains: 'comp=block' } }),
    code: 0,
    line: /verified/,
    serves: 'new',
    within: 90,
  },
  {
    name: 'the connection to Kudu dropped during the push',
    target: 'local',
    inject: faults('rp-win-web', { drop: { target: 'kudu', count: 1, pathContains: 'api/publish' } }),
    code: 0,
    line: /verified/,
    serves: 'new',
    within: 90,
  },
  {
    name: 'Entra dropping the token request once',
    target: 'url',
    inject: faults('*', { drop: { target: 'entra', count: 1 } }),
    code: 0,
    line: /verified/,
    serves: 'new',
    within: 60,
  },
  // Slow services and lagging reads.
  {
    name: 'slow Blob Storage',
    target: 'url',
    inject: faults(ACCOUNT, { slow: { target: 'blob', ms: 150 } }),
    code: 0,
    line: /verified/,
    serves: 'new',
    within: 90,
  },
  {
    name: 'Kudu reading the settings seconds after Resource Manager wrote them',
    target: 'local',
    inject: faults('rp-win-web', { settingsLagMs: 3000 }),
    code: 0,
    line: /verified/,
    serves: 'new',
    within: 90,
  },
  {
    name: 'tokens that expire within seconds, mid-deploy',
    target: 'url',
    inject: faults('*', { tokenLifetimeSeconds: 2, slow: { target: 'arm', ms: 300 } }),
    code: 0,
    line: /verified/,
    serves: 'new',
    within: 90,
  },
  {
    name: 'tokens that expire within seconds, during a push through Kudu',
    target: 'local',
    inject: faults('*', { tokenLifetimeSeconds: 2, slow: { target: 'kudu', ms: 300 } }),
    code: 0,
    line: /verified/,
    serves: 'new',
    within: 120,
  },
  // The runner's network.
  {
    name: "the site's name does not resolve on the runner",
    target: 'url',
    run: () => ({
      env: {
        NO_PROXY: '127.0.0.1,localhost,.azurewebsites.emulator.test',
        no_proxy: '127.0.0.1,localhost,.azurewebsites.emulator.test',
      },
    }),
    code: 1,
    line: /::error::Verification failed: the runner cannot reach rp-linux-web\.azurewebsites\.emulator\.test: the name does not resolve/,
    also: /Not rolled back: the runner could not reach the app, which says nothing about release/,
    cause: 'runner-network',
    // The app itself runs the new release; only the runner cannot see it.
    serves: 'new',
    within: 60,
  },
  {
    name: 'TLS: the runner does not trust the certificate',
    target: 'url',
    run: () => ({ env: { NODE_EXTRA_CA_CERTS: '' } }),
    code: 1,
    line: /::error::.*self-signed certificate.*the runner does not trust the server's TLS certificate: .*NODE_EXTRA_CA_CERTS/,
    serves: 'baseline',
    liveUnknown: true,
    within: 60,
  },
  {
    name: 'a proxy that refuses connections',
    target: 'url',
    run: () => ({ env: { HTTPS_PROXY: 'http://127.0.0.1:9', https_proxy: 'http://127.0.0.1:9' } }),
    code: 1,
    line: /::error::Verification failed: the runner cannot reach rp-linux-web\.azurewebsites\.emulator\.test: the connection is refused/,
    also: /Not rolled back: the runner could not reach the app/,
    cause: 'runner-network',
    // Resource Manager is reached directly (NO_PROXY); the app, through the refusing proxy, is not: it runs the
    // new release, which the runner cannot see.
    serves: 'new',
    within: 60,
  },
  // The platform: the package mounts but the app or an instance does not run it.
  {
    name: 'a release whose app crashes at start (rolled back)',
    target: 'url',
    pkg: crashing,
    code: 1,
    line: /::error::Verification failed: .*Rolled back/,
    cause: 'app-start-failed',
    serves: 'baseline',
    within: 90,
  },
  {
    name: 'one of two instances keeps the old package (rolled back)',
    target: 'scaled',
    inject: () => e.emu.admin.setInstanceFault('rp-scaled-web', null, 1, 'keep-mount'),
    code: 1,
    line: /::error::Verification failed: .*instance/,
    cause: 'stale-content',
    serves: 'baseline',
    within: 120,
  },
  {
    name: 'the storage firewall blocks the worker (the rollback cannot pass it either, and says so)',
    target: 'url',
    inject: () => void e.emu.admin.setStorage(acct(), { networkDefaultAction: 'Deny' }),
    code: 1,
    line: /::error::Verification failed: .*the worker could not fetch or open the package/,
    also: /::error::ROLLBACK NOT VERIFIED: release [0-9a-f]{12} is live again but did not verify/,
    cause: 'mount-blocked',
    serves: 'none',
    within: 120,
  },
  {
    name: 'the Kudu deployment fails',
    target: 'local',
    inject: faults('rp-win-web', { deploymentFails: true }),
    code: 1,
    line: /::error::Kudu deployment .* ended Failed .*the previous package \S+ is still mounted/,
    serves: 'baseline',
    within: 90,
  },
  {
    name: 'restart: false leaves the old package mounted (stale, said at once)',
    target: 'url',
    inputs: { restart: 'false' },
    code: 1,
    line: /::error::Verification failed: restart: false/,
    cause: 'stale-content',
    serves: 'baseline',
    within: 60,
  },
  {
    name: 'the SCM site is closed to the runner',
    target: 'url',
    inject: faults('rp-linux-web', { scmForbidden: true }),
    code: 0,
    line: /verified/,
    serves: 'new',
    within: 90,
  },
  // The runner cancels the step.
  {
    name: 'SIGINT during the upload',
    target: 'url',
    pkg: big,
    inject: faults(ACCOUNT, { slow: { target: 'blob', ms: 400 } }),
    run: () => ({ signal: { when: /::group::Upload/, name: 'SIGINT' } }),
    code: 1,
    line: /::error::Cancelled \(SIGINT\) during Upload: nothing was changed, so release [0-9a-f]{12} still is/,
    serves: 'baseline',
    within: 60,
  },
  {
    name: 'SIGTERM after the switch, during the verification',
    target: 'url',
    inject: faults('rp-linux-web', { slow: { target: 'kudu', ms: 500 } }),
    run: () => ({ signal: { when: /::group::Verify/, name: 'SIGTERM' } }),
    code: 1,
    line: /::error::Cancelled \(SIGTERM\) during Verify: the package of release [0-9a-f]{12} was switched but not verified/,
    serves: 'new',
    // Switched but never verified: the step does not claim a live release, it says what to do.
    liveUnknown: true,
    within: 60,
  },
];

const client = () => appServiceClient(e.emu);

async function releaseBlobExists(app: string, sha256: string): Promise<boolean> {
  const blobs = new BlobServiceClient(
    e.emu.storage.blobEndpoint,
    new StorageSharedKeyCredential(e.emu.storage.accountName, e.emu.storage.accountKey),
  );
  return blobs.getContainerClient('app-packages').getBlobClient(`releases/${app}/${sha256}.zip`).exists();
}

const errorLines = (r: ActionRun) => r.stdout.split('\n').filter((l) => l.startsWith('::error::'));

beforeAll(async () => {
  // A setting nobody but the user owns, on every target: no fault may lose it.
  const sdk = client();
  for (const t of Object.values(TARGETS)) {
    const now = (await sdk.webApps.listApplicationSettings(RG, t.app)).properties ?? {};
    await sdk.webApps.updateApplicationSettings(RG, t.app, { properties: { ...now, ...SENTINEL } });
  }
}, 60_000);

describe(`fault suite (${ROWS.length} faults)`, () => {
  let n = 0;
  it.each(ROWS.map((r) => [r.name, r] as const))(
    '%s',
    async (_name, row) => {
      const t = TARGETS[row.target];
      const version = `f${++n}`;
      const base = await e.run({ 'app-name': t.app, ...t.inputs(), package: e.app(`${version}-base`) });
      expect(base.code).toBe(0);
      await row.inject?.();
      const started = Date.now();
      const r = await e.run(
        { 'app-name': t.app, ...t.inputs(), ...row.inputs, package: (row.pkg ?? e.app)(version) },
        { timeoutMs: row.within * 1000 + 30_000, ...row.run?.(e) },
      );
      const seconds = (Date.now() - started) / 1000;
      e.emu.admin.clearFaults();
      e.emu.admin.setStorage(acct(), { networkDefaultAction: 'Allow' });
      for (let i = 0; i < 2; i++) e.emu.admin.setInstanceFault('rp-scaled-web', null, i, null);

      // No crash: no stack trace, no unhandled error, nothing printed after a failure but its one line.
      expect(r.stderr).not.toMatch(/Unhandled|ENOENT|TypeError|ReferenceError|^\s+at .*\(/m);
      expect(r.stdout).not.toMatch(/^\s+at .*\(node:/m);
      // The outcome and its one classified cause.
      const errors = errorLines(r);
      expect({
        code: r.code,
        line: row.code === 0 ? row.line.test(r.stdout) : row.line.test(errors.at(-1) ?? ''),
      }).toEqual({
        code: row.code,
        line: true,
      });
      if (row.also) expect(r.stdout).toMatch(row.also);
      if (row.cause) expect(r.outputs.cause).toBe(row.cause);
      // Bounded time.
      expect(seconds).toBeLessThan(row.within);
      // Nothing lost: the user's setting, the baseline release, and what serves.
      const settings = (await client().webApps.listApplicationSettings(RG, t.app)).properties ?? {};
      expect(settings).toMatchObject(SENTINEL);
      if (row.target !== 'local')
        expect(await releaseBlobExists(t.app, base.outputs['package-sha256'])).toBe(true);
      if (row.serves !== 'none') {
        const served = await fetchSite(e.emu, t.app, '/version.txt');
        expect(served.body.trim()).toMatch(
          new RegExp(`version ${row.serves === 'new' ? version : `${version}-base`}$`),
        );
      }
      // The release the step says is live: the restored one (unverified here) when the fault outlives the step.
      if (row.code !== 0 && row.serves === 'none')
        expect(r.outputs['live-release-id']).toBe(base.outputs['release-id']);
      else if (row.code !== 0)
        expect(r.outputs['live-release-id']).toBe(
          row.liveUnknown
            ? ''
            : row.serves === 'baseline'
              ? base.outputs['release-id']
              : r.outputs['release-id'],
        );
    },
    240_000,
  );
});
