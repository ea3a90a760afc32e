import { describe, expect, it } from '@jest/globals';
import { createSettingsHelper, mergeSettings } from '../../src/deploy/setting.js';
import type { ArmClient } from '../../src/azure/arm.js';

describe('mergeSettings', () => {
  it('changes only the given keys and keeps the order of the others', () => {
    const current = { A: '1', WEBSITE_RUN_FROM_ZIP: 'old', B: '@Microsoft.KeyVault(SecretUri=x)', C: '3' };
    const r = mergeSettings(current, {
      WEBSITE_RUN_FROM_PACKAGE: 'https://u',
      WEBSITE_RUN_FROM_ZIP: null,
      B: current.B,
    });
    expect(Object.entries(r.settings)).toEqual([
      ['A', '1'],
      ['B', '@Microsoft.KeyVault(SecretUri=x)'],
      ['C', '3'],
      ['WEBSITE_RUN_FROM_PACKAGE', 'https://u'],
    ]);
    expect(r.changedKeys.sort()).toEqual(['WEBSITE_RUN_FROM_PACKAGE', 'WEBSITE_RUN_FROM_ZIP']);
  });

  it('reports no change when the values are already there', () => {
    expect(mergeSettings({ X: '1' }, { X: '1', GONE: null }).changed).toBe(false);
  });
});

describe('createSettingsHelper', () => {
  function fakeArm(
    initial: Record<string, string>,
    onPut?: (s: Record<string, string>) => Record<string, string>,
  ) {
    let stored = { ...initial };
    const calls: string[] = [];
    const arm = {
      listAppSettings: async () => {
        calls.push('list');
        return { ...stored };
      },
      putAppSettings: async (_ref: unknown, s: Record<string, string>) => {
        calls.push('put');
        stored = onPut ? onPut(s) : { ...s };
        return stored;
      },
    } as unknown as ArmClient;
    return { arm, calls, get: () => stored };
  }
  const ref = { subscriptionId: 's', resourceGroup: 'rg', appName: 'a' };

  it('reads fresh, writes the merge and reads back', async () => {
    const f = fakeArm({ KEEP: 'me' });
    const h = createSettingsHelper(f.arm, ref);
    const r = await h.update({ WEBSITE_RUN_FROM_PACKAGE: 'https://u' });
    expect(r.changed).toBe(true);
    expect(f.get()).toEqual({ KEEP: 'me', WEBSITE_RUN_FROM_PACKAGE: 'https://u' });
    expect(f.calls).toEqual(['list', 'put', 'list']);
  });

  it('skips the write when nothing changes', async () => {
    const f = fakeArm({ WEBSITE_RUN_FROM_PACKAGE: 'https://u' });
    const r = await createSettingsHelper(f.arm, ref).update({ WEBSITE_RUN_FROM_PACKAGE: 'https://u' });
    expect(r.changed).toBe(false);
    expect(f.calls).toEqual(['list']);
  });

  it('fails when the value does not read back', async () => {
    const f = fakeArm({}, (s) => ({ ...s, WEBSITE_RUN_FROM_PACKAGE: 'something-else' }));
    await expect(
      createSettingsHelper(f.arm, ref).update({ WEBSITE_RUN_FROM_PACKAGE: 'https://u' }),
    ).rejects.toThrow(/did not read back/);
  });
});
