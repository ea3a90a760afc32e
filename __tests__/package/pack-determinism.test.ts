import { afterAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { pack } from '../../src/package/zip-writer.js';
import { codeText, noise, tempDir, unzipTest, writeTree } from '../helpers/pack-tree.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

const FILES: [string, () => string | Buffer][] = [
  ['index.js', () => codeText(30000, 1)],
  ['lib/a.js', () => codeText(2000, 2)],
  ['lib/b.js', () => codeText(2500, 3)],
  ['lib/deep/c.json', () => JSON.stringify({ x: codeText(500, 4) })],
  ['vendor/big.js', () => codeText((2 << 20) + 4321, 5)],
  ['vendor/blob.bin', () => noise((1 << 20) + 77, 6)],
  ['img/p.png', () => noise(5000, 7)],
  ['ü/ñ.txt', () => 'unicode'],
  ['empty/', () => ''],
  ['zero.txt', () => ''],
];

function build(root: string, order: number[], mtime: Date): void {
  for (const i of order) {
    const [rel, make] = FILES[i];
    writeTree(root, { [rel]: make() });
  }
  const touch = (p: string) => {
    for (const d of fs.readdirSync(p, { withFileTypes: true })) {
      const abs = path.join(p, d.name);
      if (d.isDirectory()) touch(abs);
      fs.utimesSync(abs, mtime, mtime);
    }
  };
  touch(root);
  fs.chmodSync(path.join(root, 'index.js'), 0o755);
}

describe('pack: determinism', () => {
  it('gives byte-identical zips for the same tree with different mtimes, creation order and concurrency', async () => {
    const base = tempDir();
    roots.push(base);
    const a = path.join(base, 'a');
    const b = path.join(base, 'b');
    build(
      a,
      FILES.map((_, i) => i),
      new Date('2020-01-01T00:00:00Z'),
    );
    build(
      b,
      FILES.map((_, i) => FILES.length - 1 - i),
      new Date('2023-07-15T12:34:56Z'),
    );
    // The umask or a copy may leave other permission bits; only the executable bit counts.
    fs.chmodSync(path.join(b, 'lib/a.js'), 0o600);

    const za = path.join(base, 'a.zip');
    const zb = path.join(base, 'b.zip');
    const ra = await pack({ sourceDir: a, outFile: za, concurrency: 1 });
    const rb = await pack({ sourceDir: b, outFile: zb, concurrency: 3 });
    expect(unzipTest(za).status).toBe(0);
    expect(rb.sha256).toBe(ra.sha256);
    expect(rb.stamp).toEqual(ra.stamp);
    expect(fs.readFileSync(zb).equals(fs.readFileSync(za))).toBe(true);

    // And a real change gives a different zip.
    fs.appendFileSync(path.join(b, 'lib/b.js'), '\n');
    const rc = await pack({ sourceDir: b, outFile: zb });
    expect(rc.sha256).not.toBe(ra.sha256);
  });
});
