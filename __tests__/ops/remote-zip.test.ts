import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import AdmZip from 'adm-zip';
import type { HttpResponse } from '../../src/azure/http.js';
import { inspectRemoteArchive, rangeZipSource, totalFromContentRange } from '../../src/ops/remote-zip.js';
import { parseOpsFlags } from '../../src/ops/session.js';
import { UsageError } from '../../src/util/errors.js';

/** Serves a buffer by Range like Blob Storage, counting the bytes sent. */
function server(data: Buffer, options: { ignoreRange?: boolean } = {}) {
  const stats = { requests: 0, bytes: 0 };
  const fetch = async (start: number, end: number): Promise<HttpResponse> => {
    stats.requests++;
    const make = (status: number, body: Buffer, headers: Record<string, string>): HttpResponse => ({
      status,
      headers,
      body,
      text: () => body.toString('utf8'),
      json: <T>() => JSON.parse(body.toString('utf8')) as T,
    });
    if (options.ignoreRange) {
      stats.bytes += data.length;
      return make(200, data, { 'content-length': String(data.length) });
    }
    if (start >= data.length)
      return make(416, Buffer.alloc(0), { 'content-range': `bytes */${data.length}` });
    const body = data.subarray(start, Math.min(end, data.length - 1) + 1);
    stats.bytes += body.length;
    return make(206, body, { 'content-range': `bytes ${start}-${start + body.length - 1}/${data.length}` });
  };
  return { fetch, stats };
}

const STAMP = { runpack: 1, contentSha256: 'e'.repeat(64) };

function nodeZip(prefix = '', filler = 0): Buffer {
  const zip = new AdmZip();
  zip.addFile(`${prefix}package.json`, Buffer.from('{"name":"a","scripts":{"start":"node server.js"}}'));
  zip.addFile(`${prefix}server.js`, Buffer.from('require("http").createServer().listen(process.env.PORT)'));
  zip.addFile(`${prefix}.runpack/release.json`, Buffer.from(JSON.stringify(STAMP)));
  // Incompressible data makes the archive large without adding entries.
  if (filler) zip.addFile(`${prefix}assets/blob.bin`, randomBytes(filler));
  return zip.toBuffer();
}

describe('rangeZipSource + inspectRemoteArchive', () => {
  it('inspects a large package from its central directory without downloading it', async () => {
    const data = nodeZip('', 3 * 1024 * 1024);
    const { fetch, stats } = server(data);
    const a = await inspectRemoteArchive(await rangeZipSource(fetch, 'the package'), {});
    expect(a).toMatchObject({ opened: true, runtime: 'node', entryPoint: 'server.js', problems: [] });
    expect(a.stamp).toEqual(STAMP);
    expect(stats.bytes).toBeLessThan(data.length / 4);
  });

  it('reports a nested root', async () => {
    const { fetch } = server(nodeZip('app/'));
    const a = await inspectRemoteArchive(await rangeZipSource(fetch, 'the package'), {});
    expect(a.opened).toBe(true);
    expect(a.problems.map((p) => p.code)).toContain('nested-root');
  });

  it('reports something that is not a zip, and an empty body', async () => {
    const html = await inspectRemoteArchive(
      await rangeZipSource(server(Buffer.from('<html>not a zip</html>')).fetch, 'x'),
      {},
    );
    expect(html.opened).toBe(false);
    expect(html.error).toBeTruthy();
    const empty = await inspectRemoteArchive(await rangeZipSource(server(Buffer.alloc(0)).fetch, 'x'), {});
    expect(empty.opened).toBe(false);
  });

  it('still works against a server that ignores Range', async () => {
    const { fetch } = server(nodeZip(), { ignoreRange: true });
    const a = await inspectRemoteArchive(await rangeZipSource(fetch, 'x'), {});
    expect(a.entryPoint).toBe('server.js');
  });

  it('fails with the status and storage error code when the read is refused', async () => {
    const refuse = async (): Promise<HttpResponse> => ({
      status: 403,
      headers: { 'x-ms-error-code': 'AuthorizationFailure' },
      body: Buffer.alloc(0),
      text: () => '',
      json: <T>() => null as T,
    });
    await expect(rangeZipSource(refuse, 'the package')).rejects.toThrow(/403 AuthorizationFailure/);
  });

  it('reads the total from Content-Range', () => {
    expect(totalFromContentRange('bytes 0-0/12345')).toBe(12345);
    expect(totalFromContentRange(undefined)).toBeUndefined();
  });
});

describe('parseOpsFlags', () => {
  it('takes the action input names and the command’s own flags', () => {
    const f = parseOpsFlags(
      ['--app-name', 'web', '--slot=staging', '--release', 'previous', '--dry-run', '--json'],
      'rollback',
      ['release'],
      {},
    );
    expect(f.inputs.appName).toBe('web');
    expect(f.inputs.slot).toBe('staging');
    expect(f.inputs.container).toBe('app-packages');
    expect(f.extra.get('release')).toBe('previous');
    expect(f.dryRun).toBe(true);
    expect(f.json).toBe(true);
    // The default container is not a choice the user made; --container is.
    expect(f.given.has('container')).toBe(false);
    const g = parseOpsFlags(['--app-name', 'web', '--container=pkgs'], 'releases', ['keep'], {});
    expect(g.given.has('container')).toBe(true);
    expect(g.inputs.container).toBe('pkgs');
  });

  it('refuses unknown flags, missing values and a missing app name with one line each', () => {
    expect(() => parseOpsFlags(['--app-name', 'web', '--package', '.'], 'diagnose', [], {})).toThrow(
      UsageError,
    );
    expect(() => parseOpsFlags(['--app-name'], 'diagnose', [], {})).toThrow(/needs a value/);
    expect(() => parseOpsFlags(['--slot', 'x'], 'releases', ['keep'], {})).toThrow(/--app-name' is required/);
    expect(() => parseOpsFlags(['--app-name', 'bad_name!'], 'diagnose', [], {})).toThrow(/app-name/);
  });

  it('registers the client secret of --creds before anything can print it', () => {
    const creds = JSON.stringify({
      clientId: '11111111-1111-4111-8111-111111111111',
      clientSecret: 'very-secret-value',
      tenantId: 'contoso.onmicrosoft.com',
    });
    const f = parseOpsFlags(['--app-name', 'web', '--creds', creds], 'diagnose', [], {});
    expect(f.secrets.redact('x very-secret-value y')).toBe('x *** y');
  });
});
