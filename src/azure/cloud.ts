/**
 * Cloud endpoints from Resource Manager's metadata (`/metadata/endpoints?api-version=2022-09-01`): the login
 * authority and the ARM token audience, so sovereign clouds, Azure Stack and the emulator need only the
 * resource-manager-endpoint input.
 */
import { RunpackError } from '../util/errors.js';
import type { HttpClient } from './http.js';

export interface CloudEndpoints {
  /** Resource Manager base URL without a trailing slash. */
  resourceManager: string;
  /** Login authority host, e.g. https://login.microsoftonline.com (no trailing slash). */
  authorityHost: string;
  /** Scope for Resource Manager tokens, e.g. https://management.azure.com/.default. */
  armScope: string;
  /** Scope for Blob Storage tokens. */
  storageScope: string;
  /** The public cloud: keeps instance discovery on. */
  isPublicCloud: boolean;
  name: string;
}

export const PUBLIC_CLOUD: CloudEndpoints = {
  resourceManager: 'https://management.azure.com',
  authorityHost: 'https://login.microsoftonline.com',
  armScope: 'https://management.azure.com/.default',
  storageScope: 'https://storage.azure.com/.default',
  isPublicCloud: true,
  name: 'AzureCloud',
};

interface MetadataDocument {
  name?: string;
  resourceManager?: string;
  authentication?: { loginEndpoint?: string; audiences?: string[] };
}

/** Pure: turns the metadata document into endpoints. */
export function endpointsFromMetadata(
  endpoint: string,
  doc: MetadataDocument | MetadataDocument[],
): CloudEndpoints {
  const base = endpoint.replace(/\/+$/, '');
  const list = Array.isArray(doc) ? doc : [doc];
  const host = new URL(base).host.toLowerCase();
  const chosen =
    list.find((d) => {
      try {
        return d.resourceManager && new URL(d.resourceManager).host.toLowerCase() === host;
      } catch {
        return false;
      }
    }) ?? list[0];
  const login = chosen?.authentication?.loginEndpoint;
  if (!login)
    throw new RunpackError(
      'cloud-metadata',
      `The metadata of ${base} names no login endpoint; check resource-manager-endpoint.`,
    );
  const audiences = chosen.authentication?.audiences ?? [];
  // Prefer the audience on the Resource Manager host itself, then the first one listed.
  const audience =
    audiences.find((a) => {
      try {
        return new URL(a).host.toLowerCase() === host;
      } catch {
        return false;
      }
    }) ??
    audiences.find((a) => /management\.azure\.com/i.test(a)) ??
    audiences[0] ??
    'https://management.azure.com/';
  const armScope = `${audience.replace(/\/+$/, '')}/.default`;
  const authorityHost = login.replace(/\/+$/, '');
  return {
    resourceManager: base,
    authorityHost,
    armScope,
    storageScope: 'https://storage.azure.com/.default',
    isPublicCloud: /^https:\/\/login\.microsoftonline\.com$/i.test(authorityHost),
    name: chosen.name ?? 'custom',
  };
}

export async function discoverCloud(
  http: HttpClient,
  endpoint: string,
  deadline?: number,
): Promise<CloudEndpoints> {
  const base = endpoint.replace(/\/+$/, '');
  const url = `${base}/metadata/endpoints?api-version=2022-09-01`;
  let res;
  try {
    res = await http.request({ method: 'GET', url, service: 'Resource Manager', deadline, maxAttempts: 4 });
  } catch (err) {
    throw new RunpackError(
      'cloud-metadata',
      `Could not read the cloud metadata from ${base}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  if (res.status !== 200)
    throw new RunpackError(
      'cloud-metadata',
      `${base}/metadata/endpoints answered ${res.status}; check resource-manager-endpoint (it must be a Resource Manager URL such as https://management.azure.com).`,
    );
  let doc: MetadataDocument | MetadataDocument[];
  try {
    doc = res.json<MetadataDocument | MetadataDocument[]>();
  } catch {
    throw new RunpackError(
      'cloud-metadata',
      `${base}/metadata/endpoints did not return JSON; check resource-manager-endpoint.`,
    );
  }
  return endpointsFromMetadata(base, doc);
}
