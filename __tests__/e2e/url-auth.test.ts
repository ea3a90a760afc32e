/**
 * Login paths end to end: GitHub OIDC federation, an existing Azure CLI session (a fake az on PATH), and the
 * creds secret; and what the user reads when a login is misconfigured.
 */
import { describe, expect, it } from '@jest/globals';
import { type E2E, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

const deploy = (version: string) => ({
  'app-name': 'rp-linux-web',
  'storage-account': e.emu.storage.accountName,
  package: e.app(version),
  'health-path': '/healthz',
  expect: version,
});

describe('login', () => {
  it('uses GitHub OIDC federation with client-id and tenant-id', async () => {
    const r = await e.run(deploy('oidc1'), { auth: 'oidc' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Logged in with GitHub OIDC federation/);
    expect(r.outputs.verified).toBe('true');
  });

  it('uses an existing Azure CLI session when no OIDC inputs are given', async () => {
    const r = await e.run(deploy('az1'), { auth: 'az' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Logged in with the Azure CLI session/);
  });

  it('uses the creds secret', async () => {
    const r = await e.run(deploy('creds1'), { auth: 'creds' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Logged in with the creds service principal/);
  });

  it('explicit beats ambient: given creds win over an Azure CLI session on the machine', async () => {
    // An Azure CLI session is on PATH (the fake az); the creds given to the step must be what logs in.
    const r = await e.run(deploy('creds-over-az'), { auth: 'az', env: { INPUT_CREDS: e.creds() } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Logged in with the creds service principal/);
    expect(r.stdout).not.toMatch(/Azure CLI session/);
  });

  it('explains a missing id-token permission', async () => {
    const r = await e.run(deploy('x'), {
      auth: 'oidc',
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: '', ACTIONS_ID_TOKEN_REQUEST_TOKEN: '' },
    });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/::error::.*id-token: write/);
  });

  it('says why GitHub gave no OIDC token, whole and with its advice once', async () => {
    const r = await e.run(deploy('x'), {
      auth: 'oidc',
      env: { ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'not-a-request-token' },
    });
    expect(r.code).not.toBe(0);
    const error = r.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '';
    expect(error).toMatch(
      /^::error::Could not get the GitHub OIDC token \(.*401.*\); add 'permissions: id-token: write'/,
    );
    expect(error.match(/id-token: write/g)).toHaveLength(1);
    expect(error).not.toMatch(/check client-id, tenant-id/);
  });

  it('names the subject claim a federated credential would need', async () => {
    const other = e.emu.admin.mintOidcRequestToken({
      sub: 'repo:octo-org/octo-app:ref:refs/heads/feature-x',
    });
    const r = await e.run(deploy('x'), {
      auth: 'oidc',
      env: {
        ACTIONS_ID_TOKEN_REQUEST_URL: other.requestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: other.requestToken,
      },
    });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/::error::.*AADSTS70021.*repo:octo-org\/octo-app:ref:refs\/heads\/feature-x/);
  });

  it('explains a wrong client secret without printing it', async () => {
    const creds = JSON.stringify({ ...JSON.parse(e.creds()), clientSecret: 'wrong-secret-value-123' });
    const r = await e.run(deploy('x'), { auth: 'none', env: { INPUT_CREDS: creds } });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/::error::.*AADSTS7000215/);
    expect(r.everything).not.toContain('wrong-secret-value-123');
  });

  it('says how to log in when nothing is given', async () => {
    const r = await e.run(deploy('x'), { auth: 'none' });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/::error::No Azure login found/);
  });
});
