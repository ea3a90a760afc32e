/**
 * Upload: an immutable release blob named by content (`releases/<app>/<sha256>.zip`) with run metadata, then a
 * server-side copy to the stable name (`<app>[-<slot>].zip`), so the setting does not change between releases
 * and every release stays available for rollback. A release blob that already holds this sha256 is reused.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { BlobMeta, BlobStore } from '../azure/blob.js';
import type { Logger } from '../report/log.js';
import type { PackageInfo } from './types.js';
import { RUNPACK_VERSION } from '../version.js';

export interface ReleaseMetadata {
  commit?: string;
  runUrl?: string;
  version: string;
  now: Date;
}

/** Pure: blob metadata for a release (names are C# identifiers, values ASCII). */
export function releaseMetadata(pkg: PackageInfo, m: ReleaseMetadata): Record<string, string> {
  const out: Record<string, string> = {
    sha256: pkg.sha256,
    release_id: pkg.releaseId,
    created: m.now.toISOString(),
    runpack_version: m.version,
  };
  if (pkg.stamp) out.content_sha256 = pkg.stamp.contentSha256;
  if (m.commit) out.commit = m.commit.replace(/[^\x20-\x7e]/g, '');
  if (m.runUrl) out.run_url = m.runUrl.replace(/[^\x20-\x7e]/g, '');
  return out;
}

/** The release metadata of this run (the commit and run link given, this runpack, the clock's time). */
export function runReleaseMetadata(
  pkg: PackageInfo,
  run: { commit?: string; runUrl?: string; now: number },
): Record<string, string> {
  return releaseMetadata(pkg, {
    commit: run.commit,
    runUrl: run.runUrl,
    version: RUNPACK_VERSION,
    now: new Date(run.now),
  });
}

export async function md5OfFile(path: string): Promise<Buffer> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest();
}

export interface UploadOutcome {
  releaseBlob: string;
  stableBlob: string;
  uploaded: boolean;
  copied: boolean;
  stable: BlobMeta;
  /** sha256 the stable blob held before (the previous release), when it was a runpack release. */
  previousSha256?: string;
}

/**
 * The immutable release blob only (named by content): reused when it already holds this sha256, copied from a
 * fleet's first upload in the same container, else uploaded with its MD5. Returns whether it was uploaded.
 */
export async function uploadReleaseBlob(
  store: BlobStore,
  container: string,
  releaseBlob: string,
  pkg: PackageInfo,
  metadata: Record<string, string>,
  log: Logger,
  signal?: AbortSignal,
  copyFrom?: string,
): Promise<boolean> {
  const existing = await store.getBlob(container, releaseBlob);
  let reused = false;
  if (existing && existing.metadata.sha256 === pkg.sha256 && existing.size === pkg.zipBytes) {
    log.info(`Release blob ${releaseBlob} already holds this package; not uploading it again.`);
    reused = true;
  } else if (copyFrom) {
    try {
      const copy = await store.copyBlob(container, copyFrom, releaseBlob);
      if (copy.metadata.sha256 === pkg.sha256) {
        log.info(`Copied ${copyFrom} to ${releaseBlob} inside the account (the package is uploaded once).`);
        reused = true;
      } else log.info(`The copy of ${copyFrom} does not carry sha256 ${pkg.sha256}; uploading instead.`);
    } catch (err) {
      log.info(
        `Could not copy ${copyFrom} (${err instanceof Error ? err.message.split(';')[0] : String(err)}); uploading instead.`,
      );
    }
  }
  if (reused) return false;
  const began = Date.now();
  let lastReport = 0;
  const step = Math.max(16 * 1024 * 1024, Math.floor(pkg.zipBytes / 10));
  await store.uploadFile(container, releaseBlob, pkg.zipPath, {
    metadata,
    abortSignal: signal,
    onProgress: (loaded) => {
      log.progress?.((loaded / pkg.zipBytes) * 100, 'Uploading');
      if (pkg.zipBytes >= 32 * 1024 * 1024 && loaded - lastReport >= step) {
        lastReport = loaded;
        log.info(
          `Uploaded ${Math.round((loaded / pkg.zipBytes) * 100)}% (${(loaded / 1048576).toFixed(0)} MiB).`,
        );
      }
    },
  });
  const seconds = Math.max(0.001, (Date.now() - began) / 1000);
  log.info(
    `Uploaded ${releaseBlob} (${pkg.zipBytes} bytes in ${seconds.toFixed(2)} s, ${(pkg.zipBytes / 1e6 / seconds).toFixed(0)} MB/s).`,
  );
  return true;
}

export async function uploadRelease(
  store: BlobStore,
  container: string,
  releaseBlob: string,
  stableBlob: string,
  pkg: PackageInfo,
  metadata: Record<string, string>,
  log: Logger,
  signal?: AbortSignal,
  /** A blob of the same container that already holds this package (a fleet's first upload): copy it instead. */
  copyFrom?: string,
  /** Called just before the stable blob is overwritten (what the app mounts at its next start changes then). */
  beforeStableCopy?: () => void,
): Promise<UploadOutcome> {
  const uploaded = await uploadReleaseBlob(
    store,
    container,
    releaseBlob,
    pkg,
    metadata,
    log,
    signal,
    copyFrom,
  );
  const before = await store.getBlob(container, stableBlob);
  const previousSha256 = before?.metadata.sha256;
  if (before && previousSha256 === pkg.sha256) {
    log.info(`${stableBlob} already holds this release.`);
    return { releaseBlob, stableBlob, uploaded, copied: false, stable: before, previousSha256 };
  }
  // Cancelled, or out of time, while uploading: the stable blob (what the app mounts) stays untouched.
  signal?.throwIfAborted();
  beforeStableCopy?.();
  const stable = await store.copyBlob(container, releaseBlob, stableBlob);
  if (stable.metadata.sha256 !== pkg.sha256) {
    // A copy that lost the metadata (or raced with another writer) is not this release.
    throw new Error(`the copy to ${stableBlob} does not carry sha256 ${pkg.sha256}`);
  }
  log.info(`Copied the release to ${stableBlob}.`);
  return { releaseBlob, stableBlob, uploaded, copied: true, stable, previousSha256 };
}
