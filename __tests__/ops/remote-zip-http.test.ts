/**
 * Forged archives served over HTTP range requests through the Kudu client (as a stored local-mode package
 * is read): the damage the zip reader finds in the central directory reaches the evidence.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import AdmZip from 'adm-zip';
import { createHttpClient } from '../../src/azure/http.js';
import { KuduClient } from '../../src/azure/kudu.js';
import { kuduRange } from '../../src/ops/collect.js';
import { inspectRemoteArchive, rangeZipSource } from '../../src/ops/remote-zip.js';

const files = new Map<string, Buffer>();
const ranges: string[] = [];
let server: http.Server;
let base = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(
      '/api/vfs/data/SitePackages/',
      '',
    );
    const data = files.get(name);
    if (!data) {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"Message":"not found"}');
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!m) {
      res.writeHead(200, { 'Content-Length': data.length }).end(data);
      return;
    }
    ranges.push(req.headers.range!);
    const start = Number(m[1]);
    if (start >= data.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${data.length}` }).end();
      return;
    }
    const end = Math.min(Number(m[2]), data.length - 1);
    res
      .writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${data.length}` })
      .end(data.subarray(start, end + 1));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const kudu = () =>
  new KuduClient({
    http: createHttpClient({ sleep: async () => undefined }),
    scmUrl: base,
    authorization: async () => 'Bearer t',
    authKind: 'bearer',
  });

async function inspectServed(name: string, data: Buffer) {
  files.set(name, data);
  const fetch = kuduRange(kudu(), `data/SitePackages/${name}`, Date.now() + 30_000);
  return inspectRemoteArchive(await rangeZipSource(fetch, name), {});
}

function nodeApp(): AdmZip {
  const zip = new AdmZip();
  zip.addFile('package.json', Buffer.from('{"name":"a","scripts":{"start":"node server.js"}}'));
  zip.addFile(
    'server.js',
    Buffer.from('require("http").createServer().listen(process.env.PORT);\n'.repeat(40)),
  );
  zip.addFile('lib/util.js', Buffer.from('module.exports = 1;\n'));
  return zip;
}

/** Central directory records of a zip without a comment: offset of each record and of the end record. */
function layout(buf: Buffer): { eocd: number; records: { at: number; name: string }[] } {
  const eocd = buf.length - 22;
  expect(buf.readUInt32LE(eocd)).toBe(0x06054b50);
  const records: { at: number; name: string }[] = [];
  let at = buf.readUInt32LE(eocd + 16);
  for (let i = 0; i < buf.readUInt16LE(eocd + 10); i++) {
    expect(buf.readUInt32LE(at)).toBe(0x02014b50);
    const n = buf.readUInt16LE(at + 28);
    records.push({ at, name: buf.subarray(at + 46, at + 46 + n).toString('utf8') });
    at += 46 + n + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
  }
  return { eocd, records };
}

const record = (buf: Buffer, name: string) => layout(buf).records.find((r) => r.name === name)!.at;
const codes = (a: { problems: { code: string }[] }) => a.problems.map((p) => p.code);
const messages = (a: { problems: { message: string }[] }) => a.problems.map((p) => p.message).join('\n');

describe('remote inspection of forged archives over HTTP range reads', () => {
  it('a sound package opens clean, read by range only', async () => {
    ranges.length = 0;
    const a = await inspectServed('ok.zip', nodeApp().toBuffer());
    expect(a).toMatchObject({ opened: true, runtime: 'node', entryPoint: 'server.js' });
    expect(a.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(ranges.length).toBeGreaterThan(0);
  });

  it('reports entries whose data overlap', async () => {
    const buf = nodeApp().toBuffer();
    // lib/util.js now claims to start where package.json does.
    buf.writeUInt32LE(buf.readUInt32LE(record(buf, 'package.json') + 42), record(buf, 'lib/util.js') + 42);
    const a = await inspectServed('overlap.zip', buf);
    expect(a.opened).toBe(true);
    expect(codes(a)).toContain('corrupt-archive');
    expect(messages(a)).toMatch(/overlaps the data of/);
  });

  it('reports a forged size beyond what deflate can produce (a zip bomb)', async () => {
    const buf = nodeApp().toBuffer();
    const at = record(buf, 'server.js');
    expect(buf.readUInt16LE(at + 10)).toBe(8);
    buf.writeUInt32LE(0x7ffffff0, at + 24);
    const a = await inspectServed('bomb.zip', buf);
    expect(messages(a)).toMatch(/'server\.js' declares 2147483632 bytes .*zip bomb/);
  });

  it('reports an end record that declares more entries than the directory holds', async () => {
    const buf = nodeApp().toBuffer();
    const { eocd, records } = layout(buf);
    buf.writeUInt16LE(records.length + 2, eocd + 8);
    buf.writeUInt16LE(records.length + 2, eocd + 10);
    const a = await inspectServed('count.zip', buf);
    expect(messages(a)).toMatch(/declares 5 entries but the central directory holds 3/);
  });

  it('reads link targets: a link inside the package is a warning, one leaving it an error', async () => {
    const link = (target: string) => {
      const zip = nodeApp();
      zip.addFile('current', Buffer.from(target));
      const buf = zip.toBuffer();
      // Made by Unix, with a symbolic link's mode in the external attributes.
      const at = record(buf, 'current');
      buf.writeUInt16LE((3 << 8) | 20, at + 4);
      buf.writeUInt32LE(0o120777 * 0x10000, at + 38);
      return buf;
    };
    const inside = await inspectServed('link-in.zip', link('lib/util.js'));
    const outside = await inspectServed('link-out.zip', link('../../etc/passwd'));
    expect(inside.problems.filter((p) => p.code === 'symlink').map((p) => p.severity)).toEqual(['warning']);
    expect(outside.problems.filter((p) => p.code === 'symlink').map((p) => p.severity)).toEqual(['error']);
  });

  it('a stored package that is gone fails the range read with its status', async () => {
    const fetch = kuduRange(kudu(), 'data/SitePackages/none.zip', Date.now() + 30_000);
    await expect(rangeZipSource(fetch, 'none.zip')).rejects.toThrow(/answered 404/);
  });
});
