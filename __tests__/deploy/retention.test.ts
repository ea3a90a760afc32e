import { describe, expect, it } from '@jest/globals';
import { applyRetention, type RetentionStore } from '../../src/deploy/retention.js';
import type { BlobItem } from '../../src/release/releases.js';
import type { DeleteOutcome } from '../../src/release/retention.js';

const sha = (n: number) => n.toString(16).padStart(2, '0').repeat(32);

function memoryStore(blobs: BlobItem[]): RetentionStore & { blobs: BlobItem[] } {
  return {
    blobs,
    async list(_c, prefix) {
      return blobs.filter((b) => b.name.startsWith(prefix));
    },
    async deleteIfMatch(_c, name, etag): Promise<DeleteOutcome> {
      const i = blobs.findIndex((b) => b.name === name);
      if (i < 0) return 'missing';
      if (blobs[i].etag !== etag) return 'changed';
      blobs.splice(i, 1);
      return 'deleted';
    },
  };
}

function release(n: number): BlobItem {
  return {
    name: `releases/shop/${sha(n)}.zip`,
    size: 10,
    etag: `"e${n}"`,
    metadata: { sha256: sha(n), created: new Date(Date.UTC(2026, 0, n)).toISOString() },
  };
}

const lines: string[] = [];
const log = { info: (l: string) => lines.push(l), warn: (l: string) => lines.push(l) };

describe('applyRetention', () => {
  it('deletes the oldest releases beyond keep, never the live one, a slot’s or a stable blob’s', async () => {
    const store = memoryStore([
      ...[1, 2, 3, 4, 5, 6].map(release),
      // The staging slot's stable blob holds release 2; production was swapped onto an alternate holding 1.
      { name: 'shop-staging.zip', size: 10, etag: '"s"', metadata: { sha256: sha(2) } },
      { name: 'shop-a.zip', size: 10, etag: '"a"', metadata: { sha256: sha(1) } },
      // Another app's blob in the same container does not protect anything.
      { name: 'shopfront.zip', size: 10, etag: '"f"', metadata: { sha256: sha(3) } },
    ]);
    const out = await applyRetention(store, {
      container: 'app-packages',
      appName: 'shop',
      keep: 2,
      live: sha(4),
      siblingBlobs: [`releases/shop/${sha(5)}.zip`],
      dryRun: false,
      log,
    });
    // Newest two: 6 and 5; protected: 4 (live), 5 (a slot), 2 and 1 (stable blobs). Only 3 goes.
    expect(out.deleted).toEqual([sha(3).slice(0, 12)]);
    expect(store.blobs.map((b) => b.name)).not.toContain(`releases/shop/${sha(3)}.zip`);
    expect(store.blobs.filter((b) => b.name.startsWith('releases/'))).toHaveLength(5);
  });

  it('writes nothing in a dry run but names what would go', async () => {
    const store = memoryStore([1, 2, 3].map(release));
    const out = await applyRetention(store, {
      container: 'c',
      appName: 'shop',
      keep: 1,
      live: sha(3),
      siblingBlobs: [],
      dryRun: true,
      log,
    });
    expect(out.deleted.sort()).toEqual([sha(1).slice(0, 12), sha(2).slice(0, 12)].sort());
    expect(store.blobs).toHaveLength(3);
  });

  it('leaves alone a release rewritten since the listing', async () => {
    const blobs = [1, 2, 3].map(release);
    const store = memoryStore(blobs);
    const list = store.list.bind(store);
    store.list = async (c, p) => {
      const items = (await list(c, p)).map((b) => ({ ...b }));
      blobs[0].etag = '"rewritten"';
      return items;
    };
    const out = await applyRetention(store, {
      container: 'c',
      appName: 'shop',
      keep: 1,
      live: sha(3),
      siblingBlobs: [],
      dryRun: false,
      log,
    });
    expect(out.skipped).toEqual([sha(1).slice(0, 12)]);
    expect(out.deleted).toEqual([sha(2).slice(0, 12)]);
  });
});
