/**
 * Pure: from what verification saw, the likely cause of a failed deploy among the four runpack exists to catch
 * (a write into the read-only mount, a bad or expired SAS, a mount blocked by a network rule or a bad archive,
 * a mode mismatch / stale content) and the fix.
 */
import type { AnswerState } from './app-answer.js';
import { CAUSE_TITLES, type Cause } from './causes.js';
/** The cause of a failed verification: one of the shared vocabulary (deploy/causes.ts). */
export type FailureCause = Cause;

export interface VerifyEvidence {
  mode: 'url' | 'local' | 'flex';
  access?: 'identity' | 'sas';
  /** (a) The setting read back equals the intended value. */
  settingMatches?: boolean;
  /** (b) Fetching the URL in the setting as the worker does. */
  blobFetch?: {
    status: number;
    errorCode?: string;
    detail?: string;
    sha256Matches?: boolean;
    /** The release id the blob behind the URL holds, when it is not this release. */
    releaseThere?: string;
  };
  /** Nothing re-mounted the package after the deploy (restart: false and no settings change). */
  noRemount?: boolean;
  /** identity access: a blob read role for the app's identity was found (false: none could be confirmed). */
  identityRoleConfirmed?: boolean;
  /** `FAILED TO INITIALIZE RUN FROM PACKAGE.txt` seen in wwwroot. */
  failureMarker?: boolean;
  /** (c) The release stamp read back from the mount. */
  stamp?: 'match' | 'mismatch' | 'missing' | 'unreadable' | 'not-checked';
  /** (d) The last answer of the site (health-path, or the root without one). */
  health?: { status?: number; containsExpect?: boolean; body?: string; error?: string };
  /** (d) What the site's answers say about the app (absent: judge from `health` alone). */
  app?: { state: AnswerState; why: string };
  /** The app's container log: the first line that shows a write into the read-only mount, if any. */
  appLogReadOnlyLine?: string;
  /** Where the user reads the app's own output (Kudu's log stream). */
  logStreamUrl?: string;
  /** (e) Each instance, when the site runs on several: what it mounts and whether the app answers there. */
  instances?: {
    id: string;
    ok: boolean;
    stamp: 'match' | 'mismatch' | 'missing' | 'unreadable' | 'not-checked';
    mountFailed: boolean;
    app: AnswerState;
  }[];
}

export interface Classification {
  cause: FailureCause;
  /** What the evidence shows, one sentence. */
  evidence: string;
  fix: string;
}

/**
 * What apps print when they write into the read-only mount: EROFS (Linux), Node's `EACCES: permission denied` and
 * `EPERM: operation not permitted` (the mount refuses the write), .NET's UnauthorizedAccessException.
 */
export const READ_ONLY =
  /\bEROFS\b|read-only file system|\bEACCES\b|permission denied|\bEPERM\b|operation not permitted|UnauthorizedAccessException|Access to the path .* is denied|Could not write to local resource/i;

export { CAUSE_TITLES };

export function classifyFailure(e: VerifyEvidence): Classification | null {
  const flex = e.mode === 'flex' ? classifyFlex(e) : null;
  if (flex) return flex;
  const f = e.blobFetch;
  if (f && f.status >= 400) {
    const code = f.errorCode ?? '';
    const detail = f.detail ?? '';
    if (code === 'AuthorizationFailure')
      return {
        cause: 'mount-blocked',
        evidence: `the package URL answers 403 AuthorizationFailure: the storage account's network rules block it`,
        fix: "allow the app's outbound addresses (or its virtual network) on the storage account, or add a private endpoint reachable from the app",
      };
    if (code === 'AuthorizationPermissionMismatch')
      return {
        cause: 'mount-blocked',
        evidence:
          'the package URL answers 403 AuthorizationPermissionMismatch: the identity has no data role on the blob',
        fix: "assign Storage Blob Data Reader on the storage account (or container) to the app's managed identity, or use package-access: sas",
      };
    if (code === 'KeyBasedAuthenticationNotPermitted')
      return {
        cause: 'sas-invalid',
        evidence:
          'the package URL answers 403 KeyBasedAuthenticationNotPermitted: the account refuses key-signed SAS',
        fix: 'use package-access: identity (shared key access is disabled on the account)',
      };
    if (code === 'AuthenticationFailed' || f.status === 403)
      return {
        cause: 'sas-invalid',
        evidence: /time frame|expired/i.test(detail)
          ? 'the SAS in the package URL has expired (AuthenticationFailed: signature not valid in the specified time frame)'
          : `the package URL is refused (${f.status}${code ? ` ${code}` : ''}${detail ? `: ${detail.slice(0, 160)}` : ''})`,
        fix: 'run the deploy again to renew the stored access policy and SAS, or use package-access: identity',
      };
    if (f.status === 404)
      return {
        cause: 'sas-invalid',
        evidence: 'the package URL answers 404: the blob or container is missing',
        fix: 'run the deploy again so the package blob is uploaded, and check nothing deletes it',
      };
  }
  if (e.settingMatches === false)
    return {
      cause: 'stale-content',
      evidence:
        'WEBSITE_RUN_FROM_PACKAGE read back differs from the value written: something else changed it',
      fix: 'stop other deployments or infrastructure code from writing app settings (they must keep WEBSITE_RUN_FROM_PACKAGE), then deploy again',
    };
  if (e.failureMarker && e.access === 'identity' && e.identityRoleConfirmed === false)
    return {
      cause: 'mount-blocked',
      evidence:
        "wwwroot shows 'FAILED TO INITIALIZE RUN FROM PACKAGE.txt' and no blob read role for the app's identity could be confirmed",
      fix: "assign Storage Blob Data Reader on the storage account to the app's managed identity, then deploy again (or use package-access: sas)",
    };
  if (e.failureMarker)
    return {
      cause: 'mount-blocked',
      evidence:
        "wwwroot shows 'FAILED TO INITIALIZE RUN FROM PACKAGE.txt': the worker could not fetch or open the package",
      fix:
        e.mode === 'url'
          ? "check that the app can reach the storage account (network rules, private endpoints, the identity's role) and that the zip opens, then restart"
          : 'deploy the package again (packagename.txt must point at a valid zip) and restart',
    };
  if (f?.sha256Matches === false)
    return {
      cause: 'stale-content',
      evidence: f.releaseThere
        ? `the blob behind the package URL holds release ${f.releaseThere}, not this one: a later deploy replaced it`
        : 'the blob behind the package URL is not this release',
      fix: 'make sure no other pipeline writes the same blob name, then deploy again',
    };
  if ((e.stamp === 'mismatch' || e.stamp === 'missing') && e.noRemount)
    return {
      cause: 'stale-content',
      evidence:
        'restart: false and the settings did not change, so nothing re-mounted the package: the app keeps running its previous content',
      fix: 'restart the app (or deploy with restart: true) so it mounts this release',
    };
  if (e.stamp === 'mismatch' || e.stamp === 'missing')
    return {
      cause: 'stale-content',
      evidence:
        e.stamp === 'mismatch'
          ? 'the mounted wwwroot carries another release stamp: the app still runs old content'
          : 'the mounted wwwroot has no release stamp: the app runs content runpack did not deploy (mode mismatch or extracted files)',
      fix: 'restart the app so it mounts the package again (restart: true), and check that WEBSITE_RUN_FROM_PACKAGE is not changed by other tools',
    };
  const h = e.health;
  const logHint = e.logStreamUrl ? ` (${e.logStreamUrl})` : '';
  if (e.app?.state === 'unreachable')
    return {
      cause: 'runner-network',
      evidence: `${e.app.why}; this says nothing yet about the app, which the runner could not see`,
      fix: "check the runner's DNS, its proxy settings (HTTPS_PROXY, NO_PROXY) and the CA it trusts (NODE_EXTRA_CA_CERTS), or the app's access restrictions for the runner's address, then run the deploy again",
    };
  if (e.app && e.app.state !== 'up' && e.appLogReadOnlyLine)
    return {
      cause: 'read-only-write',
      evidence: `${e.app.why}, and the app's log shows a write into its read-only package mount: "${e.appLogReadOnlyLine.slice(0, 200)}"`,
      fix: "write to /tmp or %TEMP% (or HOME outside wwwroot) instead; run 'runpack audit' on the source to find the writes",
    };
  if (e.app?.state === 'start-failed' || (e.app?.state === 'warming' && e.stamp === 'match'))
    return {
      cause: 'app-start-failed',
      evidence:
        e.app.state === 'start-failed'
          ? `${e.app.why}: the package is mounted but the app's process does not start`
          : `${e.app.why} for the whole wait: the package is mounted but the app never answers`,
      fix: `read the app's log stream${logHint} for the error it prints at start (a crash on boot, a missing dependency or setting, the wrong start command or port); if it writes next to its own files, write to /tmp or %TEMP% instead (the first cause in runpack's guide)`,
    };
  const bad = e.instances?.filter((i) => !i.ok) ?? [];
  if (e.app?.state === 'up' && bad.length) {
    const names = (xs: typeof bad) => xs.map((i) => i.id).join(', ');
    const of = `${bad.length} of ${e.instances!.length} instances`;
    const failed = bad.filter((i) => i.mountFailed);
    if (failed.length)
      return {
        cause: 'mount-blocked',
        evidence: `instance ${names(failed)} shows 'FAILED TO INITIALIZE RUN FROM PACKAGE.txt' while the others run this release (${of} fail)`,
        fix: 'restart the app so that instance mounts the package again; if it keeps failing there, restart that instance (Diagnose and solve problems > Advanced Application Restart) or scale in and out',
      };
    const stale = bad.filter((i) => i.stamp === 'mismatch' || i.stamp === 'missing');
    if (stale.length)
      return {
        cause: 'stale-content',
        evidence: `instance ${names(stale)} still runs another release after the others were proven (${of} fail): it did not remount`,
        fix: 'restart the app (or that instance: Diagnose and solve problems > Advanced Application Restart) so every instance mounts this release, then check again',
      };
    return {
      cause: 'app-start-failed',
      evidence: `the app does not answer on instance ${names(bad)} although it mounts this release (${of} fail)`,
      fix: `read the app's log stream${logHint} for that instance's start error`,
    };
  }
  if (e.app?.state === 'up') return null;
  if (
    h &&
    (h.error || (h.status !== undefined && (h.status < 200 || h.status >= 300)) || h.containsExpect === false)
  ) {
    if (h.body && READ_ONLY.test(h.body))
      return {
        cause: 'read-only-write',
        evidence:
          'the app fails with a read-only file system error: it writes under its package mount (wwwroot)',
        fix: "write to /tmp or %TEMP% (or HOME outside wwwroot) instead; run 'runpack audit' on the source to find the writes",
      };
    if (h.containsExpect === false && h.status !== undefined && h.status >= 200 && h.status < 300)
      return {
        cause: 'stale-content',
        evidence:
          'the health response does not contain the expected text: the app serves other content than this release',
        fix: 'restart the app and check the expect input matches what this release answers',
      };
    if (h.status === 503 || h.status === 502 || h.error)
      return {
        cause: 'mount-blocked',
        evidence: `the site does not start (${h.error ?? `HTTP ${h.status}`}): the package may not have mounted`,
        fix: 'check the package opens (runpack inspect) and that the app can reach the package URL, then restart',
      };
    return {
      cause: 'unknown',
      evidence: `the health probe answered ${h.status ?? h.error}`,
      fix: `check the app's logs (log stream${logHint}) for the error it reports`,
    };
  }
  return null;
}

/** Pure: what only a Flex Consumption deploy can show (its deployment storage); null: judge like every app. */
function classifyFlex(e: VerifyEvidence): Classification | null {
  if (e.settingMatches === false)
    return {
      cause: 'stale-content',
      evidence:
        'WEBSITE_RUN_FROM_PACKAGE is set on the Flex Consumption app, which runs its package from its deployment storage instead',
      fix: 'remove WEBSITE_RUN_FROM_PACKAGE (runpack removes it with force: true), then deploy again',
    };
  if (e.blobFetch?.status === 404)
    return {
      cause: 'mount-blocked',
      evidence: "the app's deployment storage holds no package after the deployment",
      fix: "check that the app can write its deployment container (its identity's Storage Blob Data Contributor role, or the connection-string setting) and deploy again",
    };
  if (e.blobFetch?.sha256Matches === false)
    return {
      cause: 'stale-content',
      evidence:
        "the app's deployment storage holds another package than this release: a later deployment replaced it",
      fix: 'make sure no other pipeline deploys this app at the same time, then deploy again',
    };
  return null;
}
