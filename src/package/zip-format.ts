/**
 * Byte layout of the zip records runpack writes (PKWARE APPNOTE 6.3.x): local file headers, central directory
 * headers, zip64 records and the end of central directory. Pure functions: every field comes from the arguments,
 * nothing from the clock, the host or the local time zone.
 */
import zlib from 'node:zlib';

export const METHOD_STORED = 0;
export const METHOD_DEFLATE = 8;

/** General purpose flag bit 11: the name is UTF-8. */
export const FLAG_UTF8 = 0x0800;
/** Version made by: high byte 3 = Unix (so the external attributes carry the mode), low byte 45 = spec 4.5. */
export const VERSION_MADE_BY = (3 << 8) | 45;
const VERSION_NEEDED_DEFAULT = 20;
const VERSION_NEEDED_ZIP64 = 45;

const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;

const EXTRA_ZIP64 = 0x0001;
const EXTRA_EXT_TIME = 0x5455;

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const DOS_DIRECTORY = 0x10;

/** MS-DOS date and time of a Unix time, taken in UTC and clamped to the DOS range (1980-01-01 .. 2107-12-31). */
let lastDos: { epoch: number; value: { date: number; time: number } } | null = null;

export function dosDateTime(epochSeconds: number): { date: number; time: number } {
  // Every entry of an archive has the same time: compute it once.
  if (lastDos?.epoch === epochSeconds) return lastDos.value;
  const value = computeDos(epochSeconds);
  lastDos = { epoch: epochSeconds, value };
  return value;
}

function computeDos(epochSeconds: number): { date: number; time: number } {
  const min = Date.UTC(1980, 0, 1) / 1000;
  const max = Date.UTC(2107, 11, 31, 23, 59, 58) / 1000;
  const d = new Date(Math.min(Math.max(epochSeconds, min), max) * 1000);
  const date = ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1);
  return { date, time };
}

/** What every header of one entry is built from. */
export interface EntryHeader {
  /** Archive name, UTF-8, `/` separators, directories end in `/`. */
  name: Buffer;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Offset of the local header from the start of the file. */
  localOffset: number;
  /** Unix permission bits (e.g. 0o644). */
  mode: number;
  directory: boolean;
  /** Unix time for the extended timestamp field and the DOS fields. */
  mtime: number;
}

/** Whether an entry of this size needs zip64 fields in its local header. Compressed size never exceeds it. */
export function needsZip64Local(uncompressedSize: number): boolean {
  return uncompressedSize >= U32_MAX;
}

/** Length in bytes of the local header written for this name and size (fixed before the data is known). */
export function localHeaderLength(nameLength: number, uncompressedSize: number): number {
  return 30 + nameLength + 9 + (needsZip64Local(uncompressedSize) ? 20 : 0);
}

function extTime(mtime: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b.writeUInt16LE(EXTRA_EXT_TIME, 0);
  b.writeUInt16LE(5, 2);
  b.writeUInt8(1, 4); // flags: modification time present
  b.writeUInt32LE(clampU32(mtime), 5);
  return b;
}

function clampU32(n: number): number {
  return Math.min(Math.max(Math.floor(n), 0), U32_MAX);
}

export function localHeader(e: EntryHeader): Buffer {
  const zip64 = needsZip64Local(e.uncompressedSize);
  const ext = extTime(e.mtime);
  const extraLen = ext.length + (zip64 ? 20 : 0);
  // allocUnsafe takes small buffers from Node's shared pool (no allocation per entry); every byte is written below.
  const b = Buffer.allocUnsafe(30 + e.name.length + extraLen);
  const { date, time } = dosDateTime(e.mtime);
  b.writeUInt32LE(SIG_LOCAL, 0);
  b.writeUInt16LE(zip64 ? VERSION_NEEDED_ZIP64 : VERSION_NEEDED_DEFAULT, 4);
  b.writeUInt16LE(FLAG_UTF8, 6);
  b.writeUInt16LE(e.method, 8);
  b.writeUInt16LE(time, 10);
  b.writeUInt16LE(date, 12);
  b.writeUInt32LE(e.crc32 >>> 0, 14);
  b.writeUInt32LE(zip64 ? U32_MAX : e.compressedSize, 18);
  b.writeUInt32LE(zip64 ? U32_MAX : e.uncompressedSize, 22);
  b.writeUInt16LE(e.name.length, 26);
  b.writeUInt16LE(extraLen, 28);
  e.name.copy(b, 30);
  let p = 30 + e.name.length;
  ext.copy(b, p);
  p += ext.length;
  if (zip64) {
    b.writeUInt16LE(EXTRA_ZIP64, p);
    b.writeUInt16LE(16, p + 2);
    b.writeBigUInt64LE(BigInt(e.uncompressedSize), p + 4);
    b.writeBigUInt64LE(BigInt(e.compressedSize), p + 12);
  }
  return b;
}

export function centralHeader(e: EntryHeader): Buffer {
  const big = [e.uncompressedSize, e.compressedSize, e.localOffset].map((n) => n >= U32_MAX);
  const z64Fields = big.filter(Boolean).length;
  const ext = Buffer.allocUnsafe(9);
  ext.writeUInt16LE(EXTRA_EXT_TIME, 0);
  ext.writeUInt16LE(5, 2);
  ext.writeUInt8(1, 4);
  ext.writeUInt32LE(clampU32(e.mtime), 5);
  const extraLen = ext.length + (z64Fields ? 4 + 8 * z64Fields : 0);
  const b = Buffer.allocUnsafe(46 + e.name.length + extraLen);
  const { date, time } = dosDateTime(e.mtime);
  const mode = (e.directory ? S_IFDIR : S_IFREG) | (e.mode & 0o7777);
  b.writeUInt32LE(SIG_CENTRAL, 0);
  b.writeUInt16LE(VERSION_MADE_BY, 4);
  b.writeUInt16LE(z64Fields ? VERSION_NEEDED_ZIP64 : VERSION_NEEDED_DEFAULT, 6);
  b.writeUInt16LE(FLAG_UTF8, 8);
  b.writeUInt16LE(e.method, 10);
  b.writeUInt16LE(time, 12);
  b.writeUInt16LE(date, 14);
  b.writeUInt32LE(e.crc32 >>> 0, 16);
  b.writeUInt32LE(big[1] ? U32_MAX : e.compressedSize, 20);
  b.writeUInt32LE(big[0] ? U32_MAX : e.uncompressedSize, 24);
  b.writeUInt16LE(e.name.length, 28);
  b.writeUInt16LE(extraLen, 30);
  b.writeUInt16LE(0, 32); // comment length
  b.writeUInt16LE(0, 34); // disk number start
  b.writeUInt16LE(0, 36); // internal attributes
  b.writeUInt32LE(((mode << 16) | (e.directory ? DOS_DIRECTORY : 0)) >>> 0, 38);
  b.writeUInt32LE(big[2] ? U32_MAX : e.localOffset, 42);
  e.name.copy(b, 46);
  let p = 46 + e.name.length;
  ext.copy(b, p);
  p += ext.length;
  if (z64Fields) {
    b.writeUInt16LE(EXTRA_ZIP64, p);
    b.writeUInt16LE(8 * z64Fields, p + 2);
    p += 4;
    // Order fixed by APPNOTE 4.5.3: original size, compressed size, local header offset; only those that overflow.
    for (const [i, v] of [e.uncompressedSize, e.compressedSize, e.localOffset].entries()) {
      if (!big[i]) continue;
      b.writeBigUInt64LE(BigInt(v), p);
      p += 8;
    }
  }
  return b;
}

/**
 * The records after the central directory: zip64 end record and locator when the entry count or any offset or size
 * overflows the classic fields, then the classic end record (with 0xFFFF/0xFFFFFFFF markers where zip64 took over).
 */
export function endRecords(entries: number, cdOffset: number, cdSize: number): Buffer {
  const zip64 = entries >= U16_MAX || cdOffset >= U32_MAX || cdSize >= U32_MAX;
  const parts: Buffer[] = [];
  if (zip64) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(SIG_ZIP64_EOCD, 0);
    z.writeBigUInt64LE(44n, 4); // size of the remaining record
    z.writeUInt16LE(VERSION_MADE_BY, 12);
    z.writeUInt16LE(VERSION_NEEDED_ZIP64, 14);
    z.writeUInt32LE(0, 16); // this disk
    z.writeUInt32LE(0, 20); // disk with the central directory
    z.writeBigUInt64LE(BigInt(entries), 24);
    z.writeBigUInt64LE(BigInt(entries), 32);
    z.writeBigUInt64LE(BigInt(cdSize), 40);
    z.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(SIG_ZIP64_LOCATOR, 0);
    loc.writeUInt32LE(0, 4);
    loc.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
    loc.writeUInt32LE(1, 16); // total disks
    parts.push(z, loc);
  }
  const e = Buffer.alloc(22);
  e.writeUInt32LE(SIG_EOCD, 0);
  e.writeUInt16LE(0, 4);
  e.writeUInt16LE(0, 6);
  e.writeUInt16LE(zip64 ? U16_MAX : entries, 8);
  e.writeUInt16LE(zip64 ? U16_MAX : entries, 10);
  e.writeUInt32LE(zip64 ? U32_MAX : cdSize, 12);
  e.writeUInt32LE(zip64 ? U32_MAX : cdOffset, 16);
  e.writeUInt16LE(0, 20);
  parts.push(e);
  return Buffer.concat(parts);
}

/**
 * CRC-32 of the concatenation A‖B from crc(A), crc(B) and len(B) (zlib's crc32_combine), so chunks of one file
 * compressed on different threads give the file's CRC without a second pass.
 */
export function crc32Combine(crcA: number, crcB: number, lenB: number): number {
  if (lenB <= 0) return crcA >>> 0;
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  odd[0] = 0xedb88320;
  let row = 1;
  for (let n = 1; n < 32; n++) {
    odd[n] = row;
    row <<= 1;
  }
  gf2Square(even, odd);
  gf2Square(odd, even);
  let crc1 = crcA >>> 0;
  let len = lenB;
  do {
    gf2Square(even, odd);
    if (len % 2) crc1 = gf2Times(even, crc1);
    len = Math.floor(len / 2);
    if (len === 0) break;
    gf2Square(odd, even);
    if (len % 2) crc1 = gf2Times(odd, crc1);
    len = Math.floor(len / 2);
  } while (len !== 0);
  return (crc1 ^ crcB) >>> 0;
}

function gf2Times(mat: Uint32Array, vec: number): number {
  let sum = 0;
  let i = 0;
  let v = vec >>> 0;
  while (v) {
    if (v & 1) sum ^= mat[i];
    v >>>= 1;
    i++;
  }
  return sum >>> 0;
}

function gf2Square(square: Uint32Array, mat: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2Times(mat, mat[n]);
}

let crcTable: Int32Array | null = null;

/** CRC-32 of `data` continuing from `value`: zlib.crc32 when Node has it (>= 20.15), else a table-driven version. */
export function crc32(data: Uint8Array, value = 0): number {
  const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native) return native(data, value) >>> 0;
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = ~value;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 255] ^ (c >>> 8);
  return ~c >>> 0;
}
