/**
 * Releases of an app read from storage and the sites: the release blobs, the stable blobs, and which release
 * each side (production and every slot) runs. Reads only; pruning goes through retention.ts.
 */
import type { StorageAccountInfo } from '../azure/arm.js';
import type { KuduClient } from '../azure/kudu.js';
import { readMountedStamp } from '../release/mounted.js';
import { readLocalRecords, type LocalRelease } from '../release/verified.js';
import type { ZipSource } from '../package/zip-reader.js';
import { describeError, RunpackError } from '../util/errors.js';
import { accountForUrl, kuduRange, listSlots, maskUrl } from './collect.js';
import { buildReleasesReport, type ReleasesReport } from './releases.js';
import { liveSha256, releaseFromBlob, releasePrefix, sha256Of, stableBlobName } from '../release/releases.js';
import { inspectRemoteArchive, rangeZipSource } from './remote-zip.js';
import { stableTargetOf, type StoredPackage } from './rollback-plan.js';
import { blobPathOf } from './sas.js';
import { findAccount, openStore, type OpsSession } from './session.js';
import type { ReleaseBlobStore } from '../azure/blob.js';
import type { ArchiveEvidence, Release } from './types.js';
import {
  classifyRunFromPackage,
  effectiveRunFromPackage,
  PACKAGE_NAME_FILE,
  SITE_PACKAGES,
  RFP,
} from '../release/rfp.js';
import { openKudu } from '../deploy/context.js';

export interface ReleaseState {
  store: ReleaseBlobStore;
  account: StorageAccountInfo;
  container: string;
  releases: Release[];
  /** stable blob name → the sha256 its metadata names. */
  stableSha256: Record<string, string | undefined>;
  stableEtags: Record<string, string | undefined>;
  /** side ('production' or a slot) → sha256 it runs, or null when unknown. */
  sides: Record<string, string | null>;
  /** The asked-about side's WEBSITE_RUN_FROM_PACKAGE (its SAS registered as a secret). */
  settingValue: string | undefined;
  mode: ReturnType<typeof classifyRunFromPackage>;
  live: string | null;
}

/** Where the releases live: the flags, else the account and container of the app's package URL. */
export async function locateStorage(
  s: OpsSession,
  settingValue: string | undefined,
  containerGiven: boolean,
): Promise<{ account: StorageAccountInfo; container: string }> {
  let account: StorageAccountInfo | null = null;
  let container = s.inputs.container;
  if (classifyRunFromPackage(settingValue) === 'url' && settingValue) {
    const found = await accountForUrl(s, settingValue, s.inputs.storageAccount);
    account = found.info;
    const path = blobPathOf(settingValue, account?.blobEndpoint);
    if (path && !containerGiven) container = path.container;
  }
  if (!account && s.inputs.storageAccount) account = await findAccount(s, s.inputs.storageAccount);
  if (!account)
    throw new RunpackError(
      'storage-account-missing',
      `Cannot tell where the release blobs of ${s.target.ref.appName} are: the app has no package URL in a visible storage account; pass --storage-account (and --container if not ${s.inputs.container}).`,
    );
  return { account, container };
}

async function localContentSha(s: OpsSession, kudu?: KuduClient): Promise<string | null> {
  try {
    const k = kudu ?? (await openKudu(s.ctx, s.ctx.phaseDeadline(60_000))).kudu;
    const text = await readMountedStamp(k, s.ctx.phaseDeadline(60_000));
    const parsed = text ? (JSON.parse(text) as { contentSha256?: string }) : null;
    return parsed?.contentSha256 ?? null;
  } catch {
    return null;
  }
}

/** Loads the releases, the stable blobs and what every side runs. */
export async function loadReleaseState(s: OpsSession, containerGiven: boolean): Promise<ReleaseState> {
  const ref = s.target.ref;
  const app = ref.appName;
  const self = ref.slot ?? 'production';
  const settings = await s.arm.listAppSettings(ref);
  const settingValue = effectiveRunFromPackage(settings);
  maskUrl(s, settings[RFP]);
  const mode = classifyRunFromPackage(settingValue);
  const { account, container } = await locateStorage(s, settingValue, containerGiven);
  const store = await openStore(s, account, container);

  const releases = (await store.list(container, releasePrefix(app)))
    .map((b) => releaseFromBlob(app, b))
    .filter((r): r is Release => r !== null);

  const slots = await listSlots(s);
  const sideNames = ['production', ...slots];
  // Each side's setting first: after a swap a side can run another stable blob than its own name.
  const values: Record<string, string | undefined | null> = {};
  for (const side of sideNames) {
    const sideRef = { ...ref, slot: side === 'production' ? null : side };
    try {
      const all = side === self ? settings : await s.arm.listAppSettings(sideRef);
      maskUrl(s, all[RFP]);
      values[side] = effectiveRunFromPackage(all);
    } catch (err) {
      s.log.info(`Could not read the settings of ${side}: ${describeError(err).split(';')[0]}`);
      values[side] = null;
    }
  }
  const settingBlobOf = (value: string | undefined | null) =>
    value && classifyRunFromPackage(value) === 'url' ? blobPathOf(value, account.blobEndpoint) : null;

  const stableNames = new Set(
    sideNames.map((side) => stableBlobName(app, side === 'production' ? null : side)),
  );
  for (const side of sideNames) {
    const named = stableTargetOf(app, container, settingBlobOf(values[side]));
    if (named) stableNames.add(named);
  }
  const stableSha256: Record<string, string | undefined> = {};
  const stableEtags: Record<string, string | undefined> = {};
  for (const name of stableNames) {
    const b = await store.getBlob(container, name);
    if (b) {
      stableSha256[name] = sha256Of(b.metadata);
      stableEtags[name] = b.etag;
    }
  }

  const sides: Record<string, string | null> = {};
  for (const side of sideNames) {
    const value = values[side];
    if (value === null) {
      sides[side] = null;
      continue;
    }
    const sideMode = classifyRunFromPackage(value);
    sides[side] = liveSha256({
      mode: sideMode,
      appName: app,
      settingBlob: sideMode === 'url' ? settingBlobOf(value) : null,
      container,
      stableSha256,
      releases,
      contentSha256: sideMode === 'local' && side === self ? await localContentSha(s) : null,
    });
  }
  // Flex Consumption: the stable blob names the last release runpack verified there (the app runs its own
  // deployment storage's copy, which carries no release id).
  if (s.target.isFlex) sides[self] = stableSha256[stableBlobName(app, null)] ?? null;
  return {
    store,
    account,
    container,
    releases,
    stableSha256,
    stableEtags,
    sides,
    settingValue,
    mode,
    live: sides[self] ?? null,
  };
}

export function reportOf(s: OpsSession, state: ReleaseState): ReleasesReport {
  return buildReleasesReport({
    app: s.target.ref.appName,
    ...(s.target.ref.slot ? { slot: s.target.ref.slot } : {}),
    container: state.container,
    releases: state.releases,
    live: state.live,
    sides: state.sides,
    stableSha256: state.stableSha256,
  });
}

/** A ZipSource over a release blob (range reads through the storage SDK). */
export function blobZipSource(store: ReleaseBlobStore, container: string, r: Release): ZipSource {
  return {
    size: r.size,
    read: (offset, length) => {
      const len = Math.max(0, Math.min(length, r.size - offset));
      return len === 0 ? Promise.resolve(Buffer.alloc(0)) : store.readRange(container, r.blob, offset, len);
    },
  };
}

/** Inspects a release blob from its central directory. */
export async function inspectRelease(
  s: OpsSession,
  store: ReleaseBlobStore,
  container: string,
  r: Release,
): Promise<ArchiveEvidence> {
  try {
    return await inspectRemoteArchive(blobZipSource(store, container, r), {
      functionApp: s.target.isFunctionApp,
    });
  } catch (err) {
    return { opened: false, problems: [], error: describeError(err).split(';')[0] };
  }
}

/** Local mode without release blobs: the packages Kudu keeps in data/SitePackages, as releases. */
export interface StoredState {
  kudu: KuduClient;
  packageName: string | null;
  packageEtag?: string;
  /**
   * Stored packages as releases: id and sha256 are the zip's sha256 that the deploy printed, from runpack's
   * record of verified local releases (data/runpack/releases.json); for a package without a record, the release
   * stamp's content sha256 (the zip's own is not known without downloading it). blob is the stored file name,
   * created its UTC time stamp; a release pushed again is listed once, at its newest package.
   */
  releases: Release[];
  packages: StoredPackage[];
  inspections: Map<string, ArchiveEvidence>;
  /** The release packagename.txt points to, or null. */
  live: string | null;
}

function timeOfPackageName(name: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.zip$/.exec(name);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : '';
}

export async function loadStoredState(s: OpsSession, deadline: number): Promise<StoredState> {
  const { kudu } = await openKudu(s.ctx, deadline);
  const file = await kudu.vfsGet(PACKAGE_NAME_FILE, deadline);
  const packageName = file?.text.trim() || null;
  const entries = (await kudu.vfsList(SITE_PACKAGES, deadline).catch(() => null)) ?? [];
  // runpack's record of the packages it verified: their release ids are the ones its deploys printed.
  const { records } = await readLocalRecords(kudu, deadline).catch(() => ({ records: [] as LocalRelease[] }));
  const releases: Release[] = [];
  const packages: StoredPackage[] = [];
  const inspections = new Map<string, ArchiveEvidence>();
  let live: string | null = null;
  // Oldest first (Kudu names packages by UTC time), so a release deployed again is listed at its newest package.
  const zips = entries
    .filter((x) => /\.zip$/i.test(x.name ?? ''))
    .sort((a, b) => (a.name! < b.name! ? -1 : 1));
  for (const e of zips) {
    const name = e.name!;
    let archive: ArchiveEvidence;
    try {
      const source = await rangeZipSource(kuduRange(kudu, `${SITE_PACKAGES}/${name}`, deadline), name);
      archive = await inspectRemoteArchive(source, { functionApp: s.target.isFunctionApp });
    } catch (err) {
      archive = { opened: false, problems: [], error: describeError(err).split(';')[0] };
    }
    const content = archive.stamp?.contentSha256 ?? null;
    packages.push({ name, contentSha256: content });
    const record = records.find((r) => r.package === name);
    // The release id a deploy printed (the zip's sha256) when runpack recorded it; else the release stamp's.
    const sha = record?.sha256 ?? content;
    if (!sha) continue;
    if (name === packageName) live = sha;
    const entry: Release = {
      id: sha.slice(0, 12),
      sha256: sha,
      blob: name,
      size: Number(e.size ?? 0),
      etag: '',
      created: timeOfPackageName(name) || (e.mtime ?? ''),
      ...(content ? { contentSha256: content } : {}),
    };
    const at = releases.findIndex((r) => r.sha256 === sha);
    if (at >= 0) releases[at] = entry;
    else releases.push(entry);
    inspections.set(sha, archive);
  }
  return { kudu, packageName, packageEtag: file?.etag, releases, packages, inspections, live };
}
