/**
 * Blob Storage for package releases, over @azure/storage-blob (streaming, parallel blocks, bounded memory).
 * Auth: an Entra token for storage when the principal can write (works with shared key disabled), else the
 * account key from listKeys. Errors become one line with the storage error code and the fix.
 */
import {
  BlobServiceClient,
  StorageSharedKeyCredential,
  type ContainerClient,
  type PublicAccessType,
  type SignedIdentifier,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import type { TokenCredential } from '@azure/identity';
import { RunpackError } from '../util/errors.js';

export interface BlobMeta {
  etag: string;
  size: number;
  metadata: Record<string, string>;
  contentMd5?: string;
}

export interface UploadOptions {
  metadata: Record<string, string>;
  /** MD5 of the file (stored as Content-MD5 so reads can check it). */
  md5?: Buffer;
  onProgress?: (loadedBytes: number) => void;
  abortSignal?: AbortSignal;
}

export interface BlobStore {
  readonly accountName: string;
  /** How runpack itself talks to storage. */
  readonly auth: 'entra' | 'key';
  /** The account key, when it was needed (SAS signing). */
  readonly accountKey?: string;
  blobUrl(container: string, blob: string): string;
  ensureContainer(container: string): Promise<void>;
  getBlob(container: string, blob: string): Promise<BlobMeta | null>;
  uploadFile(container: string, blob: string, path: string, options: UploadOptions): Promise<BlobMeta>;
  copyBlob(container: string, from: string, to: string): Promise<BlobMeta>;
  getPolicies(
    container: string,
  ): Promise<{ identifiers: SignedIdentifier[]; publicAccess?: PublicAccessType }>;
  setPolicies(
    container: string,
    identifiers: SignedIdentifier[],
    publicAccess?: PublicAccessType,
  ): Promise<void>;
}

interface RestLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
  details?: { errorCode?: string };
}

/** One-line explanation of a storage failure. */
export function storageFailure(err: unknown, what: string, account: string): RunpackError {
  if (err instanceof RunpackError) return err;
  const e = (err ?? {}) as RestLikeError;
  const code = e.details?.errorCode ?? e.code ?? '';
  const status = e.statusCode;
  const base = `Blob Storage refused to ${what} in account ${account}`;
  switch (code) {
    case 'KeyBasedAuthenticationNotPermitted':
      return new RunpackError(
        'shared-key-disabled',
        `${base}: shared key access is disabled on the account (KeyBasedAuthenticationNotPermitted); use package-access: identity and give the deploying principal Storage Blob Data Contributor.`,
      );
    case 'AuthorizationPermissionMismatch':
      return new RunpackError(
        'storage-forbidden',
        `${base}: the principal lacks a data role (AuthorizationPermissionMismatch); grant it Storage Blob Data Contributor on the account, or allow listKeys.`,
      );
    case 'AuthorizationFailure':
      return new RunpackError(
        'storage-network',
        `${base}: blocked by the account's network rules (AuthorizationFailure); allow the runner's address or use a self-hosted runner inside the network.`,
      );
    case 'AuthenticationFailed':
      return new RunpackError(
        'storage-auth',
        `${base}: authentication failed (AuthenticationFailed); check the login and the account key.`,
      );
    default:
      return new RunpackError(
        'storage-error',
        `${base}${status ? ` (${status}${code ? ` ${code}` : ''})` : ''}: ${(e.message ?? String(err)).split('\n')[0].slice(0, 200)}`,
        { cause: err },
      );
  }
}

export function isForbidden(err: unknown): boolean {
  const e = (err ?? {}) as RestLikeError;
  return e.statusCode === 403 || e.statusCode === 401;
}

const pipelineOptions: StoragePipelineOptions = {
  retryOptions: {
    maxTries: 5,
    retryDelayInMs: 1000,
    maxRetryDelayInMs: 20_000,
    tryTimeoutInMs: 10 * 60 * 1000,
  },
};

function normaliseEndpoint(blobEndpoint: string): string {
  return blobEndpoint.replace(/\/+$/, '');
}

function storeFor(
  service: BlobServiceClient,
  accountName: string,
  auth: 'entra' | 'key',
  accountKey?: string,
): BlobStore {
  const container = (name: string): ContainerClient => service.getContainerClient(name);
  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw storageFailure(err, what, accountName);
    }
  };
  const meta = (p: {
    etag?: string;
    contentLength?: number;
    metadata?: Record<string, string>;
    contentMD5?: Uint8Array;
  }): BlobMeta => ({
    etag: p.etag ?? '',
    size: p.contentLength ?? 0,
    metadata: p.metadata ?? {},
    contentMd5: p.contentMD5 ? Buffer.from(p.contentMD5).toString('base64') : undefined,
  });
  return {
    accountName,
    auth,
    accountKey,
    blobUrl: (c, b) => container(c).getBlobClient(b).url,
    ensureContainer: (c) =>
      wrap(`create container '${c}'`, async () => {
        // Look first: an existing container needs no write (an unchanged deploy makes no write calls).
        if (!(await container(c).exists())) await container(c).createIfNotExists();
      }),
    getBlob: (c, b) =>
      wrap(`read ${c}/${b}`, async () => {
        try {
          return meta(await container(c).getBlobClient(b).getProperties());
        } catch (err) {
          if ((err as RestLikeError).statusCode === 404) return null;
          throw err;
        }
      }),
    uploadFile: (c, b, path, o) =>
      wrap(`upload ${c}/${b}`, async () => {
        const client = container(c).getBlockBlobClient(b);
        await client.uploadFile(path, {
          blockSize: 8 * 1024 * 1024,
          concurrency: 4,
          metadata: o.metadata,
          blobHTTPHeaders: { blobContentType: 'application/zip', blobContentMD5: o.md5 },
          onProgress: o.onProgress ? (p) => o.onProgress?.(p.loadedBytes) : undefined,
          abortSignal: o.abortSignal,
        });
        return meta(await client.getProperties());
      }),
    copyBlob: (c, from, to) =>
      wrap(`copy ${c}/${from} to ${c}/${to}`, async () => {
        const source = container(c).getBlobClient(from);
        const target = container(c).getBlobClient(to);
        const poller = await target.beginCopyFromURL(source.url, { intervalInMs: 500 });
        await poller.pollUntilDone();
        return meta(await target.getProperties());
      }),
    getPolicies: (c) =>
      wrap(`read the access policies of container '${c}'`, async () => {
        const res = await container(c).getAccessPolicy();
        return { identifiers: res.signedIdentifiers ?? [], publicAccess: res.blobPublicAccess };
      }),
    setPolicies: (c, identifiers, publicAccess) =>
      wrap(`write the access policies of container '${c}'`, async () => {
        await container(c).setAccessPolicy(publicAccess, identifiers);
      }),
  };
}

export interface OpenBlobStoreOptions {
  accountName: string;
  blobEndpoint: string;
  /** Entra credential (storage scope) of the deploying principal. */
  credential: TokenCredential;
  allowSharedKeyAccess: boolean;
  /** Account keys via Resource Manager listKeys. */
  getKeys: () => Promise<string[]>;
  /** Container to probe write access with. */
  container: string;
  /** The account key is needed anyway (SAS signing): go straight to it. */
  preferKey: boolean;
  log?: (line: string) => void;
  /** Registers secrets (the account key). */
  addSecret: (value: string) => void;
}

/** Opens the account with the best auth that can write to the container. */
export async function openBlobStore(o: OpenBlobStoreOptions): Promise<BlobStore> {
  const endpoint = normaliseEndpoint(o.blobEndpoint);
  const withKey = async (why: string): Promise<BlobStore> => {
    if (!o.allowSharedKeyAccess)
      throw new RunpackError(
        'shared-key-disabled',
        `Storage account ${o.accountName} has shared key access disabled, and ${why}; use package-access: identity and give the deploying principal Storage Blob Data Contributor on the account.`,
      );
    let keys: string[];
    try {
      keys = await o.getKeys();
    } catch (err) {
      if (err instanceof RunpackError)
        throw new RunpackError(err.code, `${err.message.replace(/\.$/, '')} (needed because ${why}).`);
      throw err;
    }
    const key = keys[0];
    if (!key)
      throw new RunpackError(
        'storage-keys',
        `listKeys returned no key for ${o.accountName}; check the account.`,
      );
    o.addSecret(key);
    const service = new BlobServiceClient(
      endpoint,
      new StorageSharedKeyCredential(o.accountName, key),
      pipelineOptions,
    );
    const store = storeFor(service, o.accountName, 'key', key);
    await store.ensureContainer(o.container);
    return store;
  };

  if (o.preferKey) return withKey('package-access: sas needs the account key to sign the SAS');
  const service = new BlobServiceClient(endpoint, o.credential, pipelineOptions);
  const store = storeFor(service, o.accountName, 'entra');
  try {
    const c = service.getContainerClient(o.container);
    if (!(await c.exists())) await c.createIfNotExists();
    return store;
  } catch (err) {
    if (!isForbidden(err)) throw storageFailure(err, `create container '${o.container}'`, o.accountName);
    const code = (err as RestLikeError).details?.errorCode ?? (err as RestLikeError).code ?? '';
    if (code === 'AuthorizationFailure')
      throw storageFailure(err, `create container '${o.container}'`, o.accountName);
    o.log?.(
      `The login has no data role on ${o.accountName} (${code || 'forbidden'}); using the account key.`,
    );
    return withKey('the login has no data role to write blobs with its token');
  }
}
