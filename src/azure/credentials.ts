/**
 * Login, in this order: GitHub OIDC federation (client-id + tenant-id), a `creds` JSON secret (or
 * AZURE_CREDENTIALS), then an existing Azure CLI session (azure/login) as the fallback when nothing explicit is
 * given; a front end's own login (the task's service connection) replaces them all. Entra's errors are turned into one line that says what to fix.
 * Every token obtained is registered as a secret before it is used.
 */
import { execFile } from 'node:child_process';
import {
  AzureCliCredential,
  ClientAssertionCredential,
  ClientSecretCredential,
  type AccessToken,
  type GetTokenOptions,
  type TokenCredential,
} from '@azure/identity';
import type { SecretRegistry } from '../report/secrets.js';
import { RunpackError } from '../util/errors.js';
import type { CloudEndpoints } from './cloud.js';
import type { HttpClient } from './http.js';

export type AuthMethod = 'oidc' | 'azure-cli' | 'creds' | 'service-connection';

export interface AuthSession {
  method: AuthMethod;
  /** A line for the log: which login was used (no secrets). */
  description: string;
  /** Subscription known from the login (creds JSON or the CLI's current account). */
  subscriptionId?: string;
  tenantId?: string;
  /**
   * `Bearer <token>` for a scope, cached and refreshed before it expires; `refresh` asks for a new one (a service
   * said the last one had expired: clock skew, or a token that lapsed in flight).
   */
  authorization(scope: string, o?: { refresh?: boolean }): Promise<string>;
  /** The raw token (for clients that take a TokenCredential). */
  credential: TokenCredential;
}

export interface AuthDeps {
  env: Record<string, string | undefined>;
  secrets: SecretRegistry;
  /** GitHub's OIDC token for an audience (core.getIDToken in the action). */
  getIdToken(audience: string): Promise<string>;
  /** Runs `az` with args; resolves stdout, or null when az is missing or fails. */
  runAz?(args: string[]): Promise<string | null>;
  now?: () => number;
  log?: (line: string) => void;
  /**
   * An explicit login chosen by the front end (the Azure Pipelines task's service connection): used instead of
   * the inputs' OIDC, Azure CLI and creds logins.
   */
  login?: (cloud: CloudEndpoints) => Promise<AuthSession>;
}

export const OIDC_AUDIENCE = 'api://AzureADTokenExchange';

/** The login inputs: GitHub OIDC (client and tenant id) or the creds JSON. */
export interface LoginInputs {
  clientId?: string;
  tenantId?: string;
  creds?: string;
}

interface CredsJson {
  clientId: string;
  clientSecret: string;
  tenantId: string;
  subscriptionId?: string;
}

/** Explains an Entra error (AADSTS code) in one line; `subject` is the OIDC subject claim that was presented. */
export function explainEntraError(
  message: string,
  method: AuthMethod,
  context: { subject?: string; clientId?: string; tenantId?: string },
): string {
  const code = /AADSTS(\d+)/.exec(message)?.[1];
  const who = context.clientId ? `client ${context.clientId}` : 'the client';
  switch (code) {
    case '70021':
    case '700213':
      return `Entra found no federated credential for this workflow (AADSTS${code}); add one to ${who} with issuer https://token.actions.githubusercontent.com, audience ${OIDC_AUDIENCE} and subject '${context.subject ?? 'repo:<owner>/<repo>:ref:refs/heads/<branch>'}'.`;
    case '7000215':
      return `Entra rejected the client secret of ${who} (AADSTS7000215); create a new secret and update the creds secret.`;
    case '700016':
      return `Entra does not know application ${context.clientId ?? ''} in tenant ${context.tenantId ?? ''} (AADSTS700016); check client-id (or clientId in creds) and tenant-id.`;
    case '90002':
      return `Entra does not know tenant ${context.tenantId ?? ''} (AADSTS90002); check tenant-id (or tenantId in creds).`;
    case '500011': {
      const resource = /resource principal named (\S+)/.exec(message)?.[1] ?? 'the requested resource';
      return `Entra has no resource ${resource} in tenant ${context.tenantId ?? ''} (AADSTS500011): the token was asked for another cloud's audience; check resource-manager-endpoint (a sovereign cloud or Azure Stack has its own) and that tenant-id is in that cloud.`;
    }
    case '700024':
      return `Entra says the GitHub OIDC token is expired or not yet valid (AADSTS700024); check the runner clock and rerun the job.`;
    default: {
      const first = message
        .split(/\r?\n/)[0]
        .replace(/Trace ID:.*$/i, '')
        .trim()
        .slice(0, 300);
      const how =
        method === 'oidc'
          ? 'check client-id, tenant-id and the federated credential'
          : method === 'creds'
            ? 'check the creds secret'
            : "check the Azure CLI login ('az login' / azure/login)";
      return `Login failed (${method}): ${first}; ${how}.`;
    }
  }
}

function decodeJwtClaims(token: string): Record<string, unknown> {
  try {
    const payload = token.split('.')[1] ?? '';
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Wraps a credential so every token it hands out (also to the storage SDK) is registered as a secret first. */
export function maskingCredential(inner: TokenCredential, secrets: SecretRegistry): TokenCredential {
  return {
    async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
      const t = await inner.getToken(scopes, options);
      if (t) secrets.add(t.token);
      return t;
    },
  };
}

/**
 * GitHub's OIDC token outside the action toolkit, from ACTIONS_ID_TOKEN_REQUEST_URL and
 * ACTIONS_ID_TOKEN_REQUEST_TOKEN (the CLI inside a workflow job with `permissions: id-token: write`).
 */
export function envIdToken(
  env: Record<string, string | undefined>,
  http: HttpClient,
): (audience: string) => Promise<string> {
  return async (audience: string): Promise<string> => {
    const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
    const token = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
    if (!url || !token)
      throw new RunpackError(
        'oidc-unavailable',
        "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set; run inside a GitHub Actions job with 'permissions: id-token: write', or log in another way.",
      );
    const u = new URL(url);
    u.searchParams.set('audience', audience);
    const res = await http.request({
      method: 'GET',
      url: u.toString(),
      service: 'GitHub OIDC',
      authorization: async () => `Bearer ${token}`,
    });
    if (res.status !== 200)
      throw new RunpackError(
        'oidc-unavailable',
        `The GitHub OIDC endpoint answered ${res.status}; check 'permissions: id-token: write' on the job.`,
      );
    const value = res.json<{ value?: string }>().value;
    if (!value)
      throw new RunpackError(
        'oidc-unavailable',
        "The GitHub OIDC endpoint returned no token; check 'permissions: id-token: write' on the job.",
      );
    return value;
  };
}

const defaultRunAz = (args: string[]) =>
  new Promise<string | null>((resolve) => {
    execFile('az', args, { timeout: 60_000, windowsHide: true }, (err, stdout) =>
      resolve(err ? null : String(stdout)),
    );
  });

/** Wraps a TokenCredential: caches per scope, refreshes ahead of expiry, registers every token as a secret. */
export function tokenProvider(
  credential: TokenCredential,
  secrets: SecretRegistry,
  explain: (message: string) => string,
  now: () => number = Date.now,
): (scope: string, o?: { refresh?: boolean }) => Promise<string> {
  const cache = new Map<string, { token: AccessToken; obtained: number }>();
  return async (scope: string, o?: { refresh?: boolean }) => {
    const hit = o?.refresh ? undefined : cache.get(scope);
    if (hit) {
      const lifetime = hit.token.expiresOnTimestamp - hit.obtained;
      const margin = Math.min(120_000, lifetime / 2);
      if (now() < hit.token.expiresOnTimestamp - margin) return `Bearer ${hit.token.token}`;
    }
    let token: AccessToken | null;
    try {
      token = await credential.getToken(scope);
    } catch (err) {
      throw new RunpackError('auth-failed', explain(err instanceof Error ? err.message : String(err)), {
        cause: err,
      });
    }
    if (!token) throw new RunpackError('auth-failed', explain('no token returned'));
    secrets.add(token.token);
    cache.set(scope, { token, obtained: now() });
    return `Bearer ${token.token}`;
  };
}

export async function authenticate(
  inputs: LoginInputs,
  cloud: CloudEndpoints,
  deps: AuthDeps,
): Promise<AuthSession> {
  if (deps.login) return deps.login(cloud);
  const now = deps.now ?? Date.now;
  const identityOptions = {
    authorityHost: cloud.authorityHost,
    disableInstanceDiscovery: !cloud.isPublicCloud,
  };

  // 1. OIDC federation.
  if (inputs.clientId && inputs.tenantId) {
    if (!deps.env.ACTIONS_ID_TOKEN_REQUEST_URL || !deps.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
      throw new RunpackError(
        'oidc-unavailable',
        "No GitHub OIDC token is available for the client-id login; add 'permissions: id-token: write' to the workflow or job.",
      );
    let subject: string | undefined;
    /** Why GitHub gave no token: the whole story, which the credential's own error would cut to one line. */
    let oidcFailure: string | undefined;
    const credential = new ClientAssertionCredential(
      inputs.tenantId,
      inputs.clientId,
      async () => {
        // A fresh GitHub token for every exchange: they are short-lived.
        let token: string;
        try {
          token = await deps.getIdToken(OIDC_AUDIENCE);
        } catch (err) {
          const inner = (err instanceof Error ? err.message : String(err))
            .split(/\r?\n/)
            .map((l) => l.trim())
            .filter(Boolean)
            .join(' ')
            .replace(/[\s.;]+$/, '');
          // The advice once: the inner message may carry it already.
          oidcFailure = /id-token: write/.test(inner)
            ? `Could not get the GitHub OIDC token: ${inner}.`
            : `Could not get the GitHub OIDC token (${inner}); add 'permissions: id-token: write' to the workflow or job.`;
          throw new RunpackError('oidc-unavailable', oidcFailure);
        }
        deps.secrets.add(token);
        const sub = decodeJwtClaims(token).sub;
        if (typeof sub === 'string') subject = sub;
        return token;
      },
      identityOptions,
    );
    const explain = (m: string) =>
      oidcFailure ??
      explainEntraError(m, 'oidc', { subject, clientId: inputs.clientId, tenantId: inputs.tenantId });
    const authorization = tokenProvider(credential, deps.secrets, explain, now);
    await authorization(cloud.armScope);
    return {
      method: 'oidc',
      description: `Logged in with GitHub OIDC federation as client ${inputs.clientId} in tenant ${inputs.tenantId}${subject ? ` (subject ${subject})` : ''}.`,
      tenantId: inputs.tenantId,
      authorization,
      credential,
    };
  }

  // 2. A creds JSON secret. Explicit beats ambient: creds given to runpack win over an Azure CLI session.
  const credsText = inputs.creds ?? deps.env.AZURE_CREDENTIALS;
  if (credsText) {
    let creds: CredsJson;
    try {
      creds = JSON.parse(credsText) as CredsJson;
    } catch {
      throw new RunpackError('usage', "Input 'creds' must be JSON in azure/login format.");
    }
    if (!creds.clientId || !creds.clientSecret || !creds.tenantId)
      throw new RunpackError(
        'usage',
        "Input 'creds' needs clientId, clientSecret and tenantId (azure/login format).",
      );
    deps.secrets.add(creds.clientSecret);
    const credential = new ClientSecretCredential(
      creds.tenantId,
      creds.clientId,
      creds.clientSecret,
      identityOptions,
    );
    const explain = (m: string) =>
      explainEntraError(m, 'creds', { clientId: creds.clientId, tenantId: creds.tenantId });
    const authorization = tokenProvider(credential, deps.secrets, explain, now);
    await authorization(cloud.armScope);
    return {
      method: 'creds',
      description: `Logged in with the creds service principal ${creds.clientId} in tenant ${creds.tenantId}.`,
      subscriptionId: creds.subscriptionId,
      tenantId: creds.tenantId,
      authorization,
      credential,
    };
  }

  // 3. An existing Azure CLI session (azure/login), the fallback when nothing explicit is given.
  const runAz = deps.runAz ?? defaultRunAz;
  const account = await runAz(['account', 'show', '--output', 'json']);
  if (account) {
    let parsed: { id?: string; tenantId?: string; user?: { name?: string } } = {};
    try {
      parsed = JSON.parse(account) as typeof parsed;
    } catch {
      parsed = {};
    }
    const credential = new AzureCliCredential({ processTimeoutInMs: 60_000 });
    const explain = (m: string) => explainEntraError(m, 'azure-cli', {});
    const authorization = tokenProvider(credential, deps.secrets, explain, now);
    await authorization(cloud.armScope);
    return {
      method: 'azure-cli',
      description: `Logged in with the Azure CLI session${parsed.user?.name ? ` of ${parsed.user.name}` : ''}${parsed.tenantId ? ` in tenant ${parsed.tenantId}` : ''}.`,
      subscriptionId: parsed.id,
      tenantId: parsed.tenantId,
      authorization,
      credential,
    };
  }

  throw new RunpackError(
    'auth-missing',
    "No Azure login found; set client-id and tenant-id (OIDC, with 'permissions: id-token: write'), run azure/login before this step, or pass the creds secret.",
  );
}
