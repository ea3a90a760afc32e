/**
 * Azure Functions hosting as the official clients see it. Linux Consumption: a zip deploy (as the Azure CLI sends
 * it) stores the package in blob storage and the app runs it from that URL. Flex Consumption: the site document's functionAppConfig (WebSiteManagementClient),
 * One Deploy the way Azure/functions-action sends it for Flex (`POST /api/publish?RemoteBuild=false`, no `type`,
 * a bearer token; the body of the 202 is the deployment id), the package in the deployment container read back
 * with @azure/storage-blob, the function list from the package (WarmUp only when the host indexes none), and the
 * errors Azure gives for missing storage access and for settings Flex does not support.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { ClientSecretCredential } from '@azure/identity';
import { WebSiteManagementClient } from '@azure/arm-appservice';
import { BlobClient, BlobServiceClient } from '@azure/storage-blob';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import AdmZip from 'adm-zip';
import type { RunningEmulator } from '../src/index.js';
import { requestViaProxy, startTestEmulator, type RawResponse } from './helpers/start.js';

let emu: RunningEmulator;
let client: WebSiteManagementClient;
let credential: ClientSecretCredential;
const RG = 'runpack-rg';
const FLEX = 'rp-flex-func';
const FLEX_PY = 'rp-flex-py';

const app = (name: string) => emu.apps.find((a) => a.name === name)!;

function functionZip(functions: string[], extra: Record<string, string> = {}): Buffer {
  const z = new AdmZip();
  z.addFile('host.json', Buffer.from('{"version":"2.0"}'));
  for (const f of functions)
    z.addFile(`${f}/function.json`, Buffer.from('{"bindings":[{"type":"httpTrigger","name":"req"}]}'));
  for (const [k, v] of Object.entries(extra)) z.addFile(k, Buffer.from(v));
  return z.toBuffer();
}

async function bearer(): Promise<string> {
  return `Bearer ${(await credential.getToken('https://management.azure.com/.default'))!.token}`;
}

/** What functions-action sends for a Flex app. */
async function oneDeployFlex(name: string, zip: Buffer, query = 'RemoteBuild=false'): Promise<RawResponse> {
  return requestViaProxy(emu.proxyUrl, `${app(name).scmUrl}/api/publish?${query}`, {
    method: 'POST',
    headers: { Authorization: await bearer(), 'Content-Type': 'application/zip' },
    body: zip,
  });
}

async function follow(name: string, id: string): Promise<{ status: number; status_text: string }> {
  for (let i = 0; i < 200; i++) {
    const r = await requestViaProxy(emu.proxyUrl, `${app(name).scmUrl}/api/deployments/${id}`, {
      headers: { Authorization: await bearer() },
    });
    const rec = JSON.parse(r.body) as { status: number; status_text: string; complete: boolean };
    if (rec.complete) return rec;
    await new Promise((r2) => setTimeout(r2, 50));
  }
  throw new Error('the deployment did not finish');
}

async function deployedBlob(name: string): Promise<Buffer | null> {
  const site = await client.webApps.get(RG, name);
  const containerUrl = site.functionAppConfig!.deployment!.storage!.value!;
  const u = new URL(containerUrl);
  const container = u.pathname.split('/').filter(Boolean).pop()!;
  const service = new BlobServiceClient(containerUrl.slice(0, containerUrl.lastIndexOf('/')), credential);
  const blob = service.getContainerClient(container).getBlobClient('released-package.zip');
  if (!(await blob.exists())) return null;
  return blob.downloadToBuffer();
}

async function functionsOf(name: string): Promise<string[]> {
  const out: string[] = [];
  for await (const f of client.webApps.listFunctions(RG, name)) out.push(f.name!.split('/').pop()!);
  return out.sort();
}

async function untilFunctions(name: string, want: string[]): Promise<string[]> {
  let got: string[] = [];
  for (let i = 0; i < 100; i++) {
    got = await functionsOf(name);
    if (JSON.stringify(got) === JSON.stringify(want)) return got;
    await new Promise((r) => setTimeout(r, 50));
  }
  return got;
}

beforeAll(async () => {
  emu = await startTestEmulator();
  credential = new ClientSecretCredential(
    emu.tenantId,
    emu.servicePrincipal.clientId,
    emu.servicePrincipal.clientSecret,
    { authorityHost: emu.authorityHost, disableInstanceDiscovery: true },
  );
  client = new WebSiteManagementClient(credential, emu.subscriptionId, {
    endpoint: emu.resourceManagerEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
  });
});

afterAll(async () => {
  await emu?.stop();
});

beforeEach(async () => {
  await emu.admin.reset({ sites: true });
});

describe('a Flex Consumption app', () => {
  it('has functionAppConfig with a deployment container in the emulated account, and no worker-runtime settings', async () => {
    const site = await client.webApps.get(RG, FLEX);
    expect(site.functionAppConfig?.runtime).toEqual({ name: 'node', version: '20' });
    expect(site.functionAppConfig?.deployment?.storage?.value).toBe(
      `${emu.storage.blobEndpoint}app-package-rp-flex-func`,
    );
    const settings = (await client.webApps.listApplicationSettings(RG, FLEX)).properties!;
    expect(settings.AzureWebJobsStorage__accountName).toBe(emu.storage.accountName);
    expect(settings.FUNCTIONS_WORKER_RUNTIME).toBeUndefined();
    expect(settings.FUNCTIONS_EXTENSION_VERSION).toBeUndefined();
    // Other function apps carry the connection-string form, as every real one does.
    const other = (await client.webApps.listApplicationSettings(RG, 'rp-linux-func')).properties!;
    expect(other.AzureWebJobsStorage).toMatch(
      /^DefaultEndpointsProtocol=https;AccountName=runpackstore;AccountKey=/,
    );
  });

  it("takes functions-action's One Deploy (no type, RemoteBuild=false), stores the package in its container and runs it", async () => {
    const zip = functionZip(['HttpHello', 'Timer']);
    const res = await oneDeployFlex(FLEX, zip);
    expect(res.status).toBe(202);
    const id = JSON.parse(res.body) as string;
    expect(typeof id).toBe('string');
    expect(res.headers.location).toMatch(new RegExp(`/api/deployments/${id}$`));
    expect((await follow(FLEX, id)).status).toBe(4);
    expect((await deployedBlob(FLEX))?.equals(zip)).toBe(true);
    expect(await untilFunctions(FLEX, ['HttpHello', 'Timer'])).toEqual(['HttpHello', 'Timer']);
    // The host answers the sync with 400 while it starts (functions-action retries it the same way).
    for (let i = 0; ; i++) {
      try {
        await client.webApps.syncFunctionTriggers(RG, FLEX);
        break;
      } catch (err) {
        if (i > 50 || (err as { statusCode?: number }).statusCode !== 400) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const page = await requestViaProxy(emu.proxyUrl, `${app(FLEX).defaultHostUrl}/api/HttpHello`);
    expect(page.status).toBe(200);
  });

  it('lists only the platform WarmUp function when the host indexes none of the package', async () => {
    const res = await oneDeployFlex(FLEX, functionZip([], { 'src/index.js': 'module.exports = {}' }));
    expect((await follow(FLEX, JSON.parse(res.body) as string)).status).toBe(4);
    expect(await untilFunctions(FLEX, ['WarmUp'])).toEqual(['WarmUp']);
  });

  it("answers 400 BlobUploadFailedException when the app's identity cannot write the container, and keeps the package", async () => {
    const first = functionZip(['One']);
    expect((await follow(FLEX, JSON.parse((await oneDeployFlex(FLEX, first)).body) as string)).status).toBe(
      4,
    );
    emu.admin.setStorage(emu.storage.accountName, { blobWriters: [] });
    try {
      const res = await oneDeployFlex(FLEX, functionZip(['Two']));
      expect(res.status).toBe(400);
      expect(res.body).toMatch(
        /^BlobUploadFailedException: Failed to upload because Azure Storage responded with Forbidden/,
      );
    } finally {
      await emu.admin.reset();
    }
    expect((await deployedBlob(FLEX))?.equals(first)).toBe(true);
  });

  it('fails the deployment when WEBSITE_RUN_FROM_PACKAGE is set, before anything is stored', async () => {
    const settings = (await client.webApps.listApplicationSettings(RG, FLEX)).properties!;
    await client.webApps.updateApplicationSettings(RG, FLEX, {
      properties: { ...settings, WEBSITE_RUN_FROM_PACKAGE: '1' },
    });
    const res = await oneDeployFlex(FLEX, functionZip(['One']));
    const rec = await follow(FLEX, JSON.parse(res.body) as string);
    expect(rec.status).toBe(3);
    expect(rec.status_text).toMatch(/WEBSITE_RUN_FROM_PACKAGE is not supported on the Flex Consumption plan/);
    expect(await deployedBlob(FLEX)).toBeNull();
  });

  it('deploys with the connection string its deployment storage names, and refuses a wrong key', async () => {
    const zip = functionZip(['PyHello'], { 'function_app.py': '' });
    const ok = await oneDeployFlex(FLEX_PY, zip, 'RemoteBuild=true');
    expect((await follow(FLEX_PY, JSON.parse(ok.body) as string)).status).toBe(4);
    expect((await deployedBlob(FLEX_PY))?.equals(zip)).toBe(true);
    const settings = (await client.webApps.listApplicationSettings(RG, FLEX_PY)).properties!;
    await client.webApps.updateApplicationSettings(RG, FLEX_PY, {
      properties: {
        ...settings,
        DEPLOYMENT_STORAGE_CONNECTION_STRING: settings.DEPLOYMENT_STORAGE_CONNECTION_STRING!.replace(
          /AccountKey=[^;]+/,
          `AccountKey=${Buffer.from('wrong').toString('base64')}`,
        ),
      },
    });
    const bad = await oneDeployFlex(FLEX_PY, functionZip(['Other']));
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/Server failed to authenticate the request/);
  });

  it('has no file system and no zipdeploy on its SCM site', async () => {
    const h = { Authorization: await bearer() };
    const vfs = await requestViaProxy(emu.proxyUrl, `${app(FLEX).scmUrl}/api/vfs/site/wwwroot/`, {
      headers: h,
    });
    expect(vfs.status).toBe(404);
    const zd = await requestViaProxy(emu.proxyUrl, `${app(FLEX).scmUrl}/api/zipdeploy`, {
      method: 'POST',
      headers: h,
      body: functionZip(['One']),
    });
    expect(zd.status).toBe(404);
  });
});

describe('a Linux Consumption app', () => {
  const LINUX = 'rp-linux-func';
  const zipDeploy = async (zip: Buffer, query = '') =>
    requestViaProxy(emu.proxyUrl, `${app(LINUX).scmUrl}/api/zipdeploy?isAsync=true${query}`, {
      method: 'POST',
      headers: { Authorization: await bearer(), 'Content-Type': 'application/zip' },
      body: zip,
    });
  const latest = async () => {
    for (let i = 0; i < 200; i++) {
      const r = await requestViaProxy(emu.proxyUrl, `${app(LINUX).scmUrl}/api/deployments/latest`, {
        headers: { Authorization: await bearer() },
      });
      const rec = JSON.parse(r.body) as { status: number; complete: boolean };
      if (rec.complete) return rec;
      await new Promise((r2) => setTimeout(r2, 50));
    }
    throw new Error('the deployment did not finish');
  };

  it('stores a zip deploy in blob storage and runs it from that URL, not from wwwroot', async () => {
    const zip = functionZip(['LinuxHello'], { 'LinuxHello/index.js': 'module.exports = async () => ({});' });
    expect((await zipDeploy(zip)).status).toBe(202);
    expect((await latest()).status).toBe(4);
    const settings = (await client.webApps.listApplicationSettings(RG, LINUX)).properties!;
    const url = settings.WEBSITE_RUN_FROM_PACKAGE!;
    expect(url.split('?')[0]).toBe(`${emu.storage.blobEndpoint}scm-releases/scm-latest-rp-linux-func.zip`);
    expect(new URL(url).searchParams.get('sp')).toBe('r');
    // The SAS in the setting reads the package (the official Blob client, as the platform fetches it).
    expect((await new BlobClient(url).downloadToBuffer()).equals(zip)).toBe(true);
    // The platform restarts the app onto it.
    for (let i = 0; i < 100 && emu.admin.site(LINUX).mounted?.mode !== 'url'; i++)
      await new Promise((r) => setTimeout(r, 50));
    const site = emu.admin.site(LINUX);
    expect(site.mounted?.mode).toBe('url');
    expect(site.mounted?.source).toBe(url.split('?')[0]);
    expect(existsSync(join(site.homeDir, 'site', 'wwwroot', 'host.json'))).toBe(false);
    expect(await untilFunctions(LINUX, ['LinuxHello'])).toEqual(['LinuxHello']);
  });

  it('refuses the next zip deploy over the URL unless overwriteWebsiteRunFromPackage=true', async () => {
    await zipDeploy(functionZip(['One']));
    await latest();
    const refused = await zipDeploy(functionZip(['Two']));
    expect(refused.status).toBe(409);
    expect(refused.body).toMatch(/Run-From-Zip is set to a remote URL/);
    expect((await zipDeploy(functionZip(['Two']), '&overwriteWebsiteRunFromPackage=true')).status).toBe(202);
    expect((await latest()).status).toBe(4);
    expect(await untilFunctions(LINUX, ['Two'])).toEqual(['Two']);
  });
});
