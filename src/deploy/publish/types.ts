/**
 * What a publisher (one per mode: url.ts, local.ts) hands the engine: either the release was already live and
 * verified (nothing written), or how to verify what it published once the engine has restarted the app.
 */
import type { AuthSession } from '../../azure/credentials.js';
import type { KuduClient } from '../../azure/kudu.js';
import type { Plan } from '../plan.js';
import type { RetentionOutcome } from '../retention.js';
import type { DeployContext, Finding, PackageInfo } from '../types.js';
import type { LevelResult, VerifyInput } from '../verify.js';

/** What a publisher knows about the release that was live before it published, and how to bring it back. */
export interface PreviousRelease {
  /** Its release id, when known. */
  releaseId?: string;
  /**
   * Make it live again (the mode's own way: the stable blob copied back, or packagename.txt pointed back) and
   * say what to verify. Throws a RunpackError saying why not: none known, missing, never verified by runpack,
   * a mode switch in between, or another deployment changed the target meanwhile.
   */
  restore(): Promise<{ pkg: PackageInfo; verify: VerifyInput }>;
}

export interface Published {
  /** The same content was already live and verified: nothing was uploaded, pushed, set or restarted. */
  noop?: { levels: LevelResult[] };
  /** What verification checks after the restart (absent for a no-op). */
  verify?: VerifyInput;
  /** The settings write changed the app's settings (which restarts it on its own). */
  settingChanged?: boolean;
  previousReleaseId?: string;
  /** The package URL without its SAS (url mode). */
  packageUrl?: string;
  findings: Finding[];
  /** false: the engine logs the findings; otherwise the publisher already logged each one as it came. */
  loggedFindings?: boolean;
  /** Retention after a verified deploy (url mode). */
  prune?: () => Promise<RetentionOutcome>;
  /** After a verified deploy: record the release as verified where a rollback looks for it. */
  recordVerified?: () => Promise<void>;
  /** The release that was live before, for the automatic rollback (on-failure: rollback). */
  previous?: PreviousRelease;
  /** The publisher's signed-in Kudu session, when it opened one (the steps after reuse it). */
  kudu?: KuduClient;
}

/**
 * The package facts of a release a rollback brings back, for its verification: its ids and its release stamp
 * (what the mounted wwwroot must carry). Its function list is not known, so the functions check compares nothing.
 */
export function restoredPackage(
  pkg: PackageInfo,
  r: { sha256: string; releaseId: string; contentSha256?: string; zipBytes?: number },
): PackageInfo {
  return {
    ...pkg,
    zipPath: '',
    sha256: r.sha256,
    releaseId: r.releaseId,
    zipBytes: r.zipBytes ?? pkg.zipBytes,
    stamp: r.contentSha256 ? { runpack: 1, contentSha256: r.contentSha256 } : null,
    functions: [],
    inspect: { ...pkg.inspect, functions: [], functionTriggers: undefined },
  };
}

/** What every publisher is given. */
export interface PublishInput {
  ctx: DeployContext;
  pkg: PackageInfo;
  plan: Plan;
  /** The app settings read when the target was resolved. */
  settings: Record<string, string>;
  session: AuthSession;
  storageScope: string;
  /** A link to this run, recorded with the release. */
  runUrl?: string;
  /** A fleet's shared uploads: `account/container` → the release blob the first target uploaded. */
  uploads?: Map<string, Promise<string | null>>;
  /**
   * What the publisher learns before it finishes, for a failure on the way: the release live before it, and the
   * moment it starts changing what the app mounts (after that, a failure leaves the live release uncertain),
   * or `switching: false` when it learns that nothing changed what the app mounts after all.
   */
  progress?: (p: { previousReleaseId?: string; switching?: boolean }) => void;
  /** Something to release when the deploy ends, however it ends (the deploy lock). */
  hold?: (release: () => Promise<void>) => void;
}

/** The dry run's plan: one line a step, and what it found. Nothing is written. */
export interface DryRunPlan {
  lines: string[];
  packageUrl?: string;
  retention?: RetentionOutcome;
}

/** One per mode (url.ts, local.ts): what the dry run prints, and the publish itself. */
export interface Publisher {
  plan(input: PublishInput): Promise<DryRunPlan>;
  publish(input: PublishInput): Promise<Published>;
}
