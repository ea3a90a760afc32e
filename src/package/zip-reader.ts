/**
 * A zip reader over a random-access source. It reads the central directory directly (never extracts, never
 * writes to disk), cross-checks local headers against it and verifies CRCs by streaming each entry through
 * inflate without keeping it. Hostile archives are reported, not obeyed: entry counts and name lengths are
 * capped, nothing is allocated by declared sizes, and inflation stops at the declared size.
 *
 * The source is an interface so the same reader can run over a local file, a buffer, or HTTP range requests.
 */
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { RunpackError } from '../util/errors.js';

const inflateRawAsync = promisify(zlib.inflateRaw) as (
  buf: Buffer,
  options: zlib.ZlibOptions,
) => Promise<Buffer>;

/** Random access to the bytes of a zip. `read` may return fewer bytes only at the end of the source. */
export interface ZipSource {
  size: number;
  /** Set when the source is a local file: CRC checks may then run in worker threads that open it themselves. */
  path?: string;
  read(offset: number, length: number): Promise<Buffer>;
  close?(): Promise<void>;
}

/** A source over a local file, read with positioned reads. Close it when done. */
export async function fileSource(path: string): Promise<ZipSource> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    return {
      size,
      path,
      async read(offset: number, length: number): Promise<Buffer> {
        const len = Math.max(0, Math.min(length, size - offset));
        const buf = Buffer.allocUnsafe(len);
        let done = 0;
        while (done < len) {
          const { bytesRead } = await handle.read(buf, done, len - done, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done === len ? buf : buf.subarray(0, done);
      },
      close: () => handle.close(),
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** A source over bytes already in memory. */
export function bufferSource(buf: Buffer): ZipSource {
  return {
    size: buf.length,
    read: async (offset, length) => buf.subarray(offset, Math.min(buf.length, offset + length)),
  };
}

export interface ZipEntryFlags {
  /** Bit 0: the entry is encrypted (traditional or strong encryption). */
  encrypted: boolean;
  /** Bit 11: the name is UTF-8. */
  utf8: boolean;
  /** Bit 3: sizes and CRC follow the data in a data descriptor; the local header holds zeros. */
  dataDescriptor: boolean;
  /** The raw general-purpose flag word. */
  raw: number;
}

export interface ZipEntry {
  /** Position in the central directory. */
  index: number;
  /** Decoded name (UTF-8, or CP437 for legacy names), exactly as stored: separators are not changed. */
  name: string;
  /** The stored name bytes (the first MAX_NAME_BYTES of them when `nameTruncated`). */
  rawName: Buffer;
  /** Length of the stored name in bytes. */
  nameLength: number;
  nameTruncated: boolean;
  /** Compression method: 0 stored, 8 deflate; anything else is reported. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  localHeaderOffset: number;
  flags: ZipEntryFlags;
  /** "Version made by": the high byte is the host system (3 = Unix, 0 = MS-DOS/Windows). */
  versionMadeBy: number;
  externalAttributes: number;
  /** Unix mode bits when the entry was made on a Unix host, else null. */
  mode: number | null;
  isDirectory: boolean;
  isSymlink: boolean;
  /** Uncompressed size of a file; 0 for a folder. */
  size: number;
  /** Same as flags.encrypted. */
  encrypted: boolean;
  /** The entry uses zip64 extra fields. */
  zip64: boolean;
}

export type ZipIssueCode = 'corrupt-archive' | 'too-large';

/** Something wrong with the archive's structure, found while reading it. */
export interface ZipIssue {
  code: ZipIssueCode;
  message: string;
  path?: string;
}

export interface ZipDirectory {
  source: ZipSource;
  entries: ZipEntry[];
  /** The entry count the end record declares. */
  declaredEntries: number;
  comment: string;
  zip64: boolean;
  centralDirectoryOffset: number;
  centralDirectorySize: number;
  /** Structural problems found in the central directory (the archive could still be read). */
  issues: ZipIssue[];
}

/** An archive that cannot be read, or an entry that fails its checks. */
export class ZipError extends RunpackError {
  readonly path?: string;
  constructor(code: ZipIssueCode | 'encrypted-entry', message: string, path?: string) {
    super(code, message);
    this.name = 'ZipError';
    this.path = path;
  }
}

export interface OpenZipOptions {
  /** Stop reading the central directory after this many entries (default 250,000). */
  maxEntries?: number;
}

export const DEFAULT_MAX_ENTRIES = 250_000;
/** Names longer than this are kept truncated in memory (the platform's file systems cannot hold them anyway). */
export const MAX_NAME_BYTES = 4096;
/** A central directory larger than this is refused (250,000 entries with 1 KiB names stay below it). */
export const MAX_CENTRAL_DIRECTORY_BYTES = 512 * 1024 * 1024;
/** Deflate cannot expand by more than about 1032:1; a declared size beyond this bound is a lie. */
const DEFLATE_MAX_RATIO = 1040;
const DEFLATE_RATIO_SLACK = 4096;
/** Deflate never needs more than 9 bits a byte (fixed Huffman codes) plus block headers. */
const MAX_DEFLATE_GROWTH = 1.13;

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const CD_CHUNK = 4 * 1024 * 1024;

const METHOD_NAMES: Record<number, string> = {
  1: 'shrink',
  6: 'implode',
  9: 'deflate64',
  12: 'bzip2',
  14: 'lzma',
  93: 'zstandard',
  95: 'xz',
  98: 'ppmd',
  99: 'AES encryption',
};

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v);
}

/** What a file that is not a zip looks like, for a helpful message. */
function describeNonZip(head: Buffer): string {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'it is a gzip file';
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') return 'it is a tar file';
  if (head.length >= 6 && head.toString('latin1', 0, 6) === '7z\xbc\xaf\x27\x1c') return 'it is a 7z file';
  if (head.length >= 4 && head.toString('latin1', 0, 4) === 'Rar!') return 'it is a rar file';
  if (head.length >= 4 && head.readUInt32LE(0) === SIG_LOCAL)
    return 'it starts like a zip but its end is missing (truncated?)';
  return 'no zip end-of-central-directory record was found';
}

const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function decodeName(raw: Buffer, utf8Flag: boolean): string {
  if (utf8Flag) return raw.toString('utf8');
  let ascii = true;
  for (const b of raw) {
    if (b >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return raw.toString('latin1');
  // Many writers store UTF-8 without setting the flag; accept it when the bytes are valid UTF-8.
  const asUtf8 = raw.toString('utf8');
  if (!asUtf8.includes('\ufffd')) return asUtf8;
  let s = '';
  for (const b of raw) s += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
  return s;
}

function printable(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

interface Eocd {
  at: number;
  entriesTotal: number;
  cdSize: number;
  cdOffset: number;
  comment: string;
  disk: number;
  cdDisk: number;
  /** The bytes read from the end of the source, and where they start (zip64 records often sit in them). */
  tail: Buffer;
  tailStart: number;
}

async function findEocd(source: ZipSource): Promise<Eocd> {
  const size = source.size;
  if (size < 22) {
    const head = await source.read(0, size);
    throw new ZipError(
      'corrupt-archive',
      `not a zip: ${size} bytes is too short for a zip (${describeNonZip(head)})`,
    );
  }
  const tailLen = Math.min(size, 22 + 0xffff);
  const tailStart = size - tailLen;
  const tail = await source.read(tailStart, tailLen);
  let loose: number | null = null;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail[i] !== 0x50 || tail.readUInt32LE(i) !== SIG_EOCD) continue;
    const commentLen = tail.readUInt16LE(i + 20);
    if (i + 22 + commentLen === tail.length) {
      loose = i;
      break;
    }
    // A candidate with trailing bytes after its comment: keep looking for an exact one, fall back to it.
    if (loose === null && i + 22 + commentLen < tail.length) loose = i;
  }
  if (loose === null) {
    const head = await source.read(0, Math.min(size, 512));
    throw new ZipError('corrupt-archive', `not a zip: ${describeNonZip(head)}`);
  }
  const i = loose;
  const commentLen = tail.readUInt16LE(i + 20);
  return {
    at: tailStart + i,
    tail,
    tailStart,
    disk: tail.readUInt16LE(i + 4),
    cdDisk: tail.readUInt16LE(i + 6),
    entriesTotal: tail.readUInt16LE(i + 10),
    cdSize: tail.readUInt32LE(i + 12),
    cdOffset: tail.readUInt32LE(i + 16),
    comment: tail.subarray(i + 22, i + 22 + commentLen).toString('utf8'),
  };
}

/** Read the central directory. Throws ZipError (corrupt-archive) when the archive cannot be read at all. */
export async function openZip(source: ZipSource, options: OpenZipOptions = {}): Promise<ZipDirectory> {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const eocd = await findEocd(source);
  const issues: ZipIssue[] = [];
  let { entriesTotal, cdSize, cdOffset } = eocd;
  let zip64 = false;
  /** Where the central directory must end: at the zip64 end record when there is one, else the end record. */
  let cdEnd = eocd.at;

  // Zip64: a locator right before the end record points at the zip64 end record.
  if (eocd.at >= 20) {
    // Served from the tail already read when possible: over HTTP every read is a request.
    const fromTail = async (at: number, len: number): Promise<Buffer> =>
      at >= eocd.tailStart && at + len <= eocd.tailStart + eocd.tail.length
        ? eocd.tail.subarray(at - eocd.tailStart, at - eocd.tailStart + len)
        : source.read(at, len);
    const loc = await fromTail(eocd.at - 20, 20);
    if (loc.length === 20 && loc.readUInt32LE(0) === SIG_EOCD64_LOCATOR) {
      const recAt = u64(loc, 8);
      if (!(recAt + 56 <= eocd.at - 20)) {
        throw new ZipError(
          'corrupt-archive',
          'corrupt zip: the zip64 end record lies outside the archive; re-create the zip',
        );
      }
      const rec = await fromTail(recAt, 56);
      if (rec.length < 56 || rec.readUInt32LE(0) !== SIG_EOCD64) {
        throw new ZipError(
          'corrupt-archive',
          'corrupt zip: the zip64 end record is missing or damaged; re-create the zip',
        );
      }
      zip64 = true;
      cdEnd = recAt;
      entriesTotal = u64(rec, 32);
      cdSize = u64(rec, 40);
      cdOffset = u64(rec, 48);
    }
  }
  if (eocd.disk !== 0 || eocd.cdDisk !== 0) {
    throw new ZipError(
      'corrupt-archive',
      'unsupported zip: it is one part of a split (multi-disk) archive; create a single-file zip',
    );
  }
  if (!Number.isFinite(cdOffset) || !Number.isFinite(cdSize) || cdOffset + cdSize > cdEnd) {
    throw new ZipError(
      'corrupt-archive',
      `corrupt zip: the central directory (offset ${cdOffset}, ${cdSize} bytes) lies beyond the end of the ${source.size}-byte file; the file is truncated or damaged, re-create or re-download it`,
    );
  }
  if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES) {
    throw new ZipError(
      'too-large',
      `the zip's central directory is ${cdSize} bytes (over ${MAX_CENTRAL_DIRECTORY_BYTES}); no deployable package needs that many or that long names. Package fewer files`,
    );
  }
  if (cdOffset + cdSize < cdEnd) {
    // Bytes between the directory and its end record: data appended or prepended by another tool.
    issues.push({
      code: 'corrupt-archive',
      message: `corrupt zip: ${cdEnd - cdOffset - cdSize} unexpected bytes sit between the central directory and its end record (data prepended or appended?); re-create the zip`,
    });
  }

  const entries: ZipEntry[] = [];
  // Start with the tail when it already holds the whole directory (small zips: one read in all).
  const cdInTail = cdOffset >= eocd.tailStart && cdOffset + cdSize <= eocd.tailStart + eocd.tail.length;
  let win: Buffer = cdInTail
    ? eocd.tail.subarray(cdOffset - eocd.tailStart, cdOffset - eocd.tailStart + cdSize)
    : Buffer.alloc(0);
  let winStart = cdOffset;
  const ensure = async (pos: number, n: number): Promise<Buffer | null> => {
    if (pos + n > cdOffset + cdSize) return null;
    if (pos < winStart || pos + n > winStart + win.length) {
      const len = Math.min(Math.max(n, CD_CHUNK), cdOffset + cdSize - pos);
      win = await source.read(pos, len);
      winStart = pos;
      if (win.length < n) return null;
    }
    return win;
  };

  let pos = cdOffset;
  let capped = false;
  while (pos < cdOffset + cdSize) {
    if (entries.length >= maxEntries) {
      capped = true;
      break;
    }
    let b = pos >= winStart && pos + 46 <= winStart + win.length ? win : await ensure(pos, 46);
    if (!b || b.readUInt32LE(pos - winStart) !== SIG_CENTRAL) {
      throw new ZipError(
        'corrupt-archive',
        `corrupt zip: central directory record ${entries.length + 1} is damaged; re-create the zip`,
      );
    }
    let o = pos - winStart;
    const nameLen = b.readUInt16LE(o + 28);
    const extraLen = b.readUInt16LE(o + 30);
    const commentLen = b.readUInt16LE(o + 32);
    const recLen = 46 + nameLen + extraLen + commentLen;
    b =
      pos >= winStart && pos + recLen <= winStart + win.length && pos + recLen <= cdOffset + cdSize
        ? win
        : await ensure(pos, recLen);
    if (!b) {
      throw new ZipError(
        'corrupt-archive',
        `corrupt zip: central directory record ${entries.length + 1} runs past the end of the directory; re-create the zip`,
      );
    }
    o = pos - winStart;
    const versionMadeBy = b.readUInt16LE(o + 4);
    const flagWord = b.readUInt16LE(o + 8);
    const method = b.readUInt16LE(o + 10);
    const crc = b.readUInt32LE(o + 16);
    let compressedSize = b.readUInt32LE(o + 20);
    let uncompressedSize = b.readUInt32LE(o + 24);
    const diskStart = b.readUInt16LE(o + 34);
    const externalAttributes = b.readUInt32LE(o + 38);
    let localHeaderOffset = b.readUInt32LE(o + 42);
    const nameBytes = b.subarray(o + 46, o + 46 + nameLen);
    // A view into the directory window (no copy); the directory's size is capped, so this memory is bounded.
    const rawName = nameLen > MAX_NAME_BYTES ? nameBytes.subarray(0, MAX_NAME_BYTES) : nameBytes;
    const flags: ZipEntryFlags = {
      encrypted: (flagWord & 1) !== 0,
      utf8: (flagWord & 0x800) !== 0,
      dataDescriptor: (flagWord & 8) !== 0,
      raw: flagWord,
    };
    let name = decodeName(rawName, flags.utf8);
    let entryZip64 = false;
    // Extra fields: zip64 sizes/offset (0x0001) and the Info-ZIP Unicode path (0x7075).
    let e = o + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = b.readUInt16LE(e);
      const len = b.readUInt16LE(e + 2);
      const d = e + 4;
      if (d + len > eEnd) break;
      if (id === 0x0001) {
        entryZip64 = true;
        let f = d;
        if (uncompressedSize === 0xffffffff && f + 8 <= d + len) {
          uncompressedSize = u64(b, f);
          f += 8;
        }
        if (compressedSize === 0xffffffff && f + 8 <= d + len) {
          compressedSize = u64(b, f);
          f += 8;
        }
        if (localHeaderOffset === 0xffffffff && f + 8 <= d + len) {
          localHeaderOffset = u64(b, f);
          f += 8;
        }
      } else if (id === 0x7075 && len >= 5 && !flags.utf8 && nameLen <= MAX_NAME_BYTES) {
        const nameCrc = b.readUInt32LE(d + 1);
        if (zlib.crc32(rawName) === nameCrc) name = b.subarray(d + 5, d + len).toString('utf8');
      }
      e = d + len;
    }
    const host = versionMadeBy >> 8;
    const mode = host === 3 && externalAttributes >>> 16 !== 0 ? externalAttributes >>> 16 : null;
    const isSymlink = mode !== null && (mode & 0o170000) === 0o120000;
    const isDirectory =
      !isSymlink &&
      (name.endsWith('/') ||
        (mode !== null && (mode & 0o170000) === 0o040000) ||
        ((host === 0 || host === 11 || host === 14) && (externalAttributes & 0x10) !== 0));
    const entry: ZipEntry = {
      index: entries.length,
      name,
      rawName,
      nameLength: nameLen,
      nameTruncated: nameLen > MAX_NAME_BYTES,
      method,
      compressedSize,
      uncompressedSize,
      crc32: crc,
      localHeaderOffset,
      flags,
      versionMadeBy,
      externalAttributes,
      mode,
      isDirectory,
      isSymlink,
      size: isDirectory ? 0 : uncompressedSize,
      encrypted: flags.encrypted,
      zip64: entryZip64,
    };
    entries.push(entry);
    const where = (): string => printable(name);
    if (diskStart !== 0 && diskStart !== 0xffff) {
      issues.push({
        code: 'corrupt-archive',
        message: `corrupt zip: '${where()}' claims to start on another disk of a split archive; create a single-file zip`,
        path: where(),
      });
    }
    if (
      !Number.isFinite(compressedSize) ||
      !Number.isFinite(uncompressedSize) ||
      !Number.isFinite(localHeaderOffset)
    ) {
      issues.push({
        code: 'corrupt-archive',
        message: `corrupt zip: '${where()}' declares impossible sizes or offsets; re-create the zip`,
        path: where(),
      });
    }
    pos += recLen;
  }

  if (capped) {
    issues.push({
      code: 'too-large',
      message: `the zip holds more than ${maxEntries} entries (it declares ${entriesTotal}); runpack stops reading there. Package fewer files (leave out caches, tests and dev dependencies)`,
    });
  } else if (entries.length !== entriesTotal && !(!zip64 && entriesTotal === entries.length % 0x10000)) {
    issues.push({
      code: 'corrupt-archive',
      message: `corrupt zip: the end record declares ${entriesTotal} entries but the central directory holds ${entries.length}; re-create the zip`,
    });
  }

  checkLayout(entries, cdOffset, issues);
  return {
    source,
    entries,
    declaredEntries: entriesTotal,
    comment: eocd.comment,
    zip64,
    centralDirectoryOffset: cdOffset,
    centralDirectorySize: cdSize,
    issues,
  };
}

/** Checks that need only the central directory: data beyond the file, overlapping entries, impossible ratios, methods. */
function checkLayout(entries: ZipEntry[], cdOffset: number, issues: ZipIssue[]): void {
  const bad = (e: ZipEntry, why: string): void => {
    const where = printable(e.name);
    issues.push({ code: 'corrupt-archive', message: `corrupt zip: '${where}' ${why}`, path: where });
  };
  for (const e of entries) {
    if (!Number.isFinite(e.localHeaderOffset) || !Number.isFinite(e.compressedSize)) continue;
    const minEnd = e.localHeaderOffset + 30 + e.nameLength + e.compressedSize;
    if (minEnd > cdOffset) {
      bad(
        e,
        `declares ${e.compressedSize} bytes of data at offset ${e.localHeaderOffset}, beyond the archive's data (truncated or forged); re-create the zip`,
      );
      continue;
    }
    if (e.flags.encrypted) continue;
    if (e.method === 0 && e.compressedSize !== e.uncompressedSize) {
      bad(
        e,
        `is stored uncompressed but declares ${e.compressedSize} stored and ${e.uncompressedSize} real bytes; re-create the zip`,
      );
    } else if (
      e.method === 8 &&
      e.uncompressedSize > e.compressedSize * DEFLATE_MAX_RATIO + DEFLATE_RATIO_SLACK
    ) {
      const ratio = Math.round(e.uncompressedSize / Math.max(1, e.compressedSize));
      bad(
        e,
        `declares ${e.uncompressedSize} bytes from ${e.compressedSize} compressed (${ratio}:1, more than deflate can produce: a zip bomb or a forged size); re-create the zip`,
      );
    } else if (e.method === 8 && e.compressedSize > e.uncompressedSize * MAX_DEFLATE_GROWTH + 1024) {
      bad(
        e,
        `declares ${e.compressedSize} compressed bytes for ${e.uncompressedSize} bytes of content, more than deflate ever adds; re-create the zip`,
      );
    } else if (e.method !== 0 && e.method !== 8) {
      const m = METHOD_NAMES[e.method] ?? `method ${e.method}`;
      bad(
        e,
        `is compressed with ${m}; the platform's zip mount reads only stored and deflate entries. Re-create the zip with deflate`,
      );
    }
  }
  const sorted = entries
    .filter((e) => Number.isFinite(e.localHeaderOffset) && Number.isFinite(e.compressedSize))
    .sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    const prevEnd = prev.localHeaderOffset + 30 + prev.nameLength + prev.compressedSize;
    if (prevEnd > cur.localHeaderOffset) {
      bad(
        cur,
        `overlaps the data of '${printable(prev.name)}' (overlapping entries are a zip-bomb technique); re-create the zip`,
      );
    }
  }
}

interface LocalHeader {
  dataStart: number;
  problem: string | null;
}

function parseLocal(buf: Buffer, at: number, e: ZipEntry): LocalHeader | 'short' {
  if (at + 30 > buf.length) return 'short';
  if (buf.readUInt32LE(at) !== SIG_LOCAL)
    return { dataStart: 0, problem: 'has no local header where the central directory points' };
  const flags = buf.readUInt16LE(at + 6);
  const method = buf.readUInt16LE(at + 8);
  const crc = buf.readUInt32LE(at + 14);
  const csize = buf.readUInt32LE(at + 18);
  const usize = buf.readUInt32LE(at + 22);
  const nameLen = buf.readUInt16LE(at + 26);
  const extraLen = buf.readUInt16LE(at + 28);
  const dataStart = e.localHeaderOffset + 30 + nameLen + extraLen;
  if (at + 30 + nameLen > buf.length) return 'short';
  const localName = buf.subarray(at + 30, at + 30 + Math.min(nameLen, MAX_NAME_BYTES));
  const mismatch: string[] = [];
  if (nameLen !== e.nameLength || !localName.equals(e.rawName)) mismatch.push('name');
  if (method !== e.method) mismatch.push('compression method');
  if ((flags & 1) !== (e.flags.raw & 1)) mismatch.push('encryption flag');
  if (!(flags & 8) && !e.flags.encrypted) {
    if (crc !== e.crc32) mismatch.push('CRC');
    if (csize !== 0xffffffff && csize !== e.compressedSize) mismatch.push('compressed size');
    if (usize !== 0xffffffff && usize !== e.uncompressedSize) mismatch.push('size');
  }
  return {
    dataStart,
    problem: mismatch.length
      ? `has a local header that disagrees with the central directory (${mismatch.join(', ')})`
      : null,
  };
}

export interface ReadEntryOptions {
  /** Refuse entries whose declared size exceeds this, and never inflate more than it. */
  maxBytes?: number;
}

/** Read one entry fully: checks its local header, inflates at most its declared size and checks its CRC. */
export async function readEntry(
  dir: ZipDirectory,
  entry: ZipEntry,
  options: ReadEntryOptions = {},
): Promise<Buffer> {
  const where = printable(entry.name);
  const fail = (why: string): never => {
    throw new ZipError('corrupt-archive', `corrupt zip: '${where}' ${why}; re-create the zip`, where);
  };
  if (entry.flags.encrypted) {
    throw new ZipError(
      'encrypted-entry',
      `'${where}' is encrypted; the platform cannot read it. Re-create the zip without a password`,
      where,
    );
  }
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  if (entry.uncompressedSize > maxBytes) {
    throw new ZipError(
      'too-large',
      `'${where}' is ${entry.uncompressedSize} bytes, more than the ${maxBytes} allowed here`,
      where,
    );
  }
  if (entry.method !== 0 && entry.method !== 8) fail(`uses compression method ${entry.method}`);
  // Deflate needs at most 9 bits a byte plus block headers; more compressed bytes than that are a forgery.
  if (entry.compressedSize > entry.uncompressedSize * MAX_DEFLATE_GROWTH + 1024) {
    fail(`declares ${entry.compressedSize} compressed bytes for ${entry.uncompressedSize} bytes of content`);
  }
  if (entry.localHeaderOffset + 30 + entry.nameLength + entry.compressedSize > dir.centralDirectoryOffset) {
    fail('declares data beyond the end of the archive');
  }
  const head = await dir.source.read(entry.localHeaderOffset, 30 + entry.nameLength + 1024);
  const lh = parseLocal(head, 0, entry);
  if (lh === 'short') return fail('is truncated');
  if (lh.problem) fail(lh.problem);
  if (lh.dataStart + entry.compressedSize > dir.centralDirectoryOffset)
    fail('declares data beyond the end of the archive');
  const data = await dir.source.read(lh.dataStart, entry.compressedSize);
  if (data.length !== entry.compressedSize) fail('is truncated');
  let out: Buffer;
  if (entry.method === 0) {
    out = data;
  } else {
    try {
      out = await inflateRawAsync(data, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
    } catch (err) {
      const code = (err as { code?: string }).code;
      return fail(
        code === 'ERR_BUFFER_TOO_LARGE'
          ? `inflates to more than its declared ${entry.uncompressedSize} bytes`
          : 'has damaged compressed data',
      );
    }
  }
  if (out.length !== entry.uncompressedSize)
    fail(`holds ${out.length} bytes, not the ${entry.uncompressedSize} it declares`);
  if (zlib.crc32(out) !== entry.crc32) fail('fails its CRC check (the data is damaged)');
  return out;
}

export interface VerifyOptions {
  /** Inflate every entry and check its CRC (default true). Local headers are always cross-checked. */
  verifyData?: boolean;
  /** Entries inflated at once (default 8). */
  concurrency?: number;
  /** Stop after this many issues (default 100). */
  maxIssues?: number;
  /**
   * Worker threads for the CRC pass over a local file: default as many as cores (at most 4) when there
   * is at least 16 MiB to check; 0 or 1 keeps everything on this thread.
   */
  workers?: number;
  /** Workers started earlier (startVerifiers), used instead of starting new ones. */
  verifiers?: Verifiers | null;
}

/** Entries larger than this (compressed or declared) are inflated as a stream in chunks. */
const STREAM_THRESHOLD = 4 * 1024 * 1024;
/** Entries up to this size (compressed) are inflated synchronously, in place. */
const SYNC_THRESHOLD = 256 * 1024;
/** Bytes read from the source at once when walking the archive's data. */
const WINDOW = 8 * 1024 * 1024;
/** Gap between local headers above which reading the bytes in between costs more than another read. */
const HEADER_GAP = 256 * 1024;

/**
 * Cross-check every local header against the central directory and (unless verifyData is false) inflate
 * every entry, checking its size and CRC. Returns the problems found, in archive order; never throws for
 * damaged entries.
 */
export async function verifyEntries(dir: ZipDirectory, options: VerifyOptions = {}): Promise<ZipIssue[]> {
  const verifyData = options.verifyData ?? true;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const maxIssues = options.maxIssues ?? 100;
  const found = new Map<number, ZipIssue>();
  const report = (e: ZipEntry, why: string): void => {
    if (found.has(e.index)) return;
    const where = printable(e.name);
    found.set(e.index, {
      code: 'corrupt-archive',
      message: `corrupt zip: '${where}' ${why}; re-create the zip`,
      path: where,
    });
  };
  const cdOffset = dir.centralDirectoryOffset;
  const sorted = dir.entries
    .filter(
      (e) =>
        Number.isFinite(e.localHeaderOffset) &&
        Number.isFinite(e.compressedSize) &&
        e.localHeaderOffset + 30 + e.nameLength + e.compressedSize <= cdOffset,
    )
    .sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);

  const inflight = new Set<Promise<void>>();
  const schedule = async (task: () => Promise<void>): Promise<void> => {
    while (inflight.size >= concurrency) await Promise.race(inflight);
    const p = task().finally(() => inflight.delete(p));
    inflight.add(p);
  };
  const judge = (e: ZipEntry, result: CrcResult): void => {
    if (result.error) report(e, result.error);
    else if (result.size !== e.uncompressedSize)
      report(e, `holds ${result.size} bytes, not the ${e.uncompressedSize} it declares`);
    else if (result.crc !== e.crc32) report(e, 'fails its CRC check (the data is damaged)');
  };

  const nextOf = new Map<ZipEntry, ZipEntry>();
  for (let k = 0; k + 1 < sorted.length; k++) nextOf.set(sorted[k], sorted[k + 1]);

  /** Check `list` (in offset order) on this thread. */
  const serial = async (list: ZipEntry[]): Promise<void> => {
    // Batches: consecutive entries whose headers (or, when verifying data, whole spans) fit in one read.
    const batches: { i: number; j: number; start: number; end: number }[] = [];
    const spanEnd = (k: number): number => (k + 1 < list.length ? list[k + 1].localHeaderOffset : cdOffset);
    const headEnd = (k: number): number => list[k].localHeaderOffset + 30 + list[k].nameLength + 1024;
    for (let i = 0; i < list.length;) {
      const start = list[i].localHeaderOffset;
      let j = i;
      if (verifyData && !isSmall(list[i])) {
        // Streamed separately: only its header is needed here.
        batches.push({ i, j, start, end: Math.min(cdOffset, headEnd(i)) });
        i++;
        continue;
      }
      if (verifyData) {
        while (j + 1 < list.length && isSmall(list[j + 1]) && spanEnd(j + 1) - start <= WINDOW) j++;
      } else {
        while (
          j + 1 < list.length &&
          list[j + 1].localHeaderOffset - headEnd(j) <= HEADER_GAP &&
          headEnd(j + 1) - start <= WINDOW
        )
          j++;
      }
      const end = verifyData
        ? Math.min(spanEnd(j), start + Math.max(WINDOW, 30 + list[i].nameLength + 1024))
        : Math.min(cdOffset, headEnd(j));
      batches.push({ i, j, start, end });
      i = j + 1;
    }

    // Read one batch ahead while the current one is checked.
    const readBatch = (b: (typeof batches)[number]): Promise<Buffer> =>
      dir.source.read(b.start, b.end - b.start);
    let next = batches.length > 0 ? readBatch(batches[0]) : null;
    for (let n = 0; n < batches.length && found.size < maxIssues; n++) {
      const { i, j, start } = batches[n];
      const buf = await next!;
      next = n + 1 < batches.length ? readBatch(batches[n + 1]) : null;
      for (let k = i; k <= j; k++) {
        const e = list[k];
        let lh = parseLocal(buf, e.localHeaderOffset - start, e);
        if (lh === 'short') {
          const head = await dir.source.read(e.localHeaderOffset, 30 + e.nameLength + 1024);
          lh = parseLocal(head, 0, e);
          if (lh === 'short') {
            report(e, 'is truncated');
            continue;
          }
        }
        if (lh.problem) {
          report(e, lh.problem);
          continue;
        }
        const dataEnd = lh.dataStart + e.compressedSize;
        if (dataEnd > cdOffset) {
          report(e, 'declares data beyond the end of the archive');
          continue;
        }
        const after = nextOf.get(e);
        if (after && dataEnd > after.localHeaderOffset) {
          report(
            after,
            `overlaps the data of '${printable(e.name)}' (overlapping entries are a zip-bomb technique)`,
          );
        }
        if (!verifyData || e.flags.encrypted || (e.method !== 0 && e.method !== 8)) continue;
        const dataAt = lh.dataStart - start;
        const inBuffer = dataAt + e.compressedSize <= buf.length;
        if (inBuffer && e.compressedSize <= SYNC_THRESHOLD && e.uncompressedSize <= SYNC_THRESHOLD * 4) {
          // Small entries: inflating in place costs less than handing each one to the thread pool.
          judge(e, crcOfSync(e, buf.subarray(dataAt, dataAt + e.compressedSize)));
        } else if (
          inBuffer &&
          e.compressedSize <= STREAM_THRESHOLD &&
          e.uncompressedSize <= STREAM_THRESHOLD
        ) {
          const data = buf.subarray(dataAt, dataAt + e.compressedSize);
          await schedule(async () => judge(e, await crcOf(e, data)));
        } else {
          await schedule(async () =>
            judge(e, await crcOf(e, readChunks(dir.source, lh.dataStart, e.compressedSize))),
          );
        }
      }
    }
    await next?.catch(() => undefined);
  };

  const workers =
    !verifyData || !dir.source.path
      ? 0
      : (options.workers ?? (options.verifiers?.size || planWorkers(dir, sorted)));
  if (workers > 1) {
    // Small entries go to worker threads in contiguous shares; big ones are streamed here meanwhile.
    const small = sorted.filter(isSmall);
    const big = sorted.filter((e) => !isSmall(e));
    const results = await Promise.all([
      ...splitByBytes(small, workers).map((share) =>
        verifyInWorker(dir, share, nextOf, options.verifiers?.take()),
      ),
      serial(big).then(() => []),
    ]);
    for (const list of results) for (const [e, why] of list) report(e, why);
  } else {
    await serial(sorted);
  }
  await Promise.all(inflight);
  return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, issue]) => issue);
}

async function* readChunks(source: ZipSource, start: number, length: number): AsyncGenerator<Buffer> {
  const CHUNK = 1024 * 1024;
  for (let done = 0; done < length;) {
    const b = await source.read(start + done, Math.min(CHUNK, length - done));
    if (b.length === 0) return;
    done += b.length;
    yield b;
  }
}

interface CrcResult {
  crc: number;
  size: number;
  error?: string;
}

/** CRC and size of an entry's content, inflating at most one byte past its declared size. */
function crcOfSync(e: ZipEntry, input: Buffer): CrcResult {
  if (e.method === 0) return { crc: zlib.crc32(input), size: input.length };
  try {
    const out = zlib.inflateRawSync(input, { maxOutputLength: e.uncompressedSize + 1 });
    return { crc: zlib.crc32(out), size: out.length };
  } catch (err) {
    return { crc: 0, size: 0, error: inflateError(e, err) };
  }
}

function inflateError(e: ZipEntry, err: unknown): string {
  return (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
    ? `inflates to more than its declared ${e.uncompressedSize} bytes`
    : 'has damaged compressed data';
}

async function crcOf(e: ZipEntry, input: AsyncIterable<Buffer> | Buffer): Promise<CrcResult> {
  if (Buffer.isBuffer(input)) {
    if (e.method === 0) return { crc: zlib.crc32(input), size: input.length };
    try {
      const out = await inflateRawAsync(input, { maxOutputLength: e.uncompressedSize + 1 });
      return { crc: zlib.crc32(out), size: out.length };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE')
        return { crc: 0, size: 0, error: `inflates to more than its declared ${e.uncompressedSize} bytes` };
      return { crc: 0, size: 0, error: 'has damaged compressed data' };
    }
  }
  let crc = 0;
  let size = 0;
  if (e.method === 0) {
    for await (const b of input) {
      crc = zlib.crc32(b, crc);
      size += b.length;
    }
    return { crc, size };
  }
  const inflater = zlib.createInflateRaw();
  const feed = Readable.from(input);
  feed.on('error', (err) => inflater.destroy(err));
  feed.pipe(inflater);
  try {
    for await (const chunk of inflater as AsyncIterable<Buffer>) {
      crc = zlib.crc32(chunk, crc);
      size += chunk.length;
      if (size > e.uncompressedSize) {
        feed.unpipe(inflater);
        feed.destroy();
        inflater.destroy();
        return { crc, size, error: `inflates to more than its declared ${e.uncompressedSize} bytes` };
      }
    }
  } catch {
    feed.destroy();
    return { crc, size, error: 'has damaged compressed data' };
  }
  return { crc, size };
}

// ---------------------------------------------------------------------------------------------------------
// Worker threads for the CRC pass over local files

/** Entries small enough for a worker to check in memory; bigger ones are streamed on the main thread. */
const isSmall = (e: ZipEntry): boolean =>
  e.compressedSize <= STREAM_THRESHOLD && e.uncompressedSize <= STREAM_THRESHOLD;
/** Below this much compressed data, starting workers costs more than it saves. */
const PARALLEL_MIN_BYTES = 16 * 1024 * 1024;
const MAX_WORKERS = 4;
const FIELDS = 10;

/** How many worker threads to use for the CRC pass (0 or 1: none). */
function planWorkers(dir: ZipDirectory, sorted: ZipEntry[]): number {
  if (!dir.source.path) return 0;
  let bytes = 0;
  for (const e of sorted) if (isSmall(e)) bytes += e.compressedSize;
  return workersFor(bytes);
}

/** Threads for a CRC pass over this many compressed bytes: one per 16 MiB, at most the cores and 4; 0 below that. */
function workersFor(bytes: number): number {
  if (bytes < PARALLEL_MIN_BYTES) return 0;
  return Math.min(availableParallelism(), MAX_WORKERS, Math.ceil(bytes / PARALLEL_MIN_BYTES));
}

/** Contiguous shares of about equal compressed size, so each worker reads its own part of the file. */
function splitByBytes(list: ZipEntry[], parts: number): ZipEntry[][] {
  const total = list.reduce((s, e) => s + e.compressedSize + 30 + e.nameLength, 0);
  const out: ZipEntry[][] = [];
  let cur: ZipEntry[] = [];
  let acc = 0;
  for (const e of list) {
    cur.push(e);
    acc += e.compressedSize + 30 + e.nameLength;
    if (acc >= (total * (out.length + 1)) / parts && out.length < parts - 1) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * Worker threads for a CRC pass, started before the central directory is read so that their start-up overlaps
 * it. Each one checks one share (verifyEntries takes them); close() stops those not taken.
 */
export class Verifiers {
  private readonly idle: Worker[];
  constructor(count: number) {
    this.idle = Array.from({ length: count }, () => {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      // One that fails before it is taken is never handed out (the pass starts a thread of its own instead).
      const drop = () => {
        const at = this.idle.indexOf(w);
        if (at >= 0) this.idle.splice(at, 1);
      };
      w.once('error', drop);
      w.once('exit', drop);
      return w;
    });
  }
  get size(): number {
    return this.idle.length;
  }
  take(): Worker | undefined {
    return this.idle.pop();
  }
  async close(): Promise<void> {
    await Promise.all(this.idle.splice(0).map((w) => w.terminate()));
  }
}

/**
 * Verification workers for a zip file of `zipBytes`, started now (as many as planWorkers would choose for that
 * much data), or null when the file is too small for threads to pay.
 */
export function startVerifiers(zipBytes: number): Verifiers | null {
  const n = workersFor(zipBytes);
  return n > 1 ? new Verifiers(n) : null;
}

function verifyInWorker(
  dir: ZipDirectory,
  share: ZipEntry[],
  nextOf: Map<ZipEntry, ZipEntry>,
  started?: Worker,
): Promise<[ZipEntry, string][]> {
  const fields = new Float64Array(share.length * FIELDS);
  const names = Buffer.concat(share.map((e) => e.rawName));
  share.forEach((e, k) => {
    const f = k * FIELDS;
    fields[f] = k;
    fields[f + 1] = e.localHeaderOffset;
    fields[f + 2] = e.nameLength;
    fields[f + 3] = e.compressedSize;
    fields[f + 4] = e.uncompressedSize;
    fields[f + 5] = e.crc32;
    fields[f + 6] = e.method;
    fields[f + 7] = e.flags.raw;
    fields[f + 8] = nextOf.get(e)?.localHeaderOffset ?? -1;
    fields[f + 9] = e.rawName.length;
  });
  return new Promise((resolve, reject) => {
    const worker = started ?? new Worker(WORKER_SOURCE, { eval: true });
    worker.postMessage({
      file: dir.source.path,
      cdOffset: dir.centralDirectoryOffset,
      fields,
      names,
      window: WINDOW,
    });
    let result: [ZipEntry, string][] | null = null;
    worker.once('message', (found: [number, string][]) => {
      result = found.map(([k, why]) => [share[k], why]);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`zip verification worker stopped with code ${code}`));
    });
  });
}

/**
 * The worker: plain JavaScript (it must survive bundling), the same checks as the main thread's
 * parseLocal + crcOfSync, reading its share of the file in windows with positioned reads.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const zlib = require('node:zlib');
const F = ${FIELDS};
// Started early and idle until its share arrives; checks it, answers, and ends.
parentPort.once('message', ({ file, cdOffset, fields, names, window: WINDOW }) => {
const fd = fs.openSync(file, 'r');
let buf = Buffer.allocUnsafe(WINDOW);
let bufStart = 0;
let bufLen = 0;
function view(pos, len) {
  if (pos >= bufStart && pos + len <= bufStart + bufLen) return buf.subarray(pos - bufStart, pos - bufStart + len);
  const want = Math.min(Math.max(len, WINDOW), cdOffset - pos);
  if (want > buf.length) buf = Buffer.allocUnsafe(want);
  bufLen = fs.readSync(fd, buf, 0, want, pos);
  bufStart = pos;
  return len <= bufLen ? buf.subarray(0, len) : null;
}
const found = [];
let namePos = 0;
for (let k = 0; k * F < fields.length && found.length < 100; k++) {
  const f = k * F;
  const off = fields[f + 1], nameLen = fields[f + 2], cs = fields[f + 3], us = fields[f + 4];
  const crc = fields[f + 5], method = fields[f + 6], flags = fields[f + 7], next = fields[f + 8];
  const rawName = names.subarray(namePos, namePos + fields[f + 9]);
  namePos += fields[f + 9];
  const h = view(off, Math.min(30 + nameLen + 1024, cdOffset - off));
  if (!h || h.length < 30) { found.push([k, 'is truncated']); continue; }
  if (h.readUInt32LE(0) !== 0x04034b50) { found.push([k, 'has no local header where the central directory points']); continue; }
  const lflags = h.readUInt16LE(6), lmethod = h.readUInt16LE(8), lcrc = h.readUInt32LE(14);
  const lcs = h.readUInt32LE(18), lus = h.readUInt32LE(22), lnameLen = h.readUInt16LE(26), lextra = h.readUInt16LE(28);
  if (30 + lnameLen > h.length) { found.push([k, 'is truncated']); continue; }
  const mismatch = [];
  if (lnameLen !== nameLen || !h.subarray(30, 30 + Math.min(lnameLen, rawName.length)).equals(rawName)) mismatch.push('name');
  if (lmethod !== method) mismatch.push('compression method');
  if ((lflags & 1) !== (flags & 1)) mismatch.push('encryption flag');
  if (!(lflags & 8) && !(flags & 1)) {
    if (lcrc !== crc) mismatch.push('CRC');
    if (lcs !== 0xffffffff && lcs !== cs) mismatch.push('compressed size');
    if (lus !== 0xffffffff && lus !== us) mismatch.push('size');
  }
  if (mismatch.length) { found.push([k, 'has a local header that disagrees with the central directory (' + mismatch.join(', ') + ')']); continue; }
  const dataStart = off + 30 + lnameLen + lextra;
  if (dataStart + cs > cdOffset) { found.push([k, 'declares data beyond the end of the archive']); continue; }
  if (next >= 0 && dataStart + cs > next) { found.push([k, 'runs into the next entry (overlapping entries are a zip-bomb technique)']); }
  if ((flags & 1) || (method !== 0 && method !== 8)) continue;
  const data = view(dataStart, cs);
  if (!data) { found.push([k, 'is truncated']); continue; }
  let out;
  if (method === 0) out = data;
  else {
    // One output buffer of the declared size (+1 to catch more): no growing and joining of 16 KiB pieces.
    try { out = zlib.inflateRawSync(data, { maxOutputLength: us + 1, chunkSize: Math.max(64, Math.min(us + 1, 64 << 20)) }); }
    catch (err) {
      found.push([k, err && err.code === 'ERR_BUFFER_TOO_LARGE' ? 'inflates to more than its declared ' + us + ' bytes' : 'has damaged compressed data']);
      continue;
    }
  }
  if (out.length !== us) found.push([k, 'holds ' + out.length + ' bytes, not the ' + us + ' it declares']);
  else if (zlib.crc32(out) !== crc) found.push([k, 'fails its CRC check (the data is damaged)']);
}
fs.closeSync(fd);
parentPort.postMessage(found);
parentPort.close();
});
`;
