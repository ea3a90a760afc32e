import { describe, it, expect, afterEach } from '@jest/globals';
import {
  deploymentIsOurs,
  classifyRunFromPackage,
  compareStamp,
  effectiveRunFromPackage,
  localModeRefusal,
  modeSwitchDecision,
  publishLocal,
  verifyLocalMount,
} from '../../src/deploy/local.js';
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

const windows = { isLinux: false, isFunctionApp: false, isConsumption: false, isFlex: false };
const linux = { ...windows, isLinux: true };

describe('classifyRunFromPackage', () => {
  it('treats only exactly "1" as local and http… as a URL, like Kudu', () => {
    expect(classifyRunFromPackage('1')).toBe('local');
    expect(classifyRunFromPackage(' 1')).toBe('other');
    expect(classifyRunFromPackage('true')).toBe('other');
    expect(classifyRunFromPackage('01')).toBe('other');
    expect(classifyRunFromPackage('HTTPS://a/b.zip')).toBe('url');
    expect(classifyRunFromPackage('')).toBe('unset');
    expect(classifyRunFromPackage(undefined)).toBe('unset');
  });
  it('falls back to the legacy WEBSITE_RUN_FROM_ZIP only when the main setting is empty', () => {
    expect(effectiveRunFromPackage({ WEBSITE_RUN_FROM_ZIP: '1' })).toBe('1');
    expect(effectiveRunFromPackage({ WEBSITE_RUN_FROM_PACKAGE: '', WEBSITE_RUN_FROM_ZIP: 'https://x' })).toBe(
      'https://x',
    );
    expect(
      effectiveRunFromPackage({ WEBSITE_RUN_FROM_PACKAGE: '1', WEBSITE_RUN_FROM_ZIP: 'https://x' }),
    ).toBe('1');
    expect(effectiveRunFromPackage({})).toBeUndefined();
  });
});

describe('modeSwitchDecision', () => {
  const url = 'https://acct.blob.core.windows.net/c/app.zip?sv=1&sig=SECRETSIG';
  it('refuses local → URL on a Windows app unless forced, with the reason and the way out', () => {
    const d = modeSwitchDecision('1', 'url', { ...windows, name: 'web' }, false);
    expect(d.allowed).toBe(false);
    expect(d.code).toBe('mode-switch-refused');
    expect(d.message).toMatch(/Windows app running a local package/);
    expect(d.message).toMatch(/keep mode: local, deploy to a new app, or set force: true/);
    const forced = modeSwitchDecision('1', 'url', windows, true);
    expect(forced.allowed).toBe(true);
    expect(forced.code).toBe('mode-switch-forced');
  });
  it('lets a Linux app move from local to URL with a warning', () => {
    const d = modeSwitchDecision('1', 'url', linux, false);
    expect(d).toMatchObject({ allowed: true, severity: 'warning', code: 'mode-switch' });
  });
  it('allows URL → local and says what it costs, without ever quoting the URL', () => {
    const d = modeSwitchDecision(url, 'local', windows, false);
    expect(d).toMatchObject({ allowed: true, from: 'url', code: 'mode-switch' });
    expect(d.message).toMatch(/restarts the app/);
    expect(d.message).not.toContain('SECRETSIG');
    expect(d.message).not.toContain('acct.blob');
  });
  it('reports no switch when the mode stays', () => {
    expect(modeSwitchDecision('1', 'local', windows, false).code).toBe('mode-unchanged');
    expect(modeSwitchDecision(url, 'url', windows, false).code).toBe('mode-unchanged');
  });
  it('refuses local mode on Linux Consumption function apps and anything on Flex', () => {
    const lc = { isLinux: true, isFunctionApp: true, isConsumption: true, isFlex: false, name: 'fn' };
    expect(modeSwitchDecision(undefined, 'local', lc, true).allowed).toBe(false);
    expect(localModeRefusal(lc)).toMatch(
      /Linux Consumption function apps run from a package URL only.*use mode: url/,
    );
    expect(modeSwitchDecision(undefined, 'url', lc, false).allowed).toBe(true);
    const flex = { ...lc, isConsumption: false, isFlex: true };
    const d = modeSwitchDecision(undefined, 'url', flex, true);
    expect(d.allowed).toBe(false);
    expect(d.message).toMatch(/Flex Consumption.*OneDeploy/);
  });
});

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

describe('compareStamp', () => {
  const stamp = { runpack: 1 as const, contentSha256: 'abc' };
  it('matches, mismatches, and handles missing or broken stamps', () => {
    expect(compareStamp(stamp, stampText('abc'))).toBe('match');
    expect(compareStamp(stamp, stampText('old'))).toBe('mismatch');
    expect(compareStamp(stamp, null)).toBe('missing');
    expect(compareStamp(stamp, '{oops')).toBe('unreadable');
    expect(compareStamp(null, null)).toBe('not-stamped');
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
    expect(kudu.state.pushes[0].query).toContain('isAsync=true');
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
      kudu.state.requests.filter((r) => r.path.startsWith('/api/zipdeploy')).every((r) => r.auth === basic),
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

describe('verifyLocalMount', () => {
  let kudu: FakeKudu;
  afterEach(async () => {
    await kudu?.close();
  });
  async function ctxFor() {
    kudu = await startFakeKudu({ scmSettings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    const armFake = newArmFake();
    return makeContext({ arm: fakeArm(armFake), armFake, target: makeTarget({ scmHostName: kudu.host }) });
  }

  it('passes when wwwroot carries the new stamp', async () => {
    const ctx = await ctxFor();
    kudu.state.packageName = '20250101000001.zip';
    kudu.state.wwwrootStamp = stampText('a'.repeat(64));
    expect(await verifyLocalMount(ctx, makePackage(), { packageName: '20250101000001.zip' })).toEqual([]);
  });

  it('reports stale content when the old stamp stays mounted', async () => {
    const ctx = await ctxFor();
    kudu.state.wwwrootStamp = stampText('old');
    const findings = await verifyLocalMount(ctx, makePackage(), { budgetMs: 20_000 });
    expect(findings).toEqual([expect.objectContaining({ severity: 'error', code: 'stale-content' })]);
    expect(findings[0].message).toMatch(/did not remount — restart it/);
  });

  it('reports the failure marker as a failed mount', async () => {
    const ctx = await ctxFor();
    kudu.state.failureMarker = true;
    const findings = await verifyLocalMount(ctx, makePackage());
    expect(findings[0]).toMatchObject({ code: 'mount-failed' });
    expect(findings[0].message).toContain('FAILED TO INITIALIZE RUN FROM PACKAGE.txt');
  });

  it('reports a package replaced by another deployment', async () => {
    const ctx = await ctxFor();
    kudu.state.packageName = '20250101000009.zip';
    const findings = await verifyLocalMount(ctx, makePackage(), { packageName: '20250101000001.zip' });
    expect(findings[0]).toMatchObject({ code: 'package-replaced' });
  });
});
