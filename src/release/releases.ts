/**
 * Releases, shared by the deploy engine and the operator commands: the names of the immutable release blobs
 * `releases/<app>/<sha256>.zip` and of the stable blobs apps point at, a release read from a listed blob, the
 * order of releases and which one a side runs. Everything here is pure.
 */
import type { BlobItem } from '../azure/blob.js';

/** One release blob (`releases/<app>/<sha256>.zip`). */
export interface Release {
  /** The first 12 hex digits of sha256. */
  id: string;
  sha256: string;
  blob: string;
  size: number;
  etag: string;
  /** ISO time: the `created` metadata, else the blob's last-modified time. */
  created: string;
  commit?: string;
  runUrl?: string;
  /** The stamp's content sha256 (metadata content_sha256). */
  contentSha256?: string;
}

/** Blob name of a release: named by content, so every release stays available for rollback. */
export function releaseBlobName(appName: string, sha256: string): string {
  return `releases/${appName.toLowerCase()}/${sha256}.zip`;
}

export function stableBlobName(appName: string, slot?: string | null): string {
  return `${appName.toLowerCase()}${slot ? `-${slot.toLowerCase()}` : ''}.zip`;
}

/**
 * Pure: whether `name` (a blob name inside the package container) is one runpack could have written as a stable
 * blob of `appName`: `<app>.zip`, `<app>-<slot>.zip`, or an alternate chooseStableBlob picks after a swap
 * (`<app>[-<slot>]-a.zip`, `-b`, `-c`, or a time suffix). Release blobs (`releases/…`) and anything in a
 * folder are not stable blobs. Names compare case-insensitively. An app named like `<app>-<suffix>` that shares
 * the container is indistinguishable from a slot of `<app>`; such names count as stable here.
 */
export function isStableBlobName(name: string, appName: string): boolean {
  if (!name || !appName || name.includes('/')) return false;
  const app = appName.toLowerCase().replace(/[^a-z0-9-]/g, '');
  if (app !== appName.toLowerCase()) return false;
  const lower = name.toLowerCase();
  if (!lower.endsWith('.zip') || !lower.startsWith(app)) return false;
  const rest = lower.slice(app.length, -'.zip'.length);
  return rest === '' || /^(-[a-z0-9]+)+$/.test(rest);
}

export type { BlobItem };

/** The folder every release blob of an app sits in (the deploy engine's naming, see releaseBlobName). */
export function releasePrefix(appName: string): string {
  const probe = releaseBlobName(appName, 'x');
  return probe.slice(0, probe.length - 'x.zip'.length);
}

const SHA256 = /^[0-9a-f]{64}$/;

/** A Release from a listed blob, or null when the blob is not one of this app's release blobs. */
export function releaseFromBlob(appName: string, b: BlobItem): Release | null {
  const prefix = releasePrefix(appName);
  if (!b.name.startsWith(prefix) || !b.name.endsWith('.zip')) return null;
  const sha = b.name.slice(prefix.length, -'.zip'.length);
  if (!SHA256.test(sha)) return null;
  if (b.name !== releaseBlobName(appName, sha)) return null;
  const meta = lowerKeys(b.metadata);
  if (meta.sha256 && meta.sha256 !== sha) return null;
  const created =
    meta.created && !Number.isNaN(Date.parse(meta.created)) ? meta.created : (b.lastModified ?? '');
  return {
    id: sha.slice(0, 12),
    sha256: sha,
    blob: b.name,
    size: b.size,
    etag: b.etag,
    created,
    ...(meta.commit ? { commit: meta.commit } : {}),
    ...(meta.run_url ? { runUrl: meta.run_url } : {}),
    ...(meta.content_sha256 ? { contentSha256: meta.content_sha256 } : {}),
  };
}

function lowerKeys(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m ?? {})) out[k.toLowerCase()] = v;
  return out;
}

/** The sha256 a blob's metadata names (release and stable blobs carry it), lowercase, or undefined. */
export function sha256Of(metadata: Record<string, string> | undefined): string | undefined {
  const v = lowerKeys(metadata ?? {}).sha256;
  return v && SHA256.test(v) ? v : undefined;
}

/** Newest first (created time, then sha256 for a stable order). */
export function sortNewestFirst(releases: Release[]): Release[] {
  return [...releases].sort((a, b) => {
    const ta = Date.parse(a.created) || 0;
    const tb = Date.parse(b.created) || 0;
    return tb - ta || (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0);
  });
}

export interface LiveInput {
  mode: 'url' | 'local' | 'unset' | 'other';
  appName: string;
  /** Container and blob the setting's URL names (url mode), when it is in the releases' account. */
  settingBlob?: { container: string; blob: string } | null;
  container: string;
  /** sha256 of each stable blob, by blob name. */
  stableSha256: Record<string, string | undefined>;
  releases: Release[];
  /** local mode: the content sha256 of the mounted (or stored) package's release stamp. */
  contentSha256?: string | null;
}

/** Which release a side (the app or a slot) runs: by the URL's blob, the stable blob's sha256, or the stamp. */
export function liveSha256(i: LiveInput): string | null {
  if (i.mode === 'url') {
    const b = i.settingBlob;
    if (!b || b.container !== i.container) return null;
    const fromStable = i.stableSha256[b.blob];
    if (fromStable) return fromStable;
    const direct = i.releases.find((r) => r.blob === b.blob);
    return direct ? direct.sha256 : null;
  }
  if (i.mode === 'local' && i.contentSha256) {
    const match = sortNewestFirst(i.releases).find((r) => r.contentSha256 === i.contentSha256);
    return match ? match.sha256 : null;
  }
  return null;
}
