/**
 * Pure: the rollback plan. `previous` or a release id (a full sha256 or its 12-digit prefix) → the release that
 * becomes live, and how: URL mode copies that release blob onto the stable name server-side (no rebuild, no
 * re-upload); local mode points packagename.txt at the stored package Kudu still keeps, or pushes the release
 * blob through zip deploy when Kudu no longer has it. Refuses a release that does not exist or fails
 * inspection, naming the available ones.
 */
import { isStableBlobName } from '../release/releases.js';
import { RunpackError } from '../util/errors.js';
import { sortNewestFirst } from '../release/releases.js';
import type { ArchiveEvidence, Release } from './types.js';

/** A zip Kudu keeps in data/SitePackages, with the release stamp read from its central directory. */
export interface StoredPackage {
  name: string;
  contentSha256?: string | null;
}

export interface RollbackInput {
  /** `previous`, a sha256, or its 12-digit prefix. */
  release: string;
  mode: 'url' | 'local' | 'flex';
  app: string;
  slot?: string;
  /** Release blobs, any order. */
  releases: Release[];
  /** sha256 of the live release, when known. */
  live: string | null;
  /** Inspection of the chosen release's archive (central directory only). */
  inspections: Map<string, ArchiveEvidence>;
  /** url mode. */
  container?: string;
  stableBlob?: string;
  /** url mode: WEBSITE_RUN_FROM_PACKAGE now, redacted; the rollback keeps it. */
  settingValue?: string;
  /** local mode: what Kudu keeps and what packagename.txt names now. */
  sitePackages?: StoredPackage[];
  packageName?: string | null;
}

export interface RollbackPlan {
  mode: 'url' | 'local' | 'flex';
  app: string;
  slot?: string;
  from: Release | null;
  to: Release;
  /** The chosen release is already live: nothing to write (the restart and verification still run). */
  alreadyLive: boolean;
  /** url mode: the server-side copy that makes the release live. */
  copy?: { container: string; from: string; to: string };
  /**
   * Flex Consumption: the release blob published again with One Deploy; once verified, `stable` (the app's last
   * verified release) names it.
   */
  flex?: { container: string; blob: string; stable: string };
  /** The setting, old and new value (redacted); unchanged for a rollback by copy. */
  setting?: { name: string; old: string | undefined; new: string | undefined };
  /** local mode. */
  local?:
    | { strategy: 'repoint'; packageName: string; previousName: string | null }
    | { strategy: 'zipdeploy'; blob: string; previousName: string | null };
  restart: boolean;
  /** One line per step, for the dry-run report and the log. */
  steps: string[];
}

function describeAvailable(releases: Release[], live: string | null): string {
  const list = sortNewestFirst(releases)
    .slice(0, 10)
    .map((r) => `${r.id}${r.sha256 === live ? ' (live)' : ''}`)
    .join(', ');
  return list ? `available: ${list}${releases.length > 10 ? ', …' : ''}` : 'no release blobs exist';
}

/** Pure: the release a spec names. Throws a one-line RunpackError naming the available releases. */
export function resolveRollbackRelease(spec: string, releases: Release[], live: string | null): Release {
  const s = spec.trim().toLowerCase();
  const newest = sortNewestFirst(releases);
  if (s === 'previous') {
    if (!live)
      throw new RunpackError(
        'release-live-unknown',
        `Cannot tell which release is live, so 'previous' has no meaning; name a release id instead (${describeAvailable(releases, live)}).`,
      );
    const at = newest.findIndex((r) => r.sha256 === live);
    if (at < 0)
      throw new RunpackError(
        'release-live-unknown',
        `The live release ${live.slice(0, 12)} has no release blob, so 'previous' has no meaning; name a release id instead (${describeAvailable(releases, live)}).`,
      );
    const prev = newest[at + 1];
    if (!prev)
      throw new RunpackError(
        'release-none-older',
        `The live release ${live.slice(0, 12)} is the oldest one kept; there is no previous release (${describeAvailable(releases, live)}).`,
      );
    return prev;
  }
  if (!/^[0-9a-f]{12}$|^[0-9a-f]{64}$/.test(s))
    throw new RunpackError(
      'usage',
      `Release '${spec}' is neither 'previous' nor a release id (12 or 64 hex digits); ${describeAvailable(releases, live)}.`,
    );
  const matches = releases.filter((r) => (s.length === 64 ? r.sha256 === s : r.sha256.startsWith(s)));
  if (matches.length === 0)
    throw new RunpackError(
      'release-not-found',
      `Release ${spec} does not exist for this app; ${describeAvailable(releases, live)}.`,
    );
  if (matches.length > 1)
    throw new RunpackError(
      'release-ambiguous',
      `Release ${spec} matches ${matches.length} releases; give the full sha256.`,
    );
  return matches[0];
}

/** Pure: the plan, or a RunpackError saying why not. */
export function rollbackPlan(i: RollbackInput): RollbackPlan {
  const to = resolveRollbackRelease(i.release, i.releases, i.live);
  const inspection = i.inspections.get(to.sha256);
  if (!inspection)
    throw new RunpackError(
      'release-uninspected',
      `Release ${to.id} was not inspected; its archive must be checked before it goes live.`,
    );
  const errors = inspection.problems.filter((p) => p.severity === 'error');
  if (!inspection.opened || errors.length) {
    const why = !inspection.opened
      ? (inspection.error ?? 'it is not a readable zip')
      : errors.map((p) => `${p.code}: ${p.message}`).join('; ');
    const others = i.releases.filter((r) => r.sha256 !== to.sha256);
    throw new RunpackError(
      'release-invalid',
      `Release ${to.id} fails inspection (${why.slice(0, 300)}), so it cannot go live; pick another (${describeAvailable(others, i.live)}).`,
    );
  }
  const from = i.live ? (i.releases.find((r) => r.sha256 === i.live) ?? null) : null;
  const alreadyLive = i.live === to.sha256;
  const who = i.slot ? `${i.app}/${i.slot}` : i.app;
  const steps: string[] = [];
  const plan: RollbackPlan = { mode: i.mode, app: i.app, from, to, alreadyLive, restart: true, steps };
  if (i.slot) plan.slot = i.slot;

  if (i.mode === 'url') {
    if (!i.container || !i.stableBlob)
      throw new RunpackError('usage', 'A URL-mode rollback needs the container and the stable blob name.');
    plan.setting = { name: 'WEBSITE_RUN_FROM_PACKAGE', old: i.settingValue, new: i.settingValue };
    if (!alreadyLive) {
      plan.copy = { container: i.container, from: to.blob, to: i.stableBlob };
      steps.push(
        `Copy ${i.container}/${to.blob} onto ${i.container}/${i.stableBlob} (server-side, If-Match on its ETag).`,
      );
    } else steps.push(`Release ${to.id} is already in ${i.stableBlob}; no copy.`);
    steps.push(
      `Keep WEBSITE_RUN_FROM_PACKAGE as it is (${i.settingValue ?? 'unset'}): it names the stable blob.`,
    );
  } else if (i.mode === 'flex') {
    if (!i.container || !i.stableBlob)
      throw new RunpackError('usage', 'A Flex rollback needs the container and the stable blob name.');
    plan.flex = { container: i.container, blob: to.blob, stable: i.stableBlob };
    plan.restart = false;
    steps.push(
      `Download ${i.container}/${to.blob} and publish it with One Deploy to ${who}'s deployment storage (the platform restarts the app onto it)${alreadyLive ? '; it is the last verified release already, published again all the same' : ''}.`,
    );
    steps.push(`Verify it; then ${i.container}/${i.stableBlob} names it as the last verified release.`);
    return plan;
  } else {
    const previousName = i.packageName ?? null;
    const stored = to.contentSha256
      ? (i.sitePackages ?? [])
          .filter((p) => p.contentSha256 === to.contentSha256)
          .sort((a, b) => (a.name < b.name ? 1 : -1))[0]
      : undefined;
    if (stored) {
      plan.local = { strategy: 'repoint', packageName: stored.name, previousName };
      plan.alreadyLive = plan.alreadyLive || stored.name === previousName;
      steps.push(
        stored.name === previousName
          ? `packagename.txt already names ${stored.name}; no change.`
          : `Rewrite data/SitePackages/packagename.txt from ${previousName ?? '(none)'} to ${stored.name} (If-Match on its ETag).`,
      );
    } else {
      plan.local = { strategy: 'zipdeploy', blob: to.blob, previousName };
      steps.push(
        `Kudu no longer keeps release ${to.id}: download ${to.blob} and push it through zip deploy (packagename.txt then names the new stored copy).`,
      );
    }
    plan.setting = { name: 'WEBSITE_RUN_FROM_PACKAGE', old: '1', new: '1' };
  }
  steps.push(`Restart ${who} and verify that release ${to.id} is mounted.`);
  return plan;
}

/**
 * The stable blob a rollback by copy writes: the one the side's package URL names, when it sits in the
 * release container and is a stable blob of the app (its own `<app>[-<slot>].zip`, or after a slot swap
 * another side's or an alternate `<app>-<slot>-a.zip`); never a release under `releases/`. Null otherwise:
 * copying there would not change what the side runs, or would rewrite an immutable release.
 */
export function stableTargetOf(
  app: string,
  container: string,
  settingBlob: { container: string; blob: string } | null,
): string | null {
  if (!settingBlob || settingBlob.container !== container) return null;
  return isStableBlobName(settingBlob.blob, app) ? settingBlob.blob : null;
}
