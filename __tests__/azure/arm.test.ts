import { describe, expect, it } from '@jest/globals';
import { armFailure, createArmClient } from '../../src/azure/arm.js';
import type { HttpClient, HttpRequestOptions, HttpResponse } from '../../src/azure/http.js';

function response(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  const buf = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return {
    status,
    headers,
    body: buf,
    text: () => buf.toString(),
    json: <T>() => JSON.parse(buf.toString()) as T,
  };
}

function fake(answers: ((o: HttpRequestOptions) => HttpResponse)[]) {
  const seen: HttpRequestOptions[] = [];
  const http: HttpClient = {
    request: async (o) => {
      seen.push(o);
      const next = answers.shift();
      if (!next) throw new Error(`unexpected ${o.method} ${o.url}`);
      return next(o);
    },
  };
  return { http, seen };
}

const ref = { subscriptionId: 's1', resourceGroup: 'rg', appName: 'web', slot: 'staging' };

describe('armFailure', () => {
  it('reads both error envelopes and says what to fix', () => {
    const a = armFailure(
      response(403, { error: { code: 'AuthorizationFailed', message: 'no access' } }),
      'list app settings',
      'web',
    );
    expect(a.code).toBe('forbidden');
    expect(a.message).toMatch(/AuthorizationFailed: no access.*Website Contributor/);
    const b = armFailure(response(409, { Code: 'Conflict', Message: 'busy' }), 'restart the app', 'web');
    expect(b.message).toMatch(/409.*Conflict: busy/);
    expect(armFailure(response(404, ''), 'read the app', 'web').code).toBe('not-found');
  });
});

describe('createArmClient', () => {
  it('asks for a new token once when Resource Manager says the last one expired', async () => {
    const f = fake([
      () =>
        response(401, {
          error: {
            code: 'ExpiredAuthenticationToken',
            message: 'The access token expiry UTC time is earlier',
          },
        }),
      () => response(200, { properties: { A: '1' } }),
    ]);
    const asked: (boolean | undefined)[] = [];
    const arm = createArmClient({
      http: f.http,
      endpoint: 'https://arm.example/',
      authorization: async (o) => (asked.push(o?.refresh), o?.refresh ? 'Bearer new' : 'Bearer old'),
    });
    expect(await arm.listAppSettings(ref)).toEqual({ A: '1' });
    expect(await f.seen[0].authorization!()).toBe('Bearer old');
    expect(await f.seen[1].authorization!()).toBe('Bearer new');
    // Another 401 is the login's problem: said, not retried.
    const g = fake([() => response(401, { error: { code: 'InvalidAuthenticationToken', message: 'bad' } })]);
    const arm2 = createArmClient({
      http: g.http,
      endpoint: 'https://arm.example',
      authorization: async () => 'x',
    });
    await expect(arm2.listAppSettings(ref)).rejects.toThrow(/InvalidAuthenticationToken/);
    expect(g.seen).toHaveLength(1);
  });

  it('addresses slots, sends the token and returns app settings', async () => {
    const f = fake([() => response(200, { properties: { A: '1' } })]);
    const arm = createArmClient({
      http: f.http,
      endpoint: 'https://arm.example/',
      authorization: async () => 'Bearer t',
    });
    expect(await arm.listAppSettings(ref)).toEqual({ A: '1' });
    expect(f.seen[0].method).toBe('POST');
    expect(f.seen[0].url).toBe(
      'https://arm.example/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/web/slots/staging/config/appsettings/list?api-version=2024-11-01',
    );
    expect(await f.seen[0].authorization!()).toBe('Bearer t');
  });

  it('follows an asynchronous operation until it succeeds', async () => {
    const f = fake([
      () => response(202, '', { 'azure-asyncoperation': 'https://arm.example/op/1', 'retry-after': '1' }),
      () => response(200, { status: 'InProgress' }),
      () => response(200, { status: 'Succeeded' }),
    ]);
    const waits: number[] = [];
    const arm = createArmClient({
      http: f.http,
      endpoint: 'https://arm.example',
      authorization: async () => 'Bearer t',
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    await arm.restart(ref, { synchronous: true });
    expect(f.seen.map((s) => s.url)).toEqual([
      expect.stringContaining('/slots/staging/restart?api-version=2024-11-01&synchronous=true'),
      'https://arm.example/op/1',
      'https://arm.example/op/1',
    ]);
    expect(waits).toHaveLength(2);
  });

  it('finds the resource group of an app across pages', async () => {
    const f = fake([
      () =>
        response(200, {
          value: [
            { id: '/subscriptions/s1/resourceGroups/a/providers/Microsoft.Web/sites/other', name: 'other' },
          ],
          nextLink: 'https://arm.example/next',
        }),
      () =>
        response(200, {
          value: [
            {
              id: '/subscriptions/s1/resourceGroups/Found-RG/providers/Microsoft.Web/sites/Web',
              name: 'Web',
            },
          ],
        }),
    ]);
    const arm = createArmClient({
      http: f.http,
      endpoint: 'https://arm.example',
      authorization: async () => 'Bearer t',
    });
    expect(await arm.findSiteResourceGroup('s1', 'web')).toBe('Found-RG');
  });

  it('finds a storage account across pages, with its endpoint and access flags', async () => {
    const acct = (name: string, properties: unknown) => ({
      id: `/subscriptions/s1/resourceGroups/st-rg/providers/Microsoft.Storage/storageAccounts/${name}`,
      name,
      properties,
    });
    const f = fake([
      () => response(200, { value: [acct('other', {})], nextLink: 'https://arm.example/page2' }),
      () =>
        response(200, {
          value: [
            acct('Pkgs', {
              primaryEndpoints: { blob: 'https://pkgs.blob.core.windows.net/' },
              allowSharedKeyAccess: false,
              networkAcls: { defaultAction: 'Deny' },
            }),
          ],
        }),
      () => response(200, { value: [acct('other', {})] }),
    ]);
    const arm = createArmClient({
      http: f.http,
      endpoint: 'https://arm.example',
      authorization: async () => 'Bearer t',
    });
    expect(await arm.findStorageAccount('s1', 'pkgs')).toMatchObject({
      name: 'Pkgs',
      resourceGroup: 'st-rg',
      blobEndpoint: 'https://pkgs.blob.core.windows.net/',
      allowSharedKeyAccess: false,
      networkDefaultAction: 'Deny',
    });
    expect(f.seen[1].url).toBe('https://arm.example/page2');
    expect(await arm.findStorageAccount('s1', 'missing')).toBeNull();
  });

  it('removes the credentials embedded in scmUri', async () => {
    const f = fake([
      () =>
        response(200, {
          properties: {
            publishingUserName: '$web',
            publishingPassword: 'pw',
            scmUri: 'https://$web:pw@web.scm.example',
          },
        }),
    ]);
    const arm = createArmClient({
      http: f.http,
      endpoint: 'https://arm.example',
      authorization: async () => 'Bearer t',
    });
    expect(await arm.listPublishingCredentials(ref)).toEqual({
      userName: '$web',
      password: 'pw',
      scmUri: 'https://web.scm.example',
    });
  });
});
