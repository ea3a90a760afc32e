import { describe, expect, it } from '@jest/globals';
import { buildPolicySasUrl, decidePolicy, describeSas, policyIdFor } from '../../src/azure/sas.js';
import { RunpackError } from '../../src/util/errors.js';

const DAY = 86_400_000;
const now = new Date('2025-03-14T09:30:00Z');
const policy = (id: string, expiresInDays: number, permissions = 'r') => ({
  id,
  accessPolicy: {
    startsOn: new Date(now.getTime() - DAY),
    expiresOn: new Date(now.getTime() + expiresInDays * DAY),
    permissions,
  },
});

describe('decidePolicy', () => {
  it('creates the policy next to the others without touching them', () => {
    const other = policy('team-policy', 10, 'rl');
    const d = decidePolicy([other], 'runpack-web', now, 365, 'app-packages');
    expect(d.action).toBe('create');
    expect(d.identifiers[0]).toBe(other);
    expect(d.identifiers[1].id).toBe('runpack-web');
    expect(d.identifiers[1].accessPolicy?.permissions).toBe('r');
    expect(d.expiresOn.getTime()).toBe(now.getTime() + 365 * DAY);
  });

  it('keeps a policy with plenty of time left and renews one close to expiry', () => {
    expect(decidePolicy([policy('runpack-web', 300)], 'runpack-web', now, 365, 'c').action).toBe('keep');
    const renew = decidePolicy([policy('a', 5), policy('runpack-web', 20)], 'runpack-web', now, 365, 'c');
    expect(renew.action).toBe('renew');
    expect(renew.identifiers.map((s) => s.id)).toEqual(['a', 'runpack-web']);
    expect(decidePolicy([policy('runpack-web', -1)], 'runpack-web', now, 365, 'c').reason).toMatch(/expired/);
  });

  it('renews a policy that does not grant read', () => {
    expect(decidePolicy([policy('runpack-web', 300, 'w')], 'runpack-web', now, 365, 'c').action).toBe(
      'renew',
    );
  });

  it('fails clearly when the container already has 5 policies', () => {
    const five = ['a', 'b', 'c', 'd', 'e'].map((id) => policy(id, 100));
    let err: unknown;
    try {
      decidePolicy(five, 'runpack-web', now, 365, 'app-packages');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RunpackError);
    expect((err as RunpackError).code).toBe('sas-policy-full');
    expect((err as Error).message).toMatch(/app-packages.*5 stored access policies/);
  });
});

describe('buildPolicySasUrl', () => {
  const key = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
  it('builds a read SAS bound to the policy, HTTPS only, without its own expiry', () => {
    const url = buildPolicySasUrl(
      'https://acct.blob.core.windows.net/c/web.zip',
      'acct',
      key,
      'c',
      'web.zip',
      'runpack-web',
    );
    const q = new URL(url).searchParams;
    expect(q.get('si')).toBe('runpack-web');
    expect(q.get('sr')).toBe('b');
    expect(q.get('spr')).toBe('https');
    expect(q.get('se')).toBeNull();
    expect(q.get('sig')).toBeTruthy();
    expect(describeSas(url)).toMatchObject({ policy: 'runpack-web', isSas: true, userDelegation: false });
  });

  it('is deterministic, so an unchanged release does not change the setting', () => {
    const a = buildPolicySasUrl(
      'https://acct.blob.core.windows.net/c/web.zip',
      'acct',
      key,
      'c',
      'web.zip',
      'p',
    );
    const b = buildPolicySasUrl(
      'https://acct.blob.core.windows.net/c/web.zip',
      'acct',
      key,
      'c',
      'web.zip',
      'p',
    );
    expect(a).toBe(b);
  });

  it('derives policy ids from app and slot', () => {
    expect(policyIdFor('Web', 'staging')).toBe('runpack-web-staging');
  });
});
