/**
 * admin.reset({ sites, blobs }): what one test file did to the sites and to blob storage is gone, so the next
 * file can share the emulator; reset() without options keeps the sites as they are.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import AdmZip from 'adm-zip';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningEmulator } from '../src/index.js';
import { request, startTestEmulator } from './helpers/start.js';

let emu: RunningEmulator;
let token = '';
const WEB = 'rp-linux-web';
const WIN = 'rp-win-web';

beforeAll(async () => {
  emu = await startTestEmulator({ stateDir: mkdtempSync(join(tmpdir(), 'runpack-emu-reset-')) });
  const r = await request(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emu.servicePrincipal.clientId,
      client_secret: emu.servicePrincipal.clientSecret,
      scope: 'https://management.azure.com/.default',
    }).toString(),
  });
  token = (JSON.parse(r.body) as { access_token: string }).access_token;
});
afterAll(async () => {
  await emu?.stop();
});

const sitePath = (app: string, rest = '') =>
  `${emu.resourceManagerEndpoint}subscriptions/${emu.subscriptionId}/resourceGroups/${emu.resourceGroup}/providers/Microsoft.Web/sites/${app}${rest}?api-version=2024-11-01`;

async function arm(method: string, url: string, body?: unknown) {
  const r = await request(url, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect([method, url, r.status]).toEqual([method, url, 200]);
  return r;
}

function scm(app: string, slot?: string) {
  const a = emu.apps.find((x) => x.name === app)!;
  const s = slot ? a.slots.find((x) => x.name === slot)! : a;
  const auth = `Basic ${Buffer.from(`${s.publishingUserName}:${s.publishingPassword}`).toString('base64')}`;
  return {
    get: (p: string) => request(`${s.scmLoopbackUrl}${p}`, { headers: { Authorization: auth } }),
    post: (p: string, body: string | Buffer, type: string) =>
      request(`${s.scmLoopbackUrl}${p}`, {
        method: 'POST',
        headers: { Authorization: auth, 'Content-Type': type },
        body,
      }),
    site: (p = '/') => request(`${s.siteUrl}${p}`),
  };
}

function nodeApp(version: string): Buffer {
  const zip = new AdmZip();
  zip.addFile(
    'server.js',
    Buffer.from(
      `require('http').createServer((q, s) => s.end('version ${version}')).listen(process.env.PORT);\n`,
    ),
  );
  return zip.toBuffer();
}

async function untilServes(get: () => Promise<{ status: number; body: string }>, want: string) {
  const end = Date.now() + 20000;
  let last = { status: 0, body: '' };
  while (Date.now() < end) {
    last = await get();
    if (last.status === 200 && last.body === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`site never served '${want}'; last answer ${last.status} ${last.body.slice(0, 80)}`);
}

describe('admin reset', () => {
  it('with sites and blobs: settings, swap, history, Kudu settings, files, state and containers go back to the preset', async () => {
    const before = {
      web: emu.admin.site(WEB),
      slot: emu.admin.site(WEB, 'staging'),
      win: emu.admin.site(WIN),
    };

    // What a test file might leave behind
    await arm('PUT', sitePath(WEB, '/config/appsettings'), {
      properties: { ...before.web.appSettings, WEBSITE_RUN_FROM_PACKAGE: '1', LEFT: 'over' },
    });
    await arm('PUT', sitePath(WEB, '/slots/staging/config/appsettings'), {
      properties: { WEBSITE_RUN_FROM_PACKAGE: '1' },
    });
    await arm('PUT', sitePath(WEB, '/config/slotConfigNames'), { properties: { appSettingNames: ['LEFT'] } });
    const kudu = scm(WEB, 'staging');
    expect(
      (await kudu.post('/api/settings', JSON.stringify({ KUDU_LOCAL: 'x' }), 'application/json')).status,
    ).toBe(204);
    expect((await kudu.post('/api/zipdeploy?isAsync=false', nodeApp('one'), 'application/zip')).status).toBe(
      200,
    );
    await untilServes(() => kudu.site(), 'version one');
    await arm('POST', sitePath(WEB, '/slots/staging/slotsswap'), { targetSlot: 'production' });
    await untilServes(() => scm(WEB).site(), 'version one');
    await arm('POST', sitePath(WIN, '/stop'));
    expect((await scm(WIN).site()).status).toBe(403);
    const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
    const svc = new BlobServiceClient(
      emu.storage.blobEndpoint,
      new StorageSharedKeyCredential(emu.storage.accountName, emu.storage.accountKey),
    );
    await svc.getContainerClient('packages').createIfNotExists();
    await svc.getContainerClient('packages').getBlockBlobClient('a.zip').upload('zip', 3);
    const listContainers = async () => {
      const out: string[] = [];
      for await (const c of svc.listContainers()) out.push(c.name);
      return out;
    };
    // Each Flex app's deployment container exists from the start, as creating a Flex app makes it.
    const flexContainers = ['app-package-rp-flex-func', 'app-package-rp-flex-py'];
    expect(await listContainers()).toEqual([...flexContainers, 'packages']);

    await emu.admin.reset({ sites: true, blobs: true });

    for (const [now, was] of [
      [emu.admin.site(WEB), before.web],
      [emu.admin.site(WEB, 'staging'), before.slot],
      [emu.admin.site(WIN), before.win],
    ] as const) {
      expect(now).toMatchObject({
        appSettings: was.appSettings,
        scmSettings: was.scmSettings,
        homeDir: was.homeDir,
        state: 'Running',
        workerState: 'running',
        triggerSyncs: [],
      });
      expect(now.mounted).toMatchObject({ mode: 'none', error: null });
    }
    const names = await arm('GET', sitePath(WEB, '/config/slotConfigNames'));
    expect(
      (JSON.parse(names.body) as { properties: { appSettingNames: string[] } }).properties.appSettingNames,
    ).toEqual([]);
    for (const k of [scm(WEB), scm(WEB, 'staging')]) {
      expect(JSON.parse((await k.get('/api/deployments')).body)).toEqual([]);
      expect((await k.get('/api/deployments/latest')).status).toBe(404);
      expect(JSON.parse((await k.get('/api/vfs/site/wwwroot/')).body)).toEqual([]);
      expect(JSON.parse((await k.get('/api/vfs/data/SitePackages/')).body)).toEqual([]);
      // nothing deployed: the node site has no entry point
      expect((await k.site()).status).toBe(503);
    }
    expect(JSON.parse((await kudu.get('/api/settings')).body)).not.toHaveProperty('KUDU_LOCAL');
    expect((await scm(WIN).site()).status).not.toBe(403);
    expect(await listContainers()).toEqual(flexContainers);

    // The reset sites take deployments again
    await arm('PUT', sitePath(WEB, '/slots/staging/config/appsettings'), {
      properties: { WEBSITE_RUN_FROM_PACKAGE: '1' },
    });
    expect((await kudu.post('/api/zipdeploy?isAsync=false', nodeApp('two'), 'application/zip')).status).toBe(
      200,
    );
    await untilServes(() => kudu.site(), 'version two');
    expect(JSON.parse((await kudu.get('/api/deployments')).body)).toHaveLength(1);
  });

  it('without options keeps sites and blobs as they are (tests of one file build on each other)', async () => {
    const kudu = scm(WEB, 'staging');
    const history = JSON.parse((await kudu.get('/api/deployments')).body) as unknown[];
    expect(history).toHaveLength(1);
    emu.admin.addFaults('*', { scmForbidden: true });
    await emu.admin.reset();
    expect(emu.admin.faults()).toEqual({});
    expect(JSON.parse((await kudu.get('/api/deployments')).body)).toEqual(history);
    expect((await kudu.site()).body).toBe('version two');
  });

  it('over HTTPS: POST /reset {"sites":true}', async () => {
    const kudu = scm(WEB, 'staging');
    const r = await request(`${emu.adminUrl}/reset`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sites: true }),
    });
    expect(r.status).toBe(204);
    expect(JSON.parse((await kudu.get('/api/deployments')).body)).toEqual([]);
    expect((await kudu.site()).status).toBe(503);
  });
});
