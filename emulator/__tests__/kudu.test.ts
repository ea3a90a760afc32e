import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  addSite,
  createTestContext,
  fakeToken,
  serveSite,
  setSettings,
  waitFor,
  type SiteServers,
  type TestContext,
} from './helpers/kudu-context.js';
import type { Site } from '../src/model.js';

let ctx: TestContext;
let linux: Site;
let windows: Site;
let l: SiteServers;
let w: SiteServers;

beforeAll(async () => {
  ctx = createTestContext();
  linux = addSite(ctx, { appName: 'linuxapp' });
  windows = addSite(ctx, { appName: 'winapp', kind: 'app', reserved: false });
  l = await serveSite(ctx, linux);
  w = await serveSite(ctx, windows);
});

afterAll(async () => {
  await l.close();
  await w.close();
  await ctx.cleanup();
});

beforeEach(() => {
  ctx.faults.clear();
  linux.basicAuthAllowed.scm = true;
});

const get = (url: string, auth?: string): Promise<Response> =>
  fetch(url, { headers: auth ? { authorization: auth } : {} });

describe('checklist 13: SCM auth matrix', () => {
  it('accepts Basic $app:password while basic auth is allowed', async () => {
    expect((await get(`${l.scmUrl}/api/settings`, l.basic)).status).toBe(200);
  });

  it('answers 401 to Basic once basicPublishingCredentialsPolicies/scm is false', async () => {
    linux.basicAuthAllowed.scm = false;
    expect((await get(`${l.scmUrl}/api/settings`, l.basic)).status).toBe(401);
  });

  it('answers 401 to a wrong password, another app user and no credentials', async () => {
    const wrong = `Basic ${Buffer.from(`${linux.publishingUserName}:nope`).toString('base64')}`;
    expect((await get(`${l.scmUrl}/api/settings`, wrong)).status).toBe(401);
    expect((await get(`${l.scmUrl}/api/settings`, w.basic)).status).toBe(401);
    expect((await get(`${l.scmUrl}/api/settings`)).status).toBe(401);
  });

  it('accepts a Bearer token with an ARM audience even when basic auth is off', async () => {
    linux.basicAuthAllowed.scm = false;
    for (const aud of [
      'https://management.azure.com',
      'https://management.azure.com/',
      'https://management.core.windows.net/',
    ]) {
      expect((await get(`${l.scmUrl}/api/settings`, `Bearer ${fakeToken({ aud })}`)).status).toBe(200);
    }
  });

  it('answers 401 to a storage-audience token, an expired token and a forged one', async () => {
    expect(
      (await get(`${l.scmUrl}/api/settings`, `Bearer ${fakeToken({ aud: 'https://storage.azure.com' })}`))
        .status,
    ).toBe(401);
    const past = Math.floor(Date.now() / 1000) - 10;
    expect(
      (
        await get(
          `${l.scmUrl}/api/settings`,
          `Bearer ${fakeToken({ aud: 'https://management.azure.com', exp: past })}`,
        )
      ).status,
    ).toBe(401);
    expect((await get(`${l.scmUrl}/api/settings`, 'Bearer not-a-token')).status).toBe(401);
  });
});

describe('Kudu faults', () => {
  it('checklist 32: injected status answers N requests with Retry-After, then recovers', async () => {
    ctx.faults.set('linuxapp', { kudu: { status: 503, count: 2, retryAfter: 7 } });
    const a = await get(`${l.scmUrl}/api/settings`, l.basic);
    expect(a.status).toBe(503);
    expect(a.headers.get('retry-after')).toBe('7');
    expect((await get(`${l.scmUrl}/api/settings`, l.basic)).status).toBe(503);
    expect((await get(`${l.scmUrl}/api/settings`, l.basic)).status).toBe(200);
    // the other app is unaffected
    expect((await get(`${w.scmUrl}/api/settings`, w.basic)).status).toBe(200);
  });

  it('pathContains limits the fault to matching requests', async () => {
    ctx.faults.set('linuxapp', { kudu: { status: 502, count: 1, pathContains: '/api/deployments' } });
    expect((await get(`${l.scmUrl}/api/settings`, l.basic)).status).toBe(200);
    expect((await get(`${l.scmUrl}/api/deployments`, l.basic)).status).toBe(502);
    expect((await get(`${l.scmUrl}/api/deployments`, l.basic)).status).toBe(200);
  });

  it('scmForbidden answers 403 with the front end HTML page before authentication', async () => {
    ctx.faults.set('*', { scmForbidden: true });
    const r = await get(`${l.scmUrl}/api/settings`, l.basic);
    expect(r.status).toBe(403);
    expect(r.headers.get('content-type')).toContain('text/html');
    expect(await r.text()).toContain('403 - Forbidden');
  });
});

describe('settings and diagnostics', () => {
  it('GET /api/settings shows what Kudu sees; POST and DELETE edit Kudu-local settings only', async () => {
    setSettings(linux, { WEBSITE_RUN_FROM_PACKAGE: '1', MY_SETTING: 'a' });
    linux.scmSettings = { WEBSITE_RUN_FROM_PACKAGE: '1' };
    let s = (await (await get(`${l.scmUrl}/api/settings`, l.basic)).json()) as Record<string, string>;
    expect(s.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
    expect(s.MY_SETTING).toBeUndefined();
    const post = await fetch(`${l.scmUrl}/api/settings`, {
      method: 'POST',
      headers: { authorization: l.basic, 'content-type': 'application/json' },
      body: JSON.stringify({ SCM_COMMAND_IDLE_TIMEOUT: '600' }),
    });
    expect(post.status).toBe(204);
    s = (await (await get(`${l.scmUrl}/api/settings`, l.basic)).json()) as Record<string, string>;
    expect(s.SCM_COMMAND_IDLE_TIMEOUT).toBe('600');
    expect(linux.appSettings.SCM_COMMAND_IDLE_TIMEOUT).toBeUndefined();
    const del = await fetch(`${l.scmUrl}/api/settings/SCM_COMMAND_IDLE_TIMEOUT`, {
      method: 'DELETE',
      headers: { authorization: l.basic },
    });
    expect(del.status).toBe(204);
    s = (await (await get(`${l.scmUrl}/api/settings`, l.basic)).json()) as Record<string, string>;
    expect(s.SCM_COMMAND_IDLE_TIMEOUT).toBeUndefined();

    // per-site settings outrank app settings in Kudu (SettingsProvidersPriority.PerSite > Environment)
    await fetch(`${l.scmUrl}/api/settings`, {
      method: 'POST',
      headers: { authorization: l.basic, 'content-type': 'application/json' },
      body: JSON.stringify({ WEBSITE_RUN_FROM_PACKAGE: '0' }),
    });
    s = (await (await get(`${l.scmUrl}/api/settings`, l.basic)).json()) as Record<string, string>;
    expect(s.WEBSITE_RUN_FROM_PACKAGE).toBe('0');
    await fetch(`${l.scmUrl}/api/settings/WEBSITE_RUN_FROM_PACKAGE`, {
      method: 'DELETE',
      headers: { authorization: l.basic },
    });
    s = (await (await get(`${l.scmUrl}/api/settings`, l.basic)).json()) as Record<string, string>;
    expect(s.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
  });

  it('serves the runtime versions on both diagnostics routes, with system.os_name as Kudu gives it', async () => {
    for (const p of ['/diagnostics/runtime', '/api/diagnostics/runtime']) {
      const r = await get(`${l.scmUrl}${p}`, l.basic);
      expect(r.status).toBe(200);
      const body = (await r.json()) as { nodejs: unknown[]; system: { os_name: string } };
      expect(body.nodejs.length).toBeGreaterThan(0);
      expect(body.system.os_name).toBe('Linux');
    }
    // What webapps-deploy decides from it: Windows only when os_name says so.
    const win = (await (await get(`${w.scmUrl}/api/diagnostics/runtime`, w.basic)).json()) as {
      system: { os_name: string };
    };
    expect(win.system.os_name.toLowerCase()).toContain('windows');
  });

  it('isdeploying exists on Linux Kudu only', async () => {
    const r = await get(`${l.scmUrl}/api/isdeploying`, l.basic);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ value: 'False', msg: expect.any(String) });
    expect((await get(`${w.scmUrl}/api/isdeploying`, w.basic)).status).toBe(404);
  });

  it('GET /api/deployments supports ETag and If-None-Match', async () => {
    const a = await get(`${l.scmUrl}/api/deployments`, l.basic);
    expect(a.status).toBe(200);
    const etag = a.headers.get('etag') as string;
    expect(etag).toBeTruthy();
    const b = await fetch(`${l.scmUrl}/api/deployments`, {
      headers: { authorization: l.basic, 'if-none-match': etag },
    });
    expect(b.status).toBe(304);
  });

  it('PUT /api/deployments/{id} records a client-written deployment', async () => {
    const r = await fetch(`${l.scmUrl}/api/deployments/custom1`, {
      method: 'PUT',
      headers: { authorization: l.basic, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 4, message: '{"type":"deployment"}', author: 'ci', deployer: 'GitHub' }),
    });
    expect(r.status).toBe(200);
    const rec = (await (await get(`${l.scmUrl}/api/deployments/custom1`, l.basic)).json()) as Record<
      string,
      unknown
    >;
    expect(rec).toMatchObject({ id: 'custom1', status: 4, deployer: 'GitHub', complete: true });
    expect((await get(`${l.scmUrl}/api/deployments/nope`, l.basic)).status).toBe(404);
  });
});

describe('OneDeploy artifacts and affinity', () => {
  it('type=static writes one file at path; under run-from-package the read-only wwwroot fails it (status 3)', async () => {
    setSettings(linux, {});
    const r = await fetch(`${l.scmUrl}/api/publish?type=static&path=hello.txt`, {
      method: 'POST',
      headers: { authorization: l.basic },
      body: 'hello',
    });
    expect(r.status).toBe(200);
    // the push restarts the site; it serves the new file once warm
    await waitFor(async () =>
      (await (await fetch(`${l.siteUrl}/hello.txt`)).text()) === 'hello' ? true : undefined,
    );

    setSettings(linux, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    await l.worker.restart();
    expect(l.worker.mounted().dir).not.toBeNull();
    const ro = await fetch(`${l.scmUrl}/api/publish?type=static&path=other.txt`, {
      method: 'POST',
      headers: { authorization: l.basic },
      body: 'x',
    });
    expect(ro.status).toBe(500);
    const latest = (await (await get(`${l.scmUrl}/api/deployments/latest`, l.basic)).json()) as {
      status: number;
      status_text: string;
    };
    expect(latest.status).toBe(3);
    expect(latest.status_text).toContain('Read-only file system');
    setSettings(linux, {});
  });

  it('OneDeploy path rules use the Kudu texts; lib and script go below site/libs and site/scripts', async () => {
    const post = (q: string): Promise<Response> =>
      fetch(`${l.scmUrl}/api/publish?${q}`, {
        method: 'POST',
        headers: { authorization: l.basic },
        body: 'x',
      });
    const slash = await post('type=static&path=dir/');
    expect(slash.status).toBe(400);
    expect(await slash.text()).toBe("Path cannot end with a '/'");
    const dots = await post('type=static&path=../x/a.txt');
    expect(dots.status).toBe(400);
    expect(await dots.text()).toBe("Path cannot contain '..' Please provide an absolute path.");
    const lib = await post('type=lib');
    expect(lib.status).toBe(400);
    expect(await lib.text()).toBe("Path must be defined for type='Lib'");
    setSettings(linux, {});
    expect((await post('type=lib&path=tools/x.jar')).status).toBe(200);
    expect(existsSync(path.join(linux.homeDir, 'site', 'libs', 'tools', 'x.jar'))).toBe(true);
  });

  it('sends an ARRAffinity cookie on SCM responses', async () => {
    const r = await get(`${l.scmUrl}/api/settings`, l.basic);
    expect(r.headers.getSetCookie().some((c) => /^ARRAffinity=[0-9a-f]{64};/.test(c))).toBe(true);
  });
});
