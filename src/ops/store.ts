/**
 * Blob access for the operator tools, over @azure/storage-blob: list release blobs with their metadata, read
 * stored access policies, copy a release onto the stable name and delete releases, every write conditional on
 * the ETag seen. Reads never create anything (no container creation). Auth: the login's Entra token, or the
 * account key from Resource Manager's listKeys when the login has no data role.
 */
import {
  BlobServiceClient,
  StorageSharedKeyCredential,
  type ContainerClient,
  type SignedIdentifier,
} from '@azure/storage-blob';
import type { TokenCredential } from '@azure/identity';
import { storageFailure } from '../azure/blob.js';
import { maskingCredential } from '../azure/credentials.js';
import type { SecretRegistry } from '../report/secrets.js';
import { RunpackError } from '../util/errors.js';
import type { BlobItem } from './releases.js';
import type { DeleteOutcome, ReleaseDeleter } from './retention.js';

export interface ReleaseStore extends ReleaseDeleter {
  readonly accountName: string;
  readonly blobEndpoint: string;
  blobUrl(container: string, blob: string): string;
  /** Blobs under a prefix, with metadata. An empty list when the container does not exist. */
  list(container: string, prefix: string): Promise<BlobItem[]>;
  get(container: string, blob: string): Promise<BlobItem | null>;
  getPolicies(container: string): Promise<SignedIdentifier[]>;
  /**
   * Server-side copy of `from` onto `to`, only while `to` still has `ifMatch` (or does not exist when
   * ifMatch is null). Throws RunpackError `release-target-changed` when someone else wrote it meanwhile.
   */
  copy(container: string, from: string, to: string, ifMatch: string | null): Promise<BlobItem>;
  /** Range read of a blob (for the zip reader). */
  readRange(container: string, blob: string, offset: number, count: number): Promise<Buffer>;
  /** Download a blob to a local file. */
  download(container: string, blob: string, path: string): Promise<void>;
}

interface RestError {
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
}

const codeOf = (err: unknown) => {
  const e = (err ?? {}) as RestError;
  return e.details?.errorCode ?? e.code ?? '';
};
const statusOf = (err: unknown) => ((err ?? {}) as RestError).statusCode;

function toItem(
  name: string,
  p: {
    etag?: string;
    contentLength?: number;
    lastModified?: Date;
    metadata?: Record<string, string>;
  },
): BlobItem {
  return {
    name,
    size: p.contentLength ?? 0,
    etag: p.etag ?? '',
    lastModified: p.lastModified ? p.lastModified.toISOString() : undefined,
    metadata: p.metadata ?? {},
  };
}

function storeOver(service: BlobServiceClient, accountName: string): ReleaseStore {
  const container = (c: string): ContainerClient => service.getContainerClient(c);
  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw storageFailure(err, what, accountName);
    }
  };
  return {
    accountName,
    blobEndpoint: service.url,
    blobUrl: (c, b) => container(c).getBlobClient(b).url,
    list: (c, prefix) =>
      wrap(`list ${c}/${prefix}`, async () => {
        const out: BlobItem[] = [];
        try {
          for await (const b of container(c).listBlobsFlat({ prefix, includeMetadata: true })) {
            out.push(toItem(b.name, b.properties));
            out[out.length - 1].metadata = b.metadata ?? {};
          }
        } catch (err) {
          if (codeOf(err) === 'ContainerNotFound') return [];
          throw err;
        }
        return out;
      }),
    get: (c, b) =>
      wrap(`read ${c}/${b}`, async () => {
        try {
          return toItem(b, await container(c).getBlobClient(b).getProperties());
        } catch (err) {
          if (statusOf(err) === 404) return null;
          throw err;
        }
      }),
    getPolicies: (c) =>
      wrap(`read the access policies of container '${c}'`, async () => {
        const res = await container(c).getAccessPolicy();
        return res.signedIdentifiers ?? [];
      }),
    copy: async (c, from, to, ifMatch) => {
      const source = container(c).getBlobClient(from);
      const target = container(c).getBlobClient(to);
      try {
        const poller = await target.beginCopyFromURL(source.url, {
          intervalInMs: 500,
          conditions: ifMatch ? { ifMatch } : { ifNoneMatch: '*' },
        });
        await poller.pollUntilDone();
        return toItem(to, await target.getProperties());
      } catch (err) {
        if (statusOf(err) === 412 || codeOf(err) === 'ConditionNotMet' || codeOf(err) === 'BlobAlreadyExists')
          throw new RunpackError(
            'release-target-changed',
            `${c}/${to} changed while the rollback was being prepared (another deployment wrote it); nothing was copied — run the rollback again.`,
          );
        throw storageFailure(err, `copy ${c}/${from} to ${c}/${to}`, accountName);
      }
    },
    readRange: (c, b, offset, count) =>
      wrap(`read ${c}/${b}`, async () => container(c).getBlobClient(b).downloadToBuffer(offset, count)),
    download: (c, b, path) =>
      wrap(`download ${c}/${b}`, async () => {
        await container(c).getBlobClient(b).downloadToFile(path);
      }),
    deleteIfMatch: async (c, b, etag): Promise<DeleteOutcome> => {
      try {
        await container(c)
          .getBlobClient(b)
          .delete({ conditions: { ifMatch: etag } });
        return 'deleted';
      } catch (err) {
        if (statusOf(err) === 412 || codeOf(err) === 'ConditionNotMet') return 'changed';
        if (statusOf(err) === 404) return 'missing';
        throw storageFailure(err, `delete ${c}/${b}`, accountName);
      }
    },
  };
}

export interface OpenReleaseStoreOptions {
  accountName: string;
  blobEndpoint: string;
  allowSharedKeyAccess: boolean;
  credential: TokenCredential;
  getKeys: () => Promise<string[]>;
  secrets: SecretRegistry;
  /** A container to probe the token with. */
  container: string;
  log?: (line: string) => void;
}

/**
 * Opens the account with the login's token when it can read the container, else with the account key.
 * Probing is a read (list with a one-item page), never a write.
 */
export async function openReleaseStore(o: OpenReleaseStoreOptions): Promise<ReleaseStore> {
  const endpoint = o.blobEndpoint.replace(/\/+$/, '');
  const tokenService = new BlobServiceClient(endpoint, maskingCredential(o.credential, o.secrets), {
    retryOptions: { maxTries: 3 },
  });
  try {
    const it = tokenService.getContainerClient(o.container).listBlobsFlat().byPage({ maxPageSize: 1 });
    await it.next();
    return storeOver(tokenService, o.accountName);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ContainerNotFound') return storeOver(tokenService, o.accountName);
    if (statusOf(err) !== 403 && statusOf(err) !== 401)
      throw storageFailure(err, `list container '${o.container}'`, o.accountName);
    if (code === 'AuthorizationFailure')
      throw storageFailure(err, `list container '${o.container}'`, o.accountName);
    if (!o.allowSharedKeyAccess)
      throw new RunpackError(
        'storage-forbidden',
        `The login has no data role on storage account ${o.accountName} and shared key access is disabled; grant it Storage Blob Data Reader (Contributor for rollback and pruning) on the account.`,
      );
    o.log?.(
      `The login has no data role on ${o.accountName} (${code || 'forbidden'}); using the account key.`,
    );
    const keys = await o.getKeys();
    const key = keys[0];
    if (!key)
      throw new RunpackError(
        'storage-keys',
        `listKeys returned no key for ${o.accountName}; check the account.`,
      );
    o.secrets.add(key);
    const keyService = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(o.accountName, key), {
      retryOptions: { maxTries: 3 },
    });
    return storeOver(keyService, o.accountName);
  }
}
