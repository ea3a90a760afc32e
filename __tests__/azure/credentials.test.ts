import { describe, expect, it } from '@jest/globals';
import type { AccessToken, TokenCredential } from '@azure/identity';
import {
  envIdToken,
  explainEntraError,
  maskingCredential,
  tokenProvider,
} from '../../src/azure/credentials.js';
import type { HttpClient, HttpRequestOptions, HttpResponse } from '../../src/azure/http.js';
import { endpointsFromMetadata } from '../../src/azure/cloud.js';
import { createSecretRegistry } from '../../src/report/secrets.js';

describe('explainEntraError', () => {
  it('prints the subject a federated credential would need', () => {
    const m = explainEntraError('AADSTS70021: No matching federated identity record found', 'oidc', {
      subject: 'repo:o/r:ref:refs/heads/main',
      clientId: 'c1',
    });
    expect(m).toMatch(/no federated credential.*client c1.*subject 'repo:o\/r:ref:refs\/heads\/main'/);
  });

  it('explains a bad secret, an unknown app and an unknown tenant', () => {
    expect(explainEntraError('AADSTS7000215: Invalid client secret provided.', 'creds', {})).toMatch(
      /client secret/,
    );
    expect(
      explainEntraError('AADSTS700016: Application with identifier', 'creds', { clientId: 'c' }),
    ).toMatch(/does not know application c/);
    expect(explainEntraError('AADSTS90002: Tenant not found', 'oidc', { tenantId: 't' })).toMatch(/tenant t/);
  });

  it('names the audience of an unknown resource and the endpoint to check (AADSTS500011)', () => {
    const m = explainEntraError(
      'AADSTS500011: The resource principal named https://management.core.chinacloudapi.cn was not found in the tenant named t.',
      'creds',
      { tenantId: 't' },
    );
    expect(m).toMatch(
      /no resource https:\/\/management\.core\.chinacloudapi\.cn in tenant t.*resource-manager-endpoint/,
    );
  });

  it('keeps the first line of anything else, without trace ids', () => {
    const m = explainEntraError('something odd\r\nTrace ID: 123', 'azure-cli', {});
    expect(m).toMatch(/^Login failed \(azure-cli\): something odd;/);
    expect(m).not.toContain('Trace ID');
  });
});

describe('tokenProvider', () => {
  it('caches tokens, refreshes them before expiry and masks each one', async () => {
    let t = 0;
    let n = 0;
    const cred: TokenCredential = {
      getToken: async (): Promise<AccessToken> => ({
        token: `tok-${++n}-xyz`,
        expiresOnTimestamp: t + 600_000,
      }),
    };
    const masked: string[] = [];
    const get = tokenProvider(
      cred,
      createSecretRegistry((v) => masked.push(v)),
      (m) => m,
      () => t,
    );
    expect(await get('s')).toBe('Bearer tok-1-xyz');
    t += 60_000;
    expect(await get('s')).toBe('Bearer tok-1-xyz');
    t += 420_000; // 2 minutes before expiry: refresh
    expect(await get('s')).toBe('Bearer tok-2-xyz');
    expect(masked).toContain('tok-1-xyz');
    expect(masked).toContain('tok-2-xyz');
  });

  it('refreshes short-lived tokens half-way through their life', async () => {
    let t = 0;
    let n = 0;
    const cred: TokenCredential = {
      getToken: async (): Promise<AccessToken> => ({ token: `short-${++n}`, expiresOnTimestamp: t + 10_000 }),
    };
    const get = tokenProvider(
      cred,
      createSecretRegistry(),
      (m) => m,
      () => t,
    );
    await get('s');
    t += 6000;
    expect(await get('s')).toBe('Bearer short-2');
  });

  it('turns a credential failure into a one-line auth error', async () => {
    const cred: TokenCredential = {
      getToken: async () => {
        throw new Error('AADSTS7000215: Invalid client secret provided.');
      },
    };
    const get = tokenProvider(cred, createSecretRegistry(), (m) => explainEntraError(m, 'creds', {}));
    await expect(get('s')).rejects.toMatchObject({ code: 'auth-failed' });
  });
});

describe('endpointsFromMetadata', () => {
  it('reads the public cloud', () => {
    const e = endpointsFromMetadata('https://management.azure.com/', {
      name: 'AzureCloud',
      resourceManager: 'https://management.azure.com/',
      authentication: {
        loginEndpoint: 'https://login.microsoftonline.com',
        audiences: ['https://management.core.windows.net/', 'https://management.azure.com/'],
      },
    });
    expect(e).toMatchObject({
      resourceManager: 'https://management.azure.com',
      authorityHost: 'https://login.microsoftonline.com',
      armScope: 'https://management.azure.com/.default',
      isPublicCloud: true,
    });
  });

  it('reads a sovereign cloud and turns instance discovery off', () => {
    const e = endpointsFromMetadata('https://management.chinacloudapi.cn', [
      {
        name: 'AzureChinaCloud',
        resourceManager: 'https://management.chinacloudapi.cn/',
        authentication: {
          loginEndpoint: 'https://login.chinacloudapi.cn/',
          audiences: ['https://management.core.chinacloudapi.cn/', 'https://management.chinacloudapi.cn'],
        },
      },
    ]);
    expect(e.authorityHost).toBe('https://login.chinacloudapi.cn');
    expect(e.armScope).toBe('https://management.chinacloudapi.cn/.default');
    expect(e.isPublicCloud).toBe(false);
  });

  it('fails clearly without a login endpoint', () => {
    expect(() => endpointsFromMetadata('https://x.example', {})).toThrow(/no login endpoint/);
  });
});

describe('maskingCredential', () => {
  it('registers every token it hands out, so a log line with it is redacted', async () => {
    const secrets = createSecretRegistry();
    let n = 0;
    const inner: TokenCredential = {
      getToken: async (): Promise<AccessToken> => ({ token: `storage-token-${++n}`, expiresOnTimestamp: 1 }),
    };
    const masked = maskingCredential(inner, secrets);
    const first = await masked.getToken('https://storage.azure.com/.default');
    const second = await masked.getToken('https://storage.azure.com/.default');
    expect(first?.token).toBe('storage-token-1');
    expect(secrets.redact(`got ${first?.token} and ${second?.token}`)).not.toMatch(/storage-token/);
  });
});

describe('envIdToken', () => {
  const httpAnswering = (status: number, body: unknown, seen: HttpRequestOptions[]): HttpClient =>
    ({
      request: async (req: HttpRequestOptions): Promise<HttpResponse> => {
        seen.push(req);
        const buf = Buffer.from(JSON.stringify(body));
        return {
          status,
          headers: {},
          body: buf,
          text: () => buf.toString('utf8'),
          json: <T>() => JSON.parse(buf.toString('utf8')) as T,
        } as unknown as HttpResponse;
      },
    }) as unknown as HttpClient;

  it('asks the runner endpoint for the audience with the request token', async () => {
    const seen: HttpRequestOptions[] = [];
    const get = envIdToken(
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: 'https://runner.test/idtoken?x=1',
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'rt',
      },
      httpAnswering(200, { value: 'jwt-value' }, seen),
    );
    await expect(get('api://AzureADTokenExchange')).resolves.toBe('jwt-value');
    const url = new URL(seen[0].url);
    expect(url.searchParams.get('audience')).toBe('api://AzureADTokenExchange');
    expect(url.searchParams.get('x')).toBe('1');
    expect(await seen[0].authorization?.()).toBe('Bearer rt');
  });

  it('says what is missing outside a job with id-token permission', async () => {
    await expect(envIdToken({}, httpAnswering(200, {}, []))('a')).rejects.toThrow(/id-token: write/);
    const env = {
      ACTIONS_ID_TOKEN_REQUEST_URL: 'https://runner.test/t',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'rt',
    };
    await expect(envIdToken(env, httpAnswering(403, {}, []))('a')).rejects.toThrow(/answered 403/);
  });
});
