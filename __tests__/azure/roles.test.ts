import { describe, expect, it } from '@jest/globals';
import { grantsBlobRead, scopeCovers } from '../../src/azure/roles.js';

const READER =
  '/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1';
const account = '/subscriptions/s/resourceGroups/rg2/providers/Microsoft.Storage/storageAccounts/pkgs';

describe('grantsBlobRead (the deploy engine and diagnose both use it)', () => {
  const at = (scope: string, roleDefinitionId = READER, principalId = 'p') => ({
    scope,
    roleDefinitionId,
    principalId,
  });

  it('a role on resource group rg does not cover an account in rg2 (the scope is compared segment by segment)', () => {
    expect(grantsBlobRead(at('/subscriptions/s/resourceGroups/rg'), 'p', account, 'app-packages')).toBe(
      false,
    );
    expect(scopeCovers('/subscriptions/s/resourceGroups/rg', account)).toBe(false);
  });

  it('covers the subscription, the resource group, the account and the container, not another container', () => {
    for (const scope of [
      '/subscriptions/s',
      '/subscriptions/s/resourceGroups/RG2',
      account,
      `${account}/blobServices/default/containers/app-packages`,
    ])
      expect({ scope, ok: grantsBlobRead(at(scope), 'p', account, 'app-packages') }).toEqual({
        scope,
        ok: true,
      });
    expect(
      grantsBlobRead(at(`${account}/blobServices/default/containers/other`), 'p', account, 'app-packages'),
    ).toBe(false);
  });

  it('needs a blob read role of that principal', () => {
    expect(
      grantsBlobRead(
        at(account, '/x/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7'),
        'p',
        account,
        'c',
      ),
    ).toBe(false);
    expect(grantsBlobRead(at(account, READER, 'someone-else'), 'p', account, 'c')).toBe(false);
  });
});
