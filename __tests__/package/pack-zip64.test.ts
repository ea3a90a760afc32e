import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { pack } from '../../src/package/zip-writer.js';
import { fastTempDir, unzipTest } from '../helpers/pack-tree.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

describe('pack: zip64', () => {
  it('writes more than 65,535 entries with zip64 end records that info-zip and adm-zip read', async () => {
    const base = fastTempDir();
    roots.push(base);
    const src = path.join(base, 'src');
    const perDir = 1000;
    const total = 66_000;
    for (let d = 0; d < total / perDir; d++) {
      const dir = path.join(src, `d${String(d).padStart(2, '0')}`);
      fs.mkdirSync(dir, { recursive: true });
      for (let f = 0; f < perDir; f++) fs.writeFileSync(path.join(dir, `f${f}.txt`), `${d}/${f}\n`);
    }
    const out = path.join(base, 'many.zip');
    const r = await pack({ sourceDir: src, outFile: out, stamp: false });
    expect(r.files).toBe(total);

    const t = unzipTest(out);
    expect(t.status).toBe(0);
    expect(t.output).toContain('No errors detected');
    const entries = total + total / perDir; // files and their folders
    const head = execFileSync('zipinfo', ['-h', out], { encoding: 'utf8' });
    expect(head).toContain(`number of entries: ${entries}`);
    // The classic end record says "see zip64" (0xFFFF entries) and the zip64 end record and locator precede it.
    const buf = fs.readFileSync(out);
    const eocd = buf.length - 22;
    expect(buf.readUInt32LE(eocd)).toBe(0x06054b50);
    expect(buf.readUInt16LE(eocd + 10)).toBe(0xffff);
    expect(buf.readUInt32LE(eocd - 20)).toBe(0x07064b50);
    expect(buf.readUInt32LE(eocd - 20 - 56)).toBe(0x06064b50);
    expect(Number(buf.readBigUInt64LE(eocd - 20 - 56 + 32))).toBe(entries);
    const zip = new AdmZip(out);
    expect(zip.getEntries().length).toBe(entries);
    expect(zip.readAsText('d65/f999.txt')).toBe('65/999\n');
  });
});
