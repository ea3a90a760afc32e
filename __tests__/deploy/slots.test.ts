import { describe, it, expect, afterEach } from '@jest/globals';
import { checkSlots, compareSlotSettings, swapSlots, type SlotComparison } from '../../src/deploy/slots.js';
import { UsageError } from '../../src/util/errors.js';
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

const SAS_URL = 'https://acct.blob.core.windows.net/c/app.zip?sv=2024&sig=TOPSECRET';
const MI_URL = 'https://acct.blob.core.windows.net/c/app.zip';

function cmp(partial: {
  mode: 'local' | 'url';
  slot?: Record<string, string>;
  other?: Record<string, string>;
  sticky?: string[];
  swap?: boolean;
  force?: boolean;
  linux?: boolean;
}): ReturnType<typeof compareSlotSettings> {
  const c: SlotComparison = {
    slot: { name: 'staging', settings: partial.slot ?? {}, mode: partial.mode },
    other: { name: 'production', settings: partial.other ?? {} },
    stickyNames: partial.sticky ?? [],
    isLinux: partial.linux ?? false,
    swapPlanned: partial.swap ?? false,
    force: partial.force ?? false,
  };
  return compareSlotSettings(c);
}

describe('compareSlotSettings', () => {
  it('is quiet when the setting travels with the swap and both sides use the same mode', () => {
    expect(
      cmp({
        mode: 'local',
        slot: { WEBSITE_RUN_FROM_PACKAGE: '1' },
        other: { WEBSITE_RUN_FROM_PACKAGE: '1' },
      }),
    ).toEqual([]);
    expect(
      cmp({
        mode: 'url',
        slot: { WEBSITE_RUN_FROM_PACKAGE: SAS_URL },
        other: { WEBSITE_RUN_FROM_PACKAGE: SAS_URL },
      }),
    ).toEqual([]);
  });

  it('warns when a sticky setting differs: production would keep =1 with content that has no package', () => {
    const f = cmp({
      mode: 'url',
      other: { WEBSITE_RUN_FROM_PACKAGE: '1' },
      sticky: ['WEBSITE_RUN_FROM_PACKAGE'],
    });
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ severity: 'warning', code: 'slot-swap-mode-mismatch' });
    expect(f[0].message).toMatch(/production would stay at =1.*FAILED TO INITIALIZE/);
  });

  it('turns that warning into an error when swap-to is set, unless force', () => {
    const blocking = cmp({
      mode: 'local',
      other: { WEBSITE_RUN_FROM_PACKAGE: SAS_URL },
      sticky: ['WEBSITE_RUN_FROM_PACKAGE'],
      swap: true,
    });
    expect(blocking[0]).toMatchObject({ severity: 'error', code: 'slot-swap-mode-mismatch' });
    expect(blocking[0].message).toMatch(
      /never serve the package pushed to slot 'staging'.*The swap was not started/,
    );
    expect(blocking[0].message).not.toContain('TOPSECRET');
    const forced = cmp({
      mode: 'local',
      other: { WEBSITE_RUN_FROM_PACKAGE: SAS_URL },
      sticky: ['WEBSITE_RUN_FROM_PACKAGE'],
      swap: true,
      force: true,
    });
    expect(forced[0].severity).toBe('warning');
  });

  it('warns that sticky URLs on both sides make the swap not move the package', () => {
    const f = cmp({
      mode: 'url',
      slot: { WEBSITE_RUN_FROM_PACKAGE: SAS_URL },
      other: { WEBSITE_RUN_FROM_PACKAGE: SAS_URL },
      sticky: ['WEBSITE_RUN_FROM_PACKAGE'],
    });
    expect(f[0].code).toBe('slot-swap-keeps-package');
  });

  it('says sticky local on both sides is fine', () => {
    const f = cmp({
      mode: 'local',
      slot: { WEBSITE_RUN_FROM_PACKAGE: '1' },
      other: { WEBSITE_RUN_FROM_PACKAGE: '1' },
      sticky: ['WEBSITE_RUN_FROM_PACKAGE'],
    });
    expect(f).toEqual([expect.objectContaining({ severity: 'info', code: 'slot-setting-sticky' })]);
  });

  it('warns when a non-sticky swap changes production from local to URL, blocking it on Windows when swapping', () => {
    const warn = cmp({
      mode: 'url',
      slot: { WEBSITE_RUN_FROM_PACKAGE: SAS_URL },
      other: { WEBSITE_RUN_FROM_PACKAGE: '1' },
    });
    expect(warn[0]).toMatchObject({ severity: 'warning', code: 'slot-swap-mode-change' });
    expect(warn[0].message).toMatch(/does not support moving an app from a local package to a URL/);
    const block = cmp({
      mode: 'url',
      slot: { WEBSITE_RUN_FROM_PACKAGE: SAS_URL },
      other: { WEBSITE_RUN_FROM_PACKAGE: '1' },
      swap: true,
    });
    expect(block[0].severity).toBe('error');
    const linux = cmp({
      mode: 'url',
      slot: { WEBSITE_RUN_FROM_PACKAGE: SAS_URL },
      other: { WEBSITE_RUN_FROM_PACKAGE: '1' },
      swap: true,
      linux: true,
    });
    expect(linux[0].severity).toBe('warning');
  });

  it("warns that an identity-fetched URL would be fetched by the other side's identity after a swap", () => {
    const f = cmp({
      mode: 'url',
      slot: { WEBSITE_RUN_FROM_PACKAGE: MI_URL },
      other: { WEBSITE_RUN_FROM_PACKAGE: MI_URL },
    });
    expect(f).toEqual([expect.objectContaining({ code: 'slot-swap-identity', severity: 'warning' })]);
    expect(f[0].message).toMatch(/Storage Blob Data Reader/);
  });
});

describe('checkSlots and swapSlots', () => {
  let kudu: FakeKudu | undefined;
  afterEach(async () => {
    await kudu?.close();
    kudu = undefined;
  });

  it('returns nothing for production and refuses swap-to without a slot', async () => {
    const armFake = newArmFake();
    const ctx = makeContext({ arm: fakeArm(armFake), armFake, target: makeTarget() });
    expect(await checkSlots(ctx)).toEqual([]);
    ctx.inputs.swapTo = 'production';
    await expect(checkSlots(ctx)).rejects.toThrow(UsageError);
  });

  it("reads both sides' settings and the sticky names", async () => {
    const armFake = newArmFake({
      settings: { prod: { WEBSITE_RUN_FROM_PACKAGE: '1' }, staging: {} },
      slotConfigNames: {
        appSettingNames: ['WEBSITE_RUN_FROM_PACKAGE'],
        connectionStringNames: [],
        azureStorageConfigNames: [],
      },
    });
    const ctx = makeContext({
      arm: fakeArm(armFake),
      armFake,
      target: makeTarget({}, 'staging'),
      inputs: { mode: 'url' },
    });
    const f = await checkSlots(ctx);
    expect(f.map((x) => x.code)).toEqual(['slot-swap-mode-mismatch']);
    expect(armFake.calls).toEqual(expect.arrayContaining(['listAppSettings prod', 'getSlotConfigNames']));
  });

  it('swaps, then reads the release stamp back from the target', async () => {
    kudu = await startFakeKudu({ scmSettings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    kudu.state.wwwrootStamp = stampText('a'.repeat(64));
    const armFake = newArmFake({
      settings: { prod: { WEBSITE_RUN_FROM_PACKAGE: '1' }, staging: { WEBSITE_RUN_FROM_PACKAGE: '1' } },
      sites: { prod: { defaultHostName: 'app.example', scmHost: kudu.host } },
    });
    const ctx = makeContext({
      arm: fakeArm(armFake),
      armFake,
      target: makeTarget({ scmHostName: 'staging-scm.invalid' }, 'staging'),
      inputs: { swapTo: 'production' },
    });
    const out = await swapSlots(ctx, 'production', makePackage());
    expect(out).toEqual({ from: 'staging', to: 'production', findings: [] });
    expect(armFake.swaps).toEqual([{ from: 'staging', to: 'production' }]);
    expect(kudu.state.requests.some((r) => r.path.includes('release.json'))).toBe(true);
  });

  it('refuses a swap that would leave production unable to mount, unless force', async () => {
    const armFake = newArmFake({
      settings: { prod: { WEBSITE_RUN_FROM_PACKAGE: '1' }, staging: { WEBSITE_RUN_FROM_PACKAGE: SAS_URL } },
      slotConfigNames: {
        appSettingNames: ['WEBSITE_RUN_FROM_PACKAGE'],
        connectionStringNames: [],
        azureStorageConfigNames: [],
      },
    });
    const ctx = makeContext({
      arm: fakeArm(armFake),
      armFake,
      target: makeTarget({}, 'staging'),
      inputs: { swapTo: 'production' },
    });
    await expect(swapSlots(ctx, 'production')).rejects.toThrow(
      /FAILED TO INITIALIZE.*The swap was not started/,
    );
    expect(armFake.swaps).toEqual([]);
    ctx.inputs.force = true;
    await swapSlots(ctx, 'production');
    expect(armFake.swaps).toEqual([{ from: 'staging', to: 'production' }]);
  });

  it('reports stale content on the target after the swap', async () => {
    kudu = await startFakeKudu({ scmSettings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
    kudu.state.wwwrootStamp = stampText('old');
    const armFake = newArmFake({ sites: { prod: { defaultHostName: 'app.example', scmHost: kudu.host } } });
    const ctx = makeContext({ arm: fakeArm(armFake), armFake, target: makeTarget({}, 'staging') });
    const out = await swapSlots(ctx, 'production', makePackage());
    expect(out.findings.map((f) => f.code)).toEqual(['stale-content']);
  });
});
