/**
 * Pure diagnosis rules: Evidence in, Findings out. Each rule reads only the evidence record, so every rule is
 * unit-tested with injected evidence. Messages never quote a setting value that could carry a SAS.
 */
import { compareSlotSettings } from '../deploy/slots.js';
import { STAMP_PATH } from '../package/types.js';
import { msUntil } from './sas.js';
import type { Cause, Evidence, FindingSeverity, OpsFinding } from './types.js';
import {
  classifyRunFromPackage,
  compareStamp,
  effectiveRunFromPackage,
  FAILURE_MARKER,
  FLEX_PACKAGE_BLOB,
  RFP,
  RFP_LEGACY,
  RFP_MI,
} from '../release/rfp.js';

const DAY = 24 * 60 * 60 * 1000;
/** Warn this long before a SAS, a stored policy or a user delegation key expires. */
export const EXPIRY_WARNING_DAYS = 30;

/** Settings the rules read; collectors keep only these (other values may be secrets). */
export const RELEVANT_SETTINGS = [
  RFP,
  RFP_LEGACY,
  RFP_MI,
  'WEBSITE_USE_ZIP',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
  'WEBSITE_LOCAL_CACHE_OPTION',
  'WEBSITE_WEBDEPLOY_USE_SCM',
  'MSDEPLOY_RENAME_LOCKED_FILES',
  'SCM_MAX_ZIP_PACKAGE_COUNT',
];

/** Read-only file system errors as runtimes print them (Node, .NET, Python, Java, Kudu). */
const READ_ONLY_TEXT =
  /EROFS|read-only file system|EACCES: permission denied|EPERM: operation not permitted|UnauthorizedAccessException|Access to the path .* is denied|Could not write to local resource|AccessDeniedException/i;

function f(
  severity: FindingSeverity,
  cause: Cause,
  code: string,
  message: string,
  evidence: string,
  fix: string,
): OpsFinding {
  return { severity, cause, code, message, evidence, fix };
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && /^(true|1)$/i.test(v.trim());
}

function days(ms: number): string {
  const d = Math.floor(ms / DAY);
  return d === 1 ? '1 day' : `${d} days`;
}

function name(e: Evidence): string {
  return e.target.slot ? `${e.target.app}/${e.target.slot}` : e.target.app;
}

/** Exact-string rules of API-SPEC §1.1: `1` local, `http…` URL, the legacy name when the main one is empty. */
export function settingRules(e: Evidence): OpsFinding[] {
  const out: OpsFinding[] = [];
  const s = e.settings;
  const main = s[RFP];
  const legacy = s[RFP_LEGACY];
  const value = effectiveRunFromPackage(s);
  const state = classifyRunFromPackage(value);
  if (state === 'unset') {
    out.push(
      f(
        'warning',
        'stale-content',
        'rfp-unset',
        `${name(e)} does not run from a package: neither ${RFP} nor ${RFP_LEGACY} is set.`,
        'the app settings have no run-from-package value; wwwroot holds ordinary writable files',
        `deploy with runpack (it sets ${RFP}), or look elsewhere: read-only errors on this app do not come from run-from-package`,
      ),
    );
  } else if (state === 'other') {
    const which = main !== undefined && main !== '' ? RFP : RFP_LEGACY;
    const shown = /[?&]sig=/i.test(value ?? '') ? 'a value' : `'${value}'`;
    out.push(
      f(
        'error',
        'stale-content',
        'rfp-value-invalid',
        `${which} on ${name(e)} holds ${shown}, which is neither exactly 1 nor a URL, so Kudu treats the app as a normal app and extracts deployments into wwwroot.`,
        `Kudu runs local mode only for the exact string "1" and URL mode only for values starting with http`,
        `set ${RFP} to exactly 1 (local mode) or to the package URL, with no spaces`,
      ),
    );
  }
  if ((main === undefined || main === '') && legacy !== undefined && legacy !== '') {
    out.push(
      f(
        'warning',
        'config',
        'rfp-legacy-name',
        `${name(e)} runs from a package through the deprecated ${RFP_LEGACY} setting.`,
        `${RFP} is empty and ${RFP_LEGACY} is set; Kudu falls back to the legacy name`,
        `move the value to ${RFP} and delete ${RFP_LEGACY} (runpack deploy does both)`,
      ),
    );
  } else if (main !== undefined && main !== '' && legacy !== undefined) {
    out.push(
      f(
        'warning',
        'config',
        'rfp-legacy-alongside',
        `${RFP_LEGACY} is set alongside ${RFP} on ${name(e)}; it is ignored and only confuses the next reader or tool.`,
        `both ${RFP} and ${RFP_LEGACY} are present in the app settings`,
        `delete ${RFP_LEGACY} (az webapp config appsettings delete --setting-names ${RFP_LEGACY})`,
      ),
    );
  }
  if (s.WEBSITE_USE_ZIP !== undefined && s.WEBSITE_USE_ZIP !== '') {
    out.push(
      f(
        'warning',
        'config',
        'rfp-use-zip',
        `${name(e)} still has the deprecated WEBSITE_USE_ZIP setting.`,
        'WEBSITE_USE_ZIP is present in the app settings',
        `delete WEBSITE_USE_ZIP and keep only ${RFP}`,
      ),
    );
  }
  return out;
}

/** Platform and settings that fight run-from-package. */
export function conflictRules(e: Evidence): OpsFinding[] {
  const out: OpsFinding[] = [];
  const s = e.settings;
  const t = e.target;
  const state = classifyRunFromPackage(effectiveRunFromPackage(s));
  const running = state === 'local' || state === 'url';
  if (t.isFlex && state !== 'unset') {
    out.push(
      f(
        'error',
        'config',
        'flex-with-rfp',
        `${name(e)} runs on Flex Consumption, which does not support ${RFP}.`,
        `the app has functionAppConfig (Flex Consumption) and a run-from-package setting`,
        `remove ${RFP} (runpack deploy --force removes it) and deploy with runpack in mode auto, which publishes to the app's deployment storage with One Deploy`,
      ),
    );
  }
  if (t.isFunctionApp && t.isLinux && t.isConsumption && state === 'local') {
    out.push(
      f(
        'error',
        'stale-content',
        'linux-consumption-local',
        `${name(e)} is a Linux Consumption function app with ${RFP}=1; it runs packages only from a URL.`,
        'sku Dynamic, Linux, function app, and the setting is exactly 1',
        'deploy in URL mode: runpack deploy --mode url --storage-account <account>',
      ),
    );
  }
  if (!t.isFunctionApp && t.isLinux && running) {
    if (/^(JAVA|TOMCAT|JBOSSEAP|WILDFLY)\|/i.test(t.linuxFxVersion))
      out.push(
        f(
          'error',
          'read-only-write',
          'runtime-unsupported',
          `${name(e)} is a Java web app (${t.linuxFxVersion}); run-from-package does not support it because the runtime writes to the app folder.`,
          `linuxFxVersion is ${t.linuxFxVersion} and a run-from-package value is set`,
          `remove ${RFP} and deploy with OneDeploy (az webapp deploy)`,
        ),
      );
    else if (/^PYTHON\|/i.test(t.linuxFxVersion))
      out.push(
        f(
          'error',
          'read-only-write',
          'runtime-unsupported',
          `${name(e)} is a Python web app on Linux (${t.linuxFxVersion}); run-from-package does not support it.`,
          `linuxFxVersion is ${t.linuxFxVersion} and a run-from-package value is set`,
          `remove ${RFP} and deploy with build automation (SCM_DO_BUILD_DURING_DEPLOYMENT=true, az webapp deploy)`,
        ),
      );
  }
  if (!running) return out;
  for (const key of ['SCM_DO_BUILD_DURING_DEPLOYMENT', 'ENABLE_ORYX_BUILD']) {
    if (isTrue(s[key]))
      out.push(
        f(
          'warning',
          'config',
          'remote-build',
          `${key}=${s[key]} asks for a build on the server, which run-from-package skips: the app runs the package as uploaded.`,
          `${key} is ${s[key]} while ${RFP} is in effect`,
          `build in the workflow (dependencies included) and delete ${key}`,
        ),
      );
  }
  if (/^always$/i.test((s.WEBSITE_LOCAL_CACHE_OPTION ?? '').trim())) {
    out.push(
      f(
        'error',
        'config',
        'local-cache',
        `${name(e)} has local cache on (WEBSITE_LOCAL_CACHE_OPTION=Always), which is not compatible with run-from-package.`,
        'WEBSITE_LOCAL_CACHE_OPTION is Always while a run-from-package value is set',
        'delete WEBSITE_LOCAL_CACHE_OPTION (and WEBSITE_LOCAL_CACHE_SIZEINMB)',
      ),
    );
  }
  const msdeployKeys = ['WEBSITE_WEBDEPLOY_USE_SCM', 'MSDEPLOY_RENAME_LOCKED_FILES'].filter(
    (k) => s[k] !== undefined,
  );
  const deployer = e.local?.latestDeployment?.deployer ?? '';
  if (msdeployKeys.length || /msdeploy|webdeploy/i.test(deployer)) {
    out.push(
      f(
        'warning',
        'config',
        'msdeploy',
        `${name(e)} shows signs of MSDeploy (Web Deploy), which cannot deploy to a run-from-package app ("ARM-MSDeploy Deploy Failed").`,
        [
          msdeployKeys.length ? `settings ${msdeployKeys.join(', ')} are present` : '',
          /msdeploy|webdeploy/i.test(deployer) ? `the latest Kudu deployment came from '${deployer}'` : '',
        ]
          .filter(Boolean)
          .join('; '),
        'deploy with zip deploy or runpack instead of Web Deploy, and delete the MSDeploy settings',
      ),
    );
  }
  return out;
}

/** URL mode: the URL itself and its SAS. */
export function urlRules(e: Evidence, now: Date): OpsFinding[] {
  const out: OpsFinding[] = [];
  const value = effectiveRunFromPackage(e.settings);
  if (classifyRunFromPackage(value) !== 'url' || !value) return out;
  let path = '';
  try {
    const u = new URL(value);
    path = u.pathname;
    if (u.protocol === 'http:')
      out.push(
        f(
          'warning',
          'sas-invalid',
          'url-not-https',
          `The package URL of ${name(e)} uses http, so the package (and any SAS) travels unencrypted.`,
          'the URL scheme is http',
          'use the https URL of the blob',
        ),
      );
  } catch {
    out.push(
      f(
        'error',
        'sas-invalid',
        'url-malformed',
        `${RFP} on ${name(e)} starts with http but is not a valid URL, so the worker cannot fetch a package.`,
        'the value does not parse as a URL',
        'set the full https URL of the package blob',
      ),
    );
    return out;
  }
  if (path && !/\.zip$/i.test(path))
    out.push(
      f(
        'info',
        'sas-invalid',
        'url-not-zip',
        `The package URL of ${name(e)} does not end with .zip, which the platform documentation asks for.`,
        `the URL path ends with '${path.split('/').pop() ?? ''}'`,
        'name the blob with a .zip extension (runpack names it <app>[-<slot>].zip)',
      ),
    );

  const sas = e.sas;
  if (!sas) return out;
  const left = msUntil(sas.expiry, now);
  if (left !== undefined && left <= 0)
    out.push(
      f(
        'error',
        'sas-invalid',
        'sas-expired',
        `The SAS in the package URL of ${name(e)} expired on ${sas.expiry}; the app fails at its next restart or scale-out.`,
        `se=${sas.expiry} is in the past`,
        'run runpack deploy again (it issues a SAS bound to a stored access policy), or use package-access: identity',
      ),
    );
  else if (left !== undefined && left <= EXPIRY_WARNING_DAYS * DAY)
    out.push(
      f(
        'warning',
        'sas-invalid',
        'sas-expiring',
        `The SAS in the package URL of ${name(e)} expires in ${days(left)} (${sas.expiry}).`,
        `se=${sas.expiry} is within ${EXPIRY_WARNING_DAYS} days`,
        'run runpack deploy again before then, or extend the stored access policy the SAS points to',
      ),
    );
  const startsIn = msUntil(sas.start, now);
  if (startsIn !== undefined && startsIn > 0)
    out.push(
      f(
        'error',
        'sas-invalid',
        'sas-not-yet-valid',
        `The SAS in the package URL of ${name(e)} only becomes valid at ${sas.start}.`,
        `st=${sas.start} is in the future`,
        'issue a SAS whose start is in the past (allow for clock skew), or leave st out',
      ),
    );
  if (sas.permissions !== undefined && !sas.permissions.includes('r'))
    out.push(
      f(
        'error',
        'sas-invalid',
        'sas-no-read',
        `The SAS in the package URL of ${name(e)} does not grant read (sp=${sas.permissions}).`,
        `sp=${sas.permissions} has no r`,
        'issue a read-only SAS (sp=r)',
      ),
    );
  if (sas.protocol !== undefined && !/https/i.test(sas.protocol))
    out.push(
      f(
        'warning',
        'sas-invalid',
        'sas-http-only',
        `The SAS in the package URL of ${name(e)} allows only http.`,
        `spr=${sas.protocol}`,
        'issue the SAS with spr=https',
      ),
    );
  if (sas.kind === 'user-delegation') {
    const keyLeft = msUntil(sas.keyExpiry, now);
    const expired = keyLeft !== undefined && keyLeft <= 0;
    out.push(
      f(
        expired ? 'error' : 'warning',
        'sas-invalid',
        expired ? 'sas-user-delegation-expired' : 'sas-user-delegation',
        expired
          ? `The package URL of ${name(e)} carries a user delegation SAS whose key expired on ${sas.keyExpiry}.`
          : `The package URL of ${name(e)} carries a user delegation SAS; its key lives at most 7 days, so the app fails at the first restart after ${sas.keyExpiry ?? 'the key expires'}.`,
        `skoid/ske present${sas.keyExpiry ? `, ske=${sas.keyExpiry}` : ''}`,
        'use package-access: identity or a service SAS bound to a stored access policy (runpack deploy does this)',
      ),
    );
  }
  if (sas.kind === 'account')
    out.push(
      f(
        'warning',
        'sas-invalid',
        'sas-account',
        `The package URL of ${name(e)} carries an account SAS, which grants far more than one blob.`,
        'ss/srt present (account SAS)',
        'use a read-only service SAS scoped to the package blob, bound to a stored access policy',
      ),
    );
  return out;
}

/** The stored access policy the SAS points to (si). */
export function policyRules(e: Evidence, now: Date): OpsFinding[] {
  const p = e.policy;
  if (!p || !e.sas?.policyId) return [];
  if (p.error)
    return [
      f(
        'info',
        'sas-invalid',
        'sas-policy-unchecked',
        `The stored access policy '${p.id}' on container '${p.container}' could not be read.`,
        p.error,
        'give the login Storage Blob Data Reader or listKeys on the account to let diagnose check it',
      ),
    ];
  if (!p.exists)
    return [
      f(
        'error',
        'sas-invalid',
        'sas-policy-missing',
        `The SAS in the package URL of ${name(e)} points to stored access policy '${p.id}', which container '${p.container}' no longer has: the SAS is revoked.`,
        `si=${p.id}; the container's policies do not include it`,
        'run runpack deploy again (it recreates the policy), or create the policy with read permission',
      ),
    ];
  const out: OpsFinding[] = [];
  const left = msUntil(p.expiry, now);
  if (left !== undefined && left <= 0)
    out.push(
      f(
        'error',
        'sas-invalid',
        'sas-policy-expired',
        `Stored access policy '${p.id}' on container '${p.container}' expired on ${p.expiry}; every SAS bound to it is refused.`,
        `policy expiry ${p.expiry} is in the past`,
        'run runpack deploy again (it renews the policy), or extend the policy expiry',
      ),
    );
  else if (left !== undefined && left <= EXPIRY_WARNING_DAYS * DAY)
    out.push(
      f(
        'warning',
        'sas-invalid',
        'sas-policy-expiring',
        `Stored access policy '${p.id}' on container '${p.container}' expires in ${days(left)} (${p.expiry}).`,
        `policy expiry ${p.expiry} is within ${EXPIRY_WARNING_DAYS} days`,
        'run runpack deploy again before then (it renews the policy), or extend the policy expiry',
      ),
    );
  if (p.permissions !== undefined && !p.permissions.includes('r'))
    out.push(
      f(
        'error',
        'sas-invalid',
        'sas-policy-no-read',
        `Stored access policy '${p.id}' on container '${p.container}' does not grant read (permissions '${p.permissions}').`,
        `policy permissions '${p.permissions}' have no r`,
        'give the policy read permission (r), or run runpack deploy again',
      ),
    );
  return out;
}

/** The answer to fetching the package as the worker does. */
export function fetchRules(e: Evidence): OpsFinding[] {
  const r = e.fetch;
  if (!r) return [];
  const via =
    r.as === 'caller-token'
      ? " (probed with the caller's token, not the app's identity)"
      : r.as === 'sas'
        ? ' (with the SAS in the setting, as the worker does)'
        : '';
  const code = r.errorCode ?? '';
  const detail = r.detail ? `: ${r.detail.slice(0, 200)}` : '';
  if (r.status >= 200 && r.status < 300) return [];
  if (r.status === 0)
    return [
      f(
        'warning',
        'mount-blocked',
        'package-unreachable',
        `The package URL of ${name(e)} could not be reached from here${via}.`,
        r.error ?? 'no answer',
        "check the URL's host; if storage is private, run diagnose from inside the network",
      ),
    ];
  if (code === 'AuthenticationFailed' && /time frame|expired/i.test(r.detail ?? ''))
    return [
      f(
        'error',
        'sas-invalid',
        'package-sas-expired',
        `Storage refuses the package URL of ${name(e)}: the SAS is outside its validity time frame.`,
        `${r.status} ${code}${detail}${via}`,
        'run runpack deploy again to renew the stored access policy and SAS, or use package-access: identity',
      ),
    ];
  if (code === 'AuthenticationFailed')
    return [
      f(
        'error',
        'sas-invalid',
        'package-sas-invalid',
        `Storage refuses the SAS in the package URL of ${name(e)}: the signature does not match (a rotated account key, or an edited URL).`,
        `${r.status} ${code}${detail}${via}`,
        'run runpack deploy again to issue a fresh SAS (after a key rotation every old SAS is dead)',
      ),
    ];
  if (code === 'KeyBasedAuthenticationNotPermitted')
    return [
      f(
        'error',
        'sas-invalid',
        'package-shared-key-disabled',
        `Storage refuses the key-signed SAS in the package URL of ${name(e)}: shared key access is disabled on the account.`,
        `${r.status} ${code}${via}`,
        'use package-access: identity (a plain blob URL fetched with the app identity)',
      ),
    ];
  if (code === 'AuthorizationFailure')
    return [
      f(
        'error',
        'mount-blocked',
        'package-firewall',
        `The storage account's network rules block the package URL of ${name(e)}.`,
        `${r.status} ${code}${via}`,
        "allow the app's outbound addresses or its virtual network on the storage account (or add a private endpoint the app can reach), then restart the app",
      ),
    ];
  if (code === 'AuthorizationPermissionMismatch')
    return [
      f(
        r.as === 'caller-token' ? 'warning' : 'error',
        'mount-blocked',
        'package-permission',
        `The package URL of ${name(e)} is refused for lack of a data role or permission.`,
        `${r.status} ${code}${via}`,
        r.as === 'caller-token'
          ? 'the check ran with your login; give it Storage Blob Data Reader to probe the blob, and see the identity findings for the app itself'
          : 'issue a SAS with read permission (sp=r)',
      ),
    ];
  if (r.status === 404)
    return [
      f(
        'error',
        'sas-invalid',
        'package-missing',
        `The package URL of ${name(e)} answers 404: the blob or its container does not exist.`,
        `${r.status}${code ? ` ${code}` : ''}${via}`,
        'run runpack deploy again so the package is uploaded, and check that nothing deletes it (lifecycle rules, retention)',
      ),
    ];
  return [
    f(
      'error',
      'mount-blocked',
      'package-refused',
      `The package URL of ${name(e)} answers ${r.status}${code ? ` ${code}` : ''}.`,
      `${r.status}${code ? ` ${code}` : ''}${detail}${via}`,
      'check the URL and the storage account, then restart the app',
    ),
  ];
}

/** The package's central directory: is it a zip the platform can mount and run? */
export function archiveRules(e: Evidence, where = 'the package'): OpsFinding[] {
  return archiveFindings(e.archive, where, name(e));
}

function archiveFindings(a: Evidence['archive'], where: string, app: string): OpsFinding[] {
  if (!a) return [];
  if (!a.opened)
    return [
      f(
        'error',
        'mount-blocked',
        'package-not-zip',
        `${where} of ${app} is not a readable zip, so the platform cannot mount it.`,
        a.error ?? 'the central directory could not be read',
        'deploy a zip made with runpack package (run runpack inspect on it first)',
      ),
    ];
  const out: OpsFinding[] = [];
  for (const p of a.problems.filter((x) => x.severity === 'error')) {
    if (p.code === 'nested-root')
      out.push(
        f(
          'error',
          'mount-blocked',
          'package-nested-root',
          `${where} of ${app} holds the app inside a top-level folder, so wwwroot has no app at its root.`,
          p.message,
          'zip the contents of the publish folder, not the folder itself (runpack package <dir> does this)',
        ),
      );
    else if (p.code === 'entry-point-missing' || p.code === 'functions-host-missing')
      out.push(
        f(
          'error',
          'mount-blocked',
          'package-entry-point-missing',
          `${where} of ${app} has no entry point the runtime can start.`,
          p.message,
          'package the build output (with its entry point at the root), then deploy again',
        ),
      );
    else if (p.code === 'corrupt-archive')
      out.push(
        f(
          'error',
          'mount-blocked',
          'package-not-zip',
          `${where} of ${app} is a damaged zip.`,
          p.message,
          'deploy a fresh zip made with runpack package',
        ),
      );
    else
      out.push(
        f(
          'error',
          'mount-blocked',
          'package-invalid',
          `${where} of ${app} fails inspection (${p.code}).`,
          p.message,
          'run runpack inspect on the package, fix what it reports and deploy again',
        ),
      );
  }
  return out;
}

/** Storage account settings that decide whether the worker can fetch at all. */
export function storageRules(e: Evidence): OpsFinding[] {
  const s = e.storage;
  if (!s) return [];
  const out: OpsFinding[] = [];
  if (!s.found) {
    out.push(
      f(
        'warning',
        'mount-blocked',
        'storage-not-visible',
        `The storage account '${s.account}' of the package URL is not visible to this login, so its network rules and policies were not checked.`,
        `Resource Manager lists no account named ${s.account} in the subscription`,
        'give the login Reader on the storage account, or check its networking page by hand',
      ),
    );
    return out;
  }
  if (/^deny$/i.test(s.networkDefaultAction ?? '')) {
    const failing = Boolean(e.mount?.failureMarker) || e.fetch?.errorCode === 'AuthorizationFailure';
    out.push(
      f(
        failing ? 'error' : 'warning',
        'mount-blocked',
        failing ? 'storage-firewall-blocks' : 'storage-firewall',
        failing
          ? `The storage account '${s.account}' denies public network access by default and ${name(e)} failed to mount its package from it.`
          : `The storage account '${s.account}' denies public network access by default; the app can fetch its package only if its outbound path is allowed.`,
        `networkAcls.defaultAction is Deny${e.mount?.failureMarker ? `; wwwroot shows '${FAILURE_MARKER}'` : ''}`,
        "allow the app's virtual network (or outbound addresses) on the storage account, or use local mode (WEBSITE_RUN_FROM_PACKAGE=1), then restart the app",
      ),
    );
  }
  if (s.allowSharedKeyAccess === false && e.sas?.signed && e.sas.kind !== 'user-delegation')
    out.push(
      f(
        'error',
        'sas-invalid',
        'storage-shared-key-disabled',
        `The storage account '${s.account}' has shared key access disabled, so the key-signed SAS in the package URL cannot work.`,
        'allowSharedKeyAccess is false and the URL carries a service or account SAS',
        'use package-access: identity (runpack deploy --package-access identity)',
      ),
    );
  return out;
}

/** Identity URLs: the worker fetches with the app's managed identity. */
export function identityRules(e: Evidence): OpsFinding[] {
  const value = effectiveRunFromPackage(e.settings);
  if (classifyRunFromPackage(value) !== 'url' || e.sas?.signed) return [];
  const id = e.identity;
  if (!id) return [];
  const out: OpsFinding[] = [];
  const mi = id.miSetting?.trim();
  if (
    mi &&
    !/^systemassigned$/i.test(mi) &&
    !id.userAssigned.some((u) => u.resourceId.toLowerCase() === mi.toLowerCase())
  )
    out.push(
      f(
        'error',
        'mount-blocked',
        'identity-not-assigned',
        `${RFP_MI} on ${name(e)} names a user-assigned identity the app does not have.`,
        `${RFP_MI}=${mi}; the app's identities are ${id.userAssigned.map((u) => u.resourceId.split('/').pop()).join(', ') || 'none user-assigned'}`,
        `assign that identity to the app, or set ${RFP_MI} to one it has (or delete it to use the system-assigned identity)`,
      ),
    );
  else if (!id.principalId)
    out.push(
      f(
        'error',
        'mount-blocked',
        'identity-missing',
        `The package URL of ${name(e)} has no SAS, but the app has no managed identity to fetch it with.`,
        'no SAS in the URL; identity type has no system-assigned identity and no user-assigned identity is named',
        'turn on the system-assigned identity (az webapp identity assign) and give it Storage Blob Data Reader on the container, or use a SAS URL',
      ),
    );
  else if (id.role === 'missing')
    out.push(
      f(
        'error',
        'mount-blocked',
        'identity-role-missing',
        `The app's identity (${id.principalId}) holds no Storage Blob Data Reader (or wider) role over the package blob, so its fetch is refused.`,
        `no matching role assignment for principal ${id.principalId} on the account or container`,
        `az role assignment create --role "Storage Blob Data Reader" --assignee-object-id ${id.principalId} --assignee-principal-type ServicePrincipal --scope <storage account id>`,
      ),
    );
  else if (id.role === 'unknown')
    out.push(
      f(
        'info',
        'mount-blocked',
        'identity-role-unchecked',
        `The role assignments of the app's identity (${id.principalId}) could not be read.`,
        id.roleError ?? 'role assignments unavailable',
        'give the login Microsoft.Authorization/roleAssignments/read (Reader) on the storage account to let diagnose check it',
      ),
    );
  if (e.fetch?.as === 'caller-token')
    out.push(
      f(
        'info',
        'mount-blocked',
        'identity-probe-caller',
        "The package was probed with the caller's token, not the app's identity; the role check above stands in for the app's own fetch.",
        `probe answered ${e.fetch.status}`,
        'nothing to fix; restart the app to see its own fetch',
      ),
    );
  return out;
}

/** Local mode: packagename.txt, the stored zips and the latest deployment. */
export function localRules(e: Evidence): OpsFinding[] {
  if (classifyRunFromPackage(effectiveRunFromPackage(e.settings)) !== 'local') return [];
  const l = e.local;
  if (!l) return [];
  const out: OpsFinding[] = [];
  const latest = l.latestDeployment;
  if (!l.packageName) {
    out.push(
      f(
        'error',
        'stale-content',
        'local-no-package',
        `${name(e)} has ${RFP}=1 but no package: data/SitePackages/packagename.txt is missing, so nothing can be mounted.`,
        `packagename.txt not found${l.sitePackages ? `; data/SitePackages holds ${l.sitePackages.length} zip(s)` : ''}${latest ? `; latest deployment ${latest.id} has status ${latest.status}` : '; no deployment yet'}`,
        'deploy a package (runpack deploy --mode local), or remove the setting if the app is not meant to run from a package',
      ),
    );
  } else if (l.sitePackages && !l.sitePackages.includes(l.packageName)) {
    out.push(
      f(
        'error',
        'mount-blocked',
        'local-package-missing',
        `packagename.txt on ${name(e)} names ${l.packageName}, which data/SitePackages does not hold.`,
        `data/SitePackages holds ${l.sitePackages.join(', ') || 'no zip'}`,
        'deploy the package again (runpack deploy --mode local), or roll back to a stored one (runpack rollback)',
      ),
    );
  }
  if (latest && latest.status === 3)
    out.push(
      f(
        'warning',
        'stale-content',
        'local-deploy-failed',
        `The latest Kudu deployment ${latest.id} on ${name(e)} failed; packagename.txt still names the previous package.`,
        `deployment ${latest.id} status 3 (Failed)`,
        'read the deployment log (Kudu /api/deployments/<id>/log), fix the package and deploy again',
      ),
    );
  if (
    latest &&
    latest.status === 4 &&
    latest.endTime &&
    l.packageName &&
    /^\d{14}\.zip$/.test(l.packageName)
  ) {
    const p = l.packageName;
    const stamp = Date.UTC(
      +p.slice(0, 4),
      +p.slice(4, 6) - 1,
      +p.slice(6, 8),
      +p.slice(8, 10),
      +p.slice(10, 12),
      +p.slice(12, 14),
    );
    const end = Date.parse(latest.endTime);
    if (!Number.isNaN(end) && end - stamp > 10 * 60 * 1000)
      out.push(
        f(
          'warning',
          'stale-content',
          'local-deploy-not-packaged',
          `The latest successful deployment ${latest.id} on ${name(e)} ended well after the stored package ${p} was written: it did not go through run-from-package (it was extracted into wwwroot, which the mount hides).`,
          `deployment ended ${latest.endTime}; packagename.txt names ${p}`,
          `deploy again once Kudu sees ${RFP}=1 (runpack deploy waits for it), then restart`,
        ),
      );
  }
  return out;
}

/** What the worker shows: the failure marker, the mounted release stamp versus the package's. */
export function mountRules(e: Evidence): OpsFinding[] {
  const m = e.mount;
  const state = classifyRunFromPackage(effectiveRunFromPackage(e.settings));
  if (!m || (state !== 'local' && state !== 'url')) return [];
  const out: OpsFinding[] = [];
  if (!m.reachable) {
    out.push(
      f(
        'info',
        'config',
        'kudu-unreachable',
        `Kudu (the SCM site) of ${name(e)} could not be read, so the mounted content was not checked.`,
        m.error ?? 'no answer',
        'give the login Website Contributor on the app, or run diagnose where the SCM site is reachable',
      ),
    );
    return out;
  }
  if (m.failureMarker) {
    const reason =
      state === 'local'
        ? 'the stored package is missing or not a valid zip'
        : 'the worker could not fetch or open the package (SAS, network rule, identity role or archive)';
    out.push(
      f(
        'error',
        'mount-blocked',
        'mount-failed',
        `${name(e)} failed to mount its package: ${reason}.`,
        `wwwroot shows '${FAILURE_MARKER}'`,
        'fix the cause named by the other findings, then restart the app (az webapp restart)',
      ),
    );
  }
  if (m.kuduValueState && m.kuduValueState !== state)
    out.push(
      f(
        'warning',
        'stale-content',
        'kudu-setting-lag',
        `Kudu on ${name(e)} still sees ${m.kuduValueState === 'unset' ? `no ${RFP}` : `${RFP} in ${m.kuduValueState} mode`} while the app settings say ${state} mode; a deployment now would follow the old value.`,
        'Kudu /api/settings differs from the Resource Manager app settings',
        'wait a minute for the SCM site to restart with the new settings, then deploy',
      ),
    );
  const expected = state === 'local' ? e.local?.packageStamp : e.archive?.stamp;
  if (!m.failureMarker && expected) {
    const check = compareStamp(expected, m.stampText);
    if (check === 'mismatch')
      out.push(
        f(
          'error',
          'stale-content',
          'stale-content',
          `${name(e)} serves other content than its package: the mounted ${STAMP_PATH} differs from the package's (the app has not restarted since the package changed).`,
          `mounted stamp ${shortStamp(m.stampText)}, package stamp ${expected.contentSha256.slice(0, 12)}`,
          'restart the app (az webapp restart) so it mounts the package again',
        ),
      );
    else if (check === 'missing')
      out.push(
        f(
          'error',
          'stale-content',
          'stale-content',
          `${name(e)} serves content without runpack's release stamp although its package has one: the mount is not this package (extracted files, or no restart since the setting changed).`,
          `wwwroot has no ${STAMP_PATH}; the package's stamp is ${expected.contentSha256.slice(0, 12)}`,
          'restart the app so it mounts the package; if it persists, deploy again with runpack',
        ),
      );
  }
  return out;
}

function shortStamp(text: string | null): string {
  try {
    const s = JSON.parse(text ?? '') as { contentSha256?: string };
    return s.contentSha256 ? s.contentSha256.slice(0, 12) : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** The health probe: a read-only file system error in the app's answer. */
export function healthRules(e: Evidence): OpsFinding[] {
  const h = e.health;
  if (!h) return [];
  const text = `${h.body ?? ''} ${h.error ?? ''}`;
  if (READ_ONLY_TEXT.test(text)) {
    const line = READ_ONLY_TEXT.exec(text)?.[0] ?? 'read-only';
    return [
      f(
        'error',
        'read-only-write',
        'read-only-write',
        `${name(e)} fails writing into its read-only package mount (wwwroot).`,
        `${h.path} answered ${h.status ?? 'no response'} with '${line}'`,
        "write to the temp folder (os.tmpdir(), %TEMP%, /tmp) or to storage instead of the app folder; run 'runpack audit <source>' to find the writes",
      ),
    ];
  }
  if (h.error || (h.status !== undefined && h.status >= 500))
    return [
      f(
        'warning',
        'mount-blocked',
        'health-failing',
        `${name(e)} answers ${h.error ? 'nothing' : h.status} at ${h.path}.`,
        h.error ? h.error.slice(0, 200) : `HTTP ${h.status}`,
        "read the app's log stream (az webapp log tail) and the other findings",
      ),
    ];
  return [];
}

/** Slots: reuse the deploy engine's comparison of settings and stickiness. */
export function slotRules(e: Evidence): OpsFinding[] {
  const s = e.slots;
  if (!s) return [];
  const state = classifyRunFromPackage(effectiveRunFromPackage(e.settings));
  if (state !== 'local' && state !== 'url') return [];
  const self = e.target.slot ?? 'production';
  const out: OpsFinding[] = [];
  for (const other of s.others) {
    const found = compareSlotSettings({
      slot: { name: self, settings: e.settings, mode: state },
      other,
      stickyNames: s.stickyNames,
      isLinux: e.target.isLinux,
      swapPlanned: false,
      force: false,
    });
    for (const x of found)
      out.push(
        f(
          x.severity === 'error' ? 'error' : x.severity,
          'config',
          x.code,
          x.message,
          `${self} compared with ${other.name}; sticky settings: ${s.stickyNames.join(', ') || 'none'}`,
          'align the run-from-package settings of both sides, or change slotConfigNames, before the next swap',
        ),
      );
  }
  return out;
}

/** Flex Consumption: whether the platform can write and read the app's deployment storage, and what it holds. */
export function flexRules(e: Evidence): OpsFinding[] {
  const x = e.flex;
  if (!x) return [];
  const out: OpsFinding[] = [];
  const where = `${x.account}/${x.container}`;
  if (!x.found)
    out.push(
      f(
        'warning',
        'mount-blocked',
        'flex-storage-unseen',
        `The deployment storage account of ${name(e)} (${x.account}) is not visible to this login, so its access could not be checked.`,
        `functionAppConfig.deployment.storage names ${x.containerUrl}; Resource Manager shows no such account to the caller`,
        'give the login Reader on the storage account, then diagnose again',
      ),
    );
  if (x.networkDefaultAction === 'Deny')
    out.push(
      f(
        'error',
        'mount-blocked',
        'flex-storage-network',
        `The deployment storage of ${name(e)} (${where}) denies public network access, so the platform cannot store or read the package unless the app reaches it through its virtual network.`,
        `${x.account} has networkAcls.defaultAction Deny`,
        "allow the app's virtual network (or a private endpoint) on the account, or allow access from all networks",
      ),
    );
  if (x.connectionSetting) {
    const c = x.connectionSetting;
    if (!c.present || !c.namesAccount)
      out.push(
        f(
          'error',
          'mount-blocked',
          'flex-storage-connection',
          c.present
            ? `The setting ${c.name} that ${name(e)}'s deployment storage authenticates with names another account than ${x.account}.`
            : `The setting ${c.name} that ${name(e)}'s deployment storage authenticates with is missing, so every deployment fails to store the package.`,
          `functionAppConfig.deployment.storage.authentication is StorageAccountConnectionString with ${c.name}`,
          `set ${c.name} to a connection string of ${x.account} (with a current key), or switch the deployment storage to the app's managed identity`,
        ),
      );
  } else if (x.principalId === null)
    out.push(
      f(
        'error',
        'mount-blocked',
        'flex-storage-identity',
        `${name(e)}'s deployment storage authenticates with ${x.authentication}, but the app has no such identity.`,
        `functionAppConfig.deployment.storage.authentication is ${x.authentication}`,
        "assign the identity to the app (az functionapp identity assign), or change the deployment storage's authentication",
      ),
    );
  else if (x.role === 'missing')
    out.push(
      f(
        'error',
        'mount-blocked',
        'flex-storage-role',
        `${name(e)}'s identity (${x.principalId}) holds no Storage Blob Data Contributor (or Owner) on ${where}, so One Deploy cannot store the package (BlobUploadFailedException, 403).`,
        `role assignments of ${x.principalId} on ${x.account}`,
        `az role assignment create --role "Storage Blob Data Contributor" --assignee-object-id ${x.principalId} --scope <the id of ${x.account}>`,
      ),
    );
  if (x.packageStatus === 404)
    out.push(
      f(
        'warning',
        'stale-content',
        'flex-no-package',
        `${name(e)}'s deployment storage holds no package (${FLEX_PACKAGE_BLOB}), so the app runs nothing of yours.`,
        `${x.containerUrl}/${FLEX_PACKAGE_BLOB} answers 404`,
        'deploy the app (runpack deploy, mode auto)',
      ),
    );
  return out;
}

const ORDER: Record<FindingSeverity, number> = { error: 0, warning: 1, info: 2 };

/** All rules, errors first. */
export function diagnoseEvidence(e: Evidence, now: Date): OpsFinding[] {
  const all = [
    ...settingRules(e),
    ...conflictRules(e),
    ...flexRules(e),
    ...urlRules(e, now),
    ...policyRules(e, now),
    ...fetchRules(e),
    ...storageRules(e),
    ...identityRules(e),
    ...archiveRules(e),
    ...localRules(e),
    ...archiveFindings(e.local?.packageArchive, 'the stored package', name(e)),
    ...mountRules(e),
    ...healthRules(e),
    ...slotRules(e),
  ];
  return all
    .map((x, i) => ({ x, i }))
    .sort((a, b) => ORDER[a.x.severity] - ORDER[b.x.severity] || a.i - b.i)
    .map((a) => a.x);
}

/** The cause most findings of the highest severity point at, or null when nothing is wrong. */
export function primaryCause(findings: OpsFinding[]): Cause | null {
  const errors = findings.filter((x) => x.severity === 'error');
  const pool = errors.length ? errors : findings.filter((x) => x.severity === 'warning');
  if (!pool.length) return null;
  // The first error is the most specific: rules run from the setting down to the mount.
  const specific = pool.find((x) => x.code !== 'mount-failed') ?? pool[0];
  return specific.cause;
}
