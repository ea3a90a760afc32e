/**
 * The HTTPS front that ARM reports as a storage account's blob endpoint (path style,
 * `https://127.0.0.1:<port>/<account>/`). It enforces what Azurite does not model, against the emulator clock:
 * allowSharedKeyAccess=false (KeyBasedAuthenticationNotPermitted for Shared Key and key-signed SAS), SAS
 * `st`/`se` (also through an `si` stored access policy), user-delegation key expiry, Entra token lifetime and
 * data-plane roles. Everything else is forwarded to Azurite unchanged.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import { readBody } from './core-http.js';
import type { Entra } from './entra.js';
import type { EmulatorContext, StorageAccount } from './model.js';

export interface BlobFrontDeps {
  ctx: EmulatorContext;
  entra: Entra;
  /** Azurite's https origin, e.g. https://127.0.0.1:45678. */
  azuriteUrl: () => string;
  /** Principals with Storage Blob Data Contributor on every account (write access with Entra tokens). */
  storageContributors: string[];
}

/** Stored access policies per container (API-SPEC §4.3); the sixth is refused (code UNVERIFIED, InvalidXmlDocument). */
const MAX_STORED_POLICIES = 5;
/** A user delegation key may be valid for at most 7 days from now (API-SPEC §4.4). */
const MAX_DELEGATION_KEY_MS = 7 * 24 * 3600 * 1000;
const STORAGE_AUDIENCES = ['https://storage.azure.com', 'https://storage.azure.com/'];
/** .NET's DateTime.MinValue in RFC 1123 form, what Storage prints for an absent SAS start (inference). */
const MIN_DATE = 'Mon, 01 Jan 0001 00:00:00 GMT';

export function storageErrorXml(
  code: string,
  message: string,
  requestId: string,
  time: Date,
  detail?: string,
): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return (
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${esc(message)}\nRequestId:${requestId}\nTime:${time.toISOString()}</Message>` +
    (detail ? `<AuthenticationErrorDetail>${esc(detail)}</AuthenticationErrorDetail>` : '') +
    '</Error>'
  );
}

export function sendStorageError(
  req: IncomingMessage,
  res: ServerResponse,
  now: Date,
  status: number,
  code: string,
  message: string,
  detail?: string,
): void {
  const requestId = randomUUID();
  const body = req.method === 'HEAD' ? '' : storageErrorXml(code, message, requestId, now, detail);
  res.writeHead(status, {
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(body),
    'x-ms-error-code': code,
    'x-ms-request-id': requestId,
    'x-ms-version': String(req.headers['x-ms-version'] ?? '2025-11-05'),
    Date: now.toUTCString(),
  });
  res.end(body);
}

/** The SAS time-frame detail Storage returns, e.g. `Signature not valid in the specified time frame: Start [...] - ...`. */
export function timeFrameDetail(start: Date | null, expiry: Date | null, now: Date): string {
  return `Signature not valid in the specified time frame: Start [${start ? start.toUTCString() : MIN_DATE}] - Expiry [${expiry ? expiry.toUTCString() : MIN_DATE}] - Current [${now.toUTCString()}]`;
}

/** true when `now` is outside [start, expiry]. */
export function outsideTimeFrame(start: Date | null, expiry: Date | null, now: Date): boolean {
  if (start && now.getTime() < start.getTime()) return true;
  if (expiry && now.getTime() > expiry.getTime()) return true;
  return false;
}

function parseDate(v: string | null | undefined): Date | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Stored access policies from a container ACL XML body. */
export function parseSignedIdentifiers(
  xml: string,
): Map<string, { start: Date | null; expiry: Date | null }> {
  const out = new Map<string, { start: Date | null; expiry: Date | null }>();
  for (const m of xml.matchAll(/<SignedIdentifier>([\s\S]*?)<\/SignedIdentifier>/g)) {
    const block = m[1]!;
    const id = /<Id>([\s\S]*?)<\/Id>/.exec(block)?.[1];
    if (!id) continue;
    out.set(id, {
      start: parseDate(/<Start>([\s\S]*?)<\/Start>/.exec(block)?.[1]),
      expiry: parseDate(/<Expiry>([\s\S]*?)<\/Expiry>/.exec(block)?.[1]),
    });
  }
  return out;
}

/** Shared Key signature for a header-light GET (what the front needs to read a container ACL). */
export function sharedKeyAuthorization(
  account: string,
  keyBase64: string,
  method: string,
  path: string,
  query: URLSearchParams,
  msHeaders: Record<string, string>,
  content: { contentLength?: string; contentType?: string } = {},
): string {
  const canonicalHeaders = Object.keys(msHeaders)
    .map((k) => k.toLowerCase())
    .sort()
    .map((k) => `${k}:${msHeaders[k]}\n`)
    .join('');
  const params = [...new Set([...query.keys()].map((k) => k.toLowerCase()))].sort();
  const canonicalResource =
    `/${account}${path}` + params.map((k) => `\n${k}:${query.getAll(k).join(',')}`).join('');
  const stringToSign =
    [method, '', '', content.contentLength ?? '', '', content.contentType ?? '', '', '', '', '', '', ''].join(
      '\n',
    ) +
    '\n' +
    canonicalHeaders +
    canonicalResource;
  const sig = createHmac('sha256', Buffer.from(keyBase64, 'base64'))
    .update(stringToSign, 'utf8')
    .digest('base64');
  return `SharedKey ${account}:${sig}`;
}

type Access = 'read' | 'write';

function accessOf(method: string, url: URL): Access {
  if (method === 'GET' || method === 'HEAD') return 'read';
  if (method === 'POST' && url.searchParams.get('comp') === 'userdelegationkey') return 'read';
  return 'write';
}

export function createBlobFront(deps: BlobFrontDeps) {
  const { ctx, entra } = deps;

  function upstream(): URL {
    return new URL(deps.azuriteUrl());
  }

  function azuriteRequest(
    method: string,
    path: string,
    headers: Record<string, string | string[] | undefined>,
  ): https.RequestOptions {
    const u = upstream();
    return { host: u.hostname, port: Number(u.port), method, path, headers, ca: ctx.caCertPem };
  }

  async function containerPolicies(account: StorageAccount, container: string) {
    const query = new URLSearchParams({ restype: 'container', comp: 'acl' });
    const path = `/${account.name}/${container}`;
    const msHeaders = { 'x-ms-date': new Date().toUTCString(), 'x-ms-version': '2021-12-02' };
    const auth = sharedKeyAuthorization(account.name, account.keys[0]!.value, 'GET', path, query, msHeaders);
    return new Promise<Map<string, { start: Date | null; expiry: Date | null }> | null>((resolve) => {
      const r = https.request(
        azuriteRequest('GET', `${path}?${query.toString()}`, { ...msHeaders, authorization: auth }),
        (up) => {
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () =>
            resolve(
              up.statusCode === 200 ? parseSignedIdentifiers(Buffer.concat(chunks).toString('utf8')) : null,
            ),
          );
        },
      );
      r.on('error', () => resolve(null));
      r.end();
    });
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    headers: Record<string, string | string[] | undefined>,
    body?: Buffer,
  ) {
    return new Promise<void>((resolve) => {
      const up = https.request(azuriteRequest(req.method ?? 'GET', req.url ?? '/', headers), (ur) => {
        if (ur.statusCode === 403 && !headers.authorization && !(req.url ?? '').includes('sig=')) {
          // Anonymous access to something private: Storage does not reveal that it exists (API-SPEC §4.5).
          ur.resume();
          sendStorageError(
            req,
            res,
            ctx.clock.now(),
            404,
            'ResourceNotFound',
            'The specified resource does not exist.',
          );
          return resolve();
        }
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
        ur.on('end', resolve);
        ur.on('error', () => {
          res.destroy();
          resolve();
        });
      });
      up.on('error', (err) => {
        if (!res.headersSent)
          sendStorageError(
            req,
            res,
            ctx.clock.now(),
            502,
            'ServerBusy',
            `Azurite is unreachable: ${err.message}`,
          );
        else res.destroy();
        resolve();
      });
      if (body) up.end(body);
      else req.pipe(up);
    });
  }

  const KEY_NOT_PERMITTED = 'Key based authentication is not permitted on this storage account.';
  const AUTH_FAILED =
    'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.';

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://blob.invalid');
    const now = ctx.clock.now();
    const segs = url.pathname.split('/').filter(Boolean);
    const account = [...ctx.storageAccounts.values()].find((a) => a.name === segs[0]);
    const headers: Record<string, string | string[] | undefined> = { ...req.headers };
    if (!account) {
      return sendStorageError(
        req,
        res,
        now,
        400,
        'InvalidUri',
        `The requested URI does not represent any resource on the server.`,
      );
    }
    const q = url.searchParams;
    const auth = req.headers.authorization ?? '';
    if (!account.allowBlobPublicAccess) {
      const settingPublic =
        req.method === 'PUT' &&
        q.get('restype') === 'container' &&
        req.headers['x-ms-blob-public-access'] !== undefined;
      const anonymous = !auth && !q.has('sig');
      if (settingPublic || anonymous) {
        return sendStorageError(
          req,
          res,
          now,
          409,
          'PublicAccessNotPermitted',
          'Public access is not permitted on this storage account.',
        );
      }
    }
    if (q.has('sig')) {
      const userDelegation = q.has('skoid');
      if (!userDelegation && !account.allowSharedKeyAccess) {
        return sendStorageError(req, res, now, 403, 'KeyBasedAuthenticationNotPermitted', KEY_NOT_PERMITTED);
      }
      let start = parseDate(q.get('st'));
      let expiry = parseDate(q.get('se'));
      const si = q.get('si');
      if (si && segs[1] && (!start || !expiry)) {
        const policies = await containerPolicies(account, segs[1]);
        const policy = policies?.get(si);
        if (policies && !policy) {
          return sendStorageError(
            req,
            res,
            now,
            403,
            'AuthenticationFailed',
            AUTH_FAILED,
            'SAS identifier cannot be found for specified signed identifier',
          );
        }
        if (policy) {
          start = start ?? policy.start;
          expiry = expiry ?? policy.expiry;
        }
      }
      if (outsideTimeFrame(start, expiry, now)) {
        return sendStorageError(
          req,
          res,
          now,
          403,
          'AuthenticationFailed',
          AUTH_FAILED,
          timeFrameDetail(start, expiry, now),
        );
      }
      if (userDelegation) {
        const keyStart = parseDate(q.get('skt'));
        const keyExpiry = parseDate(q.get('ske'));
        if (outsideTimeFrame(keyStart, keyExpiry, now)) {
          return sendStorageError(
            req,
            res,
            now,
            403,
            'AuthenticationFailed',
            AUTH_FAILED,
            timeFrameDetail(keyStart, keyExpiry, now),
          );
        }
      }
    } else if (/^SharedKey(Lite)?\s/i.test(auth)) {
      if (!account.allowSharedKeyAccess) {
        return sendStorageError(req, res, now, 403, 'KeyBasedAuthenticationNotPermitted', KEY_NOT_PERMITTED);
      }
    } else if (/^Bearer\s/i.test(auth)) {
      const token = auth.replace(/^Bearer\s+/i, '').trim();
      const check = entra.checkToken(token);
      if (!check.ok) {
        return sendStorageError(
          req,
          res,
          now,
          401,
          'InvalidAuthenticationInfo',
          'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
          check.reason === 'expired'
            ? 'Lifetime validation failed. The token is expired.'
            : 'Issuer validation failed. Issuer did not match.',
        );
      }
      if (!STORAGE_AUDIENCES.includes(check.claims.aud)) {
        return sendStorageError(
          req,
          res,
          now,
          401,
          'InvalidAuthenticationInfo',
          'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
          'Audience validation failed. Audience did not match.',
        );
      }
      const oid = check.claims.oid;
      const access = accessOf(req.method ?? 'GET', url);
      const allowed =
        deps.storageContributors.includes(oid) || (access === 'read' && account.blobReaders.includes(oid));
      if (!allowed) {
        return sendStorageError(
          req,
          res,
          now,
          403,
          'AuthorizationPermissionMismatch',
          'This request is not authorized to perform this operation using this permission.',
        );
      }
      // Azurite checks token lifetime against real time; hand it an equivalent token minted on the real clock.
      headers.authorization = `Bearer ${entra.issueToken({
        aud: 'https://storage.azure.com',
        oid,
        appid: check.claims.appid,
        lifetimeSeconds: 3600,
        realTime: true,
      })}`;
    }
    if (req.method === 'POST' && q.get('restype') === 'service' && q.get('comp') === 'userdelegationkey') {
      const body = await readBody(req);
      const expiry = parseDate(/<Expiry>([\s\S]*?)<\/Expiry>/.exec(body.toString('utf8'))?.[1]);
      if (expiry && expiry.getTime() - now.getTime() > MAX_DELEGATION_KEY_MS) {
        return sendStorageError(
          req,
          res,
          now,
          400,
          'InvalidXmlNodeValue',
          'The value for one of the XML nodes is not in the correct format.',
        );
      }
      return forward(req, res, headers, body);
    }
    if (req.method === 'PUT' && q.get('restype') === 'container' && q.get('comp') === 'acl') {
      const body = await readBody(req);
      const count = (body.toString('utf8').match(/<SignedIdentifier>/g) ?? []).length;
      if (count > MAX_STORED_POLICIES) {
        return sendStorageError(
          req,
          res,
          now,
          400,
          'InvalidXmlDocument',
          `XML specified is not syntactically valid: a container holds at most ${MAX_STORED_POLICIES} stored access policies, got ${count}.`,
        );
      }
      return forward(req, res, headers, body);
    }
    await forward(req, res, headers);
  }

  return { handle };
}
