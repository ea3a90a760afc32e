/**
 * Contracts of the operator tools (diagnose, releases, retention, rollback). Collectors (I/O, read-only) fill an
 * Evidence record; pure rules turn it into Findings, each naming one of the failure causes runpack exists to
 * catch, the evidence it rests on and the fix.
 */
import type { ReleaseStamp } from '../package/types.js';

/**
 * The four causes of the field guide plus plain configuration problems:
 * a write into the read-only mount, a bad or expired SAS (or a bad URL), a mount blocked by a network rule,
 * a missing role or a malformed archive, a mode mismatch or stale content, and settings that fight
 * run-from-package.
 */
export type { Cause } from '../deploy/causes.js';
import type { Cause } from '../deploy/causes.js';

export type FindingSeverity = 'error' | 'warning' | 'info';

export interface OpsFinding {
  severity: FindingSeverity;
  cause: Cause;
  /** Stable, documented code (docs/operations.md). */
  code: string;
  /** What is wrong, one line. Never quotes a secret (setting values with a SAS are never shown). */
  message: string;
  /** What was observed that shows it. */
  evidence: string;
  /** How to fix it. */
  fix: string;
}

/** Parts of a SAS query that matter for a decision; the signature is never kept. */
export interface SasInfo {
  kind: 'service' | 'account' | 'user-delegation';
  /** sv */
  version?: string;
  /** sr: b blob, c container, ... */
  resource?: string;
  /** sp */
  permissions?: string;
  /** st (ISO) */
  start?: string;
  /** se (ISO) */
  expiry?: string;
  /** spr */
  protocol?: string;
  /** si: a stored access policy */
  policyId?: string;
  /** ske: user delegation key expiry */
  keyExpiry?: string;
  /** skoid: user delegation key owner */
  keyObjectId?: string;
  /** sig is present */
  signed: boolean;
}

/** The target, as Resource Manager describes it. */
export interface TargetEvidence {
  app: string;
  slot?: string;
  kind: string;
  isLinux: boolean;
  isFunctionApp: boolean;
  isFlex: boolean;
  isConsumption: boolean;
  linuxFxVersion: string;
  state: string;
}

/** Fetching the package the way the worker does (same URL and SAS; with the caller's token for an identity URL). */
export interface FetchEvidence {
  /** 0 when there was no answer. */
  status: number;
  errorCode?: string;
  /** Storage's AuthenticationErrorDetail or first message line. */
  detail?: string;
  /** How the probe authenticated. */
  as: 'sas' | 'caller-token' | 'anonymous';
  /** x-ms-meta-sha256 of the blob, when present. */
  sha256?: string;
  size?: number;
  /** Network failure text (status 0). */
  error?: string;
}

/** The package's central directory, read by range requests (never downloaded whole). */
export interface ArchiveEvidence {
  /** The archive could be opened at all. */
  opened: boolean;
  runtime?: string;
  entryPoint?: string | null;
  files?: number;
  problems: { code: string; severity: 'error' | 'warning'; message: string }[];
  stamp?: ReleaseStamp | null;
  /** Function names (function apps). */
  functions?: string[];
  /** Why it could not be read (network, not a zip). */
  error?: string;
}

export interface PolicyEvidence {
  id: string;
  container: string;
  exists: boolean;
  start?: string;
  expiry?: string;
  permissions?: string;
  /** The policies could not be read (no rights); the rules then say so instead of guessing. */
  error?: string;
}

export interface IdentityEvidence {
  systemPrincipalId: string | null;
  userAssigned: { resourceId: string; principalId: string }[];
  /** WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID as set (a resource id, not a secret). */
  miSetting?: string;
  /** The principal the worker will use, or null when none fits. */
  principalId: string | null;
  /** Storage Blob Data Reader (or wider) over the blob found for that principal. */
  role: 'found' | 'missing' | 'unknown';
  roleError?: string;
}

export interface StorageEvidence {
  account: string;
  container: string;
  blob: string;
  /** The account is one Resource Manager shows to the caller. */
  found: boolean;
  networkDefaultAction?: string;
  allowSharedKeyAccess?: boolean;
}

/** Local mode through Kudu. */
export interface LocalEvidence {
  /** packagename.txt's content, null when there is none. */
  packageName: string | null;
  /** Zips in data/SitePackages, or null when the folder could not be listed. */
  sitePackages: string[] | null;
  /** The stamp inside the stored package packagename.txt names (read by range requests through VFS). */
  packageStamp?: ReleaseStamp | null;
  packageArchive?: ArchiveEvidence;
  latestDeployment?: {
    id: string;
    status: number;
    complete: boolean;
    deployer?: string;
    endTime?: string | null;
  } | null;
}

/** What the mounted wwwroot shows through Kudu (both modes). */
export interface MountEvidence {
  /** Kudu could be reached at all. */
  reachable: boolean;
  error?: string;
  failureMarker: boolean;
  /** Raw `.runpack/release.json` in wwwroot, null when missing. */
  stampText: string | null;
  /** Kudu's own view of WEBSITE_RUN_FROM_PACKAGE (it lags after a settings change). */
  kuduValueState?: 'local' | 'url' | 'unset' | 'other';
}

export interface HealthEvidence {
  path: string;
  status?: number;
  body?: string;
  error?: string;
}

export interface SlotSideEvidence {
  name: string;
  settings: Record<string, string>;
}

export interface SlotsEvidence {
  stickyNames: string[];
  /** The other sides (production and slots) compared with the target. */
  others: SlotSideEvidence[];
}

/** A Flex Consumption app's deployment storage, as the platform must reach it. */
export interface FlexEvidence {
  containerUrl: string;
  /** SystemAssignedIdentity, UserAssignedIdentity or StorageAccountConnectionString. */
  authentication: string;
  account: string;
  container: string;
  /** The account is one Resource Manager shows to the caller. */
  found: boolean;
  networkDefaultAction?: string;
  /** Identity authentication: the identity's principal (null: the app does not have it). */
  principalId?: string | null;
  /** Storage Blob Data Contributor (or Owner) over the container, for that principal. */
  role?: 'found' | 'missing' | 'unknown';
  roleError?: string;
  /** Connection-string authentication: the setting it names, whether it exists and names the account. */
  connectionSetting?: { name: string; present: boolean; namesAccount: boolean };
  /** The package in the container (released-package.zip), read with the caller's token: the status. */
  packageStatus?: number;
}

/** Everything the collectors saw. Settings hold only the keys the rules read (no unrelated secrets). */
export interface Evidence {
  target: TargetEvidence;
  settings: Record<string, string>;
  sas?: SasInfo;
  storage?: StorageEvidence;
  fetch?: FetchEvidence;
  archive?: ArchiveEvidence;
  policy?: PolicyEvidence;
  identity?: IdentityEvidence;
  local?: LocalEvidence;
  mount?: MountEvidence;
  health?: HealthEvidence;
  slots?: SlotsEvidence;
  flex?: FlexEvidence;
}

export type { Release } from '../release/releases.js';
