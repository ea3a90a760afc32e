/**
 * The entry cache: a repack with it writes the same bytes as a full pack, reuses only what it verifies (a corrupt,
 * torn or foreign cache costs a compression, never the output), and keeps one package's worth.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pack } from '../../src/package/zip-writer.js';
import { codeText, noise, tempDir, unzipTest, writeTree } from '../helpers/pack-tree.js';

const roots: string[] = [];
function fresh(): string {
  const d = tempDir();
  roots.push(d);
  return d;
}
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** Small text files, one large compressible file (packed in pieces) and one large incompressible one. */
function tree(root: string): void {
  const files: Record<string, string | Buffer> = {};
  for (let i = 0; i < 40; i++) files[`lib/f${i}.js`] = codeText(2000 + i * 97, i + 1);
  files['big/bundle.js'] = codeText(2_600_000, 7);
  files['big/blob.bin'] = noise(1_500_000, 9);
  files['empty.txt'] = '';
  writeTree(root, files);
}

async function packBoth(src: string, cacheDir: string) {
  const work = fresh();
  const plain = await pack({ sourceDir: src, outFile: path.join(work, 'plain.zip') });
  const cached = await pack({ sourceDir: src, outFile: path.join(work, 'cached.zip'), cacheDir });
  expect(cached.sha256).toBe(plain.sha256);
  expect(sha(path.join(work, 'cached.zip'))).toBe(sha(path.join(work, 'plain.zip')));
  expect(unzipTest(path.join(work, 'cached.zip')).status).toBe(0);
  return cached;
}

describe('pack with cacheDir', () => {
  it('writes the same bytes as a full pack, cold and warm, and after one file changed', async () => {
    const src = fresh();
    tree(src);
    const cache = path.join(fresh(), 'cache');
    const cold = await packBoth(src, cache);
    expect(cold.cache).toEqual({ hits: 0, misses: 42, removed: 0 });
    const warm = await packBoth(src, cache);
    expect(warm.cache).toEqual({ hits: 42, misses: 0, removed: 0 });
    fs.appendFileSync(path.join(src, 'lib/f3.js'), '\n// changed\n');
    const changed = await packBoth(src, cache);
    // One new entry, the old content of that file gone from the cache.
    expect(changed.cache).toEqual({ hits: 41, misses: 1, removed: 1 });
    // Content, not paths: a renamed file is still a hit.
    fs.renameSync(path.join(src, 'big/bundle.js'), path.join(src, 'big/renamed.js'));
    const renamed = await packBoth(src, cache);
    expect(renamed.cache).toEqual({ hits: 42, misses: 0, removed: 0 });
  });

  it('never lets a corrupt entry into the output: it is compressed again', async () => {
    const src = fresh();
    tree(src);
    const cache = path.join(fresh(), 'cache');
    await packBoth(src, cache);
    // Flip bytes inside the cached zip's data (not its size): those entries fail their CRC and are compressed again.
    const zip = path.join(cache, 'entries.zip');
    const bytes = fs.readFileSync(zip);
    for (const at of [200, Math.floor(bytes.length / 2), bytes.length - 5000]) bytes[at] ^= 0xff;
    fs.writeFileSync(zip, bytes);
    const again = await packBoth(src, cache);
    expect(again.cache!.misses).toBeGreaterThan(0);
    expect(again.cache!.hits + again.cache!.misses).toBe(42);
  });

  it('ignores a torn, unreadable or foreign cache', async () => {
    const src = fresh();
    tree(src);
    const cache = path.join(fresh(), 'cache');
    await packBoth(src, cache);
    const index = path.join(cache, 'index.json');
    const good = fs.readFileSync(index, 'utf8');
    // Another compressor made it (another zlib, level or machine): not one hit.
    fs.writeFileSync(index, good.replace(/"tag":"[^"]+"/, '"tag":"l6-zother"'));
    expect((await packBoth(src, cache)).cache!.hits).toBe(0);
    // The zip was replaced but the index not (a save cut short): the sizes differ.
    fs.writeFileSync(index, good);
    fs.appendFileSync(path.join(cache, 'entries.zip'), 'x');
    expect((await packBoth(src, cache)).cache!.hits).toBe(0);
    fs.writeFileSync(index, '{"runpackCache":1,');
    expect((await packBoth(src, cache)).cache!.hits).toBe(0);
    // An entry's recorded content CRC altered (the index's own checksum no longer matches): nothing is trusted.
    fs.writeFileSync(
      index,
      good.replace(/,(\d+)\]/, (_m, crc: string) => `,${Number(crc) ^ 1}]`),
    );
    expect(fs.readFileSync(index, 'utf8')).not.toBe(good);
    expect((await packBoth(src, cache)).cache!.hits).toBe(0);
    // Each of those packs wrote a good cache again.
    expect((await packBoth(src, cache)).cache!.hits).toBe(42);
  });

  it('never packages a cache folder kept inside the source folder', async () => {
    const src = fresh();
    tree(src);
    const cache = path.join(src, '.runpack-cache');
    const work = fresh();
    const first = await pack({ sourceDir: src, outFile: path.join(work, 'a.zip'), cacheDir: cache });
    expect(fs.existsSync(path.join(cache, 'entries.zip'))).toBe(true);
    const second = await pack({ sourceDir: src, outFile: path.join(work, 'b.zip'), cacheDir: cache });
    expect(second.cache!.hits).toBe(42);
    // The same bytes as the first pack, when the folder did not exist yet: neither it nor its zip went in.
    expect(second.sha256).toBe(first.sha256);
    const listing = unzipTest(path.join(work, 'b.zip'));
    expect(listing.status).toBe(0);
    expect(listing.output).toContain('lib/f3.js');
    expect(listing.output).not.toContain('.runpack-cache');
  });
});
