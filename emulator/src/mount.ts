/**
 * How the platform reads WEBSITE_RUN_FROM_PACKAGE and mounts the package as a read-only wwwroot.
 * Parsing follows Kudu exactly (API-SPEC §1.1); mounting happens only when the worker (re)starts.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { EmulatorContext, MountInfo, Site } from './model.js';
import { fetchPackage } from './blobfetch.js';
import { extractReadOnly } from './zip.js';
import { FLEX_PACKAGE_BLOB, flexStorage, flexStorageProblem, isFlexSite, readFlexPackage } from './flex.js';

export const FAILURE_MARKER = 'FAILED TO INITIALIZE RUN FROM PACKAGE.txt';
export const FAILURE_TEXT = 'Run From Package Initialization failed.';

export type RfpMode = { mode: 'local' } | { mode: 'url'; url: string } | { mode: 'none' };

/** The effective value: WEBSITE_RUN_FROM_PACKAGE, or WEBSITE_RUN_FROM_ZIP when the first is empty or missing. */
export function runFromPackageValue(settings: Record<string, string>): string {
  const v = settings.WEBSITE_RUN_FROM_PACKAGE;
  if (v !== undefined && v !== '') return v;
  return settings.WEBSITE_RUN_FROM_ZIP ?? '';
}

/** Local mode only for exactly "1"; URL mode when the value starts with "http" (any case); else none. */
export function parseRunFromPackage(settings: Record<string, string>): RfpMode {
  const v = runFromPackageValue(settings);
  if (v === '1') return { mode: 'local' };
  if (v.toLowerCase().startsWith('http')) return { mode: 'url', url: v };
  return { mode: 'none' };
}

export function sitePackagesDir(site: Site): string {
  return path.join(site.homeDir, 'data', 'SitePackages');
}

export function wwwrootDir(site: Site): string {
  return path.join(site.homeDir, 'site', 'wwwroot');
}

/** The URL without its query (never shows a SAS signature). */
export function redactUrl(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : url.slice(0, i);
}

/** Make a tree read-only like the platform's mount: files 0444, directories 0555. */
export async function makeReadOnly(dir: string): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await makeReadOnly(p);
    else await fsp.chmod(p, 0o444);
  }
  await fsp.chmod(dir, 0o555);
}

/** Remove a tree made read-only by makeReadOnly. */
export async function removeTree(dir: string): Promise<void> {
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      await fsp.chmod(d, 0o755);
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) await walk(path.join(d, e.name));
  };
  await walk(dir);
  await fsp.rm(dir, { recursive: true, force: true });
}

/** Function folders one level down with function.json, only when host.json is at the root. */
export async function functionsIn(dir: string | null): Promise<string[]> {
  if (!dir) return [];
  try {
    await fsp.access(path.join(dir, 'host.json'));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    try {
      await fsp.access(path.join(dir, e.name, 'function.json'));
      out.push(e.name);
    } catch {
      // not a function folder
    }
  }
  return out.sort();
}

async function sha256File(file: string): Promise<string> {
  return createHash('sha256')
    .update(await fsp.readFile(file))
    .digest('hex');
}

export type MountOutcome = Omit<MountInfo, 'startedAt'>;

/** Shared mounts are named after the package: `pkg-<sha256>` next to the per-boot folders. */
export function isSharedMount(dir: string): boolean {
  return path.basename(dir).startsWith('pkg-');
}

/** A package that cannot be mounted: the zip's own problem. */
class NotAZip extends Error {}

/**
 * The read-only content of a package, extracted once per site and package and reused by every restart and
 * instance that mounts the same bytes (the platform mounts the zip; it does no per-file work at each restart).
 * Extracted into a temp folder in one checked pass and renamed, so a half-extracted folder is never used. `dir`
 * is the boot's own folder; the shared one sits next to it. Throws NotAZip when the zip is not valid.
 */
async function sharedContent(zip: Buffer | string, sha: string, dir: string): Promise<string> {
  const target = path.join(path.dirname(dir), `pkg-${sha}`);
  const exists = () =>
    fsp.access(target).then(
      () => true,
      () => false,
    );
  if (await exists()) return target;
  const tmp = `${target}.tmp-${process.pid}-${Math.random().toString(16).slice(2)}`;
  try {
    const r = extractReadOnly(zip, tmp);
    if (!r.ok) throw new NotAZip(r.error);
    await fsp.rename(tmp, target);
  } catch (err) {
    await removeTree(tmp);
    // Another boot extracted the same package meanwhile.
    if (!(err instanceof NotAZip) && (await exists())) return target;
    throw err;
  }
  return target;
}

/** A mount that failed: `dir` holds only the failure marker, read-only, as the platform leaves it. */
export async function failedMount(site: Site, dir: string, error: string): Promise<MountOutcome> {
  await removeTree(dir);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, FAILURE_MARKER), FAILURE_TEXT);
  await makeReadOnly(dir);
  const mode = parseRunFromPackage(site.appSettings).mode;
  return { mode, source: null, sha256: null, dir, error, functions: [] };
}

/**
 * Mount the site's package into the fresh directory `dir` (created here), as the platform does at start.
 * On failure `dir` holds only the failure marker. For mode 'none' nothing is mounted and `dir` is not created.
 */
export async function mountPackage(ctx: EmulatorContext, site: Site, dir: string): Promise<MountOutcome> {
  if (isFlexSite(site)) return mountFlexPackage(ctx, site, dir);
  const mode = parseRunFromPackage(site.appSettings);
  if (mode.mode === 'none') {
    return { mode: 'none', source: null, sha256: null, dir: null, error: null, functions: [] };
  }
  await fsp.mkdir(dir, { recursive: true });
  const fail = async (
    source: string | null,
    error: string,
    sha256: string | null = null,
  ): Promise<MountOutcome> => ({ ...(await failedMount(site, dir, error)), source, sha256 });
  if (mode.mode === 'local') {
    const pkgDir = sitePackagesDir(site);
    let name: string;
    try {
      name = await fsp.readFile(path.join(pkgDir, 'packagename.txt'), 'utf8');
    } catch {
      return fail(null, 'data/SitePackages/packagename.txt is missing: nothing has been deployed');
    }
    // The pointer holds a bare file name; anything else (paths, whitespace) names no package.
    if (name === '' || name !== path.basename(name) || name === '.' || name === '..') {
      return fail(name, `packagename.txt holds '${name}', which is not a file name in data/SitePackages`);
    }
    const zipPath = path.join(pkgDir, name);
    try {
      await fsp.access(zipPath);
    } catch {
      return fail(name, `packagename.txt names '${name}', which is not in data/SitePackages`);
    }
    const sha = await sha256File(zipPath);
    let content: string;
    try {
      content = await sharedContent(zipPath, sha, dir);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return fail(
        name,
        err instanceof NotAZip
          ? `'${name}' is not a valid zip: ${why}`
          : `'${name}' could not be mounted: ${why}`,
        sha,
      );
    }
    await fsp.rm(dir, { recursive: true, force: true });
    return {
      mode: 'local',
      source: name,
      sha256: sha,
      dir: content,
      error: null,
      functions: await functionsIn(content),
    };
  }
  const source = redactUrl(mode.url);
  const got = await fetchPackage(ctx, site, mode.url);
  if (!got.ok)
    return fail(source, `fetching the package failed: ${got.status} ${got.code} ${got.message}`.trim());
  try {
    let content: string;
    try {
      content = await sharedContent(got.zip, got.sha256, dir);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return fail(
        source,
        err instanceof NotAZip
          ? `the downloaded package is not a valid zip: ${why}`
          : `the downloaded package could not be mounted: ${why}`,
        got.sha256,
      );
    }
    await fsp.rm(dir, { recursive: true, force: true });
    return {
      mode: 'url',
      source,
      sha256: got.sha256,
      dir: content,
      error: null,
      functions: await functionsIn(content),
    };
  } finally {
    await fsp.rm(got.zip, { force: true });
  }
}

/**
 * Flex Consumption: the app runs the package One Deploy wrote to its deployment container (never a
 * WEBSITE_RUN_FROM_PACKAGE value); before the first deployment there is nothing to run.
 */
async function mountFlexPackage(ctx: EmulatorContext, site: Site, dir: string): Promise<MountOutcome> {
  const storage = flexStorage(ctx, site);
  const source = storage ? `${storage.containerUrl}/${FLEX_PACKAGE_BLOB}` : null;
  const none: MountOutcome = { mode: 'flex', source, sha256: null, dir: null, error: null, functions: [] };
  const problem = flexStorageProblem(site, storage, 'read');
  let bytes: Buffer | null = null;
  if (!problem) bytes = await readFlexPackage(ctx, site);
  if (!problem && !bytes) return none;
  await fsp.mkdir(dir, { recursive: true });
  if (problem)
    return {
      ...(await failedMount(site, dir, `reading the deployment storage failed: ${problem}`)),
      mode: 'flex',
      source,
    };
  const sha = createHash('sha256').update(bytes!).digest('hex');
  let content: string;
  try {
    content = await sharedContent(bytes!, sha, dir);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      ...(await failedMount(
        site,
        dir,
        err instanceof NotAZip
          ? `the deployed package is not a valid zip: ${why}`
          : `the package could not be mounted: ${why}`,
      )),
      mode: 'flex',
      source,
      sha256: sha,
    };
  }
  await fsp.rm(dir, { recursive: true, force: true });
  return {
    mode: 'flex',
    source,
    sha256: sha,
    dir: content,
    error: null,
    functions: await functionsIn(content),
  };
}

/**
 * The read-only directory Kudu shows as site/wwwroot: the worker's mount, but only while Kudu itself sees
 * run-from-package (during a settings lag Kudu still writes to the plain folder, which the mount then hides).
 */
export function kuduMountedDir(
  ctx: EmulatorContext,
  site: Site,
  seen: Record<string, string>,
  affinity?: string,
): string | null {
  if (parseRunFromPackage(seen).mode === 'none') return null;
  const w = ctx.workers.get(site.id.toLowerCase());
  if (!w) return null;
  // An SCM request pinned to an instance (ARRAffinity) sees that instance's mount.
  return (w.instanceFor ? w.instanceFor(affinity).dir : w.mounted().dir) ?? null;
}
