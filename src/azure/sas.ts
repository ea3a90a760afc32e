/**
 * Package SAS decisions (pure) and the SAS URL builder. The SAS in WEBSITE_RUN_FROM_PACKAGE is a read-only,
 * HTTPS-only service SAS scoped to one blob and bound to a stored access policy on the container, so it can be
 * extended or revoked without redeploying. Never a user delegation SAS: those expire within 7 days.
 */
import {
  BlobSASPermissions,
  generateBlobSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
  type SignedIdentifier,
} from '@azure/storage-blob';
import { RunpackError } from '../util/errors.js';

export const MAX_POLICIES_PER_CONTAINER = 5;
const DAY = 24 * 60 * 60 * 1000;

/** Stored access policy id for an app or slot: `runpack-<app>[-<slot>]`, at most 64 characters. */
export function policyIdFor(appName: string, slot?: string | null): string {
  const id = `runpack-${appName}${slot ? `-${slot}` : ''}`.toLowerCase();
  return id.length <= 64 ? id : id.slice(0, 64);
}

export interface PolicyDecision {
  action: 'keep' | 'create' | 'renew';
  /** The full list to write back (other policies kept as they were); equal to the input for `keep`. */
  identifiers: SignedIdentifier[];
  expiresOn: Date;
  reason: string;
}

/**
 * Keep the policy while more than a third of its lifetime is left and it grants read; otherwise create or renew
 * it with `expiryDays` from now. Other policies are never touched; a full container (5 policies) is an error.
 */
export function decidePolicy(
  existing: SignedIdentifier[],
  id: string,
  now: Date,
  expiryDays: number,
  container: string,
): PolicyDecision {
  const current = existing.find((s) => s.id === id);
  const wanted = new Date(now.getTime() + expiryDays * DAY);
  const fresh = (): SignedIdentifier => ({
    id,
    accessPolicy: { startsOn: new Date(now.getTime() - 5 * 60 * 1000), expiresOn: wanted, permissions: 'r' },
  });
  if (!current) {
    if (existing.length >= MAX_POLICIES_PER_CONTAINER)
      throw new RunpackError(
        'sas-policy-full',
        `Container '${container}' already has ${existing.length} stored access policies (${existing.map((s) => s.id).join(', ')}), the most Azure allows; remove one, use another container, or use package-access: identity.`,
      );
    return {
      action: 'create',
      identifiers: [...existing, fresh()],
      expiresOn: wanted,
      reason: 'no policy yet',
    };
  }
  const expiresOn = current.accessPolicy?.expiresOn ? new Date(current.accessPolicy.expiresOn) : undefined;
  const perms = current.accessPolicy?.permissions ?? '';
  const left = expiresOn ? expiresOn.getTime() - now.getTime() : -1;
  const readable = perms.includes('r');
  if (expiresOn && readable && left > (expiryDays * DAY) / 3) {
    return {
      action: 'keep',
      identifiers: existing,
      expiresOn,
      reason: `valid until ${expiresOn.toISOString()}`,
    };
  }
  const reason = !readable
    ? 'it does not grant read'
    : left <= 0
      ? 'it has expired'
      : `it expires on ${expiresOn?.toISOString()}`;
  return {
    action: 'renew',
    identifiers: existing.map((s) => (s.id === id ? fresh() : s)),
    expiresOn: wanted,
    reason,
  };
}

/** The blob URL with a service SAS bound to the stored access policy (sr=b, spr=https, si=<policy>). */
export function buildPolicySasUrl(
  blobUrl: string,
  accountName: string,
  accountKey: string,
  container: string,
  blobName: string,
  policyId: string,
): string {
  const credential = new StorageSharedKeyCredential(accountName, accountKey);
  const query = generateBlobSASQueryParameters(
    { containerName: container, blobName, identifier: policyId, protocol: SASProtocol.Https },
    credential,
  ).toString();
  return `${blobUrl}?${query}`;
}

/**
 * A short-lived read SAS for runpack's own check of a blob (never written to a setting): used when the app reads
 * the package with its identity but runpack itself holds only the account key.
 */
export function buildShortReadSasUrl(
  blobUrl: string,
  accountName: string,
  accountKey: string,
  container: string,
  blobName: string,
  now: Date,
  minutes = 15,
): string {
  const credential = new StorageSharedKeyCredential(accountName, accountKey);
  const query = generateBlobSASQueryParameters(
    {
      containerName: container,
      blobName,
      permissions: BlobSASPermissions.parse('r'),
      startsOn: new Date(now.getTime() - 5 * 60 * 1000),
      expiresOn: new Date(now.getTime() + minutes * 60 * 1000),
      protocol: SASProtocol.Https,
    },
    credential,
  ).toString();
  return `${blobUrl}?${query}`;
}

/** Parts of a SAS URL that matter for a decision (no signature). */
export function describeSas(url: string): {
  policy?: string;
  expiry?: string;
  permissions?: string;
  isSas: boolean;
  userDelegation: boolean;
} {
  try {
    const q = new URL(url).searchParams;
    return {
      policy: q.get('si') ?? undefined,
      expiry: q.get('se') ?? undefined,
      permissions: q.get('sp') ?? undefined,
      isSas: q.has('sig'),
      userDelegation: q.has('skoid') || q.has('ske'),
    };
  } catch {
    return { isSas: false, userDelegation: false };
  }
}
