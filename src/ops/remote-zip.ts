/**
 * A package inspected where it lies: a ZipSource over HTTP range requests (a blob URL, or a stored package
 * through Kudu VFS), the central directory read by the zip reader, and the inspector's rules run over it
 * (inspectZip without data verification). Only the end of the archive, the central directory and the few small files the rules read (and the
 * release stamp) are fetched; entry data is never downloaded or verified.
 */
import type { HttpResponse } from '../azure/http.js';
import { inspectZip } from '../package/inspect.js';
import type { InspectOptions } from '../package/types.js';
import { openZip, ZipError, type ZipSource } from '../package/zip-reader.js';
import { RunpackError } from '../util/errors.js';
import type { ArchiveEvidence } from './types.js';

/** Fetches bytes [start, end] (inclusive) with a Range header; the answer is passed back as is. */
export type RangeFetch = (start: number, end: number) => Promise<HttpResponse>;

/** Total size from `Content-Range: bytes a-b/total`. */
export function totalFromContentRange(value: string | undefined): number | undefined {
  const m = /\/(\d+)\s*$/.exec(value ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Smallest read sent to the server: reads are rounded up to this and cached (the central directory is small). */
const CHUNK = 64 * 1024;

/**
 * A ZipSource over range requests. The first request (the last 64 KiB, where the end record lives) also
 * learns the size. `what` names the resource in errors.
 */
export async function rangeZipSource(fetch: RangeFetch, what: string): Promise<ZipSource> {
  const failed = (res: HttpResponse) =>
    new RunpackError(
      'range-read-failed',
      `Reading ${what} by range answered ${res.status}${res.headers['x-ms-error-code'] ? ` ${res.headers['x-ms-error-code']}` : ''}; check the URL and access.`,
    );
  const first = await fetch(0, 0);
  if (first.status === 416) return { size: 0, read: async () => Buffer.alloc(0) };
  if (first.status !== 206 && first.status !== 200) throw failed(first);
  const declared =
    first.status === 206
      ? totalFromContentRange(first.headers['content-range'])
      : Number(first.headers['content-length']);
  if (declared === undefined || !Number.isFinite(declared))
    throw new RunpackError(
      'range-read-failed',
      `Reading ${what} gave no size (no Content-Range); the server does not support range requests.`,
    );
  const size: number = declared;
  const cache = new Map<number, Buffer>();
  async function chunk(index: number): Promise<Buffer> {
    const hit = cache.get(index);
    if (hit) return hit;
    const start = index * CHUNK;
    const end = Math.min(size, start + CHUNK) - 1;
    const res = await fetch(start, end);
    if (res.status !== 206 && res.status !== 200) throw failed(res);
    const body = res.status === 200 ? res.body.subarray(start, end + 1) : res.body;
    if (cache.size > 256) cache.clear();
    cache.set(index, body);
    return body;
  }
  return {
    size,
    async read(offset, length) {
      const len = Math.max(0, Math.min(length, size - offset));
      if (len === 0) return Buffer.alloc(0);
      const parts: Buffer[] = [];
      for (let i = Math.floor(offset / CHUNK); i <= Math.floor((offset + len - 1) / CHUNK); i++)
        parts.push(await chunk(i));
      const joined = Buffer.concat(parts);
      const from = offset - Math.floor(offset / CHUNK) * CHUNK;
      return joined.subarray(from, from + len);
    },
  };
}

/**
 * Inspect an archive from its central directory only: the inspector's rules over the zip reader's directory
 * (`inspectZip` without data verification), so the damage the reader found in the central directory
 * (overlapping entries, forged sizes, bomb ratios, count mismatches) and link targets are reported as for a
 * local package, plus the release stamp. Never throws for a bad archive: the evidence says what is wrong.
 */
export async function inspectRemoteArchive(
  source: ZipSource,
  options: InspectOptions = {},
): Promise<ArchiveEvidence> {
  let dir;
  try {
    dir = await openZip(source);
  } catch (err) {
    if (err instanceof ZipError) return { opened: false, problems: [], error: err.message };
    throw err;
  }
  const report = await inspectZip(dir, { ...options, verifyData: false });
  return {
    opened: true,
    runtime: report.runtime,
    entryPoint: report.entryPoint,
    files: report.files,
    problems: report.problems.map((p) => ({ code: p.code, severity: p.severity, message: p.message })),
    stamp: report.stamp ?? null,
    ...(report.functions ? { functions: report.functions } : {}),
  };
}
