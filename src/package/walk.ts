/**
 * Walks a publish folder and lists what goes into the archive: every file and folder under it, names relative to
 * it with `/` separators. Symlinks that stay inside the folder are followed (stored as what they point to, like
 * `zip -r`); links that leave it, dangle or loop are errors. `.git`, the output file and excluded paths are skipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RunpackError } from '../util/errors.js';
import { compileExcludes } from './glob.js';
import { compareUtf8 } from './stamp.js';

export interface WalkEntry {
  /** Archive path without a trailing slash. */
  rel: string;
  /** Real path to read (symlinks resolved). */
  abs: string;
  kind: 'file' | 'dir';
  /** Normalized permission bits: 0o644 or 0o755 for files, 0o755 for folders. */
  mode: number;
  size: number;
}

export interface WalkOptions {
  sourceDir: string;
  exclude?: readonly string[];
  /** Real or absolute paths never packaged (the output zip and its temp file). */
  skipFiles?: readonly string[];
  /** Further files never packaged, by real path (e.g. temp files a crashed run left next to the output). */
  skipFile?: (realPath: string) => boolean;
  /** Folders never packaged, with everything in them (the entry cache's folder). */
  skipDirs?: readonly string[];
}

/** Resolves the source folder or throws the one-line error a user sees for a missing or wrong folder. */
export function resolveSourceDir(sourceDir: string): string {
  let real: string;
  try {
    real = fs.realpathSync(sourceDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new RunpackError(
        'package-source-missing',
        `Source folder '${sourceDir}' does not exist; pass the folder your build writes (for example ./publish).`,
      );
    }
    throw new RunpackError(
      'package-source-unreadable',
      `Cannot open source folder '${sourceDir}' (${code ?? String(err)}); check its permissions.`,
    );
  }
  if (!fs.statSync(real).isDirectory()) {
    throw new RunpackError(
      'package-source-not-folder',
      `Source '${sourceDir}' is a file, not a folder; pass the folder whose contents should be packaged.`,
    );
  }
  return real;
}

/** The absolute path a (possibly not yet existing) output file will have, with its folder's symlinks resolved. */
export function resolveOutputPath(outFile: string): string {
  const abs = path.resolve(outFile);
  try {
    return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
  } catch {
    return abs;
  }
}

function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

function kindName(st: fs.Stats): string {
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** What the walk needs of a folder's Stats, for folders the listing already named. */
const FOLDER = {
  isSymbolicLink: () => false,
  isDirectory: () => true,
  isFile: () => false,
  size: 0,
  mode: 0o755,
};

/** A folder's entry with the key it sorts by (its name, with a trailing '/' for a folder). */
interface Child {
  entry: WalkEntry;
  key: string;
  /** For a folder: the real paths above it and itself, to catch symlinks that loop. */
  ancestors?: Map<string, string>;
}

/**
 * Lists the entries in archive order: depth first, each folder's entries sorted by name in UTF-8 byte order with a
 * folder's name taken with its trailing '/', which is exactly the byte order of the whole list of archive names.
 * The source folder is checked now; the folders are read as entries are taken, so packaging can start while the
 * walk goes on. Throws RunpackError naming the path for anything that cannot be packaged.
 */
export function walkSorted(options: WalkOptions): Generator<WalkEntry> {
  const root = resolveSourceDir(options.sourceDir);
  const matcher = compileExcludes(options.exclude ?? []);
  const skip = new Set((options.skipFiles ?? []).map((f) => resolveOutputPath(f)));
  const skipDirs = new Set((options.skipDirs ?? []).map((f) => resolveOutputPath(f)));

  /** One folder's entries, checked, in order. */
  const list = (dirAbs: string, prefix: string, ancestors: Map<string, string>): Child[] => {
    const out: Child[] = [];
    let dirents: fs.Dirent[];
    try {
      dirents = fs.readdirSync(dirAbs, { withFileTypes: true });
    } catch (err) {
      throw unreadable(prefix || '.', err);
    }
    const base = dirAbs.endsWith(path.sep) ? dirAbs : dirAbs + path.sep;
    for (const d of dirents) {
      const name = d.name;
      if (name === '.git') continue;
      const rel = prefix ? `${prefix}/${name}` : name;
      const childAbs = base + name;
      // A folder needs no lstat (its type comes with the listing); everything else does, for its size and mode.
      let st: fs.Stats | typeof FOLDER;
      let target = childAbs;
      try {
        st = d.isDirectory() ? FOLDER : fs.lstatSync(childAbs);
      } catch (err) {
        throw unreadable(rel, err);
      }
      if (st.isSymbolicLink()) {
        let resolveError: NodeJS.ErrnoException | null = null;
        try {
          target = fs.realpathSync(childAbs);
          st = fs.statSync(target);
        } catch (err) {
          resolveError = err as NodeJS.ErrnoException;
        }
        if (resolveError) {
          if (matcher.excludes(rel, false)) continue;
          if (resolveError.code === 'ELOOP') {
            throw new RunpackError(
              'package-symlink-loop',
              `Symlink '${rel}' is part of a link loop; replace it with the file it should point to or exclude it.`,
            );
          }
          throw new RunpackError(
            'package-symlink-dangling',
            `Symlink '${rel}' points to '${safeReadlink(childAbs)}', which does not exist; fix the link or exclude it.`,
          );
        }
        if (matcher.excludes(rel, st.isDirectory())) continue;
        if (!isInside(root, target)) {
          throw new RunpackError(
            'package-symlink-escape',
            `Symlink '${rel}' points outside the source folder (to '${target}'); copy the target into the folder or exclude the link.`,
          );
        }
      } else if (matcher.excludes(rel, st.isDirectory())) {
        continue;
      }

      if (st.isDirectory()) {
        if (skipDirs.has(target) || skipDirs.has(childAbs)) continue;
        const seen = ancestors.get(target);
        if (seen !== undefined) {
          throw new RunpackError(
            'package-symlink-loop',
            `Symlink '${rel}' loops back to its own parent folder '${seen || '.'}'; remove the link or exclude it.`,
          );
        }
        const next = new Map(ancestors);
        next.set(target, rel);
        out.push({
          entry: { rel, abs: target, kind: 'dir', mode: 0o755, size: 0 },
          key: `${name}/`,
          ancestors: next,
        });
      } else if (st.isFile()) {
        if (skip.has(target) || skip.has(childAbs) || options.skipFile?.(target)) continue;
        out.push({
          entry: { rel, abs: target, kind: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, size: st.size },
          key: name,
        });
      } else {
        throw new RunpackError(
          'package-special-file',
          `Cannot package '${rel}': it is ${kindName(st as fs.Stats)}, not a regular file; remove it or pass --exclude '${rel}'.`,
        );
      }
    }
    return out.sort((a, b) => compareUtf8(a.key, b.key));
  };

  return (function* () {
    const stack: { children: Child[]; at: number }[] = [
      { children: list(root, '', new Map([[root, '']])), at: 0 },
    ];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.at >= top.children.length) {
        stack.pop();
        continue;
      }
      const child = top.children[top.at++];
      yield child.entry;
      if (child.ancestors)
        stack.push({ children: list(child.entry.abs, child.entry.rel, child.ancestors), at: 0 });
    }
  })();
}

function safeReadlink(p: string): string {
  try {
    return fs.readlinkSync(p);
  } catch {
    return '?';
  }
}

export function unreadable(rel: string, err: unknown): RunpackError {
  const code = (err as NodeJS.ErrnoException)?.code ?? String(err);
  return new RunpackError(
    'package-unreadable',
    `Cannot read '${rel}' (${code}); fix its permissions or pass --exclude '${rel}'.`,
    { cause: err },
  );
}
