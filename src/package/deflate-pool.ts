/**
 * A pool of worker threads that read, hash and deflate files. The worker code is inline source (CommonJS, run
 * with `eval: true`) so it works from the single-file rollup bundles as well as from the TypeScript sources.
 *
 * Jobs:
 * - `hash`: files → sha256 and CRC-32 of each (read in 1 MiB pieces), for large files whose pieces are compressed
 *   on several threads at once.
 * - `deflate`: small files → CRC-32, sha256 and the smaller of raw deflate (level 6) and the stored bytes.
 * - `chunk`: one piece of a large file → CRC-32 of the piece and raw deflate ending in a sync flush (Z_FINISH for
 *   the last piece), primed with the previous 32 KiB as dictionary. Concatenated, the pieces are one valid deflate
 *   stream (the pigz method), and the output does not depend on how many workers ran.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { deflateRawSync } from 'node:zlib';

export const CHUNK_SIZE = 1 << 20;
export const DICT_SIZE = 32 * 1024;
export const DEFLATE_LEVEL = 6;

/**
 * What the entry cache's keys carry besides the content's sha256: everything the compressed bytes depend on — the
 * level, the zlib build, the piece and dictionary sizes of large files, and a probe of this machine's compressor
 * (zlib picks CPU-specific code paths, which may choose other matches): a cache filled on a machine whose
 * compressor writes other bytes is never used.
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
    .update(deflateRawSync(sample, { level: DEFLATE_LEVEL }))
    .digest('hex')
    .slice(0, 12);
  tag = `l${DEFLATE_LEVEL}-z${process.versions.zlib}-c${CHUNK_SIZE}-d${DICT_SIZE}-p${probe}`;
  return tag;
}

const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const PIECE = 1 << 20;
// zlib.crc32 exists from Node 20.15; a table-driven fallback keeps older Node 20 releases working.
const crc32 = zlib.crc32 ? (b, v) => zlib.crc32(b, v || 0) : (() => {
  const T = new Int32Array(256);
  for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; T[n] = c; }
  return (b, v) => { let c = ~(v || 0); for (let i = 0; i < b.length; i++) c = T[(c ^ b[i]) & 255] ^ (c >>> 8); return ~c >>> 0; };
})();
const LEVEL = ${DEFLATE_LEVEL};

// The entry cache (docs/packaging.md), sent once to every worker: the previous pack's zip (its compressed entries)
// and, by content sha256, where each entry's data sits in it, its method, the content's CRC-32 and the data's
// CRC-32. An entry is used only when both CRCs match (a torn or corrupt cache costs a compression, never the output).
let cache = null;
function cacheRead(sha256, crc) {
  if (!cache) return null;
  const e = cache.entries.get(sha256);
  if (!e || e[4] !== crc) return null;
  const method = e[2];
  if (method === 0) return { method, data: null };
  const data = Buffer.allocUnsafe(e[1]);
  try {
    let done = 0;
    while (done < data.length) {
      const n = fs.readSync(cache.fd, data, done, data.length - done, e[0] + done);
      if (n === 0) return null;
      done += n;
    }
  } catch { return null; }
  return (crc32(data) >>> 0) === e[3] ? { method, data } : null;
}

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

function readWhole(f) {
  const buf = scratch(f.size);
  const fd = fs.openSync(f.abs, 'r');
  try { readExact(fd, buf, f.size, 0, f.rel); checkEnd(fd, f.size); } finally { fs.closeSync(fd); }
  return buf;
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
      cache = null;
      if (m.file) { try { cache = { fd: fs.openSync(m.file, 'r'), entries: new Map(m.entries) }; } catch { cache = null; } }
      return;
    }
    if (m.op === 'hash') {
      const results = [];
      for (const f of m.files) { current = f.rel; results.push(hashFile(f)); }
      parentPort.postMessage({ id: m.id, results });
    } else if (m.op === 'deflate') {
      // All outputs of a batch go back in one buffer: one allocation per batch, not one per file.
      let cap = 0;
      for (const f of m.files) cap += f.size;
      const all = Buffer.allocUnsafeSlow(cap);
      let at = 0;
      const results = [];
      for (const f of m.files) {
        current = f.rel;
        const raw = readWhole(f);
        const crc = crc32(raw) >>> 0;
        const sha256 = crypto.createHash('sha256').update(raw).digest('hex');
        let method = 0;
        let data = raw;
        let cached = false;
        if (!f.store && raw.length > 0) {
          const hit = cacheRead(sha256, crc);
          if (hit) { cached = true; method = hit.method; if (method === 8) data = hit.data; }
          else {
            const z = zlib.deflateRawSync(raw, { level: LEVEL });
            if (z.length < raw.length) { method = 8; data = z; }
          }
        }
        data.copy(all, at);
        results.push({ crc, sha256, method, offset: at, length: data.length, cached });
        at += data.length;
      }
      parentPort.postMessage({ id: m.id, results, data: all.buffer }, [all.buffer]);
    } else if (m.op === 'lookup') {
      // A large file: its sha256 and CRC-32, and its cached entry (read here, handed over whole) when there is one.
      current = m.file.rel;
      const r = hashFile(m.file);
      const hit = cacheRead(r.sha256, r.crc);
      if (!hit) parentPort.postMessage({ id: m.id, sha256: r.sha256, crc: r.crc });
      else if (!hit.data) parentPort.postMessage({ id: m.id, sha256: r.sha256, crc: r.crc, method: 0, data: new Uint8Array(0) });
      else {
        const data = owned(hit.data);
        parentPort.postMessage({ id: m.id, sha256: r.sha256, crc: r.crc, method: hit.method, data }, [data.buffer]);
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
        const opts = { level: LEVEL, finishFlush: m.last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH };
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
}

/** Where a cached entry sits in the cache's zip: [data offset, data length, method, data CRC-32, content CRC-32]. */
export type CacheEntry = [number, number, number, number, number];

/** A large file's hashes, and its cached entry when the cache has one. */
export interface LookupResult extends HashResult {
  cached?: { method: number; data: Uint8Array };
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
  private closed = false;
  private fatal: unknown = null;

  constructor(size: number) {
    const n = Math.max(1, Math.floor(size));
    for (let i = 0; i < n; i++) {
      // A small young generation keeps each worker's garbage (read and deflate buffers) from piling up.
      const w = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 2 } });
      w.on('message', (m: { id: number; error?: { code: string; message: string; file: string | null } }) => {
        const job = this.running.get(m.id);
        this.running.delete(m.id);
        this.idle.push(w);
        this.pump();
        if (!job) return;
        if (m.error) job.reject(new WorkerJobError(m.error.code, m.error.message, m.error.file));
        else job.resolve(m);
      });
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
    return this.run({ op: 'deflate', files }).then((m) => {
      const { results, data } = m as {
        results: {
          crc: number;
          sha256: string;
          method: number;
          offset: number;
          length: number;
          cached: boolean;
        }[];
        data: ArrayBuffer;
      };
      return results.map((r) => ({
        crc: r.crc,
        sha256: r.sha256,
        method: r.method,
        data: Buffer.from(data, r.offset, r.length),
        cached: r.cached,
      }));
    });
  }

  /** A large file's sha256 and CRC-32, with its entry from the cache when there is one. */
  lookup(file: PoolFile): Promise<LookupResult> {
    return this.run({ op: 'lookup', file }).then((m) => {
      const r = m as { sha256: string; crc: number; method?: number; data?: Uint8Array };
      return {
        sha256: r.sha256,
        crc: r.crc,
        ...(r.method !== undefined && r.data ? { cached: { method: r.method, data: r.data } } : {}),
      };
    });
  }

  /**
   * Give every worker the entry cache: the zip that holds the entries and, by content sha256, each entry's
   * [data offset, data length, method, data CRC-32, content CRC-32]. Jobs posted after this see it.
   */
  useCache(file: string, entries: [string, CacheEntry][]): void {
    for (const w of this.workers) w.postMessage({ op: 'cache', file, entries });
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
    for (const job of [...this.running.values(), ...this.queue]) job.reject(err);
    this.running.clear();
    this.queue.length = 0;
  }
}
