/**
 * One signed-in Kudu session for a site, used by the local publisher, verification, slots and the operator
 * commands: Entra Bearer by default; the publish profile when the user gives one; the app's publishing
 * credentials from Resource Manager when Kudu refuses the token and SCM basic auth is allowed. Every credential
 * is registered as a secret before it is used. The session is proven with one call (GET /api/settings, which
 * callers need anyway).
 */
import { Buffer } from 'node:buffer';
import type { ArmClient, SiteRef } from './arm.js';
import type { HttpClient } from './http.js';
import { KuduClient, KuduError, classifyKuduAuthFailure, explainKuduAuthFailure } from './kudu.js';
import { parsePublishProfile, profileMismatch } from './publish-profile.js';
import type { Logger } from '../report/log.js';
import { RunpackError, UsageError } from '../util/errors.js';

/** What a Kudu session needs from its caller (a deploy context or an operator session carries all of it). */
export interface KuduSessionDeps {
  http: HttpClient;
  arm: Pick<ArmClient, 'getBasicAuthAllowed' | 'listPublishingCredentials'>;
  site: { ref: SiteRef; scmHostName?: string | null };
  /** The publish-profile input, when given: its credentials are used instead of the Entra token. */
  publishProfile?: string;
  secrets: { add(secret: string): void };
  log: Pick<Logger, 'info' | 'warn'>;
  /** `Bearer <ARM token>` (Kudu accepts the Resource Manager token). */
  armAuthorization(o?: { refresh?: boolean }): Promise<string>;
}

function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

function scmUrlOf(site: KuduSessionDeps['site']): string | null {
  return site.scmHostName ? `https://${site.scmHostName}` : null;
}

async function basicPolicy(ctx: KuduSessionDeps): Promise<boolean | undefined> {
  try {
    return await ctx.arm.getBasicAuthAllowed(ctx.site.ref, 'scm');
  } catch {
    return undefined;
  }
}

/** Re-explain a Kudu 401/403 now that the basic-auth policy can be read. */
async function explainAuth(ctx: KuduSessionDeps, kudu: KuduClient, err: KuduError): Promise<RunpackError> {
  const allowed = kudu.authKind === 'basic' ? await basicPolicy(ctx) : undefined;
  const problem = classifyKuduAuthFailure(
    err.status,
    err.bodySnippet,
    err.contentType,
    kudu.authKind,
    allowed,
  );
  return new RunpackError(err.code, explainKuduAuthFailure(problem, err.status, kudu.host));
}

/** A Kudu client for the site, signed in and proven with GET /api/settings (whose answer is returned too). */
export async function connectKudu(
  ctx: KuduSessionDeps,
  deadline: number,
): Promise<{ kudu: KuduClient; settings: Record<string, string> }> {
  const { site: target, http } = ctx;
  if (ctx.publishProfile) {
    const profile = parsePublishProfile(ctx.publishProfile);
    ctx.secrets.add(profile.password);
    ctx.secrets.add(basicHeader(profile.userName, profile.password).slice('Basic '.length));
    const mismatch = profileMismatch(profile, target.ref.appName, target.ref.slot ?? null);
    if (mismatch) throw new UsageError(mismatch);
    const kudu = new KuduClient({
      http,
      scmUrl: profile.scmUrl,
      authKind: 'basic',
      authorization: async () => basicHeader(profile.userName, profile.password),
    });
    ctx.log.info(
      `Kudu: ${kudu.host}, signing in with the publish profile's ${profile.userName} credentials.`,
    );
    try {
      return { kudu, settings: await kudu.settings(deadline) };
    } catch (err) {
      if (err instanceof KuduError && (err.status === 401 || err.status === 403))
        throw await explainAuth(ctx, kudu, err);
      throw err;
    }
  }

  let scmUrl = scmUrlOf(target);
  let creds: { userName: string; password: string; scmUri: string } | null = null;
  const loadCreds = async () => {
    if (creds) return creds;
    creds = await ctx.arm.listPublishingCredentials(target.ref);
    ctx.secrets.add(creds.password);
    ctx.secrets.add(basicHeader(creds.userName, creds.password).slice('Basic '.length));
    return creds;
  };
  if (!scmUrl) {
    const c = await loadCreds();
    if (!c.scmUri)
      throw new RunpackError(
        'scm-missing',
        `App '${target.ref.appName}' has no SCM (Kudu) host name in Resource Manager; local mode needs Kudu — use mode: url.`,
      );
    scmUrl = c.scmUri;
  }
  const bearer = new KuduClient({
    http,
    scmUrl,
    authKind: 'bearer',
    authorization: (o) => ctx.armAuthorization(o),
  });
  ctx.log.info(`Kudu: ${bearer.host}, signing in with the Entra token.`);
  try {
    return { kudu: bearer, settings: await bearer.settings(deadline) };
  } catch (err) {
    if (!(err instanceof KuduError) || (err.status !== 401 && err.status !== 403)) throw err;
    const problem = classifyKuduAuthFailure(
      err.status,
      err.bodySnippet,
      err.contentType,
      'bearer',
      undefined,
    );
    if (problem === 'scm-blocked') throw new RunpackError(err.code, err.message);
    const allowed = await basicPolicy(ctx);
    if (allowed === false) {
      throw new RunpackError(
        err.code,
        `${explainKuduAuthFailure(problem, err.status, bearer.host).replace(/;.*$/, '')}; SCM basic auth is disabled too, so publishing credentials cannot stand in — grant the principal Website Contributor on the app.`,
      );
    }
    ctx.log.warn(
      `Kudu refused the Entra token (${err.status}); falling back to the app's publishing credentials from Resource Manager.`,
    );
    const c = await loadCreds();
    const basic = new KuduClient({
      http,
      scmUrl: c.scmUri || scmUrl,
      authKind: 'basic',
      authorization: async () => basicHeader(c.userName, c.password),
    });
    try {
      return { kudu: basic, settings: await basic.settings(deadline) };
    } catch (err2) {
      if (err2 instanceof KuduError && (err2.status === 401 || err2.status === 403))
        throw await explainAuth(ctx, basic, err2);
      throw err2;
    }
  }
}
