/**
 * Configuration carried with a release: app settings, connection strings (Azure's own JSON format: `name`,
 * `value`, `slotSetting`, and `type` for connection strings) and the Linux startup command. Parsed and checked
 * here before any Azure call, planned against what the app has (pure), and applied through Resource Manager
 * without dropping anything else. Each verified release's configuration is recorded with the app (Kudu's
 * %HOME%/data/runpack/config/<release>.json) so that a rollback can bring it back when asked to.
 */
import type { ArmClient, ConnectionStringValue, SiteRef, SlotConfigNames } from '../azure/arm.js';
import type { KuduClient } from '../azure/kudu.js';
import { RunpackError } from '../util/errors.js';
import { RFP, RFP_LEGACY } from './rfp.js';

/** The connection string types Resource Manager accepts (ConnectionStringType). */
export const CONNECTION_STRING_TYPES = [
  'ApiHub',
  'Custom',
  'DocDb',
  'EventHub',
  'MySql',
  'NotificationHub',
  'PostgreSQL',
  'RedisCache',
  'SQLAzure',
  'SQLServer',
  'ServiceBus',
] as const;

export interface SettingEntry {
  name: string;
  value: string;
  /** true: sticky to the slot (slotConfigNames); false: not sticky; absent: stickiness left as it is. */
  slotSetting?: boolean;
  /** Marked secret by the user: masked whatever it looks like. */
  secret?: boolean;
}

export interface ConnectionStringEntry extends SettingEntry {
  type: string;
}

/** What a deploy applies with its package (and what a rollback may bring back). */
export interface ReleaseConfig {
  appSettings: SettingEntry[];
  connectionStrings: ConnectionStringEntry[];
  startupCommand?: string;
}

export type ConfigKind = 'app-settings' | 'connection-strings';

const KEYS: Record<ConfigKind, readonly string[]> = {
  'app-settings': ['name', 'value', 'slotSetting', 'secret'],
  'connection-strings': ['name', 'value', 'type', 'slotSetting', 'secret'],
};

const EXAMPLE: Record<ConfigKind, string> = {
  'app-settings': '[{"name":"FEATURE_X","value":"on","slotSetting":false}]',
  'connection-strings': '[{"name":"Db","value":"Server=…","type":"SQLAzure","slotSetting":false}]',
};

/**
 * Pure: the entries of an `app-settings` or `connection-strings` value, or the problem (a phrase completing
 * "must …" / "has …"). Never quotes a value: it may be a secret.
 */
export function parseConfigEntries(
  text: string,
  kind: ConfigKind,
): { entries: ConnectionStringEntry[] | SettingEntry[] } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { problem: `must be a JSON array in Azure's settings format, like ${EXAMPLE[kind]}` };
  }
  if (!Array.isArray(parsed))
    return { problem: `must be a JSON array in Azure's settings format, like ${EXAMPLE[kind]}` };
  const seen = new Set<string>();
  const entries: SettingEntry[] = [];
  for (const [i, item] of parsed.entries()) {
    const at = `entry ${i + 1}`;
    if (!item || typeof item !== 'object' || Array.isArray(item))
      return { problem: `has ${at} that is not an object with name and value` };
    const e = item as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !KEYS[kind].includes(k));
    if (unknown.length)
      return {
        problem: `has ${at} with ${unknown.map((k) => `'${k}'`).join(', ')}: only ${KEYS[kind].join(', ')} are read`,
      };
    if (typeof e.name !== 'string' || !e.name.trim()) return { problem: `has ${at} without a name` };
    const name = e.name.trim();
    if (/[\s=]/.test(name) || [...name].some((c) => c.charCodeAt(0) < 32) || name.length > 512)
      return {
        problem: `has ${at} named '${name.slice(0, 60)}': a name may not contain spaces, '=' or control characters`,
      };
    if (kind === 'app-settings' && [RFP, RFP_LEGACY].includes(name.toUpperCase()))
      return { problem: `names ${name}: runpack sets it itself from 'mode', so leave it out` };
    if (seen.has(name.toLowerCase())) return { problem: `names ${name} twice` };
    seen.add(name.toLowerCase());
    if (!['string', 'number', 'boolean'].includes(typeof e.value))
      return { problem: `has ${name} without a string value` };
    for (const flag of ['slotSetting', 'secret'] as const)
      if (e[flag] !== undefined && typeof e[flag] !== 'boolean')
        return { problem: `has ${name} with ${flag} that is not true or false` };
    const entry: ConnectionStringEntry | SettingEntry = {
      name,
      value: String(e.value),
      ...(e.slotSetting !== undefined ? { slotSetting: e.slotSetting as boolean } : {}),
      ...(e.secret !== undefined ? { secret: e.secret as boolean } : {}),
    };
    if (kind === 'connection-strings') {
      const type = CONNECTION_STRING_TYPES.find(
        (t) => typeof e.type === 'string' && t.toLowerCase() === e.type.toLowerCase(),
      );
      if (!type)
        return { problem: `has ${name} without a type: one of ${CONNECTION_STRING_TYPES.join(', ')}` };
      (entry as ConnectionStringEntry).type = type;
    }
    entries.push(entry);
  }
  return { entries };
}

/** Pure: entries of a value that passed parseConfigEntries (throws on one that did not). */
export function configEntries<K extends ConfigKind>(
  text: string | undefined,
  kind: K,
): K extends 'connection-strings' ? ConnectionStringEntry[] : SettingEntry[] {
  if (!text?.trim()) return [] as never;
  const parsed = parseConfigEntries(text, kind);
  if ('problem' in parsed) throw new RunpackError('bad-input', `${kind} ${parsed.problem}.`);
  return parsed.entries as never;
}

const SECRET_NAME = /(secret|passw|pwd|token|key|credential|connectionstring|connstr|sas|signature|auth)/i;
const SECRET_VALUE =
  /(accountkey|sharedaccesskey|password|pwd|sig|secret|token)=|^bearer\s|^eyJ[\w-]+\.[\w-]+\./i;

/**
 * Pure: whether a value is to be masked. Connection strings always are; app settings when marked, when the name
 * says key/secret/password/token…, or when the value carries a key, a password, a signature or a token. A Key
 * Vault reference is a pointer, not a secret.
 */
export function looksSecret(entry: SettingEntry, kind: ConfigKind): boolean {
  if (entry.secret) return true;
  if (/^@Microsoft\.KeyVault\(/i.test(entry.value)) return false;
  if (kind === 'connection-strings') return true;
  if (SECRET_NAME.test(entry.name) || SECRET_VALUE.test(entry.value)) return true;
  // A long opaque value (a key or a token nobody named as such).
  return entry.value.length >= 32 && /^[A-Za-z0-9+/=_-]+$/.test(entry.value) && /\d/.test(entry.value);
}

/** Pure: the values of a configuration that must be masked. */
export function secretConfigValues(config: ReleaseConfig): string[] {
  return [
    ...config.appSettings.filter((e) => looksSecret(e, 'app-settings')).map((e) => e.value),
    ...config.connectionStrings.filter((e) => looksSecret(e, 'connection-strings')).map((e) => e.value),
  ];
}

export function isEmptyConfig(config: ReleaseConfig | undefined): boolean {
  return (
    !config || (!config.appSettings.length && !config.connectionStrings.length && !config.startupCommand)
  );
}

/** What the app has now, read fresh. */
export interface CurrentConfig {
  settings: Record<string, string>;
  connectionStrings: Record<string, ConnectionStringValue>;
  sticky: SlotConfigNames;
  appCommandLine: string;
}

export interface ConfigPlan {
  /** App settings to change (merged into the one settings write, with the run-from-package setting). */
  settingChanges: Record<string, string>;
  /** The whole new set of connection strings when one changes (Resource Manager replaces the set). */
  connectionStrings?: Record<string, ConnectionStringValue>;
  /** The new slot-sticky names when they change. */
  sticky?: SlotConfigNames;
  /** The new startup command when it changes. */
  startupCommand?: string;
  /** One line per entry, values redacted: what changes and what stays. */
  lines: string[];
  /** Whether anything changes. */
  changed: boolean;
}

/** Pure: the existing key that a name refers to (setting names compare case-insensitively on the platform). */
function existingKey(keys: Iterable<string>, name: string): string | undefined {
  for (const k of keys) if (k.toLowerCase() === name.toLowerCase()) return k;
  return undefined;
}

function stickyChange(list: string[], name: string, slotSetting: boolean | undefined): string[] | null {
  const has = existingKey(list, name);
  if (slotSetting === true && !has) return [...list, name];
  if (slotSetting === false && has) return list.filter((n) => n !== has);
  return null;
}

/** Pure: the changes that make the app carry `wanted`, every other setting and connection string kept. */
export function planConfig(current: CurrentConfig, wanted: ReleaseConfig): ConfigPlan {
  const lines: string[] = [];
  const settingChanges: Record<string, string> = {};
  let appSettingNames = current.sticky.appSettingNames;
  let connectionStringNames = current.sticky.connectionStringNames;
  const stickyNote = (slotSetting: boolean | undefined, after: string[] | null) =>
    after ? (slotSetting ? ', now slot-sticky' : ', no longer slot-sticky') : '';

  for (const e of wanted.appSettings) {
    const key = existingKey(Object.keys(current.settings), e.name) ?? e.name;
    const had = Object.prototype.hasOwnProperty.call(current.settings, key);
    const same = had && current.settings[key] === e.value;
    if (!same) settingChanges[key] = e.value;
    const nextSticky = stickyChange(appSettingNames, key, e.slotSetting);
    lines.push(
      `App setting ${key}: ${!had ? 'added' : same ? 'unchanged' : 'changed'} (value ***)${stickyNote(e.slotSetting, nextSticky)}.`,
    );
    if (nextSticky) appSettingNames = nextSticky;
  }

  let strings: Record<string, ConnectionStringValue> | undefined;
  for (const e of wanted.connectionStrings) {
    const key = existingKey(Object.keys(current.connectionStrings), e.name) ?? e.name;
    const old = current.connectionStrings[key];
    const same = !!old && old.value === e.value && old.type.toLowerCase() === e.type.toLowerCase();
    if (!same) {
      strings ??= { ...current.connectionStrings };
      strings[key] = { value: e.value, type: e.type };
    }
    const nextSticky = stickyChange(connectionStringNames, key, e.slotSetting);
    lines.push(
      `Connection string ${key} (${e.type}): ${!old ? 'added' : same ? 'unchanged' : 'changed'} (value ***)${stickyNote(e.slotSetting, nextSticky)}.`,
    );
    if (nextSticky) connectionStringNames = nextSticky;
  }

  let startupCommand: string | undefined;
  if (wanted.startupCommand !== undefined) {
    const same = current.appCommandLine === wanted.startupCommand;
    if (!same) startupCommand = wanted.startupCommand;
    lines.push(`Startup command: ${same ? 'unchanged' : current.appCommandLine ? 'changed' : 'set'}.`);
  }

  const stickyChanged =
    appSettingNames !== current.sticky.appSettingNames ||
    connectionStringNames !== current.sticky.connectionStringNames;
  const sticky = stickyChanged ? { ...current.sticky, appSettingNames, connectionStringNames } : undefined;
  const changed =
    Object.keys(settingChanges).length > 0 || !!strings || !!sticky || startupCommand !== undefined;
  return {
    settingChanges,
    ...(strings ? { connectionStrings: strings } : {}),
    ...(sticky ? { sticky } : {}),
    ...(startupCommand !== undefined ? { startupCommand } : {}),
    lines,
    changed,
  };
}

/** Reads what planConfig needs (connection strings and the startup command only when the config names them). */
export async function readCurrentConfig(
  arm: ArmClient,
  ref: SiteRef,
  wanted: ReleaseConfig,
  settings?: Record<string, string>,
): Promise<CurrentConfig> {
  const needsSticky = [...wanted.appSettings, ...wanted.connectionStrings].some(
    (e) => e.slotSetting !== undefined,
  );
  const [s, connectionStrings, sticky, web] = await Promise.all([
    settings ?? arm.listAppSettings(ref),
    wanted.connectionStrings.length ? arm.listConnectionStrings(ref) : {},
    needsSticky
      ? arm.getSlotConfigNames(ref)
      : { appSettingNames: [], connectionStringNames: [], azureStorageConfigNames: [] },
    wanted.startupCommand !== undefined ? arm.getSiteConfig(ref) : ({} as Record<string, unknown>),
  ]);
  return {
    settings: s,
    connectionStrings,
    sticky,
    appCommandLine: typeof web.appCommandLine === 'string' ? web.appCommandLine : '',
  };
}

/**
 * Applies the parts of a plan that are not app settings (those go in the one settings write): slot-sticky
 * names first (so a swap never sees a half-sticky set), then connection strings and the startup command, each
 * read back. Returns what it changed, for the log.
 */
export async function applyConfigExtras(arm: ArmClient, ref: SiteRef, plan: ConfigPlan): Promise<string[]> {
  const done: string[] = [];
  const where = ref.slot ? `${ref.appName}/${ref.slot}` : ref.appName;
  if (plan.sticky) {
    await arm.putSlotConfigNames(ref, plan.sticky);
    done.push('slot-sticky names');
  }
  if (plan.connectionStrings) {
    const wanted = plan.connectionStrings;
    // Read fresh right before the write: keep a connection string someone added since the plan.
    const fresh = await arm.listConnectionStrings(ref);
    await arm.putConnectionStrings(ref, { ...fresh, ...wanted });
    const after = await arm.listConnectionStrings(ref);
    const off = Object.entries(wanted).filter(
      ([k, v]) => after[k]?.value !== v.value || after[k]?.type.toLowerCase() !== v.type.toLowerCase(),
    );
    if (off.length)
      throw new RunpackError(
        'setting-not-applied',
        `Connection strings ${off.map(([k]) => k).join(', ')} did not read back as written on ${where}; another deployment or policy may be changing them, run again.`,
      );
    done.push('connection strings');
  }
  if (plan.startupCommand !== undefined) {
    await arm.patchSiteConfig(ref, { appCommandLine: plan.startupCommand });
    const web = await arm.getSiteConfig(ref);
    if ((web.appCommandLine ?? '') !== plan.startupCommand)
      throw new RunpackError(
        'setting-not-applied',
        `The startup command did not read back as written on ${where}; another deployment or policy may be changing the site configuration, run again.`,
      );
    done.push('startup command');
  }
  return done;
}

/** Where the configuration of a verified release is recorded, in the app's %HOME%. */
export function configRecordPath(releaseId: string): string {
  return `data/runpack/config/${releaseId}.json`;
}

/** Pure: a record's text as a configuration, or null when it is not one. */
export function parseConfigRecord(text: string | null | undefined): ReleaseConfig | null {
  if (!text) return null;
  try {
    const r = JSON.parse(text) as Partial<ReleaseConfig>;
    if (!Array.isArray(r.appSettings) || !Array.isArray(r.connectionStrings)) return null;
    const ok = (e: unknown) =>
      !!e && typeof (e as SettingEntry).name === 'string' && typeof (e as SettingEntry).value === 'string';
    if (!r.appSettings.every(ok) || !r.connectionStrings.every(ok)) return null;
    return {
      appSettings: r.appSettings,
      connectionStrings: r.connectionStrings,
      ...(typeof r.startupCommand === 'string' ? { startupCommand: r.startupCommand } : {}),
    };
  } catch {
    return null;
  }
}

export async function readConfigRecord(
  kudu: KuduClient,
  releaseId: string,
  deadline?: number,
): Promise<ReleaseConfig | null> {
  const file = await kudu.vfsGet(configRecordPath(releaseId), deadline);
  return parseConfigRecord(file?.text);
}

export async function writeConfigRecord(
  kudu: KuduClient,
  releaseId: string,
  config: ReleaseConfig,
  deadline?: number,
): Promise<void> {
  const path = configRecordPath(releaseId);
  const body = JSON.stringify({ releaseId, ...config }, null, 2);
  for (let attempt = 0; attempt < 2; attempt++) {
    // Kudu overwrites an existing file only with its ETag (If-Match).
    const existing = await kudu.vfsGet(path, deadline);
    if (!existing) await kudu.vfsMkdir(path.slice(0, path.lastIndexOf('/')), deadline);
    const written = await kudu.vfsPut(path, body, {
      ifMatch: existing?.etag,
      deadline,
      contentType: 'application/json',
    });
    if (written === 'written') return;
  }
  throw new Error(`${path} kept changing while it was written (another deployment)`);
}
