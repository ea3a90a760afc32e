/**
 * Contracts of the deploy engine: what the engine hands to each phase (DeployContext) and what phases,
 * including the local-mode, slot and function-app modules, hand back.
 */
import type { ConfigPlan, ReleaseConfig } from '../release/config.js';
import type { LocalRelease } from '../release/verified.js';
import type { InputNaming } from '../naming.js';
import type { KuduClient } from '../azure/kudu.js';
import type { ArmClient, SiteRef } from '../azure/arm.js';
import type { HttpClient } from '../azure/http.js';
import type { InspectReport, ReleaseStamp, Runtime } from '../package/types.js';
import type { Logger } from '../report/log.js';
import type { SecretRegistry } from '../report/secrets.js';

/** How a package reaches the app: a blob URL, Kudu's SitePackages, or Flex Consumption's deployment storage. */
export type DeployMode = 'url' | 'local' | 'flex';
/** What the `mode` input may say (a Flex app's mode follows from its plan: `auto`). */
export type ModeInput = 'url' | 'local' | 'auto';
export type PackageAccess = 'identity' | 'sas';
export type PackageAccessInput = PackageAccess | 'auto';

/** Every input of a deploy, validated and typed (src/inputs.ts builds it from the action or the CLI). */
export interface DeployInputs {
  /** How the front end that parsed these inputs names them in messages (default: the action's words). */
  naming?: InputNaming;
  /** What the action step does: deploy (default), or an operator command (src/ops). */
  command?: 'deploy' | 'rollback' | 'diagnose' | 'releases';
  /** rollback: `previous` or a release id. */
  release?: string;
  /** deploy, rollback and releases: show the plan, write nothing. */
  dryRun?: boolean;
  /**
   * Retention: keep the newest n release blobs and delete the rest (never one that is live, a slot runs or a
   * stable blob holds). After a verified url-mode deploy, and for `command: releases` when given. 0: no pruning.
   */
  keepReleases?: number;
  /** Write-path audit of `source` before packaging: off, warn (findings are warnings) or strict (errors fail). */
  audit?: 'false' | 'true' | 'strict';
  /** Folder the audit reads (default: GITHUB_WORKSPACE or the working directory). */
  source?: string;
  appName: string;
  /** Several targets in app-name (a fleet): each app, or app and slot. Absent or one entry: a single target. */
  targets?: { appName: string; slot?: string }[];
  resourceGroup?: string;
  subscriptionId?: string;
  slot?: string;
  /** Folder or .zip. */
  package: string;
  runtime: Runtime | 'auto';
  mode: ModeInput;
  storageAccount?: string;
  container: string;
  packageAccess: PackageAccessInput;
  sasExpiryDays: number;
  restart: boolean;
  /** The inputs given a value (a default is not a choice), as each front end read them. */
  given?: ReadonlySet<string>;
  /** on-failure: roll back to the previous verified release when verification fails after the switch, or keep. */
  onFailure: 'rollback' | 'keep';
  /** App settings to apply with the package (JSON, Azure's format: name, value, slotSetting). */
  appSettings?: string;
  /** Connection strings to apply with the package (JSON: name, value, type, slotSetting). */
  connectionStrings?: string;
  /** Linux startup command (siteConfig.appCommandLine) to apply with the package. */
  startupCommand?: string;
  /** A rollback (automatic or `command: rollback`) also brings back the configuration recorded with the release. */
  rollbackSettings: boolean;
  healthPath?: string;
  expect?: string;
  timeoutMinutes: number;
  force: boolean;
  /** Flex Consumption: the platform builds the package (Oryx), so dependencies need not be in it. */
  remoteBuild: boolean;
  clientId?: string;
  tenantId?: string;
  /** azure/login-style JSON secret. */
  creds?: string;
  resourceManagerEndpoint: string;
  /** Publish profile XML (secret), for local mode without Resource Manager rights on Kudu. */
  publishProfile?: string;
  /** Slot to swap into after a verified deploy (e.g. `production`). */
  swapTo?: string;
  exclude: string[];
  stamp: boolean;
  /** The packager's entry cache folder (a folder package only). */
  packageCache?: string;
  commit?: string;
}

/** The app (or slot) being deployed, as Resource Manager describes it. */
export interface TargetInfo {
  ref: SiteRef;
  /** ARM id of the site or slot. */
  id: string;
  kind: string;
  isLinux: boolean;
  isFunctionApp: boolean;
  /** Flex Consumption (functionAppConfig present or sku FlexConsumption). */
  isFlex: boolean;
  /** A Flex app's deployment storage and runtime (functionAppConfig), when it has them. */
  flex?: FlexConfig;
  /** Consumption plan (sku Dynamic). */
  isConsumption: boolean;
  sku: string;
  state: string;
  location: string;
  defaultHostName: string;
  /** From hostNameSslStates (hostType Repository); null when the site has none. */
  scmHostName: string | null;
  /** https://<defaultHostName> */
  appUrl: string;
  linuxFxVersion: string;
  identity: {
    systemPrincipalId: string | null;
    userAssigned: { resourceId: string; principalId: string; clientId: string }[];
  };
}

/** What functionAppConfig says of a Flex Consumption app. */
export interface FlexConfig {
  /** The deployment container's URL (functionAppConfig.deployment.storage.value), no trailing slash. */
  containerUrl: string;
  /** How the platform reaches it: `SystemAssignedIdentity`, `UserAssignedIdentity` or `StorageAccountConnectionString`. */
  authentication: string;
  userAssignedIdentityResourceId?: string;
  /** The app setting that holds the connection string (StorageAccountConnectionString). */
  connectionStringSetting?: string;
  /** functionAppConfig.runtime: `node`, `python`, `dotnet-isolated`, `java`, `powershell`, `custom`. */
  runtime?: { name: string; version?: string };
}

/** The package being deployed, after packing and inspection. */
export interface PackageInfo {
  /** Path of the zip on disk. */
  zipPath: string;
  /** sha256 of the zip, lowercase hex. */
  sha256: string;
  zipBytes: number;
  files: number;
  bytes: number;
  stamp: ReleaseStamp | null;
  inspect: InspectReport;
  /** Function names (function apps). */
  functions: string[];
  /** The release id: the first 12 hex digits of the sha256. */
  releaseId: string;
}

export type Severity = 'info' | 'warning' | 'error';

/** Something a phase found that the user should see (errors fail the step). */
export interface Finding {
  severity: Severity;
  /** Stable code, e.g. `slot-setting-not-sticky`, `functions-missing`. */
  code: string;
  message: string;
}

/** What local-mode publishing (Kudu zip deploy with WEBSITE_RUN_FROM_PACKAGE=1) reports. */
export interface PublishOutcome {
  mode: 'local';
  /** The file name Kudu wrote to packagename.txt, e.g. `20250314093015.zip`. */
  packageName: string;
  deploymentId?: string;
  /** packagename.txt read back equals packageName. */
  confirmed: boolean;
  /** What packagename.txt named before this deploy (the package that was mounted), if anything. */
  previousPackage?: string | null;
  /** runpack's verified record of that package, when it has one (its release id). */
  previousRecord?: LocalRelease | null;
  /** The Kudu session the push used, for what follows it (the verified record, the rollback). */
  kudu: KuduClient;
  findings: Finding[];
}

export interface SwapOutcome {
  from: string;
  to: string;
  findings: Finding[];
}

/** Read-merge-write access to the target's app settings. */
export interface SettingsHelper {
  /** A fresh read of every app setting. */
  read(): Promise<Record<string, string>>;
  /**
   * Changes only the given keys (null deletes), keeps every other setting and its order, skips the write when
   * nothing changes, and reads back to confirm. Returns the settings before and after.
   */
  update(changes: Record<string, string | null>): Promise<{
    changed: boolean;
    before: Record<string, string>;
    after: Record<string, string>;
  }>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The configuration a deploy applies (app-settings, connection-strings, startup-command) and its plan. */
export interface DeployConfig {
  wanted: ReleaseConfig;
  plan: ConfigPlan;
}

/** Everything a phase may use. Built once per deploy by the engine. */
export interface DeployContext {
  inputs: DeployInputs;
  target: TargetInfo;
  http: HttpClient;
  arm: ArmClient;
  log: Logger;
  secrets: SecretRegistry;
  clock: Clock;
  settings: SettingsHelper;
  /** `Bearer <ARM token>` for Resource Manager and Kudu (refreshed when close to expiry). */
  armAuthorization(o?: { refresh?: boolean }): Promise<string>;
  /** ms-epoch deadline of the whole deploy (timeout-minutes). */
  deadline: number;
  /** A deadline for one phase: now + ms, never past the overall deadline. */
  phaseDeadline(ms: number): number;
  /** The step's cancellation (SIGINT/SIGTERM), when the front end listens for it. */
  signal?: AbortSignal;
  /** The configuration this deploy applies at the switch (app-settings, connection-strings, startup-command). */
  config?: DeployConfig;
}
