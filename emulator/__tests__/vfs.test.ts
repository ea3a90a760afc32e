import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { promises as fsp } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import {
  addSite,
  createTestContext,
  makeZip,
  serveSite,
  setSettings,
  waitFor,
  type SiteServers,
  type TestContext,
} from './helpers/kudu-context.js';
import type { Site } from '../src/model.js';
import { etagFor } from '../src/vfs.js';

let ctx: TestContext;
let site: Site;
let win: Site;
let s: SiteServers;
let ws: SiteServers;

beforeAll(async () => {
  ctx = createTestContext();
  site = addSite(ctx, { appName: 'vfsapp' });
  win = addSite(ctx, { appName: 'vfswin', kind: 'app', reserved: false });
  s = await serveSite(ctx, site);
  ws = await serveSite(ctx, win);
});

afterAll(async () => {
  await s.close();
  await ws.close();
  await ctx.cleanup();
});

const vfs = (p: string, init: RequestInit = {}, srv: SiteServers = s): Promise<Response> =>
  fetch(`${srv.scmUrl}/api/vfs/${p}`, {
    redirect: 'manual',
    ...init,
    headers: { authorization: srv.basic, ...(init.headers as Record<string, string>) },
  });

describe('checklist 20: VFS contract', () => {
  it('PUT creates (201 + ETag), requires If-Match to update (412), accepts * or the ETag (204)', async () => {
    const created = await vfs('site/wwwroot/a.txt', { method: 'PUT', body: 'one' });
    expect(created.status).toBe(201);
    const etag = created.headers.get('etag') as string;
    expect(etag).toMatch(/^"[0-9a-f]{16}"$/);

    const noMatch = await vfs('site/wwwroot/a.txt', { method: 'PUT', body: 'two' });
    expect(noMatch.status).toBe(412);
    expect(((await noMatch.json()) as { Message: string }).Message).toBe(
      'Updating an existing resource requires an If-Match header carrying a single, strong ETag.',
    );

    const stale = await vfs('site/wwwroot/a.txt', {
      method: 'PUT',
      body: 'two',
      headers: { 'if-match': '"0000000000000000"' },
    });
    expect(stale.status).toBe(412);
    expect(((await stale.json()) as { Message: string }).Message).toBe(
      'ETag does not represent the latest state of the resource.',
    );
    expect(stale.headers.get('etag')).toBe(etag);

    await new Promise((r) => setTimeout(r, 15));
    const updated = await vfs('site/wwwroot/a.txt', {
      method: 'PUT',
      body: 'two',
      headers: { 'if-match': etag },
    });
    expect(updated.status).toBe(204);
    const etag2 = updated.headers.get('etag') as string;
    expect(etag2).not.toBe(etag);
    expect(
      (await vfs('site/wwwroot/a.txt', { method: 'PUT', body: 'three', headers: { 'if-match': '*' } }))
        .status,
    ).toBe(204);

    const got = await vfs('site/wwwroot/a.txt');
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('three');
    const again = await vfs('site/wwwroot/a.txt', {
      headers: { 'if-none-match': got.headers.get('etag') as string },
    });
    expect(again.status).toBe(304);
  });

  it('ETag is the little-endian hex of LastWriteTimeUtc ticks', async () => {
    const file = path.join(site.homeDir, 'site', 'wwwroot', 'tick.txt');
    await fsp.writeFile(file, 'x');
    const when = new Date('2025-03-14T09:30:15.000Z');
    await fsp.utimes(file, when, when);
    const ticks = BigInt(when.getTime()) * 10000n + 621355968000000000n;
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(ticks);
    const r = await vfs('site/wwwroot/tick.txt');
    expect(r.headers.get('etag')).toBe(`"${b.toString('hex')}"`);
    expect(etagFor(await fsp.stat(file, { bigint: true }))).toBe(`"${b.toString('hex')}"`);
  });

  it('redirects a directory without a slash and a file with one (307)', async () => {
    const dir = await vfs('site/wwwroot');
    expect(dir.status).toBe(307);
    expect(new URL(dir.headers.get('location') as string).pathname).toBe('/api/vfs/site/wwwroot/');
    const file = await vfs('site/wwwroot/a.txt/');
    expect(file.status).toBe(307);
    expect(new URL(file.headers.get('location') as string).pathname).toBe('/api/vfs/site/wwwroot/a.txt');
  });

  it('lists a directory as Kudu stat entries', async () => {
    await vfs('site/wwwroot/sub/', { method: 'PUT' });
    const r = await vfs('site/wwwroot/');
    expect(r.status).toBe(200);
    const list = (await r.json()) as Record<string, unknown>[];
    const a = list.find((e) => e.name === 'a.txt') as Record<string, unknown>;
    expect(Object.keys(a).sort()).toEqual(['crtime', 'href', 'mime', 'mtime', 'name', 'path', 'size']);
    expect(a).toMatchObject({ size: 5, mime: 'text/plain', path: '/home/site/wwwroot/a.txt' });
    expect(String(a.href)).toMatch(/^https:\/\/.*\/api\/vfs\/site\/wwwroot\/a\.txt$/);
    expect(String(a.mtime)).toMatch(/\+00:00$/);
    const sub = list.find((e) => e.name === 'sub') as Record<string, unknown>;
    expect(sub).toMatchObject({ size: 0, mime: 'inode/directory', path: '/home/site/wwwroot/sub' });
    expect(String(sub.href).endsWith('/sub/')).toBe(true);
  });

  it('uses D:\\home paths on Windows and a 404 message with the full path', async () => {
    const r = await vfs('site/wwwroot/missing.txt', {}, ws);
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ Message: "'D:\\home\\site\\wwwroot\\missing.txt' not found." });
  });

  it('PUT on an existing directory is 409; DELETE needs If-Match; non-empty directories need recursive', async () => {
    const d = await vfs('site/wwwroot/sub/', { method: 'PUT' });
    expect(d.status).toBe(409);
    expect(((await d.json()) as { Message: string }).Message).toBe(
      'The resource represents a directory which can not be updated.',
    );
    expect((await vfs('site/wwwroot/sub/f.txt', { method: 'PUT', body: 'x' })).status).toBe(201);
    expect((await vfs('site/wwwroot/sub/f.txt', { method: 'DELETE' })).status).toBe(412);
    const nonEmpty = await vfs('site/wwwroot/sub/', { method: 'DELETE' });
    expect(nonEmpty.status).toBe(409);
    expect(((await nonEmpty.json()) as { Message: string }).Message).toBe(
      'Cannot delete directory. It is either not empty or access is not allowed.',
    );
    expect((await vfs('site/wwwroot/sub/?recursive=true', { method: 'DELETE' })).status).toBe(200);
    expect((await vfs('site/wwwroot/sub/')).status).toBe(404);
    expect((await vfs('site/wwwroot/a.txt', { method: 'DELETE', headers: { 'if-match': '*' } })).status).toBe(
      200,
    );
    expect((await vfs('site/wwwroot/a.txt', { method: 'DELETE', headers: { 'if-match': '*' } })).status).toBe(
      404,
    );
  });

  it('supports Range requests (206)', async () => {
    await vfs('data/range.txt', { method: 'PUT', body: '0123456789' });
    const r = await vfs('data/range.txt', { headers: { range: 'bytes=2-4' } });
    expect(r.status).toBe(206);
    expect(await r.text()).toBe('234');
    expect(r.headers.get('content-range')).toBe('bytes 2-4/10');
    // If-Range with another ETag gives the whole file; If-None-Match: * is not a match for Kudu
    const full = await vfs('data/range.txt', {
      headers: { range: 'bytes=2-4', 'if-range': '"0000000000000000"' },
    });
    expect(full.status).toBe(200);
    expect(await full.text()).toBe('0123456789');
    expect((await vfs('data/range.txt', { headers: { 'if-none-match': '*' } })).status).toBe(200);
    const del = await vfs('data/range.txt', { method: 'DELETE' });
    expect(del.status).toBe(412);
    expect(((await del.json()) as { Message: string }).Message).toBe(
      'Updating an existing resource requires an If-Match header carrying a single, strong ETag.',
    );
  });

  it('refuses paths that climb out of %HOME%', async () => {
    // a raw request: fetch would normalise the dots away before sending
    const got = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const u = new URL(s.scmUrl);
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: '/api/vfs/site/%2E%2E/%2E%2E/%2E%2E/etc/passwd',
          headers: { authorization: s.basic },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(got.status).toBe(404);
    expect(got.body).not.toContain('root:');
  });
});

describe('checklist 19: read-only wwwroot under run-from-package', () => {
  it('shows the mounted package; PUT and DELETE there fail 409; data/SitePackages stays writable', async () => {
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    const up = await fetch(`${s.scmUrl}/api/zipdeploy`, {
      method: 'POST',
      headers: { authorization: s.basic },
      body: makeZip({ 'index.html': '<h1>pkg</h1>', 'version.txt': 'mounted' }),
    });
    expect(up.status).toBe(200);
    await waitFor(() => (s.worker.state() === 'running' && s.worker.mounted().source ? true : undefined));

    const list = (await (await vfs('site/wwwroot/')).json()) as { name: string }[];
    expect(list.map((e) => e.name).sort()).toEqual(['index.html', 'version.txt']);
    expect(await (await vfs('site/wwwroot/version.txt')).text()).toBe('mounted');

    const put = await vfs('site/wwwroot/new.txt', { method: 'PUT', body: 'x' });
    expect(put.status).toBe(409);
    expect(((await put.json()) as { Message: string }).Message).toMatch(
      /^Could not write to local resource '\/home\/site\/wwwroot\/new\.txt' due to error '.+'\.$/,
    );
    const del = await vfs('site/wwwroot/version.txt', { method: 'DELETE', headers: { 'if-match': '*' } });
    expect(del.status).toBe(409);

    const pkg = await vfs('data/SitePackages/extra.zip', { method: 'PUT', body: 'x' });
    expect(pkg.status).toBe(201);
    const pointer = await vfs('data/SitePackages/packagename.txt');
    expect(await pointer.text()).toMatch(/^\d{14}\.zip$/);
  });
});
