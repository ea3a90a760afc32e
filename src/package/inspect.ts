/**
 * The package inspector: checks a zip (prebuilt, or just written by the packager) or a folder (before
 * packaging) for what breaks run-from-package. Zips and folders become the same entry list and share
 * the same rules (`inspectEntries`); zip structure checks come from the zip reader.
 */
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { RunpackError, UsageError } from '../util/errors.js';
import { checkRuntime, detectRuntime, makeTree, subTree, type PackageTree } from './rules.js';
import {
  DEFAULT_MAX_ENTRIES,
  fileSource,
  openZip,
  readEntry,
  verifyEntries,
  startVerifiers,
  type Verifiers,
  ZipError,
  type ZipDirectory,
  type ZipEntry,
  type ZipIssue,
} from './zip-reader.js';
import {
  STAMP_PATH,
  type InspectOptions,
  type InspectReport,
  type Problem,
  type ReleaseStamp,
} from './types.js';

/** One file, folder or link of a package, whether it sits in a zip or in a folder. */
export interface EntryInfo {
  /** The name as stored: `/` separators expected; folders may end with `/`. */
  name: string;
  isDirectory: boolean;
  isSymlink: boolean;
  /** Uncompressed size in bytes (0 for folders). */
  size: number;
  /** The zip entry is encrypted. */
  encrypted?: boolean;
  /** Length of the stored name in bytes, when it may be longer than `name` shows (truncated zip names). */
  nameLength?: number;
  /** Where a symlink points, when known. */
  linkTarget?: string | null;
  /** The link leaves the package, dangles or loops (known from the file system). */
  linkUnusable?: boolean;
}

/** Reads a small file of the package by its normalised path; null when missing, too big or unreadable. */
export type ReadSmallFile = (name: string) => Promise<Buffer | null>;

/** The platform's documented package size limit, taken as 1 GiB of uncompressed content. */
export const MAX_PACKAGE_BYTES = 1024 * 1024 * 1024;
/** Files read by the rules (package.json, host.json, ...) are never read past this. */
export const SMALL_FILE_BYTES = 4 * 1024 * 1024;
/** Problems of one code listed before the rest are summarised. */
const MAX_PER_CODE = 20;
/** Longest path component Linux and Windows file systems accept, in bytes. */
const MAX_COMPONENT_BYTES = 255;

const severityRank = (p: Problem): number => (p.severity === 'error' ? 0 : 1);

/** Why a stored name is unsafe to extract or mount, or null when it is fine. */
export function unsafeReason(name: string, byteLength?: number): string | null {
  if (BAD_CHARS.test(name)) {
    if (name.includes('\0')) return 'contains a NUL character';
    // eslint-disable-next-line no-control-regex
    if (/[\u0001-\u001f\u007f]/.test(name)) return 'contains control characters';
    return 'uses backslashes, which Windows reads as folder separators and Linux as part of the name';
  }
  if (name.charCodeAt(1) === 58 /* : */ && /^[A-Za-z]:/.test(name)) return 'starts with a drive letter';
  if (name.charCodeAt(0) === 47 /* / */) return 'is an absolute path';
  const parts = (name.endsWith('/') ? name.slice(0, -1) : name).split('/');
  let long = (byteLength ?? name.length) > 4096;
  for (const p of parts) {
    if (p === '..') return "climbs out of the package with '..'";
    if (p === '') return 'has an empty path segment';
    // A UTF-16 unit is at most 3 UTF-8 bytes: only long segments need counting.
    if (p.length > MAX_COMPONENT_BYTES / 3 && Buffer.byteLength(p) > MAX_COMPONENT_BYTES) long = true;
  }
  if (long || (byteLength === undefined && name.length > 1365 && Buffer.byteLength(name) > 4096)) {
    return `is longer than file systems allow (${MAX_COMPONENT_BYTES} bytes a segment)`;
  }
  return null;
}

// eslint-disable-next-line no-control-regex
const BAD_CHARS = /[\u0000-\u001f\u007f\\]/;

/** `./a/b/` → `a/b`; the path rules work on these. */
function normalizeName(name: string): string {
  if (!name.includes('./') && !name.startsWith('.'))
    return name.endsWith('/') ? name.replace(/\/+$/, '') : name;
  return name
    .split('/')
    .filter((p) => p !== '.')
    .join('/')
    .replace(/\/+$/, '');
}

function short(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

/** Keep the first MAX_PER_CODE problems of each code, then one line saying how many more there are. */
function capProblems(problems: Problem[]): Problem[] {
  const counts = new Map<string, number>();
  const out: Problem[] = [];
  for (const p of problems) {
    const key = `${p.code}/${p.severity}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    if (n <= MAX_PER_CODE) out.push(p);
  }
  for (const [key, n] of counts) {
    if (n <= MAX_PER_CODE) continue;
    const [code, severity] = key.split('/') as [Problem['code'], Problem['severity']];
    out.push({ code, severity, message: `${n - MAX_PER_CODE} more ${code} problems like the ones above` });
  }
  return out.sort((a, b) => severityRank(a) - severityRank(b));
}

function finish(report: Omit<InspectReport, 'ok'>): InspectReport {
  const problems = capProblems(report.problems);
  const out: InspectReport = { ok: !problems.some((p) => p.severity === 'error'), ...report, problems };
  return out;
}

/**
 * The rules every package goes through, zip or folder: safe names, no links or duplicates, not empty, not
 * too large, at the root what the runtime needs to start. `extraProblems` (e.g. zip structure issues, which
 * may still be being found while the rules run) come first in the report.
 */
export async function inspectEntries(
  entries: EntryInfo[],
  options: InspectOptions,
  readSmallFile: ReadSmallFile,
  extraProblems: Problem[] | Promise<Problem[]> = [],
): Promise<InspectReport> {
  const rules = await inspectRules(entries, options, readSmallFile);
  return finish({ ...rules, problems: [...(await extraProblems), ...rules.problems] });
}

async function inspectRules(
  entries: EntryInfo[],
  options: InspectOptions,
  readSmallFile: ReadSmallFile,
): Promise<Omit<InspectReport, 'ok'>> {
  const problems: Problem[] = [];
  const files: string[] = [];
  const dirs: string[] = [];
  const seen = new Map<string, { name: string; isDirectory: boolean }>();
  const seenCi = new Map<string, string>();
  let fileCount = 0;
  let bytes = 0;

  for (const e of entries) {
    if (!e.isDirectory) {
      fileCount++;
      bytes += e.size;
    }
    const reason = unsafeReason(e.name, e.nameLength);
    if (reason) {
      problems.push({
        code: 'unsafe-path',
        severity: 'error',
        message: `entry '${short(e.name)}' ${reason}; re-create the archive from inside the folder with relative '/' paths`,
        path: short(e.name),
      });
      continue;
    }
    const norm = normalizeName(e.name);
    if (!norm) continue;
    if (e.encrypted) {
      problems.push({
        code: 'encrypted-entry',
        severity: 'error',
        message: `'${norm}' is encrypted; the platform cannot read it. Re-create the zip without a password`,
        path: norm,
      });
    }
    if (e.isSymlink) {
      const target = e.linkTarget;
      const outside =
        e.linkUnusable === true ||
        target === undefined ||
        target === null ||
        target.startsWith('/') ||
        /^[A-Za-z]:/.test(target) ||
        path.posix.normalize(path.posix.join(path.posix.dirname(norm), target)).startsWith('..');
      problems.push({
        code: 'symlink',
        severity: outside ? 'error' : 'warning',
        message: outside
          ? `'${norm}' is a symbolic link${target ? ` to '${short(target)}'` : ''} that leaves the package, dangles or loops, so it points at nothing on the platform; package the file it points to instead (zip without -y, or copy it in)`
          : `'${norm}' is a symbolic link to '${short(target)}'; the mounted package may not follow links (on Windows it is a plain file holding the target's name). Package the file it points to instead`,
        path: norm,
      });
    }
    const prev = seen.get(norm);
    if (prev) {
      if (!(prev.isDirectory && e.isDirectory)) {
        problems.push({
          code: 'duplicate-entry',
          severity: 'error',
          message: `'${norm}' is in the archive more than once; which copy the platform serves is undefined. Re-create the zip from one folder`,
          path: norm,
        });
      }
      continue;
    }
    seen.set(norm, { name: norm, isDirectory: e.isDirectory });
    const lower = norm.toLowerCase();
    const ci = seenCi.get(lower);
    if (ci !== undefined && ci !== norm) {
      problems.push({
        code: 'duplicate-entry',
        severity: 'warning',
        message: `'${norm}' and '${ci}' differ only in case; on a Windows app they are the same file and one hides the other. Rename one`,
        path: norm,
      });
    } else if (ci === undefined) seenCi.set(lower, norm);
    if (e.isDirectory) dirs.push(norm);
    else files.push(norm);
  }

  // A path that is a file and also holds other entries.
  const tree = makeTree(files, readSmallFile, dirs);
  for (const f of files) {
    if (tree.dirs.has(f)) {
      problems.push({
        code: 'duplicate-entry',
        severity: 'error',
        message: `'${f}' is both a file and a folder in the archive; re-create the zip from one folder`,
        path: f,
      });
    }
  }

  const contentFiles = files.filter((f) => f !== STAMP_PATH);
  if (fileCount - (files.includes(STAMP_PATH) ? 1 : 0) === 0) {
    problems.push({
      code: 'empty-package',
      severity: 'error',
      message:
        'the package holds no files; package the build output folder (check the path and exclude patterns)',
    });
  }
  if (bytes > MAX_PACKAGE_BYTES) {
    problems.push({
      code: 'too-large',
      severity: 'error',
      message: `the package holds ${formatBytes(bytes)} uncompressed, over the platform's 1 GiB run-from-package limit; leave out caches, tests, source maps and dev dependencies`,
    });
  }

  let stamp: ReleaseStamp | null = null;
  if (tree.files.has(STAMP_PATH)) stamp = parseStamp(await readSmallFile(STAMP_PATH));

  const base: Omit<InspectReport, 'ok' | 'runtime' | 'entryPoint' | 'problems'> = {
    files: fileCount,
    bytes,
  };
  const runtimeFor = options.functionApp ? 'functions' : options.runtime;

  if (contentFiles.length === 0) {
    return {
      runtime: runtimeFor ?? 'unknown',
      entryPoint: null,
      ...base,
      problems,
      ...(stamp ? { stamp } : {}),
    };
  }

  // Nested root: every file sits under one top-level folder.
  const tops = new Set<string>();
  for (const f of contentFiles) {
    const slash = f.indexOf('/');
    if (slash < 0) tops.add('');
    else if (!f.startsWith('__MACOSX/')) tops.add(f.slice(0, slash));
    if (tops.size > 1) break;
  }
  if (tops.size === 1 && !tops.has('')) {
    const [folder] = [...tops];
    const inner = subTree(tree, folder);
    const innerResult = await checkRuntime(inner, runtimeFor);
    const found = innerResult.entryPoint ? ` ('${folder}/${innerResult.entryPoint}' is there)` : '';
    problems.push({
      code: 'nested-root',
      severity: 'error',
      message: `everything sits under the top-level folder '${folder}/'${found}, so the platform finds nothing at the app root; package the contents of '${folder}/' instead`,
      path: `${folder}/`,
    });
    if (runtimeFor === 'functions' && !tree.files.has('host.json')) {
      problems.push({
        code: 'functions-host-missing',
        severity: 'error',
        message: `host.json is not at the root of the package${inner.files.has('host.json') ? ` (it is at '${folder}/host.json')` : ''}; package the folder that holds host.json`,
      });
    }
    return {
      runtime: innerResult.runtime,
      entryPoint: null,
      ...base,
      problems,
      ...(innerResult.runtime === 'functions' ? { functions: [] } : {}),
      ...(stamp ? { stamp } : {}),
    };
  }

  const result = await checkRuntime(tree, runtimeFor);
  problems.push(...result.problems);
  return {
    runtime: result.runtime,
    entryPoint: result.entryPoint,
    ...base,
    problems,
    ...(result.functions ? { functions: result.functions } : {}),
    ...(result.functionTriggers ? { functionTriggers: result.functionTriggers } : {}),
    ...(stamp ? { stamp } : {}),
  };
}

function parseStamp(buf: Buffer | null): ReleaseStamp | null {
  if (!buf) return null;
  try {
    const v = JSON.parse(buf.toString('utf8')) as Partial<ReleaseStamp>;
    if (v && v.runpack === 1 && typeof v.contentSha256 === 'string')
      return { runpack: 1, contentSha256: v.contentSha256 };
  } catch {
    // A damaged stamp is treated as no stamp.
  }
  return null;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

// ---------------------------------------------------------------------------------------------------------
// Zips

const issueToProblem = (i: ZipIssue): Problem => ({
  code: i.code,
  severity: 'error',
  message: i.message,
  ...(i.path !== undefined ? { path: i.path } : {}),
});

/** Inspect an opened zip: its structure (and, unless verifyData is false, every CRC), then the shared rules. */
export async function inspectZip(
  dir: ZipDirectory,
  options: InspectOptions = {},
  verifiers: Verifiers | null = null,
): Promise<InspectReport> {
  const problems: Problem[] = dir.issues.map(issueToProblem);
  const declaredBytes = dir.entries.reduce((s, e) => s + (e.isDirectory ? 0 : e.uncompressedSize), 0);
  // A package over the limit is rejected anyway; inflating a gigabyte or a bomb to prove it is not worth it.
  const verifyData = (options.verifyData ?? true) && declaredBytes <= MAX_PACKAGE_BYTES;
  // Without verifyData only the central directory is read: local headers sit among the data, so checking
  // them costs a pass over the whole file.
  // The rules run on this thread while the workers check the data: a file they read (package.json, host.json,
  // the stamp) gets the same checks from readEntry (local header, size, CRC) and counts as absent when it fails.
  const structure = verifyData
    ? verifyEntries(dir, { verifyData, verifiers }).then((issues) => [
        ...problems,
        ...issues.map(issueToProblem),
      ])
    : Promise.resolve(problems);
  structure.catch(() => undefined); // awaited by inspectEntries

  const byPath = new Map<string, ZipEntry>();
  for (const e of dir.entries) if (!byPath.has(e.name)) byPath.set(e.name, e);
  const readSmall: ReadSmallFile = async (name) => {
    const e = byPath.get(name);
    if (!e || e.isDirectory || e.flags.encrypted) return null;
    try {
      return await readEntry(dir, e, { maxBytes: SMALL_FILE_BYTES });
    } catch (err) {
      if (err instanceof ZipError) return null;
      throw err;
    }
  };
  // Zip entries are EntryInfo already; only links get a copy that carries their target.
  let entries: EntryInfo[] = dir.entries;
  if (dir.entries.some((e) => e.isSymlink)) {
    entries = dir.entries.slice();
    for (let i = 0; i < entries.length; i++) {
      const e = dir.entries[i];
      if (!e.isSymlink) continue;
      const target = await readSmall(e.name).catch(() => null);
      entries[i] = { ...e, linkTarget: target && target.length <= 4096 ? target.toString('utf8') : null };
    }
  }
  return inspectEntries(entries, options, readSmall, structure);
}

// ---------------------------------------------------------------------------------------------------------
// Folders

/**
 * Walk a folder like the packager does: `.git` left out, links that stay inside the folder followed (they are
 * packaged as what they point to), links that leave it or dangle reported as links.
 */
async function walkFolder(
  root: string,
  maxEntries: number,
): Promise<{ entries: EntryInfo[]; capped: boolean }> {
  const rootReal = await realpath(root);
  const inside = (p: string): boolean => p === rootReal || p.startsWith(rootReal + path.sep);
  const entries: EntryInfo[] = [];
  const queue: string[] = [''];
  while (queue.length > 0) {
    const rel = queue.shift()!;
    const items = await readdir(path.join(root, rel), { withFileTypes: true });
    const parentReal = await realpath(path.join(root, rel));
    items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const found = await Promise.all(
      items.map(async (d): Promise<EntryInfo | null> => {
        if (d.name === '.git') return null;
        const r = rel ? `${rel}/${d.name}` : d.name;
        const abs = path.join(root, r);
        if (d.isSymbolicLink()) {
          const real = await realpath(abs).catch(() => null);
          const s = real && inside(real) ? await stat(real).catch(() => null) : null;
          // A link to a folder that holds the link itself would make the walk endless.
          const loops =
            s?.isDirectory() &&
            real !== null &&
            (parentReal === real || parentReal.startsWith(real + path.sep));
          if (!real || !s || !inside(real) || loops) {
            const target = await readlink(abs).catch(() => null);
            // Links that leave the folder, dangle or loop: the packager refuses them.
            return {
              name: r,
              isDirectory: false,
              isSymlink: true,
              size: 0,
              linkTarget: target,
              linkUnusable: true,
            };
          }
          if (s.isDirectory()) {
            return { name: `${r}/`, isDirectory: true, isSymlink: false, size: 0 };
          }
          return { name: r, isDirectory: false, isSymlink: false, size: s.size };
        }
        if (d.isDirectory()) {
          return { name: `${r}/`, isDirectory: true, isSymlink: false, size: 0 };
        }
        const s = await stat(abs).catch(() => null);
        return { name: r, isDirectory: false, isSymlink: false, size: s ? s.size : 0 };
      }),
    );
    for (const e of found) {
      if (!e) continue;
      if (entries.length >= maxEntries) return { entries, capped: true };
      entries.push(e);
      if (e.isDirectory) queue.push(e.name.slice(0, -1));
    }
  }
  return { entries, capped: false };
}

async function inspectFolder(root: string, options: InspectOptions): Promise<InspectReport> {
  const { entries, capped } = await walkFolder(root, DEFAULT_MAX_ENTRIES);
  const files = new Set(entries.filter((e) => !e.isDirectory && !e.isSymlink).map((e) => e.name));
  const read: ReadSmallFile = async (name) => {
    if (!files.has(name)) return null;
    const abs = path.join(root, ...name.split('/'));
    const s = await stat(abs).catch(() => null);
    if (!s || !s.isFile() || s.size > SMALL_FILE_BYTES) return null;
    return readFile(abs).catch(() => null);
  };
  const extra: Problem[] = capped
    ? [
        {
          code: 'too-large',
          severity: 'error',
          message: `the folder holds more than ${DEFAULT_MAX_ENTRIES} files and folders; runpack stops counting there. Leave out caches, tests and dev dependencies`,
        },
      ]
    : [];
  return inspectEntries(entries, options, read, extra);
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Inspect a zip or a folder. Throws UsageError when the target does not exist; every problem with the
 * package itself (including a file that is not a zip) is in the report.
 */
export async function inspect(target: string, options: InspectOptions = {}): Promise<InspectReport> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    throw new UsageError(
      'inspect reads a local zip or folder, not a URL; download the package first and pass its path',
    );
  }
  const info = await lstat(target).catch(() => null);
  if (!info)
    throw new UsageError(`'${target}' does not exist; pass the path of a zip or of the folder to package`);
  const real = info.isSymbolicLink() ? await stat(target).catch(() => null) : info;
  if (!real)
    throw new UsageError(`'${target}' is a broken link; pass the path of a zip or of the folder to package`);
  if (real.isDirectory()) return inspectFolder(target, options);
  if (!real.isFile())
    throw new UsageError(`'${target}' is neither a file nor a folder; pass a zip or a folder`);

  const source = await fileSource(target);
  // The CRC pass's threads start while the central directory is read.
  const verifiers = (options.verifyData ?? true) ? startVerifiers(real.size) : null;
  try {
    let dir: ZipDirectory;
    try {
      dir = await openZip(source);
    } catch (err) {
      if (!(err instanceof ZipError)) throw err;
      return finish({
        runtime: options.functionApp ? 'functions' : (options.runtime ?? 'unknown'),
        entryPoint: null,
        files: 0,
        bytes: 0,
        problems: [
          {
            code: err.code === 'too-large' ? 'too-large' : 'corrupt-archive',
            severity: 'error',
            message: `${path.basename(target)}: ${err.message}`,
          },
        ],
      });
    }
    return await inspectZip(dir, options, verifiers);
  } catch (err) {
    if (err instanceof RunpackError) throw err;
    throw new RunpackError('inspect-failed', `could not read '${target}': ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    await verifiers?.close();
    await source.close?.();
  }
}

export { detectRuntime, checkRuntime, type PackageTree };
