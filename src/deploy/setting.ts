/**
 * App settings: read fresh, change only the run-from-package keys, write back, read again to confirm.
 * Never drops or reorders other settings; skips the write when nothing changes.
 */
import type { ArmClient, SiteRef } from '../azure/arm.js';
import { applyConfigExtras, type ConfigPlan } from '../release/config.js';
import { RunpackError } from '../util/errors.js';
import type { SettingsHelper } from './types.js';

/**
 * Pure: applies changes (null deletes) to settings, keeping every other key and the original order; new keys
 * go at the end. `changed` is false when the result equals the input.
 */
export function mergeSettings(
  current: Record<string, string>,
  changes: Record<string, string | null>,
): { settings: Record<string, string>; changed: boolean; changedKeys: string[] } {
  const settings: Record<string, string> = {};
  const changedKeys: string[] = [];
  for (const [k, v] of Object.entries(current)) {
    if (Object.prototype.hasOwnProperty.call(changes, k)) {
      const next = changes[k];
      if (next === null) {
        changedKeys.push(k);
        continue;
      }
      if (next !== v) changedKeys.push(k);
      settings[k] = next;
    } else settings[k] = v;
  }
  for (const [k, v] of Object.entries(changes)) {
    if (Object.prototype.hasOwnProperty.call(current, k) || v === null) continue;
    settings[k] = v;
    changedKeys.push(k);
  }
  return { settings, changed: changedKeys.length > 0, changedKeys };
}

/** Pure: the keys of `changes` whose value in `actual` differs from what was asked. */
export function unconfirmedKeys(
  actual: Record<string, string>,
  changes: Record<string, string | null>,
): string[] {
  return Object.entries(changes)
    .filter(([k, v]) => (v === null ? Object.prototype.hasOwnProperty.call(actual, k) : actual[k] !== v))
    .map(([k]) => k);
}

/**
 * The settings of one site. With a configuration plan (app-settings, connection-strings, startup-command), the
 * first update applies it at the switch: slot-sticky names, connection strings and the startup command first,
 * then its app settings in the same write as the run-from-package setting, so the app restarts once on the lot.
 */
export function createSettingsHelper(arm: ArmClient, ref: SiteRef, config?: ConfigPlan): SettingsHelper {
  let pending = config?.changed ? config : undefined;
  return {
    read: () => arm.listAppSettings(ref),
    async update(asked) {
      let changes = asked;
      if (pending) {
        await applyConfigExtras(arm, ref, pending);
        changes = { ...pending.settingChanges, ...asked };
        pending = undefined;
      }
      const before = await arm.listAppSettings(ref);
      const merged = mergeSettings(before, changes);
      if (!merged.changed) return { changed: false, before, after: before };
      await arm.putAppSettings(ref, merged.settings);
      const after = await arm.listAppSettings(ref);
      const missing = unconfirmedKeys(after, changes);
      if (missing.length)
        throw new RunpackError(
          'setting-not-applied',
          `App settings ${missing.join(', ')} did not read back as written on ${ref.appName}${ref.slot ? `/${ref.slot}` : ''}; another deployment or policy may be changing settings, run again.`,
        );
      // Anything else lost between the read and the write (a concurrent writer) is reported by the caller.
      return { changed: true, before, after };
    },
  };
}
