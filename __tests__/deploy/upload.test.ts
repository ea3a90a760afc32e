import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { BlobMeta, BlobStore } from '../../src/azure/blob.js';
import { uploadRelease } from '../../src/deploy/upload.js';
import type { PackageInfo } from '../../src/deploy/types.js';
import { createLogger, memorySink } from '../../src/report/log.js';
import { createSecretRegistry } from '../../src/report/secrets.js';

function memoryStore() {
  const blobs = new Map<string, BlobMeta>();
  const calls: string[] = [];
  const store: BlobStore = {
    accountName: 'acct',
    auth: 'entra',
    blobUrl: (c, b) => `https://acct.example/${c}/${b}`,
    ensureContainer: async () => undefined,
    getBlob: async (c, b) => blobs.get(`${c}/${b}`) ?? null,
    uploadFile: async (c, b, _path, o) => {
      calls.push(`upload ${b}`);
      const m = { etag: `"${calls.length}"`, size: 5, metadata: o.metadata };
      blobs.set(`${c}/${b}`, m);
      return m;
    },
    copyBlob: async (c, from, to) => {
      calls.push(`copy ${from} -> ${to}`);
      const m = { ...blobs.get(`${c}/${from}`)!, etag: `"c${calls.length}"` };
      blobs.set(`${c}/${to}`, m);
      return m;
    },
    getPolicies: async () => ({ identifiers: [] }),
    setPolicies: async () => undefined,
  };
  return { store, blobs, calls };
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function pkg(sha: string): PackageInfo {
  const dir = mkdtempSync(join(tmpdir(), 'runpack-upload-'));
  dirs.push(dir);
  const zipPath = join(dir, 'p.zip');
  writeFileSync(zipPath, 'hello');
  return {
    zipPath,
    sha256: sha,
    zipBytes: 5,
    files: 1,
    bytes: 5,
    stamp: null,
    inspect: { ok: true, runtime: 'node', entryPoint: null, files: 1, bytes: 5, problems: [] },
    functions: [],
    releaseId: sha.slice(0, 12),
  };
}

const log = () => createLogger(memorySink(), createSecretRegistry());

describe('uploadRelease', () => {
  it('uploads the release blob by content, then copies it to the stable name', async () => {
    const m = memoryStore();
    const p = pkg('a'.repeat(64));
    const out = await uploadRelease(
      m.store,
      'c',
      `releases/web/${p.sha256}.zip`,
      'web.zip',
      p,
      { sha256: p.sha256 },
      log(),
    );
    expect(m.calls).toEqual([
      `upload releases/web/${p.sha256}.zip`,
      `copy releases/web/${p.sha256}.zip -> web.zip`,
    ]);
    expect(out).toMatchObject({ uploaded: true, copied: true, previousSha256: undefined });
  });

  it('does not upload a release blob that already holds the package, and reports the previous release', async () => {
    const m = memoryStore();
    const v1 = pkg('1'.repeat(64));
    const v2 = pkg('2'.repeat(64));
    await uploadRelease(
      m.store,
      'c',
      `releases/web/${v1.sha256}.zip`,
      'web.zip',
      v1,
      { sha256: v1.sha256 },
      log(),
    );
    await uploadRelease(
      m.store,
      'c',
      `releases/web/${v2.sha256}.zip`,
      'web.zip',
      v2,
      { sha256: v2.sha256 },
      log(),
    );
    m.calls.length = 0;
    const back = await uploadRelease(
      m.store,
      'c',
      `releases/web/${v1.sha256}.zip`,
      'web.zip',
      v1,
      { sha256: v1.sha256 },
      log(),
    );
    expect(m.calls).toEqual([`copy releases/web/${v1.sha256}.zip -> web.zip`]);
    expect(back).toMatchObject({ uploaded: false, copied: true, previousSha256: v2.sha256 });
  });

  it('changes nothing when the stable blob already is this release', async () => {
    const m = memoryStore();
    const p = pkg('3'.repeat(64));
    await uploadRelease(
      m.store,
      'c',
      `releases/web/${p.sha256}.zip`,
      'web.zip',
      p,
      { sha256: p.sha256 },
      log(),
    );
    m.calls.length = 0;
    const again = await uploadRelease(
      m.store,
      'c',
      `releases/web/${p.sha256}.zip`,
      'web.zip',
      p,
      { sha256: p.sha256 },
      log(),
    );
    expect(m.calls).toEqual([]);
    expect(again.copied).toBe(false);
  });

  it('copies a blob that holds the package (a fleet’s first upload) instead of uploading again', async () => {
    const m = memoryStore();
    const p = pkg('d'.repeat(64));
    await uploadRelease(
      m.store,
      'c',
      `releases/web1/${p.sha256}.zip`,
      'web1.zip',
      p,
      { sha256: p.sha256 },
      log(),
    );
    m.calls.length = 0;
    const out = await uploadRelease(
      m.store,
      'c',
      `releases/web2/${p.sha256}.zip`,
      'web2.zip',
      p,
      { sha256: p.sha256 },
      log(),
      undefined,
      `releases/web1/${p.sha256}.zip`,
    );
    expect(m.calls).toEqual([
      `copy releases/web1/${p.sha256}.zip -> releases/web2/${p.sha256}.zip`,
      `copy releases/web2/${p.sha256}.zip -> web2.zip`,
    ]);
    expect(out.uploaded).toBe(false);
  });

  it('uploads after all when the copy source does not hold the package', async () => {
    const m = memoryStore();
    const p = pkg('e'.repeat(64));
    m.blobs.set('c/other.zip', { etag: '"o"', size: 5, metadata: { sha256: 'f'.repeat(64) } });
    const out = await uploadRelease(
      m.store,
      'c',
      `releases/web2/${p.sha256}.zip`,
      'web2.zip',
      p,
      { sha256: p.sha256 },
      log(),
      undefined,
      'other.zip',
    );
    expect(m.calls).toContain(`upload releases/web2/${p.sha256}.zip`);
    expect(out.uploaded).toBe(true);
    expect(m.blobs.get('c/web2.zip')?.metadata.sha256).toBe(p.sha256);
  });
});
