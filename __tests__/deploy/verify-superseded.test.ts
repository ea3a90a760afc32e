import { afterEach, describe, expect, it } from '@jest/globals';
import { verifyDeploy } from '../../src/deploy/verify.js';
import { RunpackError } from '../../src/util/errors.js';
import {
  fakeArm,
  makeContext,
  makePackage,
  makeTarget,
  newArmFake,
  startFakeKudu,
  stampText,
  type FakeKudu,
} from './local-helpers.js';

describe('local-mode verification (c) and packagename.txt', () => {
  let kudu: FakeKudu;
  afterEach(async () => {
    await kudu?.close();
  });
  async function ctxFor() {
    kudu = await startFakeKudu({ scmSettings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    const armFake = newArmFake({ settings: { prod: { WEBSITE_RUN_FROM_PACKAGE: '1' } } });
    return makeContext({
      arm: fakeArm(armFake),
      armFake,
      target: makeTarget({ scmHostName: kudu.host, appUrl: `https://${kudu.host}` }),
    });
  }

  it('stops with superseded as soon as packagename.txt names another package, without waiting out the budget', async () => {
    const ctx = await ctxFor();
    kudu.state.packageName = '20250101000002.zip';
    kudu.state.wwwrootStamp = stampText('b'.repeat(64));
    const err = await verifyDeploy(ctx, makePackage(), {
      intendedValue: '1',
      packageName: '20250101000001.zip',
      mountBudgetMs: 5 * 60_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunpackError);
    expect((err as RunpackError).code).toBe('superseded');
    expect((err as Error).message).toMatch(/replaced by a later deployment/);
    expect((err as Error).message).not.toContain('\n');
    // One round of reads, no 3-second waits.
    expect(ctx.slept.filter((ms) => ms === 3000)).toHaveLength(0);
  });

  it('passes when its own package is named and the stamp matches', async () => {
    const ctx = await ctxFor();
    kudu.state.packageName = '20250101000001.zip';
    kudu.state.wwwrootStamp = stampText('a'.repeat(64));
    const out = await verifyDeploy(ctx, makePackage(), {
      intendedValue: '1',
      packageName: '20250101000001.zip',
    });
    expect(out.levels.find((l) => l.level === 'mounted-content')?.status).toBe('pass');
  });

  it('keeps waiting for the stamp while packagename.txt still names this run’s package', async () => {
    const ctx = await ctxFor();
    kudu.state.packageName = '20250101000001.zip';
    kudu.state.wwwrootStamp = stampText('b'.repeat(64));
    const out = await verifyDeploy(ctx, makePackage(), {
      intendedValue: '1',
      packageName: '20250101000001.zip',
      mountBudgetMs: 20_000,
    });
    expect(out.levels.find((l) => l.level === 'mounted-content')?.status).toBe('fail');
    expect(ctx.slept.filter((ms) => ms === 3000).length).toBeGreaterThan(0);
  });
});
