import { describe, it, expect, afterEach } from '@jest/globals';
import { deploymentIsOurs, publishLocal } from '../../src/deploy/publish/local.js';
import { RunpackError, UsageError } from '../../src/util/errors.js';
import {
  fakeArm,
  makeContext,
  makePackage,
  makeTarget,
  newArmFake,
  stampText,
  startFakeKudu,
  type FakeKudu,
} from './local-helpers.js';

describe('deploymentIsOurs', () => {
  it('recognises this push by its nonce, another runpack push or another tool as not ours', () => {
    expect(
      deploymentIsOurs({ id: 'a', status: 1, message: 'runpack abcdefabcdef 0badf00d (0123)' }, '0badf00d'),
    ).toBe(true);
    expect(
      deploymentIsOurs({ id: 'a', status: 1, message: 'runpack abcdefabcdef 12345678' }, '0badf00d'),
    ).toBe(false);
    expect(
      deploymentIsOurs({ id: 'a', status: 1, deployer: 'GITHUB_ZIP_DEPLOY', message: '{}' }, '0badf00d'),
    ).toBe(false);
    expect(
      deploymentIsOurs(
        { id: 'a', status: 1, deployer: 'ZipDeploy', message: 'Created via a push deployment' },
        'x',
      ),
    ).toBe(undefined);
  });
});

describe('publishLocal against a Kudu stand-in', () => {
  let kudu: FakeKudu;
  afterEach(async () => {
    await kudu?.close();
  });

  async function setup(
    opts: { settings?: Record<string, string>; lag?: number; kuduSees?: Record<string, string> } = {},
  ) {
    kudu = await startFakeKudu({ scmSettings: opts.kuduSees ?? opts.settings ?? {} });
    const armFake = newArmFake({ settings: { prod: opts.settings ?? {} } });
    armFake.onSettingsWrite = (_k, s) => kudu.armWrote(s, opts.lag ?? 0);
    const target = makeTarget({ scmHostName: kudu.host });
    const ctx = makeContext({ arm: fakeArm(armFake), armFake, target });
    return { armFake, ctx };
  }

  it('switches a URL-mode app to local: keeps other settings, waits for Kudu to see 1, then pushes', async () => {
    const url = 'https://acct.blob.core.windows.net/c/app.zip?sv=1&sig=SECRETSIG';
    const { armFake, ctx } = await setup({
      settings: { WEBSITE_RUN_FROM_PACKAGE: url, WEBSITE_RUN_FROM_ZIP: 'old', KEEP: 'me' },
      lag: 2,
    });
    kudu.state.nextStamp = stampText('a'.repeat(64));
    const pkg = makePackage();
    const out = await publishLocal(ctx, pkg);
    expect(out.confirmed).toBe(true);
    expect(out.packageName).toMatch(/^\d{14}\.zip$/);
    expect(armFake.settings.prod).toEqual({ WEBSITE_RUN_FROM_PACKAGE: '1', KEEP: 'me' });
    expect(kudu.state.pushes).toHaveLength(1);
    expect(kudu.state.pushes[0].sawSetting).toBe('1');
    expect(kudu.state.pushes[0].bytes).toBe(pkg.zipBytes);
    expect(kudu.state.pushes[0].query).toContain('type=zip&async=true&restart=false');
    const text = ctx.lines.join('\n');
    expect(text).toMatch(/Waiting for Kudu to see WEBSITE_RUN_FROM_PACKAGE=1/);
    expect(text).toMatch(/Kudu deployment dep1: Success/);
    expect(text).not.toContain('SECRETSIG');
    // Core Tools' cadence: 5 s between settings reads
    expect(ctx.slept.filter((ms) => ms === 5000).length).toBeGreaterThanOrEqual(2);
  });

  it('waits for a deployment that holds the lock, names it, and pushes once after it ends', async () => {
    const { ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    kudu.state.packageName = '20240101000000.zip';
    kudu.startOther(3);
    const out = await publishLocal(ctx, makePackage());
    expect(out.confirmed).toBe(true);
    expect(kudu.state.pushes).toHaveLength(1);
    const text = ctx.lines.join('\n');
    expect(text).toMatch(/Kudu is busy with deployment other1 \(GITHUB_ZIP_DEPLOY, someone/);
    expect(text).toMatch(/The other deployment other1 ended: Success/);
    // ours came after the other one, so ours is what packagename.txt names
    expect(out.packageName).toBe(kudu.state.packageName);
  });

  it('stops with "superseded" when another deployment starts right after ours, naming both', async () => {
    const { ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    kudu.state.afterSuccess = () => kudu.startOther(5);
    const err = await publishLocal(ctx, makePackage()).catch((e: unknown) => e);
    expect((err as RunpackError).code).toBe('superseded');
    expect((err as Error).message).toMatch(
      /Kudu deployment dep1 of release ffffffffffff succeeded, but deployment other2 \(GITHUB_ZIP_DEPLOY, someone.*the later deployment wins/,
    );
  });

  it('finds its own record when `latest` already shows a later push', async () => {
    const { ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    kudu.state.instant = true;
    kudu.state.afterSuccess = () => kudu.startOther(50);
    const err = await publishLocal(ctx, makePackage()).catch((e: unknown) => e);
    expect((err as RunpackError).code).toBe('superseded');
    const text = ctx.lines.join('\n');
    // The status lines are about our deployment, not the other one.
    expect(text).toMatch(/Kudu deployment dep1: Success/);
    expect(text).not.toMatch(/Kudu deployment other2:/);
  });

  it('on a 409 while another push is still uploading, backs off and pushes again', async () => {
    const { ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    kudu.state.stagingLock = 2;
    const out = await publishLocal(ctx, makePackage());
    expect(out.confirmed).toBe(true);
    expect(kudu.state.pushes).toHaveLength(1);
    expect(ctx.lines.join('\n')).toMatch(
      /Kudu answered 409 \(The 'Preparing zip package' operation conflicts.*retrying in 5 s/,
    );
    expect(ctx.slept).toEqual(expect.arrayContaining([5000, 10000]));
  });

  it('on a failed deployment prints the Kudu log and says the previous package is still mounted', async () => {
    const { ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    kudu.state.packageName = '20240101000000.zip';
    kudu.state.wwwrootStamp = stampText('0123456789abcdef');
    kudu.state.failNext = true;
    const err = await publishLocal(ctx, makePackage()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunpackError);
    expect((err as RunpackError).code).toBe('deploy-failed');
    expect((err as Error).message).toMatch(
      /ended Failed \(Deployment failed\); the previous package 20240101000000\.zip is still mounted \(packagename\.txt unchanged, wwwroot stamp still content 0123456789ab\)/,
    );
    expect(ctx.lines.join('\n')).toMatch(/End of Central Directory record could not be found/);
    expect(kudu.state.packageName).toBe('20240101000000.zip');
  });

  it('falls back to publishing credentials from Resource Manager when Kudu refuses the token, masking the password', async () => {
    const { armFake, ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    armFake.publishing = { userName: '$app', password: 'publish-pw-123', scmUri: kudu.url };
    const basic = `Basic ${Buffer.from('$app:publish-pw-123').toString('base64')}`;
    kudu.state.acceptAuth = [basic];
    const out = await publishLocal(ctx, makePackage());
    expect(out.confirmed).toBe(true);
    expect(
      kudu.state.requests.filter((r) => r.path.startsWith('/api/publish')).every((r) => r.auth === basic),
    ).toBe(true);
    const text = ctx.lines.join('\n');
    expect(text).toMatch(/falling back to the app's publishing credentials/);
    expect(ctx.secrets.redact('x publish-pw-123 y')).toBe('x *** y');
  });

  it('finds Kudu through the publishing credentials when Resource Manager names no SCM host', async () => {
    const { armFake, ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    ctx.target = { ...ctx.target, scmHostName: null };
    armFake.publishing = { userName: '$app', password: 'publish-pw-123', scmUri: kudu.url };
    const out = await publishLocal(ctx, makePackage());
    expect(out.confirmed).toBe(true);
    // Found by the credentials' scmUri, still signed in with the Entra token.
    expect(kudu.state.requests.every((r) => r.auth === 'Bearer arm-token')).toBe(true);
    expect(armFake.calls).toContain('listPublishingCredentials prod');
  });

  it('explains a refused token when SCM basic auth is disabled too', async () => {
    const { armFake, ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    armFake.basicAllowed = false;
    kudu.state.acceptAuth = [];
    await expect(publishLocal(ctx, makePackage())).rejects.toThrow(
      /SCM basic auth is disabled too.*Website Contributor/,
    );
    expect(kudu.state.pushes).toHaveLength(0);
  });

  it('with a publish profile while SCM basic auth is disabled: says so and points to Entra sign-in', async () => {
    const { armFake, ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    armFake.basicAllowed = false;
    ctx.inputs.publishProfile = `<publishData><publishProfile profileName="app - Zip Deploy" publishMethod="ZipDeploy" publishUrl="${kudu.url}" userName="$app" userPWD="profile-pw-999"/></publishData>`;
    const err = await publishLocal(ctx, makePackage()).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /basic authentication is disabled for the SCM site by policy.*remove the publish-profile input/,
    );
    expect((err as Error).message).not.toContain('profile-pw-999');
    expect(armFake.settings.prod).toEqual({ WEBSITE_RUN_FROM_PACKAGE: '1' });
  });

  it('pushes with the publish profile credentials when basic auth works', async () => {
    const { ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    kudu.state.acceptAuth = [`Basic ${Buffer.from('$app:profile-pw-999').toString('base64')}`];
    ctx.inputs.publishProfile = `<publishData><publishProfile profileName="app - Zip Deploy" publishMethod="ZipDeploy" publishUrl="${kudu.url}" userName="$app" userPWD="profile-pw-999"/></publishData>`;
    const out = await publishLocal(ctx, makePackage());
    expect(out.confirmed).toBe(true);
    expect(ctx.lines.join('\n')).not.toContain('profile-pw-999');
  });

  it('refuses a publish profile of another app before touching any setting', async () => {
    const { armFake, ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: 'https://x/y.zip' } });
    ctx.inputs.publishProfile = `<publishData><publishProfile publishMethod="ZipDeploy" publishUrl="${kudu.url}" userName="$other" userPWD="pw12345"/></publishData>`;
    await expect(publishLocal(ctx, makePackage())).rejects.toThrow(UsageError);
    expect(armFake.calls.filter((c) => c.startsWith('putAppSettings'))).toHaveLength(0);
  });

  it('explains an SCM site behind a private endpoint (403 HTML) without falling back', async () => {
    const { armFake, ctx } = await setup({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    kudu.state.blocked = true;
    await expect(publishLocal(ctx, makePackage())).rejects.toThrow(
      /private endpoint or an access restriction/,
    );
    expect(armFake.calls).not.toContain('listPublishingCredentials prod');
  });

  it('does not push while Kudu never sees the setting, and says why', async () => {
    const { ctx } = await setup({ settings: {}, lag: 1_000_000 });
    const err = await publishLocal(ctx, makePackage()).catch((e: unknown) => e);
    expect((err as RunpackError).code).toBe('setting-not-propagated');
    expect((err as Error).message).toMatch(
      /still does not see WEBSITE_RUN_FROM_PACKAGE=1 \(it sees files in wwwroot/,
    );
    expect(kudu.state.pushes).toHaveLength(0);
  });

  it('keeps polling through 503s while the SCM site restarts after the settings change', async () => {
    const { ctx } = await setup({ settings: {}, lag: 1 });
    kudu.state.settingsUnavailable = 1;
    const out = await publishLocal(ctx, makePackage());
    expect(out.confirmed).toBe(true);
    expect(kudu.state.pushes[0].sawSetting).toBe('1');
  });

  it('refuses local mode on a Linux Consumption function app before any call', async () => {
    const { armFake, ctx } = await setup({ settings: {} });
    ctx.target = makeTarget({
      isLinux: true,
      isFunctionApp: true,
      isConsumption: true,
      scmHostName: kudu.host,
    });
    await expect(publishLocal(ctx, makePackage())).rejects.toThrow(/Linux Consumption/);
    expect(armFake.calls).toHaveLength(0);
    expect(kudu.state.requests).toHaveLength(0);
  });
});
