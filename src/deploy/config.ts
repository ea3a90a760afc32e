/**
 * The configuration a deploy carries (app-settings, connection-strings, startup-command): planned before
 * anything is uploaded, applied at the switch in the same settings write as the run-from-package setting,
 * recorded with a verified release, and brought back by a rollback only when rollback-settings asks for it.
 */
import type { ArmClient } from '../azure/arm.js';
import type { KuduClient } from '../azure/kudu.js';
import {
  applyConfigExtras,
  configEntries,
  isEmptyConfig,
  planConfig,
  readConfigRecord,
  readCurrentConfig,
  secretConfigValues,
  type ReleaseConfig,
} from '../release/config.js';
import type { SecretRegistry } from '../report/secrets.js';
import { describeError, RunpackError } from '../util/errors.js';
import { createSettingsHelper } from './setting.js';
import type { DeployConfig, DeployContext, DeployInputs, Finding, TargetInfo } from './types.js';
export type { DeployConfig };

/** Pure: the configuration the inputs ask for, or undefined when they ask for none. */
export function wantedConfig(inputs: DeployInputs): ReleaseConfig | undefined {
  const config: ReleaseConfig = {
    appSettings: configEntries(inputs.appSettings, 'app-settings'),
    connectionStrings: configEntries(inputs.connectionStrings, 'connection-strings'),
    ...(inputs.startupCommand ? { startupCommand: inputs.startupCommand } : {}),
  };
  return isEmptyConfig(config) ? undefined : config;
}

/** Pure: why this target cannot take the configuration, or undefined. */
export function configRefusal(config: ReleaseConfig, target: TargetInfo): string | undefined {
  const name = target.ref.slot ? `${target.ref.appName}/${target.ref.slot}` : target.ref.appName;
  if (config.startupCommand !== undefined && !target.isLinux)
    return `'startup-command' sets a Linux app's startup command, but ${name} runs on Windows; remove it (a Windows app starts from its web.config or its runtime's defaults).`;
  return undefined;
}

/**
 * Plans the configuration against what the app has now (read fresh), before anything is uploaded: the lines
 * (values redacted) go to the log, and a target that cannot take it is refused here.
 */
export async function planDeployConfig(
  arm: ArmClient,
  target: TargetInfo,
  settings: Record<string, string>,
  inputs: DeployInputs,
  log: DeployContext['log'],
): Promise<DeployConfig | undefined> {
  const wanted = wantedConfig(inputs);
  if (!wanted) return undefined;
  const refusal = configRefusal(wanted, target);
  if (refusal) throw new RunpackError('config-refused', refusal);
  const plan = planConfig(await readCurrentConfig(arm, target.ref, wanted, settings), wanted);
  for (const line of plan.lines) log.info(line);
  if (!plan.changed) log.info('The configuration is already in place; nothing to change.');
  return { wanted, plan };
}

/**
 * A rollback's settings: with rollback-settings, the configuration recorded with the restored release is applied
 * again (every other setting kept); without, settings are left alone and the step says so when the failed deploy
 * had changed them. Returns the finding to report, if any, and whether app settings were written (a write
 * restarts the app, so the rollback's own restart waits for that one instead of adding another).
 */
export async function rollbackConfig(
  o: RollbackConfigDeps,
  releaseId: string,
  rollbackSettings: boolean,
  /** What the release being replaced had applied (for the note when settings are left alone). */
  replaced?: DeployConfig,
): Promise<{ note?: Finding; settingsWritten: boolean }> {
  try {
    return await restoreConfig(o, releaseId, rollbackSettings, replaced);
  } catch (err) {
    return {
      note: {
        severity: o.failure,
        code: 'rollback-settings-failed',
        message: `The configuration recorded with release ${releaseId} was not brought back: ${describeError(err).replace(/\.$/, '')}.`,
      },
      settingsWritten: false,
    };
  }
}

interface RollbackConfigDeps {
  arm: ArmClient;
  target: TargetInfo;
  kudu: () => Promise<KuduClient>;
  secrets: SecretRegistry;
  log: DeployContext['log'];
  deadline: number;
  /** How a configuration that could not be brought back counts: a warning after an automatic rollback, an error for the rollback command (where it was asked for). */
  failure: Finding['severity'];
}

async function restoreConfig(
  o: RollbackConfigDeps,
  releaseId: string,
  rollbackSettings: boolean,
  replaced?: DeployConfig,
): Promise<{ note?: Finding; settingsWritten: boolean }> {
  const none = { settingsWritten: false };
  if (!rollbackSettings) {
    if (!replaced?.plan.changed) return none;
    const note: Finding = {
      severity: 'warning',
      code: 'rollback-settings-kept',
      message: `Settings were left as they are (rollback-settings: false): ${describeParts(replaced.wanted)} stay as the failed deploy applied them, now with release ${releaseId}.`,
    };
    return { note, settingsWritten: false };
  }
  let recorded: ReleaseConfig | null;
  try {
    recorded = await readConfigRecord(await o.kudu(), releaseId, o.deadline);
  } catch (err) {
    return {
      note: {
        severity: 'warning',
        code: 'rollback-settings-unread',
        message: `Could not read the configuration recorded with release ${releaseId} (${describeError(err).replace(/\.$/, '')}); settings were left as they are.`,
      },
      settingsWritten: false,
    };
  }
  if (!recorded)
    return {
      note: {
        severity: 'warning',
        code: 'rollback-settings-none',
        message: `Release ${releaseId} has no recorded configuration (it was deployed without app-settings, connection-strings or startup-command, or before runpack recorded them); settings were left as they are.`,
      },
      settingsWritten: false,
    };
  for (const v of secretConfigValues(recorded)) o.secrets.add(v);
  const refusal = configRefusal(recorded, o.target);
  if (refusal) throw new RunpackError('config-refused', refusal);
  const plan = planConfig(await readCurrentConfig(o.arm, o.target.ref, recorded), recorded);
  for (const line of plan.lines) o.log.info(line);
  if (!plan.changed) {
    o.log.info(`The configuration recorded with release ${releaseId} is already in place.`);
    return none;
  }
  await applyConfigExtras(o.arm, o.target.ref, plan);
  // The same read, merge, write and read-back as a deploy's settings write (every other setting kept).
  const update = await createSettingsHelper(o.arm, o.target.ref).update(plan.settingChanges);
  o.log.info(
    `Brought back the configuration recorded with release ${releaseId} (${describeParts(recorded)}).`,
  );
  return { settingsWritten: update.changed };
}

function describeParts(config: ReleaseConfig): string {
  return [
    config.appSettings.length ? `app settings ${config.appSettings.map((e) => e.name).join(', ')}` : '',
    config.connectionStrings.length
      ? `connection strings ${config.connectionStrings.map((e) => e.name).join(', ')}`
      : '',
    config.startupCommand !== undefined ? 'the startup command' : '',
  ]
    .filter(Boolean)
    .join('; ');
}
