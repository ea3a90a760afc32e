import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { promises as fsp } from 'node:fs';
import { createHash } from 'node:crypto';
import {
  addSite,
  createTestContext,
  makeZip,
  serveSite,
  setSettings,
  startFakeBlobs,
  type TestContext,
} from './helpers/kudu-context.js';
import type { Site, StorageAccount } from '../src/model.js';
import { classifyStorageError, fetchPackage, pickIdentity } from '../src/blobfetch.js';
import { FAILURE_MARKER } from '../src/mount.js';

let ctx: TestContext;
let blobs: Awaited<ReturnType<typeof startFakeBlobs>>;
let account: StorageAccount;
let site: Site;

const USER_MI =
  '/subscriptions/s/resourceGroups/runpack-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/deployer';

beforeAll(async () => {
  ctx = createTestContext();
  blobs = await startFakeBlobs(ctx);
  account = blobs.account;
  site = addSite(ctx, {
    appName: 'urlapp',
    stack: 'static',
    identity: {
      systemAssigned: { principalId: 'sys-principal', clientId: 'sys-client' },
      userAssigned: { [USER_MI]: { principalId: 'user-principal', clientId: 'user-client' } },
    },
  });
});

afterAll(async () => {
  await blobs.close();
  await ctx.cleanup();
});

beforeEach(() => {
  account.networkDefaultAction = 'Allow';
  account.blobReaders = [];
  site.appSettings = {};
});

const future = (): string =>
  new Date(ctx.clock.now().getTime() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');

describe('fetchPackage', () => {
  it('downloads a SAS URL over HTTPS with the emulator CA and hashes it', async () => {
    const zip = makeZip({ 'index.html': 'x' });
    blobs.blobs.set('/runpackstore/releases/a.zip', zip);
    const got = await fetchPackage(
      ctx,
      site,
      `${blobs.endpoint}releases/a.zip?sv=2023-11-03&se=${future()}&sp=r&sig=abc`,
    );
    expect(got.ok).toBe(true);
    if (!got.ok) return;
    expect(got.sha256).toBe(createHash('sha256').update(zip).digest('hex'));
    expect(await fsp.readFile(got.zip)).toEqual(zip);
    await fsp.rm(got.zip);
  });

  it('checklist 23: an expired SAS is classified from the storage XML error', async () => {
    const past = new Date(ctx.clock.now().getTime() - 1000).toISOString();
    const got = await fetchPackage(ctx, site, `${blobs.endpoint}releases/a.zip?se=${past}&sp=r&sig=abc`);
    expect(got).toMatchObject({ ok: false, status: 403, code: 'AuthenticationFailed' });
    expect(got.ok ? '' : got.message).toContain('Signature not valid in the specified time frame');
  });

  it('checklist 23: the firewall blocks the app fetch with 403 AuthorizationFailure before any request', async () => {
    account.networkDefaultAction = 'Deny';
    const before = blobs.requests.length;
    const got = await fetchPackage(ctx, site, `${blobs.endpoint}releases/a.zip?se=${future()}&sig=abc`);
    expect(got).toMatchObject({ ok: false, status: 403, code: 'AuthorizationFailure' });
    expect(blobs.requests.length).toBe(before);
  });

  it('checklist 23: without a SAS the system identity needs a blob reader role', async () => {
    const none = await fetchPackage(ctx, site, `${blobs.endpoint}releases/a.zip`);
    expect(none).toMatchObject({ ok: false, status: 403, code: 'AuthorizationPermissionMismatch' });
    account.blobReaders = ['sys-principal'];
    const ok = await fetchPackage(ctx, site, `${blobs.endpoint}releases/a.zip`);
    expect(ok.ok).toBe(true);
    expect(blobs.requests[blobs.requests.length - 1]).toBe('bearer /runpackstore/releases/a.zip');
    if (ok.ok) await fsp.rm(ok.zip);
  });

  it('checklist 23: WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID picks the user-assigned identity', async () => {
    account.blobReaders = ['sys-principal'];
    site.appSettings = { WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: USER_MI };
    expect(await fetchPackage(ctx, site, `${blobs.endpoint}releases/a.zip`)).toMatchObject({
      ok: false,
      code: 'AuthorizationPermissionMismatch',
    });
    account.blobReaders = ['user-principal'];
    const ok = await fetchPackage(ctx, site, `${blobs.endpoint}releases/a.zip`);
    expect(ok.ok).toBe(true);
    if (ok.ok) await fsp.rm(ok.zip);
  });

  it('pickIdentity: SystemAssigned or empty means the system identity; an unknown id is an error', () => {
    expect(pickIdentity(site, {})).toEqual({ principalId: 'sys-principal', kind: 'system' });
    expect(pickIdentity(site, { WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: 'SystemAssigned' })).toEqual({
      principalId: 'sys-principal',
      kind: 'system',
    });
    expect(
      pickIdentity(site, { WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: USER_MI.toUpperCase() }),
    ).toEqual({
      principalId: 'user-principal',
      kind: 'user',
    });
    expect(pickIdentity(site, { WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: '/x/other' })).toHaveProperty(
      'error',
    );
  });

  it('a missing blob is 404 BlobNotFound; an unreachable host is a connection failure', async () => {
    account.blobReaders = ['sys-principal'];
    expect(await fetchPackage(ctx, site, `${blobs.endpoint}releases/none.zip`)).toMatchObject({
      ok: false,
      status: 404,
      code: 'BlobNotFound',
    });
    expect(await fetchPackage(ctx, site, 'https://127.0.0.1:1/x/y.zip?sig=a')).toMatchObject({
      ok: false,
      code: 'ConnectionFailed',
    });
  });

  it('classifyStorageError prefers the x-ms-error-code header and keeps the first message line', () => {
    expect(
      classifyStorageError(
        403,
        { 'x-ms-error-code': 'AuthorizationFailure' },
        '<Error><Code>Other</Code><Message>Nope.\nRequestId:1</Message></Error>',
      ),
    ).toEqual({ status: 403, code: 'AuthorizationFailure', message: 'Nope.' });
  });
});

describe('URL-mode worker', () => {
  it('checklist 6: the fetched package is cached until restart; overwriting the blob changes nothing before it', async () => {
    const app = addSite(ctx, { appName: 'cached', stack: 'static' });
    blobs.blobs.set('/runpackstore/releases/app.zip', makeZip({ 'index.html': 'i', 'v.txt': 'one' }));
    setSettings(app, {
      WEBSITE_RUN_FROM_PACKAGE: `${blobs.endpoint}releases/app.zip?se=${future()}&sp=r&sig=abc`,
    });
    const s = await serveSite(ctx, app);
    try {
      expect(await (await fetch(`${s.siteUrl}/v.txt`)).text()).toBe('one');
      expect(s.worker.mounted()).toMatchObject({ mode: 'url', source: `${blobs.endpoint}releases/app.zip` });
      blobs.blobs.set('/runpackstore/releases/app.zip', makeZip({ 'index.html': 'i', 'v.txt': 'two' }));
      expect(await (await fetch(`${s.siteUrl}/v.txt`)).text()).toBe('one');
      await s.worker.restart();
      expect(await (await fetch(`${s.siteUrl}/v.txt`)).text()).toBe('two');
    } finally {
      await s.close();
    }
  });

  it('checklist 6: a scale-out instance fetches the blob as it is now, so instances serve mixed versions', async () => {
    const app = addSite(ctx, { appName: 'scaled', stack: 'static' });
    blobs.blobs.set('/runpackstore/releases/s.zip', makeZip({ 'index.html': 'i', 'v.txt': 'one' }));
    setSettings(app, {
      WEBSITE_RUN_FROM_PACKAGE: `${blobs.endpoint}releases/s.zip?se=${future()}&sp=r&sig=abc`,
    });
    const s = await serveSite(ctx, app);
    try {
      blobs.blobs.set('/runpackstore/releases/s.zip', makeZip({ 'index.html': 'i', 'v.txt': 'two' }));
      await s.worker.scaleOut();
      expect(s.worker.instances().map((m) => m.sha256 !== null)).toEqual([true, true]);
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add(await (await fetch(`${s.siteUrl}/v.txt`)).text());
      expect([...seen].sort()).toEqual(['one', 'two']);
      // a restart re-fetches on every instance: one version again
      await s.worker.restart();
      const after = new Set<string>();
      for (let i = 0; i < 4; i++) after.add(await (await fetch(`${s.siteUrl}/v.txt`)).text());
      expect([...after]).toEqual(['two']);
      await s.worker.scaleIn();
      expect(s.worker.instances()).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('checklist 21 and 23: a SAS that expired since the last start fails at the next restart (marker + 503)', async () => {
    const app = addSite(ctx, { appName: 'expiring', stack: 'static' });
    blobs.blobs.set('/runpackstore/releases/exp.zip', makeZip({ 'index.html': 'i' }));
    setSettings(app, {
      WEBSITE_RUN_FROM_PACKAGE: `${blobs.endpoint}releases/exp.zip?se=${future()}&sp=r&sig=abc`,
    });
    const s = await serveSite(ctx, app);
    try {
      expect((await fetch(`${s.siteUrl}/`)).status).toBe(200);
      ctx.clock.advance(2 * 3600_000);
      // nothing happens until the next restart
      expect((await fetch(`${s.siteUrl}/`)).status).toBe(200);
      await s.worker.restart();
      expect(s.worker.state()).toBe('failed');
      expect(s.worker.mounted().error).toContain('AuthenticationFailed');
      expect(await fsp.readdir(s.worker.mounted().dir as string)).toEqual([FAILURE_MARKER]);
      expect((await fetch(`${s.siteUrl}/`)).status).toBe(503);
    } finally {
      await s.close();
    }
  });

  it('checklist 21: firewall and a missing role fail the mount the same way', async () => {
    const app = addSite(ctx, { appName: 'mi', stack: 'static' });
    blobs.blobs.set('/runpackstore/releases/mi.zip', makeZip({ 'index.html': 'i' }));
    setSettings(app, { WEBSITE_RUN_FROM_PACKAGE: `${blobs.endpoint}releases/mi.zip` });
    const s = await serveSite(ctx, app);
    try {
      expect(s.worker.state()).toBe('failed');
      expect(s.worker.mounted().error).toContain('AuthorizationPermissionMismatch');
      account.blobReaders = [app.identity.systemAssigned?.principalId as string];
      await s.worker.restart();
      expect(s.worker.state()).toBe('running');
      account.networkDefaultAction = 'Deny';
      await s.worker.restart();
      expect(s.worker.state()).toBe('failed');
      expect(s.worker.mounted().error).toContain('AuthorizationFailure');
      expect((await fetch(`${s.siteUrl}/`)).status).toBe(503);
    } finally {
      await s.close();
    }
  });
});

describe('Kudu deploys from a packageUri', () => {
  it('zipdeploy with a JSON {"packageUri"} downloads the package itself (checklist 5)', async () => {
    const app = addSite(ctx, { appName: 'byuri', stack: 'static' });
    setSettings(app, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    blobs.blobs.set('/runpackstore/releases/uri.zip', makeZip({ 'index.html': 'i', 'v.txt': 'from-uri' }));
    const s = await serveSite(ctx, app);
    try {
      const ok = await fetch(`${s.scmUrl}/api/zipdeploy`, {
        method: 'PUT',
        headers: { authorization: s.basic, 'content-type': 'application/json' },
        body: JSON.stringify({ packageUri: `${blobs.endpoint}releases/uri.zip?se=${future()}&sp=r&sig=abc` }),
      });
      expect(ok.status).toBe(200);
      await s.worker.restart();
      expect(await (await fetch(`${s.siteUrl}/v.txt`)).text()).toBe('from-uri');

      const missing = await fetch(`${s.scmUrl}/api/zipdeploy`, {
        method: 'POST',
        headers: { authorization: s.basic, 'content-type': 'application/json' },
        body: JSON.stringify({ packageUri: `${blobs.endpoint}releases/none.zip?se=${future()}&sig=abc` }),
      });
      expect(missing.status).toBe(500);
      const bad = await fetch(`${s.scmUrl}/api/zipdeploy`, {
        method: 'POST',
        headers: { authorization: s.basic, 'content-type': 'application/json' },
        body: '{"packageUri": 5}',
      });
      expect(bad.status).toBe(400);
    } finally {
      await s.close();
    }
  });
});
