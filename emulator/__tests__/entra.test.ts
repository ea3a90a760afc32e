import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AzurePipelinesCredential,
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
import { selfSignedClientCertificate } from '../src/tls.js';
import type { RunningEmulator } from '../src/index.js';
import { startTestEmulator, request } from './helpers/start.js';

let emu: RunningEmulator;

beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => {
  await emu?.stop();
});

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function githubToken(requestToken: string, audience = 'api://AzureADTokenExchange'): Promise<string> {
  const res = await request(`${emu.oidc.requestUrl}&audience=${encodeURIComponent(audience)}`, {
    headers: { Authorization: `Bearer ${requestToken}` },
  });
  expect(res.status).toBe(200);
  return (JSON.parse(res.body) as { value: string }).value;
}

async function tokenError(form: Record<string, string>, tenant = emu.tenantId) {
  const res = await request(`${emu.authorityHost}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return {
    status: res.status,
    json: JSON.parse(res.body) as { error: string; error_codes: number[]; error_description: string },
  };
}

describe('checklist 28: Entra token endpoint', () => {
  it('issues an ARM token to ClientSecretCredential (authorityHost = the emulator, instance discovery off)', async () => {
    const cred = new ClientSecretCredential(
      emu.tenantId,
      emu.servicePrincipal.clientId,
      emu.servicePrincipal.clientSecret,
      {
        authorityHost: emu.authorityHost,
        disableInstanceDiscovery: true,
      },
    );
    const t = await cred.getToken('https://management.azure.com/.default');
    const c = claimsOf(t.token);
    expect(c.aud).toBe('https://management.azure.com');
    expect(c.iss).toBe(`https://sts.windows.net/${emu.tenantId}/`);
    expect(c.tid).toBe(emu.tenantId);
    expect(c.appid).toBe(emu.servicePrincipal.clientId);
    expect((c.exp as number) - (c.iat as number)).toBe(3599);
    expect(emu.ctx.verifyToken(t.token)?.oid).toBe(c.oid);
  });

  it('maps the storage and legacy ARM scopes to their audiences', async () => {
    const cred = new ClientSecretCredential(
      emu.tenantId,
      emu.servicePrincipal.clientId,
      emu.servicePrincipal.clientSecret,
      {
        authorityHost: emu.authorityHost,
        disableInstanceDiscovery: true,
      },
    );
    expect(claimsOf((await cred.getToken('https://storage.azure.com/.default')).token).aud).toBe(
      'https://storage.azure.com',
    );
    expect(claimsOf((await cred.getToken('https://management.core.windows.net//.default')).token).aud).toBe(
      'https://management.core.windows.net/',
    );
  });

  it('answers the raw token response shape', async () => {
    const res = await request(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: emu.servicePrincipal.clientId,
        client_secret: emu.servicePrincipal.clientSecret,
        scope: 'https://management.azure.com/.default',
      }).toString(),
    });
    const json = JSON.parse(res.body) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(json).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
    expect(typeof json.access_token).toBe('string');
  });

  it('exchanges a GitHub OIDC token with ClientAssertionCredential (federated credential, exact sub)', async () => {
    const cred = new ClientAssertionCredential(
      emu.tenantId,
      emu.oidc.clientId,
      () => githubToken(emu.oidc.requestToken),
      { authorityHost: emu.authorityHost, disableInstanceDiscovery: true },
    );
    const t = await cred.getToken('https://management.azure.com/.default');
    expect(claimsOf(t.token).appid).toBe(emu.oidc.clientId);
  });

  it('AADSTS7000215 for a wrong secret, through the SDK and raw', async () => {
    const cred = new ClientSecretCredential(emu.tenantId, emu.servicePrincipal.clientId, 'wrong-secret', {
      authorityHost: emu.authorityHost,
      disableInstanceDiscovery: true,
    });
    await expect(cred.getToken('https://management.azure.com/.default')).rejects.toThrow(/AADSTS7000215/);
    const r = await tokenError({
      grant_type: 'client_credentials',
      client_id: emu.servicePrincipal.clientId,
      client_secret: 'nope',
      scope: 'https://management.azure.com/.default',
    });
    expect(r.status).toBe(401);
    expect(r.json.error).toBe('invalid_client');
    expect(r.json.error_codes).toEqual([7000215]);
    expect(r.json.error_description).toMatch(/^AADSTS7000215: /);
  });

  it('AADSTS700016 for an unknown client, 90002 for an unknown tenant, 500011 for an unknown resource, 70011 for a malformed scope', async () => {
    const base = { grant_type: 'client_credentials', client_secret: emu.servicePrincipal.clientSecret };
    const unknownApp = await tokenError({
      ...base,
      client_id: '99999999-9999-4999-8999-999999999999',
      scope: 'https://management.azure.com/.default',
    });
    expect(unknownApp.json.error_codes).toEqual([700016]);
    const unknownTenant = await tokenError(
      { ...base, client_id: emu.servicePrincipal.clientId, scope: 'https://management.azure.com/.default' },
      '00000000-0000-4000-8000-000000000bad',
    );
    expect(unknownTenant.json.error_codes).toEqual([90002]);
    const badScope = await tokenError({
      ...base,
      client_id: emu.servicePrincipal.clientId,
      scope: 'https://graph.example/.default',
    });
    expect(badScope.status).toBe(400);
    expect(badScope.json.error).toBe('invalid_resource');
    expect(badScope.json.error_codes).toEqual([500011]);
    expect(badScope.json.error_description).toMatch(
      /^AADSTS500011: The resource principal named https:\/\/graph\.example was not found in the tenant named /,
    );
    const malformed = await tokenError({
      ...base,
      client_id: emu.servicePrincipal.clientId,
      scope: 'not a scope',
    });
    expect(malformed.json.error).toBe('invalid_scope');
    expect(malformed.json.error_codes).toEqual([70011]);
  });

  it('serves the tenant discovery document, JWKS and MSAL instance discovery', async () => {
    const disc = JSON.parse(
      (await request(`${emu.authorityHost}/${emu.tenantId}/v2.0/.well-known/openid-configuration`)).body,
    ) as Record<string, string>;
    expect(disc.token_endpoint).toBe(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`);
    expect(disc.issuer).toBe(`${emu.authorityHost}/${emu.tenantId}/v2.0`);
    const keys = JSON.parse((await request(disc.jwks_uri!)).body) as { keys: { kty: string }[] };
    expect(keys.keys[0]!.kty).toBe('RSA');
    const inst = await request(
      `${emu.authorityHost}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/authorize`)}`,
    );
    expect(JSON.parse(inst.body)).toMatchObject({
      tenant_discovery_endpoint: `${emu.authorityHost}/${emu.tenantId}/v2.0/.well-known/openid-configuration`,
    });
  });

  it('access tokens follow the short-lifetime fault', async () => {
    emu.admin.addFaults('*', { tokenLifetimeSeconds: 60 });
    try {
      const r = await request(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: emu.servicePrincipal.clientId,
          client_secret: emu.servicePrincipal.clientSecret,
          scope: 'https://management.azure.com/.default',
        }).toString(),
      });
      const json = JSON.parse(r.body) as { expires_in: number; access_token: string };
      expect(json.expires_in).toBe(60);
      const c = claimsOf(json.access_token);
      expect((c.exp as number) - (c.iat as number)).toBe(60);
    } finally {
      emu.admin.clearFaults('*');
    }
  });
});

describe('checklist 29: GitHub OIDC endpoint and federated credentials', () => {
  it('returns {"value": jwt} with GitHub issuer, the requested audience and the configured subject', async () => {
    const jwt = await githubToken(emu.oidc.requestToken, 'api://AzureADTokenExchange');
    const c = claimsOf(jwt);
    expect(c.iss).toBe('https://token.actions.githubusercontent.com');
    expect(c.aud).toBe('api://AzureADTokenExchange');
    expect(c.sub).toBe('repo:octo-org/octo-app:ref:refs/heads/main');
    expect(c.repository).toBe('octo-org/octo-app');
  });

  it('rejects a missing or unknown request token', async () => {
    expect((await request(`${emu.oidc.requestUrl}&audience=x`)).status).toBe(401);
    expect(
      (await request(`${emu.oidc.requestUrl}&audience=x`, { headers: { Authorization: 'Bearer nope' } }))
        .status,
    ).toBe(401);
  });

  it('works with @actions/core getIDToken', async () => {
    const core = await import('@actions/core');
    const saved = {
      url: process.env.ACTIONS_ID_TOKEN_REQUEST_URL,
      token: process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN,
    };
    const env = emu.admin.mintOidcRequestToken({ sub: 'repo:octo-org/octo-app:environment:production' });
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = env.requestUrl;
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = env.requestToken;
    try {
      const jwt = await core.getIDToken('api://AzureADTokenExchange');
      expect(claimsOf(jwt)).toMatchObject({
        aud: 'api://AzureADTokenExchange',
        sub: 'repo:octo-org/octo-app:environment:production',
      });
    } finally {
      if (saved.url === undefined) delete process.env.ACTIONS_ID_TOKEN_REQUEST_URL;
      else process.env.ACTIONS_ID_TOKEN_REQUEST_URL = saved.url;
      if (saved.token === undefined) delete process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
      else process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = saved.token;
    }
  });

  it('AADSTS70021 when the subject has no federated credential (a pull_request token)', async () => {
    const { requestToken } = emu.admin.mintOidcRequestToken({ sub: 'repo:octo-org/octo-app:pull_request' });
    const r = await tokenError({
      grant_type: 'client_credentials',
      client_id: emu.oidc.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await githubToken(requestToken),
      scope: 'https://management.azure.com/.default',
    });
    expect(r.json.error_codes).toEqual([70021]);
    const cred = new ClientAssertionCredential(
      emu.tenantId,
      emu.oidc.clientId,
      () => githubToken(requestToken),
      {
        authorityHost: emu.authorityHost,
        disableInstanceDiscovery: true,
      },
    );
    await expect(cred.getToken('https://management.azure.com/.default')).rejects.toThrow(/AADSTS70021/);
  });

  it('AADSTS70021 for a wrong audience as well', async () => {
    const r = await tokenError({
      grant_type: 'client_credentials',
      client_id: emu.oidc.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await githubToken(emu.oidc.requestToken, 'https://github.com/octo-org'),
      scope: 'https://management.azure.com/.default',
    });
    expect(r.json.error_codes).toEqual([70021]);
  });

  it('AADSTS700024 when the GitHub token expired (clock advanced past its lifetime)', async () => {
    const assertion = await githubToken(emu.oidc.requestToken);
    emu.admin.advanceClock(10 * 60 * 1000);
    try {
      const r = await tokenError({
        grant_type: 'client_credentials',
        client_id: emu.oidc.clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
        scope: 'https://management.azure.com/.default',
      });
      expect(r.status).toBe(400);
      expect(r.json.error_codes).toEqual([700024]);
    } finally {
      emu.admin.reset();
    }
  });
});

describe('Azure Pipelines workload identity federation and certificate credentials', () => {
  const saved = process.env.SYSTEM_OIDCREQUESTURI;
  afterAll(() => {
    if (saved === undefined) delete process.env.SYSTEM_OIDCREQUESTURI;
    else process.env.SYSTEM_OIDCREQUESTURI = saved;
  });
  const options = () => ({ authorityHost: emu.authorityHost, disableInstanceDiscovery: true });
  const connection = (name: string) => {
    const c = emu.azurePipelines?.connections.find((x) => x.name === name);
    if (!c) throw new Error(`no connection ${name}`);
    return c;
  };

  it('AzurePipelinesCredential: the job OIDC token (Azure DevOps issuer) is exchanged for an ARM token', async () => {
    process.env.SYSTEM_OIDCREQUESTURI = emu.azurePipelines!.oidcRequestUri;
    const c = connection('runpack-emulator');
    expect(c.iss).toBe(`https://vstoken.dev.azure.com/${emu.azurePipelines!.organizationId}`);
    expect(c.sub).toBe('sc://fabrikam/runpack/runpack-emulator');
    const cred = new AzurePipelinesCredential(
      emu.tenantId,
      emu.servicePrincipal.clientId,
      c.id,
      emu.azurePipelines!.accessToken,
      options(),
    );
    const t = await cred.getToken('https://management.azure.com/.default');
    expect(claimsOf(t.token).appid).toBe(emu.servicePrincipal.clientId);
  });

  it('the Entra issuer form works too, and the token itself carries the documented claims', async () => {
    const c = connection('runpack-entra-issuer');
    const res = await request(
      `${emu.azurePipelines!.oidcRequestUri}?api-version=7.1&serviceConnectionId=${c.id}`,
      { method: 'POST', headers: { Authorization: `Bearer ${emu.azurePipelines!.accessToken}` } },
    );
    expect(res.status).toBe(200);
    const claims = claimsOf((JSON.parse(res.body) as { oidcToken: string }).oidcToken);
    expect(claims).toMatchObject({
      iss: `${emu.authorityHost}/${emu.tenantId}/v2.0`,
      aud: 'api://AzureADTokenExchange',
    });
    expect(String(claims.sub)).toMatch(
      new RegExp(`^/eid1/c/pub/t/.+/a/.+/sc/${emu.azurePipelines!.organizationId}/${c.id}$`),
    );
    process.env.SYSTEM_OIDCREQUESTURI = emu.azurePipelines!.oidcRequestUri;
    const cred = new AzurePipelinesCredential(
      emu.tenantId,
      emu.servicePrincipal.clientId,
      c.id,
      emu.azurePipelines!.accessToken,
      options(),
    );
    await expect(cred.getToken('https://management.azure.com/.default')).resolves.toBeTruthy();
  });

  it('refuses a bad job token (401) and a connection without a federated credential (AADSTS70021 naming the subject)', async () => {
    const c = connection('untrusted-connection');
    const bad = await request(
      `${emu.azurePipelines!.oidcRequestUri}?api-version=7.1&serviceConnectionId=${c.id}`,
      {
        method: 'POST',
        headers: { Authorization: 'Bearer not-a-job-token' },
      },
    );
    expect(bad.status).toBe(401);
    process.env.SYSTEM_OIDCREQUESTURI = emu.azurePipelines!.oidcRequestUri;
    const cred = new AzurePipelinesCredential(
      emu.tenantId,
      emu.servicePrincipal.clientId,
      c.id,
      emu.azurePipelines!.accessToken,
      options(),
    );
    const err = await cred.getToken('https://management.azure.com/.default').catch((e: Error) => e);
    expect(String(err)).toMatch(/AADSTS70021.*sc:\/\/fabrikam\/runpack\/untrusted-connection/s);
  });

  it('ClientCertificateCredential with the certificate credential (certificate and key PEM); another key is refused', async () => {
    const cred = new ClientCertificateCredential(
      emu.tenantId,
      emu.servicePrincipal.clientId,
      { certificate: emu.servicePrincipal.certificatePem },
      options(),
    );
    const t = await cred.getToken('https://management.azure.com/.default');
    expect(claimsOf(t.token).appid).toBe(emu.servicePrincipal.clientId);
    const other = selfSignedClientCertificate('someone else');
    const wrong = new ClientCertificateCredential(
      emu.tenantId,
      emu.servicePrincipal.clientId,
      { certificate: `${other.certPem}${other.keyPem}` },
      options(),
    );
    const err = await wrong.getToken('https://management.azure.com/.default').catch((e: Error) => e);
    expect(String(err)).toMatch(/AADSTS700027/);
  });
});

describe('IMDS: the managed identity of an Azure VM agent', () => {
  const saved = process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
  afterAll(() => {
    if (saved === undefined) delete process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
    else process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = saved;
  });

  it('ManagedIdentityCredential gets the VM identity an ARM token through AZURE_POD_IDENTITY_AUTHORITY_HOST', async () => {
    process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = emu.agentVmIdentity!.imdsHost;
    const t = await new ManagedIdentityCredential().getToken('https://management.azure.com/.default');
    const c = claimsOf(t.token);
    expect(c).toMatchObject({
      aud: 'https://management.azure.com',
      appid: emu.agentVmIdentity!.clientId,
      oid: emu.agentVmIdentity!.objectId,
    });
    expect(emu.ctx.verifyToken(t.token)).not.toBeNull();
  });

  it('answers as IMDS does without the Metadata header, and for an identity the VM does not have', async () => {
    const base = `${emu.agentVmIdentity!.imdsHost}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent('https://management.azure.com/')}`;
    const noHeader = await request(base);
    expect(noHeader.status).toBe(400);
    expect(JSON.parse(noHeader.body)).toMatchObject({
      error: 'invalid_request',
      error_description: 'Required metadata header not specified',
    });
    const other = await request(`${base}&client_id=44444444-4444-4444-8444-444444444444`, {
      headers: { Metadata: 'true' },
    });
    expect(other.status).toBe(400);
    const ok = await request(base, { headers: { Metadata: 'true' } });
    expect(ok.status).toBe(200);
    const body = JSON.parse(ok.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      token_type: 'Bearer',
      resource: 'https://management.azure.com/',
      client_id: emu.agentVmIdentity!.clientId,
    });
    expect(typeof body.expires_on).toBe('string');
  });
});
