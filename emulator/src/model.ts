/**
 * The emulator's shared model: what the Resource Manager, Entra, Kudu and worker pieces read and change.
 * Owned jointly: ARM/Entra/OIDC/server code (arm.ts, entra.ts, oidc.ts, server.ts, tls.ts, admin.ts, index.ts)
 * and Kudu/worker code (kudu.ts, vfs.ts, worker.ts, azurite.ts, blobfetch.ts) meet only through these types.
 */

/** A controllable clock (fidelity checklist 31): `now()` is real time plus an offset tests can move. */
export interface Clock {
  now(): Date;
  /** Move the emulated time forward (or back) by ms; affects SAS expiry, token expiry and package names. */
  advance(ms: number): void;
}

export type SiteKind =
  | 'app'
  | 'app,linux'
  | 'functionapp'
  | 'functionapp,linux'
  | 'functionapp,linux,container'
  | 'app,linux,container';

export interface Identity {
  systemAssigned: { principalId: string; clientId: string } | null;
  /** Keyed by full resource id of the user-assigned identity. */
  userAssigned: Record<string, { principalId: string; clientId: string }>;
}

/** One deployment record as Kudu returns it (API-SPEC §2.4). */
export interface DeploymentRecord {
  id: string;
  status: 0 | 1 | 2 | 3 | 4;
  status_text: string;
  author_email: string;
  author: string;
  deployer: string;
  message: string;
  progress: string;
  received_time: string;
  start_time: string | null;
  end_time: string | null;
  last_success_end_time: string | null;
  complete: boolean;
  active: boolean;
  is_temp: boolean;
  is_readonly: boolean;
  url: string;
  log_url: string;
  site_name: string;
  provisioningState: 'InProgress' | 'Failed' | 'Succeeded';
  /** Log entries for /api/deployments/{id}/log. */
  log: { log_time: string; id: string; message: string; type: number }[];
}

/**
 * A site or a slot. Production and each slot are separate `Site` objects with their own settings,
 * host names, Kudu and worker; `slotName` is null for production.
 */
export interface Site {
  /** ARM resource id (`…/sites/{app}` or `…/sites/{app}/slots/{slot}`). */
  id: string;
  appName: string;
  slotName: string | null;
  kind: SiteKind;
  location: string;
  /** true for Linux (ARM `reserved`). */
  reserved: boolean;
  /** Flex Consumption apps carry functionAppConfig; null otherwise. */
  functionAppConfig: Record<string, unknown> | null;
  /** Instances the site runs on after a start or a reset (the plan's scale-out). */
  instanceCount: number;
  /** 'Dynamic' for Consumption, 'FlexConsumption', 'Standard', ... */
  sku: string;
  /** The runtime the worker runs for this app: node really runs; others answer a plain page. */
  stack: 'node' | 'dotnet' | 'python' | 'java' | 'php' | 'static';
  linuxFxVersion: string;
  state: 'Running' | 'Stopped';
  identity: Identity;
  /** App settings (values are strings). Replaced whole by ARM PUT. */
  appSettings: Record<string, string>;
  /** What Kudu's /api/settings currently sees: lags behind appSettings when propagation delay is injected. */
  scmSettings: Record<string, string>;
  /** Connection strings (ARM config/connectionstrings): name → value and type. Replaced whole by ARM PUT. */
  connectionStrings: Record<string, { value: string; type: string }>;
  /** The site configuration's startup command (config/web appCommandLine; Linux apps run it to start). */
  appCommandLine: string;
  /** Only on production: slot-sticky setting names. */
  slotConfigNames: {
    appSettingNames: string[];
    connectionStringNames: string[];
    azureStorageConfigNames: string[];
  };
  basicAuthAllowed: { scm: boolean; ftp: boolean };
  publishingUserName: string;
  publishingPassword: string;
  /** Azure-style host names, e.g. `myapp.azurewebsites.emulator.test` and a regional unique SCM name. */
  defaultHostName: string;
  scmHostName: string;
  /** Kudu's %HOME% on disk (data/SitePackages, site/wwwroot, site/locks...). Read it at use time: a slot swap exchanges it. */
  homeDir: string;
  deployments: DeploymentRecord[];
  /** Function trigger sync calls seen (time, path), so tests can assert stale-trigger scenarios. */
  triggerSyncs: { time: string; path: string }[];
}

/** An Application Insights component and the release annotations written to it. */
export interface InsightsComponent {
  id: string;
  name: string;
  instrumentationKey: string;
  connectionString: string;
  annotations: Record<string, unknown>[];
}

/** A storage account (ARM Microsoft.Storage/storageAccounts), backed by Azurite. */
export interface StorageAccount {
  id: string;
  name: string;
  blobEndpoint: string;
  keys: { keyName: string; value: string; permissions: 'FULL' }[];
  allowSharedKeyAccess: boolean;
  allowBlobPublicAccess: boolean;
  /** Network rule: when 'Deny', the app workers' fetches get 403 AuthorizationFailure. */
  networkDefaultAction: 'Allow' | 'Deny';
  /** Principal ids holding Storage Blob Data Reader (or wider) on this account. */
  blobReaders: string[];
  /**
   * Principal ids holding Storage Blob Data Contributor (or Owner) on this account: what a Flex Consumption app's
   * identity needs to write its package into its deployment container.
   */
  blobWriters: string[];
}

/** Faults a test turns on through the admin endpoint; keyed per app name or account name. */
export interface Faults {
  /** Next N ARM requests (optionally matching a path substring) answer this status with Retry-After. */
  arm?: { status: 429 | 500 | 502 | 503; count: number; retryAfter?: number; pathContains?: string };
  /** Next N Kudu requests answer this status. */
  kudu?: { status: 409 | 429 | 502 | 503; count: number; retryAfter?: number; pathContains?: string };
  /**
   * Drop the connection (socket destroy) on the next N requests to the matched host kind (optionally only those
   * whose path and query contain `pathContains`, e.g. `comp=block` for block uploads). Blob Storage requests match
   * the faults of the account name or `*`.
   */
  drop?: { target: 'arm' | 'kudu' | 'site' | 'entra' | 'blob'; count: number; pathContains?: string };
  /** Delay every response of the target by ms. */
  slow?: { target: 'arm' | 'kudu' | 'site' | 'entra' | 'blob'; ms: number };
  /** Access tokens issued with this lifetime in seconds. */
  tokenLifetimeSeconds?: number;
  /** The next deployment of this app fails (status 3). */
  deploymentFails?: boolean;
  /** Kudu settings lag behind ARM writes by this many ms. */
  settingsLagMs?: number;
  /** SCM answers 403 with the front end's HTML page (private endpoint / access restriction). */
  scmForbidden?: boolean;
  /** Kudu's restart request after a deploy fails silently (deploy Success, content stale). */
  restartRequestFails?: boolean;
}

export interface RequestLogEntry {
  time: string;
  /** 'arm' | 'kudu' | 'site' | 'entra' | 'oidc' | 'admin' | 'proxy', or 'worker' for a (re)start's mount (method MOUNT) */
  service: string;
  host: string;
  method: string;
  /** Path with query, secrets (sig=, client_secret, tokens) removed. */
  path: string;
  status: number;
  /** Site id for kudu/site requests. */
  site?: string;
}

/** Claims of a verified access token (Entra-issued by this emulator). */
export interface TokenClaims {
  aud: string;
  iss: string;
  tid: string;
  oid: string;
  appid: string;
  exp: number;
  nbf: number;
  iat: number;
  [claim: string]: unknown;
}

/** What Kudu answers for one request (handlers may also stream into `res` themselves). */
export type Handler = (
  req: import('node:http').IncomingMessage,
  res: import('node:http').ServerResponse,
) => Promise<void>;

/**
 * Everything the pieces share at run time. Built by index.ts (startEmulator) and handed to each piece.
 */
export interface EmulatorContext {
  clock: Clock;
  tenantId: string;
  subscriptionId: string;
  resourceGroup: string;
  /** All sites and slots, keyed by lowercased ARM id. */
  sites: Map<string, Site>;
  storageAccounts: Map<string, StorageAccount>;
  /** Application Insights components (Microsoft.Insights/components), keyed by lowercased name. */
  components: Map<string, InsightsComponent>;
  /** Faults keyed by app name (for app faults) or storage account name (for account faults); '*' applies to all. */
  faults: Map<string, Faults>;
  /** Append to the request log (no secrets). */
  log(entry: Omit<RequestLogEntry, 'time'>): void;
  requestLog: RequestLogEntry[];
  /** Verify a bearer token issued by the emulator's Entra: signature, issuer, expiry; null when invalid. */
  verifyToken(token: string): TokenClaims | null;
  /** Issue an access token for a managed identity (used by the worker to fetch a package without SAS). */
  issueManagedIdentityToken(principalId: string, resource: string): string;
  /** Azurite: where blobs live and the CA that signed every emulator certificate. */
  azurite: { blobEndpoint: string; accountName: string; accountKey: string };
  caCertPem: string;
  /** Directory for state (app homes, Azurite data, ca.pem, connection.json). */
  stateDir: string;
  /** Called by ARM after a settings write or restart/stop/start, implemented by the worker layer. */
  workers: Map<string, SiteWorkerApi>;
}

/** What ARM calls on the worker of a site (implemented in worker.ts). */
export interface SiteWorkerApi {
  /** Restart: stop the app, re-mount (re-read packagename.txt or re-fetch the URL), start. Resolves when running. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Serve a request to the site's default host. */
  handle: Handler;
  /** Shut down any child process. */
  dispose(): Promise<void>;
  /** 'starting' during the warm-up window after a (re)start (site answers 503, function host sync answers 400). */
  state(): 'starting' | 'running' | 'failed' | 'stopped';
  /** What is mounted now (for ARM's functions list, the admin endpoint and tests). */
  mounted(): MountInfo;
  /** Every instance, first one first: its id (the ARRAffinity value) and its mount. */
  instances?(): InstanceInfo[];
  /** The instance an ARRAffinity value names, or the first one (Kudu's VFS shows that instance's mount). */
  instanceFor?(affinity: string | undefined): InstanceInfo;
}

/** One instance of a site: like WEBSITE_INSTANCE_ID, 64 hex characters, also the ARRAffinity cookie's value. */
export interface InstanceInfo extends MountInfo {
  id: string;
  /** A fault a test gave this instance (see SiteWorker.setInstanceFault). */
  fault: InstanceFault;
}

/**
 * keep-mount: the instance ignores restarts and keeps what it mounted (a worker that missed the restart);
 * fail-mount: its next mount fails (the failure marker, 503) — one bad instance among good ones.
 */
export type InstanceFault = 'keep-mount' | 'fail-mount' | null;

/** The ARRAffinity value of a Cookie header, if any. */
export function affinityOf(cookie: string | string[] | undefined): string | undefined {
  const text = Array.isArray(cookie) ? cookie.join('; ') : (cookie ?? '');
  return /(?:^|;\s*)ARRAffinity=([^;\s]+)/.exec(text)?.[1];
}

/** The worker's current mount. `dir` is the read-only content served as wwwroot (null when nothing is mounted). */
export interface MountInfo {
  mode: 'local' | 'url' | 'flex' | 'none';
  /** packagename.txt's value (local), the URL without its query (url), the deployment blob's URL (flex). */
  source: string | null;
  /** sha256 of the mounted zip, lowercase hex. */
  sha256: string | null;
  dir: string | null;
  /** Why mounting failed (the failure marker is shown), null when it did not. */
  error: string | null;
  /** Function names of the mounted content (folders with function.json one level down); [] without host.json. */
  functions: string[];
  /** Emulated time of the last (re)start. */
  startedAt: string | null;
}
