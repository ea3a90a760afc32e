/**
 * Login from an Azure Resource Manager service connection of Azure Pipelines (API-SPEC §5.3): each scheme an
 * AzureRM connection can have (workload identity federation, service principal with a secret or a certificate,
 * managed identity of the agent's VM) and its environment data (cloud, Resource Manager URL, subscription).
 * Reading the connection goes through an EndpointReader (azure-pipelines-task-lib in the task); the credential
 * is the official @azure/identity one for the scheme. Every failure names the connection and what to change in it.
 */
import {
  AzurePipelinesCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import type { SecretRegistry } from '../report/secrets.js';
import { RunpackError, UsageError } from '../util/errors.js';
import type { CloudEndpoints } from './cloud.js';
import { tokenProvider, type AuthSession } from './credentials.js';

/** What the agent tells a task about a service connection (azure-pipelines-task-lib's getEndpoint* calls). */
export interface EndpointReader {
  url(id: string): string | undefined;
  scheme(id: string): string | undefined;
  auth(id: string, key: string): string | undefined;
  data(id: string, key: string): string | undefined;
}

export type ConnectionScheme = 'WorkloadIdentityFederation' | 'ServicePrincipal' | 'ManagedServiceIdentity';

export interface ServiceConnection {
  id: string;
  scheme: ConnectionScheme;
  /** spnKey / spnCertificate for ServicePrincipal. */
  authenticationType?: 'spnKey' | 'spnCertificate';
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  certificatePem?: string;
  subscriptionId?: string;
  environment: string;
  /** The Resource Manager URL of the connection's cloud, without a trailing slash. */
  resourceManagerUrl: string;
}

/** Resource Manager of each named cloud, for connections that carry no URL. */
const CLOUD_ARM: Record<string, string> = {
  azurecloud: 'https://management.azure.com',
  azureusgovernment: 'https://management.usgovcloudapi.net',
  azurechinacloud: 'https://management.chinacloudapi.cn',
  azuregermancloud: 'https://management.microsoftazure.de',
};

const SCHEMES: ConnectionScheme[] = [
  'WorkloadIdentityFederation',
  'ServicePrincipal',
  'ManagedServiceIdentity',
];

/** Pure (given the reader): the connection's scheme, identity and cloud, or one line saying what is missing. */
export function readServiceConnection(id: string, input: string, r: EndpointReader): ServiceConnection {
  const where = `service connection ${id} (input '${input}')`;
  const rawScheme = r.scheme(id);
  if (!rawScheme)
    throw new UsageError(
      `The ${where} is not available to this job; check that '${input}' names an Azure Resource Manager service connection the pipeline is authorized to use.`,
    );
  const scheme = SCHEMES.find((s) => s.toLowerCase() === rawScheme.toLowerCase());
  if (!scheme)
    throw new UsageError(
      `The ${where} uses the '${rawScheme}' scheme; runpack logs in with WorkloadIdentityFederation, ServicePrincipal or ManagedServiceIdentity connections of type Azure Resource Manager.`,
    );
  const environment = r.data(id, 'environment') || 'AzureCloud';
  const url = (r.url(id) || CLOUD_ARM[environment.toLowerCase()] || '').replace(/\/+$/, '');
  if (!/^https:\/\//i.test(url))
    throw new UsageError(
      `The ${where} has no https Resource Manager URL for environment '${environment}'; edit the connection (Azure Stack and other clouds need their Resource Manager URL).`,
    );
  const conn: ServiceConnection = {
    id,
    scheme,
    tenantId: r.auth(id, 'tenantid') || undefined,
    clientId: r.auth(id, 'serviceprincipalid') || undefined,
    subscriptionId: r.data(id, 'subscriptionId') || undefined,
    environment,
    resourceManagerUrl: url,
  };
  if (scheme === 'ManagedServiceIdentity') return conn;
  if (!conn.tenantId || !conn.clientId)
    throw new UsageError(
      `The ${where} lacks its ${!conn.tenantId ? 'tenant id' : 'service principal id'}; edit the connection and save it again.`,
    );
  if (scheme === 'ServicePrincipal') {
    const type = (r.auth(id, 'authenticationType') || 'spnKey').toLowerCase();
    if (type === 'spncertificate') {
      conn.authenticationType = 'spnCertificate';
      conn.certificatePem = r.auth(id, 'servicePrincipalCertificate') || undefined;
      if (!conn.certificatePem || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(conn.certificatePem))
        throw new UsageError(
          `The ${where} uses certificate authentication but holds no PEM with the certificate and its private key; upload the PEM file to the connection again.`,
        );
    } else {
      conn.authenticationType = 'spnKey';
      conn.clientSecret = r.auth(id, 'serviceprincipalkey') || undefined;
      if (!conn.clientSecret)
        throw new UsageError(
          `The ${where} uses a service principal secret but holds none; set the secret on the connection, or convert it to workload identity federation.`,
        );
    }
  }
  return conn;
}

/** Explains an Entra or Azure DevOps failure of the connection's login in one line. */
export function explainConnectionError(conn: ServiceConnection, message: string): string {
  const where = `Service connection ${conn.id} (${conn.scheme})`;
  const code = /AADSTS(\d+)/.exec(message)?.[1];
  const subject = /subject:?\s*'([^']+)'/i.exec(message)?.[1];
  const issuer = /issuer:?\s*'([^']+)'/i.exec(message)?.[1];
  switch (code) {
    case '70021':
    case '700211':
    case '700212':
    case '700213':
      return `${where}: Entra found no federated credential for this connection (AADSTS${code}); on app ${conn.clientId}, add a federated credential with issuer '${issuer ?? 'https://vstoken.dev.azure.com/<organization id>'}', subject '${subject ?? 'sc://<organization>/<project>/<connection>'}' and audience api://AzureADTokenExchange (the connection's page shows both values).`;
    case '7000215':
    case '7000222':
      return `${where}: Entra rejected the client secret of app ${conn.clientId} (AADSTS${code}); create a new secret and update the connection, or convert it to workload identity federation.`;
    case '700027':
      return `${where}: Entra does not accept the connection's certificate for app ${conn.clientId} (AADSTS700027); upload the certificate's public part to the app registration, or update the PEM on the connection.`;
    case '700016':
      return `${where}: Entra does not know app ${conn.clientId} in tenant ${conn.tenantId} (AADSTS700016); check the connection's service principal id and tenant.`;
    case '90002':
      return `${where}: Entra does not know tenant ${conn.tenantId} (AADSTS90002); check the connection's tenant id.`;
    case '700024':
      return `${where}: Entra says the pipeline's OIDC token is expired or not yet valid (AADSTS700024); rerun the job.`;
  }
  if (/oidcToken field not detected|Received null token from OIDC request/i.test(message)) {
    const status = /"status":\s*(\d{3})|Response status- (\d{3})/.exec(message);
    return `${where}: Azure DevOps gave no OIDC token for the connection${status ? ` (HTTP ${status[1] ?? status[2]})` : ''}; check that the pipeline is authorized to use the connection and that the job's access token is available (System.AccessToken).`;
  }
  if (/SYSTEM_OIDCREQUESTURI/.test(message))
    return `${where}: SYSTEM_OIDCREQUESTURI is not set; workload identity federation works only inside an Azure Pipelines job (agent 3.227 or later).`;
  if (conn.scheme === 'ManagedServiceIdentity')
    return `${where}: the agent's managed identity gave no token (${message.split(/\r?\n/)[0].slice(0, 200)}); run the job on an Azure VM agent whose identity has a role on the app, or use another connection type.`;
  return `${where}: login failed (${message
    .split(/\r?\n/)[0]
    .replace(/Trace ID:.*$/i, '')
    .trim()
    .slice(0, 300)}); check the connection's identity and tenant.`;
}

export interface ConnectionLoginDeps {
  secrets: SecretRegistry;
  /** The job access token (System.AccessToken), for workload identity federation. */
  systemAccessToken?: string;
  now?: () => number;
}

/** The @azure/identity credential for the connection's scheme. */
export function connectionCredential(
  conn: ServiceConnection,
  cloud: CloudEndpoints,
  deps: ConnectionLoginDeps,
): TokenCredential {
  const options = { authorityHost: cloud.authorityHost, disableInstanceDiscovery: !cloud.isPublicCloud };
  switch (conn.scheme) {
    case 'WorkloadIdentityFederation':
      if (!deps.systemAccessToken)
        throw new RunpackError(
          'auth-failed',
          `Service connection ${conn.id} (WorkloadIdentityFederation): the job's access token is not available to the task; the agent passes it to every task, so check that the job runs on an Azure Pipelines agent.`,
        );
      return new AzurePipelinesCredential(
        conn.tenantId!,
        conn.clientId!,
        conn.id,
        deps.systemAccessToken,
        options,
      );
    case 'ServicePrincipal':
      return conn.authenticationType === 'spnCertificate'
        ? new ClientCertificateCredential(
            conn.tenantId!,
            conn.clientId!,
            { certificate: conn.certificatePem! },
            options,
          )
        : new ClientSecretCredential(conn.tenantId!, conn.clientId!, conn.clientSecret!, options);
    case 'ManagedServiceIdentity':
      return conn.clientId ? new ManagedIdentityCredential(conn.clientId) : new ManagedIdentityCredential();
  }
}

/** The connection's secret values to mask: the client secret, and the certificate key line by line. */
export function connectionSecrets(conn: ServiceConnection): string[] {
  const out = conn.clientSecret ? [conn.clientSecret] : [];
  // A masked value must be one line, so the key of a certificate connection is masked line by line.
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----([\s\S]*?)-----END/.exec(conn.certificatePem ?? '')?.[1];
  for (const line of (key ?? '').split(/\r?\n/)) if (line.trim().length >= 16) out.push(line.trim());
  return out;
}

/** Logs in with the connection: the first Resource Manager token is fetched now, so a bad connection fails here. */
export async function connectionLogin(
  conn: ServiceConnection,
  cloud: CloudEndpoints,
  deps: ConnectionLoginDeps,
): Promise<AuthSession> {
  for (const secret of connectionSecrets(conn)) deps.secrets.add(secret);
  const credential = connectionCredential(conn, cloud, deps);
  const authorization = tokenProvider(
    credential,
    deps.secrets,
    (m) => explainConnectionError(conn, m),
    deps.now,
  );
  await authorization(cloud.armScope);
  const kind =
    conn.scheme === 'ServicePrincipal'
      ? conn.authenticationType === 'spnCertificate'
        ? 'service principal with a certificate'
        : 'service principal with a secret'
      : conn.scheme === 'WorkloadIdentityFederation'
        ? 'workload identity federation'
        : "the agent's managed identity";
  return {
    method: 'service-connection',
    description: `Logged in with service connection ${conn.id} (${kind}${conn.clientId ? `, app ${conn.clientId}` : ''}${conn.tenantId ? ` in tenant ${conn.tenantId}` : ''}, ${conn.environment}).`,
    subscriptionId: conn.subscriptionId,
    tenantId: conn.tenantId,
    authorization,
    credential,
  };
}
