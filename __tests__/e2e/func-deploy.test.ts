/**
 * Function apps end to end: the Windows function app in local mode and the Linux Consumption app in URL mode,
 * both with trigger sync and the host's function list checked against the package; local mode refused on
 * Linux Consumption, with the reason and what to use instead. Flex Consumption: flex-deploy.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import AdmZip from 'adm-zip';
import { appServiceClient, type E2E, useE2E } from './helpers/action.js';
import { requestViaProxy } from '../../emulator/__tests__/helpers/start.js';

let e: E2E;
useE2E((ready) => (e = ready));

/** A functions package: host.json at the root and one folder with function.json per function. */
function functionsApp(version: string, functions: string[]): string {
  const dir = e.app(version);
  writeFileSync(join(dir, 'host.json'), JSON.stringify({ version: '2.0' }));
  for (const name of functions) {
    mkdirSync(join(dir, name));
    writeFileSync(
      join(dir, name, 'function.json'),
      JSON.stringify({
        bindings: [
          name.startsWith('Timer')
            ? { type: 'timerTrigger', direction: 'in', name: 'timer', schedule: '0 */5 * * * *' }
            : { type: 'httpTrigger', direction: 'in', name: 'req', authLevel: 'anonymous' },
        ],
      }),
    );
    writeFileSync(
      join(dir, name, 'index.js'),
      `module.exports = async () => ({ body: '${name} ${version}' });\n`,
    );
  }
  return dir;
}

describe('Windows function app (local mode)', () => {
  it('deploys, syncs triggers and finds the package functions listed by the host', async () => {
    const syncsBefore = e.emu.admin.site('rp-win-func').triggerSyncs.length;
    const r = await e.run({
      'app-name': 'rp-win-func',
      mode: 'local',
      package: functionsApp('f1', ['HttpHello']),
    });
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ mode: 'local', verified: 'true' });
    expect(r.stdout).toMatch(/Synced function triggers of rp-win-func/);
    expect(r.stdout).toMatch(/lists the package's 1 function\(s\): HttpHello/);
    expect(e.emu.admin.site('rp-win-func').triggerSyncs.length).toBeGreaterThan(syncsBefore);
    expect(e.emu.admin.site('rp-win-func').mounted?.functions).toEqual(['HttpHello']);
  });

  it('a new function in the next release shows up in the host list', async () => {
    const r = await e.run({
      'app-name': 'rp-win-func',
      mode: 'local',
      package: functionsApp('f2', ['HttpHello', 'TimerTick']),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lists the package's 2 function\(s\): HttpHello, TimerTick/);
  });
});

describe('Linux Consumption function app', () => {
  it('refuses local mode with the reason, before changing anything', async () => {
    const before = { ...e.emu.admin.site('rp-linux-func').appSettings };
    const r = await e.run({
      'app-name': 'rp-linux-func',
      mode: 'local',
      package: functionsApp('l1', ['HttpHello']),
    });
    expect(r.code).not.toBe(0);
    expect(r.everything).toMatch(/Linux Consumption function app.*(URL|url)/);
    expect(r.everything).toMatch(/mode: url/);
    expect(e.emu.admin.site('rp-linux-func').appSettings).toEqual(before);
  });

  it('deploys in URL mode (auto), syncs triggers and checks the host function list', async () => {
    const syncsBefore = e.emu.admin.site('rp-linux-func').triggerSyncs.length;
    const r = await e.run({
      'app-name': 'rp-linux-func',
      'storage-account': e.emu.storage.accountName,
      'package-access': 'sas',
      package: functionsApp('u1', ['HttpHello', 'TimerTick']),
    });
    expect(r.code).toBe(0);
    expect(r.outputs.mode).toBe('url');
    expect(r.stdout).toMatch(/Synced function triggers of rp-linux-func/);
    expect(r.stdout).toMatch(/lists the package's 2 function\(s\): HttpHello, TimerTick/);
    expect(e.emu.admin.site('rp-linux-func').triggerSyncs.length).toBeGreaterThan(syncsBefore);
  });
});

describe("Linux Consumption after a zip deploy by another tool (the platform's blob model)", () => {
  it('takes over from the package URL Kudu set: runpack deploys to its stable blob and verifies', async () => {
    await e.emu.admin.reset({ sites: true });
    // What the Azure CLI does: a zip deploy to Kudu, which stores the package in scm-releases and sets the URL.
    const zip = new AdmZip();
    zip.addFile('host.json', Buffer.from('{"version":"2.0"}'));
    zip.addFile('Old/function.json', Buffer.from('{"bindings":[{"type":"httpTrigger","name":"req"}]}'));
    zip.addFile('Old/index.js', Buffer.from('module.exports = async () => ({});'));
    const cred = new ClientSecretCredential(
      e.emu.tenantId,
      e.emu.servicePrincipal.clientId,
      e.emu.servicePrincipal.clientSecret,
      { authorityHost: e.emu.authorityHost, disableInstanceDiscovery: true },
    );
    const token = (await cred.getToken('https://management.azure.com/.default'))!.token;
    const app = e.emu.apps.find((a) => a.name === 'rp-linux-func')!;
    const pushed = await requestViaProxy(e.emu.proxyUrl, `${app.scmUrl}/api/zipdeploy?isAsync=false`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/zip' },
      body: zip.toBuffer(),
    });
    expect(pushed.status).toBe(200);
    const client = appServiceClient(e.emu);
    const before = (await client.webApps.listApplicationSettings(e.emu.resourceGroup, 'rp-linux-func'))
      .properties!;
    expect(before.WEBSITE_RUN_FROM_PACKAGE).toMatch(/\/scm-releases\/scm-latest-rp-linux-func\.zip\?/);

    const r = await e.run({
      'app-name': 'rp-linux-func',
      'storage-account': e.emu.storage.accountName,
      'package-access': 'sas',
      package: functionsApp('lc1', ['HttpHello']),
    });
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ mode: 'url', verified: 'true' });
    expect(r.stdout).toMatch(/lists the package's 1 function\(s\): HttpHello/);
    const after = (await client.webApps.listApplicationSettings(e.emu.resourceGroup, 'rp-linux-func'))
      .properties!;
    expect(after.WEBSITE_RUN_FROM_PACKAGE.split('?')[0]).toBe(r.outputs['package-url']);
    expect(e.emu.admin.site('rp-linux-func').mounted?.source).toBe(r.outputs['package-url']);
  });
});

describe('Python function app packages', () => {
  /** A Python functions package: host.json, one function, requirements.txt; installed packages optional. */
  function pythonApp(version: string, installed: boolean): string {
    const dir = join(e.work, `python-${version}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'host.json'), JSON.stringify({ version: '2.0' }));
    writeFileSync(join(dir, 'requirements.txt'), 'azure-functions\nrequests==2.32.3\n');
    mkdirSync(join(dir, 'HttpHello'));
    writeFileSync(
      join(dir, 'HttpHello', 'function.json'),
      JSON.stringify({
        scriptFile: '__init__.py',
        bindings: [{ type: 'httpTrigger', direction: 'in', name: 'req', authLevel: 'anonymous' }],
      }),
    );
    writeFileSync(join(dir, 'HttpHello', '__init__.py'), 'def main(req):\n    return "hello"\n');
    if (installed) {
      mkdirSync(join(dir, '.python_packages', 'lib', 'site-packages', 'requests'), { recursive: true });
      writeFileSync(join(dir, '.python_packages', 'lib', 'site-packages', 'requests', '__init__.py'), '');
    }
    return dir;
  }

  it('stops before anything is uploaded when the dependencies are not in .python_packages', async () => {
    e.emu.admin.clearRequests();
    const r = await e.run({
      'app-name': 'rp-linux-func',
      'storage-account': e.emu.storage.accountName,
      runtime: 'python',
      package: pythonApp('py1', false),
    });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/::error::This Python function app's package has no \.python_packages folder/);
    expect(r.stdout).toMatch(
      /pip install -r requirements\.txt --target \.python_packages\/lib\/site-packages/,
    );
    expect(e.requests().filter((q) => q.method === 'PUT')).toEqual([]);
  });

  it('goes on to upload when .python_packages is in the package', async () => {
    e.emu.admin.clearRequests();
    const r = await e.run({
      'app-name': 'rp-linux-func',
      'storage-account': e.emu.storage.accountName,
      runtime: 'python',
      package: pythonApp('py2', true),
    });
    expect(r.stdout).not.toMatch(/has no \.python_packages folder/);
    expect(e.requests().filter((q) => q.method === 'PUT' && q.service === 'blob').length).toBeGreaterThan(0);
  });
});
