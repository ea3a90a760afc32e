import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClientSecretCredential } from '@azure/identity';
import { WebSiteManagementClient } from '@azure/arm-appservice';
import AdmZip from 'adm-zip';
import type { RunningEmulator } from '../src/index.js';
import { startTestEmulator, request } from './helpers/start.js';
import { fakeWorkerFactory } from './helpers/fake-worker.js';

let emu: RunningEmulator;
let client: WebSiteManagementClient;
let token: string;
const workers = fakeWorkerFactory();
const RG = 'runpack-rg';
const WEB = 'rp-linux-web';
const FUNC = 'rp-linux-func';

async function arm(method: string, path: string, body?: unknown, bearer = token) {
  const res = await request(`${emu.resourceManagerEndpoint}${path.replace(/^\//, '')}`, {
    method,
    headers: {
      ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    // not JSON (XML or empty)
  }
  return { ...res, json };
}

const sitePath = (name: string, rest = '') =>
  `/subscriptions/${emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Web/sites/${name}${rest}`;

async function until(cond: () => boolean, what: string, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  emu = await startTestEmulator({ factories: { createWorker: workers.create } });
  const cred = new ClientSecretCredential(
    emu.tenantId,
    emu.servicePrincipal.clientId,
    emu.servicePrincipal.clientSecret,
    {
      authorityHost: emu.authorityHost,
      disableInstanceDiscovery: true,
    },
  );
  client = new WebSiteManagementClient(cred, emu.subscriptionId, {
    endpoint: emu.resourceManagerEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
  });
  token = (await cred.getToken('https://management.azure.com/.default')).token;
});
afterAll(async () => {
  await emu?.stop();
});

describe('checklist 17: site shapes', () => {
  it('lists sites across the subscription so a client can find the resource group', async () => {
    const names: string[] = [];
    for await (const s of client.webApps.list()) names.push(`${s.name}|${s.resourceGroup}|${s.kind}`);
    expect(names.sort()).toEqual(
      [
        'rp-flex-func|runpack-rg|functionapp,linux',
        'rp-flex-py|runpack-rg|functionapp,linux',
        'rp-linux-func|runpack-rg|functionapp,linux',
        'rp-linux-web|runpack-rg|app,linux',
        'rp-scaled-web|runpack-rg|app,linux',
        'rp-win-func|runpack-rg|functionapp',
        'rp-win-web|runpack-rg|app',
      ].sort(),
    );
  });

  it('returns kind, reserved, state, identity, sku, linuxFxVersion and functionAppConfig per app', async () => {
    const web = await client.webApps.get(RG, WEB);
    expect(web.kind).toBe('app,linux');
    expect(web.reserved).toBe(true);
    expect(web.state).toBe('Running');
    expect(web.identity?.type).toBe('SystemAssigned');
    expect(web.identity?.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(web.siteConfig?.linuxFxVersion).toBe('NODE|20');
    const win = await client.webApps.get(RG, 'rp-win-web');
    expect([win.kind, win.reserved, win.identity?.type]).toEqual(['app', false, 'None']);
    const flex = await client.webApps.get(RG, 'rp-flex-func');
    expect(flex.kind).toBe('functionapp,linux');
    expect(flex.functionAppConfig?.runtime?.name).toBe('node');
    expect(flex.sku).toBe('FlexConsumption');
    const cons = await client.webApps.get(RG, FUNC);
    expect(cons.identity?.type).toBe('SystemAssigned, UserAssigned');
    const userIds = Object.keys(cons.identity?.userAssignedIdentities ?? {});
    expect(userIds).toEqual([
      `/subscriptions/${emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/rp-reader-identity`,
    ]);
    expect(cons.identity?.userAssignedIdentities?.[userIds[0]!]?.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect([cons.sku, cons.functionAppConfig ?? null]).toEqual(['Dynamic', null]);
    const raw = await arm('GET', `${sitePath('rp-linux-func')}?api-version=2024-11-01`);
    expect((raw.json.properties as Record<string, unknown>).serverFarmId).toMatch(/serverfarms/);
  });

  it('has slots with their own settings, host names and identity', async () => {
    const slots: string[] = [];
    for await (const s of client.webApps.listSlots(RG, WEB)) slots.push(s.name!);
    expect(slots).toEqual([`${WEB}/staging`]);
    const slot = await client.webApps.getSlot(RG, WEB, 'staging');
    const prod = await client.webApps.get(RG, WEB);
    expect(slot.defaultHostName).toBe(`${WEB}-staging.azurewebsites.emulator.test`);
    expect(slot.defaultHostName).not.toBe(prod.defaultHostName);
    await client.webApps.updateApplicationSettingsSlot(RG, WEB, 'staging', {
      properties: { ONLY_STAGING: 'x' },
    });
    expect((await client.webApps.listApplicationSettings(RG, WEB)).properties?.ONLY_STAGING).toBeUndefined();
    expect((await client.webApps.listApplicationSettingsSlot(RG, WEB, 'staging')).properties).toEqual({
      ONLY_STAGING: 'x',
    });
  });

  it('answers 404 ResourceNotFound and ResourceGroupNotFound in the ARM envelope', async () => {
    const missing = await arm('GET', `${sitePath('no-such-app')}?api-version=2024-11-01`);
    expect(missing.status).toBe(404);
    expect((missing.json.error as Record<string, string>).code).toBe('ResourceNotFound');
    const rg = await arm(
      'GET',
      `/subscriptions/${emu.subscriptionId}/resourceGroups/other-rg/providers/Microsoft.Web/sites/x?api-version=2024-11-01`,
    );
    expect([rg.status, (rg.json.error as Record<string, string>).code]).toEqual([
      404,
      'ResourceGroupNotFound',
    ]);
  });

  it('serves config/web with linuxFxVersion', async () => {
    const cfg = await client.webApps.getConfiguration(RG, WEB);
    expect(cfg.linuxFxVersion).toBe('NODE|20');
  });
});

describe('checklist 16: SCM host discovery', () => {
  it('lists a Repository host that is not derivable from the app name', async () => {
    const site = await client.webApps.get(RG, WEB);
    const repo = site.hostNameSslStates?.find((h) => h.hostType === 'Repository')?.name ?? '';
    expect(repo).toMatch(
      new RegExp(`^${WEB}-[0-9a-f]{6}\\.scm\\.westeurope-01\\.azurewebsites\\.emulator\\.test$`),
    );
    expect(repo).not.toBe(`${WEB}.scm.azurewebsites.emulator.test`);
    expect(site.hostNameSslStates?.find((h) => h.hostType === 'Standard')?.name).toBe(site.defaultHostName);
    const slot = await client.webApps.getSlot(RG, WEB, 'staging');
    const slotRepo = slot.hostNameSslStates?.find((h) => h.hostType === 'Repository')?.name;
    expect(slotRepo).toMatch(/^rp-linux-web-staging-[0-9a-f]{6}\.scm\./);
  });
});

describe('checklist 2: app settings are replace-all', () => {
  it('list returns {properties}, PUT deletes every key missing from the body, and there is no PATCH', async () => {
    await client.webApps.updateApplicationSettings(RG, WEB, { properties: { A: '1', B: '2' } });
    const listed = await arm('POST', `${sitePath(WEB, '/config/appsettings/list')}?api-version=2024-11-01`);
    expect(listed.json).toMatchObject({ name: 'appsettings', properties: { A: '1', B: '2' } });
    await client.webApps.updateApplicationSettings(RG, WEB, { properties: { B: '3' } });
    expect((await client.webApps.listApplicationSettings(RG, WEB)).properties).toEqual({ B: '3' });
    const patch = await arm('PATCH', `${sitePath(WEB, '/config/appsettings')}?api-version=2024-11-01`, {
      properties: { C: '1' },
    });
    expect(patch.status).toBe(404);
    expect((await client.webApps.listApplicationSettings(RG, WEB)).properties).toEqual({ B: '3' });
  });

  it('rejects non-string values with a Microsoft.Web PascalCase error (checklist 27)', async () => {
    const r = await arm('PUT', `${sitePath(WEB, '/config/appsettings')}?api-version=2024-11-01`, {
      properties: { N: 5 },
    });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ Code: 'BadRequest' });
    expect(typeof r.json.Message).toBe('string');
    expect(Array.isArray(r.json.Details)).toBe(true);
  });
});

describe('Flex Consumption', () => {
  it('stores WEBSITE_RUN_FROM_PACKAGE as a setting (its deployments refuse it, see flex.test.ts)', async () => {
    const before = (await client.webApps.listApplicationSettings(RG, 'rp-flex-func')).properties;
    const r = await arm('PUT', `${sitePath('rp-flex-func', '/config/appsettings')}?api-version=2024-11-01`, {
      properties: { ...before, WEBSITE_RUN_FROM_PACKAGE: '1' },
    });
    expect(r.status).toBe(200);
    expect((await client.webApps.listApplicationSettings(RG, 'rp-flex-func')).properties).toEqual({
      ...before,
      WEBSITE_RUN_FROM_PACKAGE: '1',
    });
    await client.webApps.updateApplicationSettings(RG, 'rp-flex-func', { properties: before });
  });
});
