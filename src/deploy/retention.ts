/**
 * Retention after a verified URL-mode deploy (`keep-releases`): the release blobs beyond the newest N go, never
 * the live release, never one another side (production or a slot) runs, never one a stable blob holds. The
 * choice and the conditional deletes are src/release's (selectReleasesToDelete, pruneReleases); this module only
 * gathers what they need from the container.
 */
import { releaseFromBlob, releasePrefix, sha256Of, type BlobItem } from '../release/releases.js';
import { pruneReleases, selectReleasesToDelete, type ReleaseDeleter } from '../release/retention.js';
import type { Release } from '../release/releases.js';
import { isStableBlobName } from '../release/releases.js';

/** The part of the release store retention reads and writes. */
export interface RetentionStore extends ReleaseDeleter {
  list(container: string, prefix: string): Promise<BlobItem[]>;
}

export interface RetentionRequest {
  container: string;
  appName: string;
  keep: number;
  /** sha256 of the release this deploy made live. */
  live: string;
  /** Blob names (in the container) that other sides of the app point at. */
  siblingBlobs: Iterable<string>;
  dryRun: boolean;
  log: { info(line: string): void; warn(line: string): void };
}

export interface RetentionOutcome {
  /** Release ids deleted (or, in a dry run, that would be). */
  deleted: string[];
  /** Release ids left alone because they changed since the listing. */
  skipped: string[];
  /** Releases left after the prune. */
  kept: number;
  dryRun: boolean;
}

const RELEASE_SHA = /\/([0-9a-f]{64})\.zip$/i;

/** Pure: the sha256s protected by the other sides and the stable blobs, from the container's blobs. */
export function protectedSha256s(
  appName: string,
  blobs: readonly BlobItem[],
  siblingBlobs: Iterable<string>,
): { slotReferenced: string[]; stable: string[] } {
  const byName = new Map(blobs.map((b) => [b.name.toLowerCase(), b]));
  const slotReferenced: string[] = [];
  for (const name of siblingBlobs) {
    const m = RELEASE_SHA.exec(name);
    if (m) slotReferenced.push(m[1].toLowerCase());
    const sha = sha256Of(byName.get(name.toLowerCase())?.metadata);
    if (sha) slotReferenced.push(sha);
  }
  const stable = blobs
    .filter((b) => isStableBlobName(b.name, appName))
    .map((b) => sha256Of(b.metadata))
    .filter((s): s is string => !!s);
  return { slotReferenced, stable };
}

export async function applyRetention(store: RetentionStore, r: RetentionRequest): Promise<RetentionOutcome> {
  const releases = (await store.list(r.container, releasePrefix(r.appName)))
    .map((b) => releaseFromBlob(r.appName, b))
    .filter((x): x is Release => x !== null);
  // Stable blobs start with the app's name; sibling blobs may sit anywhere in the container.
  const stableCandidates = await store.list(r.container, r.appName.toLowerCase());
  const { slotReferenced, stable } = protectedSha256s(r.appName, stableCandidates, r.siblingBlobs);
  const toDelete = selectReleasesToDelete(releases, {
    keep: r.keep,
    live: r.live,
    slotReferenced,
    stable,
  });
  if (toDelete.length === 0) {
    r.log.info(
      `${releases.length} release(s) of ${r.appName}; none beyond keep-releases (${r.keep}) to delete.`,
    );
    return { deleted: [], skipped: [], kept: releases.length, dryRun: r.dryRun };
  }
  const pruned = await pruneReleases(store, r.container, toDelete, { dryRun: r.dryRun, log: r.log });
  const idOf = (sha: string) => sha.slice(0, 12);
  return {
    deleted: pruned.deleted.map(idOf),
    skipped: pruned.skipped.map(idOf),
    kept: releases.length - pruned.deleted.length,
    dryRun: r.dryRun,
  };
}
