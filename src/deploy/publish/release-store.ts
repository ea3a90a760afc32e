/**
 * runpack's release store: the storage account and container where the immutable release blobs live (URL mode's
 * package blobs; Flex Consumption's releases kept for rollback), opened with the login's token first.
 */
import type { StorageAccountInfo } from '../../azure/arm.js';
import { openBlobStore, type ReleaseBlobStore } from '../../azure/blob.js';
import { maskingCredential, type AuthSession } from '../../azure/credentials.js';
import { RunpackError } from '../../util/errors.js';
import type { Plan } from '../plan.js';
import type { DeployContext } from '../types.js';

/** The storage account of the package blobs, or one line saying it is not visible to the login. */
export async function findAccount(ctx: DeployContext): Promise<StorageAccountInfo> {
  const { inputs, target, arm } = ctx;
  const account = await arm.findStorageAccount(target.ref.subscriptionId, inputs.storageAccount!);
  if (!account)
    throw new RunpackError(
      'storage-not-found',
      `Storage account ${inputs.storageAccount} was not found in subscription ${target.ref.subscriptionId}; check storage-account (the login needs Reader on it).`,
    );
  return account;
}

/** Opens the release store of the account (Entra token first; the key when SAS access needs it). */
export function openStore(
  ctx: DeployContext,
  session: AuthSession,
  account: StorageAccountInfo,
  plan: Plan,
  o: { preferKey: boolean; createContainer?: boolean },
): Promise<ReleaseBlobStore> {
  return openBlobStore({
    accountName: account.name,
    blobEndpoint: account.blobEndpoint,
    credential: maskingCredential(session.credential, ctx.secrets),
    allowSharedKeyAccess: account.allowSharedKeyAccess,
    getKeys: () => ctx.arm.listStorageAccountKeys(account.id),
    container: plan.container,
    preferKey: o.preferKey,
    ...(o.createContainer === false ? { createContainer: false } : {}),
    log: (l) => ctx.log.info(l),
    addSecret: (v) => ctx.secrets.add(v),
  });
}
