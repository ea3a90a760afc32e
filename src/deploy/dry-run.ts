/**
 * Pure: the plan a dry run prints (`dry-run: true`). One line a step, every URL with its SAS signature
 * redacted: the blobs to write, each setting's old and new value, the stored access policy, the restart, the
 * swap and the retention. Nothing here writes; the engine gathers the facts with reads only.
 */
import { redactUrl } from '../azure/http.js';

export interface DryRunFacts {
  target: string;
  mode: 'url' | 'local' | 'flex';
  /** Flex Consumption: where One Deploy puts the package, and whether the platform builds it. */
  flex?: { containerUrl: string; authentication: string; remoteBuild: boolean };
  releaseId: string;
  zipBytes: number;
  /** url mode */
  releaseBlob?: string;
  stableBlob?: string;
  container?: string;
  account?: string;
  /** The container does not exist yet: the deploy would create it (private). */
  containerMissing?: boolean;
  /** The release blob already exists (content-named): no upload. */
  releaseExists?: boolean;
  /** The stable blob already holds this release. */
  stableCurrent?: boolean;
  /** Setting name → [old, new] (new null: deleted). Only changed settings. */
  settings: Record<string, [string | undefined, string | null]>;
  /** SAS policy decision (url mode with sas access). */
  policy?: { id: string; action: 'keep' | 'create' | 'renew'; reason: string };
  restart: boolean;
  swapTo?: string;
  /** Release ids retention would delete (url mode). */
  retention?: { keep: number; deleted: string[] } | { keep: number; error: string };
  /** The same content is already live: a deploy would do nothing. */
  unchanged?: boolean;
}

/** A setting value as the plan shows it: URLs without userinfo and with `sig` redacted. */
export function showValue(v: string | null | undefined): string {
  if (v === undefined) return '(unset)';
  if (v === null) return '(deleted)';
  if (v === '') return "''";
  return /^https?:\/\//i.test(v) ? redactUrl(v) : v;
}

export function renderPlan(f: DryRunFacts): string[] {
  const lines: string[] = [`Dry run for ${f.target}: nothing is written.`];
  if (f.unchanged) {
    lines.push(
      `Release ${f.releaseId} is already live; a deploy would change nothing (force: true redeploys).`,
    );
    return lines;
  }
  if (f.mode === 'url') {
    const where = `${f.account}/${f.container}`;
    if (f.containerMissing) lines.push(`Would create the private container ${where}.`);
    lines.push(
      f.releaseExists
        ? `Release blob ${where}/${f.releaseBlob} exists already (same content); no upload.`
        : `Would upload release ${f.releaseId} (${f.zipBytes} bytes) to ${where}/${f.releaseBlob}.`,
    );
    lines.push(
      f.stableCurrent
        ? `Stable blob ${where}/${f.stableBlob} holds this release already.`
        : `Would copy it onto the stable blob ${where}/${f.stableBlob}.`,
    );
    if (f.policy)
      lines.push(
        f.policy.action === 'keep'
          ? `Stored access policy ${f.policy.id}: kept (${f.policy.reason}).`
          : `Would ${f.policy.action} stored access policy ${f.policy.id} (${f.policy.reason}).`,
      );
  } else if (f.mode === 'flex') {
    const where = `${f.account}/${f.container}`;
    if (!f.account)
      lines.push('No storage-account: runpack would keep no copy of this release for a rollback.');
    else
      lines.push(
        f.releaseExists
          ? `Release blob ${where}/${f.releaseBlob} exists already (same content); no upload.`
          : `Would upload release ${f.releaseId} (${f.zipBytes} bytes) to ${where}/${f.releaseBlob} (runpack's copy, for a rollback).`,
      );
    lines.push(
      `Would publish release ${f.releaseId} (${f.zipBytes} bytes) with One Deploy (RemoteBuild=${f.flex?.remoteBuild ?? false}) to the app's deployment storage ${f.flex?.containerUrl ?? ''} (${f.flex?.authentication ?? ''}); the platform restarts the app onto it.`,
    );
  } else {
    lines.push(`Would push release ${f.releaseId} (${f.zipBytes} bytes) to the app's Kudu (zip deploy).`);
  }
  const names = Object.keys(f.settings);
  if (names.length === 0) lines.push('No app setting changes.');
  for (const name of names) {
    const [before, after] = f.settings[name];
    lines.push(`Would set ${name}: ${showValue(before)} → ${showValue(after)}.`);
  }
  lines.push(
    f.mode === 'flex'
      ? "Then verify (the deployment storage holds this package, the app answers, the host lists the package's functions)."
      : f.restart
        ? 'Would restart the app, then verify (setting, package fetch, mounted release stamp, health).'
        : 'Would not restart (restart: false); then verify.',
  );
  if (f.swapTo) lines.push(`Would swap into ${f.swapTo} after a verified deploy.`);
  if (f.retention) {
    if ('error' in f.retention)
      lines.push(
        `Retention (keep-releases: ${f.retention.keep}) could not be planned: ${f.retention.error}.`,
      );
    else if (f.retention.deleted.length)
      lines.push(
        `Would delete ${f.retention.deleted.length} old release(s) (keep-releases: ${f.retention.keep}): ${f.retention.deleted.join(', ')}.`,
      );
    else lines.push(`Retention (keep-releases: ${f.retention.keep}): nothing to delete.`);
  }
  return lines;
}
