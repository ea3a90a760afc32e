/**
 * Entra ID stand-in (API-SPEC §5.1): discovery, instance discovery, JWKS and the v2 token endpoint with the
 * client-secret and federated (GitHub OIDC client assertion) grants. Access tokens are v1-style RS256 JWTs
 * (iss `https://sts.windows.net/<tenant>/`), which Azurite's `--oauth basic` also accepts.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { readBody, requestUrl, sendJson } from './core-http.js';
import { decodeJwt, jwk, newSigningKey, signJwt, verifyJwtSignature, type SigningKey } from './jwt.js';
import type { Clock, TokenClaims } from './model.js';

export interface EntraPrincipal {
  clientId: string;
  clientSecret: string;
  objectId: string;
  displayName?: string;
  /** A certificate credential of the app registration (PEM): client assertions signed with its key are accepted. */
  certificatePem?: string;
}

export interface FederatedCredential {
  clientId: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface EntraOptions {
  tenantId: string;
  clock: Clock;
  /** The authority host URL, e.g. https://127.0.0.1:1234 (no trailing slash); known once the listener is up. */
  authorityUrl: () => string;
  principals: EntraPrincipal[];
  federatedCredentials: FederatedCredential[];
  /**
   * The external issuers whose tokens federated credentials may name (GitHub Actions, Azure DevOps): a federated
   * client assertion is checked against the key of its `iss`.
   */
  assertionIssuers: () => { issuer: string; publicKey: KeyObject }[];
  /** Access-token lifetime in seconds right now (3599 unless a fault shortens it). */
  tokenLifetimeSeconds: () => number;
}

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: 'invalid' | 'expired' };

export const ARM_AUDIENCES = [
  'https://management.azure.com',
  'https://management.azure.com/',
  'https://management.core.windows.net/',
  'https://management.core.windows.net',
];
export const STORAGE_AUDIENCE = 'https://storage.azure.com';

/** Map an OAuth2 v2 `.default` scope to the access token audience; null for an unsupported scope. */
export function audienceForScope(scope: string): string | null {
  const first = scope.trim().split(/\s+/)[0] ?? '';
  if (!first.endsWith('/.default')) return null;
  const resource = first.slice(0, -'/.default'.length);
  switch (resource) {
    case 'https://management.azure.com':
    case 'https://management.azure.com/':
      return 'https://management.azure.com';
    case 'https://management.core.windows.net/':
    case 'https://management.core.windows.net':
      return 'https://management.core.windows.net/';
    case 'https://storage.azure.com':
    case 'https://storage.azure.com/':
      return STORAGE_AUDIENCE;
    default:
      return null;
  }
}

export interface Entra {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Check signature, issuer and expiry (emulated clock). */
  checkToken(token: string): TokenCheck;
  verifyToken(token: string): TokenClaims | null;
  issueToken(p: {
    aud: string;
    oid: string;
    appid: string;
    lifetimeSeconds?: number;
    realTime?: boolean;
  }): string;
  issuer: string;
  signingKey: SigningKey;
}

const CLOCK_SKEW_S = 300;

/**
 * Why a certificate client assertion (iss = sub = the client id, signed with the app registration's certificate
 * key: RS256 with `x5t`, or PS256 with `x5t#S256`, as MSAL sends it) is refused; null when it is good.
 */
function certificateAssertionProblem(
  principal: EntraPrincipal,
  assertion: string,
  tokenEndpoint: string,
  now: number,
): { code: number; message: string } | null {
  const decoded = decodeJwt(assertion);
  if (!decoded) return { code: 50027, message: 'Invalid JWT token. The token is not in a valid format.' };
  if (!principal.certificatePem)
    return {
      code: 700027,
      message: `Client assertion failed signature validation. Trace: no certificate credential is registered for app '${principal.clientId}'.`,
    };
  const cert = new X509Certificate(principal.certificatePem);
  const x5t = decoded.header['x5t#S256'] ?? decoded.header.x5t;
  const der = cert.raw;
  const expected =
    decoded.header['x5t#S256'] !== undefined
      ? createHash('sha256').update(der).digest('base64url')
      : createHash('sha1').update(der).digest('base64url');
  if (x5t !== expected)
    return {
      code: 700027,
      message: `Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '${String(x5t)}'. Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${principal.clientId}'.]`,
    };
  const payload = verifyJwtSignature(assertion, cert.publicKey, ['RS256', 'PS256']);
  if (!payload) return { code: 700027, message: 'Client assertion failed signature validation.' };
  const exp = typeof payload.exp === 'number' ? payload.exp : 0;
  const nbf = typeof payload.nbf === 'number' ? payload.nbf : 0;
  if (exp <= now || nbf > now + CLOCK_SKEW_S)
    return { code: 700024, message: 'Client assertion is not within its valid time range.' };
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!aud.includes(tokenEndpoint))
    return {
      code: 700212,
      message: `No matching federated identity record found for presented assertion audience '${aud.map(String).join(',')}'.`,
    };
  return null;
}

export function createEntra(opts: EntraOptions): Entra {
  const key = newSigningKey();
  const issuer = `https://sts.windows.net/${opts.tenantId}/`;

  function issueToken(p: {
    aud: string;
    oid: string;
    appid: string;
    lifetimeSeconds?: number;
    realTime?: boolean;
  }): string {
    const nowMs = p.realTime ? Date.now() : opts.clock.now().getTime();
    const now = Math.floor(nowMs / 1000);
    const lifetime = p.lifetimeSeconds ?? opts.tokenLifetimeSeconds();
    return signJwt(
      {
        aud: p.aud,
        iss: issuer,
        iat: now,
        nbf: now,
        exp: now + lifetime,
        appid: p.appid,
        appidacr: '1',
        idp: issuer,
        oid: p.oid,
        sub: p.oid,
        tid: opts.tenantId,
        uti: randomUUID().replace(/-/g, ''),
        ver: '1.0',
      },
      key,
    );
  }

  function checkToken(token: string): TokenCheck {
    const payload = verifyJwtSignature(token, key.publicKey);
    if (
      !payload ||
      payload.iss !== issuer ||
      typeof payload.exp !== 'number' ||
      typeof payload.aud !== 'string'
    )
      return { ok: false, reason: 'invalid' };
    const now = opts.clock.now().getTime() / 1000;
    if (typeof payload.nbf === 'number' && payload.nbf > now + CLOCK_SKEW_S)
      return { ok: false, reason: 'invalid' };
    if (payload.exp <= now) return { ok: false, reason: 'expired' };
    return { ok: true, claims: payload as TokenClaims };
  }

  function aadError(
    res: ServerResponse,
    status: number,
    error: string,
    code: number,
    description: string,
  ): void {
    const traceId = randomUUID();
    const correlationId = randomUUID();
    const ts = opts.clock
      .now()
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z');
    sendJson(res, status, {
      error,
      error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${ts}`,
      error_codes: [code],
      timestamp: ts,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `${opts.authorityUrl()}/error?code=${code}`,
    });
  }

  function tenantKnown(tenant: string): boolean {
    return tenant === opts.tenantId || tenant === 'organizations' || tenant === 'common';
  }

  function openidConfiguration(tenant: string): Record<string, unknown> {
    const base = opts.authorityUrl();
    const tid = opts.tenantId;
    return {
      token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/${tid}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${base}/oidc/userinfo`,
      authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid'],
      kerberos_endpoint: `${base}/${tenant}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: new URL(base).host,
      cloud_graph_host_name: 'graph.emulator.test',
      msgraph_host: 'graph.emulator.test',
      rbac_url: 'https://pas.emulator.test',
    };
  }

  async function token(tenant: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    if (!tenantKnown(tenant)) {
      return aadError(
        res,
        400,
        'invalid_request',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    const grant = form.get('grant_type');
    if (grant !== 'client_credentials') {
      return aadError(
        res,
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grant ?? ''}'.`,
      );
    }
    const clientId = form.get('client_id') ?? '';
    const principal = opts.principals.find((p) => p.clientId === clientId);
    if (!principal) {
      return aadError(
        res,
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${opts.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (secret !== principal.clientSecret) {
        return aadError(
          res,
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
        );
      }
    } else if (assertion !== null) {
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        return aadError(res, 400, 'invalid_request', 50027, 'Invalid client_assertion_type.');
      }
      const decoded = decodeJwt(assertion);
      if (decoded && decoded.payload.iss === clientId && decoded.payload.sub === clientId) {
        const problem = certificateAssertionProblem(
          principal,
          assertion,
          `${opts.authorityUrl()}/${tenant}/oauth2/v2.0/token`,
          Math.floor(opts.clock.now().getTime() / 1000),
        );
        if (problem) return aadError(res, 401, 'invalid_client', problem.code, problem.message);
        return issue(form, principal, res);
      }
      const signer = opts.assertionIssuers().find((i) => decoded && i.issuer === decoded.payload.iss);
      const payload = signer ? verifyJwtSignature(assertion, signer.publicKey) : null;
      if (!decoded || !payload) {
        return aadError(
          res,
          401,
          'invalid_client',
          50013,
          'Assertion failed signature validation. [Reason - The key was not found.]',
        );
      }
      const now = Math.floor(opts.clock.now().getTime() / 1000);
      const exp = typeof payload.exp === 'number' ? payload.exp : 0;
      const nbf = typeof payload.nbf === 'number' ? payload.nbf : 0;
      if (exp <= now || nbf > now + CLOCK_SKEW_S) {
        return aadError(
          res,
          400,
          'invalid_client',
          700024,
          `Client assertion is not within its valid time range. Current time: ${new Date(now * 1000).toISOString()}, assertion valid from ${new Date(nbf * 1000).toISOString()}, expiry time of assertion ${new Date(exp * 1000).toISOString()}.`,
        );
      }
      const aud = Array.isArray(payload.aud) ? (payload.aud as unknown[]) : [payload.aud];
      const match = opts.federatedCredentials.find(
        (f) =>
          f.clientId === clientId &&
          f.issuer === payload.iss &&
          f.subject === payload.sub &&
          aud.some((a) => typeof a === 'string' && f.audiences.includes(a)),
      );
      if (!match) {
        return aadError(
          res,
          400,
          'invalid_client',
          70021,
          `No matching federated identity record found for presented assertion. Assertion Issuer: '${String(payload.iss)}'. Assertion Subject: '${String(payload.sub)}'. Assertion Audience: '${aud.map(String).join(',')}'.`,
        );
      }
    } else {
      return aadError(
        res,
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    return issue(form, principal, res);
  }

  /** Answers the token request of an authenticated client for its `scope`. */
  function issue(form: URLSearchParams, principal: EntraPrincipal, res: ServerResponse): void {
    const scope = form.get('scope') ?? '';
    const aud = audienceForScope(scope);
    // A well-formed `<resource>/.default` naming a resource the tenant does not have: AADSTS500011, as Entra
    // answers; a malformed scope: AADSTS70011.
    const resource = /^(\S+)\/\.default$/.exec(scope.trim())?.[1];
    if (!aud && resource && /^(https?:\/\/|api:\/\/)/i.test(resource)) {
      return aadError(
        res,
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${resource} was not found in the tenant named ${opts.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      );
    }
    if (!aud) {
      return aadError(
        res,
        400,
        'invalid_scope',
        70011,
        `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
      );
    }
    const lifetime = opts.tokenLifetimeSeconds();
    sendJson(res, 200, {
      token_type: 'Bearer',
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: issueToken({
        aud,
        oid: principal.objectId,
        appid: principal.clientId,
        lifetimeSeconds: lifetime,
      }),
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req);
    const seg = url.pathname.split('/').filter(Boolean);
    const base = opts.authorityUrl();
    if (req.method === 'GET' && seg[0] === 'common' && seg[1] === 'discovery' && seg[2] === 'instance') {
      const host = new URL(base).host;
      const tenant =
        /\/([^/]+)\/oauth2\//.exec(url.searchParams.get('authorization_endpoint') ?? '')?.[1] ?? 'common';
      return sendJson(res, 200, {
        tenant_discovery_endpoint: `${base}/${tenant}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      });
    }
    const tenant = seg[0] ?? '';
    const rest = seg.slice(1).join('/');
    if (
      req.method === 'GET' &&
      (rest === 'v2.0/.well-known/openid-configuration' || rest === '.well-known/openid-configuration')
    ) {
      if (!tenantKnown(tenant)) {
        return aadError(res, 400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found.`);
      }
      return sendJson(res, 200, openidConfiguration(tenant));
    }
    if (req.method === 'GET' && (rest === 'discovery/v2.0/keys' || rest === 'discovery/keys')) {
      return sendJson(res, 200, { keys: [jwk(key)] });
    }
    if (req.method === 'POST' && (rest === 'oauth2/v2.0/token' || rest === 'oauth2/token')) {
      return token(tenant, req, res);
    }
    sendJson(res, 404, { error: 'not_found', error_description: `No Entra endpoint at ${url.pathname}.` });
  }

  return {
    handle,
    checkToken,
    verifyToken: (t) => {
      const r = checkToken(t);
      return r.ok ? r.claims : null;
    },
    issueToken,
    issuer,
    signingKey: key,
  };
}
