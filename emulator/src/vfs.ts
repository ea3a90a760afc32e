/**
 * Kudu's virtual file system, `GET|HEAD|PUT|DELETE /api/vfs/{path}` (API-SPEC §2.6). The root is the site's
 * %HOME%. Under run-from-package `site/wwwroot` shows the read-only mount, and writes there fail with 409.
 */
import { promises as fsp, type BigIntStats } from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import type { Site } from './model.js';

export interface VfsTarget {
  site: Site;
  /** The read-only directory mounted as wwwroot, or null when wwwroot is the plain folder in %HOME%. */
  mountedDir: string | null;
  /** `https://<host the client used>`, for `href` values and redirects. */
  baseUrl: string;
}

const TICKS_AT_EPOCH = 621355968000000000n;

/** Kudu's ETag: the little-endian bytes of LastWriteTimeUtc.Ticks as quoted hex. */
export function etagFor(stats: BigIntStats): string {
  const ticks = stats.mtimeNs / 100n + TICKS_AT_EPOCH;
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(ticks);
  return `"${b.toString('hex')}"`;
}

const MIME: Record<string, string> = {
  '.txt': 'text/plain',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.json': 'application/json',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.zip': 'application/x-zip-compressed',
  '.xml': 'text/xml',
  '.dll': 'application/x-msdownload',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

export function mimeFor(name: string): string {
  return MIME[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** The path Kudu prints: `/home/…` on Linux, `D:\home\…` on Windows. */
export function displayPath(site: Site, segments: string[]): string {
  if (site.reserved) return ['/home', ...segments].join('/');
  return ['D:\\home', ...segments].join('\\');
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function message(
  res: http.ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { Message: text }, headers);
}

/** Kudu's answer when writing (or deleting) a file fails: 409 with the IO error, e.g. on the read-only mount. */
function writeFailed(res: http.ServerResponse, site: Site, shown: string, err: unknown): void {
  message(
    res,
    409,
    `Could not write to local resource '${shown}' due to error '${writeErrorText(site, shown, err)}'.`,
  );
}

const READ_ONLY = (): Error => Object.assign(new Error('read-only'), { code: 'EROFS' });

/**
 * Kudu's If-Match rule for changing an existing file (PUT and DELETE alike): 412 without the header or when no tag
 * is `*` or the current ETag. Returns true when it answered.
 */
function ifMatchRefused(req: http.IncomingMessage, res: http.ServerResponse, stats: BigIntStats): boolean {
  const current = etagFor(stats);
  const ifMatch = req.headers['if-match'];
  if (!ifMatch) {
    message(
      res,
      412,
      'Updating an existing resource requires an If-Match header carrying a single, strong ETag.',
    );
    return true;
  }
  const tags = ifMatch.split(',').map((t) => t.trim());
  if (!tags.includes('*') && !tags.includes(current)) {
    message(res, 412, 'ETag does not represent the latest state of the resource.', { etag: current });
    return true;
  }
  return false;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function statOrNull(p: string): Promise<BigIntStats | null> {
  try {
    return await fsp.stat(p, { bigint: true });
  } catch {
    return null;
  }
}

function isoOffset(d: Date): string {
  return d.toISOString().replace('Z', '+00:00');
}

function writeErrorText(site: Site, shown: string, err: unknown): string {
  if (err instanceof Error && 'code' in err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return site.reserved
        ? `Read-only file system : '${shown}'`
        : `Access to the path '${shown}' is denied.`;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Serve one VFS request. `vfsPath` is the part of the URL path after `/api/vfs` (still percent-encoded),
 * e.g. `/site/wwwroot/` or `/data/SitePackages/packagename.txt`.
 */
export async function handleVfs(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  target: VfsTarget,
  vfsPath: string,
  query: string,
): Promise<void> {
  const { site } = target;
  let segments: string[];
  try {
    segments = vfsPath
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    message(res, 400, 'The path is not valid.');
    return;
  }
  if (segments.some((s) => s === '..' || s === '.' || s.includes('/') || s.includes('\\'))) {
    message(res, 400, 'The path is not valid.');
    return;
  }
  const wantsDir = vfsPath === '' || vfsPath.endsWith('/');
  const inMount =
    target.mountedDir !== null &&
    segments.length >= 2 &&
    segments[0].toLowerCase() === 'site' &&
    segments[1].toLowerCase() === 'wwwroot';
  const physical = inMount
    ? path.join(target.mountedDir as string, ...segments.slice(2))
    : path.join(site.homeDir, ...segments);
  const shown = displayPath(site, segments);
  const encoded = segments.map((s) => encodeURIComponent(s)).join('/');
  const selfUrl = `${target.baseUrl}/api/vfs/${encoded}`;
  const q = query ? `?${query}` : '';
  const method = (req.method ?? 'GET').toUpperCase();
  const stats = await statOrNull(physical);

  if (method === 'GET' || method === 'HEAD') {
    if (!stats) {
      message(res, 404, `'${shown}' not found.`);
      return;
    }
    if (stats.isDirectory() && !wantsDir) {
      res.writeHead(307, { location: `${selfUrl}/${q}`, 'content-length': 0 }).end();
      return;
    }
    if (!stats.isDirectory() && wantsDir) {
      res.writeHead(307, { location: `${selfUrl}${q}`, 'content-length': 0 }).end();
      return;
    }
    if (stats.isDirectory()) {
      const names = (await fsp.readdir(physical)).sort((a, b) => a.localeCompare(b));
      const entries = [];
      for (const name of names) {
        const s = await statOrNull(path.join(physical, name));
        if (!s) continue;
        const dir = s.isDirectory();
        const childSegs = [...segments, name];
        entries.push({
          name,
          size: dir ? 0 : Number(s.size),
          mtime: isoOffset(new Date(Number(s.mtimeMs))),
          crtime: isoOffset(new Date(Number(s.birthtimeMs || s.ctimeMs))),
          mime: dir ? 'inode/directory' : mimeFor(name),
          href: `${target.baseUrl}/api/vfs/${childSegs.map((x) => encodeURIComponent(x)).join('/')}${dir ? '/' : ''}`,
          path: displayPath(site, childSegs),
        });
      }
      const body = JSON.stringify(entries);
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    const etag = etagFor(stats);
    const size = Number(stats.size);
    const range = req.headers.range;
    const ifRangeRaw = req.headers['if-range'];
    const ifRange = Array.isArray(ifRangeRaw) ? ifRangeRaw[0] : ifRangeRaw;
    const m = range ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
    const isRange = m !== null && (m[1] !== '' || m[2] !== '') && (!ifRange || ifRange.trim() === etag);
    // If-None-Match only counts an exact ETag, and not for range requests (Kudu VfsController)
    const inm = req.headers['if-none-match'];
    if (!isRange && inm && inm.split(',').some((t) => t.trim() === etag)) {
      res.writeHead(304, { etag }).end();
      return;
    }
    const common = {
      etag,
      'content-type': mimeFor(physical),
      'last-modified': new Date(Number(stats.mtimeMs)).toUTCString(),
      'accept-ranges': 'bytes',
    };
    if (m && isRange) {
      let start: number;
      let end: number;
      if (m[1] === '') {
        start = Math.max(0, size - Number(m[2]));
        end = size - 1;
      } else {
        start = Number(m[1]);
        end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      }
      if (start >= size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      const fh = await fsp.open(physical, 'r');
      try {
        const buf = Buffer.alloc(end - start + 1);
        await fh.read(buf, 0, buf.length, start);
        res.writeHead(206, {
          ...common,
          'content-range': `bytes ${start}-${end}/${size}`,
          'content-length': buf.length,
        });
        res.end(method === 'HEAD' ? undefined : buf);
      } finally {
        await fh.close();
      }
      return;
    }
    const body = await fsp.readFile(physical);
    res.writeHead(200, { ...common, 'content-length': body.length });
    res.end(method === 'HEAD' ? undefined : body);
    return;
  }

  if (method === 'PUT') {
    const body = await readBody(req);
    if (inMount) {
      writeFailed(res, site, shown, READ_ONLY());
      return;
    }
    if (wantsDir) {
      if (stats?.isDirectory()) {
        message(res, 409, 'The resource represents a directory which can not be updated.');
        return;
      }
      try {
        await fsp.mkdir(physical, { recursive: true });
      } catch (err) {
        writeFailed(res, site, shown, err);
        return;
      }
      res.writeHead(201, { 'content-length': 0 }).end();
      return;
    }
    if (stats?.isDirectory()) {
      message(res, 409, 'The resource represents a directory which can not be updated.');
      return;
    }
    if (stats && ifMatchRefused(req, res, stats)) return;
    try {
      await fsp.mkdir(path.dirname(physical), { recursive: true });
      await fsp.writeFile(physical, body);
    } catch (err) {
      writeFailed(res, site, shown, err);
      return;
    }
    const after = await fsp.stat(physical, { bigint: true });
    res.writeHead(stats ? 204 : 201, { etag: etagFor(after), 'content-length': 0 }).end();
    return;
  }

  if (method === 'DELETE') {
    await readBody(req);
    if (inMount && stats) {
      writeFailed(res, site, shown, READ_ONLY());
      return;
    }
    if (!stats) {
      message(res, 404, `'${shown}' not found.`);
      return;
    }
    if (stats.isDirectory()) {
      const recursive = new URLSearchParams(query).get('recursive')?.toLowerCase() === 'true';
      try {
        if (recursive) await fsp.rm(physical, { recursive: true });
        else await fsp.rmdir(physical);
      } catch {
        message(res, 409, 'Cannot delete directory. It is either not empty or access is not allowed.');
        return;
      }
      res.writeHead(200, { 'content-length': 0 }).end();
      return;
    }
    // Kudu reuses the PUT text without If-Match (VfsController.CreateFileDeleteResponse).
    if (ifMatchRefused(req, res, stats)) return;
    try {
      await fsp.unlink(physical);
    } catch (err) {
      writeFailed(res, site, shown, err);
      return;
    }
    res.writeHead(200, { 'content-length': 0 }).end();
    return;
  }

  res.writeHead(405, { allow: 'GET, HEAD, PUT, DELETE', 'content-length': 0 }).end();
}
