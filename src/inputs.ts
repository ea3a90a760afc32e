/**
 * The single table of deploy inputs. action.yml's inputs, the CLI's flags (`runpack deploy --app-name …`) and the
 * docs all come from (or are checked against) INPUTS; adding an input means adding one row here.
 * Validation happens before any network call; a bad value gets one line naming the input and the fix.
 */
import { RUNTIMES, type Runtime } from './package/types.js';
import type { DeployInputs } from './deploy/types.js';
import { parseFlagTable, type FlagSpec } from './flags.js';
import { UsageError } from './util/errors.js';
import { ACTION_NAMING, type InputNaming } from './naming.js';
import { parseConfigEntries, secretConfigValues, type ConfigKind } from './release/config.js';
export { ACTION_NAMING, CLI_NAMING, TASK_NAMING, taskInputName, type InputNaming } from './naming.js';

export type InputType = 'string' | 'boolean' | 'number' | 'enum' | 'list';

/** Where an input sits in the Azure Pipelines task's editor (and how the docs group the inputs). */
export type InputGroup = 'target' | 'package' | 'configuration' | 'verification' | 'operations' | 'login';

export interface InputDef {
  /** The action input name and the CLI flag (`--<name>`). */
  name: string;
  /** The DeployInputs field it fills. */
  key: keyof DeployInputs;
  group: InputGroup;
  type: InputType;
  description: string;
  /** The Azure Pipelines task's help where it differs (for example where the service connection decides). */
  taskDescription?: string;
  required?: boolean;
  /** Default as action.yml shows it (a string). */
  default?: string;
  choices?: readonly string[];
  /** Treated as a secret: masked as soon as it is read. */
  secret?: boolean;
  /** Range for numbers. */
  min?: number;
  max?: number;
  /** Returns the problem (a phrase that completes "must …" or a full fix) or undefined when the value is fine. */
  validate?: (value: string) => string | undefined;
  /** Parts of the value to mask (the value itself is not a secret, parts of it may be). */
  secretParts?: (value: string) => string[];
  /** Never quote the value in an error (it may hold secrets). */
  quiet?: boolean;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const APP_NAME = /^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$/i;
const SLOT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$/i;
const TARGET = new RegExp(`^${APP_NAME.source.slice(1, -1)}(?:/${SLOT_NAME.source.slice(1, -1)})?$`, 'i');

/** The entries of a fleet's app-name: newline or comma separated, blanks and # comments dropped. */
export function splitTargets(value: string): string[] {
  return value
    .split(/[\r\n,]+/)
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith('#'));
}

export const DEFAULT_RESOURCE_MANAGER_ENDPOINT = 'https://management.azure.com';

export const INPUTS: readonly InputDef[] = [
  {
    name: 'command',
    key: 'command',
    group: 'operations',
    type: 'enum',
    default: 'deploy',
    choices: ['deploy', 'rollback', 'diagnose', 'releases'],
    description:
      '`deploy` the package; `rollback` to an earlier release runpack deployed (see `release`), restarted and verified like a deploy; `diagnose` why the app does not run its package; `releases` to list (and with `keep-releases`, prune) the release blobs.',
  },
  {
    name: 'release',
    key: 'release',
    group: 'operations',
    type: 'string',
    description:
      'For `command: rollback`: `previous` (the release before the live one) or a release id (12 hex digits or the full sha256).',
    validate: (v) =>
      /^(previous|[0-9a-f]{12}|[0-9a-f]{64})$/i.test(v)
        ? undefined
        : 'must be previous or a release id (12 or 64 hex digits)',
  },
  {
    name: 'dry-run',
    key: 'dryRun',
    group: 'operations',
    type: 'boolean',
    default: 'false',
    description:
      'Report the plan and write nothing: for a deploy the blob to write, the setting change (secrets redacted), the restart and the swap; for `command: rollback`, and `releases` with `keep-releases`, likewise.',
  },
  {
    name: 'keep-releases',
    key: 'keepReleases',
    group: 'operations',
    type: 'number',
    default: '10',
    min: 0,
    max: 1000,
    description:
      'Retention: keep the newest N release blobs and delete older ones, never the live release, one a slot runs or one a stable blob holds. Applied after a verified url-mode deploy; for `command: releases` only when given. 0 turns pruning off.',
  },
  {
    name: 'audit',
    key: 'audit',
    group: 'operations',
    type: 'enum',
    default: 'false',
    choices: ['false', 'true', 'strict'],
    description:
      '`true`: before packaging, audit `source` for writes into the read-only package mount; each finding is a warning annotation and a summary row. `strict`: error findings fail the deploy before anything is uploaded.',
  },
  {
    name: 'source',
    key: 'source',
    group: 'operations',
    type: 'string',
    description: 'Source folder the audit reads. Defaults to the repository root (GITHUB_WORKSPACE).',
  },
  {
    name: 'app-name',
    key: 'appName',
    group: 'target',
    type: 'string',
    required: true,
    description:
      'Name of the App Service or Function App to deploy to. A fleet: several apps or `app/slot` pairs, newline or comma separated; the package is built once and each target deployed and verified (3 at a time).',
    validate: (v) => {
      const bad = splitTargets(v).find((t) => !TARGET.test(t));
      return bad === undefined
        ? undefined
        : `must be an App Service name (letters, digits and hyphens, 1-60 characters), optionally /slot, one per line or comma separated; '${bad}' is not`;
    },
  },
  {
    name: 'resource-group',
    key: 'resourceGroup',
    group: 'target',
    type: 'string',
    description: "Resource group of the app. Found from the subscription's apps when not given.",
    validate: (v) =>
      /^[-\w.()]{1,90}$/.test(v) && !v.endsWith('.')
        ? undefined
        : 'must be a resource group name: 1-90 letters, digits, -, _, ., ( or ), not ending with a period',
  },
  {
    name: 'subscription-id',
    key: 'subscriptionId',
    group: 'target',
    type: 'string',
    description:
      "Subscription of the app. Defaults to the subscription in `creds`, the Azure CLI's current one, or the only one the login can see.",
    taskDescription:
      "Subscription of the app. Defaults to the service connection's subscription, or the only one the connection can see.",
    validate: (v) =>
      GUID.test(v) ? undefined : 'must be a subscription GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)',
  },
  {
    name: 'slot',
    key: 'slot',
    group: 'target',
    type: 'string',
    description: 'Deployment slot to deploy to (for example `staging`). Production when not given.',
    validate: (v) =>
      v.toLowerCase() === 'production' || SLOT_NAME.test(v)
        ? undefined
        : 'must be a slot name: letters, digits and hyphens',
  },
  {
    name: 'package',
    key: 'package',
    group: 'package',
    type: 'string',
    default: '.',
    description: 'Publish folder (its contents become the app root) or a prebuilt .zip.',
  },
  {
    name: 'runtime',
    key: 'runtime',
    group: 'package',
    type: 'enum',
    default: 'auto',
    choices: ['auto', ...RUNTIMES],
    description: 'Runtime of the package, used by the package checks. `auto` detects it from the files.',
  },
  {
    name: 'mode',
    key: 'mode',
    group: 'package',
    type: 'enum',
    default: 'auto',
    choices: ['auto', 'url', 'local'],
    description:
      "`url`: the app runs the package from a blob URL. `local`: the package is pushed to the app's own storage (WEBSITE_RUN_FROM_PACKAGE=1). `auto` keeps the app's current mode and picks `url` when it has none; a Flex Consumption app always gets its package through One Deploy into its deployment storage (only `auto` there).",
  },
  {
    name: 'storage-account',
    key: 'storageAccount',
    group: 'package',
    type: 'string',
    description: 'Storage account for the package blobs (url mode). Required for url mode.',
    validate: (v) =>
      /^[a-z0-9]{3,24}$/.test(v)
        ? undefined
        : 'must be a storage account name: 3-24 lower-case letters and digits',
  },
  {
    name: 'container',
    key: 'container',
    group: 'package',
    type: 'string',
    default: 'app-packages',
    description: 'Blob container for the packages (created private when missing).',
    validate: (v) =>
      /^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/.test(v)
        ? undefined
        : 'must be a container name: 3-63 lower-case letters, digits and single hyphens',
  },
  {
    name: 'package-access',
    key: 'packageAccess',
    group: 'package',
    type: 'enum',
    default: 'auto',
    choices: ['auto', 'identity', 'sas'],
    description:
      "How the app reads the package blob (url mode). `identity`: the app's managed identity, no SAS in the URL. `sas`: a read-only service SAS bound to a stored access policy. `auto`: identity when the app has one, else sas.",
    validate: (v) =>
      /user[-_ ]?delegation/i.test(v)
        ? 'cannot be a user delegation SAS: it expires within 7 days and the app would fail to start at its next restart after that; use `identity` or `sas`'
        : undefined,
  },
  {
    name: 'package-cache',
    key: 'packageCache',
    group: 'package',
    type: 'string',
    description:
      "A folder for the packager's entry cache: files packed before (the same content, under any path) are not compressed again, so a release where a few files changed packs in a fraction of the time. The zip is the same bytes with or without it. Keep the folder between runs with actions/cache or the Azure Pipelines Cache task; runpack keeps it at one package's worth. Used when `package` is a folder.",
  },
  {
    name: 'remote-build',
    key: 'remoteBuild',
    group: 'package',
    type: 'boolean',
    default: 'false',
    description:
      'Flex Consumption apps only: the platform builds the package (Oryx: `npm install`, `pip install`) after the upload, so dependencies need not be in it. Off: the package must carry them (`node_modules`, `.python_packages/lib/site-packages`), and runpack refuses one that does not. Refused for other plans, which run the package as it is.',
  },
  {
    name: 'sas-expiry-days',
    key: 'sasExpiryDays',
    group: 'package',
    type: 'number',
    default: '365',
    min: 1,
    max: 3650,
    description:
      "Lifetime of the package SAS's stored access policy in days. The policy is renewed when less than a third of it is left.",
  },
  {
    name: 'restart',
    key: 'restart',
    group: 'verification',
    type: 'boolean',
    default: 'true',
    description: 'Restart the app after changing the package so it mounts the new one.',
  },
  {
    name: 'on-failure',
    key: 'onFailure',
    group: 'verification',
    type: 'enum',
    choices: ['rollback', 'keep'],
    default: 'rollback',
    description:
      'When verification fails after the switch: `rollback` makes the previous verified release live again (URL mode: copied back to the stable blob; local mode: packagename.txt points at it again), restarts and verifies it, and still fails the step with both facts; `keep` leaves the failed release live. Never rolls back onto a release runpack did not verify, or across a mode switch. The rollback has up to 3 minutes of its own beyond `timeout-minutes`.',
  },
  {
    name: 'app-settings',
    key: 'appSettings',
    group: 'configuration',
    type: 'string',
    quiet: true,
    description:
      'App settings to apply with the package, as JSON in Azure\'s settings format: `[{"name":"FEATURE_X","value":"on","slotSetting":false}]`. Written in the same settings write as the run-from-package setting (one write, read back, one restart), every other setting kept. `slotSetting: true` makes the name slot-sticky, `false` makes it not sticky, absent leaves it as it is. Values that look like secrets (or carry `"secret": true`) are masked; a dry run shows each change with its value redacted.',
    validate: (v) => configProblem(v, 'app-settings'),
    secretParts: (v) => configSecrets(v, 'app-settings'),
  },
  {
    name: 'connection-strings',
    key: 'connectionStrings',
    group: 'configuration',
    type: 'string',
    quiet: true,
    description:
      'Connection strings to apply with the package, as JSON in Azure\'s format: `[{"name":"Db","value":"Server=…","type":"SQLAzure","slotSetting":false}]` (`type`: ApiHub, Custom, DocDb, EventHub, MySql, NotificationHub, PostgreSQL, RedisCache, SQLAzure, SQLServer or ServiceBus). Every other connection string kept; values are always masked.',
    validate: (v) => configProblem(v, 'connection-strings'),
    secretParts: (v) => configSecrets(v, 'connection-strings'),
  },
  {
    name: 'startup-command',
    key: 'startupCommand',
    group: 'configuration',
    type: 'string',
    description:
      "Startup command of a Linux app (the site configuration's `appCommandLine`, for example `node server.js` or `gunicorn app:app`), applied with the package. Refused on Windows apps before anything is written.",
    validate: (v) =>
      [...v].some((c) => c.charCodeAt(0) < 32 && c !== '\t')
        ? 'must be one line without control characters'
        : undefined,
  },
  {
    name: 'rollback-settings',
    key: 'rollbackSettings',
    group: 'configuration',
    type: 'boolean',
    default: 'false',
    description:
      "`true`: a rollback (the automatic one of `on-failure: rollback`, or `command: rollback`) also brings back the `app-settings`, `connection-strings` and `startup-command` recorded with the release it restores (recorded, values included, in the app's own storage under data/runpack/config/ when a deploy with them verifies). `false`: a rollback leaves every setting as it is and says so.",
  },
  {
    name: 'health-path',
    key: 'healthPath',
    group: 'verification',
    type: 'string',
    description: 'Path on the app to probe after the deploy (for example `/healthz`); it must answer 2xx.',
    validate: (v) =>
      !v.startsWith('/')
        ? 'must start with / (for example /healthz)'
        : /(^|\/)\.\.?(\/|$)|\\/.test(v)
          ? "must be a path on the app without '.' or '..' segments or backslashes (for example /healthz)"
          : /[\s#]/.test(v) || [...v].some((c) => c.charCodeAt(0) < 0x20)
            ? 'must be a URL path without spaces, control characters or a fragment (#)'
            : undefined,
  },
  {
    name: 'expect',
    key: 'expect',
    group: 'verification',
    type: 'string',
    description: 'Text the health-path response must contain (for example the version being deployed).',
  },
  {
    name: 'timeout-minutes',
    key: 'timeoutMinutes',
    group: 'verification',
    type: 'number',
    default: '15',
    min: 1,
    max: 360,
    description: 'Time budget for the whole deploy (for a fleet: for each target); no phase waits longer.',
  },
  {
    name: 'force',
    key: 'force',
    group: 'verification',
    type: 'boolean',
    default: 'false',
    description:
      'Deploy even when the same content is already live, and override refusals of settings that fight run-from-package.',
  },
  {
    name: 'client-id',
    key: 'clientId',
    group: 'login',
    type: 'string',
    description: 'Client id of the app registration or managed identity to log in with through GitHub OIDC.',
    validate: (v) => (GUID.test(v) ? undefined : 'must be a client (application) id GUID'),
  },
  {
    name: 'tenant-id',
    key: 'tenantId',
    group: 'login',
    type: 'string',
    description: 'Entra tenant id for the OIDC login.',
    validate: (v) => (isTenant(v) ? undefined : 'must be a tenant GUID or domain'),
  },
  {
    name: 'creds',
    key: 'creds',
    group: 'login',
    type: 'string',
    secret: true,
    description:
      'Service principal JSON secret in azure/login format ({"clientId","clientSecret","tenantId","subscriptionId"}), used when neither OIDC nor an azure/login session is available.',
    validate: validateCreds,
  },
  {
    name: 'resource-manager-endpoint',
    key: 'resourceManagerEndpoint',
    group: 'login',
    type: 'string',
    default: DEFAULT_RESOURCE_MANAGER_ENDPOINT,
    description:
      'Resource Manager endpoint (sovereign clouds, Azure Stack). The login authority comes from its /metadata/endpoints.',
    validate: (v) => {
      try {
        const u = new URL(v);
        if (u.protocol !== 'https:') return 'must be an https URL';
        if (u.username || u.password || u.search || u.hash)
          return 'must be an https URL without credentials, query or fragment, such as https://management.azure.com';
        return undefined;
      } catch {
        return 'must be an https URL such as https://management.azure.com';
      }
    },
  },
  {
    name: 'publish-profile',
    key: 'publishProfile',
    group: 'login',
    type: 'string',
    secret: true,
    description: "The app's publish profile XML (secret), for local mode through Kudu basic auth.",
    validate: (v) =>
      /<publishData[\s>]/.test(v) ? undefined : 'must be the publish profile XML (<publishData>…)',
  },
  {
    name: 'swap-to',
    key: 'swapTo',
    group: 'target',
    type: 'string',
    description: 'After a verified deploy to `slot`, swap it into this slot (for example `production`).',
    validate: (v) =>
      v.toLowerCase() === 'production' || SLOT_NAME.test(v) ? undefined : 'must be a slot name or production',
  },
  {
    name: 'exclude',
    key: 'exclude',
    group: 'package',
    type: 'list',
    description: 'Newline-separated globs (relative to the package folder) to leave out of the zip.',
    // A pattern outside the package folder would match nothing: refused rather than ignored.
    validate: (v) =>
      v.startsWith('/') || /(^|\/)\.\.(\/|$)/.test(v) || v.includes('\\')
        ? `must hold globs relative to the package folder (with / and no ..); '${v}' is not`
        : undefined,
  },
  {
    name: 'stamp',
    key: 'stamp',
    group: 'package',
    type: 'boolean',
    default: 'true',
    description:
      'Add the release stamp .runpack/release.json to the package, so the live content can be verified.',
  },
  {
    name: 'commit',
    key: 'commit',
    group: 'package',
    type: 'string',
    description: 'Commit recorded in the release metadata. Defaults to GITHUB_SHA.',
    // Blob metadata and HTTP headers carry it: printable ASCII only.
    validate: (v) =>
      /^[\x21-\x7e]{1,200}$/.test(v)
        ? undefined
        : 'must be a commit id or ref: printable characters without spaces',
  },
];

export interface OutputDef {
  name: string;
  description: string;
  /** The commands that set it. */
  commands: readonly ('deploy' | 'rollback' | 'diagnose' | 'releases')[];
}

export const OUTPUTS: readonly OutputDef[] = [
  {
    name: 'release-id',
    description:
      'Release id: the first 12 hex digits of the package sha256 (rollback: the release rolled back to; releases: the live one).',
    commands: ['deploy', 'rollback', 'releases'],
  },
  { name: 'package-sha256', description: 'sha256 of the deployed zip.', commands: ['deploy', 'rollback'] },
  {
    name: 'package-url',
    description: 'URL of the package blob (never with a SAS); empty in local mode and for a fleet.',
    commands: ['deploy'],
  },
  {
    name: 'previous-release-id',
    description: 'Release id that was live before this deploy, when known (empty for a fleet).',
    commands: ['deploy', 'rollback'],
  },
  {
    name: 'rolled-back',
    description:
      '`true` when verification failed and `on-failure: rollback` made the previous verified release live again and verified it (for a fleet: on any target).',
    commands: ['deploy'],
  },
  {
    name: 'live-release-id',
    description:
      'The release the app runs now: this release when verified, the restored one after a rollback, the failed one with `on-failure: keep`, the previous one when the deploy failed before the switch (empty when unknown, and for a fleet).',
    commands: ['deploy'],
  },
  {
    name: 'mode',
    description:
      "Mode used: `url` or `local` (run-from-package), or `flex` (One Deploy to a Flex Consumption app's deployment storage); for a fleet, when every target used the same one.",
    commands: ['deploy'],
  },
  {
    name: 'app-url',
    description: 'https URL of the app (or slot); empty for a fleet (see `results`).',
    commands: ['deploy', 'rollback', 'diagnose'],
  },
  {
    name: 'verified',
    description: '`true` when every verification level that could run passed (for a fleet: on every target).',
    commands: ['deploy', 'rollback'],
  },
  {
    name: 'results',
    description:
      'JSON array, one object per target: `app`, `slot`, `ok`, `verified`, `release-id`, `mode`, `app-url`, `package-url`, `error-code`, `rolled-back`, `live-release-id`. One entry for a single target.',
    commands: ['deploy'],
  },
  {
    name: 'deleted',
    description:
      'Comma-separated release ids that retention deleted (`keep-releases`), or would delete with `dry-run`.',
    commands: ['deploy', 'releases'],
  },
  {
    name: 'cause',
    description:
      'Likely cause of a failure, one vocabulary for every command: `read-only-write`, `sas-invalid`, `mount-blocked`, `stale-content`, `app-start-failed`, `functions-not-loaded`, `runner-network`, `config` or `unknown` (empty when none).',
    commands: ['deploy', 'diagnose'],
  },
  {
    name: 'findings',
    description: 'For `command: diagnose`: the number of findings.',
    commands: ['diagnose'],
  },
  {
    name: 'error-codes',
    description: 'For `command: diagnose`: comma-separated codes of the error findings.',
    commands: ['diagnose'],
  },
  {
    name: 'releases',
    description: 'For `command: releases`: comma-separated release ids, newest first.',
    commands: ['releases'],
  },
];

function validateCreds(v: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    return 'must be JSON like {"clientId":"…","clientSecret":"…","tenantId":"…","subscriptionId":"…"} (azure/login format)';
  }
  if (!parsed || typeof parsed !== 'object') return 'must be a JSON object in azure/login format';
  const c = parsed as Record<string, unknown>;
  const missing = ['clientId', 'clientSecret', 'tenantId'].filter((k) => typeof c[k] !== 'string' || !c[k]);
  if (missing.length) return `is missing ${missing.join(', ')} (azure/login format)`;
  // Checked here as the separate inputs are, so a malformed value never reaches the login library.
  if (!isTenant(String(c.tenantId)))
    return 'has a tenantId that is not a tenant GUID or domain (azure/login format)';
  if (!GUID.test(String(c.clientId))) return 'has a clientId that is not an application (client) id GUID';
  if (c.subscriptionId !== undefined && c.subscriptionId !== '' && !GUID.test(String(c.subscriptionId)))
    return 'has a subscriptionId that is not a subscription GUID';
  return undefined;
}

function configProblem(v: string, kind: ConfigKind): string | undefined {
  const parsed = parseConfigEntries(v, kind);
  return 'problem' in parsed ? parsed.problem : undefined;
}

function configSecrets(v: string, kind: ConfigKind): string[] {
  const parsed = parseConfigEntries(v, kind);
  if ('problem' in parsed) return [];
  return secretConfigValues(
    kind === 'app-settings'
      ? { appSettings: parsed.entries, connectionStrings: [] }
      : { appSettings: [], connectionStrings: parsed.entries as never },
  );
}

/** A tenant id (GUID) or a tenant domain (contoso.onmicrosoft.com). */
function isTenant(v: string): boolean {
  return GUID.test(v) || /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(v);
}

const TRUE = ['true', 'True', 'TRUE'];
const FALSE = ['false', 'False', 'FALSE'];

/** A value as an error line quotes it: on one line (control characters escaped), at most 120 characters. */
function quoted(value: string): string {
  const one = [...value]
    .map((c) =>
      c.charCodeAt(0) >= 32
        ? c
        : c === '\n'
          ? '\\n'
          : c === '\t'
            ? '\\t'
            : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
    )
    .join('');
  return `'${one.length > 120 ? `${one.slice(0, 117)}...` : one}'`;
}

function problem(naming: InputNaming, def: InputDef, what: string): UsageError {
  return new UsageError(`${naming.input(def.name)} ${what}.`);
}

/** Secret values of the raw inputs, to mask before anything else happens. */
export function secretInputValues(get: (name: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const def of INPUTS) {
    if (!def.secret && !def.secretParts) continue;
    const v = get(def.name);
    if (!v) continue;
    if (def.secretParts) out.push(...def.secretParts(v));
    if (!def.secret) continue;
    out.push(v);
    if (def.name === 'creds') {
      try {
        const c = JSON.parse(v) as Record<string, unknown>;
        if (typeof c.clientSecret === 'string') out.push(c.clientSecret);
      } catch {
        // reported by validation
      }
    }
    if (def.name === 'publish-profile') {
      for (const m of v.matchAll(/userPWD="([^"]+)"/g)) out.push(m[1]);
    }
  }
  return out;
}

/** Inputs only a deploy uses (the operator commands would ignore them). */
const DEPLOY_ONLY = new Set([
  'package',
  'runtime',
  'mode',
  'package-access',
  'sas-expiry-days',
  'restart',
  'on-failure',
  'expect',
  'force',
  'remote-build',
  'swap-to',
  'exclude',
  'stamp',
  'audit',
  'source',
  'publish-profile',
  'app-settings',
  'connection-strings',
  'startup-command',
]);
/** Inputs of URL mode (the package blobs and their access), which a local-mode deploy does not use. */
const URL_ONLY = new Set([
  'storage-account',
  'container',
  'package-access',
  'sas-expiry-days',
  'keep-releases',
]);

/** Pure: whether the command (and, for a deploy, the mode asked for) uses a given input. */
function inputUsedBy(name: string, command: string, inputs: DeployInputs): boolean {
  if (name === 'rollback-settings')
    return command === 'rollback' || (command === 'deploy' && inputs.onFailure !== 'keep');
  if (command !== 'deploy') return !DEPLOY_ONLY.has(name);
  if (name === 'release') return false;
  if (inputs.mode === 'local' && URL_ONLY.has(name)) return false;
  return true;
}

/**
 * Validates and types every input. `get` returns the raw value of an input ('' or undefined when unset);
 * `env` supplies defaults that come from the environment (GITHUB_SHA).
 */
export function parseInputs(
  get: (name: string) => string | undefined,
  env: Record<string, string | undefined> = {},
  naming: InputNaming = ACTION_NAMING,
): DeployInputs {
  const n = naming;
  const out: Record<string, unknown> = {};
  const givenNames = new Set<string>();
  const anyValue = new Set<string>();
  for (const def of INPUTS) {
    const raw = get(def.name);
    const given = raw !== undefined && raw.trim() !== '';
    if (given) anyValue.add(def.name);
    // A value equal to the default is no choice (reusable workflows pass every input, defaults included).
    if (given && raw.trim().toLowerCase() !== (def.default ?? '').toLowerCase()) givenNames.add(def.name);
    const value = given ? (def.secret || def.type === 'list' ? raw : raw.trim()) : def.default;
    if (value === undefined) {
      if (def.required) throw problem(n, def, `is required (${def.description.replace(/\.$/, '')})`);
      if (def.type === 'list') out[def.key] = [];
      continue;
    }
    switch (def.type) {
      case 'boolean':
        if (TRUE.includes(value)) out[def.key] = true;
        else if (FALSE.includes(value)) out[def.key] = false;
        else throw problem(n, def, `must be true or false, not '${value}'`);
        break;
      case 'number': {
        const num = Number(value);
        // A negative number is a number out of range, not "not a number".
        if (/^-\d+(\.\d+)?$/.test(value) && def.min !== undefined)
          throw problem(n, def, `must be between ${def.min} and ${def.max}, not ${value}`);
        if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(num))
          throw problem(n, def, `must be a number, not '${value}'`);
        if ((def.min !== undefined && num < def.min) || (def.max !== undefined && num > def.max))
          throw problem(n, def, `must be between ${def.min} and ${def.max}, not ${value}`);
        out[def.key] = num;
        break;
      }
      case 'enum': {
        const v = value.toLowerCase();
        const bad = def.validate?.(v);
        if (bad) throw problem(n, def, bad);
        if (!def.choices?.includes(v))
          throw problem(n, def, `must be one of ${def.choices?.join(', ')}, not '${value}'`);
        out[def.key] = v;
        break;
      }
      case 'list': {
        const items = value
          .split(/\r?\n/)
          .map((s) => s.trim())
          .filter((s) => s.length > 0 && !s.startsWith('#'));
        const bad = items.map((i) => def.validate?.(i)).find(Boolean);
        if (bad) throw problem(n, def, bad);
        out[def.key] = items;
        break;
      }
      default: {
        const bad = def.validate?.(value);
        if (bad) throw problem(n, def, def.secret || def.quiet ? bad : `${bad} (got ${quoted(value)})`);
        out[def.key] = value;
      }
    }
  }
  const inputs = out as unknown as DeployInputs;
  inputs.naming = naming;
  inputs.given = anyValue;
  if (inputs.slot?.toLowerCase() === 'production') delete inputs.slot;
  // app-name: one target, or a fleet of apps and app/slot pairs (the slot input applies where none is named).
  const entries = splitTargets(inputs.appName);
  const targets = entries.map((e) => {
    const [appName, slot] = e.split('/');
    const s = slot && slot.toLowerCase() !== 'production' ? slot : slot ? undefined : inputs.slot;
    return s ? { appName, slot: s } : { appName };
  });
  const seen = new Set<string>();
  for (const t of targets) {
    const key = `${t.appName}/${t.slot ?? ''}`.toLowerCase();
    if (seen.has(key))
      throw new UsageError(
        `${n.input('app-name')} lists ${t.slot ? `${t.appName}/${t.slot}` : t.appName} twice; name each target once.`,
      );
    seen.add(key);
  }
  inputs.appName = targets[0].appName;
  if (targets[0].slot) inputs.slot = targets[0].slot;
  else delete inputs.slot;
  if (targets.length > 1) inputs.targets = targets;
  inputs.runtime = (inputs.runtime ?? 'auto') as Runtime | 'auto';
  if (!inputs.commit && env.GITHUB_SHA) inputs.commit = env.GITHUB_SHA;
  inputs.resourceManagerEndpoint = inputs.resourceManagerEndpoint.replace(/\/+$/, '');

  // Combinations.
  if (inputs.clientId && !inputs.tenantId)
    throw new UsageError(
      `${n.input('tenant-id')} is required with ${n.ref('client-id')} for the OIDC login; add the Entra tenant id.`,
    );
  // No input is accepted and then ignored.
  const command = inputs.command ?? 'deploy';
  const unused = [...givenNames].filter((name) => !inputUsedBy(name, command, inputs));
  if (unused.length) {
    const name = unused[0];
    const why =
      name === 'rollback-settings'
        ? command === 'deploy'
          ? `${n.value('on-failure', 'keep')} never rolls back`
          : `only a rollback uses it, not ${n.value('command', command)}`
        : command !== 'deploy' && DEPLOY_ONLY.has(name)
          ? `only a deploy uses it, not ${n.value('command', command)}`
          : name === 'release'
            ? `only ${n.value('command', 'rollback')} uses it (a deploy always deploys the package)`
            : `${n.value('mode', 'local')} pushes the package to Kudu and keeps no blobs, so it is not used`;
    const alternative =
      name === 'release' || command !== 'deploy'
        ? ''
        : name === 'rollback-settings'
          ? ` or use ${n.value('on-failure', 'rollback')}`
          : ` or use ${n.value('mode', 'url')}`;
    throw new UsageError(`${n.input(name)} is given but ${why}; remove it${alternative}.`);
  }
  if (inputs.targets && inputs.command && inputs.command !== 'deploy')
    throw new UsageError(
      `${n.input('app-name')} lists ${inputs.targets.length} targets, but ${n.value('command', inputs.command)} works on one app; name one app (and slot).`,
    );
  if (inputs.swapTo) {
    const from = inputs.slot ?? 'production';
    if (from.toLowerCase() === inputs.swapTo.toLowerCase())
      throw new UsageError(
        `${n.input('swap-to')} names the slot being deployed ('${from}'); set ${n.ref('slot')} to the staging slot and ${n.ref('swap-to')} to the slot to swap into.`,
      );
  }
  if (inputs.command === 'rollback' && !inputs.release)
    throw new UsageError(
      `${n.input('release')} is required with ${n.value('command', 'rollback')}: previous, or a release id from the releases list.`,
    );
  if (inputs.expect && !inputs.healthPath)
    throw new UsageError(
      `${n.input('expect')} needs ${n.ref('health-path')}: add the path whose response must contain the text.`,
    );
  return inputs;
}

/** The CLI flags of the inputs table (all of it, or the names given), plus `--json` and `--help`. */
export function inputFlagSpecs(names?: readonly string[]): FlagSpec[] {
  const defs = names ? INPUTS.filter((d) => names.includes(d.name)) : INPUTS;
  return [
    ...defs.map((d): FlagSpec => ({
      name: d.name,
      kind: d.type === 'boolean' ? 'boolean' : d.type === 'list' ? 'list' : 'value',
      ...(d.name === 'app-name'
        ? { repeated: "several apps go in one --app-name, comma separated (--app-name 'web,api')." }
        : {}),
    })),
    { name: 'json', kind: 'switch' },
    { name: 'help', kind: 'switch', aliases: ['-h'] },
  ];
}

/** The CLI's parse of `runpack deploy` flags into raw input values (same names as the action's inputs). */
export function parseFlags(argv: string[]): { values: Map<string, string>; json: boolean; help: boolean } {
  const parsed = parseFlagTable(argv, inputFlagSpecs(), { command: 'deploy' });
  const values = new Map(parsed.values);
  for (const [name, list] of parsed.lists) values.set(name, list.join('\n'));
  return { values, json: parsed.switches.has('json'), help: parsed.switches.has('help') };
}

export function cliHelp(): string {
  const lines = [
    'Usage: runpack deploy --app-name <app> [options]',
    '',
    'Package a publish folder (or take a zip), upload it, point the app at it, restart and verify.',
    '',
    'Options:',
  ];
  for (const d of INPUTS) {
    const flag =
      d.type === 'boolean'
        ? `--${d.name} / --no-${d.name}`
        : `--${d.name} <${d.type === 'enum' ? d.choices?.join('|') : 'value'}>`;
    const extra = [d.required ? 'required' : '', d.default !== undefined ? `default: ${d.default}` : '']
      .filter(Boolean)
      .join(', ');
    lines.push(`  ${flag}`);
    lines.push(`      ${d.description}${extra ? ` (${extra})` : ''}`);
  }
  lines.push('  --json', '      Print the result as JSON.', '  --help', '      Show this help.');
  lines.push(
    '',
    'Authentication: --client-id/--tenant-id with ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN (OIDC), an Azure CLI login (az), or --creds (or AZURE_CREDENTIALS).',
  );
  return lines.join('\n');
}

/** action.yml's `inputs:` and `outputs:` sections rendered from the tables. */
export function renderActionInputs(): Record<
  string,
  { description: string; required: boolean; default?: string }
> {
  const out: Record<string, { description: string; required: boolean; default?: string }> = {};
  for (const d of INPUTS) {
    out[d.name] = { description: d.description, required: Boolean(d.required) };
    if (d.default !== undefined) out[d.name].default = d.default;
  }
  return out;
}

const escapeRegExp = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A message in a front end's own words: the engine and the operator commands speak the action's language
 * (`Input 'health-path'`, `mode: local`, `'slot'`); the CLI and the task rewrite it at their edge, from the one
 * table of inputs (`Flag '--health-path'`, `--mode local`, `--slot`; `Input 'healthPath'`, `packageAccess: sas`).
 */
export function speak(text: string, naming: InputNaming): string {
  if (naming === ACTION_NAMING) return text;
  let out = text;
  for (const d of [...INPUTS].sort((a, b) => b.name.length - a.name.length)) {
    const name = escapeRegExp(d.name);
    const values =
      d.type === 'boolean'
        ? ['true', 'false']
        : d.type === 'enum'
          ? [...(d.choices ?? [])]
          : d.type === 'number'
            ? ['\\d+']
            : null;
    if (values)
      out = out.replace(
        new RegExp(`(?<![\\w-])${name}: (${values.join('|')})(?![\\w-])`, 'g'),
        (_m, v: string) => naming.value(d.name, v),
      );
    out = out.replace(new RegExp(`Input '${name}'`, 'g'), naming.input(d.name));
    out = out.replace(new RegExp(`'${name}'`, 'g'), naming.ref(d.name));
  }
  return out;
}
