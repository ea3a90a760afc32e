/**
 * The release stamp `.runpack/release.json`: a digest of what a package holds, so the deploy engine can read it
 * back from the mounted app and prove which package is live. See docs/packaging.md for the exact format.
 */
import { createHash } from 'node:crypto';
import { STAMP_PATH, type ReleaseStamp } from './types.js';

/** One packaged file as the stamp sees it. */
export interface StampFile {
  /** Archive path, `/` separators, no leading `/`. */
  path: string;
  /** Unix permission bits as stored in the archive (0o644 or 0o755 for files runpack writes). */
  mode: number;
  /** Uncompressed size in bytes. */
  size: number;
  /** sha256 of the file's bytes, lowercase hex. */
  sha256: string;
}

/**
 * Order of archive paths: by their UTF-8 bytes (not UTF-16 code units, not locale). UTF-8 byte order is code point
 * order, so this compares code points without encoding the strings.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Below the surrogates UTF-16 units are code points; otherwise compare whole code points.
    if (x < 0xd800 && y < 0xd800) return x - y;
    return (a.codePointAt(i) ?? 0) - (b.codePointAt(i) ?? 0);
  }
  return a.length - b.length;
}

/**
 * Builds `contentSha256` from files given one at a time in sorted order (the order a zip writer meets them), so a
 * writer does not have to keep a record per file. Throws if the order is broken.
 */
export class ContentDigest {
  private readonly h = createHash('sha256');
  private last: string | null = null;

  add(f: StampFile): void {
    if (f.path === STAMP_PATH) return;
    if (this.last !== null && compareUtf8(this.last, f.path) >= 0) {
      throw new Error(`stamp records out of order: '${f.path}' after '${this.last}'`);
    }
    this.last = f.path;
    const mode = (0o100000 | (f.mode & 0o7777)).toString(8);
    this.h.update(f.path, 'utf8');
    this.h.update(`\0${mode}\0${f.size}\0${f.sha256.toLowerCase()}\n`, 'utf8');
  }

  digest(): string {
    return this.h.digest('hex');
  }
}

/**
 * `contentSha256`: sha256 over one record per file, files sorted by the UTF-8 bytes of their path, the stamp itself
 * left out. A record is `<path> NUL <mode> NUL <size> NUL <sha256> LF`, where mode is the full Unix mode in octal
 * as git writes it (`100644`, `100755`), size is decimal and sha256 is lowercase hex.
 */
export function computeContentSha256(files: Iterable<StampFile>): string {
  const list = [...files].filter((f) => f.path !== STAMP_PATH).sort((a, b) => compareUtf8(a.path, b.path));
  const d = new ContentDigest();
  for (const f of list) d.add(f);
  return d.digest();
}

export function makeStamp(files: Iterable<StampFile>): ReleaseStamp {
  return { runpack: 1, contentSha256: computeContentSha256(files) };
}

/** The exact bytes of `.runpack/release.json`: compact JSON, keys in this order, no trailing newline. */
export function stampBytes(stamp: ReleaseStamp): Buffer {
  return Buffer.from(JSON.stringify({ runpack: stamp.runpack, contentSha256: stamp.contentSha256 }), 'utf8');
}

/** Reads a stamp back (from a mounted app or an archive); null when the text is not a runpack stamp. */
export function parseStamp(text: string): ReleaseStamp | null {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const o = v as Record<string, unknown>;
    if (o.runpack !== 1 || typeof o.contentSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.contentSha256)) {
      return null;
    }
    return { runpack: 1, contentSha256: o.contentSha256 };
  } catch {
    return null;
  }
}
