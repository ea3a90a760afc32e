/**
 * Test helpers for the packager: temp trees and independent zip readers (info-zip's unzip/zipinfo, adm-zip).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import AdmZip from 'adm-zip';

export function tempDir(prefix = 'runpack-pack-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A temp folder on tmpfs when the machine has one: creating tens of thousands of files there is fast. */
export function fastTempDir(prefix = 'runpack-pack-'): string {
  try {
    if (fs.statSync('/dev/shm').isDirectory()) return fs.mkdtempSync(path.join('/dev/shm', prefix));
  } catch {
    // no tmpfs: fall back to the usual temp folder
  }
  return tempDir(prefix);
}

/** Writes files (keys are `/`-separated relative paths; a key ending in `/` makes an empty folder). */
export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, ...rel.split('/'));
    if (rel.endsWith('/')) {
      fs.mkdirSync(abs, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
}

/** Deterministic pseudo-random bytes (xorshift), incompressible. */
export function noise(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Text that compresses like source code. */
export function codeText(size: number, seed = 1): string {
  const words = [
    'const',
    'function',
    'return',
    'module',
    'exports',
    'require',
    'value',
    'options',
    'if',
    'else',
  ];
  let s = '';
  let i = seed;
  while (s.length < size) {
    i = (i * 1103515245 + 12345) & 0x7fffffff;
    s += `${words[i % words.length]} v${i % 997} = ${words[(i >> 8) % words.length]}(${i % 31});\n`;
  }
  return s.slice(0, size);
}

/** `unzip -t`: exit status and output. */
export function unzipTest(zip: string): { status: number; output: string } {
  const r = spawnSync('unzip', ['-t', zip], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return { status: r.status ?? -1, output: r.stdout + r.stderr };
}

/** `zipinfo` short listing lines (one per entry), without the header and trailer. */
export function zipinfoLines(zip: string): string[] {
  const out = execFileSync('zipinfo', [zip], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return out.split('\n').filter((l) => /^[-dl]/.test(l));
}

/** `zipinfo -v` for one entry (or the whole archive). */
export function zipinfoVerbose(zip: string, entry?: string, env?: NodeJS.ProcessEnv): string {
  const args = entry ? ['-v', zip, entry] : ['-v', zip];
  return execFileSync('zipinfo', args, {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 256 << 20,
  });
}

/** Entry names in archive order, as `zipinfo -1` prints them (names are UTF-8). */
export function zipNames(zip: string): string[] {
  return execFileSync('zipinfo', ['-1', zip], { encoding: 'utf8', maxBuffer: 256 << 20 })
    .split('\n')
    .filter(Boolean);
}

export interface OracleEntry {
  name: string;
  isDirectory: boolean;
  data: Buffer;
  /** Unix mode from the external attributes. */
  mode: number;
}

/** Every entry as adm-zip (an independent reader) extracts it in memory. */
export function admEntries(zip: string): Map<string, OracleEntry> {
  const z = new AdmZip(zip);
  const out = new Map<string, OracleEntry>();
  for (const e of z.getEntries()) {
    out.set(e.entryName, {
      name: e.entryName,
      isDirectory: e.isDirectory,
      data: e.isDirectory ? Buffer.alloc(0) : e.getData(),
      mode: (e.header.attr >>> 16) & 0xffff,
    });
  }
  return out;
}

/** Every file under root (following nothing), as relative path → bytes. */
export function readTree(root: string, prefix = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const d of fs.readdirSync(path.join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    if (d.isDirectory()) for (const [k, v] of readTree(root, rel)) out.set(k, v);
    else if (d.isFile()) out.set(rel, fs.readFileSync(path.join(root, rel)));
  }
  return out;
}
