/**
 * The Azure Instance Metadata Service's managed identity endpoint of a VM (what a self-hosted Azure Pipelines agent
 * on an Azure VM uses for a ManagedServiceIdentity service connection): `GET
 * /metadata/identity/oauth2/token?api-version=…&resource=…[&client_id=…]` with `Metadata: true` answers the VM
 * identity's token in IMDS's shape (numbers as strings). Clients reach it through the documented
 * AZURE_POD_IDENTITY_AUTHORITY_HOST override of the IMDS host.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, requestUrl, sendJson } from './core-http.js';
import type { Clock } from './model.js';

export const IMDS_TOKEN_PATH = '/metadata/identity/oauth2/token';

export interface ImdsOptions {
  clock: Clock;
  /** The VM's identity. */
  identity: { clientId: string; objectId: string };
  /** Issues an access token for the audience of `resource` (null when Entra does not know the resource). */
  issue(resource: string, oid: string, appid: string): { token: string; lifetime: number } | null;
}

export function createImds(opts: ImdsOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    await readBody(req).catch(() => undefined);
    const url = requestUrl(req);
    if (url.pathname.replace(/\/+$/, '') !== IMDS_TOKEN_PATH || req.method !== 'GET')
      return sendJson(res, 404, {
        error: 'not_found',
        error_description: `Unknown IMDS path ${url.pathname} (${req.method}).`,
      });
    if (String(req.headers.metadata ?? '').toLowerCase() !== 'true')
      return sendJson(res, 400, {
        error: 'invalid_request',
        error_description: 'Required metadata header not specified',
      });
    if (!url.searchParams.get('api-version'))
      return sendJson(res, 400, {
        error: 'invalid_request',
        error_description: 'Required query variable api-version is missing.',
      });
    const resource = url.searchParams.get('resource') ?? '';
    const clientId = url.searchParams.get('client_id');
    const objectId = url.searchParams.get('object_id') ?? url.searchParams.get('principal_id');
    if (
      (clientId && clientId !== opts.identity.clientId) ||
      (objectId && objectId !== opts.identity.objectId)
    )
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'Identity not found' });
    const issued = opts.issue(resource, opts.identity.objectId, opts.identity.clientId);
    if (!issued)
      return sendJson(res, 400, {
        error: 'invalid_resource',
        error_description: `AADSTS500011: The resource principal named ${resource} was not found in the tenant.`,
      });
    const now = Math.floor(opts.clock.now().getTime() / 1000);
    sendJson(res, 200, {
      access_token: issued.token,
      client_id: opts.identity.clientId,
      expires_in: String(issued.lifetime),
      expires_on: String(now + issued.lifetime),
      ext_expires_in: String(issued.lifetime),
      not_before: String(now),
      resource,
      token_type: 'Bearer',
    });
  };
}
