import { describe, expect, it } from '@jest/globals';
import {
  connectionSecrets,
  explainConnectionError,
  readServiceConnection,
  type EndpointReader,
} from '../../src/azure/service-connection.js';
import { UsageError } from '../../src/util/errors.js';

const ID = '0c8f5e2a-0000-4000-8000-0000000000aa';

function reader(o: {
  url?: string;
  scheme?: string;
  auth?: Record<string, string>;
  data?: Record<string, string>;
}): EndpointReader {
  return {
    url: (id) => (id === ID ? o.url : undefined),
    scheme: (id) => (id === ID ? o.scheme : undefined),
    auth: (id, key) => (id === ID ? o.auth?.[key] : undefined),
    data: (id, key) => (id === ID ? o.data?.[key] : undefined),
  };
}

const SPN = { tenantid: 'tenant-1', serviceprincipalid: 'app-1' };

describe('readServiceConnection', () => {
  it('reads a workload identity federation connection with its cloud and subscription', () => {
    const c = readServiceConnection(
      ID,
      'azureSubscription',
      reader({
        url: 'https://management.azure.com/',
        scheme: 'WorkloadIdentityFederation',
        auth: SPN,
        data: { environment: 'AzureCloud', subscriptionId: 'sub-1' },
      }),
    );
    expect(c).toEqual({
      id: ID,
      scheme: 'WorkloadIdentityFederation',
      tenantId: 'tenant-1',
      clientId: 'app-1',
      subscriptionId: 'sub-1',
      environment: 'AzureCloud',
      resourceManagerUrl: 'https://management.azure.com',
    });
  });

  it('finds the Resource Manager of a named sovereign cloud when the connection has no URL', () => {
    const c = readServiceConnection(
      ID,
      'azureSubscription',
      reader({
        scheme: 'ServicePrincipal',
        auth: { ...SPN, serviceprincipalkey: 's3cret-value' },
        data: { environment: 'AzureUSGovernment' },
      }),
    );
    expect(c.resourceManagerUrl).toBe('https://management.usgovcloudapi.net');
    expect(c.authenticationType).toBe('spnKey');
    expect(connectionSecrets(c)).toEqual(['s3cret-value']);
  });

  it('takes a certificate connection only with its private key, and masks the key line by line', () => {
    const pem =
      '-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nAAAAAAAAAAAAAAAAAAAAAAAAline1\nBBBBBBBBBBBBBBBBBBBBBBBBline2\n-----END PRIVATE KEY-----\n';
    const c = readServiceConnection(
      ID,
      'azureSubscription',
      reader({
        url: 'https://management.azure.com',
        scheme: 'ServicePrincipal',
        auth: { ...SPN, authenticationType: 'spnCertificate', servicePrincipalCertificate: pem },
      }),
    );
    expect(c.authenticationType).toBe('spnCertificate');
    expect(connectionSecrets(c)).toEqual(['AAAAAAAAAAAAAAAAAAAAAAAAline1', 'BBBBBBBBBBBBBBBBBBBBBBBBline2']);
    expect(() =>
      readServiceConnection(
        ID,
        'azureSubscription',
        reader({
          url: 'https://management.azure.com',
          scheme: 'ServicePrincipal',
          auth: {
            ...SPN,
            authenticationType: 'spnCertificate',
            servicePrincipalCertificate: pem.split('-----BEGIN PRIVATE')[0],
          },
        }),
      ),
    ).toThrow(/certificate authentication but holds no PEM with the certificate and its private key/);
  });

  it('refuses, naming the connection, what cannot log in', () => {
    const cases: [Parameters<typeof reader>[0], RegExp][] = [
      [{}, /service connection .* \(input 'azureSubscription'\) is not available to this job/],
      [{ url: 'https://x', scheme: 'UsernamePassword', auth: SPN }, /uses the 'UsernamePassword' scheme/],
      [
        { url: 'https://x', scheme: 'ServicePrincipal', auth: SPN },
        /uses a service principal secret but holds none/,
      ],
      [
        { url: 'https://x', scheme: 'WorkloadIdentityFederation', auth: { tenantid: 't' } },
        /lacks its service principal id/,
      ],
      [
        { url: 'http://insecure', scheme: 'WorkloadIdentityFederation', auth: SPN },
        /has no https Resource Manager URL/,
      ],
      [
        { scheme: 'WorkloadIdentityFederation', auth: SPN, data: { environment: 'AzureStack' } },
        /environment 'AzureStack'/,
      ],
    ];
    for (const [r, message] of cases) {
      let err: unknown;
      try {
        readServiceConnection(ID, 'azureSubscription', reader(r));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toContain(ID);
    }
  });

  it('a managed identity connection needs no tenant or app', () => {
    const c = readServiceConnection(
      ID,
      'azureSubscription',
      reader({ url: 'https://management.azure.com', scheme: 'ManagedServiceIdentity' }),
    );
    expect(c.scheme).toBe('ManagedServiceIdentity');
  });
});

describe('explainConnectionError', () => {
  const conn = readServiceConnection(
    ID,
    'azureSubscription',
    reader({ url: 'https://management.azure.com', scheme: 'WorkloadIdentityFederation', auth: SPN }),
  );
  it('names the issuer and subject Entra saw when no federated credential matches', () => {
    const line = explainConnectionError(
      conn,
      "AADSTS700213: No matching federated identity record found for presented assertion subject 'sc://org/proj/conn'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. Trace ID: x",
    );
    expect(line).toMatch(
      /^Service connection .* \(WorkloadIdentityFederation\): Entra found no federated credential .*AADSTS700213.* on app app-1, add a federated credential with issuer '.*', subject 'sc:\/\/org\/proj\/conn'/,
    );
    expect(line).not.toContain('Trace ID');
  });

  it('explains the Azure DevOps side and the other AADSTS codes in one line each', () => {
    expect(
      explainConnectionError(
        conn,
        'AzurePipelinesCredential: Authentication Failed. oidcToken field not detected in the response. Response status- 401',
      ),
    ).toMatch(/Azure DevOps gave no OIDC token for the connection \(HTTP 401\)/);
    expect(explainConnectionError(conn, 'AADSTS7000215: Invalid client secret provided.')).toMatch(
      /rejected the client secret/,
    );
    expect(
      explainConnectionError(conn, 'AADSTS700027: Client assertion failed signature validation.'),
    ).toMatch(/does not accept the connection's certificate/);
    expect(explainConnectionError(conn, 'AADSTS90002: Tenant not found')).toMatch(
      /does not know tenant tenant-1/,
    );
    for (const m of ['AADSTS700016: x', 'something\nelse'])
      expect(explainConnectionError(conn, m)).not.toContain('\n');
  });
});
