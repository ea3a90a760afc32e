import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createHttpClient, readStream } from '../../src/azure/http.js';
import {
  KuduClient,
  KuduError,
  classifyKuduAuthFailure,
  classifyPushConflict,
  deploymentOutcome,
  describeDeploymentState,
  nextPollDelay,
  scmBaseUrl,
  type KuduDeployment,
} from '../../src/azure/kudu.js';

describe('deployment status interpretation', () => {
  it('maps Kudu statuses 0..4 and complete onto running/succeeded/failed', () => {
    expect(deploymentOutcome({ status: 0, complete: false })).toBe('running');
    expect(deploymentOutcome({ status: 1, complete: false })).toBe('running');
    expect(deploymentOutcome({ status: 2 })).toBe('running');
    expect(deploymentOutcome({ status: 3, complete: true })).toBe('failed');
    expect(deploymentOutcome({ status: 4, complete: true })).toBe('succeeded');
    // complete without Success is not a success
    expect(deploymentOutcome({ status: 2, complete: true })).toBe('failed');
    // Flex-only numbers are never a full success
    expect(deploymentOutcome({ status: 6 })).toBe('failed');
    expect(deploymentOutcome({ status: -1 })).toBe('failed');
  });

  it('describes a state with its progress text', () => {
    expect(describeDeploymentState({ id: 'a', status: 1, progress: 'Extracting' })).toBe(
      'Building (Extracting)',
    );
    expect(describeDeploymentState({ id: 'a', status: 4, progress: '' })).toBe('Success');
  });

  it('waits per Retry-After within bounds, else backs off, never past the deadline', () => {
    const t = { minMs: 1000, maxMs: 10_000 };
    expect(nextPollDelay(30_000, 1, t)).toBe(10_000); // Kudu's fixed 30 s is capped
    expect(nextPollDelay(3000, 1, t)).toBe(3000);
    expect(nextPollDelay(undefined, 1, t)).toBe(1000);
    expect(nextPollDelay(undefined, 3, t)).toBe(4000);
    expect(nextPollDelay(undefined, 10, t)).toBe(10_000);
    expect(nextPollDelay(5000, 1, t, 1200)).toBe(1200);
  });

  it('classifies 409 bodies', () => {
    expect(
      classifyPushConflict(
        'There is a deployment currently in progress. Please try again when it completes.',
      ),
    ).toBe('in-progress');
    expect(
      classifyPushConflict(
        "The 'Preparing zip package' operation conflicts with the pending 'Deployment' operation started at x.  Please retry operation later.",
      ),
    ).toBe('in-progress');
    expect(
      classifyPushConflict(
        'Run-From-Zip is set to a remote URL using WEBSITE_USE_ZIP app setting. Deployment is not supported in this configuration.',
      ),
    ).toBe('url-mode');
    expect(
      classifyPushConflict(
        'There is an auto swap deployment currently ongoing please try again when it completes.',
      ),
    ).toBe('auto-swap');
  });

  it('explains SCM 401/403 by cause', () => {
    expect(
      classifyKuduAuthFailure(403, '<html>Error 403 - Forbidden</html>', 'text/html', 'bearer', undefined),
    ).toBe('scm-blocked');
    expect(classifyKuduAuthFailure(401, '', '', 'basic', false)).toBe('basic-disabled');
    expect(classifyKuduAuthFailure(401, '', '', 'basic', true)).toBe('basic-rejected');
    expect(classifyKuduAuthFailure(401, '', '', 'bearer', undefined)).toBe('bearer-rejected');
    expect(classifyKuduAuthFailure(403, '{"Message":"no"}', 'application/json', 'bearer', undefined)).toBe(
      'missing-role',
    );
  });

  it('reduces an SCM URL to its origin, dropping userinfo', () => {
    expect(scmBaseUrl('https://$app:pw@app.scm.example.net/some/path?q')).toBe('https://app.scm.example.net');
    expect(scmBaseUrl('app.scm.example.net:443')).toBe('https://app.scm.example.net');
  });
});

// A small Kudu stand-in: enough of the protocol to drive the client.
interface Seen {
  method: string;
  url: string;
  auth?: string;
  cookie?: string;
  contentType?: string;
  range?: string;
  bodyBytes: number;
}
const seen: Seen[] = [];
let server: http.Server;
let base = '';
let deployments: KuduDeployment[] = [];
let pollsUntilDone = 2;
let pushAnswer: 'accept' | 'busy' | 'url' | 'unauthorized' | 'blocked' = 'accept';

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', base);
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        auth: req.headers.authorization,
        cookie: req.headers.cookie,
        contentType: req.headers['content-type'],
        range: req.headers.range,
        bodyBytes: Buffer.concat(chunks).length,
      });
      const p = url.pathname;
      if (p === '/api/zipdeploy' && req.method === 'POST') {
        if (pushAnswer === 'busy') {
          res.writeHead(409, { 'Content-Type': 'text/plain' });
          return res.end('There is a deployment currently in progress. Please try again when it completes.');
        }
        if (pushAnswer === 'url') {
          res.writeHead(409, { 'Content-Type': 'text/plain' });
          return res.end(
            'Run-From-Zip is set to a remote URL using WEBSITE_USE_ZIP app setting. Deployment is not supported in this configuration.',
          );
        }
        if (pushAnswer === 'unauthorized') {
          res.writeHead(401);
          return res.end();
        }
        if (pushAnswer === 'blocked') {
          res.writeHead(403, { 'Content-Type': 'text/html' });
          return res.end(
            '<!DOCTYPE html><html><body>Error 403 - This web app is stopped or Ip Forbidden</body></html>',
          );
        }
        deployments.push({ id: 'new1', status: 0, complete: false, progress: '', received_time: 'now' });
        res.writeHead(202, {
          Location: `${base}/api/deployments/latest?deployer=runpack&time=2025-01-01_00-00-00Z`,
          'Retry-After': '30',
          'Set-Cookie':
            'ARRAffinity=abc123; Path=/; HttpOnly; Domain=example, ARRAffinitySameSite=abc123; Path=/; SameSite=None',
        });
        return res.end();
      }
      if (p === '/api/deployments/latest') {
        const latest = deployments[deployments.length - 1];
        if (!latest) return json(res, 404, { Message: "Deployment 'latest' not found." });
        return json(res, latest.complete ? 200 : 202, latest, latest.complete ? {} : { 'Retry-After': '30' });
      }
      const logMatch = /^\/api\/deployments\/([^/]+)\/log$/.exec(p);
      if (logMatch) {
        return json(res, 200, [
          { log_time: 't', id: 'l1', message: 'Received deployment', type: 0 },
          {
            log_time: 't',
            id: 'l2',
            message: 'Deployment failed',
            type: 2,
            details_url: `${base}/api/deployments/x/log/l2`,
          },
        ]);
      }
      if (p === '/api/deployments/x/log/l2')
        return json(res, 200, [{ message: 'zip is corrupt: central directory not found' }]);
      const depMatch = /^\/api\/deployments\/([^/]+)$/.exec(p);
      if (depMatch) {
        const d = deployments.find((x) => x.id === depMatch[1]);
        if (!d) return json(res, 404, { Message: 'not found' });
        pollsUntilDone--;
        if (pollsUntilDone === 1) d.status = 1;
        if (pollsUntilDone <= 0) {
          d.status = 4;
          d.complete = true;
        }
        return json(res, 200, d);
      }
      if (p === '/api/settings') return json(res, 200, { WEBSITE_RUN_FROM_PACKAGE: '1', OTHER: 'x' });
      if (p === '/api/vfs/data/SitePackages') {
        res.writeHead(307, { Location: `${base}/api/vfs/data/SitePackages/` });
        return res.end();
      }
      if (p === '/api/vfs/data/SitePackages/')
        return json(res, 200, [{ name: 'packagename.txt', mime: 'text/plain' }]);
      if (p === '/api/vfs/data/not-a-listing/') return json(res, 200, { Message: 'not a listing' });
      if (p === '/api/vfs/data/SitePackages/packagename.txt') {
        res.writeHead(200, { 'Content-Type': 'text/plain', ETag: '"0102"' });
        return res.end('20250101000000.zip');
      }
      if (p === '/api/vfs/data/SitePackages/bin.zip') {
        // Every byte value, like a zip's binary data; honours one Range like Kudu's VFS.
        const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
        if (!m) {
          res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': BIN.length });
          return res.end(BIN);
        }
        const start = Number(m[1]);
        if (start >= BIN.length) {
          res.writeHead(416, { 'Content-Range': `bytes */${BIN.length}` });
          return res.end();
        }
        const end = Math.min(Number(m[2]), BIN.length - 1);
        res.writeHead(206, {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `bytes ${start}-${end}/${BIN.length}`,
        });
        return res.end(BIN.subarray(start, end + 1));
      }
      json(res, 404, { Message: `'${p}' not found.` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen.length = 0;
  deployments = [{ id: 'old0', status: 4, complete: true, progress: '' }];
  pollsUntilDone = 3;
  pushAnswer = 'accept';
});

const noSleep = async () => undefined;
function client(authKind: 'bearer' | 'basic' = 'bearer') {
  return new KuduClient({
    http: createHttpClient({ sleep: noSleep }),
    scmUrl: base,
    authorization: async () => (authKind === 'bearer' ? 'Bearer tok' : 'Basic eA=='),
    authKind,
  });
}
const BIN = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256));
const zip = Buffer.from('PK\u0005\u0006' + '\0'.repeat(18), 'binary');

describe('KuduClient against a local Kudu stand-in', () => {
  it('pushes the zip async, follows Location past the previous record, pins the new id, reports each status', async () => {
    const kudu = client();
    const previous = await kudu.latestDeployment();
    expect(previous?.id).toBe('old0');
    const push = await kudu.zipDeploy({ body: () => Readable.from([zip]), size: zip.length, message: 'abc' });
    expect(push.kind).toBe('accepted');
    const zipReq = seen.find((s) => s.url.startsWith('/api/zipdeploy'))!;
    expect(zipReq.url).toContain('isAsync=true');
    expect(zipReq.bodyBytes).toBe(zip.length);
    expect(zipReq.auth).toBe('Bearer tok');
    expect(zipReq.contentType).toBe('application/zip');

    const states: string[] = [];
    // `latest` answers 202 with the pending record; the stand-in keeps the old record visible first.
    deployments.push(deployments.shift()!); // old0 is now latest again: the new record "not created yet"
    let swapped = false;
    const record = await kudu.pollDeployment(push.kind === 'accepted' ? push.location : '', {
      deadline: Date.now() + 30_000,
      previousId: 'old0',
      sleep: async () => {
        if (!swapped) {
          swapped = true;
        } else if (deployments[deployments.length - 1].id === 'old0') {
          deployments.push(deployments.shift()!);
        }
      },
      onStatus: (r) => states.push(describeDeploymentState(r)),
    });
    expect(record.id).toBe('new1');
    expect(deploymentOutcome(record)).toBe('succeeded');
    expect(states).toEqual(['Pending', 'Building', 'Success']);
    expect(seen.some((s) => s.url === '/api/deployments/new1')).toBe(true);
    // the affinity cookie set by the push came back on later calls
    const after = seen.filter((s) => s.url.startsWith('/api/deployments/new1'));
    expect(after.every((s) => s.cookie?.includes('ARRAffinity=abc123'))).toBe(true);
  });

  it('reports a lock conflict and a URL-mode conflict instead of throwing', async () => {
    pushAnswer = 'busy';
    const busy = await client().zipDeploy({ body: () => Readable.from([zip]) });
    expect(busy).toMatchObject({ kind: 'conflict', reason: 'in-progress' });
    pushAnswer = 'url';
    const url = await client().zipDeploy({ body: () => Readable.from([zip]) });
    expect(url).toMatchObject({ kind: 'conflict', reason: 'url-mode' });
  });

  it('asks for a new token once after a 401 to a bearer token, and sends the body again', async () => {
    pushAnswer = 'unauthorized';
    const asked: (boolean | undefined)[] = [];
    const kudu = new KuduClient({
      http: createHttpClient({ sleep: noSleep }),
      scmUrl: base,
      authorization: async (o) => (asked.push(o?.refresh), o?.refresh ? 'Bearer new' : 'Bearer old'),
      authKind: 'bearer',
    });
    await expect(kudu.zipDeploy({ body: () => Readable.from([zip]), size: zip.length })).rejects.toThrow(
      /refused the Entra token \(401\)/,
    );
    const pushes = seen.filter((x) => x.url.startsWith('/api/zipdeploy'));
    expect(pushes.map((x) => [x.auth, x.bodyBytes])).toEqual([
      ['Bearer old', zip.length],
      ['Bearer new', zip.length],
    ]);
    // Basic credentials are what they are: no second try.
    seen.length = 0;
    await expect(client('basic').zipDeploy({ body: () => Readable.from([zip]) })).rejects.toThrow();
    expect(seen.filter((x) => x.url.startsWith('/api/zipdeploy'))).toHaveLength(1);
  });

  it('explains 401 with Basic credentials and a 403 HTML page from the front end', async () => {
    pushAnswer = 'unauthorized';
    await expect(client('basic').zipDeploy({ body: () => Readable.from([zip]) })).rejects.toThrow(
      /refused the publishing credentials \(401\)/,
    );
    pushAnswer = 'blocked';
    const err = await client()
      .zipDeploy({ body: () => Readable.from([zip]) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KuduError);
    expect((err as KuduError).status).toBe(403);
    expect((err as Error).message).toMatch(/private endpoint or an access restriction/);
  });

  it('times out with the last known state when the deployment never ends', async () => {
    let offset = 0;
    deployments.push({ id: 'slow', status: 1, complete: false, progress: 'Building' });
    pollsUntilDone = 1000;
    await expect(
      client().pollDeployment('/api/deployments/latest', {
        deadline: Date.now() + 50_000,
        now: () => Date.now() + offset,
        sleep: async (ms) => {
          offset += ms;
        },
      }),
    ).rejects.toThrow(/did not finish the deployment within the budget \(deployment slow was still Building/);
  });

  it('times out saying no record appeared when `latest` keeps showing the previous deployment', async () => {
    let offset = 0;
    await expect(
      client().pollDeployment('/api/deployments/latest', {
        deadline: Date.now() + 30_000,
        previousId: 'old0',
        now: () => Date.now() + offset,
        sleep: async (ms) => {
          offset += ms;
        },
      }),
    ).rejects.toThrow(/no deployment record for this push appeared/);
  });

  it('reads the deployment log with error details', async () => {
    const log = await client().deploymentLog('x');
    expect(log.map((e) => e.message)).toEqual([
      'Received deployment',
      'Deployment failed',
      '  zip is corrupt: central directory not found',
    ]);
  });

  it('reads VFS files and directories (following the 307) and returns null for a missing file', async () => {
    const kudu = client();
    expect((await kudu.vfsGet('data/SitePackages/packagename.txt'))?.text).toBe('20250101000000.zip');
    const dir = await kudu.vfsGet('data/SitePackages');
    expect(JSON.parse(dir!.text)).toEqual([{ name: 'packagename.txt', mime: 'text/plain' }]);
    expect(await kudu.vfsGet('site/wwwroot/.runpack/release.json')).toBeNull();
  });

  it('lists a VFS folder, null when it is missing, and refuses an answer that is not a listing', async () => {
    const kudu = client();
    expect(await kudu.vfsList('data/SitePackages')).toEqual([
      { name: 'packagename.txt', mime: 'text/plain' },
    ]);
    expect(await kudu.vfsList('data/SitePackages/')).toEqual([
      { name: 'packagename.txt', mime: 'text/plain' },
    ]);
    expect(await kudu.vfsList('site/nothing')).toBeNull();
    await expect(kudu.vfsList('data/not-a-listing')).rejects.toThrow(/other than a directory listing/);
  });

  it('reads a binary VFS file byte for byte, whole, by range and as a stream', async () => {
    const kudu = client();
    const whole = await kudu.vfsGet('data/SitePackages/bin.zip');
    expect(whole?.status).toBe(200);
    expect(whole?.body.equals(BIN)).toBe(true);
    expect(whole?.size).toBe(BIN.length);

    const part = await kudu.vfsGet('data/SitePackages/bin.zip', { range: { start: 250, end: 265 } });
    expect(part?.status).toBe(206);
    expect(part?.size).toBe(BIN.length);
    expect(part?.body.equals(BIN.subarray(250, 266))).toBe(true);
    expect(seen.find((r) => r.url.endsWith('/bin.zip') && r.range === 'bytes=250-265')).toBeTruthy();

    const past = await kudu.vfsGet('data/SitePackages/bin.zip', { range: { start: 9999, end: 10000 } });
    expect(past?.status).toBe(416);

    const streamed = await kudu.vfsGet('data/SitePackages/bin.zip', { stream: true });
    expect(streamed?.body.length).toBe(0);
    expect((await readStream(streamed?.stream)).equals(BIN)).toBe(true);
  });

  it('a streamed read of a missing file is null (the 404 body is read, not left hanging)', async () => {
    const kudu = client();
    expect(await kudu.vfsGet('site/wwwroot/none.bin', { stream: true })).toBeNull();
  });

  it('reads the settings Kudu sees', async () => {
    expect((await client().settings()).WEBSITE_RUN_FROM_PACKAGE).toBe('1');
  });
});
