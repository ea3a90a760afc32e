/**
 * startEmulator: the offline stand-in for Azure used by runpack's end-to-end tests and demo. It builds the
 * shared context (sites, storage account, faults, clock, request log), starts Azurite, the HTTPS listeners
 * (main, one per site and SCM host, blob front, admin) and the CONNECT proxy, and writes ca.pem and
 * connection.json into the state directory.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { adminHandler, createAdmin, type EmulatorAdmin } from './admin.js';
import { createArm } from './arm.js';
import { startAzurite, type AzuriteProcess } from './azurite.js';
import { createBlobFront } from './blob-front.js';
import { createClock } from './clock.js';
import { loadConfig, validateConfig, type AppConfig, type EmulatorConfig } from './config.js';
import { ensureFlexContainer, isFlexSite } from './flex.js';
import { sendText } from './core-http.js';
import { audienceForScope, createEntra, type EntraPrincipal } from './entra.js';
import type {
  EmulatorContext,
  Faults,
  Handler,
  InsightsComponent,
  Site,
  SiteWorkerApi,
  StorageAccount,
} from './model.js';
import { createOidc, GITHUB_OIDC_ISSUER, OIDC_PATH } from './oidc.js';
import { startProxy } from './proxy.js';
import { siteSnapshot, type SiteSnapshot } from './reset.js';
import { dispatcher, hostName, listenHttps, type Listener, type Resolver, type Route } from './server.js';
import { ensureCa, issueServerCertificate, selfSignedClientCertificate } from './tls.js';
import { AZDO_OIDC_PREFIX, createAzdo } from './azdo.js';
import { createImds, IMDS_TOKEN_PATH } from './imds.js';
import { createKudu as realCreateKudu } from './kudu.js';
import { createWorker as realCreateWorker } from './worker.js';

export type CreateKudu = (ctx: EmulatorContext, site: Site) => Handler;
export type CreateWorker = (ctx: EmulatorContext, site: Site) => SiteWorkerApi;

export interface StartOptions {
  /** Where state lives (app homes, Azurite data, ca.pem, connection.json); a fresh temp dir by default. */
  stateDir?: string;
  /** Port of the main HTTPS listener (ARM, Entra, OIDC, Azure-style names); 0 (any free port) by default. */
  port?: number;
  /** A JSON file whose top-level keys replace the presets' (emulator/presets.json). */
  configFile?: string;
  /** A full configuration object (tests); wins over configFile. */
  config?: EmulatorConfig;
  /** Directory of the CA to reuse (ca.pem + ca-key.pem); default env RUNPACK_TEST_CA_DIR, else the state dir. */
  caDir?: string;
  /** Tests only: replace the Kudu and worker factories (defaults: kudu.ts and worker.ts). */
  factories?: { createKudu?: CreateKudu; createWorker?: CreateWorker };
}

export interface AppSlotConnection {
  name: string;
  defaultHostUrl: string;
  scmUrl: string;
  publishingUserName: string;
  publishingPassword: string;
  /** Loopback URL that serves this site (routing by port, no proxy needed). */
  siteUrl: string;
  /** Loopback URL that serves this site's Kudu (routing by port). */
  scmLoopbackUrl: string;
}

export interface AppConnection extends AppSlotConnection {
  kind: string;
  slots: AppSlotConnection[];
}

export interface EmulatorConnection {
  tenantId: string;
  subscriptionId: string;
  resourceGroup: string;
  /** https://127.0.0.1:<port>/ */
  resourceManagerEndpoint: string;
  /** https://127.0.0.1:<port> (Entra authority host) */
  authorityHost: string;
  caCertPath: string;
  /** The deploying principal: its client secret, and its certificate credential (certificate and key PEM). */
  servicePrincipal: { clientId: string; clientSecret: string; certificatePem: string };
  oidc: { requestUrl: string; requestToken: string; clientId: string };
  /**
   * What an Azure Pipelines job gets for workload identity federation: SYSTEM_OIDCREQUESTURI, the job access token
   * (System.AccessToken), and the service connections with the issuer and subject their tokens carry (a `trusted`
   * one has a matching federated credential on the service principal).
   */
  /**
   * The managed identity of an emulated Azure VM agent: IMDS's token endpoint is served at `imdsHost` (give it to
   * clients as AZURE_POD_IDENTITY_AUTHORITY_HOST).
   */
  agentVmIdentity?: { clientId: string; objectId: string; imdsHost: string };
  azurePipelines?: {
    organization: string;
    organizationId: string;
    project: string;
    oidcRequestUri: string;
    accessToken: string;
    connections: { id: string; name: string; trusted: boolean; iss: string; sub: string }[];
  };
  storage: { accountName: string; blobEndpoint: string; accountKey: string };
  apps: AppConnection[];
  /** http://127.0.0.1:<port> — the CONNECT proxy for Azure-style names (HTTPS_PROXY). */
  proxyUrl: string;
  /** https://127.0.0.1:<port> — the admin API (tests only). */
  adminUrl: string;
}

export interface RunningEmulator extends EmulatorConnection {
  stateDir: string;
  ctx: EmulatorContext;
  admin: EmulatorAdmin;
  /** The connection object as written to connection.json. */
  connection: EmulatorConnection;
  /** Environment for a runpack process: NODE_EXTRA_CA_CERTS, HTTPS_PROXY and NO_PROXY. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

interface PersistedState {
  accountKeys: [string, string];
  sites: Record<string, { scmHex: string; password: string; principalId: string; clientId: string }>;
  userIdentities: Record<string, { principalId: string; clientId: string }>;
  /**
   * What users change on a site, kept across restarts of the emulator with the same state dir (the files under
   * %HOME% and the blobs are on disk already): settings, sticky names, basic-auth policy, state, and homeDir (a swap).
   */
  siteState?: Record<string, SiteSnapshot>;
}

function loadState(stateDir: string): PersistedState {
  const file = join(stateDir, 'state.json');
  if (existsSync(file)) {
    const s = JSON.parse(readFileSync(file, 'utf8')) as Partial<PersistedState>;
    if (Array.isArray(s.accountKeys) && s.accountKeys.length === 2 && s.sites)
      return { userIdentities: {}, ...s } as PersistedState;
  }
  return {
    accountKeys: [randomBytes(64).toString('base64'), randomBytes(64).toString('base64')],
    sites: {},
    userIdentities: {},
  };
}

/** `https://<account>.blob.core.windows.net/<container>` in a Flex app's deployment storage → the served account. */
function pointFlexStorageAt(site: Site, account: StorageAccount): void {
  const storage = (site.functionAppConfig?.deployment as { storage?: { value?: unknown } } | undefined)
    ?.storage;
  if (!storage || typeof storage.value !== 'string') return;
  const m = /^https:\/\/([a-z0-9]+)\.blob\.[^/]+\/([^/?#]+)\/?$/i.exec(storage.value);
  if (m && m[1].toLowerCase() === account.name.toLowerCase())
    storage.value = `${account.blobEndpoint}${m[2]}`;
}

function regionSlug(location: string): string {
  return location.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function siteKey(app: string, slot: string | null): string {
  return slot ? `${app}__${slot}` : app;
}

/**
 * The settings a new app of this kind has. Function apps carry their host storage as every real one does:
 * `AzureWebJobsStorage` (a connection string), or its identity-based `AzureWebJobsStorage__accountName` form
 * when the app reaches storage with its identity; Flex Consumption apps carry neither
 * FUNCTIONS_EXTENSION_VERSION nor FUNCTIONS_WORKER_RUNTIME (its functionAppConfig says what runs).
 */
function defaultAppSettings(
  app: AppConfig,
  reserved: boolean,
  storage: { accountName: string; accountKey: string },
): Record<string, string> {
  if (!app.kind.startsWith('functionapp')) return reserved ? {} : { WEBSITE_NODE_DEFAULT_VERSION: '~20' };
  const connection = `DefaultEndpointsProtocol=https;AccountName=${storage.accountName};AccountKey=${storage.accountKey};EndpointSuffix=core.windows.net`;
  const s: Record<string, string> = {};
  if (app.sku !== 'FlexConsumption') {
    s.FUNCTIONS_EXTENSION_VERSION = '~4';
    s.FUNCTIONS_WORKER_RUNTIME = app.stack;
  }
  if (!reserved) s.WEBSITE_NODE_DEFAULT_VERSION = '~20';
  if (app.systemIdentity && app.sku === 'FlexConsumption')
    s.AzureWebJobsStorage__accountName = storage.accountName;
  else s.AzureWebJobsStorage = connection;
  // A Flex app whose deployment storage is reached with a connection string holds it in the named setting.
  const auth = (
    app.functionAppConfig?.deployment as { storage?: { authentication?: Record<string, unknown> } }
  )?.storage?.authentication;
  const named = auth?.storageAccountConnectionStringName;
  if (typeof named === 'string' && /^storageaccountconnectionstring$/i.test(String(auth?.type)))
    s[named] = connection;
  return s;
}

function buildSites(config: EmulatorConfig, state: PersistedState, stateDir: string): Site[] {
  const sites: Site[] = [];
  const rgId = `/subscriptions/${config.subscriptionId}/resourceGroups/${config.resourceGroup}`;
  for (const app of config.apps) {
    const location = app.location ?? config.location;
    const reserved = app.kind.includes('linux');
    const userAssigned: Site['identity']['userAssigned'] = {};
    for (const name of app.userIdentities ?? []) {
      const id = `${rgId}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
      state.userIdentities[id] ??= { principalId: randomUUID(), clientId: randomUUID() };
      userAssigned[id] = state.userIdentities[id]!;
    }
    for (const slot of [null, ...(app.slots ?? [])]) {
      const key = siteKey(app.name, slot);
      const seed = (state.sites[key] ??= {
        scmHex: randomBytes(3).toString('hex'),
        password: randomBytes(45).toString('base64').replace(/[+/=]/g, 'x'),
        principalId: randomUUID(),
        clientId: randomUUID(),
      });
      const label = slot ? `${app.name}-${slot}` : app.name;
      const homeDir = join(stateDir, 'sites', key);
      mkdirSync(join(homeDir, 'data', 'SitePackages'), { recursive: true });
      mkdirSync(join(homeDir, 'site', 'wwwroot'), { recursive: true });
      const settings = {
        ...defaultAppSettings(app, reserved, {
          accountName: config.storage.accountName,
          accountKey: state.accountKeys[0],
        }),
        ...(app.applicationInsights
          ? { APPLICATIONINSIGHTS_CONNECTION_STRING: insightsComponent(config, app.name).connectionString }
          : {}),
        ...(app.appSettings ?? {}),
      };
      sites.push({
        id: `${rgId}/providers/Microsoft.Web/sites/${app.name}${slot ? `/slots/${slot}` : ''}`,
        appName: app.name,
        slotName: slot,
        kind: app.kind,
        location,
        reserved,
        functionAppConfig: app.functionAppConfig ? structuredClone(app.functionAppConfig) : null,
        instanceCount: app.instances ?? 1,
        sku: app.sku,
        stack: app.stack,
        linuxFxVersion: app.linuxFxVersion,
        state: 'Running',
        identity: {
          systemAssigned: app.systemIdentity
            ? { principalId: seed.principalId, clientId: seed.clientId }
            : null,
          userAssigned: { ...userAssigned },
        },
        appSettings: settings,
        scmSettings: { ...settings },
        connectionStrings: {},
        appCommandLine: '',
        slotConfigNames: { appSettingNames: [], connectionStringNames: [], azureStorageConfigNames: [] },
        basicAuthAllowed: { scm: true, ftp: true },
        publishingUserName: `$${key}`,
        publishingPassword: seed.password,
        defaultHostName: `${label}.azurewebsites.emulator.test`.toLowerCase(),
        scmHostName:
          `${label}-${seed.scmHex}.scm.${regionSlug(location)}-01.azurewebsites.emulator.test`.toLowerCase(),
        homeDir,
        deployments: [],
        triggerSyncs: [],
      });
    }
  }
  return sites;
}

/** The Application Insights component of an app (`<app>-insights`): its key is derived from the app's name. */
function insightsComponent(config: EmulatorConfig, app: string): InsightsComponent {
  const name = `${app}-insights`;
  const h = createHash('sha256').update(`${config.subscriptionId}/${name}`).digest('hex');
  const key = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return {
    id: `/subscriptions/${config.subscriptionId}/resourceGroups/${config.resourceGroup}/providers/microsoft.insights/components/${name}`,
    name,
    instrumentationKey: key,
    connectionString: `InstrumentationKey=${key};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/`,
    annotations: [],
  };
}

export async function startEmulator(options: StartOptions = {}): Promise<RunningEmulator> {
  const stateDir = resolvePath(options.stateDir ?? mkdtempSync(join(tmpdir(), 'runpack-emulator-')));
  mkdirSync(stateDir, { recursive: true });
  const config = options.config ? validateConfig(options.config) : loadConfig(options.configFile);
  const caDir = options.caDir || process.env.RUNPACK_TEST_CA_DIR || stateDir;
  const ca = ensureCa(caDir);
  const caCertPath = join(stateDir, 'ca.pem');
  if (resolvePath(ca.certPath) !== caCertPath) copyFileSync(ca.certPath, caCertPath);

  const state = loadState(stateDir);
  const sites = buildSites(config, state, stateDir);
  // A restart with the same state dir finds the sites as it left them.
  for (const site of sites) {
    const kept = state.siteState?.[siteKey(site.appName, site.slotName)];
    if (kept && existsSync(kept.homeDir)) Object.assign(site, structuredClone(kept));
  }
  const saveState = () => {
    state.siteState = Object.fromEntries(sites.map((x) => [siteKey(x.appName, x.slotName), siteSnapshot(x)]));
    writeFileSync(join(stateDir, 'state.json'), JSON.stringify(state, null, 2), { mode: 0o600 });
  };
  saveState();

  const regions = [...new Set(sites.map((s) => regionSlug(s.location)))];
  const cert = issueServerCertificate(
    ca,
    [
      'localhost',
      '*.emulator.test',
      '*.azurewebsites.emulator.test',
      ...regions.map((r) => `*.scm.${r}-01.azurewebsites.emulator.test`),
      ...sites.flatMap((s) => [s.defaultHostName, s.scmHostName]),
    ],
    ['127.0.0.1'],
  );

  const clock = createClock();
  const requestLog: EmulatorContext['requestLog'] = [];
  let mainPort = 0;
  let blobPort = 0;
  let azurite: AzuriteProcess | null = null;
  const armUrl = () => `https://127.0.0.1:${mainPort}`;
  const principals: EntraPrincipal[] = [config.servicePrincipal, ...(config.otherPrincipals ?? [])];
  const faultsMap = new Map<string, Faults>();
  const tokenLifetime = () => faultsMap.get('*')?.tokenLifetimeSeconds ?? 3599;
  const oidc = createOidc({ clock });
  const pipelines = config.azurePipelines;
  const azdo = pipelines
    ? createAzdo({
        clock,
        ...pipelines,
        tenantId: config.tenantId,
        clientId: config.servicePrincipal.clientId,
        authorityUrl: armUrl,
      })
    : null;
  // The service principal's certificate credential (AzureRM connections with certificate authentication).
  const spCertificate = selfSignedClientCertificate(`runpack emulator ${config.servicePrincipal.clientId}`);
  principals[0] = { ...principals[0], certificatePem: spCertificate.certPem };
  const federatedCredentials = config.federatedCredentials.map((f) => ({
    clientId: config.servicePrincipal.clientId,
    issuer: f.issuer ?? GITHUB_OIDC_ISSUER,
    subject: f.subject,
    audiences: f.audiences ?? ['api://AzureADTokenExchange'],
  }));
  const entra = createEntra({
    tenantId: config.tenantId,
    clock,
    authorityUrl: armUrl,
    principals,
    // Azure DevOps connections' subjects depend on the authority URL (Entra issuer): read at use time.
    get federatedCredentials() {
      const trusted = (pipelines?.connections ?? []).filter((c) => c.trusted);
      return [
        ...federatedCredentials,
        ...trusted.flatMap((c) => {
          const claims = azdo?.claimsFor(c.id);
          return claims
            ? [
                {
                  clientId: config.servicePrincipal.clientId,
                  issuer: claims.iss,
                  subject: claims.sub,
                  audiences: ['api://AzureADTokenExchange'],
                },
              ]
            : [];
        }),
      ];
    },
    assertionIssuers: () => [
      { issuer: GITHUB_OIDC_ISSUER, publicKey: oidc.signingKey.publicKey },
      ...(azdo ? azdo.issuers().map((issuer) => ({ issuer, publicKey: azdo.signingKey.publicKey })) : []),
    ],
    tokenLifetimeSeconds: tokenLifetime,
  });

  const accountName = config.storage.accountName;
  const account: StorageAccount = {
    id: `/subscriptions/${config.subscriptionId}/resourceGroups/${config.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${accountName}`,
    name: accountName,
    blobEndpoint: '',
    keys: [
      { keyName: 'key1', value: state.accountKeys[0], permissions: 'FULL' },
      { keyName: 'key2', value: state.accountKeys[1], permissions: 'FULL' },
    ],
    allowSharedKeyAccess: true,
    allowBlobPublicAccess: false,
    networkDefaultAction: 'Allow',
    blobReaders: sites
      .filter((s) => !s.slotName && s.identity.systemAssigned)
      .filter((s) => config.apps.find((a) => a.name === s.appName)?.blobReader)
      .map((s) => s.identity.systemAssigned!.principalId)
      .concat(
        (config.blobReaderIdentities ?? []).flatMap((name) =>
          Object.entries(state.userIdentities)
            .filter(([id]) => id.toLowerCase().endsWith(`/userassignedidentities/${name.toLowerCase()}`))
            .map(([, v]) => v.principalId),
        ),
      ),
    blobWriters: sites
      .filter((s) => !s.slotName && s.identity.systemAssigned)
      .filter((s) => config.apps.find((a) => a.name === s.appName)?.blobWriter)
      .map((s) => s.identity.systemAssigned!.principalId),
  };

  const ctx: EmulatorContext = {
    clock,
    tenantId: config.tenantId,
    subscriptionId: config.subscriptionId,
    resourceGroup: config.resourceGroup,
    sites: new Map(sites.map((s) => [s.id.toLowerCase(), s])),
    storageAccounts: new Map([[account.id.toLowerCase(), account]]),
    components: new Map(
      config.apps
        .filter((a) => a.applicationInsights)
        .map((a) => {
          const c = insightsComponent(config, a.name);
          return [c.name.toLowerCase(), c];
        }),
    ),
    faults: faultsMap,
    log(entry) {
      requestLog.push({ time: clock.now().toISOString(), ...entry });
      if (requestLog.length > 5000) requestLog.splice(0, requestLog.length - 5000);
      // A change through Resource Manager or Kudu (logged when its answer is sent) is saved at once.
      const changed =
        ((entry.service === 'arm' || entry.service === 'kudu') && entry.method !== 'GET') ||
        (entry.service === 'admin' && entry.path.startsWith('/reset'));
      if (changed && entry.status < 400) {
        try {
          saveState();
        } catch {
          // A state file that cannot be written never fails a request.
        }
      }
    },
    requestLog,
    verifyToken: (t) => entra.verifyToken(t),
    issueManagedIdentityToken(principalId, resource) {
      const site = sites.find(
        (s) =>
          s.identity.systemAssigned?.principalId === principalId ||
          Object.values(s.identity.userAssigned).some((u) => u.principalId === principalId),
      );
      const appid =
        site?.identity.systemAssigned?.principalId === principalId
          ? site.identity.systemAssigned.clientId
          : (Object.values(site?.identity.userAssigned ?? {}).find((u) => u.principalId === principalId)
              ?.clientId ?? principalId);
      const lifetime = (site && faultsMap.get(site.appName)?.tokenLifetimeSeconds) ?? tokenLifetime();
      const aud = resource.replace(/\/(\.default)?$/, '');
      return entra.issueToken({ aud, oid: principalId, appid, lifetimeSeconds: lifetime });
    },
    azurite: { blobEndpoint: '', accountName, accountKey: state.accountKeys[0] },
    caCertPem: ca.certPem,
    stateDir,
    workers: new Map(),
  };

  const listeners: Listener[] = [];
  const stops: (() => Promise<void>)[] = [];
  let azuriteStart: Promise<AzuriteProcess> | null = null;
  try {
    azuriteStart = startAzurite({
      dataDir: join(stateDir, 'azurite'),
      certPem: cert.certPem,
      keyPem: cert.keyPem,
      accountName,
      accountKey: state.accountKeys[0],
      secondaryKey: state.accountKeys[1],
    });
    // Settle it even when startup fails before it is awaited (no unhandled rejection).
    azuriteStart.catch(() => undefined);

    const vm = config.agentVmIdentity;
    const storageContributors = [config.servicePrincipal.objectId, ...(vm ? [vm.objectId] : [])];
    const arm = createArm({
      ctx,
      entra,
      armUrl,
      authorityUrl: armUrl,
      contributors: [config.servicePrincipal.objectId, ...(vm ? [vm.objectId] : [])],
      storageContributors,
    });
    const blobFront = createBlobFront({
      ctx,
      entra,
      azuriteUrl: () => azurite?.url ?? 'https://127.0.0.1:1',
      storageContributors,
    });

    const createKudu =
      options.factories?.createKudu ?? ((c: EmulatorContext, site: Site) => realCreateKudu(c, site));
    const createWorker =
      options.factories?.createWorker ?? ((c: EmulatorContext, site: Site) => realCreateWorker(c, site));
    const siteRoutes = new Map<string, Route>();
    for (const site of sites) {
      const worker = createWorker(ctx, site);
      ctx.workers.set(site.id.toLowerCase(), worker);
      stops.push(() => worker.dispose());
      const kudu = createKudu(ctx, site);
      siteRoutes.set(site.defaultHostName, {
        service: 'site',
        site,
        handler: (req, res) => worker.handle(req, res),
      });
      siteRoutes.set(site.scmHostName, { service: 'kudu', site, handler: kudu });
    }

    const armRoute: Route = { service: 'arm', handler: arm.handle };
    const entraRoute: Route = { service: 'entra', handler: entra.handle };
    const oidcRoute: Route = { service: 'oidc', handler: oidc.handle };
    const azdoRoute: Route | null = azdo ? { service: 'azdo', handler: azdo.handle } : null;
    const imdsRoute: Route | null = vm
      ? {
          service: 'imds',
          handler: createImds({
            clock,
            identity: vm,
            issue: (resource, oid, appid) => {
              const aud = audienceForScope(`${resource.replace(/\/+$/, '')}/.default`);
              const lifetime = tokenLifetime();
              return aud
                ? { token: entra.issueToken({ aud, oid, appid, lifetimeSeconds: lifetime }), lifetime }
                : null;
            },
          }),
        }
      : null;
    const byPath = (req: IncomingMessage): Route => {
      const p = (req.url ?? '/').toLowerCase();
      if (p.startsWith(OIDC_PATH)) return oidcRoute;
      if (azdoRoute && p.startsWith(AZDO_OIDC_PREFIX)) return azdoRoute;
      if (imdsRoute && p.startsWith(IMDS_TOKEN_PATH)) return imdsRoute;
      if (/^\/+(subscriptions|metadata|providers|tenants)(\/|\?|$)/.test(p)) return armRoute;
      return entraRoute;
    };
    const mainResolver: Resolver = (req) => {
      const h = hostName(req);
      if (h === '127.0.0.1' || h === 'localhost' || h === '[::1]' || h === '') return byPath(req);
      if (h === 'management.emulator.test') return armRoute;
      if (h === 'login.emulator.test') return entraRoute;
      return siteRoutes.get(h) ?? null;
    };
    const main = await listenHttps(cert, dispatcher(ctx, mainResolver), options.port ?? 0);
    listeners.push(main);
    mainPort = main.port;

    const loopback = new Map<string, number>();
    for (const [host, route] of siteRoutes) {
      const l = await listenHttps(
        cert,
        dispatcher(ctx, () => route),
      );
      listeners.push(l);
      loopback.set(host, l.port);
    }

    const blob = await listenHttps(
      cert,
      dispatcher(ctx, () => ({ service: 'blob', handler: blobFront.handle })),
    );
    listeners.push(blob);
    blobPort = blob.port;
    account.blobEndpoint = `https://127.0.0.1:${blobPort}/${accountName}/`;
    // A Flex app's deployment container in the account is reached where the account is served.
    for (const s of sites) pointFlexStorageAt(s, account);

    const proxy = await startProxy(ctx, () => mainPort);
    stops.push(() => proxy.close());

    const oidcRequestUrl = `${armUrl()}${OIDC_PATH}?api-version=2.0`;
    const admin = createAdmin({
      ctx,
      clockOffset: () => clock.offsetMs(),
      mintOidc: (claims, lifetime) => oidc.mintRequestToken(claims, lifetime),
      oidcRequestUrl: () => oidcRequestUrl,
      setAsyncRestart: (app, on) => arm.setAsyncRestart(app, on),
    });
    const adminHttp = adminHandler(admin);
    const adminListener = await listenHttps(
      cert,
      dispatcher(ctx, () => ({ service: 'admin', handler: adminHttp })),
    );
    listeners.push(adminListener);

    azurite = await azuriteStart;
    const started = azurite;
    stops.push(() => started.stop());
    ctx.azurite.blobEndpoint = `${azurite.url}/${accountName}`;
    // Creating a Flex app creates its deployment container.
    for (const s of sites) if (isFlexSite(s)) await ensureFlexContainer(ctx, s);

    const slotConn = (s: Site): AppSlotConnection => ({
      name: s.slotName ?? s.appName,
      defaultHostUrl: `https://${s.defaultHostName}`,
      scmUrl: `https://${s.scmHostName}`,
      publishingUserName: s.publishingUserName,
      publishingPassword: s.publishingPassword,
      siteUrl: `https://127.0.0.1:${loopback.get(s.defaultHostName)}`,
      scmLoopbackUrl: `https://127.0.0.1:${loopback.get(s.scmHostName)}`,
    });
    const connection: EmulatorConnection = {
      tenantId: config.tenantId,
      subscriptionId: config.subscriptionId,
      resourceGroup: config.resourceGroup,
      resourceManagerEndpoint: `${armUrl()}/`,
      authorityHost: armUrl(),
      caCertPath,
      servicePrincipal: {
        clientId: config.servicePrincipal.clientId,
        clientSecret: config.servicePrincipal.clientSecret,
        certificatePem: `${spCertificate.certPem}${spCertificate.keyPem}`,
      },
      ...(vm ? { agentVmIdentity: { ...vm, imdsHost: armUrl() } } : {}),
      ...(azdo && pipelines
        ? {
            azurePipelines: {
              organization: pipelines.organization,
              organizationId: pipelines.organizationId,
              project: pipelines.project,
              oidcRequestUri: azdo.oidcRequestUri(armUrl()),
              accessToken: azdo.accessToken,
              connections: pipelines.connections.map((c) => ({
                id: c.id,
                name: c.name,
                trusted: Boolean(c.trusted),
                ...(azdo.claimsFor(c.id) ?? { iss: '', sub: '' }),
              })),
            },
          }
        : {}),
      oidc: {
        requestUrl: oidcRequestUrl,
        requestToken: oidc.defaultRequestToken,
        clientId: config.servicePrincipal.clientId,
      },
      storage: { accountName, blobEndpoint: account.blobEndpoint, accountKey: state.accountKeys[0] },
      apps: sites
        .filter((s) => !s.slotName)
        .map((s) => ({
          ...slotConn(s),
          kind: s.kind,
          slots: sites.filter((x) => x.appName === s.appName && x.slotName).map(slotConn),
        })),
      proxyUrl: `http://127.0.0.1:${proxy.port}`,
      adminUrl: `https://127.0.0.1:${adminListener.port}`,
    };
    writeFileSync(join(stateDir, 'connection.json'), JSON.stringify(connection, null, 2) + '\n', {
      mode: 0o600,
    });

    let stopped = false;
    return {
      ...connection,
      connection,
      stateDir,
      ctx,
      admin,
      env: {
        NODE_EXTRA_CA_CERTS: caCertPath,
        HTTPS_PROXY: connection.proxyUrl,
        https_proxy: connection.proxyUrl,
        NO_PROXY: '127.0.0.1,localhost',
        no_proxy: '127.0.0.1,localhost',
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await Promise.all(listeners.map((l) => l.close()));
        await Promise.all(stops.map((s) => s().catch(() => undefined)));
      },
    };
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await Promise.all(stops.map((s) => s().catch(() => undefined)));
    if (azuriteStart && !azurite)
      await azuriteStart.then(
        (a) => a.stop(),
        () => undefined,
      );
    throw err;
  }
}

/** A handler that answers 501 (what a site or SCM host serves when no factory is given in a unit test). */
export const notImplemented: Handler = async (_req, res) =>
  sendText(res, 501, 'Not implemented in this test.\n');
