/**
 * URL-mode failures end to end: each one stops the step with the likely cause and the fix, and bad inputs stop
 * it before any call reaches the emulator.
 */
import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type E2E, fetchSite, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

const DAY = 86_400_000;

describe('bad inputs stop the step before any network call', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['missing app-name', {}, /Input 'app-name' is required/],
    ['unknown mode', { 'app-name': 'rp-linux-web', mode: 'zip' }, /Input 'mode' must be one of/],
    [
      'bad storage account',
      { 'app-name': 'rp-linux-web', 'storage-account': 'Bad_Name' },
      /'storage-account'/,
    ],
    ['user delegation SAS', { 'app-name': 'rp-linux-web', 'package-access': 'user-delegation' }, /7 days/],
    [
      'missing package',
      { 'app-name': 'rp-linux-web', package: 'no/such/folder' },
      /Input 'package' names no\/such\/folder/,
    ],
    ['bad creds', { 'app-name': 'rp-linux-web', creds: 'not json' }, /Input 'creds' must be JSON/],
  ];
  for (const [name, inputs, message] of cases) {
    it(name, async () => {
      e.emu.admin.clearRequests();
      const r = await e.run(inputs, { auth: name === 'bad creds' ? 'none' : 'creds' });
      expect(r.code).not.toBe(0);
      expect(r.stdout).toMatch(new RegExp(`::error::.*${message.source}`));
      expect(e.requests()).toEqual([]);
    });
  }
});

describe('refusals with a way out', () => {
  it('refuses a web app package for a Flex Consumption app before anything is uploaded', async () => {
    e.emu.admin.clearRequests();
    const r = await e.run({
      'app-name': 'rp-flex-func',
      'storage-account': e.emu.storage.accountName,
      package: e.app('f'),
    });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/::error::.*host\.json/);
    expect(
      e
        .requests()
        .filter((q) => q.method !== 'GET' && q.service !== 'entra' && !/\/list|token/i.test(q.path)),
    ).toEqual([]);
  });
});

describe('failures found at verification or before the upload', () => {
  it('says sas cannot work when shared key access is disabled, before uploading anything', async () => {
    e.emu.admin.setStorage(e.emu.storage.accountName, { allowSharedKeyAccess: false });
    const r = await e.run({
      'app-name': 'rp-win-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('sk1'),
      'package-access': 'sas',
    });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/::error::.*shared key access disabled.*package-access: identity/);
    expect(e.requests().filter((q) => q.method === 'PUT' && q.service === 'blob')).toEqual([]);
  });

  it('detects an expired SAS at verification and keeps the failure explained', async () => {
    // The storage clock runs three days ahead of the runner: the one-day policy is already expired for it.
    e.emu.admin.advanceClock(3 * DAY);
    const r = await e.run({
      'app-name': 'rp-win-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('exp1'),
      'package-access': 'sas',
      'sas-expiry-days': '1',
      'timeout-minutes': '2',
    });
    expect(r.code).not.toBe(0);
    expect(r.outputs.verified).toBe('false');
    expect(r.stdout).toMatch(/::error::Verification failed: .*SAS.*expired/);
    expect(r.summary).toMatch(/Likely cause:\*\* the package URL or its SAS is bad or expired/);
  });

  it('detects a worker blocked by the storage firewall', async () => {
    e.emu.admin.setStorage(e.emu.storage.accountName, { networkDefaultAction: 'Deny' });
    const r = await e.run({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('fw1'),
      'timeout-minutes': '2',
    });
    expect(r.code).not.toBe(0);
    expect(r.outputs.verified).toBe('false');
    expect(r.summary).toMatch(/Likely cause:\*\* the worker could not mount the package/);
    expect(r.stdout).toMatch(/FAILED TO INITIALIZE RUN FROM PACKAGE|AuthorizationFailure/);
  });

  it('restart: false with nothing else to re-mount is stale content at once, not after the whole verify budget', async () => {
    const first = await e.run({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('nr1'),
    });
    expect(first.code).toBe(0);
    e.emu.admin.clearRequests();
    const r = await e.run(
      {
        'app-name': 'rp-linux-web',
        'storage-account': e.emu.storage.accountName,
        package: e.app('nr2'),
        restart: 'false',
        'on-failure': 'keep',
      },
      // The verify budget alone is three minutes; the run must end long before this kill timer.
      { timeoutMs: 60_000 },
    );
    expect(r.code).toBe(1);
    expect(r.outputs).toMatchObject({ verified: 'false', cause: 'stale-content' });
    expect(r.stdout).toMatch(
      /::error::Verification failed: restart: false and the settings did not change, so nothing re-mounted the package/,
    );
    // One read of the stamp: Kudu saw a single stamp request, not a polling loop.
    const stampReads = e
      .requests()
      .filter((q) => q.service === 'kudu' && q.path.includes('.runpack/release.json'));
    expect(stampReads).toHaveLength(1);
  });

  it('a runner that cannot reach the site is its own cause, named within seconds, not a blocked mount after minutes', async () => {
    const r = await e.run(
      {
        'app-name': 'rp-linux-web',
        'storage-account': e.emu.storage.accountName,
        package: e.app('dns1'),
      },
      // The runner bypasses the proxy for the app's domain, so its names do not resolve.
      {
        env: {
          NO_PROXY: '127.0.0.1,localhost,.azurewebsites.emulator.test',
          no_proxy: '127.0.0.1,localhost,.azurewebsites.emulator.test',
        },
        timeoutMs: 90_000,
      },
    );
    expect(r.code).toBe(1);
    expect(r.outputs).toMatchObject({ verified: 'false', cause: 'runner-network' });
    expect(r.stdout).toMatch(
      /::error::Verification failed: the runner cannot reach rp-linux-web\.azurewebsites\.emulator\.test: the name does not resolve/,
    );
    expect(r.stdout).toMatch(/NO_PROXY/);
    expect(r.stdout).not.toMatch(/could not mount the package/);
    // The app itself was fine all along.
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).status).toBe(200);
  });
});

describe('Blob Storage goes away during the upload of a large package', () => {
  it('ends with one classified error, no crash, the stable blob untouched and the previous release live', async () => {
    const url = { 'app-name': 'rp-win-web', 'storage-account': e.emu.storage.accountName };
    const good = await e.run({ ...url, package: e.app('big1') });
    expect(good.code).toBe(0);
    // 24 MiB that does not compress: three 8 MiB blocks, several in flight when the connections drop.
    const big = e.app('big2');
    writeFileSync(join(big, 'assets.bin'), randomBytes(24 * 1024 * 1024));
    e.emu.admin.setFaults(e.emu.storage.accountName, {
      drop: { target: 'blob', count: 10_000, pathContains: 'comp=block' },
    });
    const r = await e.run({ ...url, package: big }, { timeoutMs: 120_000 });
    e.emu.admin.clearFaults();
    expect(r.code).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/::error::.*upload/i);
    expect(errors[0]).not.toMatch(/refused/);
    // No stream outlived its file: nothing after the error line, no unhandled 'error' event, no stack.
    expect(r.stderr).not.toMatch(/ENOENT|Unhandled|at .*\(node:/);
    expect(r.stdout).not.toMatch(/ENOENT/);
    expect(r.outputs['live-release-id']).toBe(good.outputs['release-id']);
    // The stable blob still holds the previous release, and the app serves it.
    const site = await fetchSite(e.emu, 'rp-win-web', '/version.txt');
    expect(site.body.trim()).toMatch(/version big1$/);
    expect(e.emu.admin.requests().some((q) => q.service === 'blob' && q.status === 0)).toBe(true);
  });
});
