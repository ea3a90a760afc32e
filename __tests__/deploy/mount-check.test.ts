import { describe, it, expect, afterEach } from '@jest/globals';
import { openKudu } from '../../src/deploy/context.js';
import { checkMountedRelease } from '../../src/deploy/verify.js';
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

describe('checkMountedRelease (the check after a swap)', () => {
  let kudu: FakeKudu;
  afterEach(async () => {
    await kudu?.close();
  });
  async function ctxFor() {
    kudu = await startFakeKudu({ scmSettings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    const armFake = newArmFake();
    return makeContext({ arm: fakeArm(armFake), armFake, target: makeTarget({ scmHostName: kudu.host }) });
  }
  async function check(ctx: Awaited<ReturnType<typeof ctxFor>>, packageName?: string, budgetMs = 120_000) {
    const deadline = ctx.phaseDeadline(budgetMs);
    const { kudu: client } = await openKudu(ctx, deadline);
    return checkMountedRelease(ctx, client, makePackage(), deadline, 5000, packageName);
  }

  it('passes when wwwroot carries the new stamp', async () => {
    const ctx = await ctxFor();
    kudu.state.packageName = '20250101000001.zip';
    kudu.state.wwwrootStamp = stampText('a'.repeat(64));
    expect(await check(ctx, '20250101000001.zip')).toEqual([]);
  });

  it('reports stale content when the old stamp stays mounted', async () => {
    const ctx = await ctxFor();
    kudu.state.wwwrootStamp = stampText('old');
    const findings = await check(ctx, undefined, 20_000);
    expect(findings).toEqual([expect.objectContaining({ severity: 'error', code: 'stale-content' })]);
    expect(findings[0].message).toMatch(/did not remount — restart it/);
  });

  it('reports the failure marker as a failed mount', async () => {
    const ctx = await ctxFor();
    kudu.state.failureMarker = true;
    const findings = await check(ctx);
    expect(findings[0]).toMatchObject({ code: 'mount-failed' });
    expect(findings[0].message).toContain('FAILED TO INITIALIZE RUN FROM PACKAGE.txt');
  });

  it('reports a package replaced by another deployment', async () => {
    const ctx = await ctxFor();
    kudu.state.packageName = '20250101000009.zip';
    const findings = await check(ctx, '20250101000001.zip');
    expect(findings[0]).toMatchObject({ code: 'package-replaced' });
  });
});
