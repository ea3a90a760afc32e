/**
 * Blob Storage for package releases, over @azure/storage-blob (streaming, parallel blocks, bounded memory).
 * Auth: an Entra token for storage when the principal can write (works with shared key disabled), else the
 * account key from listKeys. Errors become one line with the storage error code and the fix.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import {
  BlobServiceClient,
  StorageSharedKeyCredential,
  type BlockBlobClient,
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

/** A blob as a listing or a properties read sees it. */
export interface BlobItem extends BlobMeta {
  name: string;
  /** ISO 8601. */
  lastModified?: string;
}

export interface UploadOptions {
  metadata: Record<string, string>;
  onProgress?: (loadedBytes: number) => void;
  abortSignal?: AbortSignal;
}

/** A held lease: renew it before it expires, release it when done (both best effort after a failure). */
export interface BlobLease {
  readonly leaseId: string;
  renew(): Promise<void>;
  release(): Promise<void>;
}

/** What a conditional delete found: deleted, changed since it was read (412, left alone), or already gone. */
export type DeleteOutcome = 'deleted' | 'changed' | 'missing';

/** The deploy's view of the release container. */
export interface BlobStore {
  readonly accountName: string;
  /** How runpack itself talks to storage. */
  readonly auth: 'entra' | 'key';
  /** The account key, when it was needed (SAS signing). */
  readonly accountKey?: string;
  blobUrl(container: string, blob: string): string;
  /** Creates the container when it is missing (a write only then). */
  ensureContainer(container: string): Promise<void>;
  getBlob(container: string, blob: string): Promise<BlobMeta | null>;
  uploadFile(container: string, blob: string, path: string, options: UploadOptions): Promise<BlobMeta>;
  /** Server-side copy within the container, unconditional. */
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

/** The whole store: the deploy's calls plus the reads and conditional writes the operator commands need. */
export interface ReleaseBlobStore extends BlobStore {
  /** The account's blob endpoint without a trailing slash. */
  readonly blobEndpoint: string;
  /** Properties of a blob (null when it does not exist). */
  getBlob(container: string, blob: string): Promise<BlobItem | null>;
  copyBlob(container: string, from: string, to: string): Promise<BlobItem>;
  /** Blobs under a prefix, with their metadata. Empty when the container does not exist. */
  list(container: string, prefix: string): Promise<BlobItem[]>;
  /**
   * Server-side copy of `from` onto `to`, only while `to` still has the ETag `ifMatch` (or does not exist,
   * when ifMatch is null). Throws RunpackError `release-target-changed` when another writer got there first.
   */
  copyIfMatch(container: string, from: string, to: string, ifMatch: string | null): Promise<BlobItem>;
  /** Deletes a blob only while its ETag is still `etag`. */
  deleteIfMatch(container: string, blob: string, etag: string): Promise<DeleteOutcome>;
  /** `count` bytes from `offset` (a ranged GET). */
  readRange(container: string, blob: string, offset: number, count: number): Promise<Buffer>;
  /** Downloads a blob to a local file. */
  download(container: string, blob: string, path: string): Promise<void>;
  /**
   * Tries once to take a lease on `blob` (created empty when missing) for `seconds` (15–60), recording `holder`
   * in its metadata: the lease, or who holds it now (their metadata) when another lease is active.
   */
  tryLease(
    container: string,
    blob: string,
    seconds: number,
    holder: Record<string, string>,
  ): Promise<{ lease: BlobLease } | { heldBy: Record<string, string> }>;
  /**
   * Adds metadata to a blob (its other metadata kept), only while its ETag is still `etag`: 'changed' when
   * another writer got there first, 'missing' when it is gone.
   */
  addMetadataIfMatch(
    container: string,
    blob: string,
    metadata: Record<string, string>,
    etag: string,
  ): Promise<'written' | DeleteOutcome>;
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
  // No answer at all: the connection failed on the way (reset, refused, timed out, name not resolved, TLS).
  const network =
    /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|ECONNABORTED|REQUEST_SEND_ERROR)$/.test(
      code,
    ) ||
    (!status && /socket hang up|ECONNRESET|ECONNREFUSED|ETIMEDOUT|ENOTFOUND/i.test(e.message ?? ''));
  if (network) {
    const why = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|socket hang up/i.exec(
      `${code} ${e.message ?? ''}`,
    )?.[0];
    return new RunpackError(
      'storage-unreachable',
      `The connection to Blob Storage (account ${account}) failed while trying to ${what}${why ? ` (${why})` : ''}, after retries; nothing was switched, so the previous release stays live — check the runner's network, proxy and firewall to the storage account, then run the deploy again.`,
      { cause: err },
    );
  }
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

const codeOf = (err: unknown): string => {
  const e = (err ?? {}) as RestLikeError;
  return e.details?.errorCode ?? e.code ?? '';
};
const statusOf = (err: unknown): number | undefined => ((err ?? {}) as RestLikeError).statusCode;
const isConditionFailure = (err: unknown): boolean =>
  statusOf(err) === 412 || codeOf(err) === 'ConditionNotMet' || codeOf(err) === 'BlobAlreadyExists';

function itemOf(
  name: string,
  p: {
    etag?: string;
    contentLength?: number;
    lastModified?: Date;
    metadata?: Record<string, string>;
    contentMD5?: Uint8Array;
  },
): BlobItem {
  return {
    name,
    etag: p.etag ?? '',
    size: p.contentLength ?? 0,
    lastModified: p.lastModified ? p.lastModified.toISOString() : undefined,
    metadata: p.metadata ?? {},
    contentMd5: p.contentMD5 ? Buffer.from(p.contentMD5).toString('base64') : undefined,
  };
}

function storeFor(
  service: BlobServiceClient,
  accountName: string,
  auth: 'entra' | 'key',
  accountKey?: string,
): ReleaseBlobStore {
  const container = (name: string): ContainerClient => service.getContainerClient(name);
  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw storageFailure(err, what, accountName);
    }
  };
  /** Server-side copy; `conditions` on the destination. */
  const copy = async (
    c: string,
    from: string,
    to: string,
    conditions?: { ifMatch?: string; ifNoneMatch?: string },
  ): Promise<BlobItem> => {
    const target = container(c).getBlobClient(to);
    const poller = await target.beginCopyFromURL(container(c).getBlobClient(from).url, {
      intervalInMs: 500,
      conditions,
    });
    await poller.pollUntilDone();
    return itemOf(to, await target.getProperties());
  };
  return {
    accountName,
    auth,
    accountKey,
    blobEndpoint: service.url.replace(/\/+$/, ''),
    blobUrl: (c, b) => container(c).getBlobClient(b).url,
    ensureContainer: (c) =>
      wrap(`create container '${c}'`, async () => {
        // Look first: an existing container needs no write (an unchanged deploy makes no write calls).
        if (!(await container(c).exists())) await container(c).createIfNotExists();
      }),
    getBlob: (c, b) =>
      wrap(`read ${c}/${b}`, async () => {
        try {
          return itemOf(b, await container(c).getBlobClient(b).getProperties());
        } catch (err) {
          if (statusOf(err) === 404) return null;
          throw err;
        }
      }),
    list: (c, prefix) =>
      wrap(`list ${c}/${prefix}`, async () => {
        const out: BlobItem[] = [];
        try {
          for await (const b of container(c).listBlobsFlat({ prefix, includeMetadata: true }))
            out.push({ ...itemOf(b.name, b.properties), metadata: b.metadata ?? {} });
        } catch (err) {
          if (codeOf(err) === 'ContainerNotFound') return [];
          throw err;
        }
        return out;
      }),
    uploadFile: (c, b, path, o) =>
      wrap(`upload ${c}/${b}`, () => uploadBlocks(container(c).getBlockBlobClient(b), b, path, o)),
    copyBlob: (c, from, to) => wrap(`copy ${c}/${from} to ${c}/${to}`, () => copy(c, from, to)),
    copyIfMatch: async (c, from, to, ifMatch) => {
      try {
        return await copy(c, from, to, ifMatch ? { ifMatch } : { ifNoneMatch: '*' });
      } catch (err) {
        if (isConditionFailure(err))
          throw new RunpackError(
            'release-target-changed',
            `${c}/${to} changed after it was read (another deployment wrote it); nothing was copied — run the command again.`,
          );
        throw storageFailure(err, `copy ${c}/${from} to ${c}/${to}`, accountName);
      }
    },
    deleteIfMatch: async (c, b, etag) => {
      try {
        await container(c)
          .getBlobClient(b)
          .delete({ conditions: { ifMatch: etag } });
        return 'deleted';
      } catch (err) {
        if (statusOf(err) === 404) return 'missing';
        // A blob deleted meanwhile can fail the If-Match too (412): tell that from one rewritten.
        if (isConditionFailure(err))
          return (await container(c)
            .getBlobClient(b)
            .exists()
            .catch(() => true))
            ? 'changed'
            : 'missing';
        throw storageFailure(err, `delete ${c}/${b}`, accountName);
      }
    },
    tryLease: async (c, b, seconds, holder) => {
      const client = container(c).getBlockBlobClient(b);
      try {
        await client.upload('', 0, { conditions: { ifNoneMatch: '*' } });
      } catch (err) {
        // Already there (409 BlobAlreadyExists, or 412 when it is leased): fine, the lease decides.
        if (!isConditionFailure(err) && statusOf(err) !== 409)
          throw storageFailure(err, `create the lock blob ${c}/${b}`, accountName);
      }
      const leaseClient = client.getBlobLeaseClient();
      try {
        await leaseClient.acquireLease(seconds);
      } catch (err) {
        if (statusOf(err) === 409) {
          const props = await client.getProperties().catch(() => null);
          return { heldBy: props?.metadata ?? {} };
        }
        throw storageFailure(err, `lease the lock blob ${c}/${b}`, accountName);
      }
      const leaseId = leaseClient.leaseId;
      await client.setMetadata(holder, { conditions: { leaseId } }).catch(() => undefined);
      return {
        lease: {
          leaseId,
          renew: async () => {
            await leaseClient.renewLease();
          },
          release: async () => {
            await leaseClient.releaseLease();
          },
        },
      };
    },
    addMetadataIfMatch: async (c, b, metadata, etag) => {
      const client = container(c).getBlobClient(b);
      try {
        const props = await client.getProperties({ conditions: { ifMatch: etag } });
        await client.setMetadata(
          { ...(props.metadata ?? {}), ...metadata },
          { conditions: { ifMatch: etag } },
        );
        return 'written';
      } catch (err) {
        if (statusOf(err) === 404) return 'missing';
        if (isConditionFailure(err)) return 'changed';
        throw storageFailure(err, `write the metadata of ${c}/${b}`, accountName);
      }
    },
    readRange: (c, b, offset, count) =>
      wrap(`read ${c}/${b}`, () => container(c).getBlobClient(b).downloadToBuffer(offset, count)),
    download: (c, b, path) =>
      wrap(`download ${c}/${b}`, async () => {
        await container(c).getBlobClient(b).downloadToFile(path);
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
  /** Entra credential (storage scope) of the principal; wrap it with maskingCredential. */
  credential: TokenCredential;
  allowSharedKeyAccess: boolean;
  /** Account keys via Resource Manager listKeys. */
  getKeys: () => Promise<string[]>;
  /** The container to probe access with. */
  container: string;
  /** The account key is needed anyway (SAS signing): go straight to it. */
  preferKey: boolean;
  /**
   * Create the container while opening when it is missing (the deploy, which uploads next). Default true.
   * With false, opening is a read (a one-item listing) and never writes; a missing container is fine.
   */
  createContainer?: boolean;
  log?: (line: string) => void;
  /** Registers secrets (the account key). */
  addSecret: (value: string) => void;
}

/**
 * Opens the account with the login's token when it can use the container, else with the account key from
 * listKeys (when shared key access is allowed).
 */
export async function openBlobStore(o: OpenBlobStoreOptions): Promise<ReleaseBlobStore> {
  const endpoint = normaliseEndpoint(o.blobEndpoint);
  const create = o.createContainer ?? true;
  const role = create
    ? 'Storage Blob Data Contributor'
    : 'Storage Blob Data Reader (Contributor to roll back or prune)';
  const withKey = async (why: string): Promise<ReleaseBlobStore> => {
    if (!o.allowSharedKeyAccess)
      throw new RunpackError(
        'shared-key-disabled',
        `Storage account ${o.accountName} has shared key access disabled, and ${why}; ${create ? 'use package-access: identity and ' : ''}give the login ${role} on the account.`,
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
    if (create) await store.ensureContainer(o.container);
    return store;
  };

  if (o.preferKey) return withKey('package-access: sas needs the account key to sign the SAS');
  const service = new BlobServiceClient(endpoint, o.credential, pipelineOptions);
  const store = storeFor(service, o.accountName, 'entra');
  const what = create ? `create container '${o.container}'` : `list container '${o.container}'`;
  try {
    const c = service.getContainerClient(o.container);
    if (create) {
      if (!(await c.exists())) await c.createIfNotExists();
    } else {
      await c.listBlobsFlat().byPage({ maxPageSize: 1 }).next();
    }
    return store;
  } catch (err) {
    if (!create && codeOf(err) === 'ContainerNotFound') return store;
    if (!isForbidden(err)) throw storageFailure(err, what, o.accountName);
    const code = codeOf(err);
    if (code === 'AuthorizationFailure') throw storageFailure(err, what, o.accountName);
    o.log?.(
      `The login has no data role on ${o.accountName} (${code || 'forbidden'}); using the account key.`,
    );
    return withKey(`the login has no data role to ${create ? 'write' : 'read'} blobs with its token`);
  }
}

/** Block size and blocks in flight of an upload (a file of one block or less goes in a single request). */
const UPLOAD_BLOCK = 8 * 1024 * 1024;
const UPLOAD_PARALLEL = 4;

/**
 * Uploads a file as 8 MiB blocks, 4 in flight, and commits them with the file's MD5 as Content-MD5 (reads can
 * check it). Each block is read once, in order, with a positioned read into its own buffer: the MD5 is computed
 * from those reads (no pass over the file before the upload), and a retried block is resent from memory, so the
 * file is never reopened. When a block fails, or the caller aborts, every request still in flight is aborted and
 * has settled before this throws.
 */
async function uploadBlocks(
  client: BlockBlobClient,
  blob: string,
  path: string,
  o: UploadOptions,
): Promise<BlobMeta> {
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort();
  o.abortSignal?.addEventListener('abort', onOuterAbort, { once: true });
  // Aborted before the upload began (a cancellation during the hashing): upload nothing.
  if (o.abortSignal?.aborted) abort.abort();
  let file: FileHandle | undefined;
  const md5 = createHash('md5');
  const headers = (digest: Buffer) => ({ blobContentType: 'application/zip', blobContentMD5: digest });
  const readBlock = async (at: number, length: number): Promise<Buffer> => {
    const buf = Buffer.allocUnsafe(length);
    for (let done = 0; done < length;) {
      const { bytesRead } = await file!.read(buf, done, length - done, at + done);
      if (bytesRead === 0) throw new Error(`${path} became shorter while it was being uploaded`);
      done += bytesRead;
    }
    md5.update(buf);
    return buf;
  };
  const inflight = new Set<Promise<void>>();
  try {
    if (abort.signal.aborted)
      throw Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
    file = await open(path, 'r');
    const size = (await file.stat()).size;
    if (size <= UPLOAD_BLOCK) {
      const body = await readBlock(0, size);
      await client.upload(body, size, {
        metadata: o.metadata,
        blobHTTPHeaders: headers(md5.digest()),
        abortSignal: abort.signal,
      });
      o.onProgress?.(size);
    } else {
      const ids: string[] = [];
      let loaded = 0;
      let failure: unknown = null;
      for (let at = 0; at < size && failure === null; at += UPLOAD_BLOCK) {
        const length = Math.min(UPLOAD_BLOCK, size - at);
        const body = await readBlock(at, length);
        // Block ids of one length, as the service requires.
        const id = Buffer.from(`runpack-block-${String(ids.length).padStart(6, '0')}`).toString('base64');
        ids.push(id);
        const staged = client.stageBlock(id, body, length, { abortSignal: abort.signal }).then(
          () => {
            loaded += length;
            o.onProgress?.(loaded);
          },
          (err: unknown) => {
            failure ??= err;
            abort.abort();
          },
        );
        const tracked = staged.finally(() => inflight.delete(tracked));
        inflight.add(tracked);
        if (inflight.size >= UPLOAD_PARALLEL) await Promise.race(inflight);
      }
      await Promise.all(inflight);
      if (failure !== null) throw failure;
      await client.commitBlockList(ids, {
        metadata: o.metadata,
        blobHTTPHeaders: headers(md5.digest()),
        abortSignal: abort.signal,
      });
    }
  } catch (err) {
    abort.abort();
    await Promise.allSettled(inflight);
    throw err;
  } finally {
    o.abortSignal?.removeEventListener('abort', onOuterAbort);
    await file?.close();
  }
  return itemOf(blob, await client.getProperties());
}
