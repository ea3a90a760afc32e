/**
 * Collectors: read-only I/O that fills the Evidence record. Every call is a GET/HEAD, or one of Resource
 * Manager's read POSTs (appsettings/list, publishingcredentials/list, listKeys). A collector that cannot read
 * something records why instead of failing the whole diagnosis.
 */
import { siteId, WEB_API_VERSION, type StorageAccountInfo } from '../azure/arm.js';
import type { KuduClient } from '../azure/kudu.js';
import { readMountedStamp, readPackageName } from '../release/mounted.js';
import { probeSite } from '../deploy/restart.js';
import { headDeployedPackage, storageErrorOf } from '../deploy/verify.js';
import { describeError, RunpackError } from '../util/errors.js';
import {
  rangeZipSource,
  inspectRemoteArchive,
  totalFromContentRange,
  type RangeFetch,
} from './remote-zip.js';
import { RELEVANT_SETTINGS } from './rules.js';
import { grantsBlobRead, grantsBlobWrite } from '../azure/roles.js';
import { blobPathOf, parseSas } from './sas.js';
import type { OpsSession } from './session.js';
import { openStore } from './session.js';
import type {
  ArchiveEvidence,
  Evidence,
  FetchEvidence,
  FlexEvidence,
  IdentityEvidence,
  LocalEvidence,
  MountEvidence,
  PolicyEvidence,
  SlotsEvidence,
  StorageEvidence,
} from './types.js';
import {
  classifyRunFromPackage,
  effectiveRunFromPackage,
  FAILURE_MARKER,
  SITE_PACKAGES,
  WWWROOT,
  RFP,
  RFP_MI,
} from '../release/rfp.js';
import { openKudu } from '../deploy/context.js';

const STORAGE_VERSION = '2023-11-03';

function firstLine(err: unknown): string {
  return describeError(err).split(';')[0].slice(0, 300);
}

/** The settings the rules read (other values are left behind: they may be secrets). */
export function relevantSettings(all: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of RELEVANT_SETTINGS) if (all[k] !== undefined) out[k] = all[k];
  return out;
}

/** Registers the SAS signature of a URL as a secret. */
export function maskUrl(s: Pick<OpsSession, 'secrets'>, url: string | undefined): void {
  if (!url) return;
  try {
    s.secrets.add(new URL(url).searchParams.get('sig'));
  } catch {
    // not a URL
  }
}

/** Slot names of the app (from Resource Manager's slot list). */
export async function listSlots(s: OpsSession): Promise<string[]> {
  const prod = { ...s.target.ref, slot: null };
  try {
    const res = await s.http.request({
      method: 'GET',
      url: `${s.arm.endpoint}${siteId(prod)}/slots?api-version=${WEB_API_VERSION}`,
      service: 'Resource Manager',
      authorization: s.ctx.armAuthorization,
      deadline: s.ctx.deadline,
    });
    if (res.status !== 200) return [];
    const body = res.json<{ value?: { name?: string }[] }>();
    return (body?.value ?? []).map((v) => (v.name ?? '').split('/').pop() ?? '').filter(Boolean);
  } catch {
    return [];
  }
}

/** Range fetch of a URL through the shared HttpClient (its bodies are bytes, never decoded). */
export function httpRange(s: OpsSession, url: string, authorization?: () => Promise<string>): RangeFetch {
  return (start, end) =>
    s.http.request({
      method: 'GET',
      url,
      service: 'Blob Storage',
      headers: { Range: `bytes=${start}-${end}`, 'x-ms-version': STORAGE_VERSION },
      authorization,
      deadline: s.ctx.phaseDeadline(120_000),
      maxAttempts: 3,
    });
}

/** Range fetch of a file under %HOME% through Kudu VFS (the Kudu client's binary-safe range read). */
export function kuduRange(kudu: KuduClient, path: string, deadline: number): RangeFetch {
  return async (start, end) => {
    const file = await kudu.vfsGet(path, { range: { start, end }, deadline, maxAttempts: 3 });
    if (file) return file.response;
    const body = Buffer.alloc(0);
    return { status: 404, headers: {}, body, text: () => '', json: <T>() => null as T };
  };
}

/** The storage account a package URL points at: the flag, `<account>.blob.<suffix>`, or a path-style first segment. */
export async function accountForUrl(
  s: OpsSession,
  url: string,
  named?: string,
): Promise<{ name: string; info: StorageAccountInfo | null }> {
  const u = new URL(url);
  const host = /^([a-z0-9]+)\.blob\./i.exec(u.hostname)?.[1];
  if (named) {
    // The account the user names is used or refused, never silently replaced by the URL's.
    const info = await s.arm.findStorageAccount(s.target.ref.subscriptionId, named);
    if (!info)
      throw new RunpackError(
        'storage-not-found',
        `Storage account ${named} (storage-account) was not found in subscription ${s.target.ref.subscriptionId}; the app's package URL is on ${host ?? u.hostname} — name that account, or leave storage-account out.`,
      );
    if (
      !url.toLowerCase().startsWith(info.blobEndpoint.toLowerCase()) &&
      host &&
      host.toLowerCase() !== named.toLowerCase()
    )
      throw new RunpackError(
        'storage-mismatch',
        `storage-account names ${named}, but the app's package URL is on account ${host}; name ${host}, or leave storage-account out.`,
      );
    return { name: info.name, info };
  }
  const candidates = [named, host, u.pathname.split('/').filter(Boolean)[0]].filter((x): x is string => !!x);
  for (const name of candidates) {
    const info = await s.arm.findStorageAccount(s.target.ref.subscriptionId, name).catch(() => null);
    if (
      info &&
      (name === named || name === host || url.toLowerCase().startsWith(info.blobEndpoint.toLowerCase()))
    )
      return { name: info.name, info };
  }
  return { name: named ?? host ?? u.hostname, info: null };
}

async function fetchAsWorker(s: OpsSession, url: string, signed: boolean): Promise<FetchEvidence> {
  const as: FetchEvidence['as'] = signed ? 'sas' : 'caller-token';
  try {
    const res = await s.http.request({
      method: 'GET',
      url,
      service: 'Blob Storage',
      headers: { Range: 'bytes=0-0', 'x-ms-version': STORAGE_VERSION },
      authorization: signed ? undefined : s.storageAuthorization,
      deadline: s.ctx.phaseDeadline(60_000),
      maxAttempts: 3,
    });
    if (res.status >= 400) {
      const err = storageErrorOf(res);
      return { status: res.status, as, errorCode: err.code, detail: err.detail };
    }
    return {
      status: res.status,
      as,
      sha256: res.headers['x-ms-meta-sha256'],
      size: totalFromContentRange(res.headers['content-range']) ?? Number(res.headers['content-length']),
    };
  } catch (err) {
    return { status: 0, as, error: firstLine(err) };
  }
}

async function identityEvidence(
  s: OpsSession,
  settings: Record<string, string>,
  account: StorageAccountInfo | null,
  container: string,
): Promise<IdentityEvidence> {
  const t = s.target.identity;
  const mi = settings[RFP_MI]?.trim();
  let principalId: string | null = null;
  if (!mi || /^systemassigned$/i.test(mi)) principalId = t.systemPrincipalId;
  else
    principalId =
      t.userAssigned.find((u) => u.resourceId.toLowerCase() === mi.toLowerCase())?.principalId ?? null;
  const out: IdentityEvidence = {
    systemPrincipalId: t.systemPrincipalId,
    userAssigned: t.userAssigned.map((u) => ({ resourceId: u.resourceId, principalId: u.principalId })),
    ...(mi ? { miSetting: mi } : {}),
    principalId,
    role: 'unknown',
  };
  if (!principalId) return out;
  if (!account) {
    out.roleError = 'the storage account is not visible to this login';
    return out;
  }
  try {
    const assignments = await s.arm.listRoleAssignments(account.id, principalId);
    const ok = assignments.some((a) => grantsBlobRead(a, principalId, account.id, container));
    out.role = ok ? 'found' : 'missing';
  } catch (err) {
    out.roleError = firstLine(err);
  }
  return out;
}

async function mountEvidence(
  kudu: KuduClient,
  deadline: number,
  kuduSettings: Record<string, string>,
): Promise<MountEvidence> {
  const marker = (await kudu.vfsGet(`${WWWROOT}/${FAILURE_MARKER}`, deadline).catch(() => null)) !== null;
  const stampText = await readMountedStamp(kudu, deadline).catch(() => null);
  return {
    reachable: true,
    failureMarker: marker,
    stampText,
    kuduValueState: classifyRunFromPackage(effectiveRunFromPackage(kuduSettings)),
  };
}

async function localEvidence(s: OpsSession, kudu: KuduClient, deadline: number): Promise<LocalEvidence> {
  const packageName = await readPackageName(kudu, deadline).catch(() => null);
  let sitePackages: string[] | null = null;
  try {
    const entries = (await kudu.vfsList(SITE_PACKAGES, deadline)) ?? [];
    sitePackages = entries
      .map((e) => e.name ?? '')
      .filter((n) => /\.zip$/i.test(n))
      .sort();
  } catch {
    sitePackages = null;
  }
  const latest = await kudu.latestDeployment(deadline).catch(() => null);
  const out: LocalEvidence = {
    packageName,
    sitePackages,
    latestDeployment: latest
      ? {
          id: latest.id,
          status: latest.status,
          complete: Boolean(latest.complete),
          deployer: latest.deployer,
          endTime: latest.end_time,
        }
      : null,
  };
  if (packageName && (!sitePackages || sitePackages.includes(packageName))) {
    try {
      const source = await rangeZipSource(
        kuduRange(kudu, `${SITE_PACKAGES}/${packageName}`, deadline),
        `${SITE_PACKAGES}/${packageName}`,
      );
      out.packageArchive = await inspectRemoteArchive(source, { functionApp: s.target.isFunctionApp });
      out.packageStamp = out.packageArchive.stamp ?? null;
    } catch (err) {
      s.log.info(`Could not read ${SITE_PACKAGES}/${packageName}: ${firstLine(err)}`);
    }
  }
  return out;
}

async function slotsEvidence(s: OpsSession): Promise<SlotsEvidence | undefined> {
  const ref = s.target.ref;
  const slots = await listSlots(s);
  const sides = [
    ...(ref.slot ? ['production'] : []),
    ...slots.filter((x) => x.toLowerCase() !== (ref.slot ?? '').toLowerCase()),
  ];
  if (!sides.length) return undefined;
  const sticky = await s.arm.getSlotConfigNames(ref).catch(() => null);
  const others = [];
  for (const name of sides) {
    try {
      const all = await s.arm.listAppSettings({ ...ref, slot: name === 'production' ? null : name });
      maskUrl(s, all[RFP]);
      others.push({ name, settings: relevantSettings(all) });
    } catch (err) {
      s.log.info(`Could not read the settings of ${name}: ${firstLine(err)}`);
    }
  }
  return { stickyNames: sticky?.appSettingNames ?? [], others };
}

/** Runs every collector for the session's target. */
export async function collectEvidence(s: OpsSession): Promise<Evidence> {
  const t = s.target;
  const deadline = s.ctx.phaseDeadline(5 * 60_000);
  const all = await s.arm.listAppSettings(t.ref);
  maskUrl(s, all[RFP]);
  const settings = relevantSettings(all);
  const evidence: Evidence = {
    target: {
      app: t.ref.appName,
      ...(t.ref.slot ? { slot: t.ref.slot } : {}),
      kind: t.kind,
      isLinux: t.isLinux,
      isFunctionApp: t.isFunctionApp,
      isFlex: t.isFlex,
      isConsumption: t.isConsumption,
      linuxFxVersion: t.linuxFxVersion,
      state: t.state,
    },
    settings,
  };
  const value = effectiveRunFromPackage(settings);
  const mode = classifyRunFromPackage(value);

  if (mode === 'url' && value) {
    const sas = parseSas(value);
    if (sas) evidence.sas = sas;
    let parsedOk = true;
    try {
      new URL(value);
    } catch {
      parsedOk = false;
    }
    if (parsedOk) {
      const { name, info } = await accountForUrl(s, value, s.inputs.storageAccount);
      const path = blobPathOf(value, info?.blobEndpoint);
      const storage: StorageEvidence = {
        account: name,
        container: path?.container ?? '',
        blob: path?.blob ?? '',
        found: Boolean(info),
        ...(info
          ? {
              networkDefaultAction: info.networkDefaultAction,
              allowSharedKeyAccess: info.allowSharedKeyAccess,
            }
          : {}),
      };
      evidence.storage = storage;
      const signed = Boolean(sas?.signed);
      evidence.fetch = await fetchAsWorker(s, value, signed);
      if (evidence.fetch.status >= 200 && evidence.fetch.status < 300) {
        try {
          const source = await rangeZipSource(
            httpRange(s, value, signed ? undefined : s.storageAuthorization),
            'the package',
          );
          evidence.archive = await inspectRemoteArchive(source, { functionApp: t.isFunctionApp });
        } catch (err) {
          evidence.archive = { opened: false, problems: [], error: firstLine(err) } satisfies ArchiveEvidence;
        }
      }
      if (sas?.policyId && path) {
        const policy: PolicyEvidence = { id: sas.policyId, container: path.container, exists: false };
        if (!info) policy.error = 'the storage account is not visible to this login';
        else {
          try {
            const store = await openStore(s, info, path.container);
            const found = (await store.getPolicies(path.container)).identifiers.find(
              (p) => p.id === sas.policyId,
            );
            policy.exists = Boolean(found);
            if (found?.accessPolicy?.expiresOn)
              policy.expiry = new Date(found.accessPolicy.expiresOn).toISOString();
            if (found?.accessPolicy?.startsOn)
              policy.start = new Date(found.accessPolicy.startsOn).toISOString();
            if (found?.accessPolicy?.permissions !== undefined)
              policy.permissions = found.accessPolicy.permissions;
          } catch (err) {
            policy.error = firstLine(err);
          }
        }
        evidence.policy = policy;
      }
      if (!signed) evidence.identity = await identityEvidence(s, settings, info, path?.container ?? '');
    }
  }

  if (t.isFlex && t.flex) evidence.flex = await flexEvidence(s, all);

  // Kudu: the mount (both modes) and the local package.
  if (mode === 'url' || mode === 'local') {
    if (!t.scmHostName)
      evidence.mount = {
        reachable: false,
        error: 'the app has no SCM host',
        failureMarker: false,
        stampText: null,
      };
    else {
      try {
        const { kudu, settings: kuduSettings } = await openKudu(s.ctx, deadline);
        evidence.mount = await mountEvidence(kudu, deadline, kuduSettings);
        if (mode === 'local') evidence.local = await localEvidence(s, kudu, deadline);
      } catch (err) {
        evidence.mount = { reachable: false, error: firstLine(err), failureMarker: false, stampText: null };
      }
    }
  }

  // The site itself: a GET shows a read-only file system error in the app's answer.
  if (t.appUrl && t.state.toLowerCase() !== 'stopped') {
    const path = s.inputs.healthPath ?? '/';
    const probe = await probeSite(s.ctx, t.appUrl + path, s.ctx.phaseDeadline(30_000));
    evidence.health = { path, ...probe, ...(probe.body ? { body: probe.body.slice(0, 2000) } : {}) };
  }

  evidence.slots = await slotsEvidence(s);
  return evidence;
}

/**
 * A Flex app's deployment storage: the account (network rule), the identity's write role or the connection-string
 * setting, and the package there (read with the caller's token).
 */
async function flexEvidence(s: OpsSession, settings: Record<string, string>): Promise<FlexEvidence> {
  const flex = s.target.flex!;
  // The deployment account is the app's own (storage-account names runpack's release store, maybe another).
  const { name, info } = await accountForUrl(s, flex.containerUrl);
  const container = new URL(flex.containerUrl).pathname.split('/').filter(Boolean).pop() ?? '';
  const out: FlexEvidence = {
    containerUrl: flex.containerUrl,
    authentication: flex.authentication,
    account: name,
    container,
    found: Boolean(info),
    ...(info ? { networkDefaultAction: info.networkDefaultAction } : {}),
  };
  const auth = flex.authentication.toLowerCase();
  if (auth === 'storageaccountconnectionstring') {
    const setting = flex.connectionStringSetting ?? '';
    const value = settings[setting];
    const accountName = value ? /(?:^|;)\s*AccountName=([^;]+)/i.exec(value)?.[1] : undefined;
    out.connectionSetting = {
      name: setting,
      present: Boolean(value),
      namesAccount: Boolean(accountName && accountName.toLowerCase() === name.toLowerCase()),
    };
  } else {
    const t = s.target.identity;
    const principalId =
      auth === 'userassignedidentity'
        ? (t.userAssigned.find(
            (u) => u.resourceId.toLowerCase() === (flex.userAssignedIdentityResourceId ?? '').toLowerCase(),
          )?.principalId ?? null)
        : t.systemPrincipalId;
    out.principalId = principalId;
    out.role = 'unknown';
    if (principalId && info) {
      try {
        const assignments = await s.arm.listRoleAssignments(info.id, principalId);
        out.role = assignments.some((a) => grantsBlobWrite(a, principalId, info.id, container))
          ? 'found'
          : 'missing';
      } catch (err) {
        out.roleError = firstLine(err);
      }
    } else if (!info) out.roleError = 'the storage account is not visible to this login';
  }
  const res = await headDeployedPackage(s.ctx.http, flex.containerUrl, s.storageAuthorization, {
    deadline: s.ctx.phaseDeadline(30_000),
    maxAttempts: 2,
  });
  if (res.status) out.packageStatus = res.status;
  return out;
}
