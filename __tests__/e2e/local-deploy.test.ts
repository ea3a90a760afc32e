/**
 * Local mode end to end: the built action against the emulator — Windows and Linux web apps, Entra and
 * publish-profile auth, SCM basic auth disabled, two deploys at once, a failed deployment, a corrupt package,
 * the URL → local switch and the refused local → URL switch on Windows, and the secret scan.
 */
import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchSite, type E2E, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

function site(app: string, slot: string | null = null) {
  const s = [...e.emu.ctx.sites.values()].find((x) => x.appName === app && x.slotName === slot);
  if (!s) throw new Error(`no site ${app}/${slot}`);
  return s;
}

function publishProfile(app: string, password?: string): string {
  const s = site(app);
  return `<publishData>
  <publishProfile profileName="${app} - Web Deploy" publishMethod="MSDeploy" publishUrl="${s.scmHostName}:443" msdeploySite="${app}" userName="${s.publishingUserName}" userPWD="${password ?? s.publishingPassword}" destinationAppUrl="https://${s.defaultHostName}"><databases /></publishProfile>
  <publishProfile profileName="${app} - Zip Deploy" publishMethod="ZipDeploy" publishUrl="${s.scmHostName}:443" userName="${s.publishingUserName}" userPWD="${password ?? s.publishingPassword}" destinationAppUrl="https://${s.defaultHostName}"><databases /></publishProfile>
</publishData>`;
}

const kuduPushes = (app: string) =>
  e.emu.admin
    .requests({ service: 'kudu' })
    .filter((r) => r.method === 'POST' && /\/api\/publish/.test(r.path) && r.host.startsWith(app));

describe('local mode on the Windows web app', () => {
  let v1Package = '';

  it('deploys v1 with the Entra token: setting 1, Kudu push, packagename.txt, stamp, health', async () => {
    const r = await e.run({
      'app-name': 'rp-win-web',
      mode: 'local',
      package: e.app('v1'),
      'health-path': '/healthz',
      expect: 'v1',
    });
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ mode: 'local', verified: 'true' });
    const s = e.emu.admin.site('rp-win-web');
    expect(s.appSettings.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
    expect(s.mounted?.mode).toBe('local');
    expect(s.mounted?.source).toMatch(/^\d{14}\.zip$/);
    expect(r.stdout).toContain(`packagename.txt now names ${s.mounted?.source}`);
    expect(r.stdout).toMatch(/signing in with the Entra token/);
    expect(r.summary).toContain('(c) mounted content is this release');
    expect((await fetchSite(e.emu, 'rp-win-web', '/')).body).toContain('version v1');
    // The push went to the SCM host Resource Manager named, with Bearer auth (basic never tried).
    expect(kuduPushes('rp-win-web')).toHaveLength(1);
    v1Package = s.mounted?.source ?? '';
  });

  it('deploys v2 with the publish profile; the password never shows', async () => {
    const r = await e.run({
      'app-name': 'rp-win-web',
      mode: 'local',
      package: e.app('v2'),
      'publish-profile': publishProfile('rp-win-web'),
      'health-path': '/healthz',
      expect: 'v2',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/signing in with the publish profile's \$rp-win-web credentials/);
    expect(r.everything).not.toContain(site('rp-win-web').publishingPassword);
    expect(e.emu.admin.site('rp-win-web').mounted?.source).not.toBe(v1Package);
    expect((await fetchSite(e.emu, 'rp-win-web', '/')).body).toContain('version v2');
  });

  it('two deploys at once: both end, the later push wins, nothing half-mounted', async () => {
    const first = e.run({
      'app-name': 'rp-win-web',
      mode: 'local',
      package: e.app('v3'),
      'timeout-minutes': '1',
    });
    // Start the second while the first is pushing: it must wait for the first deployment, never resend blindly.
    const second = new Promise<Awaited<typeof first>>((resolve, reject) => {
      const started = Date.now();
      const tick = () => {
        if (kuduPushes('rp-win-web').length > 0 || Date.now() - started > 30_000)
          e.run({ 'app-name': 'rp-win-web', mode: 'local', package: e.app('v4') }).then(resolve, reject);
        else setTimeout(tick, 50);
      };
      tick();
    });
    const [a, b] = await Promise.all([first, second]);
    // The later run wins and verifies its own content.
    expect(b.code).toBe(0);
    expect(b.outputs.verified).toBe('true');
    // The earlier run either verified before the later push landed, or says a later deployment replaced it.
    if (a.code !== 0)
      expect(a.everything).toMatch(/later deployment wins|replaced|belongs to another release/);
    const s = e.emu.admin.site('rp-win-web');
    expect(s.mounted?.error).toBeNull();
    expect((await fetchSite(e.emu, 'rp-win-web', '/')).body).toContain('version v4');
    // Each run pushed exactly once: a 409 is waited out, not answered with a blind resend.
    expect(kuduPushes('rp-win-web').filter((q) => q.status === 202)).toHaveLength(2);
  }, 150_000);

  it('a failed deployment leaves v4 mounted and says so, with the Kudu log', async () => {
    const before = e.emu.admin.site('rp-win-web').mounted?.source;
    e.emu.admin.setFaults('rp-win-web', { deploymentFails: true });
    const r = await e.run({ 'app-name': 'rp-win-web', mode: 'local', package: e.app('v5') });
    expect(r.code).not.toBe(0);
    expect(r.everything).toMatch(
      new RegExp(
        `ended Failed.*the previous package ${before} is still mounted \\(packagename\\.txt unchanged, wwwroot stamp still content [0-9a-f]{12}\\)`,
      ),
    );
    expect(r.stdout + r.stderr).toMatch(/Kudu deployment \w+ log:/);
    expect(e.emu.admin.site('rp-win-web').mounted?.source).toBe(before);
    expect((await fetchSite(e.emu, 'rp-win-web', '/')).body).toContain('version v4');
  });

  it('refuses to move the Windows app from local to URL mode unless force', async () => {
    const r = await e.run({
      'app-name': 'rp-win-web',
      mode: 'url',
      'storage-account': e.emu.storage.accountName,
      package: e.app('v6'),
    });
    expect(r.code).not.toBe(0);
    expect(r.everything).toMatch(
      /Windows app running a local package .* keep mode: local, deploy to a new app, or set force: true/,
    );
    expect(e.emu.admin.site('rp-win-web').appSettings.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
  });
});

describe('local mode on the Linux web app', () => {
  it('switches from URL mode to local: the setting first, the push only once Kudu sees it', async () => {
    const url = await e.run({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('u1'),
    });
    expect(url.code).toBe(0);
    expect(url.outputs.mode).toBe('url');
    e.emu.admin.setFaults('rp-linux-web', { settingsLagMs: 3000 });
    e.emu.admin.clearRequests();
    const r = await e.run({
      'app-name': 'rp-linux-web',
      mode: 'local',
      package: e.app('l1'),
      'health-path': '/healthz',
      expect: 'l1',
    });
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ mode: 'local', verified: 'true' });
    expect(r.everything).toMatch(
      /switches from a package URL to a local package: changing the setting restarts the app/,
    );
    expect(r.stdout).toMatch(/Waiting for Kudu to see WEBSITE_RUN_FROM_PACKAGE=1 before pushing/);
    // Never a URL-mode 409: the push came after Kudu saw the new value.
    const kudu = e.emu.admin.requests({ service: 'kudu' });
    expect(kudu.filter((q) => /api\/publish/.test(q.path)).map((q) => q.status)).toEqual([202]);
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version l1');
  });

  it('a corrupt package pushed with force fails and leaves the previous package mounted', async () => {
    const dir = e.app('bad');
    const zip = join(dir, '..', 'corrupt.zip');
    writeFileSync(zip, Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(64, 7)]));
    const before = e.emu.admin.site('rp-linux-web').mounted?.source;
    const r = await e.run({ 'app-name': 'rp-linux-web', mode: 'local', package: zip, force: 'true' });
    expect(r.code).not.toBe(0);
    expect(e.emu.admin.site('rp-linux-web').mounted?.source).toBe(before);
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version l1');
  });

  it('with SCM basic auth disabled: a publish profile is refused with the reason, the Entra token works', async () => {
    site('rp-linux-web').basicAuthAllowed.scm = false;
    try {
      const refused = await e.run({
        'app-name': 'rp-linux-web',
        mode: 'local',
        package: e.app('l2'),
        'publish-profile': publishProfile('rp-linux-web'),
      });
      expect(refused.code).not.toBe(0);
      expect(refused.everything).toMatch(
        /basic authentication is disabled for the SCM site by policy .*remove the publish-profile input/,
      );
      const ok = await e.run({ 'app-name': 'rp-linux-web', mode: 'local', package: e.app('l2') });
      expect(ok.code).toBe(0);
      expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version l2');
    } finally {
      site('rp-linux-web').basicAuthAllowed.scm = true;
    }
  });

  it('waits out a 409 from Kudu and pushes once the lock is free', async () => {
    e.emu.admin.setFaults('rp-linux-web', { kudu: { status: 409, count: 1, pathContains: 'api/publish' } });
    const r = await e.run({ 'app-name': 'rp-linux-web', mode: 'local', package: e.app('l4') });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /Kudu answered 409 \(There is a deployment currently in progress.*retrying in 5 s/,
    );
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version l4');
  });

  it("restarts when Kudu's own restart request fails, so the new package is what serves", async () => {
    e.emu.admin.setFaults('rp-linux-web', { restartRequestFails: true });
    const r = await e.run({
      'app-name': 'rp-linux-web',
      mode: 'local',
      package: e.app('l5'),
      'health-path': '/healthz',
      expect: 'l5',
    });
    expect(r.code).toBe(0);
    expect(r.outputs.verified).toBe('true');
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version l5');
  });

  it('explains an SCM site behind a private endpoint', async () => {
    e.emu.admin.setFaults('rp-linux-web', { scmForbidden: true });
    const r = await e.run({ 'app-name': 'rp-linux-web', mode: 'local', package: e.app('l3') });
    expect(r.code).not.toBe(0);
    expect(r.everything).toMatch(/SCM site is behind a private endpoint or an access restriction/);
    expect(e.emu.admin.site('rp-linux-web').appSettings.WEBSITE_RUN_FROM_PACKAGE).toBe('1');
  });
});
