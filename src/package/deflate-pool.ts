/**
 * A pool of worker threads that read, hash and deflate files. The worker code is inline source (CommonJS, run
 * with `eval: true`) so it works from the single-file rollup bundles as well as from the TypeScript sources.
 *
 * Jobs:
 * - `hash`: files → sha256 and CRC-32 of each (read in 1 MiB pieces), for large files whose pieces are compressed
 *   on several threads at once.
 * - `deflate`: small files → CRC-32, sha256 and the smaller of raw deflate (level 6, memLevel 9) and the stored
 *   bytes.
 * - `chunk`: one piece of a large file → CRC-32 of the piece and raw deflate ending in a sync flush (Z_FINISH for
 *   the last piece), primed with the previous 32 KiB as dictionary. Concatenated, the pieces are one valid deflate
 *   stream (the pigz method), and the output does not depend on how many workers ran.
 * - `lookup`: a large file → its sha256 and CRC-32, and its entry from the entry cache when the cache holds it.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { deflateRawSync } from 'node:zlib';

export const CHUNK_SIZE = 1 << 20;
export const DICT_SIZE = 32 * 1024;
export const DEFLATE_LEVEL = 6;
/**
 * zlib's memLevel: 9 (a hash table of 2^16 chains instead of 2^15) costs 128 KiB more per stream and, measured on
 * the benchmark's mid-size tree, deflates about 10% faster at level 6 with slightly smaller output (fewer hash
 * collisions to walk).
 */
export const DEFLATE_MEM_LEVEL = 9;

/**
 * What the entry cache's keys carry besides the content's sha256: everything the compressed bytes depend on — the
 * level and memLevel, the zlib build, the piece and dictionary sizes of large files, and a probe of this machine's
 * compressor (zlib picks CPU-specific code paths, which may choose other matches): a cache filled on a machine
 * whose compressor writes other bytes is never used.
 */
let tag: string | undefined;
export function cacheTag(): string {
  if (tag) return tag;
  // A fixed, repetitive-but-varied sample, so the probe exercises match finding.
  const sample = Buffer.alloc(256 * 1024);
  let x = 0x9e3779b9;
  for (let i = 0; i < sample.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    sample[i] = 97 + ((x >>> 0) % 7) + (i % 64 === 0 ? 3 : 0);
  }
  const probe = createHash('sha256')
    .update(deflateRawSync(sample, { level: DEFLATE_LEVEL, memLevel: DEFLATE_MEM_LEVEL }))
    .digest('hex')
    .slice(0, 12);
  tag = `l${DEFLATE_LEVEL}-m${DEFLATE_MEM_LEVEL}-z${process.versions.zlib}-c${CHUNK_SIZE}-d${DICT_SIZE}-p${probe}`;
  return tag;
}

const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const path = require('node:path');
const PIECE = 1 << 20;
// One-shot sha256 (Node 20.12+): no Hash object per file.
const sha256Hex = crypto.hash ? (b) => crypto.hash('sha256', b) : (b) => crypto.createHash('sha256').update(b).digest('hex');
// zlib.crc32 exists from Node 20.15; a table-driven fallback keeps older Node 20 releases working.
const crc32 = zlib.crc32 ? (b, v) => zlib.crc32(b, v || 0) : (() => {
  const T = new Int32Array(256);
  for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; T[n] = c; }
  return (b, v) => { let c = ~(v || 0); for (let i = 0; i < b.length; i++) c = T[(c ^ b[i]) & 255] ^ (c >>> 8); return ~c >>> 0; };
})();
const LEVEL = ${DEFLATE_LEVEL};
const MEM_LEVEL = ${DEFLATE_MEM_LEVEL};

// The entry cache (docs/packaging.md), loaded by every worker while the folder is walked: the previous pack's zip
// (its compressed entries) and, by content sha256, where each entry's data sits in it, its method, the data's
// CRC-32 and the content's CRC-32. The index is used only when its own sha256 matches (so its CRCs can be trusted),
// and an entry only when its data read back has its CRC-32: a torn or corrupt cache costs a compression, never the
// output.
let cache = null;
function loadCache(dir, tag) {
  try {
    const text = fs.readFileSync(path.join(dir, 'index.json'), 'utf8');
    const nl = text.indexOf('\n');
    if (nl < 0) return null;
    const head = JSON.parse(text.slice(0, nl));
    const body = text.slice(nl + 1);
    if (!head || head.runpackCache !== 2 || head.tag !== tag) return null;
    if (crypto.createHash('sha256').update(body).digest('hex') !== head.entriesSha256) return null;
    const fd = fs.openSync(path.join(dir, 'entries.zip'), 'r');
    if (fs.fstatSync(fd).size !== head.zipBytes) { fs.closeSync(fd); return null; }
    return { fd, entries: new Map(Object.entries(JSON.parse(body))) };
  } catch { return null; }
}
// Reads a cached entry's data into out (at its start); true when it is there and its CRC-32 matches.
function cacheReadInto(e, out) {
  try {
    let done = 0;
    while (done < e[1]) {
      const n = fs.readSync(cache.fd, out, done, e[1] - done, e[0] + done);
      if (n === 0) return false;
      done += n;
    }
  } catch { return false; }
  return (crc32(out.subarray(0, e[1])) >>> 0) === e[3];
}

// file: the archive path of the file being read, or its index in a deflate batch (the pool knows the paths).
function fail(id, err, file) {
  parentPort.postMessage({ id, error: { code: (err && err.code) || 'EIO', message: String((err && err.message) || err), file } });
}

function readExact(fd, buf, len, pos, file) {
  let done = 0;
  while (done < len) {
    const n = fs.readSync(fd, buf, done, len - done, pos + done);
    if (n === 0) { const e = new Error('file shrank while being read'); e.code = 'CHANGED'; throw e; }
    done += n;
  }
}

// One reusable read buffer per worker: garbage from per-file buffers would otherwise pile up as external memory.
let scratchBuf = Buffer.allocUnsafe(PIECE + ${DICT_SIZE});
function scratch(len) {
  if (scratchBuf.length < len) scratchBuf = Buffer.allocUnsafe(len);
  return scratchBuf.subarray(0, len);
}

const ONE = Buffer.alloc(1);
function checkEnd(fd, size) {
  if (fs.readSync(fd, ONE, 0, 1, size) !== 0) { const e = new Error('file grew while being read'); e.code = 'CHANGED'; throw e; }
}

function hashFile(f) {
  const h = crypto.createHash('sha256');
  let crc = 0;
  const fd = fs.openSync(f.abs, 'r');
  try {
    const buf = scratch(Math.min(PIECE, Math.max(f.size, 1)));
    let pos = 0;
    while (pos < f.size) {
      const len = Math.min(buf.length, f.size - pos);
      readExact(fd, buf, len, pos, f.rel);
      const piece = buf.subarray(0, len);
      h.update(piece);
      crc = crc32(piece, crc);
      pos += len;
    }
    checkEnd(fd, f.size);
  } finally { fs.closeSync(fd); }
  return { sha256: h.digest('hex'), crc: crc >>> 0 };
}

// A whole file of the walked size. It asks for one byte more: a regular file's read comes back short only at its
// end, so the same reads also prove the file did not grow (no extra read per file).
function readWhole(file, size) {
  const buf = scratch(size + 1);
  const fd = fs.openSync(file, 'r');
  try {
    let done = 0;
    for (;;) {
      const want = size + 1 - done;
      const n = fs.readSync(fd, buf, done, want, done);
      done += n;
      if (done > size) { const e = new Error('file grew while being read'); e.code = 'CHANGED'; throw e; }
      if (n < want) {
        if (done === size) break;
        if (n === 0) { const e = new Error('file shrank while being read'); e.code = 'CHANGED'; throw e; }
      }
    }
  } finally { fs.closeSync(fd); }
  return buf.subarray(0, size);
}

function owned(buf) {
  // Hand back a buffer that owns its whole ArrayBuffer, so it can be transferred instead of copied.
  if (buf.buffer !== scratchBuf.buffer && buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength) return buf;
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return copy;
}

parentPort.on('message', (m) => {
  let current = null;
  try {
    if (m.op === 'cache') {
      // [offset, length, method, dataCrc, crc] by sha256; the zip stays open for this worker's reads.
      if (cache) { try { fs.closeSync(cache.fd); } catch {} }
      cache = m.dir ? loadCache(m.dir, m.tag) : null;
      parentPort.postMessage({ control: m.id, count: cache ? cache.entries.size : -1 });
      return;
    }
    if (m.op === 'hash') {
      const results = [];
      for (const f of m.files) { current = f.rel; results.push(hashFile(f)); }
      parentPort.postMessage({ id: m.id, results });
    } else if (m.op === 'deflate') {
      // A batch comes as '\0'-joined paths and typed arrays, and goes back as one data buffer, a Uint32Array of
      // [crc, method, offset, length, flags, dataCrc] per file and the sha256s as one hex string: a few objects per
      // batch instead of several per file, on both threads. flags: 1 from the cache, 2 the cache knew the content.
      // With the cache in use (m.index), dataCrc is the data's CRC-32, for the next cache's index.
      const abs = m.abs.split('\0');
      const n = abs.length;
      let cap = 0;
      for (let i = 0; i < n; i++) cap += m.sizes[i];
      const all = Buffer.allocUnsafeSlow(cap);
      const meta = new Uint32Array(n * 6);
      let shas = '';
      let at = 0;
      for (let i = 0; i < n; i++) {
        current = i;
        const size = m.sizes[i];
        const store = m.store[i] === 1;
        const raw = readWhole(abs[i], size);
        const sha256 = sha256Hex(raw);
        shas += sha256;
        const e = cache && !store && size > 0 ? cache.entries.get(sha256) : undefined;
        let crc, method = 0, length, flags = e ? 2 : 0, dataCrc = 0;
        // A hit: the data goes straight into the batch's buffer (never larger than the content: only entries
        // deflate shrank are deflated), and the verified index gives the content's CRC-32.
        if (e && e[2] === 8 && e[1] < size && cacheReadInto(e, all.subarray(at))) {
          crc = e[4]; method = 8; length = e[1]; flags |= 1; dataCrc = e[3];
        } else {
          crc = crc32(raw) >>> 0;
          let data = raw;
          if (e && e[2] === 0) flags |= 1; // deflate did not shrink it last time either
          else if (!store && size > 0) {
            const z = zlib.deflateRawSync(raw, { level: LEVEL, memLevel: MEM_LEVEL });
            if (z.length < size) { method = 8; data = z; }
          }
          data.copy(all, at);
          length = data.length;
          if (m.index) dataCrc = method === 8 ? crc32(data) >>> 0 : crc;
        }
        meta.set([crc, method, at, length, flags, dataCrc], i * 6);
        at += length;
      }
      parentPort.postMessage({ id: m.id, meta, shas, data: all.buffer }, [all.buffer, meta.buffer]);
    } else if (m.op === 'lookup') {
      // A large file: its sha256 and CRC-32, and its cached entry (read here, handed over whole) when there is one.
      current = m.file.rel;
      const r = hashFile(m.file);
      const e = cache ? cache.entries.get(r.sha256) : undefined;
      const known = !!e && e[4] === r.crc;
      if (!known) parentPort.postMessage({ id: m.id, sha256: r.sha256, crc: r.crc, known: !!e });
      else if (e[2] === 0) parentPort.postMessage({ id: m.id, sha256: r.sha256, crc: r.crc, known, method: 0, data: new Uint8Array(0), dataCrc: e[3] });
      else {
        const data = new Uint8Array(e[1]);
        if (!cacheReadInto(e, data)) parentPort.postMessage({ id: m.id, sha256: r.sha256, crc: r.crc, known });
        else parentPort.postMessage({ id: m.id, sha256: r.sha256, crc: r.crc, known, method: e[2], data, dataCrc: e[3] }, [data.buffer]);
      }
    } else if (m.op === 'chunk') {
      current = m.rel;
      const dictLen = m.store ? 0 : Math.min(m.offset, ${DICT_SIZE});
      const buf = scratch(dictLen + m.length);
      const fd = fs.openSync(m.abs, 'r');
      try { readExact(fd, buf, buf.length, m.offset - dictLen, m.rel); } finally { fs.closeSync(fd); }
      const input = buf.subarray(dictLen);
      const crc = crc32(input) >>> 0;
      let data;
      if (m.store) data = owned(input);
      else {
        const opts = { level: LEVEL, memLevel: MEM_LEVEL, finishFlush: m.last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH };
        if (dictLen > 0) opts.dictionary = buf.subarray(0, dictLen);
        data = owned(zlib.deflateRawSync(input, opts));
      }
      parentPort.postMessage({ id: m.id, crc, data }, [data.buffer]);
    } else {
      throw new Error('unknown job ' + m.op);
    }
  } catch (err) {
    fail(m.id, err, current);
  }
});
`;

export interface PoolFile {
  rel: string;
  abs: string;
  size: number;
  /** Keep the bytes as they are (already-compressed type). */
  store?: boolean;
}

export interface HashResult {
  sha256: string;
  crc: number;
}
export interface DeflateResult {
  crc: number;
  sha256: string;
  method: number;
  data: Uint8Array;
  /** The compressed entry came from the entry cache. */
  cached?: boolean;
  /** The entry cache held this content (used, or compressed again because its data failed its CRC). */
  known?: boolean;
  /** With the cache in use: the CRC-32 of `data`, for the next cache's index. */
  dataCrc?: number;
}

/** Where a cached entry sits in the cache's zip: [data offset, data length, method, data CRC-32, content CRC-32]. */
export type CacheEntry = [number, number, number, number, number];

/** A large file's hashes, and its cached entry when the cache has one. */
export interface LookupResult extends HashResult {
  cached?: { method: number; data: Uint8Array; dataCrc: number };
  known?: boolean;
}
export interface ChunkResult {
  crc: number;
  data: Uint8Array;
}

/** A failure inside a worker, with the archive path of the file it was reading. */
export class WorkerJobError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly file: string | null,
    /** In a deflate batch: the file's place in the batch (the pool turns it into `file`). */
    readonly index?: number,
  ) {
    super(message);
    this.name = 'WorkerJobError';
  }
}

type Job = { msg: Record<string, unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void };

export class DeflatePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly running = new Map<number, Job>();
  private nextId = 1;
  private readonly controls = new Map<
    number,
    { answer: (m: { count?: number }) => void; abort: () => void }
  >();
  private indexing = false;
  private closed = false;
  private fatal: unknown = null;

  constructor(size: number) {
    const n = Math.max(1, Math.floor(size));
    for (let i = 0; i < n; i++) {
      // A small young generation keeps each worker's garbage (read and deflate buffers) from piling up.
      const w = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 2 } });
      w.on(
        'message',
        (m: {
          id: number;
          control?: number;
          count?: number;
          error?: { code: string; message: string; file: string | number | null };
        }) => {
          if (m.control !== undefined) {
            // An answer to a message sent to every worker (the cache), not a job: the worker was never taken.
            this.controls.get(m.control)?.answer(m);
            return;
          }
          const job = this.running.get(m.id);
          this.running.delete(m.id);
          this.idle.push(w);
          this.pump();
          if (!job) return;
          if (m.error) {
            const { code, message, file } = m.error;
            job.reject(
              typeof file === 'number'
                ? new WorkerJobError(code, message, null, file)
                : new WorkerJobError(code, message, file),
            );
          } else job.resolve(m);
        },
      );
      w.on('error', (err) => this.die(err));
      w.on('exit', (code) => {
        if (!this.closed) this.die(new Error(`compression worker exited with code ${code}`));
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  hash(files: PoolFile[]): Promise<HashResult[]> {
    return this.run({ op: 'hash', files }).then((m) => (m as { results: HashResult[] }).results);
  }

  deflate(files: PoolFile[]): Promise<DeflateResult[]> {
    const n = files.length;
    const sizes = new Float64Array(n);
    const store = new Uint8Array(n);
    files.forEach((f, i) => {
      sizes[i] = f.size;
      store[i] = f.store ? 1 : 0;
    });
    const msg = {
      op: 'deflate',
      abs: files.map((f) => f.abs).join('\0'),
      sizes,
      store,
      index: this.indexing,
    };
    return this.run(msg).then(
      (m) => {
        const { meta, shas, data } = m as { meta: Uint32Array; shas: string; data: ArrayBuffer };
        const results: DeflateResult[] = new Array(n);
        for (let i = 0; i < n; i++) {
          const o = i * 6;
          results[i] = {
            crc: meta[o],
            sha256: shas.slice(i * 64, i * 64 + 64),
            method: meta[o + 1],
            data: Buffer.from(data, meta[o + 2], meta[o + 3]),
            cached: (meta[o + 4] & 1) !== 0,
            known: (meta[o + 4] & 2) !== 0,
            dataCrc: meta[o + 5],
          };
        }
        return results;
      },
      (err: unknown) => {
        // The worker names the file by its place in the batch.
        if (err instanceof WorkerJobError && err.index !== undefined)
          throw new WorkerJobError(err.code, err.message, files[err.index]?.rel ?? null);
        throw err;
      },
    );
  }

  /** A large file's sha256 and CRC-32, with its entry from the cache when there is one. */
  lookup(file: PoolFile): Promise<LookupResult> {
    return this.run({ op: 'lookup', file }).then((m) => {
      const r = m as {
        sha256: string;
        crc: number;
        known: boolean;
        method?: number;
        data?: Uint8Array;
        dataCrc?: number;
      };
      return {
        sha256: r.sha256,
        crc: r.crc,
        known: r.known,
        ...(r.method !== undefined && r.data
          ? { cached: { method: r.method, data: r.data, dataCrc: r.dataCrc ?? 0 } }
          : {}),
      };
    });
  }

  /**
   * Has every worker load the entry cache in `dir` (its index and zip; see docs/packaging.md), made by the
   * compressor `tag`; jobs posted after this see it, and deflate jobs report each entry's data CRC-32 for the next
   * index. Resolves to the number of entries the cache holds, or null when there is none or it does not fit.
   */
  useCache(dir: string, tag: string): Promise<number | null> {
    this.indexing = true;
    const id = this.nextId++;
    let left = this.workers.length;
    let count = -1;
    return new Promise((resolve) => {
      this.controls.set(id, {
        answer: (m) => {
          count = Math.max(count, m.count ?? -1);
          if (--left > 0) return;
          this.controls.delete(id);
          resolve(count >= 0 ? count : null);
        },
        abort: () => resolve(null),
      });
      for (const w of this.workers) w.postMessage({ op: 'cache', id, dir, tag });
    });
  }

  chunk(f: PoolFile, offset: number, length: number, last: boolean): Promise<ChunkResult> {
    return this.run({
      op: 'chunk',
      rel: f.rel,
      abs: f.abs,
      offset,
      length,
      last,
      store: !!f.store,
    }) as Promise<ChunkResult>;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private run(msg: Record<string, unknown>): Promise<unknown> {
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise((resolve, reject) => {
      this.queue.push({ msg, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      this.running.set(id, job);
      w.postMessage({ ...job.msg, id });
    }
  }

  private die(err: unknown): void {
    if (this.fatal) return;
    this.fatal = err;
    for (const c of this.controls.values()) c.abort();
    this.controls.clear();
    for (const job of [...this.running.values(), ...this.queue]) job.reject(err);
    this.running.clear();
    this.queue.length = 0;
  }
}
