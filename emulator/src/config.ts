/**
 * Emulator configuration: the preset resources (emulator/presets.json) optionally overridden by a JSON file.
 * Top-level keys in the file replace the preset's keys (so `apps` in a file replaces the whole app list).
 */
import { readFileSync } from 'node:fs';
import type { SiteKind, Site } from './model.js';

export interface AppConfig {
  name: string;
  kind: SiteKind;
  sku: string;
  stack: Site['stack'];
  linuxFxVersion: string;
  location?: string;
  slots?: string[];
  systemIdentity?: boolean;
  /** Names of user-assigned identities attached to the app (created in the resource group). */
  userIdentities?: string[];
  /** The system identity holds Storage Blob Data Reader on the storage account. */
  blobReader?: boolean;
  /** The system identity holds Storage Blob Data Contributor on the storage account (Flex deployment storage). */
  blobWriter?: boolean;
  functionAppConfig?: Record<string, unknown> | null;
  appSettings?: Record<string, string>;
  /** Instances the app (and each slot) runs on (the plan's scale-out), default 1. */
  instances?: number;
  /**
   * The app has an Application Insights component `<app>-insights` in the resource group, and its settings carry
   * the component's connection string (APPLICATIONINSIGHTS_CONNECTION_STRING), as the portal sets it up.
   */
  applicationInsights?: boolean;
}

export interface PrincipalConfig {
  clientId: string;
  clientSecret: string;
  objectId: string;
  displayName?: string;
}

export interface EmulatorConfig {
  tenantId: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  /** The deploying principal: Contributor on the resource group and Storage Blob Data Contributor on the account. */
  servicePrincipal: PrincipalConfig;
  /** Principals that exist in the tenant but hold no role (ARM answers 403 AuthorizationFailed). */
  otherPrincipals: PrincipalConfig[];
  /**
   * The managed identity of a VM that runs a self-hosted agent, served by the emulated IMDS: it holds the deploying
   * principal's roles (Contributor on the resource group, Storage Blob Data Contributor on the account).
   */
  agentVmIdentity?: { clientId: string; objectId: string };
  /** GitHub OIDC subjects trusted for the service principal (issuer GitHub, audience api://AzureADTokenExchange). */
  federatedCredentials: { subject: string; issuer?: string; audiences?: string[] }[];
  storage: { accountName: string };
  /**
   * The Azure DevOps organization whose pipeline jobs get OIDC tokens for these service connections; a `trusted`
   * connection has a federated credential on the service principal for its issuer and subject.
   */
  azurePipelines?: {
    organization: string;
    organizationId: string;
    project: string;
    projectId: string;
    connections: { id: string; name: string; issuer?: 'azure-devops' | 'entra'; trusted?: boolean }[];
  };
  /** Names of user-assigned identities (from apps' userIdentities) that hold Storage Blob Data Reader on the account. */
  blobReaderIdentities?: string[];
  apps: AppConfig[];
}

const PRESETS_URL = new URL('../presets.json', import.meta.url);

export function presetConfig(): EmulatorConfig {
  return JSON.parse(readFileSync(PRESETS_URL, 'utf8')) as EmulatorConfig;
}

const KINDS: SiteKind[] = [
  'app',
  'app,linux',
  'functionapp',
  'functionapp,linux',
  'functionapp,linux,container',
  'app,linux,container',
];

/** Check a configuration; throws one line naming the bad field. */
export function validateConfig(c: EmulatorConfig, where = 'config'): EmulatorConfig {
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  for (const k of ['tenantId', 'subscriptionId', 'resourceGroup', 'location'] as const) {
    if (typeof c[k] !== 'string' || !c[k]) fail(`'${k}' must be a non-empty string`);
  }
  if (!c.servicePrincipal?.clientId || !c.servicePrincipal.clientSecret || !c.servicePrincipal.objectId)
    fail("'servicePrincipal' needs clientId, clientSecret and objectId");
  if (!/^[a-z0-9]{3,24}$/.test(c.storage?.accountName ?? ''))
    fail("'storage.accountName' must be 3-24 lowercase letters or digits");
  if (!Array.isArray(c.apps) || c.apps.length === 0) fail("'apps' must list at least one app");
  const names = new Set<string>();
  for (const a of c.apps) {
    if (!/^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$/i.test(a.name ?? ''))
      fail(`app name '${a.name}' is not a valid site name`);
    if (names.has(a.name.toLowerCase())) fail(`app '${a.name}' is listed twice`);
    names.add(a.name.toLowerCase());
    if (!KINDS.includes(a.kind)) fail(`app '${a.name}' has unknown kind '${String(a.kind)}'`);
    if (
      a.instances !== undefined &&
      !(Number.isInteger(a.instances) && a.instances >= 1 && a.instances <= 10)
    )
      fail(`app '${a.name}' has instances ${String(a.instances)}; give a whole number from 1 to 10`);
  }
  return c;
}

/** The presets, with the top-level keys of `file` (a JSON object) replacing theirs. */
export function loadConfig(file?: string): EmulatorConfig {
  const base = presetConfig();
  if (!file) return validateConfig(base, 'presets.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(
      `${file}: cannot read the emulator config (${(err as Error).message}); pass a JSON object file`,
      {
        cause: err,
      },
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${file}: the emulator config must be a JSON object`);
  return validateConfig({ ...base, ...(parsed as Partial<EmulatorConfig>) }, file);
}
