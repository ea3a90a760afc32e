/**
 * Putting sites (and optionally blob storage) back to the preset, so several test files can share one
 * emulator: settings, slot-sticky names, state, home directory (a swap is undone), deployment history,
 * trigger syncs, Kudu-local settings, the files under %HOME%, scale-out and the mount (every worker restarts).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { azuriteRequest } from './azurite-rest.js';
import { FLEX_PACKAGE_BLOB, flexStorage, isFlexSite } from './flex.js';
import { clearKuduLocalSettings } from './kudu.js';
import type { EmulatorContext, Site, SiteWorkerApi } from './model.js';
import { removeTree } from './mount.js';
import type { SiteWorker } from './worker.js';

/** The fields of a site that Resource Manager, Kudu and the admin API change, as they were at start. */
export interface SiteSnapshot {
  appSettings: Record<string, string>;
  scmSettings: Record<string, string>;
  connectionStrings: Site['connectionStrings'];
  appCommandLine: string;
  slotConfigNames: Site['slotConfigNames'];
  basicAuthAllowed: Site['basicAuthAllowed'];
  state: Site['state'];
  homeDir: string;
  identity: Site['identity'];
}

/** A copy of what users change on a site (what a reset puts back and a restart keeps). */
export function siteSnapshot(s: Site): SiteSnapshot {
  return structuredClone({
    appSettings: s.appSettings,
    scmSettings: s.scmSettings,
    connectionStrings: s.connectionStrings,
    appCommandLine: s.appCommandLine,
    slotConfigNames: s.slotConfigNames,
    basicAuthAllowed: s.basicAuthAllowed,
    state: s.state,
    homeDir: s.homeDir,
    identity: s.identity,
  });
}

export function snapshotSites(ctx: EmulatorContext): Map<Site, SiteSnapshot> {
  return new Map([...ctx.sites.values()].map((s) => [s, siteSnapshot(s)]));
}

/** Thrown when the reset cannot be done safely now (the admin API answers it with this status). */
export class ResetError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Back to the site's configured instances, each without a fault (scaling is not in SiteWorkerApi; the real worker has it). */
function rescale(w: SiteWorkerApi, count: number): Promise<void> | null {
  const x = w as SiteWorkerApi &
    Partial<Pick<SiteWorker, 'scaleIn' | 'scaleOut' | 'instances' | 'setInstanceFault'>>;
  if (!x.scaleIn || !x.scaleOut || !x.instances || !x.setInstanceFault) return null;
  const now = x.instances().length;
  x.instances().forEach((_, i) => x.setInstanceFault!(i, null));
  let p = Promise.resolve();
  for (let i = now; i > count; i--) p = p.then(() => x.scaleIn!());
  for (let i = now; i < count; i++) p = p.then(() => x.scaleOut!());
  return p;
}

/** Empty a site's %HOME% and recreate the folders a new site has. */
async function freshHome(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  for (const name of await fsp.readdir(dir)) await removeTree(path.join(dir, name));
  await fsp.mkdir(path.join(dir, 'data', 'SitePackages'), { recursive: true });
  await fsp.mkdir(path.join(dir, 'site', 'wwwroot'), { recursive: true });
}

/**
 * Reset every site to its snapshot and restart its worker; resolves once every worker has finished its
 * restart. Waits up to `waitMs` for running deployments to end, then refuses (409) rather than pull the
 * files out from under one.
 */
export async function resetSites(
  ctx: EmulatorContext,
  snapshots: Map<Site, SiteSnapshot>,
  waitMs = 30000,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const busy = [...ctx.sites.values()].find((s) => s.deployments.some((d) => !d.complete));
    if (!busy) break;
    if (Date.now() > deadline)
      throw new ResetError(
        409,
        `a deployment is still running on ${busy.appName}${busy.slotName ? `/${busy.slotName}` : ''}: wait for it to end, then reset`,
      );
    await sleep(20);
  }
  for (const [site, snap] of snapshots) {
    const s = structuredClone(snap);
    site.appSettings = s.appSettings;
    site.scmSettings = s.scmSettings;
    site.connectionStrings = s.connectionStrings;
    site.appCommandLine = s.appCommandLine;
    site.slotConfigNames = s.slotConfigNames;
    site.basicAuthAllowed = s.basicAuthAllowed;
    site.state = s.state;
    site.homeDir = s.homeDir;
    site.identity = s.identity;
    site.deployments = [];
    site.triggerSyncs = [];
    clearKuduLocalSettings(site);
  }
  for (const c of ctx.components.values()) c.annotations = [];
  for (const site of snapshots.keys()) await freshHome(site.homeDir);
  // A Flex app's package lives in its deployment container, not under %HOME%: gone as a fresh app has none.
  for (const site of snapshots.keys()) {
    const storage = isFlexSite(site) ? flexStorage(ctx, site) : null;
    if (storage?.container && ctx.azurite.blobEndpoint)
      await azuriteRequest(ctx, 'DELETE', `/${storage.container}/${FLEX_PACKAGE_BLOB}`);
  }
  await Promise.all(
    [...snapshots.keys()].map(async (site) => {
      const w = ctx.workers.get(site.id.toLowerCase());
      if (!w) return;
      await rescale(w, site.instanceCount);
      if (site.state === 'Running') await w.restart();
      else await w.stop();
    }),
  );
}

/** Delete every container of the emulator's storage account (straight to Azurite, past the front's rules). */
export async function deleteAllContainers(ctx: EmulatorContext): Promise<string[]> {
  if (!ctx.azurite.blobEndpoint) return [];
  const names: string[] = [];
  let marker = '';
  do {
    const q = new URLSearchParams({ comp: 'list' });
    if (marker) q.set('marker', marker);
    const r = await azuriteRequest(ctx, 'GET', '', q);
    if (r.status !== 200) throw new ResetError(500, `listing containers in Azurite answered ${r.status}`);
    for (const m of r.body.toString('utf8').matchAll(/<Container>\s*<Name>([^<]+)<\/Name>/g))
      names.push(m[1]!);
    marker = /<NextMarker>([^<]+)<\/NextMarker>/.exec(r.body.toString('utf8'))?.[1] ?? '';
  } while (marker);
  for (const name of names) {
    const r = await azuriteRequest(ctx, 'DELETE', `/${name}`, new URLSearchParams({ restype: 'container' }));
    if (r.status !== 202 && r.status !== 404)
      throw new ResetError(500, `deleting container ${name} in Azurite answered ${r.status}`);
  }
  return names;
}
