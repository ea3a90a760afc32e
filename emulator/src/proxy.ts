/**
 * The name-mapping HTTP CONNECT proxy: tunnels `<anything>.emulator.test:<port>` to the main HTTPS listener
 * and passes loopback targets through, so clients with `HTTPS_PROXY=http://127.0.0.1:<proxyPort>` reach
 * Azure-style host names on port 443 as real clients would. Anything else is refused (403).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { EmulatorContext } from './model.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Where a CONNECT target goes: the main listener for emulator names, itself for loopback, null otherwise. */
export function tunnelTarget(authority: string, mainPort: number): { host: string; port: number } | null {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority.trim().toLowerCase());
  if (!m) return null;
  const host = m[1]!;
  const port = m[2] ? Number(m[2]) : 443;
  if (host === 'emulator.test' || host.endsWith('.emulator.test'))
    return { host: '127.0.0.1', port: mainPort };
  if (LOOPBACK.has(host))
    return { host: host === 'localhost' ? '127.0.0.1' : host.replace(/[[\]]/g, ''), port };
  return null;
}

export async function startProxy(
  ctx: EmulatorContext,
  mainPort: () => number,
  port = 0,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    ctx.log({
      service: 'proxy',
      host: req.headers.host ?? '',
      method: req.method ?? 'GET',
      path: '(plain request)',
      status: 405,
    });
    res.writeHead(405, { 'Content-Type': 'text/plain' });
    res.end('This proxy only tunnels HTTPS (CONNECT).\n');
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const authority = req.url ?? '';
    const target = tunnelTarget(authority, mainPort());
    const log = (status: number) =>
      ctx.log({ service: 'proxy', host: authority, method: 'CONNECT', path: authority, status });
    if (!target) {
      log(403);
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    let connected = false;
    const upstream = net.connect(target.port, target.host, () => {
      connected = true;
      log(200);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => {
      if (!client.destroyed && client.writable && !connected) {
        log(502);
        client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
      } else client.destroy();
    });
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
