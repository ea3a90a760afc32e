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

describe('checklist 3 and 4 (ARM side): settings propagation and restart', () => {
  it('a settings PUT restarts the worker', async () => {
    const w = workers.workers.get(WEB)!;
    const before = w.calls.filter((c) => c === 'restart').length;
    await client.webApps.updateApplicationSettings(RG, WEB, {
      properties: { WEBSITE_RUN_FROM_PACKAGE: '1' },
    });
    await until(
      () => w.calls.filter((c) => c === 'restart').length === before + 1,
      'restart after settings PUT',
    );
  });

  it('Kudu settings lag behind the ARM write by settingsLagMs, then catch up', async () => {
    const site = emu.admin.site(WEB);
    emu.admin.setFaults(WEB, { settingsLagMs: 3000 });
    try {
      await client.webApps.updateApplicationSettings(RG, WEB, {
        properties: { WEBSITE_RUN_FROM_PACKAGE: 'lagged' },
      });
      expect(emu.admin.site(WEB).appSettings.WEBSITE_RUN_FROM_PACKAGE).toBe('lagged');
      expect(emu.admin.site(WEB).scmSettings.WEBSITE_RUN_FROM_PACKAGE).toBe(
        site.scmSettings.WEBSITE_RUN_FROM_PACKAGE,
      );
      await until(
        () => emu.admin.site(WEB).scmSettings.WEBSITE_RUN_FROM_PACKAGE === 'lagged',
        'scm settings',
        15000,
      );
    } finally {
      emu.admin.clearFaults(WEB);
    }
  });
});

describe('checklist 18 (ARM side): restart, stop, start', () => {
  it('synchronous restart waits for the worker; stop and start toggle state', async () => {
    const w = workers.workers.get(WEB)!;
    w.hold = true;
    let done = false;
    const p = client.webApps
      .restart(RG, WEB, { softRestart: false, synchronous: true })
      .then(() => (done = true));
    await until(() => w.state() === 'starting', 'worker starting');
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    w.hold = false;
    w.release();
    await p;
    expect(w.state()).toBe('running');

    await client.webApps.stop(RG, WEB);
    expect((await client.webApps.get(RG, WEB)).state).toBe('Stopped');
    expect(w.calls.at(-1)).toBe('stop');
    await client.webApps.start(RG, WEB);
    expect((await client.webApps.get(RG, WEB)).state).toBe('Running');
    expect(w.calls.at(-1)).toBe('start');
  });

  it('checklist 27: the optional 202 + Azure-AsyncOperation restart path (raw protocol: the SDK restart expects 200)', async () => {
    const w = workers.workers.get(WEB)!;
    emu.admin.setAsyncRestart(WEB, true);
    try {
      w.hold = true;
      const raw = await arm('POST', `${sitePath(WEB, '/restart')}?api-version=2024-11-01`);
      expect(raw.status).toBe(202);
      const asyncUrl = String(raw.headers['azure-asyncoperation']);
      expect(raw.headers['retry-after']).toBe('1');
      const pending = await request(asyncUrl, { headers: { Authorization: `Bearer ${token}` } });
      expect(JSON.parse(pending.body)).toEqual({ status: 'InProgress' });
      const loc = await request(String(raw.headers.location), {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(loc.status).toBe(202);
      w.hold = false;
      w.release();
      await until(() => w.state() === 'running', 'restart done');
      const doneAsync = await request(asyncUrl, { headers: { Authorization: `Bearer ${token}` } });
      expect(JSON.parse(doneAsync.body)).toEqual({ status: 'Succeeded' });
      const doneLoc = await request(String(raw.headers.location), {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(doneLoc.status).toBe(200);
    } finally {
      emu.admin.reset();
    }
    expect((await arm('POST', `${sitePath(WEB, '/restart')}?api-version=2024-11-01`)).status).toBe(200);
  });

  it('restart of a slot restarts only the slot worker', async () => {
    const prod = workers.workers.get(WEB)!;
    const slot = workers.workers.get(`${WEB}/staging`)!;
    const [p0, s0] = [prod.calls.length, slot.calls.length];
    await client.webApps.restartSlot(RG, WEB, 'staging', { synchronous: true });
    expect(slot.calls.slice(s0)).toEqual(['restart']);
    expect(prod.calls.length).toBe(p0);
  });
});

describe('checklist 14: basic-auth policy resource', () => {
  it('GET/PUT basicPublishingCredentialsPolicies/scm and ftp', async () => {
    expect((await client.webApps.getScmAllowed(RG, WEB)).allow).toBe(true);
    await client.webApps.updateScmAllowed(RG, WEB, { allow: false });
    const raw = await arm(
      'GET',
      `${sitePath(WEB, '/basicPublishingCredentialsPolicies/scm')}?api-version=2022-03-01`,
    );
    expect(raw.json).toMatchObject({ name: 'scm', properties: { allow: false } });
    expect(emu.ctx.sites.get(`${sitePath(WEB)}`.toLowerCase())?.basicAuthAllowed.scm).toBe(false);
    await client.webApps.updateScmAllowed(RG, WEB, { allow: true });
    await client.webApps.updateFtpAllowed(RG, WEB, { allow: false });
    expect((await client.webApps.getFtpAllowed(RG, WEB)).allow).toBe(false);
    expect((await client.webApps.getScmAllowed(RG, WEB)).allow).toBe(true);
  });
});

describe('checklist 15: publishing credentials and publish profile', () => {
  it('publishingcredentials/list returns scmUri with embedded userinfo', async () => {
    const creds = await client.webApps.beginListPublishingCredentialsAndWait(RG, WEB);
    const site = emu.admin.site(WEB);
    expect(creds.publishingUserName).toBe(`$${WEB}`);
    expect(creds.scmUri).toBe(
      `https://$${WEB}:${encodeURIComponent(creds.publishingPassword!)}@${site.scmHostName}`,
    );
    const slot = await client.webApps.beginListPublishingCredentialsSlotAndWait(RG, WEB, 'staging');
    expect(slot.publishingUserName).toBe(`$${WEB}__staging`);
  });

  it('publishxml has a ZipDeploy profile with host:443 and $app', async () => {
    const res = await client.webApps.listPublishingProfileXmlWithSecrets(RG, WEB, { format: 'WebDeploy' });
    const chunks: Buffer[] = [];
    for await (const c of res.readableStreamBody!) chunks.push(Buffer.from(c as Buffer));
    const xml = Buffer.concat(chunks).toString('utf8');
    const zip = /<publishProfile [^>]*publishMethod="ZipDeploy"[^>]*>/.exec(xml)?.[0] ?? '';
    const site = emu.admin.site(WEB);
    expect(zip).toContain(`publishUrl="${site.scmHostName}:443"`);
    expect(zip).toContain(`userName="$${WEB}"`);
    expect(zip).toContain(`destinationAppUrl="https://${site.defaultHostName}"`);
    expect(xml).toMatch(/publishMethod="MSDeploy"/);
  });
});

describe('checklist 26 (ARM side): function trigger sync and functions list', () => {
  it('syncfunctiontriggers answers 400 while the host is starting, then succeeds and is recorded', async () => {
    const w = workers.workers.get(FUNC)!;
    w.hold = true;
    void client.webApps.restart(RG, FUNC);
    await until(() => w.state() === 'starting', 'function host starting');
    const starting = await arm('POST', `${sitePath(FUNC, '/syncfunctiontriggers')}?api-version=2024-11-01`);
    expect(starting.status).toBe(400);
    w.hold = false;
    w.release();
    await until(() => w.state() === 'running', 'function host running');
    const before = emu.admin.site(FUNC).triggerSyncs.length;
    await client.webApps.syncFunctionTriggers(RG, FUNC);
    const hostSync = await arm('POST', `${sitePath(FUNC, '/host/default/sync')}?api-version=2015-08-01`);
    expect(hostSync.status).toBe(200);
    const runtime = await arm(
      'POST',
      `${sitePath(FUNC, '/hostruntime/admin/host/synctriggers')}?api-version=2015-08-01`,
    );
    expect(runtime.status).toBe(200);
    const syncs = emu.admin
      .site(FUNC)
      .triggerSyncs.slice(before)
      .map((s) => s.path.split('/').slice(-1)[0]);
    expect(syncs).toEqual(['syncfunctiontriggers', 'sync', 'synctriggers']);
  });

  it('lists the mounted functions as function envelopes', async () => {
    workers.workers.get(FUNC)!.functions = ['HttpTrigger1', 'Timer'];
    const names: string[] = [];
    for await (const f of client.webApps.listFunctions(RG, FUNC)) names.push(`${f.name}|${f.type}`);
    expect(names).toEqual([
      `${FUNC}/HttpTrigger1|Microsoft.Web/sites/functions`,
      `${FUNC}/Timer|Microsoft.Web/sites/functions`,
    ]);
    const raw = await arm('GET', `${sitePath(FUNC, '/functions')}?api-version=2024-11-01`);
    expect(
      ((raw.json.value as Record<string, unknown>[])[0]!.properties as Record<string, unknown>).name,
    ).toBe('HttpTrigger1');
  });
});

describe('slot configuration names and swap', () => {
  it('sticky settings stay, others move, home directories swap and both workers restart', async () => {
    await client.webApps.updateSlotConfigurationNames(RG, WEB, { appSettingNames: ['STICKY'] });
    expect((await client.webApps.listSlotConfigurationNames(RG, WEB)).appSettingNames).toEqual(['STICKY']);
    await client.webApps.updateApplicationSettings(RG, WEB, { properties: { STICKY: 'prod', V: 'old' } });
    await client.webApps.updateApplicationSettingsSlot(RG, WEB, 'staging', {
      properties: { STICKY: 'stage', V: 'new' },
    });
    const prodHome = emu.admin.site(WEB).homeDir;
    const slotHome = emu.admin.site(WEB, 'staging').homeDir;
    const prodW = workers.workers.get(WEB)!;
    const slotW = workers.workers.get(`${WEB}/staging`)!;
    const [p0, s0] = [prodW.homeDirsAtRestart.length, slotW.homeDirsAtRestart.length];
    await client.webApps.beginSwapSlotWithProductionAndWait(
      RG,
      WEB,
      { targetSlot: 'staging', preserveVnet: true },
      { updateIntervalInMs: 10 },
    );
    expect((await client.webApps.listApplicationSettings(RG, WEB)).properties).toEqual({
      STICKY: 'prod',
      V: 'new',
    });
    expect((await client.webApps.listApplicationSettingsSlot(RG, WEB, 'staging')).properties).toEqual({
      STICKY: 'stage',
      V: 'old',
    });
    expect(emu.admin.site(WEB).homeDir).toBe(slotHome);
    expect(emu.admin.site(WEB, 'staging').homeDir).toBe(prodHome);
    expect(prodW.homeDirsAtRestart.slice(p0)).toContain(slotHome);
    expect(slotW.homeDirsAtRestart.slice(s0)).toContain(prodHome);
    await client.webApps.beginSwapSlotAndWait(
      RG,
      WEB,
      'staging',
      { targetSlot: 'production', preserveVnet: true },
      { updateIntervalInMs: 10 },
    );
    expect(emu.admin.site(WEB).homeDir).toBe(prodHome);
    expect((await client.webApps.listApplicationSettings(RG, WEB)).properties).toEqual({
      STICKY: 'prod',
      V: 'old',
    });
  });

  it('Kudu deployment history moves with the content: after a swap production lists the slot deployments', async () => {
    const scm = (slot?: string) => {
      const a = emu.apps.find((x) => x.name === WEB)!;
      const s = slot ? a.slots.find((x) => x.name === slot)! : a;
      const basic = `Basic ${Buffer.from(`${s.publishingUserName}:${s.publishingPassword}`).toString('base64')}`;
      return { url: s.scmLoopbackUrl, headers: { Authorization: basic } };
    };
    const ids = async (slot?: string): Promise<string[]> => {
      const k = scm(slot);
      const r = await request(`${k.url}/api/deployments`, { headers: k.headers });
      expect(r.status).toBe(200);
      return (JSON.parse(r.body) as { id: string }[]).map((d) => d.id);
    };
    const zip = new AdmZip();
    zip.addFile('index.html', Buffer.from('<p>staged</p>'));
    const k = scm('staging');
    const pushed = await request(`${k.url}/api/zipdeploy?isAsync=false`, {
      method: 'POST',
      headers: { ...k.headers, 'Content-Type': 'application/zip' },
      body: zip.toBuffer(),
    });
    expect(pushed.status).toBe(200);
    const prodBefore = await ids();
    const slotBefore = await ids('staging');
    expect(slotBefore.length).toBeGreaterThan(0);
    const staged = slotBefore[0]!;

    await client.webApps.beginSwapSlotWithProductionAndWait(
      RG,
      WEB,
      { targetSlot: 'staging', preserveVnet: true },
      { updateIntervalInMs: 10 },
    );
    expect(await ids()).toEqual(slotBefore);
    expect(await ids('staging')).toEqual(prodBefore);
    const p = scm();
    const latest = await request(`${p.url}/api/deployments/latest`, { headers: p.headers });
    expect([latest.status, (JSON.parse(latest.body) as { id: string }).id]).toEqual([200, staged]);

    // Kudu keeps writing into the history it now holds
    const again = await request(`${p.url}/api/zipdeploy?isAsync=false`, {
      method: 'POST',
      headers: { ...p.headers, 'Content-Type': 'application/zip' },
      body: zip.toBuffer(),
    });
    expect(again.status).toBe(200);
    const after = await ids();
    expect(after.slice(1)).toEqual(slotBefore);
    expect(await ids('staging')).toEqual(prodBefore);

    await client.webApps.beginSwapSlotWithProductionAndWait(
      RG,
      WEB,
      { targetSlot: 'staging', preserveVnet: true },
      { updateIntervalInMs: 10 },
    );
    expect(await ids()).toEqual(prodBefore);
    expect(await ids('staging')).toEqual(after);
  });

  it('slotConfigNames exists only on production', async () => {
    const r = await arm(
      'GET',
      `${sitePath(WEB, '/slots/staging/config/slotConfigNames')}?api-version=2024-11-01`,
    );
    expect(r.status).toBe(404);
  });
});

describe('checklist 27: ARM errors, authentication and throttling', () => {
  it('400 without api-version', async () => {
    const r = await arm('GET', sitePath(WEB));
    expect([r.status, (r.json.error as Record<string, string>).code]).toEqual([
      400,
      'MissingApiVersionParameter',
    ]);
  });

  it('401 InvalidAuthenticationToken, ExpiredAuthenticationToken and a wrong audience', async () => {
    const bad = await arm(
      'GET',
      `${sitePath(WEB)}?api-version=2024-11-01`,
      undefined,
      `${token.slice(0, -4)}AAAA`,
    );
    expect([bad.status, (bad.json.error as Record<string, string>).code]).toEqual([
      401,
      'InvalidAuthenticationToken',
    ]);
    const storageToken = emu.ctx.issueManagedIdentityToken(
      emu.admin.site(WEB).id,
      'https://storage.azure.com',
    );
    const aud = await arm('GET', `${sitePath(WEB)}?api-version=2024-11-01`, undefined, storageToken);
    expect(aud.status).toBe(401);
    emu.admin.advanceClock(2 * 3600 * 1000);
    try {
      const expired = await arm('GET', `${sitePath(WEB)}?api-version=2024-11-01`);
      expect([expired.status, (expired.json.error as Record<string, string>).code]).toEqual([
        401,
        'ExpiredAuthenticationToken',
      ]);
    } finally {
      emu.admin.reset();
    }
  });

  it('403 AuthorizationFailed for a principal without a role', async () => {
    const other = new ClientSecretCredential(
      emu.tenantId,
      '22222222-2222-4222-8222-222222222222',
      'emulator-no-access-secret',
      {
        authorityHost: emu.authorityHost,
        disableInstanceDiscovery: true,
      },
    );
    const t = (await other.getToken('https://management.azure.com/.default')).token;
    const r = await arm(
      'POST',
      `${sitePath(WEB, '/config/appsettings/list')}?api-version=2024-11-01`,
      undefined,
      t,
    );
    expect(r.status).toBe(403);
    const err = r.json.error as Record<string, string>;
    expect(err.code).toBe('AuthorizationFailed');
    expect(err.message).toContain("'Microsoft.Web/sites/config/list/action'");
  });

  it('429 with Retry-After for the next N matching requests, then normal answers', async () => {
    emu.admin.setFaults(WEB, { arm: { status: 429, count: 2, retryAfter: 7, pathContains: '/config/web' } });
    const other = await arm('GET', `${sitePath(WEB)}?api-version=2024-11-01`);
    expect(other.status).toBe(200);
    const first = await arm('GET', `${sitePath(WEB, '/config/web')}?api-version=2024-11-01`);
    const second = await arm('GET', `${sitePath(WEB, '/config/web')}?api-version=2024-11-01`);
    const third = await arm('GET', `${sitePath(WEB, '/config/web')}?api-version=2024-11-01`);
    expect([first.status, second.status, third.status]).toEqual([429, 429, 200]);
    expect(first.headers['retry-after']).toBe('7');
    expect((first.json.error as Record<string, string>).code).toBe('SubscriptionRequestsThrottled');
  });

  it('5xx with Retry-After from an arm fault', async () => {
    emu.admin.setFaults('*', { arm: { status: 503, count: 1, retryAfter: 2 } });
    const r = await arm('GET', `/subscriptions?api-version=2022-12-01`);
    expect([r.status, r.headers['retry-after']]).toEqual([503, '2']);
    expect((await arm('GET', `/subscriptions?api-version=2022-12-01`)).status).toBe(200);
    emu.admin.clearFaults();
  });
});

describe('storage and role assignments through ARM', () => {
  it('storage account shape, listKeys and the blob endpoint', async () => {
    const list = await arm(
      'GET',
      `/subscriptions/${emu.subscriptionId}/providers/Microsoft.Storage/storageAccounts?api-version=2023-05-01`,
    );
    const acct = (list.json.value as Record<string, unknown>[])[0]!;
    expect(acct.name).toBe('runpackstore');
    const props = acct.properties as Record<string, unknown>;
    expect((props.primaryEndpoints as Record<string, string>).blob).toBe(emu.storage.blobEndpoint);
    expect(props).toMatchObject({
      allowSharedKeyAccess: true,
      allowBlobPublicAccess: false,
      networkAcls: { defaultAction: 'Allow' },
    });
    emu.admin.setStorage('runpackstore', { allowSharedKeyAccess: false, networkDefaultAction: 'Deny' });
    const one = await arm('GET', `${String(acct.id)}?api-version=2023-05-01`);
    expect(one.json.properties).toMatchObject({
      allowSharedKeyAccess: false,
      networkAcls: { defaultAction: 'Deny' },
    });
    emu.admin.reset();
    const keys = await arm('POST', `${String(acct.id)}/listKeys?api-version=2023-05-01`);
    expect((keys.json.keys as { keyName: string; value: string }[])[0]).toMatchObject({
      keyName: 'key1',
      value: emu.storage.accountKey,
    });
  });

  it('role assignments list Storage Blob Data Reader for blob readers at the account scope', async () => {
    const account = [...emu.ctx.storageAccounts.values()][0]!;
    const principal = (await client.webApps.get(RG, WEB)).identity!.principalId!;
    const filter = encodeURIComponent(`principalId eq '${principal}'`);
    const r = await arm(
      'GET',
      `${account.id}/blobServices/default/containers/packages/providers/Microsoft.Authorization/roleAssignments?$filter=${filter}&api-version=2022-04-01`,
    );
    const value = r.json.value as { properties: Record<string, string> }[];
    expect(value).toHaveLength(1);
    expect(value[0]!.properties.roleDefinitionId).toMatch(/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1$/);
    expect(value[0]!.properties.scope).toBe(account.id);
    const funcPrincipal = (await client.webApps.get(RG, FUNC)).identity!.principalId!;
    const none = await arm(
      'GET',
      `${account.id}/providers/Microsoft.Authorization/roleAssignments?$filter=${encodeURIComponent(`principalId eq '${funcPrincipal}'`)}&api-version=2022-04-01`,
    );
    expect(none.json.value).toEqual([]);
    const userIdentity = Object.values(
      (await client.webApps.get(RG, FUNC)).identity!.userAssignedIdentities!,
    )[0]!;
    const user = await arm(
      'GET',
      `${account.id}/providers/Microsoft.Authorization/roleAssignments?$filter=${encodeURIComponent(`principalId eq '${userIdentity.principalId}'`)}&api-version=2022-04-01`,
    );
    expect(
      (user.json.value as { properties: Record<string, string> }[]).map((v) => v.properties.roleDefinitionId),
    ).toEqual([expect.stringMatching(/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1$/)]);
  });
});
