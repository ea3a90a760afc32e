/**
 * A tiny zip builder, independent of the product's reader and writer, for hostile and odd fixtures:
 * every header field can be forged. Also helpers that make realistic archives with the real `zip` command.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

export interface FixtureEntry {
  name: string | Buffer;
  data?: Buffer | string;
  /** 0 stored (default), 8 deflate. Any other number is written as is (with the data stored). */
  method?: number;
  /** Unix mode (e.g. 0o100644, 0o120777 for a link); sets "made by Unix". */
  unixMode?: number;
  /** Extra general-purpose flag bits (1 = encrypted, 0x800 = UTF-8). */
  flags?: number;
  /** Forge the CRC in both headers. */
  crc?: number;
  /** Forge the CRC in the central directory only. */
  centralCrc?: number;
  /** A different name in the local header. */
  localName?: string;
  /** Forge the declared uncompressed size (both headers). */
  uncompressedSize?: number;
  /** Forge the declared compressed size (both headers). */
  compressedSize?: number;
  /** Point the central directory at another offset. */
  localOffset?: number;
  /** Write sizes and offset as zip64 extra fields. */
  zip64?: boolean;
}

export interface FixtureOptions {
  comment?: string | Buffer;
  /** Forge the entry count in the end record. */
  declaredEntries?: number;
  /** Write a zip64 end record and locator. */
  zip64Eocd?: boolean;
}

export function crc32(buf: Buffer): number {
  return zlib.crc32(buf);
}

/** Build a zip in memory from fully controllable entries. */
export function buildZip(entries: FixtureEntry[], options: FixtureOptions = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name, 'utf8');
    const localName = e.localName !== undefined ? Buffer.from(e.localName, 'utf8') : name;
    const raw =
      e.data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data, 'utf8');
    const method = e.method ?? 0;
    const body = method === 8 ? zlib.deflateRawSync(raw) : raw;
    const crc = e.crc ?? crc32(raw);
    const usize = e.uncompressedSize ?? raw.length;
    const csize = e.compressedSize ?? body.length;
    const flags = (e.flags ?? 0) | (Buffer.isBuffer(e.name) ? 0 : 0x800);
    const zip64Extra = (withOffset: boolean): Buffer => {
      const b = Buffer.alloc(4 + 16 + (withOffset ? 8 : 0));
      b.writeUInt16LE(1, 0);
      b.writeUInt16LE(b.length - 4, 2);
      b.writeBigUInt64LE(BigInt(usize), 4);
      b.writeBigUInt64LE(BigInt(csize), 12);
      if (withOffset) b.writeBigUInt64LE(BigInt(e.localOffset ?? offset), 20);
      return b;
    };
    const lextra = e.zip64 ? zip64Extra(false) : Buffer.alloc(0);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(e.zip64 ? 45 : 20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(0x5a210000, 10); // a fixed DOS time
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(e.zip64 ? 0xffffffff : csize, 18);
    local.writeUInt32LE(e.zip64 ? 0xffffffff : usize, 22);
    local.writeUInt16LE(localName.length, 26);
    local.writeUInt16LE(lextra.length, 28);
    const localBuf = Buffer.concat([local, localName, lextra, body]);

    const cextra = e.zip64 ? zip64Extra(true) : Buffer.alloc(0);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(e.unixMode !== undefined ? (3 << 8) | 63 : 20, 4);
    central.writeUInt16LE(e.zip64 ? 45 : 20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(0x5a210000, 12);
    central.writeUInt32LE((e.centralCrc ?? crc) >>> 0, 16);
    central.writeUInt32LE(e.zip64 ? 0xffffffff : csize, 20);
    central.writeUInt32LE(e.zip64 ? 0xffffffff : usize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(cextra.length, 30);
    central.writeUInt16LE(0, 32);
    central.writeUInt16LE(0, 34);
    central.writeUInt16LE(0, 36);
    const isDir = name.length > 0 && name[name.length - 1] === 0x2f;
    const ext = e.unixMode !== undefined ? (e.unixMode << 16) >>> 0 : isDir ? 0x10 : 0;
    central.writeUInt32LE(ext >>> 0, 38);
    central.writeUInt32LE(e.zip64 ? 0xffffffff : (e.localOffset ?? offset), 42);
    centrals.push(Buffer.concat([central, name, cextra]));
    locals.push(localBuf);
    offset += localBuf.length;
  }
  const cd = Buffer.concat(centrals);
  const cdOffset = offset;
  const count = options.declaredEntries ?? entries.length;
  const comment =
    options.comment === undefined
      ? Buffer.alloc(0)
      : Buffer.isBuffer(options.comment)
        ? options.comment
        : Buffer.from(options.comment);
  const tail: Buffer[] = [];
  if (options.zip64Eocd) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(count), 24);
    rec.writeBigUInt64LE(BigInt(count), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(cdOffset + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(rec, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(options.zip64Eocd ? 0xffff : count & 0xffff, 8);
  eocd.writeUInt16LE(options.zip64Eocd ? 0xffff : count & 0xffff, 10);
  eocd.writeUInt32LE(options.zip64Eocd ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(options.zip64Eocd ? 0xffffffff : cdOffset, 16);
  eocd.writeUInt16LE(comment.length, 20);
  return Buffer.concat([...locals, cd, ...tail, eocd, comment]);
}

const made: string[] = [];

/** A fresh temporary folder, removed by `removeTempDirs`. */
export function tempDir(prefix = 'runpack-inspect-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Remove every folder `tempDir` made (call from afterAll). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Write files (path → content; a `link:` prefix makes a symlink) under `dir`. */
export function writeTree(dir: string, files: Record<string, string | Buffer>): string {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(dir, ...rel.split('/'));
    mkdirSync(path.dirname(abs), { recursive: true });
    if (typeof content === 'string' && content.startsWith('link:')) symlinkSync(content.slice(5), abs);
    else writeFileSync(abs, content);
  }
  return dir;
}

/**
 * Zip `files` with the real Info-ZIP `zip` (recursive, links stored as links with -y) into a new temp folder.
 * Returns the zip's path.
 */
export function zipWithCommand(
  files: Record<string, string | Buffer>,
  args: string[] = ['-r', '-y', '-q'],
): string {
  const work = tempDir();
  const src = path.join(work, 'src');
  mkdirSync(src);
  writeTree(src, files);
  const out = path.join(work, 'out.zip');
  execFileSync('zip', [...args, out, '.'], { cwd: src, stdio: 'ignore' });
  return out;
}

/** Write a built zip to a temp file and return its path. */
export function writeZip(buf: Buffer, name = 'fixture.zip'): string {
  const file = path.join(tempDir(), name);
  writeFileSync(file, buf);
  return file;
}
