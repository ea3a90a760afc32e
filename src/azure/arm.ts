/**
 * Typed Resource Manager calls runpack needs, over the shared HttpClient (retries, Retry-After, deadlines).
 * Errors become one-line RunpackErrors that name the operation, the resource and the fix.
 */
import { triggerOf } from '../package/rules.js';
import { RunpackError } from '../util/errors.js';
import type { HttpClient, HttpResponse } from './http.js';

export const WEB_API_VERSION = '2024-11-01';
export const STORAGE_API_VERSION = '2023-05-01';
export const AUTHORIZATION_API_VERSION = '2022-04-01';
export const RESOURCES_API_VERSION = '2022-12-01';
/** Application Insights components and their annotations (the version the App Service deploy tasks use). */
export const INSIGHTS_API_VERSION = '2015-05-01';

export interface SiteRef {
  subscriptionId: string;
  resourceGroup: string;
  appName: string;
  /** null or undefined for production. */
  slot?: string | null;
}

export interface ArmSite {
  id: string;
  name: string;
  kind?: string;
  location?: string;
  identity?: {
    type?: string;
    principalId?: string;
    tenantId?: string;
    userAssignedIdentities?: Record<string, { principalId?: string; clientId?: string }>;
  } | null;
  properties: {
    state?: string;
    defaultHostName?: string;
    hostNameSslStates?: { name: string; hostType?: string; sslState?: string }[];
    enabledHostNames?: string[];
    reserved?: boolean;
    sku?: string;
    serverFarmId?: string;
    httpsOnly?: boolean;
    siteConfig?: { linuxFxVersion?: string; windowsFxVersion?: string } | null;
    functionAppConfig?: Record<string, unknown> | null;
    [key: string]: unknown;
  };
}

export interface SlotConfigNames {
  appSettingNames: string[];
  connectionStringNames: string[];
  azureStorageConfigNames: string[];
}

/** One connection string as Resource Manager keeps it (type: SQLAzure, Custom, PostgreSQL, …). */
export interface ConnectionStringValue {
  value: string;
  type: string;
}

export interface PublishingCredentials {
  userName: string;
  password: string;
  /** scmUri with its userinfo removed. */
  scmUri: string;
}

export interface StorageAccountInfo {
  id: string;
  name: string;
  resourceGroup: string;
  blobEndpoint: string;
  allowSharedKeyAccess: boolean;
  networkDefaultAction: string;
}

export interface RoleAssignment {
  id: string;
  scope: string;
  principalId: string;
  roleDefinitionId: string;
}

export interface ArmClient {
  readonly endpoint: string;
  getSite(ref: SiteRef): Promise<ArmSite>;
  /** linuxFxVersion and friends from …/config/web. */
  getSiteConfig(ref: SiteRef): Promise<Record<string, unknown>>;
  listAppSettings(ref: SiteRef): Promise<Record<string, string>>;
  putAppSettings(ref: SiteRef, settings: Record<string, string>): Promise<Record<string, string>>;
  /** Connection strings (`POST …/config/connectionstrings/list`): name → value and type. */
  listConnectionStrings(ref: SiteRef): Promise<Record<string, ConnectionStringValue>>;
  /** Replaces the whole set of connection strings (`PUT …/config/connectionstrings`). */
  putConnectionStrings(
    ref: SiteRef,
    strings: Record<string, ConnectionStringValue>,
  ): Promise<Record<string, ConnectionStringValue>>;
  /** Changes only the given site configuration properties (`PATCH …/config/web`), such as appCommandLine. */
  patchSiteConfig(ref: SiteRef, properties: Record<string, unknown>): Promise<Record<string, unknown>>;
  restart(ref: SiteRef, options?: { softRestart?: boolean; synchronous?: boolean }): Promise<void>;
  /** Production-level only (the slot in ref is ignored). */
  getSlotConfigNames(ref: SiteRef): Promise<SlotConfigNames>;
  putSlotConfigNames(ref: SiteRef, names: SlotConfigNames): Promise<SlotConfigNames>;
  listPublishingCredentials(ref: SiteRef): Promise<PublishingCredentials>;
  getBasicAuthAllowed(ref: SiteRef, kind?: 'scm' | 'ftp'): Promise<boolean>;
  setBasicAuthAllowed(ref: SiteRef, allow: boolean, kind?: 'scm' | 'ftp'): Promise<void>;
  listFunctions(ref: SiteRef): Promise<string[]>;
  /**
   * The same list as listFunctions, in one read, with each function's trigger type from its config
   * (function.json) as the host lists it (undefined when its config names none).
   */
  listFunctionTriggers?(ref: SiteRef): Promise<Map<string, string | undefined>>;
  /** Names of the app's deployment slots (the slot in ref is ignored). */
  listSlots?(ref: SiteRef): Promise<string[]>;
  /** The ids of the site's scale-out instances (List Instance Identifiers): each is also its ARRAffinity value. */
  listInstances?(ref: SiteRef): Promise<string[]>;
  syncFunctionTriggers(ref: SiteRef): Promise<HttpResponse>;
  /** Swap the slot in ref with targetSlot ('production' for the production site). */
  swapSlot(ref: SiteRef, targetSlot: string): Promise<void>;
  /** The resource group holding a site with this name in the subscription, or null. */
  findSiteResourceGroup(subscriptionId: string, appName: string): Promise<string | null>;
  listSubscriptions(): Promise<{ subscriptionId: string; displayName: string; state: string }[]>;
  findStorageAccount(subscriptionId: string, name: string): Promise<StorageAccountInfo | null>;
  listStorageAccountKeys(accountId: string): Promise<string[]>;
  listRoleAssignments(scope: string, principalId: string): Promise<RoleAssignment[]>;
  /** The Application Insights component with this instrumentation key in the subscription, or null. */
  findInsightsComponent?(
    subscriptionId: string,
    instrumentationKey: string,
  ): Promise<{ id: string; name: string } | null>;
  /** Adds an annotation (a release marker) to an Application Insights component (`PUT …/Annotations`). */
  addAnnotation?(componentId: string, annotation: Record<string, unknown>): Promise<void>;
}

export function siteId(ref: SiteRef): string {
  const base = `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Web/sites/${ref.appName}`;
  return ref.slot ? `${base}/slots/${ref.slot}` : base;
}

export function describeSite(ref: SiteRef): string {
  return ref.slot ? `${ref.appName}/${ref.slot}` : ref.appName;
}

/** Reads both ARM's `{error:{code,message}}` and Microsoft.Web's `{Code,Message}` envelopes. */
export function armErrorDetail(res: HttpResponse): { code: string; message: string } {
  let body: unknown;
  try {
    body = res.json();
  } catch {
    return { code: '', message: res.text().slice(0, 300).replace(/\s+/g, ' ').trim() };
  }
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const err = b.error as Record<string, unknown> | undefined;
    if (err && typeof err === 'object')
      return { code: String(err.code ?? ''), message: String(err.message ?? '') };
    if (b.Code || b.Message) return { code: String(b.Code ?? ''), message: String(b.Message ?? '') };
  }
  return { code: '', message: '' };
}

/** Turns a failed Resource Manager response into a one-line error. */
export function armFailure(res: HttpResponse, what: string, resource: string): RunpackError {
  const { code, message } = armErrorDetail(res);
  const detail = [code, message].filter(Boolean).join(': ').replace(/\s+/g, ' ').slice(0, 400);
  const suffix = detail ? ` (${detail})` : '';
  if (res.status === 401)
    return new RunpackError(
      'auth-failed',
      `Resource Manager refused the token for ${what} on ${resource}${suffix}; check the login (client-id, tenant-id, creds) and resource-manager-endpoint.`,
    );
  if (res.status === 403)
    return new RunpackError(
      'forbidden',
      `Not allowed to ${what} on ${resource}${suffix}; grant the deploying principal Website Contributor (or Contributor) on the app.`,
    );
  if (res.status === 404)
    return new RunpackError(
      'not-found',
      `${resource} was not found while trying to ${what}${suffix}; check app-name, slot, resource-group and subscription-id.`,
    );
  return new RunpackError(
    'arm-error',
    `Resource Manager answered ${res.status} to ${what} on ${resource}${suffix}; try again, or check the resource in the portal.`,
  );
}

export interface ArmClientOptions {
  http: HttpClient;
  /** e.g. https://management.azure.com */
  endpoint: string;
  /** `Bearer <token>` for Resource Manager. */
  /** `Bearer <token>`; with `refresh`, a new token (after Resource Manager said the last one had expired). */
  authorization: (o?: { refresh?: boolean }) => Promise<string>;
  /** Deadline for each call (ms epoch), read at call time. */
  deadline?: () => number | undefined;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export function createArmClient(options: ArmClientOptions): ArmClient {
  const endpoint = options.endpoint.replace(/\/+$/, '');
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;

  function url(path: string, apiVersion: string, query: Record<string, string> = {}): string {
    const u = new URL(endpoint + path);
    u.searchParams.set('api-version', apiVersion);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u.toString();
  }

  /**
   * One request to Resource Manager with the login's token. A token that expired in flight (or by clock skew)
   * gets one more try with a new one, for every call, poll and page alike.
   */
  async function send(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH',
    target: string,
    o: { body?: string; headers?: Record<string, string>; deadline?: number } = {},
  ): Promise<HttpResponse> {
    const once = (refresh: boolean) =>
      options.http.request({
        method,
        url: target,
        service: 'Resource Manager',
        headers: o.headers,
        body: o.body,
        authorization: () => options.authorization(refresh ? { refresh } : undefined),
        deadline: o.deadline ?? options.deadline?.(),
      });
    const res = await once(false);
    return res.status === 401 && armErrorDetail(res).code === 'ExpiredAuthenticationToken' ? once(true) : res;
  }

  async function call(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH',
    path: string,
    apiVersion: string,
    what: string,
    resource: string,
    body?: unknown,
    query?: Record<string, string>,
  ): Promise<HttpResponse> {
    const res = await send(method, url(path, apiVersion, query), {
      headers: body !== undefined ? { 'Content-Type': 'application/json' } : undefined,
      body: body !== undefined ? JSON.stringify(body) : method === 'POST' ? '' : undefined,
    });
    if (
      res.status === 202 ||
      (res.status === 201 && (res.headers['azure-asyncoperation'] || res.headers.location))
    ) {
      return pollLro(res, what, resource);
    }
    if (res.status < 200 || res.status >= 300) throw armFailure(res, what, resource);
    return res;
  }

  async function pollLro(first: HttpResponse, what: string, resource: string): Promise<HttpResponse> {
    const asyncUrl = first.headers['azure-asyncoperation'];
    const location = first.headers.location;
    const target = asyncUrl ?? location;
    if (!target) return first;
    let wait = Number(first.headers['retry-after'] ?? '2') * 1000 || 2000;
    for (;;) {
      const dl = options.deadline?.();
      if (dl !== undefined && now() + wait > dl)
        throw new RunpackError(
          'timeout',
          `Resource Manager did not finish ${what} on ${resource} in time; check the app in the portal and try again.`,
        );
      await sleep(Math.min(wait, 10_000));
      const res = await send('GET', target, { deadline: dl });
      if (res.status === 202) {
        wait = Number(res.headers['retry-after'] ?? '2') * 1000 || 2000;
        continue;
      }
      if (res.status < 200 || res.status >= 300) throw armFailure(res, what, resource);
      if (asyncUrl) {
        const status = String((res.json<{ status?: string }>() ?? {}).status ?? '');
        if (/^(succeeded)$/i.test(status)) return res;
        if (/^(failed|canceled|cancelled)$/i.test(status)) throw armFailure(res, what, resource);
        wait = Number(res.headers['retry-after'] ?? '2') * 1000 || 2000;
        continue;
      }
      return res;
    }
  }

  /** The pages of a paged list, following nextLink, one array of items at a time. */
  async function* pages<T>(first: string, what: string, resource: string): AsyncGenerator<T[]> {
    let next: string | undefined = first;
    while (next) {
      const res = await send('GET', next);
      if (res.status < 200 || res.status >= 300) throw armFailure(res, what, resource);
      const body = res.json<{ value?: T[]; nextLink?: string }>();
      yield body?.value ?? [];
      next = body?.nextLink;
    }
  }

  /** The first item of a paged list that `match` accepts, or null (later pages are not read). */
  async function findInPages<T>(
    first: string,
    what: string,
    resource: string,
    match: (item: T) => boolean,
  ): Promise<T | null> {
    for await (const items of pages<T>(first, what, resource)) {
      const found = items.find(match);
      if (found) return found;
    }
    return null;
  }

  const props = <T>(res: HttpResponse): T => (res.json<{ properties?: T }>()?.properties ?? {}) as T;

  /** The site's functions (ARM's function envelopes): name → its config (function.json), as the host lists them. */
  async function functionEnvelopes(ref: SiteRef): Promise<Map<string, unknown>> {
    const res = await call(
      'GET',
      `${siteId(ref)}/functions`,
      WEB_API_VERSION,
      'list functions',
      describeSite(ref),
    );
    const body = res.json<{
      value?: {
        name?: string;
        properties?: { name?: string; config?: unknown };
      }[];
    }>();
    const out = new Map<string, unknown>();
    for (const f of body?.value ?? []) {
      const name = f.properties?.name ?? (f.name ?? '').split('/').pop() ?? '';
      if (name) out.set(name, f.properties?.config);
    }
    return out;
  }

  const client: ArmClient = {
    endpoint,
    async getSite(ref) {
      const res = await call('GET', siteId(ref), WEB_API_VERSION, 'read the app', describeSite(ref));
      return res.json<ArmSite>();
    },
    async getSiteConfig(ref) {
      const res = await call(
        'GET',
        `${siteId(ref)}/config/web`,
        WEB_API_VERSION,
        'read the site configuration',
        describeSite(ref),
      );
      return props<Record<string, unknown>>(res);
    },
    async listAppSettings(ref) {
      const res = await call(
        'POST',
        `${siteId(ref)}/config/appsettings/list`,
        WEB_API_VERSION,
        'list app settings (Microsoft.Web/sites/config/list/action)',
        describeSite(ref),
      );
      return props<Record<string, string>>(res);
    },
    async putAppSettings(ref, settings) {
      const res = await call(
        'PUT',
        `${siteId(ref)}/config/appsettings`,
        WEB_API_VERSION,
        'write app settings',
        describeSite(ref),
        { properties: settings },
      );
      return props<Record<string, string>>(res);
    },
    async listConnectionStrings(ref) {
      const res = await call(
        'POST',
        `${siteId(ref)}/config/connectionstrings/list`,
        WEB_API_VERSION,
        'list connection strings (Microsoft.Web/sites/config/list/action)',
        describeSite(ref),
      );
      return props<Record<string, ConnectionStringValue>>(res);
    },
    async putConnectionStrings(ref, strings) {
      const res = await call(
        'PUT',
        `${siteId(ref)}/config/connectionstrings`,
        WEB_API_VERSION,
        'write connection strings',
        describeSite(ref),
        { properties: strings },
      );
      return props<Record<string, ConnectionStringValue>>(res);
    },
    async patchSiteConfig(ref, properties) {
      const res = await call(
        'PATCH',
        `${siteId(ref)}/config/web`,
        WEB_API_VERSION,
        'update the site configuration',
        describeSite(ref),
        { properties },
      );
      return props<Record<string, unknown>>(res);
    },
    async restart(ref, o = {}) {
      const query: Record<string, string> = {};
      if (o.softRestart !== undefined) query.softRestart = String(o.softRestart);
      if (o.synchronous !== undefined) query.synchronous = String(o.synchronous);
      await call(
        'POST',
        `${siteId(ref)}/restart`,
        WEB_API_VERSION,
        'restart the app',
        describeSite(ref),
        undefined,
        query,
      );
    },
    async getSlotConfigNames(ref) {
      const prod = { ...ref, slot: null };
      const res = await call(
        'GET',
        `${siteId(prod)}/config/slotConfigNames`,
        WEB_API_VERSION,
        'read slot-sticky setting names',
        ref.appName,
      );
      const p = props<Partial<SlotConfigNames>>(res);
      return {
        appSettingNames: p.appSettingNames ?? [],
        connectionStringNames: p.connectionStringNames ?? [],
        azureStorageConfigNames: p.azureStorageConfigNames ?? [],
      };
    },
    async putSlotConfigNames(ref, names) {
      const prod = { ...ref, slot: null };
      const res = await call(
        'PUT',
        `${siteId(prod)}/config/slotConfigNames`,
        WEB_API_VERSION,
        'write slot-sticky setting names',
        ref.appName,
        { properties: names },
      );
      const p = props<Partial<SlotConfigNames>>(res);
      return {
        appSettingNames: p.appSettingNames ?? [],
        connectionStringNames: p.connectionStringNames ?? [],
        azureStorageConfigNames: p.azureStorageConfigNames ?? [],
      };
    },
    async listPublishingCredentials(ref) {
      const res = await call(
        'POST',
        `${siteId(ref)}/config/publishingcredentials/list`,
        WEB_API_VERSION,
        'list publishing credentials',
        describeSite(ref),
      );
      const p = props<{ publishingUserName?: string; publishingPassword?: string; scmUri?: string }>(res);
      let scmUri = p.scmUri ?? '';
      try {
        const u = new URL(scmUri);
        u.username = '';
        u.password = '';
        scmUri = u.toString().replace(/\/$/, '');
      } catch {
        scmUri = '';
      }
      return { userName: p.publishingUserName ?? '', password: p.publishingPassword ?? '', scmUri };
    },
    async getBasicAuthAllowed(ref, kind = 'scm') {
      const res = await call(
        'GET',
        `${siteId(ref)}/basicPublishingCredentialsPolicies/${kind}`,
        WEB_API_VERSION,
        `read the ${kind} basic-auth policy`,
        describeSite(ref),
      );
      return Boolean(props<{ allow?: boolean }>(res).allow);
    },
    async setBasicAuthAllowed(ref, allow, kind = 'scm') {
      await call(
        'PUT',
        `${siteId(ref)}/basicPublishingCredentialsPolicies/${kind}`,
        WEB_API_VERSION,
        `write the ${kind} basic-auth policy`,
        describeSite(ref),
        { properties: { allow } },
      );
    },
    async listFunctions(ref) {
      return [...(await functionEnvelopes(ref)).keys()];
    },
    async listFunctionTriggers(ref) {
      const out = new Map<string, string | undefined>();
      for (const [name, config] of await functionEnvelopes(ref)) out.set(name, triggerOf(config));
      return out;
    },
    async listSlots(ref) {
      const prod = { ...ref, slot: null };
      const res = await call(
        'GET',
        `${siteId(prod)}/slots`,
        WEB_API_VERSION,
        'list deployment slots',
        ref.appName,
      );
      const body = res.json<{ value?: { name?: string }[] }>();
      return (body?.value ?? []).map((s) => (s.name ?? '').split('/').pop() ?? '').filter(Boolean);
    },
    async listInstances(ref) {
      const ids: string[] = [];
      for await (const items of pages<{ name?: string }>(
        url(`${siteId(ref)}/instances`, WEB_API_VERSION),
        'list the instances',
        describeSite(ref),
      ))
        for (const i of items) {
          const id = (i.name ?? '').split('/').pop();
          if (id) ids.push(id);
        }
      return ids;
    },
    async syncFunctionTriggers(ref) {
      // Returned as is: 400 means the host is still starting and the caller decides how to retry.
      return send('POST', url(`${siteId(ref)}/syncfunctiontriggers`, WEB_API_VERSION), { body: '' });
    },
    async swapSlot(ref, targetSlot) {
      await call(
        'POST',
        `${siteId(ref)}/slotsswap`,
        WEB_API_VERSION,
        `swap with ${targetSlot}`,
        describeSite(ref),
        { targetSlot, preserveVnet: true },
      );
    },
    async findSiteResourceGroup(subscriptionId, appName) {
      const site = await findInPages<{ id: string; name: string }>(
        url(`/subscriptions/${subscriptionId}/providers/Microsoft.Web/sites`, WEB_API_VERSION),
        'list the apps',
        `subscription ${subscriptionId}`,
        (s) => s.name.toLowerCase() === appName.toLowerCase() && /\/resourceGroups\/[^/]+\//i.test(s.id),
      );
      return site ? /\/resourceGroups\/([^/]+)\//i.exec(site.id)![1] : null;
    },
    async listSubscriptions() {
      const res = await call(
        'GET',
        '/subscriptions',
        RESOURCES_API_VERSION,
        'list subscriptions',
        'the tenant',
      );
      const body = res.json<{ value?: { subscriptionId: string; displayName?: string; state?: string }[] }>();
      return (body?.value ?? []).map((s) => ({
        subscriptionId: s.subscriptionId,
        displayName: s.displayName ?? '',
        state: s.state ?? '',
      }));
    },
    async findInsightsComponent(subscriptionId, instrumentationKey) {
      const key = instrumentationKey.toLowerCase();
      const found = await findInPages<{
        id: string;
        name: string;
        properties?: { InstrumentationKey?: string };
      }>(
        url(
          `/subscriptions/${subscriptionId}/providers/Microsoft.Insights/components`,
          INSIGHTS_API_VERSION,
          {
            $filter: `InstrumentationKey eq '${instrumentationKey.replace(/'/g, "''")}'`,
          },
        ),
        'list Application Insights components',
        `subscription ${subscriptionId}`,
        // The filter narrows the list; the key is compared here too, in case a service ignores it.
        (c) => c.properties?.InstrumentationKey?.toLowerCase() === key,
      );
      return found ? { id: found.id, name: found.name } : null;
    },
    async addAnnotation(componentId, annotation) {
      await call(
        'PUT',
        `${componentId}/Annotations`,
        INSIGHTS_API_VERSION,
        'add a release annotation',
        componentId.split('/').pop() ?? componentId,
        annotation,
      );
    },
    async findStorageAccount(subscriptionId, name) {
      const a = await findInPages<{
        id: string;
        name: string;
        properties?: {
          primaryEndpoints?: { blob?: string };
          allowSharedKeyAccess?: boolean | null;
          networkAcls?: { defaultAction?: string };
        };
      }>(
        url(
          `/subscriptions/${subscriptionId}/providers/Microsoft.Storage/storageAccounts`,
          STORAGE_API_VERSION,
        ),
        'list storage accounts',
        `subscription ${subscriptionId}`,
        (x) => x.name.toLowerCase() === name.toLowerCase(),
      );
      if (!a) return null;
      return {
        id: a.id,
        name: a.name,
        resourceGroup: /\/resourceGroups\/([^/]+)\//i.exec(a.id)?.[1] ?? '',
        blobEndpoint: a.properties?.primaryEndpoints?.blob ?? '',
        // Absent means allowed (the platform default).
        allowSharedKeyAccess: a.properties?.allowSharedKeyAccess !== false,
        networkDefaultAction: a.properties?.networkAcls?.defaultAction ?? 'Allow',
      };
    },
    async listStorageAccountKeys(accountId) {
      const name = accountId.split('/').pop() ?? accountId;
      const res = await call(
        'POST',
        `${accountId}/listKeys`,
        STORAGE_API_VERSION,
        'list the account keys (Microsoft.Storage/storageAccounts/listKeys/action)',
        `storage account ${name}`,
      );
      const body = res.json<{ keys?: { value?: string }[] }>();
      return (body?.keys ?? []).map((k) => k.value ?? '').filter(Boolean);
    },
    async listRoleAssignments(scope, principalId) {
      const res = await call(
        'GET',
        `${scope}/providers/Microsoft.Authorization/roleAssignments`,
        AUTHORIZATION_API_VERSION,
        'list role assignments',
        scope.split('/').pop() ?? scope,
        undefined,
        { $filter: `assignedTo('${principalId}')` },
      );
      const body = res.json<{
        value?: {
          id: string;
          properties?: { scope?: string; principalId?: string; roleDefinitionId?: string };
        }[];
      }>();
      return (body?.value ?? []).map((r) => ({
        id: r.id,
        scope: r.properties?.scope ?? '',
        principalId: r.properties?.principalId ?? '',
        roleDefinitionId: r.properties?.roleDefinitionId ?? '',
      }));
    },
  };
  return client;
}
