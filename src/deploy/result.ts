/**
 * The result of a deploy and the pure rules that settle it: the verdict, the error line, the rollback's part of
 * it, and which release the app runs now. The engine, the fleet and the report read it.
 */
import type { RetentionOutcome } from './retention.js';
import type { Classification } from './classify.js';
import { CAUSE_TITLES } from './classify.js';
import type { InstanceRow } from './instances.js';
import type { PhaseTiming } from '../report/log.js';
import type { Finding as AuditFinding } from '../audit/index.js';
import type { Finding } from './types.js';
import { describeError } from '../util/errors.js';
import type { LevelResult } from './verify.js';

export interface RollbackOutcome {
  /** The release that failed verification. */
  from: string;
  /** The release brought back (when one was). */
  to?: string;
  /** It was made live, restarted and verified. */
  verified: boolean;
  /** Why nothing was brought back, or why the rollback itself failed. */
  reason?: string;
  levels: LevelResult[];
  cause?: Classification | null;
}

export interface DeployResult {
  ok: boolean;
  /** Unchanged content already live and verified: nothing was uploaded, set or restarted. */
  noop: boolean;
  error?: string;
  errorCode?: string;
  app: string;
  slot?: string;
  resourceGroup?: string;
  auth?: string;
  mode?: 'url' | 'local' | 'flex';
  access?: 'identity' | 'sas';
  releaseId?: string;
  sha256?: string;
  zipBytes?: number;
  files?: number;
  packageUrl?: string;
  previousReleaseId?: string;
  appUrl?: string;
  verified: boolean;
  levels: LevelResult[];
  phases: PhaseTiming[];
  findings: Finding[];
  cause?: Classification | null;
  /** The configuration applied with the package (app-settings, connection-strings, startup-command), values redacted. */
  configuration?: string[];
  /** dry-run: the plan, one line a step; nothing was written. */
  dryRun?: boolean;
  plan?: string[];
  /** Retention after the deploy (keep-releases). */
  retention?: RetentionOutcome;
  /** The write-path audit (audit: true or strict) of `source`. */
  audit?: {
    source: string;
    pathPrefix: string;
    filesScanned: number;
    findings: AuditFinding[];
    strict: boolean;
  };
  /** A fleet (several targets in app-name): each target's own result. */
  fleet?: DeployResult[];
  /** Each instance's check, when the site runs on several. */
  instances?: InstanceRow[];
  /** The publisher started changing what the app mounts (a failure after that leaves the live release open). */
  switching?: boolean;
  /** The Application Insights component that got this deploy's release annotation. */
  annotation?: string;
  /** The record this deploy added to the app's deployment history (URL mode). */
  deploymentRecord?: string;
  /** The commit and the run recorded with the release. */
  commit?: string;
  runUrl?: string;
  /** The release the app runs now (see the live-release-id output). */
  liveReleaseId?: string;
  /** on-failure: rollback after a failed verification: what was brought back, whether it verified, or why not. */
  rollback?: RollbackOutcome;
  /** Swap after the deploy: from → to and whether the swapped-in side was verified. */
  swap?: { from: string; to: string; verified: boolean };
}

export function describeFindings(findings: Finding[]): string {
  return findings.map((f) => f.message).join(' ');
}

export function hasErrors(result: DeployResult): boolean {
  return result.findings.some((f) => f.severity === 'error');
}

/** Adds findings to the result, logging each at its severity. */
export function recordFindings(
  result: DeployResult,
  found: Finding[],
  log: { warn(m: string): void; info(m: string): void; error(m: string): void },
) {
  for (const f of found) {
    result.findings.push(f);
    if (f.severity === 'error') log.error(f.message);
    else if (f.severity === 'warning') log.warn(f.message);
    else log.info(f.message);
  }
}

/** The verdict: verified with no error finding, else the error line from the cause or the findings. */
export function settleVerdict(result: DeployResult): void {
  const failed = result.findings.filter((f) => f.severity === 'error');
  result.ok = result.verified && failed.length === 0;
  if (!result.ok && !result.error) {
    result.error = result.cause
      ? `Verification failed: ${result.cause.evidence}. Likely cause: ${CAUSE_TITLES[result.cause.cause]}. Fix: ${result.cause.fix}.`
      : failed.length
        ? describeFindings(failed)
        : 'Verification failed.';
    result.errorCode = result.cause ? `verify-${result.cause.cause}` : (failed[0]?.code ?? 'verify-failed');
    if (result.rollback) result.error += ` ${describeRollback(result.rollback)}`;
  }
}

/** Pure: the rollback's part of the failure message. */
export function describeRollback(r: RollbackOutcome): string {
  if (r.verified) return `Rolled back: release ${r.to} is live again and verified.`;
  if (r.to)
    return `ROLLBACK NOT VERIFIED: release ${r.to} was made live again but did not verify (${r.reason ?? 'see the log'}); check the app now.`;
  return `Not rolled back: ${r.reason}; release ${r.from} stays live.`;
}

/** Pure: the release the app runs now, from how the deploy ended. */
export function liveRelease(result: DeployResult, releaseId: string): string | undefined {
  if (result.verified || result.noop) return releaseId;
  if (result.rollback?.to) return result.rollback.to;
  // Verification ran: the switch happened, so this release is live (unverified).
  if (result.levels.length) return releaseId;
  return result.previousReleaseId;
}

/**
 * Runs a step whose failure must not fail the deploy (retention, the verified record, the history): a failure
 * becomes a warning finding with `code` and the message `warning(why)`, why being the error's own line.
 */
export async function bestEffort(
  result: DeployResult,
  log: { warn(m: string): void; info(m: string): void; error(m: string): void },
  code: string,
  warning: (why: string) => string,
  step: () => Promise<void>,
): Promise<void> {
  try {
    await step();
  } catch (err) {
    recordFindings(result, [{ severity: 'warning', code, message: warning(describeError(err)) }], log);
  }
}
