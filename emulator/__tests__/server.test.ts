import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClientSecretCredential } from '@azure/identity';
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import * as https from 'node:https';
import type { RunningEmulator } from '../src/index.js';
import { connectTunnel, request, requestViaProxy, startTestEmulator } from './helpers/start.js';
import { fakeWorkerFactory } from './helpers/fake-worker.js';

let emu: RunningEmulator;
const WEB = 'rp-linux-web';

beforeAll(async () => {
  emu = await startTestEmulator({ factories: { createWorker: fakeWorkerFactory().create } });
});
afterAll(async () => {
  await emu?.stop();
});

const app = (name: string) => emu.apps.find((a) => a.name === name)!;
const basic = (a: { publishingUserName: string; publishingPassword: string }) =>
  `Basic ${Buffer.from(`${a.publishingUserName}:${a.publishingPassword}`).toString('base64')}`;

describe('routing', () => {
  it('reaches Azure-style site and SCM names on port 443 through the CONNECT proxy', async () => {
    const site = await requestViaProxy(emu.proxyUrl, `${app(WEB).defaultHostUrl}/`);
    expect(site.status).toBe(200);
    expect(site.body).toContain(`/sites/${WEB} `);
    const slot = await requestViaProxy(emu.proxyUrl, `${app(WEB).slots[0]!.defaultHostUrl}/`);
    expect(slot.body).toContain(`/sites/${WEB}/slots/staging `);
    const scm = await requestViaProxy(emu.proxyUrl, `${app(WEB).scmUrl}/api/settings`, {
      headers: { Authorization: basic(app(WEB)) },
    });
    expect(scm.status).toBe(200);
    expect(JSON.parse(scm.body)).toEqual(emu.admin.site(WEB).scmSettings);
  });

  it('routes by Host header on the main listener and by port on the loopback listeners', async () => {
    const main = new URL(emu.resourceManagerEndpoint);
    const byHost = await request(`https://127.0.0.1:${main.port}/`, {
      host: `${new URL(app(WEB).defaultHostUrl).hostname}`,
    });
    expect(byHost.body).toContain(`/sites/${WEB} `);
    const byPort = await request(`${app('rp-win-web').siteUrl}/`);
    expect(byPort.body).toContain('/sites/rp-win-web ');
    const scmByPort = await request(`${app('rp-win-web').scmLoopbackUrl}/api/settings`, {
      headers: { Authorization: basic(app('rp-win-web')) },
    });
    expect(scmByPort.status).toBe(200);
    const unknown = await request(`https://127.0.0.1:${main.port}/`, {
      host: 'nope.azurewebsites.emulator.test',
    });
    expect(unknown.status).toBe(404);
  });

  it('the proxy refuses targets outside the emulator and loopback', async () => {
    const { status, socket } = await connectTunnel(emu.proxyUrl, 'example.com:443');
    socket.destroy();
    expect(status).toBe(403);
  });

  it('the certificate covers the Azure-style names, 127.0.0.1 and localhost', async () => {
    const names = await new Promise<string>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: new URL(emu.resourceManagerEndpoint).port, path: '/', agent: false },
        (res) => {
          const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
          res.resume();
          resolve(cert.subjectaltname ?? '');
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(names).toContain('IP Address:127.0.0.1');
    expect(names).toContain('DNS:localhost');
    expect(names).toContain('DNS:*.azurewebsites.emulator.test');
    expect(names).toContain(`DNS:${new URL(app(WEB).scmUrl).hostname}`);
  });
});

describe('checklist 30: metadata endpoint', () => {
  it('returns one object with resourceManager, loginEndpoint, audiences, storage suffix and name over https', async () => {
    const res = await request(`${emu.resourceManagerEndpoint}metadata/endpoints?api-version=2022-09-01`);
    const m = JSON.parse(res.body) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(Array.isArray(m)).toBe(false);
    expect(m.resourceManager).toBe(emu.resourceManagerEndpoint);
    expect(String(m.resourceManager)).toMatch(/^https:\/\/.*\/$/);
    expect(m.authentication).toMatchObject({
      loginEndpoint: emu.authorityHost,
      audiences: ['https://management.core.windows.net/', 'https://management.azure.com/'],
    });
    expect(typeof (m.suffixes as Record<string, string>).storage).toBe('string');
    expect(typeof m.name).toBe('string');
    expect((await request(`${emu.resourceManagerEndpoint}metadata/endpoints`)).status).toBe(400);
  });
});

describe('request log', () => {
  it('records every service without secrets (no sig, client_secret, tokens or passwords)', async () => {
    emu.admin.clearRequests();
    const cred = new ClientSecretCredential(
      emu.tenantId,
      emu.servicePrincipal.clientId,
      emu.servicePrincipal.clientSecret,
      {
        authorityHost: emu.authorityHost,
        disableInstanceDiscovery: true,
      },
    );
    const token = (await cred.getToken('https://management.azure.com/.default')).token;
    await request(`${emu.resourceManagerEndpoint}subscriptions?api-version=2022-12-01`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const keyCred = new StorageSharedKeyCredential(emu.storage.accountName, emu.storage.accountKey);
    const container = new BlobServiceClient(emu.storage.blobEndpoint, keyCred).getContainerClient('logs');
    await container.createIfNotExists();
    await container.getBlockBlobClient('a.zip').upload('a', 1);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: 'logs',
        blobName: 'a.zip',
        permissions: BlobSASPermissions.parse('r'),
        expiresOn: new Date(Date.now() + 3600_000),
      },
      keyCred,
    );
    expect((await request(`${emu.storage.blobEndpoint}logs/a.zip?${sas.toString()}`)).status).toBe(200);
    await request(
      `${app(WEB).scmLoopbackUrl}/api/settings?password=${encodeURIComponent(app(WEB).publishingPassword)}`,
      {
        headers: { Authorization: basic(app(WEB)) },
      },
    );
    const { requestToken } = emu.admin.mintOidcRequestToken();
    await request(`${emu.oidc.requestUrl}&audience=api://AzureADTokenExchange`, {
      headers: { Authorization: `Bearer ${requestToken}` },
    });

    const log = emu.admin.requests();
    const services = new Set(log.map((e) => e.service));
    for (const s of ['entra', 'arm', 'blob', 'kudu', 'oidc']) expect(services).toContain(s);
    const text = JSON.stringify(log);
    expect(text).not.toContain(sas.signature);
    expect(text).not.toContain(encodeURIComponent(sas.signature));
    expect(text).toContain('sig=REDACTED');
    expect(text).not.toContain(emu.servicePrincipal.clientSecret);
    expect(text).not.toContain(token);
    expect(text).not.toContain(requestToken);
    expect(text).not.toContain(app(WEB).publishingPassword);
    expect(text).not.toContain(encodeURIComponent(app(WEB).publishingPassword));
    const kudu = log.find((e) => e.service === 'kudu')!;
    expect(kudu.site).toBe(emu.admin.site(WEB).id);
    expect(kudu.status).toBe(200);
  });
});

describe('generic faults', () => {
  it('drop: the next N requests to the target lose their connection, then it recovers', async () => {
    emu.admin.setFaults(WEB, { drop: { target: 'site', count: 1 } });
    await expect(request(`${app(WEB).siteUrl}/`)).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await request(`${app(WEB).siteUrl}/`)).status).toBe(200);
    expect(emu.admin.requests({ service: 'site' }).some((e) => e.status === 0)).toBe(true);
    emu.admin.clearFaults();
  });

  it('drop on Entra makes a credential fail', async () => {
    emu.admin.setFaults('*', { drop: { target: 'entra', count: 5 } });
    const cred = new ClientSecretCredential(
      emu.tenantId,
      emu.servicePrincipal.clientId,
      emu.servicePrincipal.clientSecret,
      {
        authorityHost: emu.authorityHost,
        disableInstanceDiscovery: true,
        retryOptions: { maxRetries: 0 },
      },
    );
    await expect(cred.getToken('https://storage.azure.com/.default')).rejects.toThrow();
    emu.admin.clearFaults();
  });

  it('slow: a client with a short timeout gives up while the response is delayed', async () => {
    const get = (timeoutMs: number) =>
      new Promise<number>((resolve, reject) => {
        const u = new URL(`${app('rp-win-web').siteUrl}/`);
        const req = https.request(
          { host: u.hostname, port: u.port, path: '/', agent: false, timeout: timeoutMs },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('timeout', () => req.destroy(new Error('client timeout')));
        req.on('error', reject);
        req.end();
      });
    emu.admin.setFaults('rp-win-web', { slow: { target: 'site', ms: 4000 } });
    await expect(get(200)).rejects.toThrow('client timeout');
    emu.admin.clearFaults();
    expect(await get(10000)).toBe(200);
  });
});

describe('checklist 31: clock and admin API over HTTPS', () => {
  async function admin(method: string, path: string, body?: unknown) {
    const res = await request(`${emu.adminUrl}${path}`, {
      method,
      headers: body !== undefined ? { 'Content-Type': 'application/json' } : {},
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {} };
  }

  it('advances the clock, sets faults and storage toggles, mints OIDC tokens, reads sites and the log, resets', async () => {
    const before = new Date(String((await admin('GET', '/clock')).json.now)).getTime();
    const after = new Date(
      String((await admin('POST', '/clock/advance', { ms: 86_400_000 })).json.now),
    ).getTime();
    expect(after - before).toBeGreaterThanOrEqual(86_400_000);
    const t = emu.ctx.issueManagedIdentityToken('p', 'https://storage.azure.com');
    const iat =
      (JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { iat: number }).iat * 1000;
    expect(iat).toBeGreaterThanOrEqual(after - 5000);

    expect((await admin('PUT', '/faults/rp-win-web', { scmForbidden: true })).json).toMatchObject({
      'rp-win-web': { scmForbidden: true },
    });
    expect(
      (await admin('PATCH', '/storage/runpackstore', { networkDefaultAction: 'Deny' })).json,
    ).toMatchObject({
      networkDefaultAction: 'Deny',
    });
    expect((await admin('PATCH', '/storage/runpackstore', { networkDefaultAction: 'Maybe' })).status).toBe(
      400,
    );
    const minted = (await admin('POST', '/oidc/request-tokens', { claims: { sub: 'repo:o/r:pull_request' } }))
      .json;
    const id = await request(`${String(minted.requestUrl)}&audience=x`, {
      headers: { Authorization: `Bearer ${String(minted.requestToken)}` },
    });
    expect(
      JSON.parse(
        Buffer.from((JSON.parse(id.body) as { value: string }).value.split('.')[1]!, 'base64url').toString(),
      ),
    ).toMatchObject({
      sub: 'repo:o/r:pull_request',
    });
    const site = (await admin('GET', `/sites/${WEB}/staging`)).json;
    expect(site).toMatchObject({
      slotName: 'staging',
      workerState: 'running',
      defaultHostName: `${WEB}-staging.azurewebsites.emulator.test`,
    });
    expect((await admin('GET', '/sites/nope')).status).toBe(404);
    const log = (await request(`${emu.adminUrl}/requests?service=oidc`)).body;
    expect((JSON.parse(log) as { service: string }[]).every((e) => e.service === 'oidc')).toBe(true);

    expect((await admin('POST', '/reset')).status).toBe(204);
    expect((await admin('GET', '/faults')).json).toEqual({});
    expect([...emu.ctx.storageAccounts.values()][0]!.networkDefaultAction).toBe('Allow');
    expect(
      Math.abs(new Date(String((await admin('GET', '/clock')).json.now)).getTime() - Date.now()),
    ).toBeLessThan(60_000);
  });
});
