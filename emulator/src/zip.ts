/**
 * Zip helpers for the emulator's Kudu and worker: validate a package, extract it exactly as given
 * (never flattening a top-level folder), and peek at single entries (host.json, function.json).
 */
import { chmodSync, mkdirSync, promises as fsp, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import AdmZip from 'adm-zip';

export type ZipCheck = { ok: true; entries: string[] } | { ok: false; error: string };

function open(zip: Buffer | string): AdmZip {
  return new AdmZip(zip);
}

/** Entry names that are safe to write below a root: relative, no `..`, no drive letters. */
export function safeEntryPath(name: string): string | null {
  const n = name.replace(/\\/g, '/');
  if (n.startsWith('/') || /^[a-zA-Z]:/.test(n)) return null;
  const parts = n.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..')) return null;
  return parts.join('/');
}

/** Read every entry (checks the central directory and each CRC); a truncated or corrupt zip fails. */
export function checkZip(zip: Buffer | string): ZipCheck {
  try {
    const z = open(zip);
    const names: string[] = [];
    for (const e of z.getEntries()) {
      if (!e.isDirectory) e.getData();
      names.push(e.entryName);
    }
    return { ok: true, entries: names };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * What Kudu checks when it stores a run-from-package zip: the central directory must open, and the trigger files
 * it extracts (root host.json and proxies.json, `<fn>/function.json`) must read back. Other entries are not read.
 */
export function checkZipForRunFromPackage(zip: Buffer | string): ZipCheck {
  try {
    const z = open(zip);
    const names: string[] = [];
    for (const e of z.getEntries()) {
      const n = e.entryName.replace(/\\/g, '/');
      const lower = n.toLowerCase();
      const trigger =
        lower === 'host.json' ||
        lower === 'proxies.json' ||
        (/^[^/]+\/function\.json$/.test(n) && !e.isDirectory);
      if (trigger && !e.isDirectory) e.getData();
      names.push(e.entryName);
    }
    return { ok: true, entries: names };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Extract into `dest` (created if missing). Entries with unsafe paths are skipped. Throws when the zip
 * cannot be read. Returns the relative paths of the files written.
 */
export async function extractZip(zip: Buffer | string, dest: string): Promise<string[]> {
  const z = open(zip);
  await fsp.mkdir(dest, { recursive: true });
  const written: string[] = [];
  for (const e of z.getEntries()) {
    const rel = safeEntryPath(e.entryName);
    if (rel === null) continue;
    const target = path.join(dest, ...rel.split('/'));
    if (e.isDirectory) {
      await fsp.mkdir(target, { recursive: true });
      continue;
    }
    const data = e.getData();
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.writeFile(target, data);
    written.push(rel);
  }
  return written;
}

/**
 * Mount a package's content: read every entry once (adm-zip checks each CRC) and write it read-only into `dest`
 * (files 0444 as they are written, folders 0555 at the end), synchronously, as one pass. Returns the zip's
 * problem instead of throwing when it is not a valid zip; `dest` is then incomplete and the caller drops it.
 */
export function extractReadOnly(
  zip: Buffer | string,
  dest: string,
): { ok: true } | { ok: false; error: string } {
  let z: AdmZip;
  try {
    z = open(zip);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  const dirs = new Set<string>([dest]);
  const ensure = (dir: string) => {
    if (dirs.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    for (let d = dir; d.length > dest.length && !dirs.has(d); d = path.dirname(d)) dirs.add(d);
  };
  mkdirSync(dest, { recursive: true });
  for (const e of z.getEntries()) {
    const rel = safeEntryPath(e.entryName);
    let data: Buffer | null = null;
    try {
      if (!e.isDirectory) data = e.getData();
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (rel === null) continue;
    const target = path.join(dest, ...rel.split('/'));
    if (e.isDirectory) {
      ensure(target);
      continue;
    }
    ensure(path.dirname(target));
    writeFileSync(target, data!, { mode: 0o444 });
  }
  // Deepest first, so no folder is closed before its children are written.
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) chmodSync(d, 0o555);
  return { ok: true };
}

/** Text of one entry (exact name, `/` separators), or null when absent or unreadable. */
export function readEntryText(zip: Buffer | string, name: string): string | null {
  try {
    const z = open(zip);
    const e = z.getEntry(name);
    if (!e || e.isDirectory) return null;
    return e.getData().toString('utf8');
  } catch {
    return null;
  }
}

/** Function names in a zip the way Kudu's trigger extraction sees them: root host.json, then `<fn>/function.json`. */
export function zipFunctionNames(entries: string[]): string[] {
  const norm = entries.map((e) => e.replace(/\\/g, '/'));
  if (!norm.includes('host.json')) return [];
  const names = new Set<string>();
  for (const e of norm) {
    const m = /^([^/]+)\/function\.json$/.exec(e);
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}
