import { describe, expect, it } from '@jest/globals';
import { targetFromSite } from '../../src/deploy/target.js';
import { scopeCovers } from '../../src/azure/roles.js';
import { releaseMetadata } from '../../src/deploy/upload.js';
import { storageErrorOf } from '../../src/deploy/verify.js';
import type { HttpResponse } from '../../src/azure/http.js';
import type { PackageInfo } from '../../src/deploy/types.js';

describe('targetFromSite', () => {
  it('takes the SCM host from hostNameSslStates, never from the app name', () => {
    const t = targetFromSite(
      { subscriptionId: 's', resourceGroup: 'rg', appName: 'web' },
      {
        id: '/x/sites/web',
        name: 'web',
        kind: 'functionapp,linux',
        identity: {
          type: 'SystemAssigned, UserAssigned',
          principalId: 'sys',
          userAssignedIdentities: { '/ids/u1': { principalId: 'p1', clientId: 'c1' } },
        },
        properties: {
          defaultHostName: 'web.azurewebsites.net',
          hostNameSslStates: [
            { name: 'web.azurewebsites.net', hostType: 'Standard' },
            { name: 'web-a1b2.scm.westeurope-01.azurewebsites.net', hostType: 'Repository' },
          ],
          reserved: true,
          sku: 'Dynamic',
          state: 'Running',
        },
      },
      { linuxFxVersion: 'NODE|20' },
    );
    expect(t).toMatchObject({
      scmHostName: 'web-a1b2.scm.westeurope-01.azurewebsites.net',
      appUrl: 'https://web.azurewebsites.net',
      isLinux: true,
      isFunctionApp: true,
      isConsumption: true,
      isFlex: false,
      linuxFxVersion: 'NODE|20',
      identity: {
        systemPrincipalId: 'sys',
        userAssigned: [{ resourceId: '/ids/u1', principalId: 'p1', clientId: 'c1' }],
      },
    });
  });

  it('recognises Flex Consumption by functionAppConfig', () => {
    const t = targetFromSite(
      { subscriptionId: 's', resourceGroup: 'rg', appName: 'f' },
      { id: 'i', name: 'f', kind: 'functionapp,linux', properties: { functionAppConfig: { runtime: {} } } },
    );
    expect(t.isFlex).toBe(true);
    expect(t.scmHostName).toBeNull();
  });
});

describe('releaseMetadata', () => {
  it('records content, commit and run without non-ASCII characters', () => {
    const pkg = {
      sha256: 'f'.repeat(64),
      releaseId: 'ffffffffffff',
      stamp: { runpack: 1, contentSha256: 'c'.repeat(64) },
    } as PackageInfo;
    const m = releaseMetadata(pkg, {
      commit: 'abc',
      runUrl: 'https://github.com/o/r/actions/runs/1',
      version: '0.1.0',
      now: new Date('2025-01-01T00:00:00Z'),
    });
    expect(m).toEqual({
      sha256: 'f'.repeat(64),
      release_id: 'ffffffffffff',
      content_sha256: 'c'.repeat(64),
      created: '2025-01-01T00:00:00.000Z',
      runpack_version: '0.1.0',
      commit: 'abc',
      run_url: 'https://github.com/o/r/actions/runs/1',
    });
  });
});

describe('storageErrorOf', () => {
  it('reads the code and the authentication detail of a storage error', () => {
    const body = Buffer.from(
      '<?xml version="1.0"?><Error><Code>AuthenticationFailed</Code><Message>Server failed\nRequestId:1</Message><AuthenticationErrorDetail>Signature not valid in the specified time frame: Start [a] - Expiry [b] - Current [c]</AuthenticationErrorDetail></Error>',
    );
    const res: HttpResponse = {
      status: 403,
      headers: { 'x-ms-error-code': 'AuthenticationFailed' },
      body,
      text: () => body.toString(),
      json: () => null as never,
    };
    expect(storageErrorOf(res)).toEqual({
      code: 'AuthenticationFailed',
      detail: 'Signature not valid in the specified time frame: Start [a] - Expiry [b] - Current [c]',
    });
  });
});

describe('scopeCovers', () => {
  const account = '/subscriptions/s/resourceGroups/rg2/providers/Microsoft.Storage/storageAccounts/acct';
  it('accepts the resource and its parents only', () => {
    expect(scopeCovers('/subscriptions/s', account)).toBe(true);
    expect(scopeCovers('/subscriptions/s/resourceGroups/RG2', account)).toBe(true);
    expect(scopeCovers(account, account)).toBe(true);
    expect(scopeCovers('/subscriptions/s/resourceGroups/rg', account)).toBe(false);
    expect(scopeCovers('/subscriptions/s/resourceGroups/rg23', account)).toBe(false);
  });
});
