import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClientSecretCredential } from '@azure/identity';
import {
  BlobSASPermissions,
  BlobServiceClient,
  ContainerClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import type { RunningEmulator } from '../src/index.js';
import { startTestEmulator, request } from './helpers/start.js';
import { fakeWorkerFactory } from './helpers/fake-worker.js';

let emu: RunningEmulator;
let keyCred: StorageSharedKeyCredential;
let tokenService: BlobServiceClient;
let keyContainer: ContainerClient;
const ACCOUNT = 'runpackstore';
/** Azurite 3.35 verifies user delegation SAS signatures only up to its own service version (see emulator/README.md). */
const UD_SAS_VERSION = '2025-11-05';

const detail = (xml: string) =>
  /<AuthenticationErrorDetail>([\s\S]*?)<\/AuthenticationErrorDetail>/.exec(xml)?.[1];
const code = (xml: string) => /<Code>([\s\S]*?)<\/Code>/.exec(xml)?.[1];

function sasUrl(blob: string, params: Parameters<typeof generateBlobSASQueryParameters>[0]): string {
  return `${emu.storage.blobEndpoint}packages/${blob}?${generateBlobSASQueryParameters(params, keyCred).toString()}`;
}

beforeAll(async () => {
  emu = await startTestEmulator({ factories: { createWorker: fakeWorkerFactory().create } });
  keyCred = new StorageSharedKeyCredential(ACCOUNT, emu.storage.accountKey);
  const cred = new ClientSecretCredential(
    emu.tenantId,
    emu.servicePrincipal.clientId,
    emu.servicePrincipal.clientSecret,
    {
      authorityHost: emu.authorityHost,
      disableInstanceDiscovery: true,
    },
  );
  tokenService = new BlobServiceClient(emu.storage.blobEndpoint, cred);
  keyContainer = new BlobServiceClient(emu.storage.blobEndpoint, keyCred).getContainerClient('packages');
  await keyContainer.createIfNotExists();
});
afterAll(async () => {
  await emu?.stop();
});

describe('uploads through the blob front', () => {
  it('uploads and reads with an Entra token (service principal) and with the account key', async () => {
    const tc = tokenService.getContainerClient('packages').getBlockBlobClient('token.zip');
    await tc.upload('by-token', 8);
    expect((await keyContainer.getBlobClient('token.zip').downloadToBuffer()).toString()).toBe('by-token');
    await keyContainer.getBlockBlobClient('key.zip').upload('by-key', 6);
    expect(
      (
        await tokenService.getContainerClient('packages').getBlobClient('key.zip').downloadToBuffer()
      ).toString(),
    ).toBe('by-key');
  });
});

describe('checklist 23 and 24 (front side): SAS validity, stored policies, shared key, identities', () => {
  it('an expired service SAS after a clock advance gives 403 AuthenticationFailed with the exact time-frame detail', async () => {
    await keyContainer.getBlockBlobClient('sas.zip').upload('sas', 3);
    const startsOn = new Date(Date.now() - 5 * 60 * 1000);
    startsOn.setUTCMilliseconds(0);
    const expiresOn = new Date(Date.now() + 60 * 60 * 1000);
    expiresOn.setUTCMilliseconds(0);
    const url = sasUrl('sas.zip', {
      containerName: 'packages',
      blobName: 'sas.zip',
      permissions: BlobSASPermissions.parse('r'),
      startsOn,
      expiresOn,
    });
    expect((await request(url)).status).toBe(200);
    emu.admin.advanceClock(2 * 60 * 60 * 1000);
    try {
      const res = await request(url);
      const now = new Date(emu.admin.now());
      expect(res.status).toBe(403);
      expect(res.headers['x-ms-error-code']).toBe('AuthenticationFailed');
      expect(res.headers['content-type']).toMatch(/xml/);
      expect(code(res.body)).toBe('AuthenticationFailed');
      expect(res.body).toContain('<Message>Server failed to authenticate the request.');
      expect(detail(res.body)).toBe(
        `Signature not valid in the specified time frame: Start [${startsOn.toUTCString()}] - Expiry [${expiresOn.toUTCString()}] - Current [${res.headers.date}]`,
      );
      expect(Math.abs(new Date(String(res.headers.date)).getTime() - now.getTime())).toBeLessThan(60_000);
      const head = await request(url, { method: 'HEAD' });
      expect([head.status, head.headers['x-ms-error-code'], head.body]).toEqual([
        403,
        'AuthenticationFailed',
        '',
      ]);
    } finally {
      emu.admin.reset();
    }
  });

  it('a SAS tied to a stored access policy (si) follows the policy times, and revoking the policy stops it', async () => {
    await keyContainer.getBlockBlobClient('policy.zip').upload('policy', 6);
    const startsOn = new Date(Date.now() - 60 * 1000);
    const expiresOn = new Date(Date.now() + 30 * 60 * 1000);
    await keyContainer.setAccessPolicy(undefined, [
      { id: 'rfp-policy', accessPolicy: { startsOn, expiresOn, permissions: 'r' } },
    ]);
    const url = sasUrl('policy.zip', {
      containerName: 'packages',
      blobName: 'policy.zip',
      identifier: 'rfp-policy',
    });
    expect((await request(url)).status).toBe(200);
    emu.admin.advanceClock(60 * 60 * 1000);
    try {
      const res = await request(url);
      expect(res.status).toBe(403);
      expect(detail(res.body)).toMatch(
        /^Signature not valid in the specified time frame: Start \[.+ GMT\] - Expiry \[.+ GMT\] - Current \[.+ GMT\]$/,
      );
    } finally {
      emu.admin.reset();
    }
    await keyContainer.setAccessPolicy(undefined, []);
    const revoked = await request(url);
    expect(revoked.status).toBe(403);
    expect(revoked.headers['x-ms-error-code']).toBe('AuthenticationFailed');
    expect(detail(revoked.body)).toBe('SAS identifier cannot be found for specified signed identifier');
  });

  it('allowSharedKeyAccess=false: Shared Key and key-signed SAS get KeyBasedAuthenticationNotPermitted; tokens and user delegation SAS work', async () => {
    await keyContainer.getBlockBlobClient('nokey.zip').upload('nokey', 5);
    const keySas = sasUrl('nokey.zip', {
      containerName: 'packages',
      blobName: 'nokey.zip',
      permissions: BlobSASPermissions.parse('r'),
      expiresOn: new Date(Date.now() + 3600 * 1000),
    });
    const startsOn = new Date(Date.now() - 60 * 1000);
    const expiresOn = new Date(Date.now() + 3600 * 1000);
    const udk = await tokenService.getUserDelegationKey(startsOn, expiresOn);
    const udSas = `${emu.storage.blobEndpoint}packages/nokey.zip?${generateBlobSASQueryParameters(
      {
        containerName: 'packages',
        blobName: 'nokey.zip',
        permissions: BlobSASPermissions.parse('r'),
        startsOn,
        expiresOn,
        version: UD_SAS_VERSION,
      },
      udk,
      ACCOUNT,
    ).toString()}`;
    emu.admin.setStorage(ACCOUNT, { allowSharedKeyAccess: false });
    try {
      const err = await keyContainer
        .getBlobClient('nokey.zip')
        .getProperties()
        .then(
          () => null,
          (e: { statusCode?: number; details?: { errorCode?: string } }) => ({
            statusCode: e.statusCode,
            code: e.details?.errorCode,
          }),
        );
      expect([err?.statusCode, err?.code]).toEqual([403, 'KeyBasedAuthenticationNotPermitted']);
      const sasRes = await request(keySas);
      expect([sasRes.status, sasRes.headers['x-ms-error-code'], code(sasRes.body)]).toEqual([
        403,
        'KeyBasedAuthenticationNotPermitted',
        'KeyBasedAuthenticationNotPermitted',
      ]);
      expect(sasRes.body).toContain('Key based authentication is not permitted on this storage account.');
      expect((await request(udSas)).status).toBe(200);
      const viaToken = await tokenService
        .getContainerClient('packages')
        .getBlobClient('nokey.zip')
        .downloadToBuffer();
      expect(viaToken.toString()).toBe('nokey');
    } finally {
      emu.admin.reset();
    }
  });

  it('a user delegation SAS stops when its key expires (clock advance)', async () => {
    await keyContainer.getBlockBlobClient('ud.zip').upload('ud', 2);
    const startsOn = new Date(Date.now() - 60 * 1000);
    const keyExpiry = new Date(Date.now() + 2 * 3600 * 1000);
    const udk = await tokenService.getUserDelegationKey(startsOn, keyExpiry);
    const url = `${emu.storage.blobEndpoint}packages/ud.zip?${generateBlobSASQueryParameters(
      {
        containerName: 'packages',
        blobName: 'ud.zip',
        permissions: BlobSASPermissions.parse('r'),
        startsOn,
        expiresOn: new Date(Date.now() + 3600 * 1000),
        version: UD_SAS_VERSION,
      },
      udk,
      ACCOUNT,
    ).toString()}`;
    expect((await request(url)).status).toBe(200);
    emu.admin.advanceClock(3 * 3600 * 1000);
    try {
      const res = await request(url);
      expect([res.status, res.headers['x-ms-error-code']]).toEqual([403, 'AuthenticationFailed']);
    } finally {
      emu.admin.reset();
    }
  });

  it('a user delegation key longer than 7 days (emulator clock) is refused', async () => {
    const now = Date.now();
    const err = await tokenService
      .getUserDelegationKey(new Date(now - 60_000), new Date(now + 8 * 24 * 3600 * 1000))
      .then(
        () => null,
        (e: { statusCode?: number; details?: { errorCode?: string } }) => ({
          statusCode: e.statusCode,
          code: e.details?.errorCode,
        }),
      );
    expect(err).toEqual({ statusCode: 400, code: 'InvalidXmlNodeValue' });
    const ok = await tokenService.getUserDelegationKey(
      new Date(now - 60_000),
      new Date(now + 6 * 24 * 3600 * 1000),
    );
    expect(ok.signedObjectId).toBe('11111111-aaaa-4aaa-8aaa-111111111111');
  });

  it('managed identity tokens: a blob reader may read but not write; a principal without a role gets AuthorizationPermissionMismatch', async () => {
    await keyContainer.getBlockBlobClient('mi.zip').upload('mi', 2);
    const reader = emu.admin.site('rp-linux-web');
    const readerPrincipal = [...emu.ctx.storageAccounts.values()][0]!.blobReaders[0]!;
    expect(readerPrincipal).toBeDefined();
    const readerToken = emu.ctx.issueManagedIdentityToken(readerPrincipal, 'https://storage.azure.com');
    const url = `${emu.storage.blobEndpoint}packages/mi.zip`;
    const headers = (t: string) => ({ Authorization: `Bearer ${t}`, 'x-ms-version': '2021-12-02' });
    const ok = await request(url, { headers: headers(readerToken) });
    expect([ok.status, ok.body]).toEqual([200, 'mi']);
    const write = await request(url, {
      method: 'PUT',
      headers: { ...headers(readerToken), 'x-ms-blob-type': 'BlockBlob', 'Content-Length': '1' },
      body: 'x',
    });
    expect([write.status, write.headers['x-ms-error-code']]).toEqual([
      403,
      'AuthorizationPermissionMismatch',
    ]);
    const funcSite = [...emu.ctx.sites.values()].find((s) => s.appName === 'rp-linux-func' && !s.slotName)!;
    const noRole = emu.ctx.issueManagedIdentityToken(
      funcSite.identity.systemAssigned!.principalId,
      'https://storage.azure.com',
    );
    const denied = await request(url, { headers: headers(noRole) });
    expect([denied.status, denied.headers['x-ms-error-code'], code(denied.body)]).toEqual([
      403,
      'AuthorizationPermissionMismatch',
      'AuthorizationPermissionMismatch',
    ]);
    expect(reader.id).toContain('rp-linux-web');
  });

  it('an expired Entra token is refused with 401 and the lifetime detail', async () => {
    const principal = [...emu.ctx.storageAccounts.values()][0]!.blobReaders[0]!;
    const t = emu.ctx.issueManagedIdentityToken(principal, 'https://storage.azure.com');
    emu.admin.advanceClock(2 * 3600 * 1000);
    try {
      const res = await request(`${emu.storage.blobEndpoint}packages/mi.zip`, {
        headers: { Authorization: `Bearer ${t}`, 'x-ms-version': '2021-12-02' },
      });
      expect([res.status, res.headers['x-ms-error-code']]).toEqual([401, 'InvalidAuthenticationInfo']);
      expect(detail(res.body)).toBe('Lifetime validation failed. The token is expired.');
    } finally {
      emu.admin.reset();
    }
  });
});

describe('public access', () => {
  it('allowBlobPublicAccess=false refuses public containers and anonymous reads with 409 PublicAccessNotPermitted', async () => {
    const svc = new BlobServiceClient(emu.storage.blobEndpoint, keyCred);
    const err = await svc
      .getContainerClient('public')
      .create({ access: 'blob' })
      .then(
        () => null,
        (e: { statusCode?: number; details?: { errorCode?: string } }) => ({
          statusCode: e.statusCode,
          code: e.details?.errorCode,
        }),
      );
    expect(err).toEqual({ statusCode: 409, code: 'PublicAccessNotPermitted' });
    await keyContainer.getBlockBlobClient('anon.zip').upload('anon', 4);
    const anon = await request(`${emu.storage.blobEndpoint}packages/anon.zip`);
    expect([anon.status, anon.headers['x-ms-error-code']]).toEqual([409, 'PublicAccessNotPermitted']);
    emu.admin.setStorage(ACCOUNT, { allowBlobPublicAccess: true });
    try {
      const pub = svc.getContainerClient('public');
      await pub.create({ access: 'blob' });
      await pub.getBlockBlobClient('open.zip').upload('open', 4);
      const open = await request(`${emu.storage.blobEndpoint}public/open.zip`);
      expect([open.status, open.body]).toEqual([200, 'open']);
      const priv = await request(`${emu.storage.blobEndpoint}packages/anon.zip`);
      expect([priv.status, priv.headers['x-ms-error-code']]).toEqual([404, 'ResourceNotFound']);
    } finally {
      emu.admin.reset();
    }
  });
});

describe('checklist 25 (via Azurite): ETag and Content-MD5 rules, metadata, policy cap', () => {
  it('ETag changes on overwrite and on metadata set; Set Blob Metadata replaces everything', async () => {
    const b = keyContainer.getBlockBlobClient('etag.zip');
    const e1 = (await b.upload('one', 3, { metadata: { a: '1', b: '2' } })).etag;
    const e2 = (await b.upload('two', 3, { metadata: { a: '1', b: '2' } })).etag;
    expect(e2).not.toBe(e1);
    const e3 = (await b.setMetadata({ c: '3' })).etag;
    expect(e3).not.toBe(e2);
    expect((await b.getProperties()).metadata).toEqual({ c: '3' });
  });

  it('Content-MD5 after single-shot Put Blob; after Put Block List only when x-ms-blob-content-md5 was sent', async () => {
    const single = keyContainer.getBlockBlobClient('md5-single.zip');
    await single.upload('hello', 5);
    expect((await single.getProperties()).contentMD5).toBeDefined();
    const blocks = keyContainer.getBlockBlobClient('md5-blocks.zip');
    const id = Buffer.from('block-000').toString('base64');
    await blocks.stageBlock(id, 'hello', 5);
    await blocks.commitBlockList([id]);
    expect((await blocks.getProperties()).contentMD5).toBeUndefined();
    const withMd5 = keyContainer.getBlockBlobClient('md5-blocks2.zip');
    await withMd5.stageBlock(id, 'hello', 5);
    const md5 = new Uint8Array(Buffer.from('5d41402abc4b2a76b9719d911017c592', 'hex'));
    await withMd5.commitBlockList([id], { blobHTTPHeaders: { blobContentMD5: md5 } });
    expect(Buffer.from((await withMd5.getProperties()).contentMD5!).toString('hex')).toBe(
      '5d41402abc4b2a76b9719d911017c592',
    );
  });

  it('at most 5 stored access policies per container', async () => {
    const c = new BlobServiceClient(emu.storage.blobEndpoint, keyCred).getContainerClient('policies');
    await c.createIfNotExists();
    const policy = (id: string) => ({
      id,
      accessPolicy: { startsOn: new Date(), expiresOn: new Date(Date.now() + 3600_000), permissions: 'r' },
    });
    await c.setAccessPolicy(undefined, ['p1', 'p2', 'p3', 'p4', 'p5'].map(policy));
    const err = await c.setAccessPolicy(undefined, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map(policy)).then(
      () => null,
      (e: { statusCode?: number }) => e,
    );
    expect(err?.statusCode).toBe(400);
  });

  it('missing blobs answer 404 BlobNotFound with x-ms-error-code (HEAD: header only)', async () => {
    const res = await keyContainer
      .getBlobClient('missing.zip')
      .getProperties()
      .then(
        () => null,
        (e: { statusCode?: number; details?: { errorCode?: string } }) => ({
          statusCode: e.statusCode,
          code: e.details?.errorCode,
        }),
      );
    expect([res?.statusCode, res?.code]).toEqual([404, 'BlobNotFound']);
  });
});
