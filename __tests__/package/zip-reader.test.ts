import { afterAll, describe, expect, it } from '@jest/globals';
import AdmZip from 'adm-zip';
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import {
  bufferSource,
  fileSource,
  openZip,
  readEntry,
  verifyEntries,
  ZipError,
  type ZipDirectory,
} from '../../src/package/zip-reader.js';
import { buildZip, tempDir, zipWithCommand, removeTempDirs } from '../helpers/zip-fixtures.js';

afterAll(removeTempDirs);

const open = (buf: Buffer, maxEntries?: number): Promise<ZipDirectory> =>
  openZip(bufferSource(buf), maxEntries ? { maxEntries } : {});

async function openFile(file: string): Promise<ZipDirectory> {
  return openZip(await fileSource(file));
}

describe('openZip on archives made by zip', () => {
  it('lists names, sizes, modes, folders and links as adm-zip does, and reads content back', async () => {
    const big = randomBytes(200_000);
    const file = zipWithCommand({
      'server.js': 'console.log("hi")\n',
      'lib/util.js': 'x'.repeat(10_000),
      'data/blob.bin': big,
      'node_modules/.bin/tool': 'link:../tool/cli.js',
      'node_modules/tool/cli.js': '#!/usr/bin/env node\n',
    });
    const dir = await openFile(file);
    expect(dir.issues).toEqual([]);
    const oracle = new AdmZip(file);
    expect(dir.entries.map((e) => e.name).sort()).toEqual(
      oracle
        .getEntries()
        .map((e) => e.entryName)
        .sort(),
    );
    const byName = new Map(dir.entries.map((e) => [e.name, e]));
    expect(byName.get('lib/')?.isDirectory).toBe(true);
    expect(byName.get('lib/util.js')?.method).toBe(8);
    expect(byName.get('lib/util.js')?.uncompressedSize).toBe(10_000);
    expect(byName.get('server.js')?.mode).toBe(0o100644);
    const link = byName.get('node_modules/.bin/tool')!;
    expect(link.isSymlink).toBe(true);
    expect((await readEntry(dir, link)).toString()).toBe('../tool/cli.js');
    expect((await readEntry(dir, byName.get('data/blob.bin')!)).equals(big)).toBe(true);
    expect(await verifyEntries(dir)).toEqual([]);
    await dir.source.close?.();
  });

  it('handles zip64 archives with more than 65,535 entries', async () => {
    const work = tempDir();
    const src = path.join(work, 'src');
    for (let d = 0; d < 70; d++) {
      mkdirSync(path.join(src, `d${d}`), { recursive: true });
      for (let f = 0; f < 950; f++) writeFileSync(path.join(src, `d${d}`, `f${f}.txt`), '');
    }
    const out = path.join(work, 'many.zip');
    execFileSync('zip', ['-r', '-q', '-D', out, '.'], { cwd: src });
    const dir = await openFile(out);
    expect(dir.zip64).toBe(true);
    expect(dir.entries.length).toBe(66_500);
    expect(dir.declaredEntries).toBe(66_500);
    expect(dir.issues).toEqual([]);
    expect(await verifyEntries(dir, { verifyData: false })).toEqual([]);
    await dir.source.close?.();
    rmSync(work, { recursive: true, force: true });
  });

  it('streams entries larger than the in-memory threshold and still catches a damaged byte', async () => {
    const data = Buffer.concat([randomBytes(3_000_000), Buffer.alloc(3_000_000, 7)]);
    const file = zipWithCommand({ 'big.bin': data, 'small.txt': 'ok' });
    const good = await openFile(file);
    expect(await verifyEntries(good)).toEqual([]);
    await good.source.close?.();

    const bytes = readFileSync(file);
    const entry = good.entries.find((e) => e.name === 'big.bin')!;
    bytes[entry.localHeaderOffset + 30 + 'big.bin'.length + 28 + 1_000_000] ^= 0xff;
    const dir = await open(bytes);
    const issues = await verifyEntries(dir);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'corrupt-archive', path: 'big.bin' });
  });
});

describe('reads over a slow source', () => {
  it('opens a small zip, zip64 included, with a single read of its tail', async () => {
    for (const zip64Eocd of [false, true]) {
      const buf = buildZip(
        [
          { name: 'host.json', data: '{}' },
          { name: 'Ping/function.json', data: '{}', zip64: zip64Eocd },
        ],
        { zip64Eocd },
      );
      const reads: [number, number][] = [];
      const inner = bufferSource(buf);
      const dir = await openZip({ size: inner.size, read: (o, l) => (reads.push([o, l]), inner.read(o, l)) });
      expect(dir.entries.map((e) => e.name)).toEqual(['host.json', 'Ping/function.json']);
      expect(reads).toEqual([[0, buf.length]]);
    }
  });

  it('reads a big central directory in a few windows, never the entries themselves', async () => {
    const entries = Array.from({ length: 60_000 }, (_, i) => ({
      name: `dir${i % 100}/file-${i}.js`,
      data: 'x',
    }));
    const buf = buildZip(entries, { zip64Eocd: true });
    const reads: [number, number][] = [];
    const inner = bufferSource(buf);
    const dir = await openZip({ size: inner.size, read: (o, l) => (reads.push([o, l]), inner.read(o, l)) });
    expect(dir.entries).toHaveLength(60_000);
    expect(reads.length).toBeLessThanOrEqual(4);
    expect(Math.min(...reads.map(([o]) => o))).toBe(dir.centralDirectoryOffset);
  });
});

describe('archives from other writers', () => {
  it('reads streaming zips with data descriptors (archiver) and zips written by adm-zip', async () => {
    const { ZipArchive } = await import('archiver');
    const file = path.join(tempDir(), 'streamed.zip');
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(file);
      const zip = new ZipArchive({ zlib: { level: 6 } });
      out.on('close', () => resolve());
      zip.on('error', reject);
      zip.pipe(out);
      zip.append(Buffer.from('x'.repeat(50_000)), { name: 'a/big.txt' });
      zip.append(Buffer.from('hello'), { name: 'index.html' });
      void zip.finalize();
    });
    const dir = await openFile(file);
    expect(dir.entries.some((e) => e.flags.dataDescriptor)).toBe(true);
    expect(await verifyEntries(dir, { workers: 0 })).toEqual([]);
    expect(
      (
        await readEntry(
          dir,
          dir.entries.find((e) => e.name === 'a/big.txt')!,
        )
      ).length,
    ).toBe(50_000);
    await dir.source.close?.();

    const adm = new AdmZip();
    adm.addFile('server.js', Buffer.from('console.log(1)'));
    adm.addFile('lib/x.js', Buffer.from('y'.repeat(10_000)));
    const fromAdm = await open(adm.toBuffer());
    expect(fromAdm.entries.map((e) => e.name).sort()).toEqual(['lib/x.js', 'server.js']);
    expect(await verifyEntries(fromAdm)).toEqual([]);
  });
});

describe('openZip on forged archives', () => {
  it('reads zip64 extra fields and the zip64 end record', async () => {
    const buf = buildZip(
      [
        { name: 'a.txt', data: 'alpha', zip64: true },
        { name: 'b.txt', data: 'b'.repeat(5000), method: 8, zip64: true },
      ],
      { zip64Eocd: true },
    );
    const dir = await open(buf);
    expect(dir.zip64).toBe(true);
    expect(dir.entries.map((e) => [e.name, e.uncompressedSize, e.zip64])).toEqual([
      ['a.txt', 5, true],
      ['b.txt', 5000, true],
    ]);
    expect((await readEntry(dir, dir.entries[1])).toString()).toBe('b'.repeat(5000));
    expect(await verifyEntries(dir)).toEqual([]);
  });

  it('finds the end record behind an archive comment that itself contains an end signature', async () => {
    const fake = Buffer.concat([Buffer.from('note PK'), Buffer.from([0x05, 0x06]), Buffer.alloc(30, 0x41)]);
    const dir = await open(buildZip([{ name: 'index.html', data: '<h1>x</h1>' }], { comment: fake }));
    expect(dir.comment).toContain('note PK');
    expect(dir.entries.map((e) => e.name)).toEqual(['index.html']);
  });

  it('refuses a file that is not a zip, naming what it is', async () => {
    await expect(open(Buffer.from('just some text, long enough to not be tiny'))).rejects.toMatchObject({
      code: 'corrupt-archive',
    });
    const gz = zlib.gzipSync(Buffer.alloc(1000, 1));
    await expect(open(gz)).rejects.toThrow(/gzip/);
    await expect(open(Buffer.alloc(5))).rejects.toBeInstanceOf(ZipError);
  });

  it('refuses a truncated archive', async () => {
    const buf = buildZip([
      { name: 'a.txt', data: 'x'.repeat(1000) },
      { name: 'b.txt', data: 'y' },
    ]);
    await expect(open(buf.subarray(0, buf.length - 30))).rejects.toThrow(/not a zip|corrupt/);
    // Cut inside the data but keep a copied end record: the directory points past the file.
    const eocd = buf.subarray(buf.length - 22);
    await expect(open(Buffer.concat([buf.subarray(0, 500), eocd]))).rejects.toThrow(
      /beyond the end|truncated/,
    );
  });

  it('reports a bad CRC only when data is verified', async () => {
    const dir = await open(buildZip([{ name: 'app.js', data: 'console.log(1)', crc: 0x12345678 }]));
    expect(dir.issues).toEqual([]);
    expect(await verifyEntries(dir, { verifyData: false })).toEqual([]);
    const issues = await verifyEntries(dir);
    expect(issues).toEqual([expect.objectContaining({ code: 'corrupt-archive', path: 'app.js' })]);
    expect(issues[0].message).toMatch(/CRC/);
    await expect(readEntry(dir, dir.entries[0])).rejects.toThrow(/CRC/);
  });

  it('reports a local header that disagrees with the central directory', async () => {
    const dir = await open(
      buildZip([
        { name: 'a.js', data: '1', localName: 'b.js' },
        { name: 'c.js', data: '2', centralCrc: 7 },
      ]),
    );
    const issues = await verifyEntries(dir, { verifyData: false });
    expect(issues.map((i) => i.path)).toEqual(['a.js', 'c.js']);
    expect(issues[0].message).toMatch(/local header.*name/);
    expect(issues[1].message).toMatch(/CRC/);
  });

  it('reports an entry that inflates past its declared size without inflating it all', async () => {
    const huge = Buffer.alloc(20_000_000);
    const dir = await open(
      buildZip([{ name: 'bomb.bin', data: huge, method: 8, uncompressedSize: 100_000 }]),
    );
    const issues = await verifyEntries(dir);
    expect(issues).toHaveLength(1);
    expect(issues[0].message).toMatch(/more than its declared 100000 bytes/);
    await expect(readEntry(dir, dir.entries[0])).rejects.toThrow(/more than its declared/);
  });

  it('reports declared sizes deflate cannot produce (a bomb ratio) from the directory alone', async () => {
    const dir = await open(
      buildZip([{ name: 'bomb.bin', data: Buffer.alloc(1000), method: 8, uncompressedSize: 3_000_000_000 }]),
    );
    expect(dir.issues).toEqual([expect.objectContaining({ code: 'corrupt-archive', path: 'bomb.bin' })]);
    expect(dir.issues[0].message).toMatch(/zip bomb/);
  });

  it('reports overlapping entries and data declared beyond the archive', async () => {
    const overlap = await open(
      buildZip([
        { name: 'one.bin', data: 'a'.repeat(100) },
        { name: 'two.bin', data: 'a'.repeat(100), localOffset: 0 },
      ]),
    );
    expect(overlap.issues.some((i) => /overlaps/.test(i.message))).toBe(true);
    const beyond = await open(
      buildZip([{ name: 'x.bin', data: 'abc', compressedSize: 50_000, uncompressedSize: 50_000 }]),
    );
    expect(beyond.issues).toEqual([expect.objectContaining({ code: 'corrupt-archive', path: 'x.bin' })]);
    expect(beyond.issues[0].message).toMatch(/beyond the archive/);
  });

  it('caps the entries it reads and checks the declared count', async () => {
    const entries = Array.from({ length: 30 }, (_, i) => ({ name: `f${i}.txt`, data: `${i}` }));
    const capped = await open(buildZip(entries), 10);
    expect(capped.entries).toHaveLength(10);
    expect(capped.issues).toEqual([expect.objectContaining({ code: 'too-large' })]);
    const lying = await open(buildZip(entries, { declaredEntries: 40_000 }));
    expect(lying.issues).toEqual([expect.objectContaining({ code: 'corrupt-archive' })]);
    expect(lying.issues[0].message).toMatch(/declares 40000 entries/);
  });

  it('stops at 250,000 entries by default and says so', async () => {
    const entries = Array.from({ length: 250_010 }, (_, i) => ({ name: `f${i}` }));
    const dir = await open(buildZip(entries, { zip64Eocd: true }));
    expect(dir.entries).toHaveLength(250_000);
    expect(dir.issues).toEqual([expect.objectContaining({ code: 'too-large' })]);
    expect(dir.issues[0].message).toMatch(/more than 250000 entries \(it declares 250010\)/);
  });

  it('keeps only the start of a huge name', async () => {
    const name = `${'n'.repeat(60_000)}.txt`;
    const dir = await open(buildZip([{ name, data: 'x' }]));
    expect(dir.entries[0].nameTruncated).toBe(true);
    expect(dir.entries[0].nameLength).toBe(name.length);
    expect(dir.entries[0].rawName.length).toBeLessThanOrEqual(4096);
    expect(await verifyEntries(dir)).toEqual([]);
  });

  it('refuses to read an encrypted entry and an entry over the byte cap', async () => {
    const dir = await open(
      buildZip([
        { name: 'secret.txt', data: 'xx', flags: 1 },
        { name: 'big.txt', data: 'y'.repeat(5000) },
      ]),
    );
    await expect(readEntry(dir, dir.entries[0])).rejects.toMatchObject({ code: 'encrypted-entry' });
    await expect(readEntry(dir, dir.entries[1], { maxBytes: 100 })).rejects.toMatchObject({
      code: 'too-large',
    });
    expect((await readEntry(dir, dir.entries[1], { maxBytes: 5000 })).length).toBe(5000);
    // A small file that claims a huge compressed body is refused before anything is read for it.
    const padded = await open(
      buildZip([
        {
          name: 'package.json',
          data: Buffer.alloc(300_000),
          method: 8,
          uncompressedSize: 10,
          compressedSize: 200_000,
        },
      ]),
    );
    await expect(readEntry(padded, padded.entries[0], { maxBytes: 1000 })).rejects.toThrow(
      /200000 compressed bytes/,
    );
  });

  it('reports compression methods the platform cannot read', async () => {
    const dir = await open(buildZip([{ name: 'a.txt', data: 'abc', method: 12 }]));
    expect(dir.issues[0].message).toMatch(/bzip2/);
  });
});

describe('verifyEntries in worker threads', () => {
  it('finds the same damage as the single-threaded pass', async () => {
    const entries = Array.from({ length: 40 }, (_, i) => ({
      name: `part${i}.txt`,
      data: `${i} `.repeat(3000),
      method: i % 2 ? 8 : 0,
    }));
    const buf = buildZip([
      ...entries,
      { name: 'bad-crc.txt', data: 'hello', crc: 5 },
      { name: 'renamed.txt', data: 'x', localName: 'other.txt' },
      { name: 'liar.txt', data: 'z'.repeat(5000), method: 8, uncompressedSize: 10 },
    ]);
    const file = path.join(tempDir(), 'w.zip');
    writeFileSync(file, buf);
    const dir = await openFile(file);
    const serial = await verifyEntries(dir, { workers: 0 });
    const parallel = await verifyEntries(dir, { workers: 3 });
    await dir.source.close?.();
    expect(serial.map((i) => i.path)).toEqual(['bad-crc.txt', 'renamed.txt', 'liar.txt']);
    expect(parallel).toEqual(serial);
  });

  it('checks a large archive of small files in parallel by default', async () => {
    const entries = Array.from({ length: 300 }, (_, i) => ({ name: `r${i}.bin`, data: randomBytes(60_000) }));
    const buf = buildZip(entries);
    const victim = 150;
    // Flip one data byte of entry 150 (stored: data follows the 30-byte header and the name).
    let offset = 0;
    for (let i = 0; i < victim; i++) offset += 30 + `r${i}.bin`.length + 60_000;
    buf[offset + 30 + `r${victim}.bin`.length + 10] ^= 1;
    const file = path.join(tempDir(), 'many.zip');
    writeFileSync(file, buf);
    const dir = await openFile(file);
    const issues = await verifyEntries(dir);
    await dir.source.close?.();
    expect(issues).toEqual([expect.objectContaining({ code: 'corrupt-archive', path: `r${victim}.bin` })]);
  });
});
