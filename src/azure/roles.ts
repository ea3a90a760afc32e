/**
 * Pure: Azure RBAC facts runpack checks, in one place for the deploy engine and diagnose: which role definitions
 * can read (and write) blobs, and whether an assignment's scope covers a resource.
 */

/** Role definition ids that can read blobs: Storage Blob Data Reader, Contributor, Owner. */
export const BLOB_READ_ROLE_IDS = [
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
];

/**
 * A role assignment scope covers a resource when it is the resource or one of its parents, segment by segment:
 * a role on resource group `rg` covers nothing in `rg2`.
 */
export function scopeCovers(scope: string, resourceId: string): boolean {
  const s = scope.toLowerCase().replace(/\/+$/, '');
  const r = resourceId.toLowerCase();
  return s === '' || r === s || r.startsWith(`${s}/`);
}

/** Whether an assignment gives `principalId` one of `roles` over the blobs of `container` in `accountId`. */
function grantsOnContainer(
  roles: readonly string[],
  a: { principalId: string; roleDefinitionId: string; scope: string },
  principalId: string,
  accountId: string,
  container: string,
): boolean {
  return (
    a.principalId === principalId &&
    roles.some((r) => a.roleDefinitionId.toLowerCase().endsWith(r)) &&
    scopeCovers(a.scope, `${accountId}/blobServices/default/containers/${container}`)
  );
}

/** Whether an assignment lets `principalId` read the blobs of `container` in the storage account `accountId`. */
export function grantsBlobRead(
  a: { principalId: string; roleDefinitionId: string; scope: string },
  principalId: string,
  accountId: string,
  container: string,
): boolean {
  return grantsOnContainer(BLOB_READ_ROLE_IDS, a, principalId, accountId, container);
}

/** Role definition ids that can write blobs: Storage Blob Data Contributor, Owner. */
export const BLOB_WRITE_ROLE_IDS = [
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
];

/** Whether an assignment lets `principalId` write the blobs of `container` (a Flex app's deployment storage). */
export function grantsBlobWrite(
  a: { principalId: string; roleDefinitionId: string; scope: string },
  principalId: string,
  accountId: string,
  container: string,
): boolean {
  return grantsOnContainer(BLOB_WRITE_ROLE_IDS, a, principalId, accountId, container);
}
