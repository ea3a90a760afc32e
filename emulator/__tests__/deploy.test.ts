import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  addSite,
  createTestContext,
  makeZip,
  serveSite,
  setSettings,
  waitFor,
  type SiteServers,
  type TestContext,
} from './helpers/kudu-context.js';
import type { Site } from '../src/model.js';
import { maxZipPackageCount, packageName } from '../src/deployments.js';

let ctx: TestContext;
let site: Site;
let srv: SiteServers;

const pkgDir = (): string => path.join(site.homeDir, 'data', 'SitePackages');

async function zips(): Promise<string[]> {
  return (await fsp.readdir(pkgDir())).filter((f) => f.endsWith('.zip')).sort();
}

async function deploy(body: Buffer, query = '', method = 'POST'): Promise<Response> {
  return fetch(`${srv.scmUrl}/api/zipdeploy${query}`, {
    method,
    headers: { authorization: srv.basic, 'content-type': 'application/zip' },
    body,
  });
}

async function latest(): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${srv.scmUrl}/api/deployments/latest`, { headers: { authorization: srv.basic } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function untilDone(): Promise<Record<string, unknown>> {
  return waitFor(async () => {
    const l = await latest();
    return l.status === 200 ? l.body : undefined;
  });
}

/** Flip a byte in the middle of one entry's compressed data (the central directory stays valid). */
function corruptEntry(zip: Buffer, name: string): Buffer {
  const out = Buffer.from(zip);
  for (let i = 0; i < out.length - 30; i++) {
    if (out.readUInt32LE(i) !== 0x04034b50) continue;
    const nameLen = out.readUInt16LE(i + 26);
    const extraLen = out.readUInt16LE(i + 28);
    if (out.toString('utf8', i + 30, i + 30 + nameLen) !== name) continue;
    const size = out.readUInt32LE(i + 18);
    const at = i + 30 + nameLen + extraLen + Math.floor(size / 2);
    out[at] = out[at] ^ 0xff;
    return out;
  }
  throw new Error(`no entry ${name}`);
}

/** The stored name is the clock's time when the package was written: within a second or two of `when`. */
function expectNear(name: string, when: Date): void {
  const candidates = [0, 1000, 2000].map((d) => packageName(new Date(when.getTime() + d)));
  expect(candidates).toContain(name);
}

async function page(): Promise<{ status: number; text: string }> {
  const r = await fetch(`${srv.siteUrl}/version.txt`);
  return { status: r.status, text: await r.text() };
}

beforeAll(async () => {
  ctx = createTestContext();
  site = addSite(ctx, { appName: 'webapp', stack: 'static' });
  setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1' });
  srv = await serveSite(ctx, site);
});

afterAll(async () => {
  await srv.close();
  await ctx.cleanup();
});

beforeEach(async () => {
  ctx.faults.clear();
  setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1' });
  // one second apart per deployment, so names never collide
  ctx.clock.advance(1000);
  await waitFor(async () => ((await latest()).status === 202 ? undefined : true));
});

describe('deployment records', () => {
  it('checklist 10: latest answers 404 with the Kudu message before any deployment', async () => {
    const r = await fetch(`${srv.scmUrl}/api/deployments/latest`, { headers: { authorization: srv.basic } });
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ Message: "Deployment 'latest' not found." });
  });
});

describe('local-mode zipdeploy', () => {
  it('checklist 9 and 5: async push answers 202 with Location at latest, polls 202 then 200, stores the zip by clock time', async () => {
    const before = await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8').catch(() => null);
    const when = ctx.clock.now();
    const r = await deploy(
      makeZip({ 'index.html': '<h1>hi</h1>', 'version.txt': 'v1' }),
      '?isAsync=true&deployer=GITHUB_ZIP_DEPLOY',
    );
    expect(r.status).toBe(202);
    expect(r.headers.get('retry-after')).toBe('30');
    const loc = new URL(r.headers.get('location') as string);
    expect(loc.protocol).toBe('https:');
    expect(loc.pathname).toBe('/api/deployments/latest');
    expect(loc.searchParams.get('deployer')).toBe('GITHUB_ZIP_DEPLOY');
    expect(loc.searchParams.get('time')).toMatch(/^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\dZ$/);

    const pending = await latest();
    expect(pending.status).toBe(202);
    expect([0, 1, 2]).toContain(pending.body.status);
    expect(pending.body.complete).toBe(false);
    // the pointer is not touched before Success
    expect(await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8').catch(() => null)).toBe(before);

    const done = await untilDone();
    expect(done.status).toBe(4);
    expect(done.complete).toBe(true);
    expect(done.deployer).toBe('GITHUB_ZIP_DEPLOY');
    expect(done.provisioningState).toBe('Succeeded');
    expect(done.site_name).toBe('webapp');
    expect(done.active).toBe(true);
    for (const k of ['status_text', 'received_time', 'start_time', 'end_time', 'log_url'])
      expect(done).toHaveProperty(k);
    expect(done).not.toHaveProperty('log');

    const name = await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8');
    expect(name).toMatch(/^\d{14}\.zip$/);
    expectNear(name, when);
    expect(await zips()).toContain(name);
    // the restart re-mounts the new package
    await waitFor(async () => ((await page()).text === 'v1' ? true : undefined));
    expect(srv.worker.mounted()).toMatchObject({ mode: 'local', source: name });
  });

  it('checklist 11: sync push answers 200 only when finished; deployment log is readable', async () => {
    const r = await deploy(makeZip({ 'index.html': 'x', 'version.txt': 'v2' }));
    expect(r.status).toBe(200);
    const l = await latest();
    expect(l.status).toBe(200);
    expect(l.body.status).toBe(4);
    // log_url carries the https scheme; ask the same path over the test listener
    const logPath = new URL(l.body.log_url as string).pathname;
    const lr = await fetch(`${srv.scmUrl}${logPath}`, { headers: { authorization: srv.basic } });
    expect(lr.status).toBe(200);
    const entries = (await lr.json()) as { message: string; details_url: string }[];
    expect(entries.map((e) => e.message).join('\n')).toContain('Run from package');
    expect(entries[0].details_url).toContain(`${logPath}/`);
    await waitFor(async () => ((await page()).text === 'v2' ? true : undefined));
  });

  it('checklist 11 and 5: a corrupt zip fails (500 sync, status 3) and leaves packagename.txt alone', async () => {
    const before = await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8');
    const r = await deploy(Buffer.from('this is not a zip file at all'));
    expect(r.status).toBe(500);
    const l = await latest();
    expect(l.body.status).toBe(3);
    expect(l.body.provisioningState).toBe('Failed');
    expect(await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8')).toBe(before);
  });

  it('checklist 5 and 21: like Kudu, only the central directory and trigger files are read when storing', async () => {
    const before = await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8');
    // damaged data in an ordinary entry: stored and pointed at, the mount then fails
    const r = await deploy(
      corruptEntry(makeZip({ 'index.html': 'x', 'big.txt': 'y'.repeat(4000) }), 'big.txt'),
    );
    expect(r.status).toBe(200);
    const name = await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8');
    expect(name).not.toBe(before);
    await waitFor(() => (srv.worker.state() === 'failed' ? true : undefined));
    expect(srv.worker.mounted().error).toContain(name);
    // damaged host.json: Kudu's trigger extraction fails the deployment and the pointer stays
    ctx.clock.advance(1000);
    const bad = await deploy(
      corruptEntry(makeZip({ 'host.json': '{"version":"2.0"}'.repeat(200) }), 'host.json'),
    );
    expect(bad.status).toBe(500);
    expect(await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8')).toBe(name);
  });

  it('checklist 11: a failed async deploy still answers 202 and the failure shows when polling', async () => {
    ctx.faults.set('webapp', { deploymentFails: true });
    const r = await deploy(makeZip({ 'index.html': 'x' }), '?isAsync=true');
    expect(r.status).toBe(202);
    const done = await untilDone();
    expect(done.status).toBe(3);
    expect(ctx.faults.get('webapp')?.deploymentFails).toBe(false);
  });

  it('checklist 5: purge keeps SCM_MAX_ZIP_PACKAGE_COUNT zips, oldest by mtime first', async () => {
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1', SCM_MAX_ZIP_PACKAGE_COUNT: '2' });
    await fsp.writeFile(path.join(pkgDir(), 'notes.txt'), 'kept: only zips count');
    for (let i = 0; i < 3; i++) {
      ctx.clock.advance(1000);
      expect((await deploy(makeZip({ 'version.txt': `p${i}` }))).status).toBe(200);
    }
    const left = await zips();
    expect(left).toHaveLength(2);
    const pointer = await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8');
    expect(left).toContain(pointer);
    expect(existsSync(path.join(pkgDir(), 'notes.txt'))).toBe(true);
  });

  it('checklist 5: SCM_MAX_ZIP_PACKAGE_COUNT parsing: default 5, minimum 1, non-integer means 5', () => {
    expect(maxZipPackageCount({})).toBe(5);
    expect(maxZipPackageCount({ SCM_MAX_ZIP_PACKAGE_COUNT: '0' })).toBe(1);
    expect(maxZipPackageCount({ SCM_MAX_ZIP_PACKAGE_COUNT: '-3' })).toBe(1);
    expect(maxZipPackageCount({ SCM_MAX_ZIP_PACKAGE_COUNT: 'abc' })).toBe(5);
    expect(maxZipPackageCount({ SCM_MAX_ZIP_PACKAGE_COUNT: '2.5' })).toBe(5);
    expect(maxZipPackageCount({ SCM_MAX_ZIP_PACKAGE_COUNT: ' 7 ' })).toBe(7);
  });

  it('checklist 5: the stored name is the UTC yyyyMMddHHmmss of the emulated clock', () => {
    expect(packageName(new Date('2025-03-14T09:30:15.987Z'))).toBe('20250314093015.zip');
  });

  it('checklist 8: a second push during an active one gets 409 text/plain, no queueing', async () => {
    const count = async (): Promise<number> =>
      (
        (await (
          await fetch(`${srv.scmUrl}/api/deployments`, { headers: { authorization: srv.basic } })
        ).json()) as unknown[]
      ).length;
    const before = await count();
    const first = await deploy(makeZip({ 'version.txt': 'lock' }), '?isAsync=true');
    expect(first.status).toBe(202);
    const second = await deploy(makeZip({ 'version.txt': 'other' }), '?isAsync=true');
    expect(second.status).toBe(409);
    expect(second.headers.get('content-type')).toContain('text/plain');
    expect(second.headers.get('retry-after')).toBeNull();
    expect(await second.text()).toBe(
      'There is a deployment currently in progress. Please try again when it completes.',
    );
    const one = await fetch(`${srv.scmUrl}/api/publish?type=zip`, {
      method: 'POST',
      headers: { authorization: srv.basic },
      body: makeZip({ 'version.txt': 'other' }),
    });
    expect(one.status).toBe(409);
    const isdeploying = (await (
      await fetch(`${srv.scmUrl}/api/isdeploying`, { headers: { authorization: srv.basic } })
    ).json()) as {
      value: string;
    };
    expect(isdeploying.value).toBe('True');
    await untilDone();
    // only the first push made a record
    expect(await count()).toBe(before + 1);
    await waitFor(async () => ((await page()).text === 'lock' ? true : undefined));
  });

  it('checklist 7: a push while the value is a URL gets 409 with the exact Kudu text', async () => {
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: 'HTTPS://example.invalid/p.zip' });
    const r = await deploy(makeZip({ 'version.txt': 'x' }), '?isAsync=true');
    expect(r.status).toBe(409);
    expect(await r.text()).toBe(
      'Run-From-Zip is set to a remote URL using WEBSITE_USE_ZIP app setting. Deployment is not supported in this configuration.',
    );
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '', WEBSITE_RUN_FROM_ZIP: 'http://example.invalid/p.zip' });
    expect((await deploy(makeZip({ 'version.txt': 'x' }))).status).toBe(409);
  });

  it('checklist 1: only exactly "1" is local mode; "true" and " 1" extract into wwwroot', async () => {
    for (const value of ['true', ' 1', '01']) {
      setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: value });
      ctx.clock.advance(1000);
      const before = await zips();
      expect((await deploy(makeZip({ 'mode.txt': value }))).status).toBe(200);
      expect(await zips()).toEqual(before);
      expect(await fsp.readFile(path.join(site.homeDir, 'site', 'wwwroot', 'mode.txt'), 'utf8')).toBe(value);
    }
    setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '', WEBSITE_RUN_FROM_ZIP: '1' });
    ctx.clock.advance(1000);
    const when = ctx.clock.now();
    expect((await deploy(makeZip({ 'version.txt': 'legacy' }))).status).toBe(200);
    expectNear(await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8'), when);
  });

  it('checklist 32: a failed restart request leaves Success but the old content mounted', async () => {
    await waitFor(() => (srv.worker.state() === 'running' ? true : undefined));
    const mountedBefore = srv.worker.mounted().source;
    const served = (await page()).text;
    ctx.faults.set('webapp', { restartRequestFails: true });
    const r = await deploy(makeZip({ 'version.txt': 'never-served' }));
    expect(r.status).toBe(200);
    const l = await latest();
    expect(l.body.status).toBe(4);
    const pointer = await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8');
    expect(pointer).not.toBe(mountedBefore);
    await new Promise((res) => setTimeout(res, 150));
    expect(srv.worker.mounted().source).toBe(mountedBefore);
    expect((await page()).text).toBe(served);
    // an explicit restart then picks up the new pointer
    ctx.faults.clear();
    await srv.worker.restart();
    expect((await page()).text).toBe('never-served');
  });

  it('checklist 3 (Kudu side): during a settings lag Kudu decides from the old value', async () => {
    // ARM wrote a URL, Kudu still sees "1": the push is accepted as local mode
    site.appSettings = { WEBSITE_RUN_FROM_PACKAGE: 'https://example.invalid/p.zip' };
    site.scmSettings = { WEBSITE_RUN_FROM_PACKAGE: '1' };
    const seen = (await (
      await fetch(`${srv.scmUrl}/api/settings`, { headers: { authorization: srv.basic } })
    ).json()) as Record<string, string>;
    expect(seen.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
    expect((await deploy(makeZip({ 'version.txt': 'lagged' }))).status).toBe(200);
    // ARM wrote "1", Kudu still sees nothing: the zip is extracted into site/wwwroot, no package stored
    site.appSettings = { WEBSITE_RUN_FROM_PACKAGE: '1' };
    site.scmSettings = {};
    ctx.clock.advance(1000);
    const before = await zips();
    expect((await deploy(makeZip({ 'extracted.txt': 'yes' }))).status).toBe(200);
    expect(await zips()).toEqual(before);
    expect(existsSync(path.join(site.homeDir, 'site', 'wwwroot', 'extracted.txt'))).toBe(true);
  });
});

describe('OneDeploy', () => {
  it('checklist 12: type is required and validated with the Kudu texts', async () => {
    const none = await fetch(`${srv.scmUrl}/api/publish`, {
      method: 'POST',
      headers: { authorization: srv.basic },
      body: 'x',
    });
    expect(none.status).toBe(400);
    expect(await none.text()).toBe("Artifact type '' not supported");
    const bad = await fetch(`${srv.scmUrl}/api/publish?type=tarball`, {
      method: 'POST',
      headers: { authorization: srv.basic },
      body: 'x',
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe("type='tarball' not recognized");
    const noPath = await fetch(`${srv.scmUrl}/api/publish?type=static`, {
      method: 'POST',
      headers: { authorization: srv.basic },
      body: 'x',
    });
    expect(noPath.status).toBe(400);
    expect(await noPath.text()).toBe('Path must be defined for type=static');
  });

  it('checklist 12: type=zip with "1" takes the package path; async (not isAsync) gives 202 and tracking id', async () => {
    const when = ctx.clock.now();
    const r = await fetch(`${srv.scmUrl}/api/publish?type=ZIP&async=true&trackDeploymentProgress=true`, {
      method: 'POST',
      headers: { authorization: srv.basic },
      body: makeZip({ 'version.txt': 'one' }),
    });
    expect(r.status).toBe(202);
    expect(r.headers.get('scm-deployment-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(new URL(r.headers.get('location') as string).searchParams.get('deployer')).toBe('OneDeploy');
    const done = await untilDone();
    expect(done.status).toBe(4);
    expect(done.id).not.toBe(r.headers.get('scm-deployment-id'));
    expectNear(await fsp.readFile(path.join(pkgDir(), 'packagename.txt'), 'utf8'), when);
    await waitFor(async () => ((await page()).text === 'one' ? true : undefined));

    // isAsync is not OneDeploy's parameter: the call is synchronous
    ctx.clock.advance(1000);
    const sync = await fetch(`${srv.scmUrl}/api/publish?type=zip&isAsync=true`, {
      method: 'POST',
      headers: { authorization: srv.basic },
      body: makeZip({ 'version.txt': 'two' }),
    });
    expect(sync.status).toBe(200);
  });

  it('checklist 12: restart=false stores the package without re-mounting', async () => {
    await waitFor(() => (srv.worker.state() === 'running' ? true : undefined));
    const mounted = srv.worker.mounted().source;
    ctx.clock.advance(1000);
    const r = await fetch(`${srv.scmUrl}/api/publish?type=zip&restart=false`, {
      method: 'POST',
      headers: { authorization: srv.basic },
      body: makeZip({ 'version.txt': 'no-restart' }),
    });
    expect(r.status).toBe(200);
    await new Promise((res) => setTimeout(res, 100));
    expect(srv.worker.mounted().source).toBe(mounted);
  });

  it('checklist 12: without run-from-package, clean defaults to true for type=zip', async () => {
    setSettings(site, {});
    const www = path.join(site.homeDir, 'site', 'wwwroot');
    await fsp.writeFile(path.join(www, 'stale.txt'), 'old');
    const r = await fetch(`${srv.scmUrl}/api/publish?type=zip`, {
      method: 'POST',
      headers: { authorization: srv.basic },
      body: makeZip({ 'fresh.txt': 'new' }),
    });
    expect(r.status).toBe(200);
    expect(existsSync(path.join(www, 'stale.txt'))).toBe(false);
    expect(existsSync(path.join(www, 'fresh.txt'))).toBe(true);
    // zipdeploy keeps other files (clean defaults to false)
    await fsp.writeFile(path.join(www, 'kept.txt'), 'old');
    expect((await deploy(makeZip({ 'more.txt': 'new' }))).status).toBe(200);
    expect(existsSync(path.join(www, 'kept.txt'))).toBe(true);
  });
});
