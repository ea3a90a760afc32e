/**
 * What Azure DevOps gives a pipeline job for workload identity federation (API-SPEC §5.3): `POST
 * <SYSTEM_OIDCREQUESTURI>?api-version=7.1&serviceConnectionId=<id>` with `Authorization: Bearer <job access
 * token>` answers `{"oidcToken":"<jwt>"}` for a service connection the job may use. The token's issuer is either
 * the Azure DevOps issuer (`https://vstoken.dev.azure.com/<organization id>`, subject
 * `sc://<org>/<project>/<connection>`) or the Entra issuer (`<authority>/<tenant>/v2.0`, subject
 * `/eid1/c/pub/t/<tenant>/a/<app>/sc/<organization id>/<connection id>`), as the connection says; the audience is
 * `api://AzureADTokenExchange`. Anything else answers as Azure DevOps does: 401 for a bad job token, 404 for a
 * connection the project does not have.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, readBody, requestUrl, sendJson } from './core-http.js';
import { newSigningKey, signJwt, type SigningKey } from './jwt.js';
import type { Clock } from './model.js';

export const AZDO_OIDC_PREFIX = '/_azdo/';
export const AZDO_AUDIENCE = 'api://AzureADTokenExchange';

export interface ServiceConnectionConfig {
  id: string;
  name: string;
  /** Which issuer the connection's tokens carry (default: the Azure DevOps issuer). */
  issuer?: 'azure-devops' | 'entra';
}

export interface AzdoOptions {
  clock: Clock;
  organization: string;
  organizationId: string;
  project: string;
  projectId: string;
  tenantId: string;
  /** The app registration the connections use (the Entra-issuer subject names it). */
  clientId: string;
  /** The Entra authority (for the Entra issuer), known once the listener is up. */
  authorityUrl: () => string;
  connections: ServiceConnectionConfig[];
}

export interface Azdo {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** `SYSTEM_OIDCREQUESTURI` of the emulated job (without the query). */
  oidcRequestUri(base: string): string;
  /** The job access token (System.AccessToken) the agent hands the task. */
  accessToken: string;
  /** A new job access token, e.g. one that may use only `connectionIds`. */
  mintAccessToken(connectionIds?: string[]): string;
  /** The issuer and subject a connection's tokens carry (what its federated credential must match). */
  claimsFor(connectionId: string): { iss: string; sub: string } | null;
  signingKey: SigningKey;
  /** Every issuer this emulated organization signs for. */
  issuers(): string[];
}

export function createAzdo(opts: AzdoOptions): Azdo {
  const key = newSigningKey();
  const planId = randomUUID();
  const jobId = randomUUID();
  const path = `${AZDO_OIDC_PREFIX}${opts.organization}/${opts.projectId}/_apis/distributedtask/hubs/build/plans/${planId}/jobs/${jobId}/oidctoken`;
  const tokens = new Map<string, string[] | null>();

  const mintAccessToken = (connectionIds?: string[]): string => {
    const t = randomBytes(32).toString('base64url');
    tokens.set(t, connectionIds ?? null);
    return t;
  };
  const accessToken = mintAccessToken();
  const azdoIssuer = `https://vstoken.dev.azure.com/${opts.organizationId}`;
  const entraIssuer = () => `${opts.authorityUrl()}/${opts.tenantId}/v2.0`;

  const claimsFor = (connectionId: string): { iss: string; sub: string } | null => {
    const c = opts.connections.find((x) => x.id.toLowerCase() === connectionId.toLowerCase());
    if (!c) return null;
    if (c.issuer === 'entra')
      return {
        iss: entraIssuer(),
        sub: `/eid1/c/pub/t/${Buffer.from(opts.tenantId).toString('base64url')}/a/${Buffer.from(opts.clientId).toString('base64url')}/sc/${opts.organizationId}/${c.id}`,
      };
    return { iss: azdoIssuer, sub: `sc://${opts.organization}/${opts.project}/${c.name}` };
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await readBody(req).catch(() => undefined);
    const url = requestUrl(req);
    if (url.pathname !== path || req.method !== 'POST') return sendJson(res, 404, { message: 'Not Found' });
    const t = bearerToken(req);
    if (!t || !tokens.has(t)) {
      res.writeHead(401, { 'content-type': 'text/html', 'x-vss-e2eid': randomUUID() });
      res.end(
        '<html><body>Access Denied: The Personal Access Token used has expired or is invalid.</body></html>',
      );
      return;
    }
    if (url.searchParams.get('api-version') === null)
      return sendJson(res, 400, {
        message: 'No api-version was supplied for the POST request.',
        typeKey: 'VssRequestException',
      });
    const connectionId = url.searchParams.get('serviceConnectionId') ?? '';
    const allowed = tokens.get(t);
    const claims = claimsFor(connectionId);
    if (!claims || (allowed && !allowed.includes(connectionId)))
      return sendJson(res, 404, {
        message: `Service connection ${connectionId} was not found or the job is not authorized to use it.`,
        typeKey: 'ServiceEndpointNotFoundException',
      });
    const now = Math.floor(opts.clock.now().getTime() / 1000);
    const oidcToken = signJwt(
      { jti: randomUUID(), ...claims, aud: AZDO_AUDIENCE, nbf: now - 5, iat: now, exp: now + 600 },
      key,
    );
    sendJson(res, 200, { oidcToken });
  }

  return {
    handle,
    oidcRequestUri: (base) => `${base}${path}`,
    accessToken,
    mintAccessToken,
    claimsFor,
    signingKey: key,
    issuers: () => [azdoIssuer, entraIssuer()],
  };
}
