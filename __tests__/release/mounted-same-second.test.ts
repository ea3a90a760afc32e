import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpClient } from '../../src/azure/http.js';
import { KuduClient } from '../../src/azure/kudu.js';
import { storedPackageIsOurs } from '../../src/release/mounted.js';

// Kudu names stored packages by UTC second: a push right after another, in the same second, reuses the name.
let listing: unknown = [];
let server: http.Server;
let base = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/api/vfs/data/SitePackages/') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(typeof listing === 'string' ? listing : JSON.stringify(listing));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"Message":"not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const kudu = () =>
  new KuduClient({
    http: createHttpClient({ sleep: async () => undefined }),
    scmUrl: base,
    authorization: async () => 'Bearer tok',
    authKind: 'bearer',
  });
const zipBytes = 4242;
const record = { received_time: '2026-11-25T05:08:35.100Z' };
const entry = (size: number, mtime: string) => ({
  name: '20261125050835.zip',
  size,
  mtime,
  mime: 'application/zip',
});

describe('a same-second push that reuses the package name', () => {
  it('is ours when the stored zip has our size and was written during this deployment', async () => {
    listing = [entry(4242, '2026-11-25T05:08:35.900Z')];
    expect(await storedPackageIsOurs(kudu(), '20261125050835.zip', zipBytes, record)).toBe(true);
  });

  it('is not ours when the stored zip predates the push or has another size', async () => {
    listing = [entry(4242, '2026-11-25T05:08:30.000Z')];
    expect(await storedPackageIsOurs(kudu(), '20261125050835.zip', zipBytes, record)).toBe(false);
    listing = [entry(9999, '2026-11-25T05:08:35.900Z')];
    expect(await storedPackageIsOurs(kudu(), '20261125050835.zip', zipBytes, record)).toBe(false);
  });

  it('is not ours when the name is not listed or the listing is unreadable', async () => {
    listing = [{ ...entry(4242, '2026-11-25T05:08:35.900Z'), name: 'other.zip' }];
    expect(await storedPackageIsOurs(kudu(), '20261125050835.zip', zipBytes, record)).toBe(false);
    listing = 'not json';
    expect(await storedPackageIsOurs(kudu(), '20261125050835.zip', zipBytes, record)).toBe(false);
  });
});
