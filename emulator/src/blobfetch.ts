/**
 * The platform's package download for URL-mode run-from-package: a GET of the blob URL, authorised by the
 * SAS in the URL or, without one, by the app's managed identity. Network rules and role assignments are
 * checked here because they concern the app's own fetch, not the runner's calls to the blob front.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import * as https from 'node:https';
import * as http from 'node:http';
import * as path from 'node:path';
import type { EmulatorContext, Site, StorageAccount } from './model.js';

export type FetchResult =
  | { ok: true; zip: string; sha256: string; bytes: number; etag: string | null }
  | { ok: false; status: number; code: string; message: string };

export const STORAGE_RESOURCE = 'https://storage.azure.com';

/** The storage account whose blob endpoint serves `url` (prefix match, host case-insensitive), if any. */
export function accountForUrl(ctx: EmulatorContext, url: URL): StorageAccount | null {
  for (const acct of ctx.storageAccounts.values()) {
    let ep: URL;
    try {
      ep = new URL(acct.blobEndpoint);
    } catch {
      continue;
    }
    if (ep.host.toLowerCase() !== url.host.toLowerCase()) continue;
    const prefix = ep.pathname.endsWith('/') ? ep.pathname : ep.pathname + '/';
    if (prefix === '/' || url.pathname.toLowerCase().startsWith(prefix.toLowerCase())) return acct;
  }
  // Azure-style virtual-host names: <account>.blob.<suffix>
  const m = /^([a-z0-9]+)\.blob\./i.exec(url.hostname);
  if (m) {
    for (const acct of ctx.storageAccounts.values())
      if (acct.name.toLowerCase() === m[1].toLowerCase()) return acct;
  }
  return null;
}

/**
 * Which identity the fetch uses when the URL carries no SAS: the user-assigned identity named by
 * WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID, or the system identity (also for the value `SystemAssigned`).
 */
export function pickIdentity(
  site: Site,
  settings: Record<string, string>,
): { principalId: string; kind: 'system' | 'user' } | { error: string } | null {
  const raw = (settings.WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID ?? '').trim();
  if (raw === '' || raw.toLowerCase() === 'systemassigned') {
    const sys = site.identity.systemAssigned;
    return sys ? { principalId: sys.principalId, kind: 'system' } : null;
  }
  for (const [id, ua] of Object.entries(site.identity.userAssigned)) {
    if (id.toLowerCase() === raw.toLowerCase()) return { principalId: ua.principalId, kind: 'user' };
  }
  return { error: `the user-assigned identity '${raw}' is not assigned to the app` };
}

function xmlField(body: string, tag: string): string | null {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(body);
  return m ? m[1] : null;
}

/** Classify a storage error response: the x-ms-error-code header, else the XML Code; the first line of Message. */
export function classifyStorageError(
  status: number,
  headers: http.IncomingHttpHeaders,
  body: string,
): { status: number; code: string; message: string } {
  const header = headers['x-ms-error-code'];
  const code = (Array.isArray(header) ? header[0] : header) ?? xmlField(body, 'Code') ?? `Http${status}`;
  const msg = (xmlField(body, 'Message') ?? '').split('\n')[0].trim();
  const detail = xmlField(body, 'AuthenticationErrorDetail');
  const message = [msg || `HTTP ${status}`, detail ? detail.trim() : ''].filter(Boolean).join(' ');
  return { status, code, message };
}

/** Download `url` the way the platform does at (re)start. The zip lands in `<stateDir>/tmp/`. */
export async function fetchPackage(ctx: EmulatorContext, site: Site, url: string): Promise<FetchResult> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, status: 0, code: 'InvalidUri', message: 'the package URL is not a valid URL' };
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    return { ok: false, status: 0, code: 'InvalidUri', message: 'the package URL is not http(s)' };
  }
  const account = accountForUrl(ctx, u);
  if (account && account.networkDefaultAction === 'Deny') {
    return {
      ok: false,
      status: 403,
      code: 'AuthorizationFailure',
      message: 'This request is not authorized to perform this operation.',
    };
  }
  const headers: Record<string, string> = {
    'x-ms-version': '2023-11-03',
    'user-agent': 'RunFromPackage/1.0',
  };
  if (!u.searchParams.has('sig')) {
    const who = pickIdentity(site, site.appSettings);
    if (who && 'error' in who) {
      return { ok: false, status: 400, code: 'IdentityNotFound', message: who.error };
    }
    if (who) {
      if (account && !account.blobReaders.includes(who.principalId)) {
        return {
          ok: false,
          status: 403,
          code: 'AuthorizationPermissionMismatch',
          message: 'This request is not authorized to perform this operation using this permission.',
        };
      }
      headers.authorization = `Bearer ${ctx.issueManagedIdentityToken(who.principalId, STORAGE_RESOURCE)}`;
    }
  }
  const tmpDir = path.join(ctx.stateDir, 'tmp');
  await fsp.mkdir(tmpDir, { recursive: true });
  const file = path.join(tmpDir, `package-${randomUUID()}.zip`);
  return new Promise<FetchResult>((resolve) => {
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      u,
      { method: 'GET', headers, ...(u.protocol === 'https:' ? { ca: ctx.caCertPem } : {}), timeout: 30000 },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              ok: false,
              ...classifyStorageError(status, res.headers, Buffer.concat(chunks).toString('utf8')),
            }),
          );
          res.on('error', (err) =>
            resolve({ ok: false, status, code: 'ConnectionFailed', message: err.message }),
          );
          return;
        }
        const hash = createHash('sha256');
        let bytes = 0;
        const out = createWriteStream(file);
        res.on('data', (c: Buffer) => {
          hash.update(c);
          bytes += c.length;
        });
        res.pipe(out);
        out.on('finish', () => {
          const etag = res.headers.etag ?? null;
          resolve({ ok: true, zip: file, sha256: hash.digest('hex'), bytes, etag });
        });
        const fail = (err: Error): void => {
          out.destroy();
          void fsp.rm(file, { force: true });
          resolve({ ok: false, status: 0, code: 'ConnectionFailed', message: err.message });
        };
        res.on('error', fail);
        out.on('error', fail);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) =>
      resolve({ ok: false, status: 0, code: 'ConnectionFailed', message: err.message }),
    );
    req.end();
  });
}
