/**
 * The run-from-package vocabulary, shared by the engine and the operator commands: the setting's names, the value
 * Kudu acts on and the mode it means, where Kudu keeps local packages and what the worker mounts, the
 * mode-switch rules and the refusals (API-SPEC §1.1–§1.3, §1.7). Pure: no I/O.
 */
import type { ReleaseStamp } from '../package/types.js';

/** How runpack deploys: a package URL in the setting, or `1` with the package pushed to Kudu. */
export type RfpMode = 'url' | 'local';
type Severity = 'info' | 'warning' | 'error';
/** What the mode-switch rules need to know about the target. */
export interface RfpTarget {
  isLinux: boolean;
  isFunctionApp: boolean;
  isConsumption: boolean;
  isFlex: boolean;
  name?: string;
}

export const RFP = 'WEBSITE_RUN_FROM_PACKAGE';
/** The legacy name Kudu falls back to when WEBSITE_RUN_FROM_PACKAGE is empty (API-SPEC §1.1). */
export const RFP_LEGACY = 'WEBSITE_RUN_FROM_ZIP';
/** URL mode with a user-assigned identity: the identity the worker fetches the blob with. */
export const RFP_MI = 'WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID';
export const SITE_PACKAGES = 'data/SitePackages';
export const PACKAGE_NAME_FILE = `${SITE_PACKAGES}/packagename.txt`;
export const WWWROOT = 'site/wwwroot';
export const FAILURE_MARKER = 'FAILED TO INITIALIZE RUN FROM PACKAGE.txt';

/** How Kudu reads a WEBSITE_RUN_FROM_PACKAGE value: exactly `1` is local, `http…` is a URL (API-SPEC §1.1). */
export type RfpState = 'local' | 'url' | 'unset' | 'other';

export function classifyRunFromPackage(value: string | undefined | null): RfpState {
  if (value === undefined || value === null || value === '') return 'unset';
  if (value === '1') return 'local';
  if (/^http/i.test(value)) return 'url';
  return 'other';
}

/** The value Kudu acts on: WEBSITE_RUN_FROM_PACKAGE, or the legacy WEBSITE_RUN_FROM_ZIP when the first is empty. */
export function effectiveRunFromPackage(settings: Record<string, string>): string | undefined {
  const main = settings[RFP];
  if (main !== undefined && main !== '') return main;
  const legacy = settings[RFP_LEGACY];
  return legacy !== undefined && legacy !== '' ? legacy : undefined;
}

/** The deploy mode a value means, or undefined for unset and unrecognised values. */
export function modeOfValue(value: string | undefined): RfpMode | undefined {
  const state = classifyRunFromPackage(value);
  return state === 'local' || state === 'url' ? state : undefined;
}

export const STATE_WORDS: Record<RfpState, string> = {
  local: 'a local package (WEBSITE_RUN_FROM_PACKAGE=1)',
  url: 'a package URL',
  unset: 'files in wwwroot (no WEBSITE_RUN_FROM_PACKAGE)',
  other: "an unrecognised WEBSITE_RUN_FROM_PACKAGE value (only exactly '1' or an https URL count)",
};

export interface ModeSwitchDecision {
  from: RfpState;
  to: RfpMode;
  /** false: refuse (the message says why and the way out). */
  allowed: boolean;
  /** Stable code for findings and errors. */
  code:
    | 'mode-unchanged'
    | 'mode-switch'
    | 'mode-switch-forced'
    | 'mode-switch-refused'
    | 'mode-switch-unsupported';
  severity: Severity;
  /** One line for the log and the summary; never contains the setting's value (a URL may carry a SAS). */
  message: string;
}

/**
 * Decide whether moving an app from its current WEBSITE_RUN_FROM_PACKAGE value to `wanted` is allowed.
 * The platform documents local → URL as unsupported on an existing app (API-SPEC §1.3 "Migration"); runpack
 * refuses it on Windows unless `force`, and warns on Linux. Local mode on Linux Consumption function apps and
 * any run-from-package on Flex Consumption are refused outright.
 */
export function modeSwitchDecision(
  current: string | undefined,
  wanted: RfpMode,
  target: RfpTarget,
  force: boolean,
): ModeSwitchDecision {
  const from = classifyRunFromPackage(current);
  const app = target.name ? `App '${target.name}'` : 'The app';
  const base = { from, to: wanted };
  if (target.isFlex) {
    return {
      ...base,
      allowed: false,
      code: 'mode-switch-unsupported',
      severity: 'error',
      message: flexRefusalMessage(target.name),
    };
  }
  if (wanted === 'local') {
    const refusal = localModeRefusal(target);
    if (refusal)
      return {
        ...base,
        allowed: false,
        code: 'mode-switch-unsupported',
        severity: 'error',
        message: refusal,
      };
    if (from === 'local')
      return {
        ...base,
        allowed: true,
        code: 'mode-unchanged',
        severity: 'info',
        message: `${app} already runs a local package.`,
      };
    const cost =
      from === 'url'
        ? 'changing the setting restarts the app; it comes back on the package in data/SitePackages if one is left from an earlier local deploy, otherwise it cannot start (FAILED TO INITIALIZE RUN FROM PACKAGE) until the push completes'
        : from === 'unset'
          ? 'the files now in wwwroot are hidden by the mounted package from now on; changing the setting restarts the app'
          : 'Kudu did not treat the old value as local mode; changing the setting restarts the app';
    return {
      ...base,
      allowed: true,
      code: 'mode-switch',
      severity: 'warning',
      message: `${app} switches from ${STATE_WORDS[from]} to a local package: ${cost}.`,
    };
  }
  // wanted === 'url'
  if (from === 'url')
    return {
      ...base,
      allowed: true,
      code: 'mode-unchanged',
      severity: 'info',
      message: `${app} already runs from a package URL.`,
    };
  if (from === 'local') {
    const why =
      'the platform does not support moving an app that runs a local package to a package URL ("create a new App Service resource")';
    if (!target.isLinux && !force) {
      return {
        ...base,
        allowed: false,
        code: 'mode-switch-refused',
        severity: 'error',
        message: `${app} is a Windows app running a local package (WEBSITE_RUN_FROM_PACKAGE=1) and ${why}; keep mode: local, deploy to a new app, or set force: true to switch anyway.`,
      };
    }
    return {
      ...base,
      allowed: true,
      code: force && !target.isLinux ? 'mode-switch-forced' : 'mode-switch',
      severity: 'warning',
      message: `${app} switches from a local package to a package URL although ${why}${force && !target.isLinux ? ' (forced)' : ''}; watch the app after the restart.`,
    };
  }
  return {
    ...base,
    allowed: true,
    code: 'mode-switch',
    severity: 'warning',
    message: `${app} switches from ${STATE_WORDS[from]} to a package URL: changing the setting restarts the app${from === 'unset' ? ' and hides the files now in wwwroot' : ''}.`,
  };
}

/** Why local mode is impossible on this target, or null. */
export function localModeRefusal(target: RfpTarget): string | null {
  if (target.isFlex) return flexRefusalMessage(target.name);
  if (target.isFunctionApp && target.isLinux && target.isConsumption) {
    const app = target.name ? `'${target.name}'` : 'this app';
    return `mode: local is not possible on ${app}: Linux Consumption function apps run from a package URL only (WEBSITE_RUN_FROM_PACKAGE=1 is not supported there); use mode: url (or auto).`;
  }
  return null;
}

/** The refusal of run-from-package (mode: url or local) on a Flex Consumption app (API-SPEC §1.7, §6.13). */
export function flexRefusalMessage(name?: string): string {
  const app = name ? `'${name}'` : 'This function app';
  return `${app} runs on the Flex Consumption plan, which does not run packages through WEBSITE_RUN_FROM_PACKAGE (mode: url or local); leave mode at auto and runpack publishes the package to the app's deployment storage with One Deploy.`;
}

/** The blob One Deploy writes into a Flex Consumption app's deployment container, and what the app runs. */
export const FLEX_PACKAGE_BLOB = 'released-package.zip';

/**
 * Settings a Flex Consumption app does not support, and why (the Flex docs' list of deprecated settings; its
 * deployments fail on the run-from-package ones). functionAppConfig carries the runtime and the deployment
 * storage instead.
 */
export const FLEX_UNSUPPORTED_SETTINGS: Readonly<Record<string, string>> = {
  [RFP]: 'Flex runs the package from its deployment storage; its deployments fail while this is set',
  [RFP_LEGACY]: 'Flex runs the package from its deployment storage; its deployments fail while this is set',
  FUNCTIONS_EXTENSION_VERSION: 'Flex always runs Functions 4.x',
  FUNCTIONS_WORKER_RUNTIME: 'functionAppConfig.runtime names the runtime',
  FUNCTIONS_WORKER_RUNTIME_VERSION: 'functionAppConfig.runtime names the version',
  WEBSITE_NODE_DEFAULT_VERSION: 'functionAppConfig.runtime names the version',
  SCM_DO_BUILD_DURING_DEPLOYMENT: 'a build on the platform is the remote-build input of the deploy',
  ENABLE_ORYX_BUILD: 'a build on the platform is the remote-build input of the deploy',
  WEBSITE_CONTENTAZUREFILECONNECTIONSTRING: 'Flex has no content file share',
  WEBSITE_CONTENTSHARE: 'Flex has no content file share',
};

/** Pure: the app's settings that Flex Consumption does not support (names as the app has them). */
export function flexUnsupportedSettings(settings: Record<string, string>): string[] {
  const bad = new Set(Object.keys(FLEX_UNSUPPORTED_SETTINGS).map((k) => k.toUpperCase()));
  return Object.keys(settings)
    .filter((k) => bad.has(k.toUpperCase()))
    .sort();
}

/** Kudu's stored package names: `yyyyMMddHHmmss.zip` (UTC). */
export function isSitePackageName(name: string): boolean {
  return /^\d{14}\.zip$/.test(name);
}

/** Compare the stamp read from wwwroot with the package's. */
export type StampCheck = 'match' | 'mismatch' | 'missing' | 'unreadable' | 'not-stamped';

export function compareStamp(expected: ReleaseStamp | null, text: string | null): StampCheck {
  if (!expected) return 'not-stamped';
  if (text === null) return 'missing';
  try {
    const parsed = JSON.parse(text) as Partial<ReleaseStamp>;
    if (typeof parsed?.contentSha256 !== 'string') return 'unreadable';
    return parsed.contentSha256 === expected.contentSha256 ? 'match' : 'mismatch';
  } catch {
    return 'unreadable';
  }
}
