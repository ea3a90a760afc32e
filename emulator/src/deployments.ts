/**
 * Kudu's push deployments (zipdeploy and OneDeploy): one lock per site, deployment records with integer
 * statuses that move Pending → Building → Deploying → Success/Failed over a short, tunable time, the
 * run-from-package local path (SitePackages, purge, packagename.txt after Success, restart request) and
 * plain extraction into site/wwwroot otherwise.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { DeploymentRecord, EmulatorContext, Faults, Site } from './model.js';
import { fetchPackage } from './blobfetch.js';
import { kuduMountedDir, parseRunFromPackage, sitePackagesDir, wwwrootDir } from './mount.js';
import { checkZip, checkZipForRunFromPackage, extractZip, zipFunctionNames } from './zip.js';
import { storeLinuxConsumptionPackage, writeFlexPackage } from './flex.js';

export const LOCK_CONFLICT =
  'There is a deployment currently in progress. Please try again when it completes.';
export const URL_MODE_CONFLICT =
  'Run-From-Zip is set to a remote URL using WEBSITE_USE_ZIP app setting. Deployment is not supported in this configuration.';

export type ArtifactType = 'war' | 'jar' | 'ear' | 'lib' | 'startup' | 'script' | 'static' | 'zip';
export const ARTIFACT_TYPES: readonly ArtifactType[] = [
  'war',
  'jar',
  'ear',
  'lib',
  'startup',
  'script',
  'static',
  'zip',
];

export interface DeployRequest {
  /** The Kudu route that received it, e.g. `/api/zipdeploy`. */
  route: string;
  type: ArtifactType;
  /** Raw artifact bytes, or a URL Kudu downloads itself. */
  body: { bytes: Buffer } | { packageUri: string };
  deployer: string;
  author: string | null;
  authorEmail: string | null;
  message: string;
  clean: boolean;
  /** OneDeploy `restart` (zipdeploy: true); SCM_RESTART_APP_CONTAINER_AFTER_DEPLOYMENT=false also turns it off. */
  restart: boolean;
  /** OneDeploy `path` (target below wwwroot for zip/static/lib/script). */
  targetPath: string | null;
  /** `https://<host the client used>` for url/log_url. */
  baseUrl: string;
  /** A Flex Consumption One Deploy: the package goes to the deployment storage (remote build when asked). */
  flex?: { remoteBuild: boolean };
  /** A zip deploy on Linux Consumption: the package goes to blob storage and the app runs it from its URL. */
  linuxConsumption?: boolean;
}

export interface DeploymentEngineOptions {
  /** Time spent in each of Pending, Building and Deploying (default 100 ms, env RUNPACK_EMULATOR_DEPLOY_STEP_MS). */
  stepMs?: number;
}

export interface DeploymentEngine {
  busy(): boolean;
  /** Start a deployment (the caller has checked the lock); resolves with the record when it is final. */
  start(req: DeployRequest): { record: DeploymentRecord; done: Promise<DeploymentRecord> };
  /** Records, newest first. */
  list(): DeploymentRecord[];
  get(id: string): DeploymentRecord | undefined;
  /** The non-terminal record, or the one with the greatest end_time; undefined without records. */
  latest(): DeploymentRecord | undefined;
  /** Write a record supplied by a client (PUT /api/deployments/{id}). */
  put(id: string, fields: Partial<DeploymentRecord>, baseUrl: string): DeploymentRecord;
}

const STATUS_TEXT: Record<number, string> = {
  0: 'Pending',
  1: 'Building',
  2: 'Deploying',
  3: 'Failed',
  4: 'Success',
};

/** `yyyyMMddHHmmss` in UTC. */
export function packageName(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.zip`;
}

/** `yyyy-MM-dd_HH-mm-ssZ` as in the 202 Location's `time` parameter. */
export function locationTime(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace('T', '_')
    .replace(/:/g, '-');
}

/** SCM_MAX_ZIP_PACKAGE_COUNT: default 5, values below 1 become 1, a non-integer means 5. */
export function maxZipPackageCount(settings: Record<string, string>): number {
  const raw = settings.SCM_MAX_ZIP_PACKAGE_COUNT;
  if (raw === undefined) return 5;
  const t = raw.trim();
  if (!/^[+-]?\d+$/.test(t)) return 5;
  const n = Number(t);
  if (!Number.isSafeInteger(n)) return 5;
  return Math.max(1, n);
}

/** Delete the oldest *.zip files (by last-write time) in `dir` until at most `max` remain. */
export async function purgeZips(dir: string, max: number): Promise<string[]> {
  const zips: { name: string; mtime: number }[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    if (!e.isFile() || !e.name.toLowerCase().endsWith('.zip')) continue;
    const s = await fsp.stat(path.join(dir, e.name));
    zips.push({ name: e.name, mtime: s.mtimeMs });
  }
  zips.sort((a, b) => a.mtime - b.mtime || a.name.localeCompare(b.name));
  const removed: string[] = [];
  while (zips.length > max) {
    const z = zips.shift() as { name: string };
    await fsp.rm(path.join(dir, z.name), { force: true });
    removed.push(z.name);
  }
  return removed;
}

/** Remove the contents of a directory (not the directory itself). */
async function emptyDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  for (const name of await fsp.readdir(dir))
    await fsp.rm(path.join(dir, name), { recursive: true, force: true });
}

function safeRelative(p: string): string | null {
  const parts = p
    .replace(/\\/g, '/')
    .split('/')
    .filter((x) => x !== '' && x !== '.');
  if (parts.some((x) => x === '..')) return null;
  return parts.join('/');
}

function faultsOf(ctx: EmulatorContext, site: Site): Faults[] {
  return [ctx.faults.get(site.appName), ctx.faults.get('*')].filter((f): f is Faults => f !== undefined);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Completion order of records across every site (see latest()). Shared by all engines because a slot swap
 * moves a history, with its finished records, from one site's Kudu to the other's.
 */
const finished = new WeakMap<DeploymentRecord, number>();
let finishCount = 0;

export function createDeploymentEngine(
  ctx: EmulatorContext,
  site: Site,
  /** What Kudu sees: site.scmSettings merged with Kudu-local settings. */
  settings: () => Record<string, string>,
  options: DeploymentEngineOptions = {},
): DeploymentEngine {
  const envStep = Number(process.env.RUNPACK_EMULATOR_DEPLOY_STEP_MS);
  const stepMs = options.stepMs ?? (Number.isFinite(envStep) && envStep >= 0 ? envStep : 100);
  let running = false;
  // Read site.deployments at use time, never keep it: a slot swap exchanges the histories with homeDir.
  const history = (): DeploymentRecord[] => site.deployments;
  const markFinished = (rec: DeploymentRecord): void => void finished.set(rec, ++finishCount);
  /** Mark a record finished and free the lock (idempotent). */
  let current: DeploymentRecord | null = null;
  const release = (rec: DeploymentRecord): void => {
    if (!finished.has(rec)) markFinished(rec);
    if (current === rec) {
      current = null;
      running = false;
    }
  };

  const now = (): string => ctx.clock.now().toISOString();

  const newRecord = (
    id: string,
    req: Pick<DeployRequest, 'deployer' | 'author' | 'authorEmail' | 'message' | 'baseUrl'>,
  ): DeploymentRecord => ({
    id,
    status: 0,
    status_text: '',
    author_email: req.authorEmail ?? 'N/A',
    author: req.author ?? 'N/A',
    deployer: req.deployer,
    message: req.message,
    progress: '',
    received_time: now(),
    start_time: null,
    end_time: null,
    last_success_end_time: lastSuccessEnd(),
    complete: false,
    active: false,
    is_temp: false,
    is_readonly: false,
    url: `${req.baseUrl}/api/deployments/${id}`,
    log_url: `${req.baseUrl}/api/deployments/${id}/log`,
    site_name: site.appName,
    provisioningState: 'InProgress',
    log: [],
  });

  const lastSuccessEnd = (): string | null => {
    const ok = history()
      .filter((r) => r.status === 4 && r.end_time)
      .map((r) => r.end_time as string);
    ok.sort();
    return ok.length ? ok[ok.length - 1] : null;
  };

  const log = (rec: DeploymentRecord, message: string, type = 0): void => {
    rec.log.push({ log_time: now(), id: randomUUID(), message, type });
  };

  const setStatus = (rec: DeploymentRecord, status: 0 | 1 | 2 | 3 | 4): void => {
    rec.status = status;
    rec.progress = status < 3 ? STATUS_TEXT[status] : '';
    rec.provisioningState = status === 3 ? 'Failed' : status === 4 ? 'Succeeded' : 'InProgress';
  };

  /** Write into the wwwroot Kudu sees: the read-only mount when one is active, else site/wwwroot on disk. */
  const wwwrootForWrites = (seen: Record<string, string>): { dir: string; readOnly: boolean } => {
    const dir = kuduMountedDir(ctx, site, seen);
    return dir ? { dir, readOnly: true } : { dir: wwwrootDir(site), readOnly: false };
  };

  const readOnlyError = (): Error =>
    new Error(
      site.reserved
        ? `Read-only file system : '/home/site/wwwroot'`
        : `Access to the path 'D:\\home\\site\\wwwroot' is denied.`,
    );

  /** Mark a record Failed with the error's text and free the lock. */
  const fail = (rec: DeploymentRecord, err: unknown): void => {
    rec.status_text = err instanceof Error ? err.message : String(err);
    log(rec, rec.status_text, 2);
    setStatus(rec, 3);
    rec.end_time = now();
    rec.complete = true;
    release(rec);
  };

  /** Mark a record Success, make it the active one and free the lock in one step. */
  const succeed = (rec: DeploymentRecord): void => {
    setStatus(rec, 4);
    rec.end_time = now();
    rec.last_success_end_time = rec.end_time;
    rec.complete = true;
    for (const r of history()) r.active = r === rec;
    release(rec);
  };

  /**
   * Flex Consumption's deployment: settings Flex refuses fail it, the zip is checked (and built remotely when
   * asked), written to the deployment storage as released-package.zip, and the app restarts onto it. A failure
   * before the write leaves the previous package where it was.
   */
  const flexPipeline = async (rec: DeploymentRecord, req: DeployRequest): Promise<void> => {
    const bytes = 'bytes' in req.body ? req.body.bytes : Buffer.alloc(0);
    log(rec, `Flex Consumption deployment (remote build ${req.flex!.remoteBuild ? 'on' : 'off'}).`);
    await sleep(stepMs);
    rec.start_time = now();
    const refused = [
      'WEBSITE_RUN_FROM_PACKAGE',
      'WEBSITE_CONTENTSHARE',
      'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
    ].find((k) => site.appSettings[k] !== undefined);
    if (refused)
      throw new Error(
        `App setting ${refused} is not supported on the Flex Consumption plan. Please remove the app setting.`,
      );
    const check = checkZip(bytes);
    if (!check.ok) throw new Error(`The package is not a valid zip file: ${check.error}`);
    if (req.flex!.remoteBuild) {
      setStatus(rec, 1);
      log(rec, 'Running the remote build (Oryx).');
      await sleep(stepMs);
    }
    const fault = faultsOf(ctx, site).find((f) => f.deploymentFails);
    if (fault) {
      fault.deploymentFails = false;
      throw new Error('Deployment failed: the injected deploymentFails fault is set.');
    }
    setStatus(rec, 2);
    await writeFlexPackage(ctx, site, bytes);
    log(rec, `Uploaded the package to the deployment storage (${bytes.length} bytes).`);
    site.triggerSyncs.push({ time: now(), path: `kudu:${req.route}` });
    const w = ctx.workers.get(site.id.toLowerCase());
    if (w && req.restart) {
      log(rec, 'Restarting the app onto the new package.');
      void w.restart().catch(() => undefined);
    }
    await sleep(stepMs);
    log(rec, 'Deployment successful.');
    succeed(rec);
  };

  /** Linux Consumption: the zip goes to scm-releases and WEBSITE_RUN_FROM_PACKAGE names it; the app restarts. */
  const linuxConsumptionPipeline = async (rec: DeploymentRecord, req: DeployRequest): Promise<void> => {
    const bytes = 'bytes' in req.body ? req.body.bytes : Buffer.alloc(0);
    log(rec, 'Linux Consumption: the package runs from blob storage (not extracted into wwwroot).');
    await sleep(stepMs);
    rec.start_time = now();
    setStatus(rec, 1);
    const check = checkZip(bytes);
    if (!check.ok) throw new Error(`The package is not a valid zip file: ${check.error}`);
    await sleep(stepMs);
    setStatus(rec, 2);
    const url = await storeLinuxConsumptionPackage(ctx, site, bytes);
    log(rec, `Uploaded the package to ${url} and set WEBSITE_RUN_FROM_PACKAGE to it.`);
    site.triggerSyncs.push({ time: now(), path: `kudu:${req.route}` });
    const w = ctx.workers.get(site.id.toLowerCase());
    if (w) void w.restart().catch(() => undefined);
    log(rec, 'Deployment successful.');
    succeed(rec);
  };

  const pipeline = async (rec: DeploymentRecord, req: DeployRequest): Promise<void> => {
    if (req.flex || req.linuxConsumption) {
      try {
        await (req.flex ? flexPipeline(rec, req) : linuxConsumptionPipeline(rec, req));
      } catch (err) {
        fail(rec, err);
      }
      return;
    }
    const seen = settings();
    const mode = parseRunFromPackage(seen);
    let tempZip: string | null = null;
    try {
      log(rec, 'Received deployment request.');
      await sleep(stepMs);
      setStatus(rec, 1);
      rec.start_time = now();
      let bytes: Buffer;
      if ('bytes' in req.body) {
        bytes = req.body.bytes;
      } else {
        log(rec, `Fetching the package from ${req.body.packageUri.split('?')[0]}`);
        const got = await fetchPackage(ctx, site, req.body.packageUri);
        if (!got.ok) throw new Error(`Failed to download the package: ${got.status} ${got.code}`);
        tempZip = got.zip;
        bytes = await fsp.readFile(got.zip);
      }
      const fault = faultsOf(ctx, site).find((f) => f.deploymentFails);
      const isZip = req.type === 'zip';
      const runFromZip = mode.mode === 'local' && isZip;
      let pkgName: string | null = null;
      if (runFromZip) {
        log(rec, 'ZipDeploy. Run from package. Ignore remote build.');
        const dir = sitePackagesDir(site);
        await fsp.mkdir(dir, { recursive: true });
        const when = ctx.clock.now();
        pkgName = packageName(when);
        const file = path.join(dir, pkgName);
        await fsp.writeFile(file, bytes);
        await fsp.utimes(file, when, when);
        log(rec, `Saved the package as data/SitePackages/${pkgName}.`);
        const removed = await purgeZips(dir, maxZipPackageCount(seen));
        if (removed.length) log(rec, `Removed older packages: ${removed.join(', ')}.`);
      }
      if (fault) {
        fault.deploymentFails = false;
        throw new Error('Deployment failed: the injected deploymentFails fault is set.');
      }
      let entries: string[] = [];
      if (isZip) {
        // Local mode: Kudu only opens the central directory and reads the trigger files; extraction reads all
        const check = runFromZip ? checkZipForRunFromPackage(bytes) : checkZip(bytes);
        if (!check.ok) throw new Error(`The package is not a valid zip file: ${check.error}`);
        entries = check.entries;
      }
      await sleep(stepMs);
      setStatus(rec, 2);
      if (!runFromZip) {
        // an absolute path names a place under %HOME% (Kudu: /home/site/wwwroot/...); keep the part below wwwroot
        const given = req.targetPath ? req.targetPath.replace(/^\/home\/site\/wwwroot(\/|$)/i, '') : '';
        const sub = given ? safeRelative(given) : '';
        if (sub === null) throw new Error(`The path '${req.targetPath}' is not valid.`);
        const place = isZip ? { root: 'site/wwwroot', rel: sub } : artifactPlace(req.type, sub, site);
        let rootDir: string;
        if (place.root === 'site/wwwroot') {
          const target = wwwrootForWrites(seen);
          if (target.readOnly) throw readOnlyError();
          rootDir = target.dir;
        } else {
          rootDir = path.join(site.homeDir, ...place.root.split('/'));
        }
        if (isZip) {
          const dest = path.join(rootDir, ...sub.split('/').filter(Boolean));
          if (req.clean) await emptyDir(dest);
          const files = await extractZip(bytes, dest);
          log(rec, `Extracted ${files.length} files into site/wwwroot${sub ? '/' + sub : ''}.`);
        } else {
          const dest = path.join(rootDir, ...place.rel.split('/'));
          await fsp.mkdir(path.dirname(dest), { recursive: true });
          await fsp.writeFile(dest, bytes);
          log(rec, `Wrote ${place.root}/${place.rel}.`);
        }
      }
      await sleep(stepMs);
      if (pkgName) {
        // Written whole (temp file + rename): a reader never sees an empty pointer
        const pointer = path.join(sitePackagesDir(site), 'packagename.txt');
        const tmp = path.join(ctx.stateDir, 'tmp', `packagename-${randomUUID()}.txt`);
        await fsp.mkdir(path.dirname(tmp), { recursive: true });
        await fsp.writeFile(tmp, pkgName);
        const when = ctx.clock.now();
        await fsp.utimes(tmp, when, when);
        await fsp.rename(tmp, pointer);
        log(rec, `Updated packagename.txt to ${pkgName}.`);
      }
      if (site.kind.startsWith('functionapp')) {
        site.triggerSyncs.push({ time: now(), path: `kudu:${req.route}` });
        log(rec, `Syncing ${zipFunctionNames(entries).length} function triggers.`);
      }
      // Kudu RestartAppOnGitDeploy: unset, or true-like ("1" / "true"); any other value turns restarts off
      const restartSetting = seen.SCM_RESTART_APP_CONTAINER_AFTER_DEPLOYMENT;
      const restartOn =
        req.restart &&
        (restartSetting === undefined || restartSetting === '1' || restartSetting.toLowerCase() === 'true');
      if (restartOn) {
        if (faultsOf(ctx, site).some((f) => f.restartRequestFails)) {
          log(rec, 'Failed to request a restart.', 1);
        } else {
          const w = ctx.workers.get(site.id.toLowerCase());
          if (w) {
            log(rec, 'Requested a restart of the site.');
            void w.restart().catch(() => undefined);
          }
        }
      }
      log(rec, 'Deployment successful.');
      if (tempZip) await fsp.rm(tempZip, { force: true });
      // Final state and lock release in one step: whoever sees status 4 can push again at once
      succeed(rec);
    } catch (err) {
      if (tempZip) await fsp.rm(tempZip, { force: true }).catch(() => undefined);
      fail(rec, err);
    }
  };

  return {
    busy: () => running,
    start(req) {
      const rec = newRecord(randomUUID().replace(/-/g, ''), req);
      history().unshift(rec);
      running = true;
      current = rec;
      const settle = (): DeploymentRecord => {
        release(rec);
        return rec;
      };
      const done = pipeline(rec, req).then(settle, settle);
      return { record: rec, done };
    },
    list: () => [...history()],
    get: (id) => history().find((r) => r.id === id),
    latest() {
      const records = history();
      const pending = records.find((r) => !r.complete);
      if (pending) return pending;
      // Kudu picks the greatest end_time; the order of completion is the same under a monotonic clock and
      // stays right when a test moves the emulated clock back.
      let best: DeploymentRecord | undefined;
      for (const r of records)
        if (r.complete && (!best || (finished.get(r) ?? 0) > (finished.get(best) ?? 0))) best = r;
      return best ?? records[0];
    },
    put(id, fields, baseUrl) {
      const records = history();
      let rec = records.find((r) => r.id === id);
      if (!rec) {
        rec = newRecord(id, {
          deployer: 'N/A',
          author: null,
          authorEmail: null,
          message: '',
          baseUrl,
        });
        records.unshift(rec);
      }
      const status = fields.status;
      if (status === 0 || status === 1 || status === 2 || status === 3 || status === 4)
        setStatus(rec, status);
      for (const k of ['message', 'author', 'deployer', 'author_email', 'status_text'] as const) {
        const v = fields[k];
        if (typeof v === 'string') rec[k] = v;
      }
      if (rec.status >= 3) {
        rec.complete = true;
        rec.end_time = rec.end_time ?? now();
        markFinished(rec);
      }
      // `active: true` makes this record the active deployment (as the App Service tasks' records are).
      if (fields.active === true) for (const r of records) r.active = r === rec;
      else if (fields.active === false) rec.active = false;
      return rec;
    },
  };
}

/** Where OneDeploy puts a non-zip artifact: a folder below %HOME% and a path inside it (Kudu OneDeployHelper). */
export function artifactPlace(type: ArtifactType, sub: string, site: Site): { root: string; rel: string } {
  switch (type) {
    case 'war':
      return { root: 'site/wwwroot', rel: sub || 'app.war' };
    case 'jar':
      return { root: 'site/wwwroot', rel: 'app.jar' };
    case 'ear':
      return { root: 'site/wwwroot', rel: 'app.ear' };
    case 'startup':
      return { root: 'site/scripts', rel: site.reserved ? 'startup.sh' : 'startup.cmd' };
    case 'lib':
      return { root: 'site/libs', rel: sub };
    case 'script':
      return { root: 'site/scripts', rel: sub };
    default:
      return { root: 'site/wwwroot', rel: sub };
  }
}

/** A record as the JSON API shows it (without the internal log). */
export function publicRecord(r: DeploymentRecord): Omit<DeploymentRecord, 'log'> {
  const { log: _log, ...rest } = r;
  void _log;
  return rest;
}
