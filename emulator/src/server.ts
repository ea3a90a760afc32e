/**
 * HTTPS listeners: the main listener routes by Host header (ARM, Entra and OIDC on 127.0.0.1/localhost by
 * path; Azure-style site and SCM names to the site's worker or Kudu); loopback listeners route by port.
 * Every request is logged without secrets, and the generic faults (drop, slow) are applied here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { redactPath, sendText, sleep } from './core-http.js';
import type { EmulatorContext, Faults, Handler, Site } from './model.js';

export type Service = 'arm' | 'kudu' | 'site' | 'entra' | 'oidc' | 'azdo' | 'imds' | 'admin' | 'blob';

export interface Route {
  service: Service;
  handler: Handler;
  site?: Site;
}

export type Resolver = (req: IncomingMessage) => Route | null;

/** The host name of a request without its port, lowercased. */
export function hostName(req: IncomingMessage): string {
  const h = (req.headers.host ?? '').toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const i = h.lastIndexOf(':');
  return i >= 0 ? h.slice(0, i) : h;
}

/** The app a request is about, for per-app faults: the site's app, or `/sites/{name}` in an ARM path. */
export function faultKey(route: Route, req: IncomingMessage): string | null {
  if (route.site) return route.site.appName;
  // Blob Storage: the account is the first label of the host (`<account>.blob.core.windows.net`), or the first
  // path segment on a loopback endpoint (`127.0.0.1:<port>/<account>/…`, Azurite's path style).
  if (route.service === 'blob') {
    const host = hostName(req);
    return /^[\d.]+$|^\[|^localhost$/i.test(host)
      ? decodeURIComponent((req.url ?? '/').split('?')[0].split('/')[1] ?? '') || null
      : host.split('.')[0] || null;
  }
  const m = /\/providers\/Microsoft\.Web\/sites\/([^/?]+)/i.exec(req.url ?? '');
  return m ? decodeURIComponent(m[1]!) : null;
}

function faultsFor(ctx: EmulatorContext, key: string | null): Faults[] {
  const out: Faults[] = [];
  for (const k of [key, '*']) {
    if (!k) continue;
    const f = ctx.faults.get(k);
    if (f) out.push(f);
  }
  return out;
}

/** Wrap a resolver with logging and the drop/slow faults. */
export function dispatcher(ctx: EmulatorContext, resolve: Resolver) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const route = resolve(req);
    const host = req.headers.host ?? '';
    const path = redactPath(req.url ?? '/');
    if (!route) {
      ctx.log({ service: 'unknown', host, method: req.method ?? 'GET', path, status: 404 });
      return sendText(
        res,
        404,
        `No emulated host or endpoint answers ${hostName(req)}${path.split('?')[0]}.\n`,
      );
    }
    const entry = {
      service: route.service,
      host,
      method: req.method ?? 'GET',
      path,
      ...(route.site ? { site: route.site.id } : {}),
    };
    const faults = faultsFor(ctx, faultKey(route, req));
    const drop = faults.find(
      (f) =>
        f.drop &&
        f.drop.target === route.service &&
        f.drop.count > 0 &&
        (!f.drop.pathContains || (req.url ?? '').includes(f.drop.pathContains)),
    )?.drop;
    if (drop) {
      drop.count -= 1;
      ctx.log({ ...entry, status: 0 });
      req.socket.destroy();
      return;
    }
    let logged = false;
    const log = () => {
      if (logged) return;
      logged = true;
      ctx.log({ ...entry, status: res.headersSent ? res.statusCode : 0 });
    };
    res.on('finish', log);
    res.on('close', log);
    const slow = faults.find((f) => f.slow && f.slow.target === route.service)?.slow;
    if (slow && slow.ms > 0) await sleep(slow.ms);
    try {
      await route.handler(req, res);
    } catch (err) {
      if (!res.headersSent) sendText(res, 500, `Emulator error: ${(err as Error).message}\n`);
      else res.destroy();
    }
  };
}

export interface Listener {
  server: https.Server;
  port: number;
  close(): Promise<void>;
}

export async function listenHttps(
  tls: { certPem: string; keyPem: string },
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  port = 0,
): Promise<Listener> {
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    void handler(req, res);
  });
  server.keepAliveTimeout = 5000;
  // Every TCP connection, from before its TLS handshake on: closeAllConnections() only knows connections
  // that got as far as HTTP, and server.close() waits for the others (a client that connected but never
  // finished the handshake, a tunnel the proxy opened) for as long as they stay open.
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket: import('node:net').Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      }),
  };
}
