/**
 * Flex Consumption end to end through dist/index.js (and the CLI for the Python app): One Deploy to the app's
 * deployment storage, verified by reading that storage back with the official Blob client and by the functions
 * the host lists; a package whose functions the host cannot load fails with its cause and the previous release
 * is published again; what Flex cannot do is refused before anything is uploaded.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import AdmZip from 'adm-zip';
import {
  appServiceClient,
  CLI,
  fetchSite,
  REPO_ROOT,
  runNodeProcess,
  type E2E,
  useE2E,
} from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

const FLEX = 'rp-flex-func';
const FLEX_PY = 'rp-flex-py';

/** A Node functions package (v3 model): host.json at the root, one folder per function with function.json. */
function nodeFunctions(version: string, functions: string[]): string {
  const dir = join(e.work, `flex-node-${version}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'host.json'), JSON.stringify({ version: '2.0' }));
  for (const name of functions) {
    mkdirSync(join(dir, name), { recursive: true });
    writeFileSync(
      join(dir, name, 'function.json'),
      JSON.stringify({
        scriptFile: 'index.js',
        bindings: [{ type: 'httpTrigger', direction: 'in', name: 'req', authLevel: 'anonymous' }],
      }),
    );
    writeFileSync(
      join(dir, name, 'index.js'),
      `module.exports = async () => ({ body: '${name} ${version}' });\n`,
    );
  }
  return dir;
}

/**
 * A package the host cannot index: its code declares the functions (the v4 model) but nothing the host loads
 * from it, as when the build output is packaged wrongly.
 */
function codeOnly(version: string): string {
  const dir = join(e.work, `flex-code-${version}`);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'host.json'), JSON.stringify({ version: '2.0' }));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fn', main: 'src/index.js' }));
  writeFileSync(join(dir, 'src', 'index.js'), 'module.exports = {};\n');
  return dir;
}

/** A Python functions package; `installed` puts its dependencies in .python_packages. */
function pythonFunctions(version: string, installed: boolean): string {
  const dir = join(e.work, `flex-py-${version}`);
  mkdirSync(join(dir, 'PyHello'), { recursive: true });
  writeFileSync(join(dir, 'host.json'), JSON.stringify({ version: '2.0' }));
  writeFileSync(join(dir, 'requirements.txt'), 'azure-functions\nrequests==2.32.3\n');
  writeFileSync(
    join(dir, 'PyHello', 'function.json'),
    JSON.stringify({
      scriptFile: '__init__.py',
      bindings: [{ type: 'httpTrigger', direction: 'in', name: 'req', authLevel: 'anonymous' }],
    }),
  );
  writeFileSync(join(dir, 'PyHello', '__init__.py'), `def main(req):\n    return "${version}"\n`);
  if (installed) {
    const site = join(dir, '.python_packages', 'lib', 'site-packages', 'requests');
    mkdirSync(site, { recursive: true });
    writeFileSync(join(site, '__init__.py'), '');
  }
  return dir;
}

function credential(): ClientSecretCredential {
  return new ClientSecretCredential(
    e.emu.tenantId,
    e.emu.servicePrincipal.clientId,
    e.emu.servicePrincipal.clientSecret,
    { authorityHost: e.emu.authorityHost, disableInstanceDiscovery: true },
  );
}

/** The package in the app's deployment storage, read with the official Blob client (null: none). */
async function deployedPackage(app: string): Promise<AdmZip | null> {
  const site = await appServiceClient(e.emu).webApps.get(e.emu.resourceGroup, app);
  const url = site.functionAppConfig!.deployment!.storage!.value!;
  const container = url.split('/').filter(Boolean).pop()!;
  const service = new BlobServiceClient(url.slice(0, url.lastIndexOf('/')), credential());
  const blob = service.getContainerClient(container).getBlobClient('released-package.zip');
  if (!(await blob.exists())) return null;
  return new AdmZip(await blob.downloadToBuffer());
}

async function hostFunctions(app: string): Promise<string[]> {
  const out: string[] = [];
  for await (const f of appServiceClient(e.emu).webApps.listFunctions(e.emu.resourceGroup, app))
    out.push(f.name!.split('/').pop()!);
  return out.sort();
}

/** The error code of a single target's run (the results output's one entry). */
const errorCode = (r: { outputs: Record<string, string> }) =>
  (JSON.parse(r.outputs.results) as { 'error-code': string | null }[])[0]['error-code'];

const publishes = () =>
  e
    .requests()
    .filter((q) => q.service === 'kudu' && q.method === 'POST' && q.path.startsWith('/api/publish'));

describe('Flex Consumption (Node, identity deployment storage)', () => {
  it('publishes with One Deploy, verifies the stored package and the functions, and keeps the release', async () => {
    await e.emu.admin.reset({ sites: true });
    e.emu.admin.clearRequests();
    const r = await e.run({
      'app-name': FLEX,
      'storage-account': e.emu.storage.accountName,
      package: nodeFunctions('n1', ['HttpHello', 'HttpBye']),
    });
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ mode: 'flex', verified: 'true' });
    expect(r.stdout).toMatch(/deployment storage holds this package \(Content-MD5 matches\)/);
    expect(r.stdout).toMatch(/lists the package's 2 function\(s\): HttpBye, HttpHello, with their triggers/);
    // One Deploy as the platform documents it for Flex: no type, RemoteBuild=false; no run-from-package setting.
    expect(publishes().map((q) => q.path)).toEqual([
      expect.stringMatching(/^\/api\/publish\?RemoteBuild=false&/),
    ]);
    expect(e.requests().filter((q) => q.method === 'PUT' && q.path.includes('/config/appsettings'))).toEqual(
      [],
    );
    expect(e.emu.admin.site(FLEX).appSettings.WEBSITE_RUN_FROM_PACKAGE).toBeUndefined();
    const zip = await deployedPackage(FLEX);
    expect(zip!.getEntry('HttpHello/index.js')!.getData().toString()).toContain('HttpHello n1');
    expect(await hostFunctions(FLEX)).toEqual(['HttpBye', 'HttpHello']);
    expect((await fetchSite(e.emu, FLEX, '/api/HttpHello')).status).toBe(200);
    // runpack keeps the release (content-named) and, verified, names it the last good one.
    expect(r.stdout).toMatch(new RegExp(`Uploaded releases/${FLEX}/[0-9a-f]{64}\\.zip`));
    expect(r.stdout).toMatch(/recorded as verified/);
  });

  it('a package whose functions the host cannot load fails with that cause, and the previous release runs again', async () => {
    const r = await e.run({
      'app-name': FLEX,
      'storage-account': e.emu.storage.accountName,
      package: codeOnly('n2'),
    });
    expect(r.code).not.toBe(0);
    expect(r.outputs.cause).toBe('functions-not-loaded');
    expect(r.stdout).toMatch(
      /::error::The functions host of rp-flex-func lists only the platform's WarmUp function/,
    );
    expect(r.outputs['rolled-back']).toBe('true');
    // The previous release was published again, verified, and is what the deployment storage holds.
    expect(r.stdout).toMatch(/Rolled back: release [0-9a-f]{12} is live again and verified/);
    const zip = await deployedPackage(FLEX);
    expect(zip!.getEntry('HttpHello/index.js')!.getData().toString()).toContain('HttpHello n1');
    expect(await hostFunctions(FLEX)).toEqual(['HttpBye', 'HttpHello']);
    expect(r.outputs['live-release-id']).not.toBe(r.outputs['release-id']);
    expect(publishes()).toHaveLength(2);
  });

  it('deploying the same release again publishes nothing', async () => {
    e.emu.admin.clearRequests();
    const r = await e.run({
      'app-name': FLEX,
      'storage-account': e.emu.storage.accountName,
      package: nodeFunctions('n1', ['HttpHello', 'HttpBye']),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/already live and verified; nothing to publish/);
    expect(publishes()).toEqual([]);
  });

  it('refuses what Flex cannot do before anything is uploaded', async () => {
    e.emu.admin.clearRequests();
    const url = await e.run({
      'app-name': FLEX,
      'storage-account': e.emu.storage.accountName,
      mode: 'url',
      package: nodeFunctions('n3', ['HttpHello']),
    });
    expect(url.code).not.toBe(0);
    expect(errorCode(url)).toBe('mode-unsupported');
    expect(url.stdout).toMatch(
      /::error::'rp-flex-func' runs on the Flex Consumption plan.*leave mode at auto/,
    );
    const node = nodeFunctions('n4', ['HttpHello']);
    writeFileSync(join(node, 'package.json'), JSON.stringify({ name: 'fn', dependencies: { lodash: '4' } }));
    const deps = await e.run({ 'app-name': FLEX, package: node });
    expect(errorCode(deps)).toBe('node-modules-missing');
    expect(deps.stdout).toMatch(/npm ci --omit=dev.*or set remote-build: true/);
    expect(publishes()).toEqual([]);
    expect(e.requests().filter((q) => q.service === 'blob' && q.method === 'PUT')).toEqual([]);
  });

  it('refuses WEBSITE_RUN_FROM_PACKAGE on the app with the reason, and removes it with force', async () => {
    const client = appServiceClient(e.emu);
    const settings = (await client.webApps.listApplicationSettings(e.emu.resourceGroup, FLEX)).properties!;
    await client.webApps.updateApplicationSettings(e.emu.resourceGroup, FLEX, {
      properties: { ...settings, WEBSITE_RUN_FROM_PACKAGE: '1', SENTINEL: 'kept' },
    });
    e.emu.admin.clearRequests();
    const refused = await e.run({ 'app-name': FLEX, package: nodeFunctions('n5', ['HttpHello']) });
    expect(errorCode(refused)).toBe('flex-setting');
    expect(refused.stdout).toMatch(/does not support WEBSITE_RUN_FROM_PACKAGE \(Flex runs the package/);
    expect(publishes()).toEqual([]);
    const forced = await e.run({
      'app-name': FLEX,
      force: 'true',
      package: nodeFunctions('n6', ['HttpHello']),
    });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/Removing WEBSITE_RUN_FROM_PACKAGE from rp-flex-func/);
    const after = (await client.webApps.listApplicationSettings(e.emu.resourceGroup, FLEX)).properties!;
    expect(after.WEBSITE_RUN_FROM_PACKAGE).toBeUndefined();
    expect(after.SENTINEL).toBe('kept');
    // No storage-account: deployed and verified, and it says there is no copy to roll back to.
    expect(forced.stdout).toMatch(/No storage-account: runpack keeps no copy of this release/);
  });

  it('a dry run shows the plan and writes nothing', async () => {
    e.emu.admin.clearRequests();
    const r = await e.run({
      'app-name': FLEX,
      'storage-account': e.emu.storage.accountName,
      'dry-run': 'true',
      package: nodeFunctions('n7', ['HttpHello']),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /Would publish release [0-9a-f]{12} \(\d+ bytes\) with One Deploy \(RemoteBuild=false\)/,
    );
    expect(r.stdout).toMatch(/Would upload release [0-9a-f]{12} .* \(runpack's copy, for a rollback\)/);
    // Reads only: the token and the settings list are POSTs that change nothing.
    const writes = e
      .requests()
      .filter(
        (q) =>
          ['PUT', 'PATCH', 'DELETE'].includes(q.method) ||
          (q.method === 'POST' && !/\/token\b|\/list\?|\/listKeys\?/i.test(q.path)),
      );
    expect(writes).toEqual([]);
  });
});

describe('Flex Consumption operator commands', () => {
  it('releases lists the kept releases with the live one, and rollback publishes an earlier one again', async () => {
    await e.emu.admin.reset({ sites: true });
    const store = { 'app-name': FLEX, 'storage-account': e.emu.storage.accountName };
    const first = await e.run({ ...store, package: nodeFunctions('o1', ['HttpOne']) });
    const second = await e.run({ ...store, package: nodeFunctions('o2', ['HttpTwo']) });
    expect([first.code, second.code]).toEqual([0, 0]);
    const list = await e.run({ ...store, command: 'releases' });
    expect(list.code).toBe(0);
    expect(list.outputs.releases.split(',')).toEqual(
      expect.arrayContaining([first.outputs['release-id'], second.outputs['release-id']]),
    );
    // The releases command's release-id output is the live release.
    expect(list.outputs['release-id']).toBe(second.outputs['release-id']);
    e.emu.admin.clearRequests();
    const back = await e.run({ ...store, command: 'rollback', release: 'previous' });
    expect(back.code).toBe(0);
    expect(back.outputs['release-id']).toBe(first.outputs['release-id']);
    expect(back.stdout).toMatch(/publish it with One Deploy to rp-flex-func's deployment storage/);
    expect(publishes()).toHaveLength(1);
    expect((await deployedPackage(FLEX))!.getEntry('HttpOne/index.js')).not.toBeNull();
    expect(await hostFunctions(FLEX)).toEqual(['HttpOne']);
    // It is the last verified release again: the next rollback to 'previous' would start from it.
    const after = await e.run({ ...store, command: 'releases' });
    expect(after.outputs['release-id']).toBe(first.outputs['release-id']);
  });

  it('diagnose names a missing write role on the deployment storage as the blocked cause', async () => {
    const running = await hostFunctions(FLEX);
    e.emu.admin.setStorage(e.emu.storage.accountName, { blobWriters: [] });
    try {
      const r = await e.run({ 'app-name': FLEX, command: 'diagnose' });
      expect(r.outputs.cause).toBe('mount-blocked');
      expect(r.outputs['error-codes']).toContain('flex-storage-role');
      expect(r.stdout).toMatch(
        /holds no Storage Blob Data Contributor \(or Owner\) on runpackstore\/app-package-rp-flex-func/,
      );
      // A deploy then fails before anything changes, saying what to grant; the previous package still runs.
      const d = await e.run({ 'app-name': FLEX, package: nodeFunctions('o3', ['HttpThree']) });
      expect(errorCode(d)).toBe('flex-storage-denied');
      expect(d.stdout).toMatch(/Storage Blob Data Contributor.*the previous package still runs/);
      expect(await hostFunctions(FLEX)).toEqual(running);
    } finally {
      await e.emu.admin.reset();
    }
  });
});

describe('Flex Consumption (Python, connection-string deployment storage) through the CLI', () => {
  const cli = (args: string[]) =>
    runNodeProcess(CLI, {
      cwd: REPO_ROOT,
      args: [
        'deploy',
        '--app-name',
        FLEX_PY,
        '--resource-group',
        e.emu.resourceGroup,
        '--resource-manager-endpoint',
        e.emu.resourceManagerEndpoint,
        ...args,
      ],
      env: { ...process.env, ...e.emu.env, PATH: '/usr/bin:/bin', AZURE_CREDENTIALS: e.creds() },
      timeoutMs: 120_000,
    });

  it('refuses a package without .python_packages, then deploys one that has them', async () => {
    e.emu.admin.clearRequests();
    const bare = await cli(['--package', pythonFunctions('p1', false)]);
    expect(bare.code).not.toBe(0);
    expect(bare.stdout + bare.stderr).toMatch(
      /no \.python_packages\/lib\/site-packages.*or set --remote-build/,
    );
    expect(publishes()).toEqual([]);
    const ok = await cli(['--package', pythonFunctions('p2', true)]);
    expect(ok.stdout + ok.stderr).toMatch(/verified/i);
    expect(ok.code).toBe(0);
    expect((await deployedPackage(FLEX_PY))!.getEntry('PyHello/__init__.py')!.getData().toString()).toContain(
      'p2',
    );
    expect(await hostFunctions(FLEX_PY)).toEqual(['PyHello']);
  });

  it('with --remote-build the platform builds it: RemoteBuild=true', async () => {
    e.emu.admin.clearRequests();
    const r = await cli(['--package', pythonFunctions('p3', false), '--remote-build']);
    expect(r.code).toBe(0);
    expect(publishes().map((q) => q.path)).toEqual([expect.stringMatching(/RemoteBuild=true/)]);
    expect(readFileSync(join(e.work, 'flex-py-p3', 'requirements.txt'), 'utf8')).toContain('requests');
  });
});

describe('a fleet of a Flex app and a Windows function app', () => {
  it('deploys each the way its plan takes, from one package', async () => {
    const r = await e.run({
      'app-name': `${FLEX}, rp-win-func`,
      'storage-account': e.emu.storage.accountName,
      package: nodeFunctions('m1', ['HttpHello']),
    });
    expect(r.stdout.split('\n').filter((l) => /::error/.test(l))).toEqual([]);
    expect(r.code).toBe(0);
    const results = JSON.parse(r.outputs.results) as { app: string; mode: string; verified: boolean }[];
    expect(results.map((x) => [x.app, x.mode, x.verified])).toEqual([
      [FLEX, 'flex', true],
      ['rp-win-func', 'url', true],
    ]);
    expect(await hostFunctions(FLEX)).toEqual(['HttpHello']);
    expect(await hostFunctions('rp-win-func')).toEqual(['HttpHello']);
  });
});
