/**
 * GitHub Actions OIDC stand-in (API-SPEC §5.2): `GET <request url>&audience=…` with `Authorization: Bearer
 * <request token>` answers `{"value":"<jwt>"}`. Each request token maps to its own claims, so tests can mint
 * tokens with a different `sub` (through admin) to exercise the federated-credential mismatch path.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, requestUrl, sendJson } from './core-http.js';
import { jwk, newSigningKey, signJwt, type SigningKey } from './jwt.js';
import type { Clock } from './model.js';

export const GITHUB_OIDC_ISSUER = 'https://token.actions.githubusercontent.com';
export const OIDC_PATH = '/_github/idtoken';

export interface OidcClaims {
  sub: string;
  repository: string;
  ref: string;
  [claim: string]: unknown;
}

export interface Oidc {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** A new request token whose ID tokens carry these claims (defaults: main branch of octo-org/octo-app). */
  mintRequestToken(claims?: Partial<OidcClaims>, lifetimeSeconds?: number): string;
  /** The request token created at start (main branch). */
  defaultRequestToken: string;
  signingKey: SigningKey;
}

export function defaultOidcClaims(repository = 'octo-org/octo-app'): OidcClaims {
  return { sub: `repo:${repository}:ref:refs/heads/main`, repository, ref: 'refs/heads/main' };
}

export function createOidc(opts: { clock: Clock; repository?: string }): Oidc {
  const key = newSigningKey();
  const tokens = new Map<string, { claims: OidcClaims; lifetime: number }>();

  function mintRequestToken(claims: Partial<OidcClaims> = {}, lifetimeSeconds = 300): string {
    const t = randomBytes(24).toString('base64url');
    tokens.set(t, {
      claims: { ...defaultOidcClaims(opts.repository), ...claims },
      lifetime: lifetimeSeconds,
    });
    return t;
  }
  const defaultRequestToken = mintRequestToken();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req);
    if (req.method === 'GET' && url.pathname === `${OIDC_PATH}/keys`) {
      return sendJson(res, 200, { keys: [jwk(key)] });
    }
    if (url.pathname !== OIDC_PATH || req.method !== 'GET') {
      return sendJson(res, 404, { message: 'Not Found' });
    }
    const rt = bearerToken(req);
    const entry = rt ? tokens.get(rt) : undefined;
    if (!entry) return sendJson(res, 401, { message: 'Bad credentials' });
    const c = entry.claims;
    const owner = c.repository.split('/')[0] ?? '';
    const now = Math.floor(opts.clock.now().getTime() / 1000);
    const audience = url.searchParams.get('audience') ?? `https://github.com/${owner}`;
    const payload: Record<string, unknown> = {
      jti: randomUUID(),
      aud: audience,
      sha: 'a'.repeat(40),
      repository_owner: owner,
      repository_visibility: 'private',
      run_id: '1',
      run_number: '1',
      run_attempt: '1',
      actor: 'octocat',
      workflow: 'deploy',
      event_name: 'push',
      ref_type: 'branch',
      job_workflow_ref: `${c.repository}/.github/workflows/deploy.yml@${c.ref}`,
      runner_environment: 'github-hosted',
      ...c,
      iss: GITHUB_OIDC_ISSUER,
      nbf: now - 5,
      iat: now,
      exp: now + entry.lifetime,
    };
    payload.aud = audience;
    sendJson(res, 200, { count: 1, value: signJwt(payload, key) });
  }

  return { handle, mintRequestToken, defaultRequestToken, signingKey: key };
}
