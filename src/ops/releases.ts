/**
 * Releases: the immutable blobs `releases/<app>/<sha256>.zip` the deploy engine writes (src/deploy/upload.ts),
 * which one is live, which ones slots point to, and the tables that show them. Everything here is pure.
 */
import type { BlobItem } from '../azure/blob.js';
import { releaseBlobName, stableBlobName } from '../deploy/plan.js';
import type { Release } from './types.js';

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

export { releaseBlobName, stableBlobName };

export interface ReleaseRow extends Release {
  live: boolean;
  /** Slots (other than the side asked about) that run this release. */
  slots: string[];
  /** Stable blobs holding this release. */
  stable: string[];
}

export interface ReleasesReport {
  app: string;
  slot?: string;
  container: string;
  /** The side asked about runs this release (sha256), or null when unknown. */
  live: string | null;
  /** slot name ('production' for the app itself) → sha256 it runs, or null when unknown. */
  sides: Record<string, string | null>;
  releases: ReleaseRow[];
}

export function buildReleasesReport(input: {
  app: string;
  slot?: string;
  container: string;
  releases: Release[];
  live: string | null;
  sides: Record<string, string | null>;
  stableSha256: Record<string, string | undefined>;
}): ReleasesReport {
  const self = input.slot ?? 'production';
  const rows = sortNewestFirst(input.releases).map((r) => ({
    ...r,
    live: r.sha256 === input.live,
    slots: Object.entries(input.sides)
      .filter(([name, sha]) => name !== self && sha === r.sha256)
      .map(([name]) => name)
      .sort(),
    stable: Object.entries(input.stableSha256)
      .filter(([, sha]) => sha === r.sha256)
      .map(([blob]) => blob)
      .sort(),
  }));
  return {
    app: input.app,
    ...(input.slot ? { slot: input.slot } : {}),
    container: input.container,
    live: input.live,
    sides: input.sides,
    releases: rows,
  };
}

function formatSize(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1048576).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function rowCells(r: ReleaseRow): string[] {
  const marks = [r.live ? 'live' : '', ...r.slots.map((s) => `slot:${s}`)].filter(Boolean).join(', ');
  return [
    r.id,
    r.created ? r.created.replace(/\.\d+Z$/, 'Z') : '?',
    r.commit ? r.commit.slice(0, 12) : '',
    formatSize(r.size),
    marks,
  ];
}

const HEADERS = ['release', 'created', 'commit', 'size', 'runs on'];

/** Plain text table for the CLI. */
export function renderReleasesText(report: ReleasesReport): string {
  const who = report.slot ? `${report.app}/${report.slot}` : report.app;
  const lines = [`Releases of ${who} in container ${report.container} (newest first):`];
  if (!report.releases.length) {
    lines.push('  none found');
  } else {
    const rows = [HEADERS, ...report.releases.map(rowCells)];
    const widths = HEADERS.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows)
      lines.push(
        '  ' +
          r
            .map((cell, c) => cell.padEnd(widths[c]))
            .join('  ')
            .trimEnd(),
      );
  }
  lines.push(
    report.live
      ? `Live: ${report.live.slice(0, 12)}${report.releases.some((r) => r.live) ? '' : ' (its release blob is gone)'}`
      : 'Live: unknown (the app does not point at a runpack release blob in this container)',
  );
  return lines.join('\n') + '\n';
}

/** Markdown table for the job summary. */
export function renderReleasesMarkdown(report: ReleasesReport): string {
  const who = report.slot ? `${report.app}/${report.slot}` : report.app;
  const lines = [
    `### Releases of ${who}`,
    '',
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map(() => '---').join('|')}|`,
  ];
  for (const r of report.releases) {
    const cells = rowCells(r).map((c) => c.replace(/\|/g, '\\|'));
    cells[0] = `\`${cells[0]}\`<br>\`${r.sha256}\``;
    if (r.runUrl) cells[2] = `[${cells[2] || 'run'}](${r.runUrl})`;
    lines.push(`| ${cells.join(' | ')} |`);
  }
  if (!report.releases.length) lines.push(`| none | | | | |`);
  return lines.join('\n') + '\n';
}
