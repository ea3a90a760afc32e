import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { compileExcludes } from '../../src/package/glob.js';
import { isStoredType, resolveSourceDateEpoch, DEFAULT_EPOCH } from '../../src/package/zip-writer.js';
import {
  centralHeader,
  crc32Combine,
  dosDateTime,
  endRecords,
  localHeader,
  localHeaderLength,
} from '../../src/package/zip-format.js';
import {
  compareUtf8,
  computeContentSha256,
  ContentDigest,
  parseStamp,
  stampBytes,
} from '../../src/package/stamp.js';
import { UsageError } from '../../src/util/errors.js';
import { noise } from '../helpers/pack-tree.js';

describe('zip-format', () => {
  it('DOS date/time is computed in UTC with 2-second steps and clamped to the DOS range', () => {
    // 2024-02-29 13:45:31 UTC → date (44<<9)|(2<<5)|29, time (13<<11)|(45<<5)|15
    expect(dosDateTime(Date.UTC(2024, 1, 29, 13, 45, 31) / 1000)).toEqual({
      date: (44 << 9) | (2 << 5) | 29,
      time: (13 << 11) | (45 << 5) | 15,
    });
    expect(dosDateTime(0)).toEqual({ date: (1 << 5) | 1, time: 0 }); // before 1980 → 1980-01-01
  });

  it('crc32Combine equals the CRC of the concatenation', () => {
    const a = noise(100_003, 1);
    const b = noise(1 << 20, 2);
    expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
    expect(crc32Combine(crc32(a), crc32(Buffer.alloc(0)), 0)).toBe(crc32(a));
  });

  it('uses zip64 fields only for values that overflow 32 bits, in APPNOTE order', () => {
    const name = Buffer.from('big.bin');
    const e = {
      name,
      method: 8,
      crc32: 0x12345678,
      compressedSize: 3_000_000_000,
      uncompressedSize: 5_000_000_000,
      localOffset: 4_500_000_000,
      mode: 0o644,
      directory: false,
      mtime: DEFAULT_EPOCH,
    };
    const c = centralHeader(e);
    expect(c.readUInt32LE(20)).toBe(3_000_000_000); // compressed size fits
    expect(c.readUInt32LE(24)).toBe(0xffffffff);
    expect(c.readUInt32LE(42)).toBe(0xffffffff);
    const extra = c.subarray(46 + name.length + 9);
    expect(extra.readUInt16LE(0)).toBe(1);
    expect(extra.readUInt16LE(2)).toBe(16);
    expect(Number(extra.readBigUInt64LE(4))).toBe(5_000_000_000);
    expect(Number(extra.readBigUInt64LE(12))).toBe(4_500_000_000);
    expect(c.readUInt16LE(6)).toBe(45);

    const l = localHeader(e);
    expect(l.length).toBe(localHeaderLength(name.length, e.uncompressedSize));
    expect(l.readUInt32LE(18)).toBe(0xffffffff);
    expect(l.readUInt32LE(22)).toBe(0xffffffff);

    const small = localHeader({ ...e, compressedSize: 10, uncompressedSize: 20 });
    expect(small.length).toBe(30 + name.length + 9);
    expect(small.readUInt32LE(18)).toBe(10);

    expect(endRecords(10, 100, 50).length).toBe(22);
    const big = endRecords(10, 5_000_000_000, 50);
    expect(big.length).toBe(56 + 20 + 22);
    expect(Number(big.readBigUInt64LE(48))).toBe(5_000_000_000);
  });
});

describe('exclude globs', () => {
  const m = (patterns: string[], p: string, dir = false) => compileExcludes(patterns).excludes(p, dir);
  it('matches the documented forms', () => {
    expect(m(['*.map'], 'a.map')).toBe(true);
    expect(m(['*.map'], 'x/y/a.map')).toBe(true);
    expect(m(['*.map'], 'a.mapx')).toBe(false);
    expect(m(['docs/*.md'], 'docs/a.md')).toBe(true);
    expect(m(['docs/*.md'], 'docs/x/a.md')).toBe(false);
    expect(m(['docs/*.md'], 'src/docs/a.md')).toBe(false);
    expect(m(['docs/**/*.md'], 'docs/a.md')).toBe(true);
    expect(m(['docs/**/*.md'], 'docs/x/y/a.md')).toBe(true);
    expect(m(['**/test'], 'a/b/test', true)).toBe(true);
    expect(m(['src/**'], 'src/a/b')).toBe(true);
    expect(m(['src/**'], 'src')).toBe(false);
    expect(m(['v?.txt'], 'v1.txt')).toBe(true);
    expect(m(['v?.txt'], 'v10.txt')).toBe(false);
    expect(m(['logs/'], 'logs', true)).toBe(true);
    expect(m(['logs/'], 'logs', false)).toBe(false);
    expect(m(['logs/'], 'a/logs', true)).toBe(true);
    expect(m(['/logs'], 'a/logs', true)).toBe(false);
    expect(m(['./logs'], 'logs', true)).toBe(true);
    expect(m(['a+b(1).txt'], 'a+b(1).txt')).toBe(true);
  });
  it('rejects patterns that cannot mean anything inside the folder', () => {
    expect(() => compileExcludes(['../x'])).toThrow(UsageError);
    expect(() => compileExcludes([''])).toThrow(UsageError);
  });
});

describe('packaging rules', () => {
  it('stores already-compressed types by extension, case-insensitively', () => {
    expect(isStoredType('img/a.PNG')).toBe(true);
    expect(isStoredType('pkg/x.nupkg')).toBe(true);
    expect(isStoredType('a.woff2')).toBe(true);
    expect(isStoredType('app.js')).toBe(false);
    expect(isStoredType('.gz')).toBe(false); // a dotfile named ".gz" has no extension
  });

  it('resolves the timestamp: option, then SOURCE_DATE_EPOCH, then the fixed default', () => {
    expect(resolveSourceDateEpoch(1700000000, '5')).toBe(1700000000);
    expect(resolveSourceDateEpoch(undefined, '1700000001')).toBe(1700000001);
    expect(resolveSourceDateEpoch(undefined, undefined)).toBe(DEFAULT_EPOCH);
    expect(resolveSourceDateEpoch(undefined, '')).toBe(DEFAULT_EPOCH);
    expect(() => resolveSourceDateEpoch(undefined, '-1')).toThrow(/SOURCE_DATE_EPOCH/);
    expect(() => resolveSourceDateEpoch(1.5)).toThrow(/whole number/);
  });

  it('defines contentSha256 over sorted (path, mode, size, sha256) records', () => {
    const files = [
      { path: 'b.txt', mode: 0o644, size: 1, sha256: 'B'.repeat(64) },
      { path: 'a.txt', mode: 0o755, size: 22, sha256: 'a'.repeat(64) },
      { path: '.runpack/release.json', mode: 0o644, size: 5, sha256: 'c'.repeat(64) },
    ];
    // Independent computation of the documented serialization.
    const text =
      ['a.txt', '100755', '22', 'a'.repeat(64)].join('\0') +
      '\n' +
      ['b.txt', '100644', '1', 'b'.repeat(64)].join('\0') +
      '\n';
    const expected = createHash('sha256').update(text).digest('hex');
    expect(computeContentSha256(files)).toBe(expected);
    expect(computeContentSha256([...files].reverse())).toBe(expected);
    const stamp = { runpack: 1 as const, contentSha256: expected };
    expect(parseStamp(stampBytes(stamp).toString())).toEqual(stamp);
    expect(parseStamp('{"runpack":2,"contentSha256":"x"}')).toBeNull();
    expect(parseStamp('not json')).toBeNull();
  });
});

describe('UTF-8 order', () => {
  it('compareUtf8 agrees with comparing the UTF-8 bytes, also around surrogate pairs', () => {
    const names = [
      'a',
      'B',
      'é',
      'ｚ',
      '\u{1F600}',
      '\u{10000}',
      '\uE000',
      'a/b',
      'a.b',
      'ab',
      '',
      '\u00FF',
      '\u0100',
    ];
    for (const x of names) {
      for (const y of names) {
        const bytes = Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y)));
        expect([x, y, Math.sign(compareUtf8(x, y))]).toEqual([x, y, bytes]);
      }
    }
  });

  it('ContentDigest refuses records out of order instead of producing a wrong digest', () => {
    const d = new ContentDigest();
    d.add({ path: 'b', mode: 0o644, size: 1, sha256: 'a'.repeat(64) });
    expect(() => d.add({ path: 'a', mode: 0o644, size: 1, sha256: 'a'.repeat(64) })).toThrow(/out of order/);
  });
});
