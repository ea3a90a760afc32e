/**
 * The packager: writes the contents of a publish folder as a deterministic zip, fast and in bounded memory.
 *
 * Flow: walk the folder (walk.ts) → sort entries by UTF-8 path bytes → read, hash and compress on the worker pool,
 * small files in batches and large files in 1 MiB pieces, with at most a fixed window of bytes in flight → write
 * headers and data in order to a temp file next to the output, hashing the zip as it goes → the release stamp's data
 * (derived from every other file, so written after them) → central directory in sorted order → rename.
 * See docs/packaging.md.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { RunpackError } from '../util/errors.js';
import {
  cacheTag,
  CHUNK_SIZE,
  DeflatePool,
  type CacheEntry,
  WorkerJobError,
  type ChunkResult,
  type DeflateResult,
  type LookupResult,
  type PoolFile,
} from './deflate-pool.js';
import { compareUtf8, ContentDigest, stampBytes } from './stamp.js';
import { STAMP_PATH, type PackOptions, type PackResult, type ReleaseStamp } from './types.js';
import { resolveOutputPath, unreadable, walkSorted, type WalkEntry } from './walk.js';
import {
  centralHeader,
  crc32,
  crc32Combine,
  endRecords,
  localHeader,
  localHeaderLength,
  METHOD_DEFLATE,
  METHOD_STORED,
  type EntryHeader,
} from './zip-format.js';

export {
  computeContentSha256,
  ContentDigest,
  makeStamp,
  stampBytes,
  parseStamp,
  compareUtf8,
} from './stamp.js';
export type { StampFile } from './stamp.js';

/** Timestamp of every entry when neither the option nor SOURCE_DATE_EPOCH is set: 2000-01-01T00:00:00Z. */
export const DEFAULT_EPOCH = 946684800;
/** Latest time the DOS date fields can hold. */
const MAX_EPOCH = Date.UTC(2107, 11, 31, 23, 59, 58) / 1000;

/** File types already compressed: stored as they are, never deflated. */
export const STORED_EXTENSIONS: ReadonlySet<string> = new Set(
  (
    'png jpg jpeg gif webp avif heic ico gz tgz br zip jar war ear nupkg snupkg whl egg woff woff2 mp3 mp4 m4a m4v ' +
    'aac ogg oga ogv opus webm mov avi mkv flac 7z xz txz zst bz2 tbz2 lz4 lzma rar cab apk docx xlsx pptx odt ods ' +
    'odp epub pdf'
  ).split(' '),
);

const BATCH_BYTES = 1 << 20;
const BATCH_FILES = 512;
/** Minimum weight of a job in the in-flight window, so folders of empty files cannot queue without bound. */
const MIN_JOB_WEIGHT = 64 * 1024;
/** Extra weight per file: each result costs objects and a digest on the main thread whatever the file's size. */
const FILE_WEIGHT = 2 * 1024;
const WRITE_BUFFER = 1 << 20;

/** Hooks for tests: run between the walk and the reading of files. */
export interface PackInternals {
  afterWalk?: (files: readonly { rel: string; abs: string }[]) => void | Promise<void>;
}

/** Resolves the timestamp for every entry: the option, else SOURCE_DATE_EPOCH, else DEFAULT_EPOCH. */
export function resolveSourceDateEpoch(
  option?: number,
  env: string | undefined = process.env.SOURCE_DATE_EPOCH,
): number {
  if (option !== undefined) {
    if (!Number.isInteger(option) || option < 0 || option > MAX_EPOCH) {
      throw new RunpackError(
        'package-bad-epoch',
        `sourceDateEpoch ${option} is not a whole number of seconds between 0 and ${MAX_EPOCH}; pass e.g. the last commit time (git log -1 --format=%ct).`,
      );
    }
    return option;
  }
  if (env !== undefined && env.trim() !== '') {
    const v = env.trim();
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > MAX_EPOCH) {
      throw new RunpackError(
        'package-bad-epoch',
        `SOURCE_DATE_EPOCH='${env}' is not a whole number of seconds since 1970; unset it or set it to e.g. the last commit time (git log -1 --format=%ct).`,
      );
    }
    return n;
  }
  return DEFAULT_EPOCH;
}

/** True when a file of this name is stored rather than deflated. */
export function isStoredType(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 && STORED_EXTENSIONS.has(base.slice(dot + 1).toLowerCase());
}

/** sha256 and size of a file, read as a stream (for prebuilt zips handed to the deploy engine). */
export async function hashFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of fs.createReadStream(file)) {
      h.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (code === 'ENOENT') {
      throw new RunpackError(
        'package-missing',
        `Package '${file}' does not exist; check the path of the zip.`,
      );
    }
    if (code === 'EISDIR') {
      throw new RunpackError(
        'package-missing',
        `Package '${file}' is a folder, not a zip file; pass the zip's path.`,
      );
    }
    throw new RunpackError(
      'package-unreadable',
      `Cannot read package '${file}' (${code}); check its permissions.`,
      {
        cause: err,
      },
    );
  }
  return { sha256: h.digest('hex'), bytes };
}

interface Item {
  /** Archive name (folders end in `/`). */
  name: string;
  rel: string;
  kind: 'file' | 'dir' | 'stamp';
  /** Real path to read (files only). */
  abs: string;
  mode: number;
  size: number;
  store: boolean;
}

type Task =
  | { type: 'batch'; items: Item[]; files: Item[]; weight: number }
  | { type: 'hash'; item: Item; weight: number }
  | {
      type: 'chunk';
      item: Item;
      index: number;
      offset: number;
      length: number;
      last: boolean;
      weight: number;
    };

function poolFile(it: Item): PoolFile {
  return { rel: it.rel, abs: it.abs, size: it.size, store: it.store };
}

/** The item of a walked entry. */
function itemOf(e: WalkEntry): Item {
  return {
    name: e.kind === 'dir' ? `${e.rel}/` : e.rel,
    rel: e.rel,
    kind: e.kind,
    abs: e.kind === 'file' ? e.abs : '',
    mode: e.mode,
    size: e.size,
    store: e.kind === 'file' && isStoredType(e.rel),
  };
}

/**
 * Turns the walk's entries, which arrive in archive order, into the archive's items and the jobs that read and
 * compress them, as they come: small files in batches, large files as a hash job and one job per 1 MiB piece.
 * The release stamp (and its folder, when the tree has none) is merged in at its place in the order.
 */
class Planner {
  readonly tasks: Task[] = [];
  /** Files and their bytes so far (the stamp not counted). */
  files = 0;
  bytes = 0;
  private batch: Extract<Task, { type: 'batch' }> | null = null;
  private readonly pending: Item[] = [];

  constructor(private readonly withStamp: boolean) {
    if (!withStamp) return;
    const stampDir = STAMP_PATH.slice(0, STAMP_PATH.lastIndexOf('/'));
    this.pending.push(
      { name: `${stampDir}/`, rel: stampDir, kind: 'dir', abs: '', mode: 0o755, size: 0, store: true },
      { name: STAMP_PATH, rel: STAMP_PATH, kind: 'stamp', abs: '', mode: 0o644, size: 0, store: true },
    );
  }

  add(e: WalkEntry): void {
    if (this.withStamp && e.kind === 'file' && e.rel === STAMP_PATH) return; // replaced by the fresh stamp
    const it = itemOf(e);
    while (this.pending.length > 0) {
      const order = compareUtf8(this.pending[0].name, it.name);
      if (order > 0) break;
      const p = this.pending.shift()!;
      if (order < 0) this.plan(p); // equal: the tree has the stamp's folder, planned below
    }
    this.plan(it);
  }

  finish(): void {
    for (const p of this.pending.splice(0)) this.plan(p);
    this.close();
  }

  private plan(it: Item): void {
    if (it.kind === 'file') {
      this.files++;
      this.bytes += it.size;
    }
    if (it.kind === 'file' && it.size > CHUNK_SIZE) {
      this.close();
      // The pieces are compressed on several threads; one job reads the file once more for its sha256.
      this.tasks.push({ type: 'hash', item: it, weight: MIN_JOB_WEIGHT });
      const pieces = Math.ceil(it.size / CHUNK_SIZE);
      for (let i = 0; i < pieces; i++) {
        const offset = i * CHUNK_SIZE;
        const length = Math.min(CHUNK_SIZE, it.size - offset);
        this.tasks.push({
          type: 'chunk',
          item: it,
          index: i,
          offset,
          length,
          last: i === pieces - 1,
          weight: length,
        });
      }
      return;
    }
    const batch = (this.batch ??= { type: 'batch', items: [], files: [], weight: MIN_JOB_WEIGHT });
    batch.items.push(it);
    if (it.kind === 'file') {
      batch.files.push(it);
      batch.weight += it.size + FILE_WEIGHT;
    }
    if (batch.weight - batch.files.length * FILE_WEIGHT >= BATCH_BYTES || batch.files.length >= BATCH_FILES)
      this.close();
  }

  private close(): void {
    if (this.batch) this.tasks.push(this.batch);
    this.batch = null;
  }
}

function translateWorkerError(err: unknown): unknown {
  if (!(err instanceof WorkerJobError)) return err;
  const rel = err.file ?? '?';
  if (err.code === 'CHANGED') return changed(rel);
  return unreadable(rel, err);
}

function changed(rel: string): RunpackError {
  return new RunpackError(
    'package-changed',
    `'${rel}' changed while it was being packaged; run the package step after the build has finished writing.`,
  );
}

/**
 * Central directory records, encoded as soon as an entry is written and kept in 1 MiB chunks (far smaller than
 * an object per entry). One slot can be reserved and filled in later (the stamp's record).
 */
class CentralDirectory {
  private readonly chunks: (Buffer | null)[] = [];
  private cur = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private reserved: EntryHeader | null = null;
  count = 0;

  add(h: EntryHeader): void {
    const rec = centralHeader(h);
    if (this.used + rec.length > this.cur.length) this.seal(Math.max(1 << 20, rec.length));
    rec.copy(this.cur, this.used);
    this.used += rec.length;
    this.count++;
  }

  reserve(): void {
    this.seal(1 << 20);
    this.chunks.push(null);
    this.count++;
  }

  fill(h: EntryHeader): void {
    this.reserved = h;
  }

  parts(): Buffer[] {
    this.seal(0);
    return this.chunks.map((c) => c ?? centralHeader(this.reserved!));
  }

  private seal(next: number): void {
    if (this.used) this.chunks.push(Buffer.from(this.cur.subarray(0, this.used)));
    this.cur = Buffer.allocUnsafe(next);
    this.used = 0;
  }
}

/** Sequential writer that hashes every byte in file order. Large entries are written in place and hashed after. */
class ZipOut {
  readonly hash = createHash('sha256');
  pos = 0;
  private pending: Buffer[] = [];
  private pendingLen = 0;

  constructor(readonly fh: FileHandle) {}

  async append(buf: Buffer | Uint8Array): Promise<void> {
    const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    if (b.length === 0) return;
    this.hash.update(b);
    this.pending.push(b);
    this.pendingLen += b.length;
    this.pos += b.length;
    if (this.pendingLen >= WRITE_BUFFER) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.pendingLen) return;
    const at = this.pos - this.pendingLen;
    const bufs = this.pending;
    this.pending = [];
    this.pendingLen = 0;
    await writeAllv(this.fh, bufs, at);
  }

  async writeAt(buf: Uint8Array, at: number): Promise<void> {
    let done = 0;
    while (done < buf.byteLength) {
      const { bytesWritten } = await this.fh.write(buf, done, buf.byteLength - done, at + done);
      done += bytesWritten;
    }
  }

  /**
   * Feeds an already-written range of the file to the hash (after its header was patched in front of it); returns
   * the range's CRC-32 when asked (for the entry cache's index), else 0.
   */
  async hashRange(from: number, length: number, withCrc: boolean): Promise<number> {
    const buf = Buffer.allocUnsafe(Math.min(length, 1 << 20) || 1);
    let done = 0;
    let crc = 0;
    while (done < length) {
      const want = Math.min(buf.length, length - done);
      const { bytesRead } = await this.fh.read(buf, 0, want, from + done);
      if (bytesRead <= 0) throw new Error('output file shorter than written');
      const piece = buf.subarray(0, bytesRead);
      this.hash.update(piece);
      if (withCrc) crc = crc32(piece, crc);
      done += bytesRead;
    }
    return crc >>> 0;
  }
}

async function writeAllv(fh: FileHandle, bufs: Buffer[], at: number): Promise<void> {
  let pos = at;
  let list = bufs;
  while (list.length) {
    const { bytesWritten } = await fh.writev(list.slice(0, 1024), pos);
    pos += bytesWritten;
    let n = bytesWritten;
    const rest: Buffer[] = [];
    for (const b of list) {
      if (n >= b.length) n -= b.length;
      else {
        rest.push(n ? b.subarray(n) : b);
        n = 0;
      }
    }
    list = rest;
  }
}

function outputError(outFile: string, err: unknown): RunpackError {
  const code = (err as NodeJS.ErrnoException)?.code ?? String(err);
  const why =
    code === 'ENOENT'
      ? 'its folder does not exist'
      : code === 'ENOTDIR'
        ? 'part of its folder path is a file'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'permission denied'
          : code === 'ENOSPC'
            ? 'the disk is full'
            : code;
  return new RunpackError(
    'package-output-unwritable',
    `Cannot write output '${outFile}' (${why}); choose a path in an existing, writable folder.`,
    { cause: err },
  );
}

/** The entry cache's files in its folder: the previous pack's zip and the index of its entries. */
const CACHE_ZIP = 'entries.zip';
const CACHE_INDEX = 'index.json';

/**
 * The index's first line (the entries follow on the second, as JSON by content sha256). The workers read it
 * (deflate-pool.ts) and use it only when the version, the compressor's tag, the zip's size and the entries' sha256
 * all match.
 */
interface CacheIndexHead {
  runpackCache: 2;
  /** cacheTag(): the compressor the entries were made with. */
  tag: string;
  zipBytes: number;
  count: number;
  entriesSha256: string;
}

/**
 * After a pack with the entry cache: the cache becomes this pack (its zip linked, or copied when the cache is on
 * another file system, next to the index of its entries), so it holds one package's worth and a CI cache of the
 * folder stays that size. The zip is replaced before the index, and a reader checks the zip's size, the index's
 * sha256 and every entry's CRC, so a save cut short is harmless. A cache that cannot be written costs only time:
 * the pack itself stands.
 */
async function saveCache(
  dir: string,
  zip: string,
  zipBytes: number,
  entries: Map<string, CacheEntry>,
): Promise<void> {
  try {
    await fs.promises.mkdir(dir, { recursive: true });
    const target = path.join(dir, CACHE_ZIP);
    const suffix = `.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const body = JSON.stringify(Object.fromEntries(entries));
    const head: CacheIndexHead = {
      runpackCache: 2,
      tag: cacheTag(),
      zipBytes,
      count: entries.size,
      entriesSha256: createHash('sha256').update(body).digest('hex'),
    };
    if (path.resolve(zip) !== path.resolve(target)) {
      // A link costs nothing; the next pack writes a new file and renames it over the output, so the linked
      // zip stays as it is (and is checked entry by entry all the same).
      await fs.promises.link(zip, target + suffix).catch(() => fs.promises.copyFile(zip, target + suffix));
      await fs.promises.rename(target + suffix, target);
    }
    await fs.promises.writeFile(path.join(dir, CACHE_INDEX + suffix), `${JSON.stringify(head)}\n${body}`);
    await fs.promises.rename(path.join(dir, CACHE_INDEX + suffix), path.join(dir, CACHE_INDEX));
  } catch {
    // the pack stands; the next one compresses what this cache would have saved
  }
}

/** Packages the contents of `options.sourceDir` into `options.outFile`. */
export async function pack(options: PackOptions, internals: PackInternals = {}): Promise<PackResult> {
  if (!options.sourceDir)
    throw new RunpackError('usage', 'No source folder given; pass the publish folder to package.');
  if (!options.outFile)
    throw new RunpackError('usage', 'No output file given; pass the zip path to write (-o out.zip).');
  const epoch = resolveSourceDateEpoch(options.sourceDateEpoch);
  const withStamp = options.stamp !== false;
  const outAbs = resolveOutputPath(options.outFile);
  if (fs.existsSync(outAbs) && fs.statSync(outAbs).isDirectory()) {
    throw new RunpackError(
      'package-output-unwritable',
      `Output '${options.outFile}' is a folder; pass a file path such as '${path.join(options.outFile, 'app.zip')}'.`,
    );
  }

  // Workers start while the folder is walked.
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? os.availableParallelism()));
  const pool = new DeflatePool(concurrency);
  try {
    return await packWith(options, internals, pool, epoch, withStamp, outAbs);
  } finally {
    await pool.close();
  }
}

async function packWith(
  options: PackOptions,
  internals: PackInternals,
  pool: DeflatePool,
  epoch: number,
  withStamp: boolean,
  outAbs: string,
): Promise<PackResult> {
  // Temp files of this output (ours, or one a killed run left behind) are never packaged either.
  const outDir = path.dirname(outAbs);
  const tmpPrefix = `.${path.basename(outAbs)}.`;
  const isTemp = (p: string) =>
    path.dirname(p) === outDir &&
    path.basename(p).startsWith(tmpPrefix) &&
    /\.\d+\.[0-9a-f]{8}\.tmp$/.test(p);
  // The entry cache loads in the workers while the folder is walked; a cache folder inside the source folder is
  // never packaged.
  const cacheDir = options.cacheDir ? resolveOutputPath(options.cacheDir) : undefined;
  const cacheLoad = cacheDir ? pool.useCache(cacheDir, cacheTag()) : Promise.resolve(null);
  // The walk yields entries in archive order and runs on this thread in slices, between the workers' answers, so
  // the first files are compressed while the rest of the folder is still being listed.
  const entries = walkSorted({
    sourceDir: options.sourceDir,
    exclude: options.exclude,
    skipFiles: [outAbs],
    skipFile: isTemp,
    skipDirs: cacheDir ? [cacheDir] : [],
  });
  const planner = new Planner(withStamp);
  const empty = () =>
    new RunpackError(
      'package-empty',
      `Nothing to package in '${options.sourceDir}'${options.exclude?.length ? ' after excludes' : ''}; build the app first or check --exclude.`,
    );
  let walkDone = false;
  if (internals.afterWalk) {
    // The test hook sees the whole walk before any file is read.
    const files: { rel: string; abs: string }[] = [];
    for (const e of entries) {
      planner.add(e);
      if (e.kind === 'file') files.push({ rel: e.rel, abs: e.abs });
    }
    planner.finish();
    walkDone = true;
    if (planner.files === 0) throw empty();
    await internals.afterWalk(files.filter((f) => !withStamp || f.rel !== STAMP_PATH));
  }

  const tmp = path.join(outDir, `${tmpPrefix}${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fh: FileHandle;
  try {
    fh = await open(tmp, 'wx+');
  } catch (err) {
    throw outputError(options.outFile, err);
  }

  let ok = false;
  let stopped = false;
  try {
    const out = new ZipOut(fh);
    const central = new CentralDirectory();
    let stampItem: Item | null = null;
    const digest = new ContentDigest();
    const largeHashes = new Map<Item, LookupResult>();
    // The entry cache: compressed entries of the previous pack, by content (it never changes the output's bytes).
    // `kept` holds the contents the previous cache knew, to tell how many of its entries this pack dropped.
    const cacheUse = { hits: 0, misses: 0, index: new Map<string, CacheEntry>(), kept: new Set<string>() };
    const lookups = new Map<Item, Promise<LookupResult>>();
    const cacheable = (it: Item) => Boolean(cacheDir) && !it.store && it.size > 0;
    /** Index an entry for the next cache (only with a cache: the workers computed its data's CRC then). */
    const remember = (it: Item, sha256: string, entry: CacheEntry, hit: boolean, known: boolean) => {
      if (!cacheable(it)) return;
      cacheUse.index.set(sha256, entry);
      if (known) cacheUse.kept.add(sha256);
      if (hit) cacheUse.hits++;
      else cacheUse.misses++;
    };

    const tasks = planner.tasks;
    // Deep enough that a worker finishing early still finds queued work while the head job completes.
    const window = Math.max(16 << 20, pool.size * (8 << 20));
    const started: (Promise<unknown> | null)[] = [];
    let cur = 0;
    let next = 0;
    let inflight = 0;
    let doneBytes = 0;
    let lastProgress = 0;
    const progress = (force = false) => {
      // The total is known once the walk has ended.
      if (!options.onProgress || !walkDone) return;
      if (force || doneBytes - lastProgress >= 16 << 20) {
        lastProgress = doneBytes;
        options.onProgress(doneBytes, planner.bytes);
      }
    };
    const start = (t: Task): Promise<unknown> => {
      let p: Promise<unknown>;
      if (t.type === 'batch') p = t.files.length ? pool.deflate(t.files.map(poolFile)) : Promise.resolve([]);
      else if (t.type === 'hash') {
        if (cacheable(t.item)) {
          p = pool.lookup(poolFile(t.item));
          lookups.set(t.item, p as Promise<LookupResult>);
        } else p = pool.hash([poolFile(t.item)]).then((r) => r[0]);
      } else {
        // With a cached entry the pieces are not compressed again.
        // (The last piece lets go of the lookup: a held one would keep the file's cached data to the end.)
        const looked = lookups.get(t.item);
        if (t.last) lookups.delete(t.item);
        p = looked
          ? looked.then((l) =>
              l.cached
                ? { crc: 0, data: new Uint8Array(0) }
                : pool.chunk(poolFile(t.item), t.offset, t.length, t.last),
            )
          : pool.chunk(poolFile(t.item), t.offset, t.length, t.last);
      }
      p.catch(() => undefined); // awaited in order below; avoid an unhandled rejection meanwhile
      return p;
    };
    const header = (it: Item, method: number, crc: number, comp: number, offset: number): EntryHeader => ({
      name: Buffer.from(it.name, 'utf8'),
      method,
      crc32: crc,
      compressedSize: comp,
      uncompressedSize: it.kind === 'dir' ? 0 : it.size,
      localOffset: offset,
      mode: it.mode,
      directory: it.kind === 'dir',
      mtime: epoch,
    });

    // State of the large entry being written in place.
    let large: { item: Item; headerAt: number; dataAt: number; written: number; crc: number } | null = null;

    /** Starts jobs in order while the window has room (always the one the loop waits for). */
    const fill = () => {
      while (next < tasks.length && (next === cur || inflight + tasks[next].weight <= window)) {
        started[next] = start(tasks[next]);
        inflight += tasks[next].weight;
        next++;
      }
    };
    let walkError: unknown = null;
    /** The loop below, waiting for the walk to plan more jobs. */
    const waiting: { wake: (() => void) | null } = { wake: null };
    const walking = walkDone
      ? Promise.resolve()
      : (async () => {
          try {
            for (;;) {
              for (let n = 0; n < 256; n++) {
                const r = entries.next();
                if (r.done) {
                  planner.finish();
                  return;
                }
                planner.add(r.value);
              }
              fill();
              waiting.wake?.();
              await new Promise((resolve) => setImmediate(resolve));
              if (stopped) return;
            }
          } catch (err) {
            walkError = err;
          } finally {
            walkDone = true;
            fill();
            waiting.wake?.();
          }
        })();

    for (; ; cur++) {
      while (cur >= tasks.length && !walkDone && walkError === null)
        await new Promise<void>((resolve) => (waiting.wake = resolve));
      waiting.wake = null;
      if (walkError !== null) throw walkError;
      if (cur >= tasks.length) break;
      fill();
      const t = tasks[cur];
      let result: unknown;
      try {
        result = await started[cur];
      } catch (err) {
        throw translateWorkerError(err);
      }
      started[cur] = null;
      inflight -= t.weight;

      if (t.type === 'hash') {
        largeHashes.set(t.item, result as LookupResult);
        continue;
      }

      if (t.type === 'batch') {
        const results = result as DeflateResult[];
        let fi = 0;
        for (const it of t.items) {
          const offset = out.pos;
          if (it.kind === 'dir') {
            const h = header(it, METHOD_STORED, 0, 0, offset);
            central.add(h);
            await out.append(localHeader(h));
          } else if (it.kind === 'stamp') {
            // Its content is derived from every other file: written after them, listed here in the directory.
            stampItem = it;
            central.reserve();
          } else {
            const r = results[fi++];
            const h = header(it, r.method, r.crc, r.data.byteLength, offset);
            central.add(h);
            digest.add({ path: it.rel, mode: it.mode, size: it.size, sha256: r.sha256 });
            const lh = localHeader(h);
            await out.append(lh);
            remember(
              it,
              r.sha256,
              [offset + lh.length, r.data.byteLength, r.method, r.dataCrc ?? 0, r.crc],
              Boolean(r.cached),
              Boolean(r.known),
            );
            await out.append(r.data);
            doneBytes += it.size;
            progress();
          }
        }
        continue;
      }

      // A piece of a large file (or, for a cached entry, the whole entry at its first piece).
      const r = result as ChunkResult;
      const hit = largeHashes.get(t.item)?.cached;
      if (t.index === 0) {
        await out.flush();
        const headerAt = out.pos;
        const dataAt = headerAt + localHeaderLength(Buffer.byteLength(t.item.name), t.item.size);
        large = { item: t.item, headerAt, dataAt, written: 0, crc: 0 };
      }
      const L = large!;
      if (hit) {
        if (t.index === 0 && hit.method === METHOD_DEFLATE) {
          await out.writeAt(hit.data, L.dataAt);
          L.written = hit.data.byteLength;
        }
        L.crc = largeHashes.get(t.item)!.crc;
      } else {
        await out.writeAt(r.data, L.dataAt + L.written);
        L.written += r.data.byteLength;
        L.crc = t.index === 0 ? r.crc : crc32Combine(L.crc, r.crc, t.length);
      }
      doneBytes += t.length;
      progress();
      if (!t.last) continue;

      const it = L.item;
      let method = it.store ? METHOD_STORED : METHOD_DEFLATE;
      let comp = L.written;
      if (hit && hit.method === METHOD_STORED) comp = it.size; // the cache knows deflate does not shrink it
      if (method === METHOD_DEFLATE && comp >= it.size) {
        // Deflate did not shrink it: write the bytes as they are instead (decided from the data, so deterministic).
        method = METHOD_STORED;
        comp = 0;
        for (let off = 0; off < it.size; off += CHUNK_SIZE) {
          const len = Math.min(CHUNK_SIZE, it.size - off);
          let piece: ChunkResult;
          try {
            piece = await pool.chunk({ ...poolFile(it), store: true }, off, len, off + len >= it.size);
          } catch (err) {
            throw translateWorkerError(err);
          }
          await out.writeAt(piece.data, L.dataAt + comp);
          comp += piece.data.byteLength;
        }
      }
      // The whole-file read and the pieces must have seen the same bytes.
      const whole = largeHashes.get(it)!;
      largeHashes.delete(it);
      if (whole.crc !== L.crc) throw changed(it.rel);
      const lh = localHeader(header(it, method, L.crc, comp, L.headerAt));
      await out.writeAt(lh, L.headerAt);
      out.hash.update(lh);
      const crcNow = await out.hashRange(L.dataAt, comp, !hit && cacheable(it));
      const dataCrc = hit ? hit.dataCrc : crcNow;
      remember(
        it,
        whole.sha256,
        [L.dataAt, comp, method, dataCrc, L.crc],
        Boolean(hit),
        Boolean(whole.known),
      );
      central.add(header(it, method, L.crc, comp, L.headerAt));
      out.pos = L.dataAt + comp;
      large = null;
    }

    await walking;
    if (walkError !== null) throw walkError;
    if (planner.files === 0) throw empty();

    // The release stamp, from the sha256 of every file written above.
    let stamp: ReleaseStamp | null = null;
    let stampSize = 0;
    if (stampItem) {
      stamp = { runpack: 1, contentSha256: digest.digest() };
      const raw = stampBytes(stamp);
      stampSize = raw.length;
      stampItem.size = raw.length;
      const h = header(stampItem, METHOD_STORED, crc32(raw) >>> 0, raw.length, out.pos);
      central.fill(h);
      await out.append(localHeader(h));
      await out.append(raw);
    }

    // Central directory and end records.
    const cdOffset = out.pos;
    for (const part of central.parts()) await out.append(part);
    const cdSize = out.pos - cdOffset;
    await out.append(endRecords(central.count, cdOffset, cdSize));
    await out.flush();
    await fh.truncate(out.pos);
    progress(true);
    await fh.close();
    try {
      await fs.promises.rename(tmp, outAbs);
    } catch (err) {
      throw outputError(options.outFile, err);
    }
    ok = true;
    // The cache becomes this pack: its zip and the index of its entries (the entries it did not use are gone).
    const before = await cacheLoad;
    if (cacheDir) await saveCache(cacheDir, outAbs, out.pos, cacheUse.index);
    const removed = before === null ? 0 : before - cacheUse.kept.size;
    return {
      outFile: options.outFile,
      sha256: out.hash.digest('hex'),
      zipBytes: out.pos,
      files: planner.files + (stamp ? 1 : 0),
      bytes: planner.bytes + stampSize,
      stamp,
      ...(cacheDir ? { cache: { hits: cacheUse.hits, misses: cacheUse.misses, removed } } : {}),
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (!(err instanceof RunpackError) && (code === 'ENOSPC' || code === 'EIO' || code === 'EDQUOT')) {
      throw outputError(options.outFile, err);
    }
    throw err;
  } finally {
    stopped = true;
    if (!ok) {
      await fh.close().catch(() => undefined);
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    }
  }
}
