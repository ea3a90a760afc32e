/**
 * stop() leaves nothing behind that keeps a test process alive: no listener, proxy tunnel, half-open TLS
 * connection, app process, Azurite child or timer, so Jest exits by itself after the end-to-end files.
 */
import { describe, expect, it } from '@jest/globals';
import AdmZip from 'adm-zip';
import { existsSync, mkdtempSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectTunnel, request, startTestEmulator } from './helpers/start.js';

type Handle = { constructor?: { name?: string }; pid?: number };
const handles = (): Handle[] => (process as unknown as { _getActiveHandles(): Handle[] })._getActiveHandles();
const describeHandle = (h: Handle): string => `${h.constructor?.name ?? '?'}${h.pid ? ` pid ${h.pid}` : ''}`;

async function settle(before: Set<Handle>, timeoutMs = 5000): Promise<Handle[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const extra = handles().filter((h) => !before.has(h));
    if (extra.length === 0 || Date.now() > end) return extra;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('stop()', () => {
  it('closes every listener, tunnel, pending connection and child process it opened', async () => {
    const before = new Set(handles());
    const emu = await startTestEmulator({ stateDir: mkdtempSync(join(tmpdir(), 'runpack-emu-stop-')) });
    const web = emu.apps.find((a) => a.name === 'rp-linux-web')!;
    const basic = `Basic ${Buffer.from(`${web.publishingUserName}:${web.publishingPassword}`).toString('base64')}`;

    // A running node app (a child process of the worker)
    await emu.admin.reset();
    const site = [...emu.ctx.sites.values()].find((s) => s.appName === 'rp-linux-web' && !s.slotName)!;
    site.appSettings = { ...site.appSettings, WEBSITE_RUN_FROM_PACKAGE: '1' };
    site.scmSettings = { ...site.appSettings };
    const zip = new AdmZip();
    zip.addFile(
      'server.js',
      Buffer.from("require('http').createServer((q, s) => s.end('up')).listen(process.env.PORT);\n"),
    );
    const pushed = await request(`${web.scmLoopbackUrl}/api/zipdeploy?isAsync=false`, {
      method: 'POST',
      headers: { Authorization: basic, 'Content-Type': 'application/zip' },
      body: zip.toBuffer(),
    });
    expect(pushed.status).toBe(200);
    let up = { status: 0, body: '' };
    for (let i = 0; i < 200 && up.body !== 'up'; i++) {
      up = await request(`${web.siteUrl}/`);
      if (up.body !== 'up') await new Promise((r) => setTimeout(r, 50));
    }
    expect(up).toMatchObject({ status: 200, body: 'up' });
    const children = handles()
      .filter((h) => !before.has(h) && typeof h.pid === 'number')
      .map((h) => h.pid!);
    // Azurite and the app
    expect(children.length).toBeGreaterThanOrEqual(2);

    // An open proxy tunnel, a TCP connection that never starts TLS, and a keep-alive fetch connection
    const tunnel = await connectTunnel(emu.proxyUrl, `${new URL(web.scmUrl).hostname}:443`);
    expect(tunnel.status).toBe(200);
    const silent = net.connect(Number(new URL(emu.resourceManagerEndpoint).port), '127.0.0.1');
    await new Promise<void>((r) => silent.once('connect', () => r()));
    const ka = await fetch(`${web.siteUrl}/`);
    await ka.text();

    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      emu.stop(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('stop() did not finish within 10 s')), 10000);
      }),
    ]);
    clearTimeout(timer);
    const ended = Promise.all([
      new Promise<void>((r) => (tunnel.socket.destroyed ? r() : tunnel.socket.once('close', () => r()))),
      new Promise<void>((r) => (silent.destroyed ? r() : silent.once('close', () => r()))),
    ]);
    tunnel.socket.on('error', () => undefined);
    silent.on('error', () => undefined);
    await ended;

    const left = await settle(before);
    expect(left.map(describeHandle)).toEqual([]);
    expect(children.filter(alive)).toEqual([]);
    // the helper's stop() removes the state directory too
    expect(existsSync(emu.stateDir)).toBe(false);
  });
});
