/**
 * The blob store against the emulator's Blob Storage: opening it for the operator commands writes nothing (no
 * container is created), ranged reads return the bytes as stored, and every conditional write honours the
 * ETag it was given.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { openBlobStore, type ReleaseBlobStore } from '../../src/azure/blob.js';
import { maskingCredential } from '../../src/azure/credentials.js';
import { findAccount, openStore, type OpsSession } from '../../src/ops/session.js';
import { setupOpsE2E, type OpsE2E } from '../ops/e2e-setup.js';

let e: OpsE2E;
let s: OpsSession;
beforeAll(async () => {
  e = await setupOpsE2E();
  s = await e.session('rp-linux-web');
}, 120_000);
afterAll(async () => {
  if (e) await e.stop();
});

/** The deploy's way in to the emulator's account: creates the container it uploads to. */
async function deployStore(container: string): Promise<ReleaseBlobStore> {
  const account = await findAccount(s, e.emu.storage.accountName);
  return openBlobStore({
    accountName: account.name,
    blobEndpoint: account.blobEndpoint,
    credential: maskingCredential(s.credential, s.secrets),
    allowSharedKeyAccess: account.allowSharedKeyAccess,
    getKeys: () => s.arm.listStorageAccountKeys(account.id),
    container,
    preferKey: false,
    addSecret: (v) => s.secrets.add(v),
  });
}

const BYTES = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));

describe('blob store', () => {
  it('opens for reading without creating a missing container', async () => {
    const account = await findAccount(s, e.emu.storage.accountName);
    e.emu.admin.clearRequests();
    const store = await openStore(s, account, 'never-made');
    expect(await store.list('never-made', 'releases/')).toEqual([]);
    expect(await store.getBlob('never-made', 'x.zip')).toBeNull();
    expect(e.writes()).toEqual([]);
  });

  it('reads ranges byte for byte and writes only while the ETag still matches', async () => {
    const account = await findAccount(s, e.emu.storage.accountName);
    const writer = await deployStore('store-test');
    const file = join(e.work, 'bytes.bin');
    writeFileSync(file, BYTES);
    const up = await writer.uploadFile('store-test', 'releases/web/a.zip', file, {
      metadata: { sha256: 'a' },
    });
    expect(up.size).toBe(BYTES.length);

    const store = await openStore(s, account, 'store-test');
    expect(
      (await store.readRange('store-test', 'releases/web/a.zip', 131_000, 2_000)).equals(
        BYTES.subarray(131_000, 133_000),
      ),
    ).toBe(true);
    const listed = await store.list('store-test', 'releases/web/');
    expect(listed.map((b) => [b.name, b.size, b.metadata.sha256])).toEqual([
      ['releases/web/a.zip', BYTES.length, 'a'],
    ]);

    // Copy onto a name that must not exist yet, then only over the ETag seen.
    const first = await store.copyIfMatch('store-test', 'releases/web/a.zip', 'web.zip', null);
    expect(first.metadata.sha256).toBe('a');
    await expect(store.copyIfMatch('store-test', 'releases/web/a.zip', 'web.zip', null)).rejects.toThrow(
      /web\.zip changed after it was read/,
    );
    await expect(
      store.copyIfMatch('store-test', 'releases/web/a.zip', 'web.zip', '"0x8DEADBEEF"'),
    ).rejects.toMatchObject({ code: 'release-target-changed' });
    const again = await store.copyIfMatch('store-test', 'releases/web/a.zip', 'web.zip', first.etag);
    expect(again.etag).not.toBe(first.etag);

    expect(await store.deleteIfMatch('store-test', 'web.zip', first.etag)).toBe('changed');
    expect(await store.getBlob('store-test', 'web.zip')).not.toBeNull();
    expect(await store.deleteIfMatch('store-test', 'web.zip', again.etag)).toBe('deleted');
    expect(await store.deleteIfMatch('store-test', 'web.zip', again.etag)).toBe('missing');
  });

  it('uploads a zip whole, with its MD5 as Content-MD5, in one request or in 8 MiB blocks', async () => {
    const writer = await deployStore('upload-test');
    // The SDK with the account key reads back what was stored: an independent reader.
    const reader = new BlobServiceClient(
      e.emu.storage.blobEndpoint,
      new StorageSharedKeyCredential(e.emu.storage.accountName, e.emu.storage.accountKey),
    ).getContainerClient('upload-test');
    for (const [name, size, puts] of [
      ['small.zip', 300_000, { block: 0, blocklist: 0, blob: 1 }],
      ['large.zip', 8 * 1024 * 1024 * 2 + 12_345, { block: 3, blocklist: 1, blob: 0 }],
    ] as const) {
      const bytes = randomBytes(size);
      const file = join(e.work, name);
      writeFileSync(file, bytes);
      e.emu.admin.clearRequests();
      const progress: number[] = [];
      const up = await writer.uploadFile('upload-test', name, file, {
        metadata: { sha256: 'x' },
        onProgress: (n) => progress.push(n),
      });
      expect(up.size).toBe(size);
      expect(progress.at(-1)).toBe(size);
      const props = await reader.getBlobClient(name).getProperties();
      expect(Buffer.from(props.contentMD5!).toString('hex')).toBe(
        createHash('md5').update(bytes).digest('hex'),
      );
      expect(props.contentType).toBe('application/zip');
      expect(props.metadata).toEqual({ sha256: 'x' });
      expect((await reader.getBlobClient(name).downloadToBuffer()).equals(bytes)).toBe(true);
      const writes = e.writes().filter((w) => w.service === 'blob' && w.method === 'PUT');
      expect({
        block: writes.filter((w) => /comp=block(&|$)/.test(w.path)).length,
        blocklist: writes.filter((w) => /comp=blocklist/.test(w.path)).length,
        blob: writes.filter((w) => !/comp=/.test(w.path)).length,
      }).toEqual(puts);
    }
  });
});
