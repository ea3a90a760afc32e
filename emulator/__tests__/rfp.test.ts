/**
 * End to end through startEmulator (real Azurite behind the blob front, Entra tokens, ARM): run-from-package
 * as a deploy tool and the platform see it.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import {
  BlobServiceClient,
  BlobSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import * as http from 'node:http';
import * as tls from 'node:tls';
import { startTestEmulator, request, connectTunnel } from './helpers/start.js';
import { makeZip, waitFor } from './helpers/kudu-context.js';
import type { RunningEmulator, AppConnection } from '../src/index.js';
import type { Site, SiteWorkerApi } from '../src/model.js';
import { FAILURE_MARKER } from '../src/mount.js';

let emu: RunningEmulator;
let web: AppConnection;
let site: Site;
let worker: SiteWorkerApi;
let basic: string;
let armToken: string;
let container: ReturnType<BlobServiceClient['getContainerClient']>;
let cred: StorageSharedKeyCredential;

const NODE_APP = `
const http = require('http');
const fs = require('fs');
http.createServer((req, res) => {
  if (req.url === '/write') {
    try { fs.writeFileSync(__dirname + '/cache.txt', 'x'); res.end('wrote'); } catch (e) { res.end('error:' + e.code); }
    return;
  }
  res.end('version:' + require('./version.json').v);
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const app = (v: string): Buffer =>
  makeZip({
    'package.json': '{"name":"a","main":"server.js"}',
    'server.js': NODE_APP,
    'version.json': JSON.stringify({ v }),
  });

async function token(scope: string): Promise<string> {
  const r = await fetch(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emu.servicePrincipal.clientId,
      client_secret: emu.servicePrincipal.clientSecret,
      scope,
    }),
  });
  expect(r.status).toBe(200);
  return ((await r.json()) as { access_token: string }).access_token;
}

const scm = (p: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${web.scmLoopbackUrl.replace(/\/$/, '')}${p}`, {
    ...init,
    headers: { authorization: basic, ...(init.headers as Record<string, string>) },
  });

const served = async (p = '/'): Promise<{ status: number; text: string }> => {
  const r = await fetch(`${web.siteUrl.replace(/\/$/, '')}${p}`);
  return { status: r.status, text: await r.text() };
};

async function putSettings(settings: Record<string, string>): Promise<void> {
  const r = await fetch(
    `${emu.resourceManagerEndpoint.replace(/\/$/, '')}${site.id}/config/appsettings?api-version=2023-12-01`,
    {
      method: 'PUT',
      headers: { authorization: `Bearer ${armToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: settings }),
    },
  );
  expect(r.status).toBe(200);
}

async function upload(name: string, body: Buffer): Promise<string> {
  await container.getBlockBlobClient(name).uploadData(body);
  return container.getBlockBlobClient(name).url;
}

function sasUrl(url: string, name: string, expiresInMs: number): string {
  const now = emu.ctx.clock.now();
  const sas = generateBlobSASQueryParameters(
    {
      containerName: 'releases',
      blobName: name,
      permissions: BlobSASPermissions.parse('r'),
      startsOn: new Date(now.getTime() - 300_000),
      expiresOn: new Date(now.getTime() + expiresInMs),
    },
    cred,
  ).toString();
  return `${url}?${sas}`;
}

async function restartAndSettle(): Promise<void> {
  await worker.restart();
}

beforeAll(async () => {
  emu = await startTestEmulator();
  web = emu.apps.find((a) => a.kind === 'app,linux') as AppConnection;
  site = [...emu.ctx.sites.values()].find((s) => s.appName === web.name && s.slotName === null) as Site;
  worker = emu.ctx.workers.get(site.id.toLowerCase()) as SiteWorkerApi;
  basic = `Basic ${Buffer.from(`${web.publishingUserName}:${web.publishingPassword}`).toString('base64')}`;
  armToken = await token('https://management.azure.com/.default');
  cred = new StorageSharedKeyCredential(emu.storage.accountName, emu.storage.accountKey);
  const svc = new BlobServiceClient(emu.storage.blobEndpoint, cred);
  container = svc.getContainerClient('releases');
  await container.createIfNotExists();
}, 60000);

afterAll(async () => {
  await emu?.stop();
});

beforeEach(() => {
  emu.admin.reset();
  site.basicAuthAllowed.scm = true;
});

describe('SCM host', () => {
  it('checklist 13: Bearer with an ARM token works, a storage token is 401, Basic is 401 once disabled', async () => {
    expect((await scm('/api/settings', { headers: { authorization: `Bearer ${armToken}` } })).status).toBe(
      200,
    );
    const storageToken = await token('https://storage.azure.com/.default');
    expect(
      (await scm('/api/settings', { headers: { authorization: `Bearer ${storageToken}` } })).status,
    ).toBe(401);
    const legacy = await token('https://management.core.windows.net//.default');
    expect((await scm('/api/settings', { headers: { authorization: `Bearer ${legacy}` } })).status).toBe(200);
    site.basicAuthAllowed.scm = false;
    expect((await scm('/api/settings')).status).toBe(401);
  });

  it('answers on its Azure-style regional SCM name through the proxy', async () => {
    const u = new URL(web.scmUrl);
    expect(u.hostname).toMatch(/-[0-9a-f]{6}\.scm\.[a-z0-9]+-01\.azurewebsites\.emulator\.test$/);
    const { status, socket } = await connectTunnel(emu.proxyUrl, `${u.hostname}:443`);
    expect(status).toBe(200);
    const secure = tls.connect({ socket, servername: u.hostname });
    const got = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          createConnection: () => secure,
          path: '/api/diagnostics/runtime',
          headers: { host: u.hostname, authorization: basic },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    secure.destroy();
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body)).toHaveProperty('nodejs');
  });
});

describe('local mode end to end', () => {
  it('checklist 5, 9 and 19: async zipdeploy, restart re-mount, the node app cannot write next to its files', async () => {
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: '1' });
    await waitFor(
      async () =>
        ((await (await scm('/api/settings')).json()) as Record<string, string>).WEBSITE_RUN_FROM_PACKAGE,
    );
    const r = await scm('/api/zipdeploy?isAsync=true', { method: 'POST', body: app('1') });
    expect(r.status).toBe(202);
    const location = new URL(r.headers.get('location') as string);
    expect(location.hostname).toBe(new URL(web.scmLoopbackUrl).hostname);
    const rec = await waitFor(async () => {
      const l = await scm('/api/deployments/latest');
      return l.status === 200 ? ((await l.json()) as { status: number }) : undefined;
    });
    expect(rec.status).toBe(4);
    await waitFor(async () => ((await served()).text === 'version:1' ? true : undefined));
    const write = (await served('/write')).text;
    expect(['error:EACCES', 'error:EROFS', 'error:EPERM']).toContain(write);
    const pointer = await (await scm('/api/vfs/data/SitePackages/packagename.txt')).text();
    expect(emu.admin.site(web.name).mounted).toMatchObject({ mode: 'local', source: pointer });
  });

  it('checklist 3: with a settings lag a push right after the PUT follows the old value', async () => {
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: '1' });
    emu.admin.setFaults(web.name, { settingsLagMs: 1500 });
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: 'https://example.invalid/p.zip' });
    const seen = (await (await scm('/api/settings')).json()) as Record<string, string>;
    expect(seen.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
    // Kudu still sees "1": the push is taken as a local package instead of the 409 a URL would give
    emu.ctx.clock.advance(1000);
    const r = await scm('/api/zipdeploy', { method: 'POST', body: app('lagged') });
    expect(r.status).toBe(200);
    await waitFor(async () => {
      const s = (await (await scm('/api/settings')).json()) as Record<string, string>;
      return s.WEBSITE_RUN_FROM_PACKAGE.startsWith('https') ? true : undefined;
    });
    expect((await scm('/api/zipdeploy', { method: 'POST', body: app('x') })).status).toBe(409);
  });
});

describe('local mode end to end, more', () => {
  const pointer = async (): Promise<string> =>
    (await scm('/api/vfs/data/SitePackages/packagename.txt')).text();

  it('checklist 5 and 11: sync push, names from the emulated clock, purge count, a corrupt zip keeps the pointer', async () => {
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: '1', SCM_MAX_ZIP_PACKAGE_COUNT: '2' });
    await waitFor(async () =>
      ((await (await scm('/api/settings')).json()) as Record<string, string>).SCM_MAX_ZIP_PACKAGE_COUNT
        ? true
        : undefined,
    );
    const at = emu.admin.advanceClock(400 * 24 * 3600_000);
    const year = at.slice(0, 4);
    for (const v of ['a', 'b', 'c']) {
      emu.ctx.clock.advance(2000);
      expect((await scm('/api/zipdeploy', { method: 'POST', body: app(v) })).status).toBe(200);
    }
    const name = await pointer();
    expect(name.startsWith(year)).toBe(true);
    const listing = (await (await scm('/api/vfs/data/SitePackages/')).json()) as { name: string }[];
    const zips = listing.map((e) => e.name).filter((n) => n.endsWith('.zip'));
    expect(zips).toHaveLength(2);
    expect(zips).toContain(name);

    emu.ctx.clock.advance(2000);
    const bad = await scm('/api/zipdeploy', { method: 'POST', body: Buffer.from('not a zip') });
    expect(bad.status).toBe(500);
    expect(await pointer()).toBe(name);
    await waitFor(async () => ((await served()).text === 'version:c' ? true : undefined));
  });

  it('checklist 8 and 12: OneDeploy async with the lock held gives 409 to a second push', async () => {
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: '1' });
    emu.ctx.clock.advance(2000);
    const first = await scm('/api/publish?type=zip&async=true', { method: 'POST', body: app('od') });
    expect(first.status).toBe(202);
    const second = await scm('/api/zipdeploy?isAsync=true', { method: 'POST', body: app('x') });
    expect(second.status).toBe(409);
    expect(await second.text()).toBe(
      'There is a deployment currently in progress. Please try again when it completes.',
    );
    await waitFor(async () => ((await served()).text === 'version:od' ? true : undefined));
  });

  it('checklist 19 and 22: VFS writes to the mounted wwwroot fail; a nested package does not start', async () => {
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: '1' });
    await waitFor(() => (worker.state() === 'running' ? true : undefined));
    const put = await scm('/api/vfs/site/wwwroot/x.txt', { method: 'PUT', body: 'x' });
    expect(put.status).toBe(409);
    expect(((await put.json()) as { Message: string }).Message).toContain(
      "Could not write to local resource '/home/site/wwwroot/x.txt'",
    );

    emu.ctx.clock.advance(2000);
    const nested = makeZip({
      'publish/package.json': '{"main":"server.js"}',
      'publish/server.js': NODE_APP,
      'publish/version.json': '{"v":"nested"}',
    });
    expect((await scm('/api/zipdeploy', { method: 'POST', body: nested })).status).toBe(200);
    await waitFor(() =>
      worker.mounted().source === null ? undefined : worker.state() === 'running' ? true : undefined,
    );
    await waitFor(async () => ((await served()).status === 503 ? true : undefined));
    const listing = (await (await scm('/api/vfs/site/wwwroot/')).json()) as { name: string }[];
    expect(listing.map((e) => e.name)).toEqual(['publish']);
  });

  it('checklist 32: with restartRequestFails the deploy succeeds and the old content stays until an ARM restart', async () => {
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: '1' });
    emu.ctx.clock.advance(2000);
    expect((await scm('/api/zipdeploy', { method: 'POST', body: app('old') })).status).toBe(200);
    await waitFor(async () => ((await served()).text === 'version:old' ? true : undefined));
    emu.admin.setFaults(web.name, { restartRequestFails: true });
    emu.ctx.clock.advance(2000);
    expect((await scm('/api/zipdeploy', { method: 'POST', body: app('new') })).status).toBe(200);
    const latest = (await (await scm('/api/deployments/latest')).json()) as { status: number };
    expect(latest.status).toBe(4);
    await new Promise((r) => setTimeout(r, 300));
    expect((await served()).text).toBe('version:old');
    const r = await fetch(
      `${emu.resourceManagerEndpoint.replace(/\/$/, '')}${site.id}/restart?synchronous=true&api-version=2023-12-01`,
      { method: 'POST', headers: { authorization: `Bearer ${armToken}` } },
    );
    expect(r.status).toBe(200);
    await waitFor(async () => ((await served()).text === 'version:new' ? true : undefined));
  });
});

describe('URL mode end to end', () => {
  it('checklist 4 and 6: a settings write re-mounts; the fetched copy is served until restart even when the blob is overwritten', async () => {
    const url = await upload('app.zip', app('u1'));
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: sasUrl(url, 'app.zip', 3600_000) });
    // checklist 4: the settings write restarts the site; it answers 503 while it re-mounts
    expect((await served()).status).toBe(503);
    await waitFor(async () => ((await served()).text === 'version:u1' ? true : undefined));
    expect(worker.mounted().source).toBe(url);
    await upload('app.zip', app('u2'));
    expect((await served()).text).toBe('version:u1');
    await restartAndSettle();
    expect((await served()).text).toBe('version:u2');
  });

  it('checklist 21 and 23: an expired SAS fails the next start with the marker and 503', async () => {
    const url = await upload('exp.zip', app('e1'));
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: sasUrl(url, 'exp.zip', 60_000) });
    await waitFor(async () => ((await served()).text === 'version:e1' ? true : undefined));
    emu.admin.advanceClock(120_000);
    expect((await served()).text).toBe('version:e1');
    await restartAndSettle();
    expect(worker.state()).toBe('failed');
    expect(worker.mounted().error).toContain('AuthenticationFailed');
    expect((await served()).status).toBe(503);
    const listing = (await (await scm('/api/vfs/site/wwwroot/')).json()) as { name: string }[];
    expect(listing.map((e) => e.name)).toEqual([FAILURE_MARKER]);
  });

  it('checklist 23: managed identity without SAS needs the reader role; the firewall blocks the app fetch', async () => {
    const url = await upload('mi.zip', app('m1'));
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: url });
    await waitFor(async () => ((await served()).text === 'version:m1' ? true : undefined));

    emu.admin.setStorage(emu.storage.accountName, { blobReaders: [] });
    await restartAndSettle();
    expect(worker.mounted().error).toContain('AuthorizationPermissionMismatch');
    expect((await served()).status).toBe(503);

    emu.admin.reset();
    emu.admin.setStorage(emu.storage.accountName, { networkDefaultAction: 'Deny' });
    await restartAndSettle();
    expect(worker.mounted().error).toContain('AuthorizationFailure');

    emu.admin.reset();
    await restartAndSettle();
    expect((await served()).text).toBe('version:m1');
  });

  it('checklist 23: a stored-policy SAS works until the policy expires, then the next start fails', async () => {
    const url = await upload('si.zip', app('si1'));
    const now = emu.ctx.clock.now();
    await container.setAccessPolicy(undefined, [
      {
        id: 'rfp-policy',
        accessPolicy: {
          startsOn: new Date(now.getTime() - 300_000),
          expiresOn: new Date(now.getTime() + 3600_000),
          permissions: 'r',
        },
      },
    ]);
    const sas = generateBlobSASQueryParameters(
      { containerName: 'releases', blobName: 'si.zip', identifier: 'rfp-policy' },
      cred,
    ).toString();
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: `${url}?${sas}` });
    await waitFor(async () => ((await served()).text === 'version:si1' ? true : undefined));
    emu.admin.advanceClock(2 * 3600_000);
    await restartAndSettle();
    expect(worker.state()).toBe('failed');
    expect(worker.mounted().error).toContain('AuthenticationFailed');
    await container.setAccessPolicy(undefined, []);
  });

  it('checklist 23: a user-delegation SAS stops working at the next start after its key expires', async () => {
    const storageToken = await token('https://storage.azure.com/.default');
    const tokenCred = {
      getToken: async () => ({ token: storageToken, expiresOnTimestamp: Date.now() + 3000_000 }),
    };
    const svc = new BlobServiceClient(emu.storage.blobEndpoint, tokenCred);
    const url = await upload('udk.zip', app('udk1'));
    const now = emu.ctx.clock.now();
    const keyEnd = new Date(now.getTime() + 24 * 3600_000);
    const key = await svc.getUserDelegationKey(new Date(now.getTime() - 300_000), keyEnd);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: 'releases',
        blobName: 'udk.zip',
        // Azurite 3.35 knows string-to-sign layouts up to 2025-11-05; the SDK default (2026-04-06) does not verify there
        version: '2025-11-05',
        permissions: BlobSASPermissions.parse('r'),
        startsOn: new Date(now.getTime() - 300_000),
        expiresOn: keyEnd,
      },
      key,
      emu.storage.accountName,
    ).toString();
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: `${url}?${sas}` });
    await waitFor(async () => ((await served()).text === 'version:udk1' ? true : undefined), 3000).catch(
      () => {
        throw new Error(String(worker.mounted().error));
      },
    );
    emu.admin.advanceClock(2 * 24 * 3600_000);
    expect((await served()).text).toBe('version:udk1');
    await restartAndSettle();
    expect(worker.state()).toBe('failed');
    expect((await served()).status).toBe(503);
  });

  it('checklist 7: a push while the value is a URL gets 409', async () => {
    await putSettings({ WEBSITE_RUN_FROM_PACKAGE: 'https://example.invalid/x.zip' });
    await waitFor(async () => {
      const s = (await (await scm('/api/settings')).json()) as Record<string, string>;
      return s.WEBSITE_RUN_FROM_PACKAGE?.startsWith('https') ? true : undefined;
    });
    const r = await scm('/api/publish?type=zip', { method: 'POST', body: app('x') });
    expect(r.status).toBe(409);
    expect(await r.text()).toContain('Run-From-Zip is set to a remote URL');
  });
});

describe('raw HTTPS by port', () => {
  it('the SCM loopback port serves Kudu over HTTPS with the emulator CA', async () => {
    const r = await request(`${web.scmLoopbackUrl.replace(/\/$/, '')}/api/diagnostics/runtime`, {
      headers: { authorization: basic },
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toHaveProperty('nodejs');
  });
});
