import { describe, expect, it } from '@jest/globals';
import { parseInputs } from '../../src/inputs.js';
import { blobInContainer, chooseStableBlob, planDeploy } from '../../src/deploy/plan.js';
import { isStableBlobName, releaseBlobName, stableBlobName } from '../../src/release/releases.js';
import type { TargetInfo } from '../../src/deploy/types.js';
import { RunpackError } from '../../src/util/errors.js';

function target(over: Partial<TargetInfo> = {}): TargetInfo {
  return {
    ref: { subscriptionId: 's', resourceGroup: 'rg', appName: 'web', slot: null },
    id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/web',
    kind: 'app,linux',
    isLinux: true,
    isFunctionApp: false,
    isFlex: false,
    isConsumption: false,
    sku: 'Standard',
    state: 'Running',
    location: 'West Europe',
    defaultHostName: 'web.azurewebsites.net',
    scmHostName: 'web-abc.scm.westeurope-01.azurewebsites.net',
    appUrl: 'https://web.azurewebsites.net',
    linuxFxVersion: 'NODE|20',
    identity: { systemPrincipalId: null, userAssigned: [] },
    ...over,
  };
}
const inputs = (values: Record<string, string>) =>
  parseInputs((n) => ({ 'app-name': 'web', 'storage-account': 'store1', ...values })[n]);

function refusal(fn: () => unknown): RunpackError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RunpackError);
    return err as RunpackError;
  }
  throw new Error('expected a refusal');
}

describe('planDeploy', () => {
  it('picks url mode and SAS for an app without a mode or an identity', () => {
    const p = planDeploy(inputs({}), target(), { OTHER: 'x' });
    expect(p).toMatchObject({ mode: 'url', access: 'sas', stableBlob: 'web.zip', policyId: 'runpack-web' });
    expect(p.extra).toEqual({});
  });

  it('keeps local mode when the app already runs a local package', () => {
    expect(planDeploy(inputs({}), target(), { WEBSITE_RUN_FROM_PACKAGE: '1' }).mode).toBe('local');
  });

  it('uses the system identity when the app has one, and removes the legacy setting', () => {
    const p = planDeploy(inputs({}), target({ identity: { systemPrincipalId: 'p1', userAssigned: [] } }), {
      WEBSITE_RUN_FROM_ZIP: 'https://old/x.zip',
    });
    expect(p).toMatchObject({ access: 'identity', identityPrincipalId: 'p1' });
    expect(p.extra).toEqual({ WEBSITE_RUN_FROM_ZIP: null });
    expect(p.previousValue).toBe('https://old/x.zip');
  });

  it('names a user-assigned identity in the MI setting when the app has no system identity', () => {
    const ua = {
      resourceId: '/subscriptions/s/x/userAssignedIdentities/id1',
      principalId: 'p2',
      clientId: 'c2',
    };
    const p = planDeploy(
      inputs({}),
      target({ identity: { systemPrincipalId: null, userAssigned: [ua] } }),
      {},
    );
    expect(p.extra.WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID).toBe(ua.resourceId);
    expect(p.identityPrincipalId).toBe('p2');
  });

  it('refuses identity access for an app without an identity, with the way out', () => {
    expect(refusal(() => planDeploy(inputs({ 'package-access': 'identity' }), target(), {})).message).toMatch(
      /no managed identity.*package-access: sas/,
    );
  });

  describe('on Flex Consumption', () => {
    const flex = (over: Partial<TargetInfo> = {}) =>
      target({
        isFlex: true,
        isFunctionApp: true,
        kind: 'functionapp,linux',
        flex: {
          containerUrl: 'https://acct.blob.core.windows.net/app-package-web',
          authentication: 'SystemAssignedIdentity',
          runtime: { name: 'node', version: '20' },
        },
        ...over,
      });

    it('plans the flex mode with auto, and refuses url or local with the reason', () => {
      expect(planDeploy(inputs({}), flex(), {}).mode).toBe('flex');
      for (const mode of ['url', 'local']) {
        const e = refusal(() =>
          planDeploy(inputs({ mode, ...(mode === 'local' ? { 'storage-account': '' } : {}) }), flex(), {}),
        );
        expect(e.code).toBe('mode-unsupported');
        expect(e.message).toMatch(
          /does not run packages through WEBSITE_RUN_FROM_PACKAGE.*leave mode at auto/,
        );
      }
    });

    it('refuses slots, a missing deployment storage, rollback-settings and a publish profile', () => {
      const slot = flex({
        ref: { subscriptionId: 's', resourceGroup: 'rg', appName: 'web', slot: 'staging' },
      });
      const e = refusal(() => planDeploy(inputs({ slot: 'staging' }), slot, {}));
      expect(e.code).toBe('slots-unsupported');
      expect(e.message).toMatch(/has no deployment slots; Input 'slot' cannot be used there/);
      expect(refusal(() => planDeploy(inputs({}), flex({ flex: undefined }), {})).code).toBe(
        'flex-storage-missing',
      );
      expect(refusal(() => planDeploy(inputs({ 'rollback-settings': 'true' }), flex(), {})).code).toBe(
        'rollback-settings-unsupported',
      );
      // Run-from-package inputs Flex would not use are refused, not ignored.
      const unused = refusal(() =>
        planDeploy(inputs({ 'package-access': 'sas', restart: 'false' }), flex(), {}),
      );
      expect(unused.code).toBe('input-unsupported');
      expect(unused.message).toMatch(/'package-access', 'restart' have no effect/);
    });

    it('refuses settings Flex does not support with each reason, and removes them with force', () => {
      const settings = { WEBSITE_RUN_FROM_PACKAGE: '1', FUNCTIONS_WORKER_RUNTIME: 'node', KEEP: 'x' };
      const e = refusal(() => planDeploy(inputs({}), flex(), settings));
      expect(e.code).toBe('flex-setting');
      expect(e.message).toMatch(/FUNCTIONS_WORKER_RUNTIME \(functionAppConfig.runtime names the runtime\)/);
      expect(e.message).toMatch(
        /WEBSITE_RUN_FROM_PACKAGE \(Flex runs the package from its deployment storage/,
      );
      const p = planDeploy(inputs({ force: 'true' }), flex(), settings);
      expect(p.extra).toEqual({ FUNCTIONS_WORKER_RUNTIME: null, WEBSITE_RUN_FROM_PACKAGE: null });
      expect(p.findings.map((f) => f.code)).toEqual(['flex-setting-removed']);
    });

    it('refuses remote-build on every other plan', () => {
      const e = refusal(() => planDeploy(inputs({ 'remote-build': 'true' }), target(), {}));
      expect(e.code).toBe('remote-build-unsupported');
      expect(planDeploy(inputs({ 'remote-build': 'true' }), flex(), {}).mode).toBe('flex');
    });
  });

  it('refuses local mode on Linux Consumption and picks url there in auto', () => {
    const t = target({ isFunctionApp: true, isConsumption: true, kind: 'functionapp,linux' });
    expect(refusal(() => planDeploy(inputs({ mode: 'local', 'storage-account': '' }), t, {})).code).toBe(
      'mode-unsupported',
    );
    const p = planDeploy(inputs({}), t, { WEBSITE_RUN_FROM_PACKAGE: '1' });
    expect(p.mode).toBe('url');
    expect(p.extra.WEBSITE_MOUNT_ENABLED).toBe('1');
  });

  it('refuses Python and Java web apps on Linux', () => {
    expect(
      refusal(() => planDeploy(inputs({}), target({ linuxFxVersion: 'PYTHON|3.12' }), {})).message,
    ).toMatch(/Python/);
    expect(
      refusal(() => planDeploy(inputs({}), target({ linuxFxVersion: 'TOMCAT|10-java17' }), {})).message,
    ).toMatch(/Java/);
  });

  it('refuses server build settings unless forced', () => {
    const s = { SCM_DO_BUILD_DURING_DEPLOYMENT: 'true' };
    expect(refusal(() => planDeploy(inputs({}), target(), s)).code).toBe('conflicting-setting');
    const p = planDeploy(inputs({ force: 'true' }), target(), s);
    expect(p.findings.map((f) => f.code)).toContain('conflicting-setting');
  });

  it('needs a storage account for url mode', () => {
    const i = parseInputs((n) => ({ 'app-name': 'web' })[n]);
    expect(refusal(() => planDeploy(i, target(), {})).message).toMatch(/'storage-account' is required/);
  });

  it('names slot blobs and policies after the slot', () => {
    const p = planDeploy(
      inputs({ slot: 'staging' }),
      target({ ref: { subscriptionId: 's', resourceGroup: 'rg', appName: 'Web', slot: 'staging' } }),
      {},
    );
    expect(p.stableBlob).toBe('web-staging.zip');
    expect(p.policyId).toBe('runpack-web-staging');
    expect(stableBlobName('Web', null)).toBe('web.zip');
    expect(releaseBlobName('Web', 'ab'.repeat(32))).toBe(`releases/web/${'ab'.repeat(32)}.zip`);
  });
});

describe('chooseStableBlob', () => {
  it('keeps the slot name while no other slot runs it', () => {
    expect(chooseStableBlob('web-staging.zip', null, new Set(['web.zip']))).toBe('web-staging.zip');
  });

  it('after a swap, reuses the blob this slot now points at instead of the one production runs', () => {
    expect(chooseStableBlob('web-staging.zip', 'web.zip', new Set(['web-staging.zip']))).toBe('web.zip');
  });

  it('falls back to an alternate name when both are taken', () => {
    expect(chooseStableBlob('web-staging.zip', 'web.zip', new Set(['web-staging.zip', 'web.zip']))).toBe(
      'web-staging-a.zip',
    );
  });

  it('reads the blob of a setting in the container, without its SAS', () => {
    expect(
      blobInContainer(
        'https://a.blob.core.windows.net/c/web.zip?sv=1&sig=x',
        'https://a.blob.core.windows.net/c',
      ),
    ).toBe('web.zip');
    expect(
      blobInContainer('https://a.blob.core.windows.net/other/web.zip', 'https://a.blob.core.windows.net/c'),
    ).toBeNull();
    expect(blobInContainer('1', 'https://a.blob.core.windows.net/c')).toBeNull();
  });
});

describe('isStableBlobName', () => {
  it('accepts every name runpack writes as a stable blob, also the alternates after a swap', () => {
    for (const slot of [null, 'staging', 'blue-2']) {
      const preferred = stableBlobName('Shop', slot);
      expect(isStableBlobName(preferred, 'Shop')).toBe(true);
      const used = new Set([preferred]);
      const alternate = chooseStableBlob(preferred, null, used);
      expect(alternate).not.toBe(preferred);
      expect(isStableBlobName(alternate, 'shop')).toBe(true);
      const third = chooseStableBlob(
        preferred,
        null,
        new Set([preferred, alternate, 'shop-a.zip', 'shop-b.zip']),
      );
      expect(isStableBlobName(third, 'shop')).toBe(true);
    }
  });

  it('picks the same alternate for the same names (pure), past the first 26 letters too', () => {
    const used = new Set(['web.zip', ...'abcdefghijklmnopqrstuvwxyz'.split('').map((c) => `web-${c}.zip`)]);
    expect(chooseStableBlob('web.zip', null, used)).toBe('web-26.zip');
    expect(chooseStableBlob('web.zip', null, used)).toBe('web-26.zip');
  });

  it('refuses release blobs, other apps, folders and non-zip names', () => {
    expect(isStableBlobName('releases/shop/' + 'a'.repeat(64) + '.zip', 'shop')).toBe(false);
    expect(isStableBlobName('cart.zip', 'shop')).toBe(false);
    expect(isStableBlobName('shopping.zip', 'shop')).toBe(false);
    expect(isStableBlobName('other/shop.zip', 'shop')).toBe(false);
    expect(isStableBlobName('shop.tar', 'shop')).toBe(false);
    expect(isStableBlobName('shop-.zip', 'shop')).toBe(false);
    expect(isStableBlobName('', 'shop')).toBe(false);
  });
});
