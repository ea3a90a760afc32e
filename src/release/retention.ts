/**
 * Retention: which release blobs may go (pure), and the executor that deletes them with conditional requests
 * (If-Match on the ETag seen in the listing, so a blob rewritten meanwhile is left alone).
 */
import type { DeleteOutcome, ReleaseBlobStore } from '../azure/blob.js';
import type { Logger } from '../report/log.js';
import { sortNewestFirst, type Release } from './releases.js';

export interface RetentionOptions {
  /** Keep this many newest releases (besides the protected ones). */
  keep: number;
  /** sha256 of the live release. */
  live?: string | null;
  /** sha256s slots point to. */
  slotReferenced?: (string | null | undefined)[];
  /** sha256s the stable blobs hold. */
  stable?: (string | null | undefined)[];
}

/**
 * The releases to delete: everything but the newest `keep`, never the live one, never one a slot points to,
 * never one a stable blob holds. Oldest first, the order they are deleted in.
 */
export function selectReleasesToDelete(releases: Release[], o: RetentionOptions): Release[] {
  const keep = Math.max(0, Math.floor(o.keep));
  const protectedSet = new Set(
    [o.live, ...(o.slotReferenced ?? []), ...(o.stable ?? [])].filter((s): s is string => !!s),
  );
  const newest = sortNewestFirst(releases);
  const kept = new Set(newest.slice(0, keep).map((r) => r.sha256));
  return newest.filter((r) => !kept.has(r.sha256) && !protectedSet.has(r.sha256)).reverse();
}

/** Why a release is kept, for the report. */
export function keepReason(r: Release, releases: Release[], o: RetentionOptions): string | null {
  if (r.sha256 === o.live) return 'live';
  if ((o.slotReferenced ?? []).includes(r.sha256)) return 'a slot runs it';
  if ((o.stable ?? []).includes(r.sha256)) return 'a stable blob holds it';
  const rank = sortNewestFirst(releases).findIndex((x) => x.sha256 === r.sha256);
  if (rank >= 0 && rank < o.keep) return `one of the newest ${o.keep}`;
  return null;
}

export type { DeleteOutcome };

/** Conditional delete: the blob is deleted only while its ETag is still `etag`. */
export type ReleaseDeleter = Pick<ReleaseBlobStore, 'deleteIfMatch'>;

export interface PruneResult {
  deleted: string[];
  /** Changed since the listing (412): left alone. */
  skipped: string[];
  dryRun: boolean;
}

export async function pruneReleases(
  store: ReleaseDeleter,
  container: string,
  toDelete: Release[],
  options: { dryRun: boolean; log: Pick<Logger, 'info' | 'warn'> },
): Promise<PruneResult> {
  const result: PruneResult = { deleted: [], skipped: [], dryRun: options.dryRun };
  for (const r of toDelete) {
    if (options.dryRun) {
      options.log.info(`Would delete release ${r.id} (${r.blob}).`);
      result.deleted.push(r.sha256);
      continue;
    }
    const outcome = await store.deleteIfMatch(container, r.blob, r.etag);
    if (outcome === 'changed') {
      options.log.warn(`Release blob ${r.blob} changed since it was listed; left it alone.`);
      result.skipped.push(r.sha256);
    } else {
      options.log.info(
        `Deleted release ${r.id} (${r.blob})${outcome === 'missing' ? ', already gone' : ''}.`,
      );
      result.deleted.push(r.sha256);
    }
  }
  return result;
}
