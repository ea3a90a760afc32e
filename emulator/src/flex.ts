/**
 * Flex Consumption: the app's deployment storage (functionAppConfig.deployment.storage: a blob container URL and
 * how the platform authenticates to it — the system identity, a user-assigned identity, or an app setting holding
 * a connection string). One Deploy writes the package there as `released-package.zip`; every (re)start of the
 * app reads it from there. Access is checked as the platform's would be: the identity needs a blob write role
 * (Storage Blob Data Contributor or Owner), a connection string needs a key of the account, a network rule that
 * denies blocks it.
 */
import {
  BlobSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import type { EmulatorContext, Site, StorageAccount } from './model.js';
import { accountForUrl } from './blobfetch.js';
import { azuriteRequest } from './azurite-rest.js';

/** The blob One Deploy writes and the app runs. */
export const FLEX_PACKAGE_BLOB = 'released-package.zip';

export interface FlexStorage {
  containerUrl: string;
  account: StorageAccount | null;
  container: string;
  authType: string;
  userAssignedIdentityResourceId?: string;
  connectionStringSetting?: string;
}

export function isFlexSite(site: Site): boolean {
  return site.sku === 'FlexConsumption' || site.functionAppConfig !== null;
}

/** The deployment storage of a Flex app, or null when functionAppConfig names none. */
export function flexStorage(ctx: EmulatorContext, site: Site): FlexStorage | null {
  const dep = (site.functionAppConfig?.deployment ?? null) as {
    storage?: {
      value?: unknown;
      authentication?: {
        type?: unknown;
        userAssignedIdentityResourceId?: unknown;
        storageAccountConnectionStringName?: unknown;
      };
    };
  } | null;
  const value = dep?.storage?.value;
  if (typeof value !== 'string' || value === '') return null;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return null;
  }
  const account = accountForUrl(ctx, u);
  const container = u.pathname.replace(/\/+$/, '').split('/').pop() ?? '';
  const auth = dep?.storage?.authentication ?? {};
  return {
    containerUrl: value.replace(/\/+$/, ''),
    account,
    container,
    authType: String(auth.type ?? 'SystemAssignedIdentity'),
    ...(typeof auth.userAssignedIdentityResourceId === 'string'
      ? { userAssignedIdentityResourceId: auth.userAssignedIdentityResourceId }
      : {}),
    ...(typeof auth.storageAccountConnectionStringName === 'string'
      ? { connectionStringSetting: auth.storageAccountConnectionStringName }
      : {}),
  };
}

const FORBIDDEN =
  'Response status code does not indicate success: 403 (This request is not authorized to perform this operation.)';

/** Why the platform cannot reach the deployment storage (`access` says for what), or null when it can. */
export function flexStorageProblem(
  site: Site,
  storage: FlexStorage | null,
  access: 'read' | 'write',
): string | null {
  if (!storage) return 'the app has no deployment storage (functionAppConfig.deployment.storage)';
  const acct = storage.account;
  if (!acct)
    return `the deployment storage ${storage.containerUrl} is not a storage account the platform knows`;
  if (acct.networkDefaultAction === 'Deny') return `Azure Storage responded with Forbidden : ${FORBIDDEN}`;
  const type = storage.authType.toLowerCase();
  if (type === 'storageaccountconnectionstring') {
    const name = storage.connectionStringSetting ?? '';
    const cs = site.appSettings[name];
    if (!cs)
      return `the app setting '${name}' that should hold the deployment storage connection string is missing`;
    const key = /(?:^|;)\s*AccountKey=([^;]+)/i.exec(cs)?.[1];
    const accountName = /(?:^|;)\s*AccountName=([^;]+)/i.exec(cs)?.[1];
    if (
      !key ||
      accountName?.toLowerCase() !== acct.name.toLowerCase() ||
      !acct.keys.some((k) => k.value === key)
    )
      return `Azure Storage responded with Forbidden : Response status code does not indicate success: 403 (Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.)`;
    return null;
  }
  let principal: string | undefined;
  if (type === 'userassignedidentity') {
    const id = (storage.userAssignedIdentityResourceId ?? '').toLowerCase();
    principal = Object.entries(site.identity.userAssigned).find(([k]) => k.toLowerCase() === id)?.[1]
      .principalId;
    if (!principal)
      return `the user-assigned identity '${storage.userAssignedIdentityResourceId ?? ''}' is not assigned to the app`;
  } else {
    principal = site.identity.systemAssigned?.principalId;
    if (!principal) return 'the app has no system-assigned identity to reach its deployment storage';
  }
  const allowed =
    acct.blobWriters.includes(principal) || (access === 'read' && acct.blobReaders.includes(principal));
  return allowed ? null : `Azure Storage responded with Forbidden : ${FORBIDDEN}`;
}

/** Create the deployment container when it does not exist (as creating the Flex app does). */
export async function ensureFlexContainer(ctx: EmulatorContext, site: Site): Promise<void> {
  const s = flexStorage(ctx, site);
  if (!s?.account || !s.container || !ctx.azurite.blobEndpoint) return;
  await azuriteRequest(ctx, 'PUT', `/${s.container}`, new URLSearchParams({ restype: 'container' }));
}

/** Write the package where the app runs it from. */
export async function writeFlexPackage(ctx: EmulatorContext, site: Site, bytes: Buffer): Promise<void> {
  const s = flexStorage(ctx, site)!;
  await ensureFlexContainer(ctx, site);
  const r = await azuriteRequest(ctx, 'PUT', `/${s.container}/${FLEX_PACKAGE_BLOB}`, undefined, {
    body: bytes,
    msHeaders: { 'x-ms-blob-type': 'BlockBlob' },
  });
  if (r.status !== 201) throw new Error(`writing ${FLEX_PACKAGE_BLOB} answered ${r.status}`);
}

/** The package the app runs (null when nothing was deployed yet). */
export async function readFlexPackage(ctx: EmulatorContext, site: Site): Promise<Buffer | null> {
  const s = flexStorage(ctx, site);
  if (!s?.container || !ctx.azurite.blobEndpoint) return null;
  const r = await azuriteRequest(ctx, 'GET', `/${s.container}/${FLEX_PACKAGE_BLOB}`);
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`reading ${FLEX_PACKAGE_BLOB} answered ${r.status}`);
  return r.body;
}

/** Linux Consumption: where a zip deploy puts the package (KuduLite's LinuxConsumptionDeploymentHelper). */
export const LINUX_CONSUMPTION_CONTAINER = 'scm-releases';

export function isLinuxConsumption(site: Site): boolean {
  return site.kind.startsWith('functionapp') && site.reserved && site.sku === 'Dynamic';
}

/**
 * A zip deploy on Linux Consumption: the package goes to `scm-releases/scm-latest-<app>.zip` in the app's storage
 * account (AzureWebJobsStorage), and WEBSITE_RUN_FROM_PACKAGE becomes its URL with a 10-year read SAS; the
 * platform then runs it from there. Nothing is extracted into wwwroot. Returns the URL without its SAS.
 */
export async function storeLinuxConsumptionPackage(
  ctx: EmulatorContext,
  site: Site,
  bytes: Buffer,
): Promise<string> {
  const account = [...ctx.storageAccounts.values()][0];
  if (!account || !ctx.azurite.blobEndpoint)
    throw new Error('the app has no storage account for its package');
  const blob = `scm-latest-${site.appName}.zip`;
  await azuriteRequest(
    ctx,
    'PUT',
    `/${LINUX_CONSUMPTION_CONTAINER}`,
    new URLSearchParams({ restype: 'container' }),
  );
  const put = await azuriteRequest(ctx, 'PUT', `/${LINUX_CONSUMPTION_CONTAINER}/${blob}`, undefined, {
    body: bytes,
    msHeaders: { 'x-ms-blob-type': 'BlockBlob' },
  });
  if (put.status !== 201)
    throw new Error(`uploading the package to ${LINUX_CONSUMPTION_CONTAINER} answered ${put.status}`);
  const now = ctx.clock.now();
  const sas = generateBlobSASQueryParameters(
    {
      containerName: LINUX_CONSUMPTION_CONTAINER,
      blobName: blob,
      permissions: BlobSASPermissions.parse('r'),
      startsOn: new Date(now.getTime() - 5 * 60_000),
      expiresOn: new Date(now.getTime() + 10 * 365 * 24 * 3600_000),
      version: '2021-12-02',
    },
    new StorageSharedKeyCredential(account.name, ctx.azurite.accountKey),
  ).toString();
  const bare = `${account.blobEndpoint}${LINUX_CONSUMPTION_CONTAINER}/${blob}`;
  const url = `${bare}?${sas}`;
  site.appSettings = { ...site.appSettings, WEBSITE_RUN_FROM_PACKAGE: url };
  site.scmSettings = { ...site.scmSettings, WEBSITE_RUN_FROM_PACKAGE: url };
  return bare;
}
