import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  addSite,
  createTestContext,
  makeZip,
  serveSite,
  setSettings,
  type TestContext,
} from './helpers/kudu-context.js';
import type { Site } from '../src/model.js';
import { FAILURE_MARKER, FAILURE_TEXT, parseRunFromPackage } from '../src/mount.js';
import { findNodeEntry, stackEntryPresent } from '../src/worker.js';

let ctx: TestContext;

beforeAll(() => {
  ctx = createTestContext();
});

afterAll(async () => {
  await ctx.cleanup();
});

/** Put a zip in SitePackages and point packagename.txt at it, as a manual placement would. */
async function place(site: Site, name: string, files: Record<string, string>): Promise<void> {
  const dir = path.join(site.homeDir, 'data', 'SitePackages');
  await fsp.writeFile(path.join(dir, name), makeZip(files));
  await fsp.writeFile(path.join(dir, 'packagename.txt'), name);
}

const NODE_APP = `
const http = require('http');
const fs = require('fs');
const path = require('path');
http.createServer((req, res) => {
  if (req.url === '/write') {
    try { fs.writeFileSync(path.join(__dirname, 'cache.txt'), 'x'); res.end('wrote'); }
    catch (e) { res.end('error:' + e.code); }
    return;
  }
  res.end('node:' + process.env.APP_VERSION + ':' + (process.env.PORT ? 'port' : 'noport'));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

describe('an app started by a startup command', () => {
  it('is stopped whole on a restart and a stop: the shell and the app it started', async () => {
    // /bin/sh forks the command, so the app is a grandchild of the worker; it records its pid where the test reads it.
    // (A folder anyone may write to: as root, the emulator runs apps as nobody.)
    const pidDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'startup-app-'));
    await fsp.chmod(pidDir, 0o777);
    const pidFile = path.join(pidDir, 'app.pid');
    const site = addSite(ctx, {
      appName: 'startupcmd',
      stack: 'node',
      appCommandLine: 'node server.js; echo after',
    });
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1', APP_VERSION: 'v1', PID_FILE: pidFile });
    await place(site, '20250101000000.zip', {
      'server.js': `require('fs').writeFileSync(process.env.PID_FILE, String(process.pid));\n${NODE_APP}`,
    });
    // Running, not a zombie waiting for a reaper (the state in /proc/<pid>/stat follows the name in parentheses).
    const alive = (pid: number): boolean => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
      } catch {
        return false;
      }
    };
    const gone = async (pid: number): Promise<boolean> => {
      for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
      return !alive(pid);
    };
    const s = await serveSite(ctx, site);
    try {
      expect(await (await fetch(`${s.siteUrl}/`)).text()).toBe('node:v1:port');
      const first = Number(await fsp.readFile(pidFile, 'utf8'));
      expect(alive(first)).toBe(true);
      await s.worker.restart();
      expect(await (await fetch(`${s.siteUrl}/`)).text()).toBe('node:v1:port');
      const second = Number(await fsp.readFile(pidFile, 'utf8'));
      expect(second).not.toBe(first);
      expect(await gone(first)).toBe(true);
      await s.worker.stop();
      expect(await gone(second)).toBe(true);
    } finally {
      await s.close();
      await fsp.rm(pidDir, { recursive: true, force: true });
    }
  });
});

describe('node app under run-from-package', () => {
  it('runs the mounted entry point with PORT and app settings; writes next to it fail (checklist 19, 18)', async () => {
    const site = addSite(ctx, { appName: 'nodeapp', stack: 'node' });
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1', APP_VERSION: 'v1' });
    await place(site, '20250101000000.zip', {
      'package.json': '{"scripts":{"start":"node server.js"}}',
      'server.js': NODE_APP,
    });
    const s = await serveSite(ctx, site);
    try {
      expect(s.worker.state()).toBe('running');
      const home = await fetch(`${s.siteUrl}/`);
      expect(home.status).toBe(200);
      expect(await home.text()).toBe('node:v1:port');
      const write = await (await fetch(`${s.siteUrl}/write`)).text();
      expect(['error:EACCES', 'error:EROFS', 'error:EPERM']).toContain(write);

      // checklist 18: stop → 403, SCM keeps working; start → serves again
      await s.worker.stop();
      site.state = 'Stopped';
      const stopped = await fetch(`${s.siteUrl}/`);
      expect(stopped.status).toBe(403);
      expect(await stopped.text()).toContain('This web app is stopped.');
      expect((await fetch(`${s.scmUrl}/api/settings`, { headers: { authorization: s.basic } })).status).toBe(
        200,
      );
      site.state = 'Running';
      await s.worker.start();
      expect(await (await fetch(`${s.siteUrl}/`)).text()).toBe('node:v1:port');

      // checklist 4 (worker side): new settings reach the app at restart, with a 503 warm-up in between
      site.appSettings = { ...site.appSettings, APP_VERSION: 'v2' };
      expect(await (await fetch(`${s.siteUrl}/`)).text()).toBe('node:v1:port');
      const restarting = s.worker.restart();
      expect(s.worker.state()).toBe('starting');
      expect((await fetch(`${s.siteUrl}/`)).status).toBe(503);
      await restarting;
      expect(await (await fetch(`${s.siteUrl}/`)).text()).toBe('node:v2:port');
    } finally {
      await s.close();
    }
  });
});

describe('an app that does not start', () => {
  const CRASH = `console.log('booting'); throw new Error('boom at boot');`;

  it('Linux: the front end answers the Application Error page; Kudu lists the container log with the crash', async () => {
    const site = addSite(ctx, { appName: 'crashlinux', stack: 'node' });
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    await place(site, '20250101000000.zip', { 'server.js': CRASH });
    const s = await serveSite(ctx, site);
    try {
      const home = await fetch(`${s.siteUrl}/`);
      expect(home.status).toBe(503);
      const page = await home.text();
      expect(page).toContain(':( Application Error');
      expect(page).not.toContain('boom');
      const list = await fetch(`${s.scmUrl}/api/logs/docker`, { headers: { authorization: s.basic } });
      expect(list.status).toBe(200);
      const files = (await list.json()) as {
        machineName: string;
        href: string;
        path: string;
        size: number;
      }[];
      const app = files.find((f) => f.href.endsWith('_default_docker.log'));
      const platform = files.find((f) => !f.href.endsWith('_default_docker.log'));
      expect(app?.machineName).toMatch(/^lw0sdlwk[0-9A-F]{6}$/);
      expect(app?.path).toMatch(
        /^\/home\/LogFiles\/\d{4}_\d{2}_\d{2}_lw0sdlwk[0-9A-F]{6}_default_docker\.log$/,
      );
      const appLog = await (
        await fetch(app!.href.replace(/^https:\/\/[^/]+/, s.scmUrl), { headers: { authorization: s.basic } })
      ).text();
      expect(appLog).toMatch(/^\S+Z booting$/m);
      expect(appLog).toContain('Error: boom at boot');
      const platformLog = await (
        await fetch(platform!.href.replace(/^https:\/\/[^/]+/, s.scmUrl), {
          headers: { authorization: s.basic },
        })
      ).text();
      expect(platformLog).toMatch(/has exited, failing site start/);
    } finally {
      await s.close();
    }
  });

  it("Windows: IIS's plain 500, and no container log route", async () => {
    const site = addSite(ctx, { appName: 'crashwin', stack: 'node', reserved: false, kind: 'app' });
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    await place(site, '20250101000000.zip', { 'server.js': CRASH });
    const s = await serveSite(ctx, site);
    try {
      const home = await fetch(`${s.siteUrl}/`);
      expect(home.status).toBe(500);
      expect(await home.text()).toBe(
        'The page cannot be displayed because an internal server error has occurred.',
      );
      expect(
        (await fetch(`${s.scmUrl}/api/logs/docker`, { headers: { authorization: s.basic } })).status,
      ).toBe(404);
    } finally {
      await s.close();
    }
  });
});

describe('mounting', () => {
  it('checklist 21: "1" without a package shows only the failure marker and answers 503', async () => {
    const site = addSite(ctx, { appName: 'nopkg' });
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    const s = await serveSite(ctx, site);
    try {
      expect(s.worker.state()).toBe('failed');
      const m = s.worker.mounted();
      expect(m.mode).toBe('local');
      expect(m.error).toContain('packagename.txt');
      expect(await fsp.readdir(m.dir as string)).toEqual([FAILURE_MARKER]);
      expect(await fsp.readFile(path.join(m.dir as string, FAILURE_MARKER), 'utf8')).toBe(FAILURE_TEXT);
      expect((await fetch(`${s.siteUrl}/`)).status).toBe(503);
      const listing = (await (
        await fetch(`${s.scmUrl}/api/vfs/site/wwwroot/`, { headers: { authorization: s.basic } })
      ).json()) as { name: string }[];
      expect(listing.map((e) => e.name)).toEqual([FAILURE_MARKER]);

      // a corrupt package named by the pointer fails the same way
      const dir = path.join(site.homeDir, 'data', 'SitePackages');
      await fsp.writeFile(path.join(dir, 'bad.zip'), 'PK not really');
      await fsp.writeFile(path.join(dir, 'packagename.txt'), 'bad.zip');
      await s.worker.restart();
      expect(s.worker.state()).toBe('failed');
      expect(await fsp.readdir(s.worker.mounted().dir as string)).toEqual([FAILURE_MARKER]);

      // fixed and restarted: serves again
      await place(site, 'good.zip', { 'index.html': 'ok' });
      expect((await fetch(`${s.siteUrl}/`)).status).toBe(503);
      await s.worker.restart();
      expect(s.worker.state()).toBe('running');
      expect((await fetch(`${s.siteUrl}/`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('checklist 21: a zip that cannot be laid out as files (a file and a folder of one name) fails the mount', async () => {
    const site = addSite(ctx, { appName: 'clash' });
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    await place(site, 'clash.zip', { a: 'file', 'a/b.txt': 'inside' });
    const s = await serveSite(ctx, site);
    try {
      expect(s.worker.state()).toBe('failed');
      expect(s.worker.mounted().error).toContain('could not be mounted');
      expect(await fsp.readdir(s.worker.mounted().dir as string)).toEqual([FAILURE_MARKER]);
    } finally {
      await s.close();
    }
  });

  it('checklist 4: mounts at restart only; a new pointer is not picked up until then', async () => {
    const site = addSite(ctx, { appName: 'remount' });
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    await place(site, 'a.zip', { 'index.html': 'a', 'v.txt': 'A' });
    const s = await serveSite(ctx, site);
    try {
      expect(await (await fetch(`${s.siteUrl}/v.txt`)).text()).toBe('A');
      await place(site, 'b.zip', { 'index.html': 'b', 'v.txt': 'B' });
      expect(await (await fetch(`${s.siteUrl}/v.txt`)).text()).toBe('A');
      await s.worker.restart();
      expect(await (await fetch(`${s.siteUrl}/v.txt`)).text()).toBe('B');
      expect(s.worker.mounted()).toMatchObject({ mode: 'local', source: 'b.zip', error: null });
      expect(s.worker.mounted().sha256).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await s.close();
    }
  });

  it('checklist 22: a nested top folder is mounted as given (404 at /, no flattening)', async () => {
    const site = addSite(ctx, { appName: 'nested', stack: 'static' });
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    await place(site, 'n.zip', { 'app-main/index.html': '<h1>nested</h1>' });
    const s = await serveSite(ctx, site);
    try {
      expect(s.worker.state()).toBe('running');
      expect((await fetch(`${s.siteUrl}/`)).status).toBe(404);
      expect(await (await fetch(`${s.siteUrl}/app-main/index.html`)).text()).toBe('<h1>nested</h1>');
      expect(existsSync(path.join(s.worker.mounted().dir as string, 'index.html'))).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('checklist 22 and 26: functions are listed only with host.json at the root; nested host.json finds none', async () => {
    const fn = addSite(ctx, { appName: 'funcs', kind: 'functionapp', reserved: false, stack: 'node' });
    setSettings(fn, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    await place(fn, 'f.zip', {
      'host.json': '{"version":"2.0"}',
      'HttpTrigger/function.json': '{"bindings":[]}',
      'TimerTrigger/function.json': '{"bindings":[]}',
      'lib/util.js': '',
      'deep/er/function.json': '{}',
    });
    const s = await serveSite(ctx, fn);
    try {
      expect(s.worker.mounted().functions).toEqual(['HttpTrigger', 'TimerTrigger']);
      const status = await fetch(`${s.siteUrl}/admin/host/status`);
      expect(status.status).toBe(200);
      expect(((await status.json()) as { state: string }).state).toBe('Running');
      expect((await fetch(`${s.siteUrl}/api/HttpTrigger`)).status).toBe(200);
      expect((await fetch(`${s.siteUrl}/api/Missing`)).status).toBe(404);

      await place(fn, 'g.zip', { 'publish/host.json': '{}', 'publish/HttpTrigger/function.json': '{}' });
      await s.worker.restart();
      expect(s.worker.mounted().functions).toEqual([]);
      expect((await fetch(`${s.siteUrl}/admin/host/status`)).status).toBe(503);
    } finally {
      await s.close();
    }
  });

  it('a Kudu push on a functions site records a trigger sync (checklist 26, Kudu side)', async () => {
    const fn = addSite(ctx, { appName: 'funcpush', kind: 'functionapp,linux', stack: 'node' });
    setSettings(fn, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    const s = await serveSite(ctx, fn);
    try {
      const r = await fetch(`${s.scmUrl}/api/zipdeploy`, {
        method: 'POST',
        headers: { authorization: s.basic },
        body: makeZip({ 'host.json': '{}', 'Hello/function.json': '{}' }),
      });
      expect(r.status).toBe(200);
      expect(fn.triggerSyncs).toHaveLength(1);
      expect(fn.triggerSyncs[0].path).toBe('kudu:/api/zipdeploy');
    } finally {
      await s.close();
    }
  });

  it('without run-from-package the site serves site/wwwroot and the worker mounts nothing', async () => {
    const site = addSite(ctx, { appName: 'plain', stack: 'static' });
    setSettings(site, {});
    await fsp.writeFile(path.join(site.homeDir, 'site', 'wwwroot', 'index.html'), 'plain');
    const s = await serveSite(ctx, site);
    try {
      expect(s.worker.mounted()).toMatchObject({ mode: 'none', dir: null });
      expect(await (await fetch(`${s.siteUrl}/index.html`)).text()).toBe('plain');
    } finally {
      await s.close();
    }
  });
});

describe('slot swap', () => {
  it('Kudu and the worker read homeDir at use time: swapping it and restarting swaps content and pointers', async () => {
    const prod = addSite(ctx, { appName: 'swapper', stack: 'static' });
    const stage = addSite(ctx, {
      appName: 'swapper',
      slotName: 'staging',
      id: '/subscriptions/s/resourceGroups/runpack-rg/providers/Microsoft.Web/sites/swapper/slots/staging',
      stack: 'static',
    });
    setSettings(prod, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    setSettings(stage, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    await place(prod, 'p.zip', { 'index.html': 'i', 'v.txt': 'prod' });
    await place(stage, 's.zip', { 'index.html': 'i', 'v.txt': 'stage' });
    const a = await serveSite(ctx, prod);
    const b = await serveSite(ctx, stage);
    try {
      expect(await (await fetch(`${a.siteUrl}/v.txt`)).text()).toBe('prod');
      [prod.homeDir, stage.homeDir] = [stage.homeDir, prod.homeDir];
      await Promise.all([a.worker.restart(), b.worker.restart()]);
      expect(await (await fetch(`${a.siteUrl}/v.txt`)).text()).toBe('stage');
      expect(await (await fetch(`${b.siteUrl}/v.txt`)).text()).toBe('prod');
      const pointer = await fetch(`${a.scmUrl}/api/vfs/data/SitePackages/packagename.txt`, {
        headers: { authorization: a.basic },
      });
      expect(await pointer.text()).toBe('s.zip');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('checklist 1: how the worker reads WEBSITE_RUN_FROM_PACKAGE', () => {
  it('local only for exactly "1", URL for any-case http prefixes, legacy name when the main one is empty', () => {
    expect(parseRunFromPackage({ WEBSITE_RUN_FROM_PACKAGE: '1' })).toEqual({ mode: 'local' });
    for (const v of ['true', ' 1', '01', '0', ''])
      expect(parseRunFromPackage({ WEBSITE_RUN_FROM_PACKAGE: v }).mode).toBe('none');
    expect(parseRunFromPackage({ WEBSITE_RUN_FROM_PACKAGE: 'HTTP://x/p.zip' })).toEqual({
      mode: 'url',
      url: 'HTTP://x/p.zip',
    });
    expect(parseRunFromPackage({ WEBSITE_RUN_FROM_PACKAGE: '', WEBSITE_RUN_FROM_ZIP: '1' })).toEqual({
      mode: 'local',
    });
    expect(parseRunFromPackage({ WEBSITE_RUN_FROM_ZIP: 'https://x/p.zip' }).mode).toBe('url');
    expect(parseRunFromPackage({ WEBSITE_RUN_FROM_PACKAGE: '0', WEBSITE_RUN_FROM_ZIP: '1' }).mode).toBe(
      'none',
    );
    expect(parseRunFromPackage({ WEBSITE_USE_ZIP: '1' }).mode).toBe('none');
  });
});

describe('entry points', () => {
  it('finds node entry points from package.json, the start script, or the usual names', async () => {
    const dir = await fsp.mkdtemp(path.join(ctx.stateDir, 'entry-'));
    expect(await findNodeEntry(dir)).toBeNull();
    await fsp.writeFile(path.join(dir, 'index.js'), '');
    expect(await findNodeEntry(dir)).toBe('index.js');
    await fsp.writeFile(path.join(dir, 'main.js'), '');
    await fsp.writeFile(
      path.join(dir, 'package.json'),
      '{"scripts":{"start":"node --enable-source-maps main.js"}}',
    );
    expect(await findNodeEntry(dir)).toBe('main.js');
    await fsp.writeFile(path.join(dir, 'package.json'), '{"main":"missing.js"}');
    expect(await findNodeEntry(dir)).toBe('index.js');
  });

  it('knows each stack entry point at the root', async () => {
    const dir = await fsp.mkdtemp(path.join(ctx.stateDir, 'stack-'));
    expect(await stackEntryPresent('dotnet', dir)).toBe(false);
    await fsp.writeFile(path.join(dir, 'App.runtimeconfig.json'), '{}');
    expect(await stackEntryPresent('dotnet', dir)).toBe(false);
    await fsp.writeFile(path.join(dir, 'App.dll'), '');
    expect(await stackEntryPresent('dotnet', dir)).toBe(true);
    expect(await stackEntryPresent('php', dir)).toBe(false);
    await fsp.writeFile(path.join(dir, 'index.php'), '');
    expect(await stackEntryPresent('php', dir)).toBe(true);
    expect(await stackEntryPresent('static', dir)).toBe(false);
  });
});
