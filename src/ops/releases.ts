/**
 * The releases report of the operator commands: which release is live, which ones slots point to, and the tables
 * that show them. Release naming and listing are src/release's. Everything here is pure.
 */
import { sortNewestFirst, type Release } from '../release/releases.js';

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
