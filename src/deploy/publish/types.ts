/**
 * What a publisher (one per mode: url.ts, local.ts) hands the engine: either the release was already live and
 * verified (nothing written), or how to verify what it published once the engine has restarted the app.
 */
import type { RetentionOutcome } from '../retention.js';
import type { Finding } from '../types.js';
import type { LevelResult, VerifyInput } from '../verify.js';

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
}
