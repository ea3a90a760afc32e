import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClientSecretCredential } from '@azure/identity';
import { WebSiteManagementClient } from '@azure/arm-appservice';
import AdmZip from 'adm-zip';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmulatorConnection, RunningEmulator } from '../src/index.js';
import { request, requestViaProxy, startTestEmulator } from './helpers/start.js';

let emu: RunningEmulator;
let startMs = 0;
const RG = 'runpack-rg';
const WEB = 'rp-linux-web';

beforeAll(async () => {
  const t0 = Date.now();
  emu = await startTestEmulator({ stateDir: mkdtempSync(join(tmpdir(), 'runpack-emu-start-')) });
  startMs = Date.now() - t0;
});
afterAll(async () => {
  await emu?.stop();
});

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('startEmulator', () => {
  it('starts everything (Azurite included) within 10 s and writes ca.pem and connection.json', () => {
    expect(startMs).toBeLessThan(10000);
    expect(readFileSync(join(emu.stateDir, 'ca.pem'), 'utf8')).toBe(
      readFileSync(join(process.env.RUNPACK_TEST_CA_DIR!, 'ca.pem'), 'utf8'),
    );
    const conn = JSON.parse(
      readFileSync(join(emu.stateDir, 'connection.json'), 'utf8'),
    ) as EmulatorConnection;
    expect(conn).toEqual(emu.connection);
    expect(conn.resourceManagerEndpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(conn.authorityHost).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(conn.proxyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(conn.storage).toMatchObject({ accountName: 'runpackstore' });
    expect(Buffer.from(conn.storage.accountKey, 'base64')).toHaveLength(64);
    expect(conn.oidc.requestUrl).toContain('?api-version=');
    const web = conn.apps.find((a) => a.name === WEB)!;
    expect(web).toMatchObject({ kind: 'app,linux', publishingUserName: `$${WEB}` });
    expect(web.slots.map((s) => s.name)).toEqual(['staging']);
    expect(web.scmUrl).toMatch(
      /^https:\/\/rp-linux-web-[0-9a-f]{6}\.scm\.westeurope-01\.azurewebsites\.emulator\.test$/,
    );
    expect(conn.apps.map((a) => a.kind).sort()).toEqual(
      [
        'app',
        'app,linux',
        'app,linux',
        'functionapp',
        'functionapp,linux',
        'functionapp,linux',
        'functionapp,linux',
      ].sort(),
    );
  });

  it('a separate process trusts the emulator with NODE_EXTRA_CA_CERTS=<state>/ca.pem', async () => {
    const script = `fetch(process.argv[1]).then(async r => { console.log(r.status); }, e => { console.log('ERR', e.cause?.code ?? e.message); })`;
    // Async spawn: the emulator runs in this process and must keep answering.
    const run = (env: Record<string, string>) =>
      new Promise<string>((resolve, reject) => {
        const c = spawn(
          process.execPath,
          ['-e', script, `${emu.resourceManagerEndpoint}metadata/endpoints?api-version=2022-09-01`],
          {
            env: { PATH: process.env.PATH ?? '', ...env },
          },
        );
        let out = '';
        c.stdout.on('data', (b: Buffer) => (out += b.toString()));
        c.on('error', reject);
        c.on('close', () => resolve(out.trim()));
      });
    expect(await run({ NODE_EXTRA_CA_CERTS: join(emu.stateDir, 'ca.pem') })).toBe('200');
    expect(await run({})).toMatch(/^ERR/);
  });

  it('lists the instances of a scaled-out app and of a slot (List Instance Identifiers), named by the ARRAffinity id', async () => {
    const cred = new ClientSecretCredential(
      emu.tenantId,
      emu.servicePrincipal.clientId,
      emu.servicePrincipal.clientSecret,
      { authorityHost: emu.authorityHost, disableInstanceDiscovery: true },
    );
    const client = new WebSiteManagementClient(cred, emu.subscriptionId, {
      endpoint: emu.resourceManagerEndpoint,
      credentialScopes: ['https://management.azure.com/.default'],
    });
    const ids: string[] = [];
    for await (const i of client.webApps.listInstanceIdentifiers(RG, 'rp-scaled-web')) {
      expect(i.type).toBe('Microsoft.Web/sites/instances');
      ids.push(i.name!);
    }
    expect(ids).toEqual(emu.admin.site('rp-scaled-web').instances.map((i) => i.id));
    expect(ids).toHaveLength(2);
    const slot: string[] = [];
    for await (const i of client.webApps.listInstanceIdentifiersSlot(RG, WEB, 'staging')) slot.push(i.name!);
    expect(slot).toHaveLength(1);
    await emu.admin.scale('rp-scaled-web', null, 3);
    const after: string[] = [];
    for await (const i of client.webApps.listInstanceIdentifiers(RG, 'rp-scaled-web')) after.push(i.name!);
    expect(after.slice(0, 2)).toEqual(ids);
    expect(after).toHaveLength(3);
    await emu.admin.scale('rp-scaled-web', null, 2);
  });

  it('deploys end to end with the real Kudu and worker: ARM settings, zipdeploy (Basic and Bearer), site serves the package', async () => {
    const cred = new ClientSecretCredential(
      emu.tenantId,
      emu.servicePrincipal.clientId,
      emu.servicePrincipal.clientSecret,
      {
        authorityHost: emu.authorityHost,
        disableInstanceDiscovery: true,
      },
    );
    const client = new WebSiteManagementClient(cred, emu.subscriptionId, {
      endpoint: emu.resourceManagerEndpoint,
      credentialScopes: ['https://management.azure.com/.default'],
    });
    const settings = (await client.webApps.listApplicationSettings(RG, WEB)).properties ?? {};
    await client.webApps.updateApplicationSettings(RG, WEB, {
      properties: { ...settings, WEBSITE_RUN_FROM_PACKAGE: '1' },
    });
    const web = emu.apps.find((a) => a.name === WEB)!;
    const basic = `Basic ${Buffer.from(`${web.publishingUserName}:${web.publishingPassword}`).toString('base64')}`;
    await until(async () => {
      const r = await request(`${web.scmLoopbackUrl}/api/settings`, { headers: { Authorization: basic } });
      return (JSON.parse(r.body) as Record<string, string>).WEBSITE_RUN_FROM_PACKAGE === '1'
        ? true
        : undefined;
    }, 'Kudu sees WEBSITE_RUN_FROM_PACKAGE=1');

    const zip = new AdmZip();
    zip.addFile(
      'server.js',
      Buffer.from(
        "require('http').createServer((q, s) => s.end('hello from v1')).listen(process.env.PORT);\n",
      ),
    );
    const deploy = await requestViaProxy(emu.proxyUrl, `${web.scmUrl}/api/zipdeploy?isAsync=false`, {
      method: 'POST',
      headers: { Authorization: basic, 'Content-Type': 'application/zip' },
      body: zip.toBuffer(),
    });
    expect(deploy.status).toBe(200);
    const body = await until(async () => {
      const r = await requestViaProxy(emu.proxyUrl, `${web.defaultHostUrl}/`);
      return r.status === 200 ? r.body : undefined;
    }, 'the site to serve the package');
    expect(body).toBe('hello from v1');
    expect(emu.admin.site(WEB).mounted).toMatchObject({ mode: 'local' });

    const armToken = (await cred.getToken('https://management.azure.com/.default')).token;
    const bearer = await request(`${web.scmLoopbackUrl}/api/deployments/latest`, {
      headers: { Authorization: `Bearer ${armToken}` },
    });
    expect(bearer.status).toBe(200);
    expect((JSON.parse(bearer.body) as { status: number }).status).toBe(4);
    const storageToken = (await cred.getToken('https://storage.azure.com/.default')).token;
    const wrongAud = await request(`${web.scmLoopbackUrl}/api/deployments/latest`, {
      headers: { Authorization: `Bearer ${storageToken}` },
    });
    expect(wrongAud.status).toBe(401);

    // checklist 18: stop makes the main host answer 403 while SCM keeps working; start brings the content back.
    await client.webApps.stop(RG, WEB);
    const stopped = await requestViaProxy(emu.proxyUrl, `${web.defaultHostUrl}/`);
    expect(stopped.status).toBe(403);
    const scmWhileStopped = await request(`${web.scmLoopbackUrl}/api/settings`, {
      headers: { Authorization: basic },
    });
    expect(scmWhileStopped.status).toBe(200);
    await client.webApps.start(RG, WEB);
    const back = await until(async () => {
      const r = await requestViaProxy(emu.proxyUrl, `${web.defaultHostUrl}/`);
      return r.status === 200 ? r.body : undefined;
    }, 'the site to serve again after start');
    expect(back).toBe('hello from v1');
  });

  it('stop() closes every listener and Azurite', async () => {
    const other = await startTestEmulator({}, { keepStateDir: true });
    const arm = `${other.resourceManagerEndpoint}metadata/endpoints?api-version=2022-09-01`;
    const blob = other.storage.blobEndpoint;
    expect((await request(arm)).status).toBe(200);
    await other.stop();
    await expect(request(arm)).rejects.toThrow(/ECONNREFUSED/);
    await expect(request(blob)).rejects.toThrow(/ECONNREFUSED/);
    expect(existsSync(join(other.stateDir, 'connection.json'))).toBe(true);
    rmSync(other.stateDir, { recursive: true, force: true });
  });
});
