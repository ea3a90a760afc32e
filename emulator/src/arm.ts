/**
 * Resource Manager stand-in (API-SPEC §3): Microsoft.Web sites and slots, Microsoft.Storage accounts, role
 * assignments and cloud metadata. Any api-version is accepted; a missing one is a 400. Bearer tokens from the
 * emulator's Entra are checked for signature, issuer, audience and expiry.
 */
import { readFileSync } from 'node:fs';
import { join as pathJoin } from 'node:path';
import { isFlexSite } from './flex.js';
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, readJson, requestUrl, sendEmpty, sendJson, sendText } from './core-http.js';
import { ARM_AUDIENCES, type Entra } from './entra.js';
import type { EmulatorContext, Faults, InsightsComponent, Site, StorageAccount } from './model.js';

export const STORAGE_BLOB_DATA_READER = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1';
export const STORAGE_BLOB_DATA_CONTRIBUTOR = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe';
export const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';

export interface ArmDeps {
  ctx: EmulatorContext;
  entra: Entra;
  /** https://127.0.0.1:<port> (no trailing slash). */
  armUrl: () => string;
  authorityUrl: () => string;
  /** Object ids that hold Contributor on the resource group (everyone else gets 403 AuthorizationFailed). */
  contributors: string[];
  /** Object ids that hold Storage Blob Data Contributor on every account. */
  storageContributors: string[];
}

type Req = IncomingMessage;
type AsyncOp = { status: 'InProgress' | 'Succeeded' | 'Failed' };
type Res = ServerResponse;

export function armError(
  res: Res,
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
) {
  sendJson(res, status, { error: { code, message } }, headers);
}

/** A Microsoft.Web resource-provider error in its PascalCase envelope. */
export function webError(res: Res, status: number, code: string, message: string): void {
  sendJson(res, status, {
    Code: code,
    Message: message,
    Target: null,
    Details: [
      { Message: message },
      { Code: code },
      {
        ErrorEntity: {
          ExtendedCode: '04001',
          MessageTemplate: message,
          Parameters: [],
          Code: code,
          Message: message,
        },
      },
    ],
    Innererror: null,
  });
}

/** Take one hit of a counted fault; returns it when it fired. */
function takeArmFault(ctx: EmulatorContext, appName: string | null, path: string): Faults['arm'] | undefined {
  for (const key of [appName, '*']) {
    if (!key) continue;
    const f = ctx.faults.get(key);
    const arm = f?.arm;
    if (!arm || arm.count <= 0) continue;
    if (arm.pathContains && !path.toLowerCase().includes(arm.pathContains.toLowerCase())) continue;
    arm.count -= 1;
    return arm;
  }
  return undefined;
}

function guidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function identityJson(site: Site, tenantId: string): Record<string, unknown> | null {
  const sys = site.identity.systemAssigned;
  const users = Object.entries(site.identity.userAssigned);
  if (!sys && users.length === 0) return { type: 'None' };
  const type = sys && users.length ? 'SystemAssigned, UserAssigned' : sys ? 'SystemAssigned' : 'UserAssigned';
  const out: Record<string, unknown> = { type };
  if (sys) {
    out.principalId = sys.principalId;
    out.tenantId = tenantId;
  }
  if (users.length) out.userAssignedIdentities = Object.fromEntries(users);
  return out;
}

function siteName(site: Site): string {
  return site.slotName ? `${site.appName}/${site.slotName}` : site.appName;
}

export function siteJson(site: Site, ctx: EmulatorContext): Record<string, unknown> {
  const serverFarmId = `/subscriptions/${ctx.subscriptionId}/resourceGroups/${ctx.resourceGroup}/providers/Microsoft.Web/serverfarms/${site.appName}-plan`;
  return {
    id: site.id,
    name: siteName(site),
    type: site.slotName ? 'Microsoft.Web/sites/slots' : 'Microsoft.Web/sites',
    kind: site.kind,
    location: site.location,
    tags: {},
    identity: identityJson(site, ctx.tenantId),
    properties: {
      name: siteName(site),
      state: site.state,
      hostNames: [site.defaultHostName],
      repositorySiteName: site.appName,
      usageState: 'Normal',
      enabled: true,
      enabledHostNames: [site.defaultHostName, site.scmHostName],
      availabilityState: 'Normal',
      hostNameSslStates: [
        { name: site.defaultHostName, sslState: 'Disabled', hostType: 'Standard' },
        { name: site.scmHostName, sslState: 'Disabled', hostType: 'Repository' },
      ],
      serverFarmId,
      reserved: site.reserved,
      isXenon: false,
      hyperV: false,
      siteConfig: {
        numberOfWorkers: 1,
        linuxFxVersion: site.linuxFxVersion,
        windowsFxVersion: null,
        alwaysOn: false,
        http20Enabled: false,
        functionAppScaleLimit: site.sku === 'Dynamic' ? 200 : 0,
        minimumElasticInstanceCount: 0,
      },
      functionAppConfig: site.functionAppConfig,
      sku: site.sku,
      scmSiteAlsoStopped: false,
      clientAffinityEnabled: true,
      httpsOnly: true,
      defaultHostName: site.defaultHostName,
      resourceGroup: ctx.resourceGroup,
      slotSwapStatus: null,
      redundancyMode: 'None',
      publicNetworkAccess: 'Enabled',
    },
  };
}

function configWebJson(site: Site): Record<string, unknown> {
  return {
    id: `${site.id}/config/web`,
    name: 'web',
    type: 'Microsoft.Web/sites/config',
    location: site.location,
    properties: {
      numberOfWorkers: 1,
      netFrameworkVersion: 'v4.0',
      nodeVersion: site.reserved ? '' : site.stack === 'node' ? '~20' : '',
      linuxFxVersion: site.linuxFxVersion,
      windowsFxVersion: null,
      requestTracingEnabled: false,
      remoteDebuggingEnabled: false,
      httpLoggingEnabled: false,
      alwaysOn: false,
      use32BitWorkerProcess: !site.reserved,
      webSocketsEnabled: false,
      scmType: 'None',
      http20Enabled: false,
      minTlsVersion: '1.2',
      scmMinTlsVersion: '1.2',
      ftpsState: 'FtpsOnly',
      functionAppScaleLimit: site.sku === 'Dynamic' ? 200 : 0,
      healthCheckPath: null,
      appCommandLine: site.appCommandLine,
      appSettings: null,
      connectionStrings: null,
      ipSecurityRestrictions: [
        { ipAddress: 'Any', action: 'Allow', priority: 2147483647, name: 'Allow all' },
      ],
      scmIpSecurityRestrictions: [
        { ipAddress: 'Any', action: 'Allow', priority: 2147483647, name: 'Allow all' },
      ],
      scmIpSecurityRestrictionsUseMain: false,
    },
  };
}

function appSettingsJson(site: Site): Record<string, unknown> {
  return {
    id: `${site.id}/config/appsettings`,
    name: 'appsettings',
    type: 'Microsoft.Web/sites/config',
    location: site.location,
    properties: { ...site.appSettings },
  };
}

function componentJson(c: InsightsComponent, location: string): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    type: 'microsoft.insights/components',
    location,
    kind: 'web',
    properties: {
      ApplicationId: c.name,
      Application_Type: 'web',
      InstrumentationKey: c.instrumentationKey,
      ConnectionString: c.connectionString,
      provisioningState: 'Succeeded',
    },
  };
}

function connectionStringsJson(site: Site): Record<string, unknown> {
  return {
    id: `${site.id}/config/connectionstrings`,
    name: 'connectionstrings',
    type: 'Microsoft.Web/sites/config',
    location: site.location,
    properties: structuredClone(site.connectionStrings),
  };
}

/** Resource Manager's ConnectionStringType values. */
const CONNECTION_STRING_TYPES = [
  'MySql',
  'SQLServer',
  'SQLAzure',
  'Custom',
  'NotificationHub',
  'ServiceBus',
  'EventHub',
  'ApiHub',
  'DocDb',
  'RedisCache',
  'PostgreSQL',
];

function xmlAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function publishXml(site: Site): string {
  const name = siteName(site).replace('/', '-');
  const msdeploySite = site.slotName ? `${site.appName}__${site.slotName}` : site.appName;
  const common = (profile: string, method: string, url: string, extra = '') =>
    `  <publishProfile profileName="${xmlAttr(`${name} - ${profile}`)}" publishMethod="${method}" publishUrl="${xmlAttr(url)}"${extra} userName="${xmlAttr(site.publishingUserName)}" userPWD="${xmlAttr(site.publishingPassword)}" destinationAppUrl="https://${site.defaultHostName}" SQLServerDBConnectionString="" mySQLDBConnectionString="" hostingProviderForumLink="" controlPanelLink="https://portal.azure.com" webSystem="WebSites"><databases /></publishProfile>`;
  return [
    '<publishData>',
    common('Web Deploy', 'MSDeploy', `${site.scmHostName}:443`, ` msdeploySite="${xmlAttr(msdeploySite)}"`),
    common(
      'FTP',
      'FTP',
      `ftps://waws-prod-emu-001.ftp.azurewebsites.emulator.test/site/wwwroot`,
      ' ftpPassiveMode="True"',
    ).replace(
      `userName="${xmlAttr(site.publishingUserName)}"`,
      `userName="${xmlAttr(`${msdeploySite}\\${site.publishingUserName}`)}"`,
    ),
    common('Zip Deploy', 'ZipDeploy', `${site.scmHostName}:443`),
    '</publishData>',
  ].join('\n');
}

function publishingCredentialsJson(site: Site): Record<string, unknown> {
  const user = encodeURIComponent(site.publishingUserName).replace(/%24/g, '$');
  return {
    id: `${site.id}/publishingcredentials/${site.publishingUserName}`,
    name: siteName(site),
    type: 'Microsoft.Web/sites/publishingcredentials',
    location: site.location,
    properties: {
      name: null,
      publishingUserName: site.publishingUserName,
      publishingPassword: site.publishingPassword,
      publishingPasswordHash: null,
      publishingPasswordHashSalt: null,
      metadata: null,
      isDeleted: false,
      scmUri: `https://${user}:${encodeURIComponent(site.publishingPassword)}@${site.scmHostName}`,
    },
  };
}

function policyJson(site: Site, which: 'scm' | 'ftp'): Record<string, unknown> {
  return {
    id: `${site.id}/basicPublishingCredentialsPolicies/${which}`,
    name: which,
    type: 'Microsoft.Web/sites/basicPublishingCredentialsPolicies',
    properties: { allow: site.basicAuthAllowed[which] },
  };
}

export function storageAccountJson(a: StorageAccount, location: string): Record<string, unknown> {
  const base = a.blobEndpoint;
  return {
    id: a.id,
    name: a.name,
    type: 'Microsoft.Storage/storageAccounts',
    kind: 'StorageV2',
    location,
    sku: { name: 'Standard_LRS', tier: 'Standard' },
    tags: {},
    properties: {
      provisioningState: 'Succeeded',
      primaryEndpoints: {
        blob: base,
        dfs: base.replace(/\/$/, '-dfs/'),
        queue: base.replace(/\/$/, '-queue/'),
        table: base.replace(/\/$/, '-table/'),
        file: base.replace(/\/$/, '-file/'),
        web: base.replace(/\/$/, '-web/'),
      },
      primaryLocation: location,
      statusOfPrimary: 'available',
      allowSharedKeyAccess: a.allowSharedKeyAccess,
      allowBlobPublicAccess: a.allowBlobPublicAccess,
      minimumTlsVersion: 'TLS1_2',
      supportsHttpsTrafficOnly: true,
      accessTier: 'Hot',
      publicNetworkAccess: 'Enabled',
      networkAcls: {
        bypass: 'AzureServices',
        defaultAction: a.networkDefaultAction,
        ipRules: [],
        virtualNetworkRules: [],
      },
      encryption: {
        keySource: 'Microsoft.Storage',
        services: { blob: { enabled: true, keyType: 'Account' } },
      },
    },
  };
}

function stickyPartition(settings: Record<string, string>, sticky: Set<string>) {
  const keep: Record<string, string> = {};
  const move: Record<string, string> = {};
  for (const [k, v] of Object.entries(settings)) (sticky.has(k) ? keep : move)[k] = v;
  return { keep, move };
}

export function createArm(deps: ArmDeps) {
  const { ctx, entra } = deps;
  const swapping = new Set<string>();
  /** Apps whose restart answers 202 and completes asynchronously (set through admin). */
  const asyncRestart = new Set<string>();
  const operations = new Map<string, AsyncOp>();

  function applySettings(site: Site, settings: Record<string, string>): void {
    site.appSettings = { ...settings };
    const fault = ctx.faults.get(site.appName)?.settingsLagMs ?? ctx.faults.get('*')?.settingsLagMs ?? 0;
    const snapshot = { ...settings };
    if (fault > 0) {
      setTimeout(() => {
        if (site.appSettings === settings || JSON.stringify(site.appSettings) === JSON.stringify(snapshot))
          site.scmSettings = snapshot;
      }, fault).unref();
    } else {
      site.scmSettings = snapshot;
    }
  }

  function workerOf(site: Site) {
    return ctx.workers.get(site.id.toLowerCase());
  }

  function restartInBackground(site: Site): void {
    const w = workerOf(site);
    if (w) void w.restart().catch(() => undefined);
  }

  function findSite(app: string, slot: string | null): Site | undefined {
    for (const s of ctx.sites.values()) {
      if (
        s.appName.toLowerCase() === app.toLowerCase() &&
        (s.slotName ?? null)?.toLowerCase() === slot?.toLowerCase()
      )
        return s;
      if (s.appName.toLowerCase() === app.toLowerCase() && s.slotName === null && slot === null) return s;
    }
    return undefined;
  }

  function allSites(): Site[] {
    return [...ctx.sites.values()];
  }

  function notFound(res: Res, type: string, name: string): void {
    armError(
      res,
      404,
      'ResourceNotFound',
      `The Resource '${type}/${name}' under resource group '${ctx.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    );
  }

  function metadata(): Record<string, unknown> {
    const arm = deps.armUrl();
    const host = new URL(arm).host;
    return {
      name: 'AzureEmulator',
      portal: `${arm}/portal`,
      gallery: `${arm}/gallery/`,
      graph: `${arm}/graph/`,
      microsoftGraphResourceId: 'https://graph.microsoft.com/',
      resourceManager: `${arm}/`,
      sqlManagement: `${arm}/sql/`,
      batch: 'https://batch.core.windows.net/',
      media: `${arm}/media/`,
      activeDirectoryDataLake: 'https://datalake.azure.net/',
      appInsightsResourceId: 'https://api.applicationinsights.io',
      appInsightsTelemetryChannelResourceId: 'https://dc.applicationinsights.azure.com/v2/track',
      attestationResourceId: 'https://attest.azure.net',
      synapseAnalyticsResourceId: 'https://dev.azuresynapse.net',
      logAnalyticsResourceId: 'https://api.loganalytics.io',
      ossrDbmsResourceId: 'https://ossrdbms-aad.database.windows.net',
      vmImageAliasDoc: '',
      authentication: {
        loginEndpoint: deps.authorityUrl(),
        audiences: ['https://management.core.windows.net/', 'https://management.azure.com/'],
        tenant: 'common',
        identityProvider: 'AAD',
      },
      suffixes: {
        acrLoginServer: 'azurecr.emulator.test',
        sqlServerHostname: 'database.emulator.test',
        keyVaultDns: 'vault.emulator.test',
        storage: host,
        storageSyncEndpointSuffix: 'afs.emulator.test',
        mhsmDns: 'managedhsm.emulator.test',
        mysqlServerEndpoint: 'mysql.emulator.test',
        postgresqlServerEndpoint: 'postgres.emulator.test',
        mariadbServerEndpoint: 'mariadb.emulator.test',
        synapseAnalytics: 'dev.azuresynapse.emulator.test',
        attestationEndpoint: 'attest.emulator.test',
      },
    };
  }

  /** Authenticate and authorize; returns false after answering when the caller may not proceed. */
  function authorize(req: Req, res: Res, action: string, scope: string): boolean {
    const h = req.headers.authorization;
    if (!h) {
      armError(
        res,
        401,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is missing.",
        {
          'WWW-Authenticate': `Bearer authorization_uri="${deps.authorityUrl()}/${ctx.tenantId}", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`,
        },
      );
      return false;
    }
    const token = bearerToken(req);
    if (!token) {
      armError(
        res,
        401,
        'AuthenticationFailedInvalidHeader',
        "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      );
      return false;
    }
    const check = entra.checkToken(token);
    if (!check.ok) {
      if (check.reason === 'expired') {
        armError(
          res,
          401,
          'ExpiredAuthenticationToken',
          'The access token expiry UTC time is earlier than current UTC time.',
        );
      } else {
        armError(res, 401, 'InvalidAuthenticationToken', 'The access token is invalid.');
      }
      return false;
    }
    if (!ARM_AUDIENCES.includes(check.claims.aud)) {
      armError(
        res,
        401,
        'InvalidAuthenticationTokenAudience',
        `The access token has been obtained for wrong audience or resource '${check.claims.aud}'. It should exactly match with one of the allowed audiences '${ARM_AUDIENCES.join("','")}'.`,
      );
      return false;
    }
    if (check.claims.tid !== ctx.tenantId) {
      armError(
        res,
        401,
        'InvalidAuthenticationTokenTenant',
        `The access token is from the wrong issuer '${check.claims.iss}'.`,
      );
      return false;
    }
    if (!deps.contributors.includes(check.claims.oid)) {
      armError(
        res,
        403,
        'AuthorizationFailed',
        `The client '${check.claims.appid}' with object id '${check.claims.oid}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      );
      return false;
    }
    return true;
  }

  async function siteOperation(req: Req, res: Res, site: Site, rest: string[], path: string): Promise<void> {
    const m = req.method ?? 'GET';
    const op = rest.map((s) => s.toLowerCase()).join('/');
    const isFunctionApp = site.kind.startsWith('functionapp');
    const worker = workerOf(site);
    const production = site.slotName ? findSite(site.appName, null)! : site;

    if (op === '' && m === 'GET') return sendJson(res, 200, siteJson(site, ctx));
    if (op === 'config/web' && m === 'GET') return sendJson(res, 200, configWebJson(site));
    if (op === 'config/web' && (m === 'PATCH' || m === 'PUT')) {
      const body = (await readJson(req).catch(() => null)) as { properties?: Record<string, unknown> } | null;
      const props = body?.properties;
      if (!props || typeof props !== 'object' || Array.isArray(props))
        return webError(res, 400, 'BadRequest', "The parameter 'properties' has an invalid value.");
      if (props.appCommandLine !== undefined && props.appCommandLine !== null) {
        if (typeof props.appCommandLine !== 'string')
          return webError(
            res,
            400,
            'BadRequest',
            "The parameter 'properties.appCommandLine' has an invalid value: a string is required.",
          );
        site.appCommandLine = props.appCommandLine;
      }
      // Other site configuration properties are accepted and not modelled.
      restartInBackground(site);
      return sendJson(res, 200, configWebJson(site));
    }
    if (op === 'config/connectionstrings/list' && m === 'POST')
      return sendJson(res, 200, connectionStringsJson(site));
    if (op === 'config/connectionstrings' && m === 'PUT') {
      const body = (await readJson(req).catch(() => null)) as { properties?: unknown } | null;
      const props = body?.properties;
      if (!props || typeof props !== 'object' || Array.isArray(props))
        return webError(
          res,
          400,
          'BadRequest',
          "The parameter 'properties' has an invalid value: an object of connection strings is required.",
        );
      const next: Site['connectionStrings'] = {};
      for (const [k, v] of Object.entries(props as Record<string, unknown>)) {
        const cs = v as { value?: unknown; type?: unknown } | null;
        const type = CONNECTION_STRING_TYPES.find(
          (t) => typeof cs?.type === 'string' && t.toLowerCase() === cs.type.toLowerCase(),
        );
        if (!cs || typeof cs.value !== 'string' || !type)
          return webError(
            res,
            400,
            'BadRequest',
            `The parameter 'properties.${k}' has an invalid value: a connection string needs a string value and a type (${CONNECTION_STRING_TYPES.join(', ')}).`,
          );
        next[k] = { value: cs.value, type };
      }
      site.connectionStrings = next;
      restartInBackground(site);
      return sendJson(res, 200, connectionStringsJson(site));
    }
    if (op === 'config/appsettings/list' && m === 'POST') return sendJson(res, 200, appSettingsJson(site));
    if (op === 'config/appsettings' && m === 'PUT') {
      const body = (await readJson(req).catch(() => null)) as { properties?: unknown } | null;
      const props = body?.properties;
      if (!props || typeof props !== 'object' || Array.isArray(props)) {
        return webError(
          res,
          400,
          'BadRequest',
          "The parameter 'properties' has an invalid value: an object of string settings is required.",
        );
      }
      for (const [k, v] of Object.entries(props)) {
        if (typeof v !== 'string') {
          return webError(
            res,
            400,
            'BadRequest',
            `The parameter 'properties.${k}' has an invalid value: app setting values must be strings.`,
          );
        }
      }
      // A Flex app accepts WEBSITE_RUN_FROM_PACKAGE as a setting; its deployments then fail with "App setting
      // WEBSITE_RUN_FROM_PACKAGE is not supported…" (the status text the .NET worker SDK's Flex publish reports).
      applySettings(site, props as Record<string, string>);
      restartInBackground(site);
      return sendJson(res, 200, appSettingsJson(site));
    }
    if (op === 'config/slotconfignames' && !site.slotName) {
      if (m === 'GET') {
        return sendJson(res, 200, {
          id: `${site.id}/config/slotConfigNames`,
          name: 'slotConfigNames',
          type: 'Microsoft.Web/sites/config',
          properties: site.slotConfigNames,
        });
      }
      if (m === 'PUT') {
        const body = (await readJson(req).catch(() => null)) as {
          properties?: Record<string, unknown>;
        } | null;
        const p = body?.properties ?? {};
        const list = (v: unknown) =>
          Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
        site.slotConfigNames = {
          appSettingNames: list(p.appSettingNames),
          connectionStringNames: list(p.connectionStringNames),
          azureStorageConfigNames: list(p.azureStorageConfigNames),
        };
        return sendJson(res, 200, {
          id: `${site.id}/config/slotConfigNames`,
          name: 'slotConfigNames',
          type: 'Microsoft.Web/sites/config',
          properties: site.slotConfigNames,
        });
      }
    }
    if (op === 'config/publishingcredentials/list' && m === 'POST')
      return sendJson(res, 200, publishingCredentialsJson(site));
    if (op === 'publishxml' && m === 'POST') return sendText(res, 200, publishXml(site), 'application/xml');
    const policy = /^basicpublishingcredentialspolicies\/(scm|ftp)$/.exec(op);
    if (policy) {
      const which = policy[1] as 'scm' | 'ftp';
      if (m === 'GET') return sendJson(res, 200, policyJson(site, which));
      if (m === 'PUT') {
        const body = (await readJson(req).catch(() => null)) as { properties?: { allow?: unknown } } | null;
        if (typeof body?.properties?.allow !== 'boolean') {
          return webError(res, 400, 'BadRequest', "The parameter 'properties.allow' must be true or false.");
        }
        site.basicAuthAllowed[which] = body.properties.allow;
        return sendJson(res, 200, policyJson(site, which));
      }
    }
    if (op === 'basicpublishingcredentialspolicies' && m === 'GET') {
      return sendJson(res, 200, { value: [policyJson(site, 'ftp'), policyJson(site, 'scm')] });
    }
    if (op === 'restart' && m === 'POST') {
      const url = requestUrl(req);
      const synchronous = url.searchParams.get('synchronous') === 'true';
      if (asyncRestart.has(site.appName.toLowerCase())) {
        // The optional long-running path (checklist 27): 202 + Azure-AsyncOperation and Location.
        const id = guidFrom(`${site.id}|${Date.now()}|${Math.random()}`);
        const done = worker
          ? worker.restart().then(
              () => true,
              () => false,
            )
          : Promise.resolve(true);
        const op: AsyncOp = { status: 'InProgress' };
        operations.set(id, op);
        void done.then((ok) => (op.status = ok ? 'Succeeded' : 'Failed'));
        const base = `${deps.armUrl()}/subscriptions/${ctx.subscriptionId}/providers/Microsoft.Web/locations/${encodeURIComponent(site.location.replace(/\s+/g, ''))}`;
        const version = url.searchParams.get('api-version') ?? '2024-11-01';
        return sendEmpty(res, 202, {
          'Azure-AsyncOperation': `${base}/operationResults/${id}?api-version=${version}&kind=async`,
          Location: `${base}/operationResults/${id}?api-version=${version}&kind=location`,
          'Retry-After': '1',
        });
      }
      if (worker) {
        if (synchronous) await worker.restart();
        else void worker.restart().catch(() => undefined);
      }
      return sendEmpty(res, 200);
    }
    if (op === 'stop' && m === 'POST') {
      site.state = 'Stopped';
      if (worker) await worker.stop();
      return sendEmpty(res, 200);
    }
    if (op === 'start' && m === 'POST') {
      site.state = 'Running';
      if (worker) await worker.start();
      return sendEmpty(res, 200);
    }
    if (
      m === 'POST' &&
      (op === 'syncfunctiontriggers' ||
        op === 'host/default/sync' ||
        op === 'hostruntime/admin/host/synctriggers')
    ) {
      if (!isFunctionApp)
        return webError(res, 400, 'BadRequest', `Site '${siteName(site)}' is not a function app.`);
      if (worker?.state() === 'starting') {
        return webError(
          res,
          400,
          'BadRequest',
          'Encountered an error (ServiceUnavailable) from host runtime: the Functions host is starting.',
        );
      }
      site.triggerSyncs.push({ time: ctx.clock.now().toISOString(), path });
      return sendEmpty(res, op === 'syncfunctiontriggers' ? 204 : 200);
    }
    if ((op === 'deployments' || op.startsWith('deployments/')) && m === 'GET') {
      // Web Apps - List Deployments / Get Deployment: the site's deployment history (what Kudu keeps), as the
      // portal's Deployment Center reads it.
      const envelope = (r: Site['deployments'][number]) => ({
        id: `${site.id}/deployments/${r.id}`,
        name: `${siteName(site)}/${r.id}`,
        type: site.slotName ? 'Microsoft.Web/sites/slots/deployments' : 'Microsoft.Web/sites/deployments',
        properties: {
          status: r.status,
          message: r.message,
          author: r.author,
          deployer: r.deployer,
          author_email: r.author_email,
          start_time: r.start_time,
          end_time: r.end_time,
          active: r.active,
          details: r.log_url,
        },
      });
      if (op === 'deployments')
        return sendJson(res, 200, { value: site.deployments.map(envelope), nextLink: null });
      const wanted = decodeURIComponent(rest.slice(1).join('/'));
      const found = site.deployments.find((r) => r.id.toLowerCase() === wanted.toLowerCase());
      if (!found) return webError(res, 404, 'NotFound', `Deployment '${wanted}' was not found.`);
      return sendJson(res, 200, envelope(found));
    }
    if (op === 'instances' && m === 'GET') {
      // The scale-out instances (Web Apps - List Instance Identifiers); `name` is the ARRAffinity value.
      const list = worker?.instances ? worker.instances() : [];
      const scm = `https://${site.scmHostName}`;
      return sendJson(res, 200, {
        value: list.map((i) => ({
          id: `${site.id}/instances/${i.id}`,
          name: i.id,
          type: site.slotName ? 'Microsoft.Web/sites/slots/instances' : 'Microsoft.Web/sites/instances',
          location: site.location,
          properties: {
            state: worker?.state() === 'stopped' ? 'STOPPED' : 'READY',
            statusUrl: `${scm}/api/processes`,
            consoleUrl: `${scm}/DebugConsole`,
            healthCheckUrl: null,
          },
        })),
        nextLink: null,
      });
    }
    if (op === 'functions' && m === 'GET') {
      const indexed = isFunctionApp && worker ? worker.mounted().functions : [];
      // A Flex Consumption host that indexed none of the package's functions lists only the platform's WarmUp
      // trigger (what users see when a deployment "succeeded" with content the host cannot load).
      const names = indexed.length === 0 && isFlexSite(site) ? ['WarmUp'] : indexed;
      // Each function's config is its function.json as the host read it from the mounted content.
      const dir = worker?.mounted().dir ?? null;
      const configOf = (fn: string): unknown => {
        if (!dir) return {};
        try {
          return JSON.parse(readFileSync(pathJoin(dir, fn, 'function.json'), 'utf8')) as unknown;
        } catch {
          return {};
        }
      };
      return sendJson(res, 200, {
        value: names.map((fn) => ({
          id: `${site.id}/functions/${fn}`,
          name: `${siteName(site)}/${fn}`,
          type: 'Microsoft.Web/sites/functions',
          location: site.location,
          properties: {
            name: fn,
            function_app_id: site.id,
            script_root_path_href: `https://${site.scmHostName}/api/vfs/site/wwwroot/${fn}/`,
            config_href: `https://${site.scmHostName}/api/vfs/site/wwwroot/${fn}/function.json`,
            href: `https://${site.scmHostName}/api/functions/${fn}`,
            invoke_url_template: `https://${site.defaultHostName}/api/${fn.toLowerCase()}`,
            language: 'node',
            isDisabled: false,
            config: configOf(fn),
          },
        })),
        nextLink: null,
      });
    }
    if (op === 'slotsswap' && m === 'POST') {
      const body = (await readJson(req).catch(() => null)) as { targetSlot?: unknown } | null;
      const target = typeof body?.targetSlot === 'string' ? body.targetSlot : '';
      const other =
        target.toLowerCase() === 'production' ? findSite(site.appName, null) : findSite(site.appName, target);
      if (!target || !other || other === site) {
        return webError(
          res,
          400,
          'BadRequest',
          `Cannot swap site '${siteName(site)}' with target slot '${target}': the target slot does not exist.`,
        );
      }
      const key = site.appName.toLowerCase();
      if (swapping.has(key)) {
        return webError(
          res,
          409,
          'Conflict',
          `Cannot modify this site because another operation is in progress. Details: Operation: SwapSiteSlots, Site: ${site.appName}`,
        );
      }
      swapping.add(key);
      try {
        const sticky = new Set(production.slotConfigNames.appSettingNames);
        const a = stickyPartition(site.appSettings, sticky);
        const b = stickyPartition(other.appSettings, sticky);
        applySettings(site, { ...a.keep, ...b.move });
        applySettings(other, { ...b.keep, ...a.move });
        // Connection strings travel like app settings (sticky names stay); so does the startup command.
        const stickyStrings = new Set(production.slotConfigNames.connectionStringNames);
        const split = (x: Site['connectionStrings']) => {
          const keep: Site['connectionStrings'] = {};
          const move: Site['connectionStrings'] = {};
          for (const [k, v] of Object.entries(x)) (stickyStrings.has(k) ? keep : move)[k] = v;
          return { keep, move };
        };
        const ca = split(site.connectionStrings);
        const cb = split(other.connectionStrings);
        site.connectionStrings = { ...ca.keep, ...cb.move };
        other.connectionStrings = { ...cb.keep, ...ca.move };
        [site.appCommandLine, other.appCommandLine] = [other.appCommandLine, site.appCommandLine];
        // Content and Kudu's deployment history both live under %HOME%, so they travel together
        const home = site.homeDir;
        site.homeDir = other.homeDir;
        other.homeDir = home;
        const history = site.deployments;
        site.deployments = other.deployments;
        other.deployments = history;
        await Promise.all(
          [workerOf(site)?.restart(), workerOf(other)?.restart()].map((p) => p?.catch(() => undefined)),
        );
      } finally {
        swapping.delete(key);
      }
      return sendEmpty(res, 200);
    }
    if (op === 'slots' && m === 'GET' && !site.slotName) {
      const slots = allSites().filter((s) => s.appName === site.appName && s.slotName);
      return sendJson(res, 200, { value: slots.map((s) => siteJson(s, ctx)), nextLink: null });
    }
    return armError(
      res,
      404,
      'NotFound',
      `No route for ${m} ${rest.join('/') || '(site)'} on Microsoft.Web/sites in this emulator.`,
    );
  }

  function roleAssignments(scope: string, filter: string | null): Record<string, unknown>[] {
    const s = scope.replace(/\/+$/, '').toLowerCase();
    const principal = /principalId\s+eq\s+'([^']+)'/i.exec(filter ?? '')?.[1];
    const atScopeOnly = /atScope\(\)/i.test(filter ?? '');
    const out: Record<string, unknown>[] = [];
    const add = (atScope: string, principalId: string, roleId: string) => {
      const at = atScope.toLowerCase();
      const applies = atScopeOnly ? at === s : s === at || s.startsWith(`${at}/`) || at.startsWith(`${s}/`);
      if (!applies) return;
      if (principal && principal !== principalId) return;
      const name = guidFrom(`${atScope}|${principalId}|${roleId}`);
      out.push({
        id: `${atScope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
        name,
        type: 'Microsoft.Authorization/roleAssignments',
        properties: {
          roleDefinitionId: `/subscriptions/${ctx.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`,
          principalId,
          principalType: 'ServicePrincipal',
          scope: atScope,
        },
      });
    };
    const rgId = `/subscriptions/${ctx.subscriptionId}/resourceGroups/${ctx.resourceGroup}`;
    for (const oid of deps.contributors) add(rgId, oid, CONTRIBUTOR);
    for (const a of ctx.storageAccounts.values()) {
      for (const oid of deps.storageContributors) add(a.id, oid, STORAGE_BLOB_DATA_CONTRIBUTOR);
      for (const oid of a.blobReaders) add(a.id, oid, STORAGE_BLOB_DATA_READER);
      for (const oid of a.blobWriters) add(a.id, oid, STORAGE_BLOB_DATA_CONTRIBUTOR);
    }
    return out;
  }

  async function route(req: Req, res: Res): Promise<void> {
    const url = requestUrl(req);
    const m = req.method ?? 'GET';
    const segs = url.pathname
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
    const lower = segs.map((s) => s.toLowerCase());
    const path = url.pathname;

    if (!url.searchParams.get('api-version')) {
      return armError(
        res,
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    if (lower[0] === 'metadata' && lower[1] === 'endpoints' && segs.length === 2 && m === 'GET') {
      return sendJson(res, 200, metadata());
    }

    const appName =
      lower[0] === 'subscriptions' && lower[5] === 'microsoft.web' && lower[6] === 'sites'
        ? (segs[7] ?? null)
        : null;
    const fault = takeArmFault(ctx, appName, path);
    if (fault) {
      const retryAfter = String(fault.retryAfter ?? 1);
      if (fault.status === 429) {
        return armError(
          res,
          429,
          'SubscriptionRequestsThrottled',
          `Number of requests for subscription '${ctx.subscriptionId}' exceeded the limit. Please try again after '${retryAfter}' seconds.`,
          { 'Retry-After': retryAfter },
        );
      }
      return armError(
        res,
        fault.status,
        fault.status === 503 ? 'ServiceUnavailable' : 'InternalServerError',
        'The server encountered a temporary error. Please retry the request.',
        { 'Retry-After': retryAfter },
      );
    }

    const roleIdx = lower.findIndex(
      (s, i) =>
        s === 'providers' && lower[i + 1] === 'microsoft.authorization' && lower[i + 2] === 'roleassignments',
    );
    const scopePath = '/' + segs.slice(0, roleIdx < 0 ? segs.length : roleIdx).join('/');
    const action = (() => {
      if (roleIdx >= 0) return 'Microsoft.Authorization/roleAssignments/read';
      if (lower.includes('microsoft.storage'))
        return lower.includes('listkeys')
          ? 'Microsoft.Storage/storageAccounts/listKeys/action'
          : 'Microsoft.Storage/storageAccounts/read';
      if (lower.includes('appsettings') && lower.includes('list'))
        return 'Microsoft.Web/sites/config/list/action';
      return m === 'GET' ? 'Microsoft.Web/sites/read' : 'Microsoft.Web/sites/write';
    })();
    if (!authorize(req, res, action, scopePath)) return;

    if (lower[0] !== 'subscriptions') return armError(res, 404, 'NotFound', `No route for ${m} ${path}.`);
    if (segs.length === 1 && m === 'GET') {
      return sendJson(res, 200, {
        value: [
          {
            id: `/subscriptions/${ctx.subscriptionId}`,
            subscriptionId: ctx.subscriptionId,
            tenantId: ctx.tenantId,
            displayName: 'runpack emulator subscription',
            state: 'Enabled',
            authorizationSource: 'RoleBased',
          },
        ],
        count: { type: 'Total', value: 1 },
      });
    }
    if (segs[1] !== ctx.subscriptionId) {
      return armError(res, 404, 'SubscriptionNotFound', `The subscription '${segs[1]}' could not be found.`);
    }
    if (
      lower[2] === 'providers' &&
      lower[3] === 'microsoft.web' &&
      lower[4] === 'locations' &&
      lower[6] === 'operationresults' &&
      segs.length === 8 &&
      m === 'GET'
    ) {
      const op = operations.get(segs[7]!);
      if (!op) return armError(res, 404, 'NotFound', `Operation '${segs[7]}' was not found.`);
      if (url.searchParams.get('kind') === 'location') {
        return op.status === 'InProgress'
          ? sendEmpty(res, 202, { Location: `${deps.armUrl()}${req.url}`, 'Retry-After': '1' })
          : sendEmpty(res, op.status === 'Succeeded' ? 200 : 500);
      }
      return sendJson(res, 200, {
        status: op.status,
        ...(op.status === 'Failed'
          ? { error: { code: 'RestartFailed', message: 'The restart did not complete.' } }
          : {}),
      });
    }
    if (roleIdx >= 0 && m === 'GET') {
      return sendJson(res, 200, { value: roleAssignments(scopePath, url.searchParams.get('$filter')) });
    }
    if (segs.length === 2 && m === 'GET') {
      return sendJson(res, 200, {
        id: `/subscriptions/${ctx.subscriptionId}`,
        subscriptionId: ctx.subscriptionId,
        tenantId: ctx.tenantId,
        displayName: 'runpack emulator subscription',
        state: 'Enabled',
      });
    }
    // Subscription-level lists.
    if (lower[2] === 'providers' && segs.length === 5 && m === 'GET') {
      if (lower[3] === 'microsoft.web' && lower[4] === 'sites') {
        return sendJson(res, 200, {
          value: allSites()
            .filter((s) => !s.slotName)
            .map((s) => siteJson(s, ctx)),
          nextLink: null,
        });
      }
      if (lower[3] === 'microsoft.storage' && lower[4] === 'storageaccounts') {
        return sendJson(res, 200, {
          value: [...ctx.storageAccounts.values()].map((a) => storageAccountJson(a, locationOf())),
        });
      }
      if (lower[3] === 'microsoft.insights' && lower[4] === 'components') {
        // `$filter=InstrumentationKey eq '<key>'`, as the App Service deploy tasks look a component up.
        const filter = /InstrumentationKey eq '([^']*)'/i.exec(
          new URL(req.url ?? '/', 'https://x').searchParams.get('$filter') ?? '',
        )?.[1];
        return sendJson(res, 200, {
          value: [...ctx.components.values()]
            .filter((c) => !filter || c.instrumentationKey.toLowerCase() === filter.toLowerCase())
            .map((c) => componentJson(c, locationOf())),
        });
      }
    }
    if (lower[2] !== 'resourcegroups') return armError(res, 404, 'NotFound', `No route for ${m} ${path}.`);
    if (segs.length === 3 && m === 'GET') {
      return sendJson(res, 200, { value: [rgJson()] });
    }
    if (segs[3]?.toLowerCase() !== ctx.resourceGroup.toLowerCase()) {
      return armError(res, 404, 'ResourceGroupNotFound', `Resource group '${segs[3]}' could not be found.`);
    }
    if (segs.length === 4 && m === 'GET') return sendJson(res, 200, rgJson());
    if (lower[4] !== 'providers') return armError(res, 404, 'NotFound', `No route for ${m} ${path}.`);

    if (lower[5] === 'microsoft.web' && lower[6] === 'sites') {
      if (segs.length === 7 && m === 'GET') {
        return sendJson(res, 200, {
          value: allSites()
            .filter((s) => !s.slotName)
            .map((s) => siteJson(s, ctx)),
          nextLink: null,
        });
      }
      const prod = findSite(segs[7]!, null);
      if (!prod) return notFound(res, 'Microsoft.Web/sites', segs[7]!);
      let rest = segs.slice(8);
      let site = prod;
      if (lower[8] === 'slots' && segs.length >= 10) {
        const slot = findSite(prod.appName, segs[9]!);
        if (!slot) return notFound(res, 'Microsoft.Web/sites/slots', `${prod.appName}/${segs[9]}`);
        site = slot;
        rest = segs.slice(10);
      }
      return siteOperation(req, res, site, rest, path);
    }
    if (lower[5] === 'microsoft.insights' && lower[6] === 'components') {
      const component = ctx.components.get(lower[7] ?? '');
      if (!component) return notFound(res, 'microsoft.insights/components', segs[7] ?? '');
      if (segs.length === 8 && m === 'GET') return sendJson(res, 200, componentJson(component, locationOf()));
      if (segs.length === 9 && lower[8] === 'annotations') {
        if (m === 'GET') return sendJson(res, 200, { value: component.annotations });
        if (m === 'PUT') {
          const body = (await readJson(req).catch(() => null)) as unknown;
          const items = Array.isArray(body) ? body : [body];
          const bad = items.find(
            (a) =>
              !a ||
              typeof a !== 'object' ||
              typeof (a as Record<string, unknown>).AnnotationName !== 'string' ||
              typeof (a as Record<string, unknown>).EventTime !== 'string',
          );
          if (bad !== undefined || items.length === 0)
            return armError(res, 400, 'BadRequest', 'An annotation needs AnnotationName and EventTime.');
          const stored = items.map((a) => ({
            ...(a as Record<string, unknown>),
            Id: (a as Record<string, unknown>).Id ?? randomUUID(),
          }));
          component.annotations.push(...stored);
          return sendJson(res, 200, stored);
        }
      }
      return armError(res, 404, 'NotFound', `No route for ${m} ${path}.`);
    }
    if (lower[5] === 'microsoft.storage' && lower[6] === 'storageaccounts') {
      if (segs.length === 7 && m === 'GET') {
        return sendJson(res, 200, {
          value: [...ctx.storageAccounts.values()].map((a) => storageAccountJson(a, locationOf())),
        });
      }
      const account = [...ctx.storageAccounts.values()].find((a) => a.name === lower[7]);
      if (!account) return notFound(res, 'Microsoft.Storage/storageAccounts', segs[7]!);
      if (segs.length === 8 && m === 'GET')
        return sendJson(res, 200, storageAccountJson(account, locationOf()));
      if (segs.length === 9 && lower[8] === 'listkeys' && m === 'POST') {
        return sendJson(res, 200, {
          keys: account.keys.map((k) => ({ ...k, creationTime: new Date(0).toISOString() })),
        });
      }
    }
    return armError(res, 404, 'NotFound', `No route for ${m} ${path}.`);
  }

  function locationOf(): string {
    return allSites()[0]?.location ?? 'West Europe';
  }

  function rgJson(): Record<string, unknown> {
    return {
      id: `/subscriptions/${ctx.subscriptionId}/resourceGroups/${ctx.resourceGroup}`,
      name: ctx.resourceGroup,
      type: 'Microsoft.Resources/resourceGroups',
      location: locationOf(),
      properties: { provisioningState: 'Succeeded' },
    };
  }

  async function handle(req: Req, res: Res): Promise<void> {
    try {
      res.setHeader('x-ms-ratelimit-remaining-subscription-reads', '11999');
      res.setHeader('x-ms-request-id', guidFrom(`${Date.now()}${Math.random()}`));
      await route(req, res);
    } catch (err) {
      if (!res.headersSent)
        armError(res, 500, 'InternalServerError', `Emulator error: ${(err as Error).message}`);
      else res.destroy();
    }
  }

  return {
    handle,
    applySettings,
    /** Make the app's restart answer 202 + Azure-AsyncOperation (true) or 200 (false, the default). */
    setAsyncRestart(app: string, on: boolean) {
      if (on) asyncRestart.add(app.toLowerCase());
      else asyncRestart.delete(app.toLowerCase());
    },
  };
}
