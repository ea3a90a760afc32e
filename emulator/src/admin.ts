/**
 * Test-only control surface (never used by runpack): faults per app or account, storage toggles, the clock,
 * GitHub OIDC request tokens, the request log, a site's worker state and mount, reset. The same operations
 * are available in-process (`EmulatorAdmin`) and over HTTPS on the admin loopback port.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readJson, requestUrl, sendEmpty, sendJson } from './core-http.js';
import type {
  EmulatorContext,
  Faults,
  InstanceFault,
  InstanceInfo,
  MountInfo,
  RequestLogEntry,
  Site,
  StorageAccount,
} from './model.js';
import type { SiteWorker } from './worker.js';
import type { OidcClaims } from './oidc.js';
import { ensureFlexContainer, isFlexSite } from './flex.js';
import { deleteAllContainers, ResetError, resetSites, snapshotSites } from './reset.js';

export type StorageToggles = Partial<
  Pick<
    StorageAccount,
    'allowSharedKeyAccess' | 'allowBlobPublicAccess' | 'networkDefaultAction' | 'blobReaders' | 'blobWriters'
  >
>;

export interface SiteView {
  id: string;
  appName: string;
  slotName: string | null;
  state: Site['state'];
  workerState: 'starting' | 'running' | 'failed' | 'stopped' | null;
  mounted: MountInfo | null;
  appSettings: Record<string, string>;
  scmSettings: Record<string, string>;
  triggerSyncs: Site['triggerSyncs'];
  homeDir: string;
  defaultHostName: string;
  scmHostName: string;
  /** Every instance: its id (the ARRAffinity value), mount and fault. */
  instances: InstanceInfo[];
}

export interface EmulatorAdmin {
  /** Replace the faults of an app or storage account name ('*' for all). */
  setFaults(name: string, faults: Faults): void;
  /** Merge into the faults of a name. */
  addFaults(name: string, faults: Faults): void;
  /** Clear the faults of one name, or all. */
  clearFaults(name?: string): void;
  faults(): Record<string, Faults>;
  setStorage(account: string, toggles: StorageToggles): StorageAccount;
  /** Move the emulated clock; returns the new emulated time (ISO). */
  advanceClock(ms: number): string;
  now(): string;
  /** A GitHub OIDC request token whose ID tokens carry these claims (e.g. another `sub`). */
  mintOidcRequestToken(
    claims?: Partial<OidcClaims>,
    lifetimeSeconds?: number,
  ): { requestToken: string; requestUrl: string };
  requests(filter?: { service?: string; site?: string }): RequestLogEntry[];
  clearRequests(): void;
  site(app: string, slot?: string | null): SiteView;
  /** Give one instance of a site a fault (null clears it): keep-mount ignores restarts, fail-mount fails its mount. */
  setInstanceFault(app: string, slot: string | null, index: number, fault: InstanceFault): void;
  /** Scale a site to `count` instances (new ones mount what the site runs now). Resolves when they run. */
  scale(app: string, slot: string | null, count: number): Promise<void>;
  /** Make ARM's restart of this app answer 202 + Azure-AsyncOperation/Location (the optional LRO path) or 200. */
  setAsyncRestart(app: string, on: boolean): void;
  /**
   * Clear faults and the request log, restore storage toggles, put the clock back to real time, 200 restarts;
   * all of that is done before it returns. With `sites`, also put every site back to the preset (settings,
   * sticky names, state, homeDir, deployment history, trigger syncs, Kudu-local settings, files under %HOME%,
   * scale-out) and restart every worker; with `blobs`, delete every container. Await the promise for those.
   */
  reset(options?: ResetOptions): Promise<void>;
}

export interface ResetOptions {
  /** Also reset every site to the preset and restart its worker (resolves when the restarts end). */
  sites?: boolean;
  /** Also delete every blob container of the storage account. */
  blobs?: boolean;
}

export interface AdminDeps {
  ctx: EmulatorContext;
  clockOffset: () => number;
  mintOidc: (claims?: Partial<OidcClaims>, lifetimeSeconds?: number) => string;
  oidcRequestUrl: () => string;
  setAsyncRestart: (app: string, on: boolean) => void;
}

export function createAdmin(deps: AdminDeps): EmulatorAdmin {
  const { ctx } = deps;
  const initialStorage = new Map(
    [...ctx.storageAccounts.entries()].map(([k, a]) => [
      k,
      {
        allowSharedKeyAccess: a.allowSharedKeyAccess,
        allowBlobPublicAccess: a.allowBlobPublicAccess,
        networkDefaultAction: a.networkDefaultAction,
        blobReaders: [...a.blobReaders],
        blobWriters: [...a.blobWriters],
      },
    ]),
  );

  const asyncApps = new Set<string>();
  const siteSnapshots = snapshotSites(ctx);

  function account(name: string): StorageAccount {
    const a = [...ctx.storageAccounts.values()].find((x) => x.name === name.toLowerCase());
    if (!a) throw new AdminError(404, `no storage account named '${name}'`);
    return a;
  }

  function findSite(app: string, slot: string | null): Site {
    const s = [...ctx.sites.values()].find(
      (x) =>
        x.appName.toLowerCase() === app.toLowerCase() &&
        (x.slotName ?? '').toLowerCase() === (slot ?? '').toLowerCase(),
    );
    if (!s) throw new AdminError(404, `no site '${app}'${slot ? ` slot '${slot}'` : ''}`);
    return s;
  }

  function scalable(site: Site): SiteWorker {
    const w = ctx.workers.get(site.id.toLowerCase()) as SiteWorker | undefined;
    if (!w?.scaleOut) throw new AdminError(409, `site '${site.appName}' has no worker to scale`);
    return w;
  }

  return {
    setFaults(name, faults) {
      ctx.faults.set(name, structuredClone(faults));
    },
    addFaults(name, faults) {
      ctx.faults.set(name, { ...(ctx.faults.get(name) ?? {}), ...structuredClone(faults) });
    },
    clearFaults(name) {
      if (name === undefined) ctx.faults.clear();
      else ctx.faults.delete(name);
    },
    faults: () => Object.fromEntries(ctx.faults.entries()),
    setStorage(name, t) {
      const a = account(name);
      if (t.allowSharedKeyAccess !== undefined) a.allowSharedKeyAccess = Boolean(t.allowSharedKeyAccess);
      if (t.allowBlobPublicAccess !== undefined) a.allowBlobPublicAccess = Boolean(t.allowBlobPublicAccess);
      if (t.networkDefaultAction !== undefined) {
        if (t.networkDefaultAction !== 'Allow' && t.networkDefaultAction !== 'Deny')
          throw new AdminError(400, "networkDefaultAction must be 'Allow' or 'Deny'");
        a.networkDefaultAction = t.networkDefaultAction;
      }
      if (t.blobReaders !== undefined) {
        if (!Array.isArray(t.blobReaders))
          throw new AdminError(400, 'blobReaders must be a list of principal ids');
        a.blobReaders = t.blobReaders.map(String);
      }
      if (t.blobWriters !== undefined) {
        if (!Array.isArray(t.blobWriters))
          throw new AdminError(400, 'blobWriters must be a list of principal ids');
        a.blobWriters = t.blobWriters.map(String);
      }
      return a;
    },
    advanceClock(ms) {
      if (!Number.isFinite(ms)) throw new AdminError(400, 'ms must be a number');
      ctx.clock.advance(ms);
      return ctx.clock.now().toISOString();
    },
    now: () => ctx.clock.now().toISOString(),
    mintOidcRequestToken(claims, lifetimeSeconds) {
      return { requestToken: deps.mintOidc(claims, lifetimeSeconds), requestUrl: deps.oidcRequestUrl() };
    },
    requests(filter = {}) {
      return ctx.requestLog.filter(
        (e) => (!filter.service || e.service === filter.service) && (!filter.site || e.site === filter.site),
      );
    },
    clearRequests() {
      ctx.requestLog.length = 0;
    },
    site(app, slot = null) {
      const s = findSite(app, slot);
      const w = ctx.workers.get(s.id.toLowerCase());
      return {
        id: s.id,
        appName: s.appName,
        slotName: s.slotName,
        state: s.state,
        workerState: w ? w.state() : null,
        mounted: w ? w.mounted() : null,
        appSettings: { ...s.appSettings },
        scmSettings: { ...s.scmSettings },
        triggerSyncs: [...s.triggerSyncs],
        homeDir: s.homeDir,
        defaultHostName: s.defaultHostName,
        scmHostName: s.scmHostName,
        instances: w?.instances ? w.instances() : [],
      };
    },
    setInstanceFault(app, slot, index, fault) {
      if (fault !== null && fault !== 'keep-mount' && fault !== 'fail-mount')
        throw new AdminError(400, "fault must be 'keep-mount', 'fail-mount' or null");
      const w = scalable(findSite(app, slot));
      if (!Number.isInteger(index) || index < 0 || index >= w.instances().length)
        throw new AdminError(400, `no instance ${index}: the site has ${w.instances().length}`);
      w.setInstanceFault(index, fault);
    },
    async scale(app, slot, count) {
      if (!Number.isInteger(count) || count < 1 || count > 10)
        throw new AdminError(400, 'instances must be a whole number from 1 to 10');
      const w = scalable(findSite(app, slot));
      while (w.instances().length < count) await w.scaleOut();
      while (w.instances().length > count) await w.scaleIn();
    },
    setAsyncRestart(app, on) {
      findSite(app, null);
      asyncApps[on ? 'add' : 'delete'](app);
      deps.setAsyncRestart(app, on);
    },
    reset(options = {}) {
      for (const app of asyncApps) deps.setAsyncRestart(app, false);
      asyncApps.clear();
      ctx.faults.clear();
      ctx.requestLog.length = 0;
      ctx.clock.advance(-deps.clockOffset());
      for (const [k, init] of initialStorage) {
        const a = ctx.storageAccounts.get(k);
        if (a)
          Object.assign(a, {
            ...init,
            blobReaders: [...init.blobReaders],
            blobWriters: [...init.blobWriters],
          });
      }
      if (!options.sites && !options.blobs) return Promise.resolve();
      return (async () => {
        if (options.blobs) {
          await deleteAllContainers(ctx);
          for (const s of ctx.sites.values()) if (isFlexSite(s)) await ensureFlexContainer(ctx, s);
        }
        if (options.sites) await resetSites(ctx, siteSnapshots);
      })();
    },
  };
}

export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The admin HTTPS API over an EmulatorAdmin. */
export function adminHandler(admin: EmulatorAdmin) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = requestUrl(req);
    const seg = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const m = req.method ?? 'GET';
    try {
      const body = (m === 'GET' || m === 'DELETE' ? undefined : await readJson(req)) as
        Record<string, unknown> | undefined;
      if (seg[0] === 'faults') {
        if (m === 'GET' && seg.length === 1) return sendJson(res, 200, admin.faults());
        if (m === 'DELETE' && seg.length === 1) return (admin.clearFaults(), sendEmpty(res, 204));
        if (seg.length === 2) {
          if (m === 'PUT')
            return (admin.setFaults(seg[1]!, (body ?? {}) as Faults), sendJson(res, 200, admin.faults()));
          if (m === 'PATCH')
            return (admin.addFaults(seg[1]!, (body ?? {}) as Faults), sendJson(res, 200, admin.faults()));
          if (m === 'DELETE') return (admin.clearFaults(seg[1]!), sendEmpty(res, 204));
        }
      }
      if (seg[0] === 'storage' && seg.length === 2 && m === 'PATCH') {
        const a = admin.setStorage(seg[1]!, (body ?? {}) as StorageToggles);
        return sendJson(res, 200, {
          name: a.name,
          allowSharedKeyAccess: a.allowSharedKeyAccess,
          allowBlobPublicAccess: a.allowBlobPublicAccess,
          networkDefaultAction: a.networkDefaultAction,
          blobReaders: a.blobReaders,
          blobWriters: a.blobWriters,
        });
      }
      if (seg[0] === 'clock') {
        if (m === 'GET' && seg.length === 1) return sendJson(res, 200, { now: admin.now() });
        if (m === 'POST' && seg[1] === 'advance')
          return sendJson(res, 200, { now: admin.advanceClock(Number(body?.ms)) });
      }
      if (seg[0] === 'oidc' && seg[1] === 'request-tokens' && m === 'POST') {
        const claims = (body?.claims ?? {}) as Partial<OidcClaims>;
        const lifetime = typeof body?.lifetimeSeconds === 'number' ? body.lifetimeSeconds : undefined;
        return sendJson(res, 200, admin.mintOidcRequestToken(claims, lifetime));
      }
      if (seg[0] === 'requests') {
        if (m === 'GET') {
          return sendJson(
            res,
            200,
            admin.requests({
              service: url.searchParams.get('service') ?? undefined,
              site: url.searchParams.get('site') ?? undefined,
            }),
          );
        }
        if (m === 'DELETE') return (admin.clearRequests(), sendEmpty(res, 204));
      }
      if (seg[0] === 'instance-faults' && seg.length === 2 && m === 'PUT') {
        const slot = typeof body?.slot === 'string' ? body.slot : null;
        const fault = (body?.fault ?? null) as InstanceFault;
        admin.setInstanceFault(seg[1]!, slot, Number(body?.index), fault);
        return sendJson(res, 200, admin.site(seg[1]!, slot).instances);
      }
      if (seg[0] === 'scale' && seg.length === 2 && m === 'PUT') {
        const slot = typeof body?.slot === 'string' ? body.slot : null;
        await admin.scale(seg[1]!, slot, Number(body?.instances));
        return sendJson(res, 200, admin.site(seg[1]!, slot).instances);
      }
      if (seg[0] === 'sites' && m === 'GET' && (seg.length === 2 || seg.length === 3)) {
        return sendJson(res, 200, admin.site(seg[1]!, seg[2] ?? null));
      }
      if (seg[0] === 'reset' && m === 'POST') {
        await admin.reset({ sites: body?.sites === true, blobs: body?.blobs === true });
        return sendEmpty(res, 204);
      }
      if (seg[0] === 'async-restart' && seg.length === 2 && m === 'PUT') {
        return (admin.setAsyncRestart(seg[1]!, body?.enabled === true), sendEmpty(res, 204));
      }
      return sendJson(res, 404, { error: `no admin endpoint ${m} ${url.pathname}` });
    } catch (err) {
      const status =
        err instanceof AdminError || err instanceof ResetError
          ? err.status
          : err instanceof SyntaxError
            ? 400
            : 500;
      return sendJson(res, status, { error: (err as Error).message });
    }
  };
}
