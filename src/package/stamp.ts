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

/** Order of archive paths: by their UTF-8 bytes (not UTF-16 code units, not locale). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * `contentSha256`: sha256 over one record per file, files sorted by the UTF-8 bytes of their path, the stamp itself
 * left out. A record is `<path> NUL <mode> NUL <size> NUL <sha256> LF`, where mode is the full Unix mode in octal
 * as git writes it (`100644`, `100755`), size is decimal and sha256 is lowercase hex.
 */
export function computeContentSha256(files: Iterable<StampFile>): string {
  const list = [...files].filter((f) => f.path !== STAMP_PATH);
  const withBytes = list.map((f) => ({ f, key: Buffer.from(f.path, 'utf8') }));
  withBytes.sort((a, b) => Buffer.compare(a.key, b.key));
  const h = createHash('sha256');
  for (const { f } of withBytes) {
    const mode = (0o100000 | (f.mode & 0o7777)).toString(8);
    h.update(f.path, 'utf8');
    h.update(`\0${mode}\0${f.size}\0${f.sha256.toLowerCase()}\n`, 'utf8');
  }
  return h.digest('hex');
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
