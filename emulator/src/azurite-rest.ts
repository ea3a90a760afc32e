/**
 * Requests straight to Azurite with the account key, past the blob front's rules: what the platform itself does
 * with storage (a Flex app's deployment container, a reset of every container), never what a client does.
 */
import * as https from 'node:https';
import { sharedKeyAuthorization } from './blob-front.js';
import type { EmulatorContext } from './model.js';

export interface AzuriteAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** `resource` is `/<container>[/<blob>]` ('' for the account); the account name is added here. */
export function azuriteRequest(
  ctx: EmulatorContext,
  method: 'GET' | 'PUT' | 'DELETE' | 'HEAD',
  resource: string,
  query: URLSearchParams = new URLSearchParams(),
  o: { body?: Buffer; msHeaders?: Record<string, string> } = {},
): Promise<AzuriteAnswer> {
  const u = new URL(ctx.azurite.blobEndpoint);
  const account = ctx.azurite.accountName;
  const p = `/${account}${resource}`;
  const msHeaders = {
    'x-ms-date': new Date().toUTCString(),
    'x-ms-version': '2021-12-02',
    ...(o.msHeaders ?? {}),
  };
  const length = o.body && o.body.length > 0 ? String(o.body.length) : '';
  const auth = sharedKeyAuthorization(account, ctx.azurite.accountKey, method, p, query, msHeaders, {
    contentLength: length,
    contentType: o.body ? 'application/octet-stream' : '',
  });
  const qs = query.toString();
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: u.hostname,
        port: Number(u.port),
        method,
        path: `${p}${qs ? `?${qs}` : ''}`,
        headers: {
          ...msHeaders,
          authorization: auth,
          ...(o.body ? { 'content-type': 'application/octet-stream', 'content-length': o.body.length } : {}),
        },
        ca: ctx.caCertPem,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}
