import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createHttpClient,
  describeRetry,
  networkAdvice,
  parseRetryAfter,
  readStream,
  redactUrl,
} from '../../src/azure/http.js';
import { RunpackError } from '../../src/util/errors.js';

type Script = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let script: Script = (_req, res) => res.end('ok');
let base = '';
const seen: { method: string; url: string; auth?: string; body: string }[] = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
    script(req, res, body);
  });
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

/** A fake clock: sleeping moves time forward instantly and records each wait. */
function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  const waits: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      waits.push(ms);
      t += ms;
    },
    waits,
  };
}

describe('networkAdvice', () => {
  it('names what to check on the runner for each kind of connection failure', () => {
    expect(networkAdvice('self-signed certificate in certificate chain', {})).toMatch(/NODE_EXTRA_CA_CERTS/);
    expect(networkAdvice('getaddrinfo ENOTFOUND app.example', {})).toMatch(/does not resolve.*DNS.*NO_PROXY/);
    expect(
      networkAdvice('connect ECONNREFUSED 127.0.0.1:9', { HTTPS_PROXY: 'http://user:pw@proxy.corp:3128' }),
    ).toBe('the proxy proxy.corp:3128 (HTTPS_PROXY) refused the connection: check HTTPS_PROXY and NO_PROXY');
    expect(networkAdvice('connect ECONNREFUSED 127.0.0.1:9', {})).toMatch(/check the network, proxy/);
  });
});

describe('redactUrl', () => {
  it('removes the SAS signature and any userinfo', () => {
    const out = redactUrl('https://$app:s3cretpw@host.example/c/b.zip?sv=2022&sp=r&sig=AbC%2Bdef%3D&si=p');
    expect(out).not.toContain('s3cretpw');
    expect(out).not.toContain('AbC');
    expect(out).toContain('sp=r');
    expect(out).toContain('host.example/c/b.zip');
  });
});

describe('describeRetry', () => {
  it('names the service, the status or the network error, the wait and the next attempt', () => {
    expect(describeRetry({ service: 'Kudu', status: 503, waitMs: 2500, attempt: 1 })).toBe(
      'Kudu answered 503; retrying in 2.5 s (attempt 2).',
    );
    expect(describeRetry({ service: 'Blob Storage', error: 'ECONNRESET', waitMs: 1000, attempt: 2 })).toBe(
      'Blob Storage failed (ECONNRESET); retrying in 1 s (attempt 3).',
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads delta seconds and HTTP dates', () => {
    const now = Date.parse('2025-03-14T09:30:00Z');
    expect(parseRetryAfter({ 'retry-after': '7' }, now)).toBe(7000);
    expect(parseRetryAfter({ 'retry-after': 'Fri, 14 Mar 2025 09:30:12 GMT' }, now)).toBe(12000);
    expect(parseRetryAfter({}, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after-ms': '250' }, now)).toBe(250);
  });
});

describe('createHttpClient', () => {
  it('returns every byte 0x00-0xff of a non-streamed answer unchanged (no text decoding)', async () => {
    const bytes = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
    script = (_req, res) => res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(bytes);
    const client = createHttpClient();
    const res = await client.request({ method: 'GET', url: `${base}/bin`, service: 'Kudu' });
    expect(res.status).toBe(200);
    expect(Buffer.isBuffer(res.body)).toBe(true);
    expect(res.body.equals(bytes)).toBe(true);
  });

  it('retries 429 and 503 honouring Retry-After, then returns the success', async () => {
    let n = 0;
    script = (_req, res) => {
      n++;
      if (n === 1) {
        res.writeHead(429, { 'Retry-After': '3' }).end();
      } else if (n === 2) {
        res.writeHead(503, { 'Retry-After': new Date(clock.now() + 5000).toUTCString() }).end();
      } else res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
    };
    const clock = fakeClock();
    const client = createHttpClient({ sleep: clock.sleep, now: clock.now });
    const res = await client.request({ method: 'GET', url: `${base}/x`, service: 'Resource Manager' });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ ok: true });
    expect(clock.waits[0]).toBe(3000);
    expect(clock.waits[1]).toBeGreaterThanOrEqual(4000);
    expect(clock.waits[1]).toBeLessThanOrEqual(5000);
  });

  it('returns non-retried errors to the caller', async () => {
    script = (_req, res) => res.writeHead(404).end('nope');
    const client = createHttpClient();
    const res = await client.request({ method: 'GET', url: `${base}/missing`, service: 'Kudu' });
    expect(res.status).toBe(404);
    expect(res.text()).toBe('nope');
  });

  it('ends with a timeout naming the service when Retry-After exceeds the budget', async () => {
    script = (_req, res) => res.writeHead(429, { 'Retry-After': '120' }).end();
    const clock = fakeClock();
    const client = createHttpClient({ sleep: clock.sleep, now: clock.now });
    const err = await client
      .request({
        method: 'POST',
        url: `${base}/busy`,
        service: 'Resource Manager',
        deadline: clock.now() + 30_000,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunpackError);
    expect((err as RunpackError).code).toBe('timeout');
    expect((err as RunpackError).message).toMatch(/Resource Manager .*POST .*busy.*30 s/);
    expect(clock.waits).toEqual([]);
  });

  it('throws after the attempts are used up', async () => {
    script = (_req, res) => res.writeHead(502).end();
    const clock = fakeClock();
    const client = createHttpClient({ sleep: clock.sleep, now: clock.now });
    const err = await client
      .request({ method: 'GET', url: `${base}/down`, service: 'Kudu', maxAttempts: 3 })
      .catch((e: unknown) => e);
    expect((err as RunpackError).code).toBe('retries-exhausted');
    expect(clock.waits).toHaveLength(2);
  });

  it('asks for the authorization before every attempt and resends a stream body', async () => {
    seen.length = 0;
    let n = 0;
    script = (_req, res) => {
      n++;
      res.writeHead(n === 1 ? 500 : 201).end();
    };
    const clock = fakeClock();
    let token = 0;
    const client = createHttpClient({ sleep: clock.sleep, now: clock.now });
    const { Readable } = await import('node:stream');
    const res = await client.request({
      method: 'PUT',
      url: `${base}/up`,
      service: 'Blob Storage',
      body: () => Readable.from([Buffer.from('hello '), Buffer.from('world')]),
      authorization: async () => `Bearer t${++token}`,
    });
    expect(res.status).toBe(201);
    expect(seen.map((s) => s.auth)).toEqual(['Bearer t1', 'Bearer t2']);
    expect(seen.map((s) => s.body)).toEqual(['hello world', 'hello world']);
  });

  it('retries a dropped connection', async () => {
    let n = 0;
    script = (req, res) => {
      n++;
      if (n === 1) req.socket.destroy();
      else res.end('back');
    };
    const clock = fakeClock();
    const client = createHttpClient({ sleep: clock.sleep, now: clock.now });
    const res = await client.request({ method: 'GET', url: `${base}/flaky`, service: 'Kudu' });
    expect(res.text()).toBe('back');
    expect(clock.waits).toHaveLength(1);
  });

  it('streams a binary body unchanged', async () => {
    const bytes = Buffer.from([0, 255, 1, 128, 200, 10]);
    script = (_req, res) => res.end(bytes);
    const client = createHttpClient();
    const res = await client.request({
      method: 'GET',
      url: `${base}/bin`,
      service: 'Blob Storage',
      stream: true,
    });
    expect(Buffer.compare(await readStream(res.stream), bytes)).toBe(0);
  });
});
