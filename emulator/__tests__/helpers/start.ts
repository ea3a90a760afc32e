/**
 * Shared helpers for emulator tests: start one emulator per test file with the test CA (RUNPACK_TEST_CA_DIR,
 * trusted through NODE_EXTRA_CA_CERTS as script/test sets up), and make raw HTTPS requests directly, by port,
 * or through the emulator's CONNECT proxy with an Azure-style host name.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tls from 'node:tls';
import { startEmulator, type RunningEmulator, type StartOptions } from '../../src/index.js';

/**
 * Start an emulator for a test file; fails with a how-to when the test CA is not trusted by this process.
 * stop() also removes the state directory (a fresh temp one unless given), unless `keepStateDir`.
 */
export async function startTestEmulator(
  options: StartOptions = {},
  { keepStateDir = false }: { keepStateDir?: boolean } = {},
): Promise<RunningEmulator> {
  const caDir = process.env.RUNPACK_TEST_CA_DIR;
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (!caDir || !extra || resolve(extra) !== resolve(caDir, 'ca.pem')) {
    throw new Error(
      'emulator tests need the test CA: run `tsx emulator/src/cli.ts ca --dir DIR`, then export RUNPACK_TEST_CA_DIR=DIR and NODE_EXTRA_CA_CERTS=DIR/ca.pem (script/test does this)',
    );
  }
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'runpack-emulator-test-'));
  const emu = await startEmulator({ caDir, ...options, stateDir }).catch((err: unknown) => {
    if (!keepStateDir) rmSync(stateDir, { recursive: true, force: true });
    throw err;
  });
  const stop = emu.stop.bind(emu);
  emu.stop = async () => {
    await stop();
    if (!keepStateDir) rmSync(stateDir, { recursive: true, force: true });
  };
  return emu;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RawRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send this Host header instead of the URL's (routing by Host header on the main listener). */
  host?: string;
}

function collect(req: http.ClientRequest, body?: string | Buffer): Promise<RawResponse> {
  return new Promise((resolvePromise, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolvePromise({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An HTTPS request straight to `url` (trusting the emulator CA). */
export function request(url: string, opts: RawRequest = {}, ca?: string): Promise<RawResponse> {
  const u = new URL(url);
  const req = https.request({
    host: u.hostname,
    port: u.port || 443,
    path: `${u.pathname}${u.search}`,
    method: opts.method ?? 'GET',
    headers: { ...(opts.host ? { host: opts.host } : {}), ...opts.headers },
    ...(ca ? { ca } : {}),
    agent: false,
  });
  return collect(req, opts.body);
}

/** Open a CONNECT tunnel through `proxyUrl`; resolves with the HTTP status of the CONNECT and the socket. */
export function connectTunnel(
  proxyUrl: string,
  authority: string,
): Promise<{ status: number; socket: import('node:net').Socket }> {
  const p = new URL(proxyUrl);
  return new Promise((resolvePromise, reject) => {
    const req = http.request({
      host: p.hostname,
      port: p.port,
      method: 'CONNECT',
      path: authority,
      agent: false,
    });
    req.on('connect', (res, socket) => resolvePromise({ status: res.statusCode ?? 0, socket }));
    req.on('error', reject);
    req.end();
  });
}

/** An HTTPS request to an Azure-style URL (e.g. https://app.azurewebsites.emulator.test/) through the proxy. */
export async function requestViaProxy(
  proxyUrl: string,
  url: string,
  opts: RawRequest = {},
): Promise<RawResponse> {
  const u = new URL(url);
  const { status, socket } = await connectTunnel(proxyUrl, `${u.hostname}:${u.port || 443}`);
  if (status !== 200) {
    socket.destroy();
    throw new Error(`proxy refused CONNECT ${u.hostname}: ${status}`);
  }
  const secure = tls.connect({ socket, servername: u.hostname });
  const req = https.request({
    host: u.hostname,
    path: `${u.pathname}${u.search}`,
    method: opts.method ?? 'GET',
    headers: opts.headers,
    // No agent: with one, Node would open its own connection (and look the name up) instead.
    createConnection: () => secure,
  });
  return collect(req, opts.body);
}
