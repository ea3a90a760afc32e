/**
 * The URL-mode publisher: the package goes to a release blob named by its content and is copied to the stable
 * blob the app's WEBSITE_RUN_FROM_PACKAGE URL names (SAS bound to a stored access policy, or the app's identity);
 * after a verified deploy, retention prunes old releases. The dry run's plan reads storage with the same helpers.
 */
import type { StorageAccountInfo } from '../../azure/arm.js';
import type { ReleaseBlobStore } from '../../azure/blob.js';
import { redactUrl } from '../../azure/http.js';
import { grantsBlobRead } from '../../azure/roles.js';
import { buildPolicySasUrl, buildShortReadSasUrl, decidePolicy } from '../../azure/sas.js';
import { releaseBlobName } from '../../release/releases.js';
import { RunpackError, describeError } from '../../util/errors.js';
import { blobInContainer, chooseStableBlob, type Plan } from '../plan.js';
import { applyRetention, type RetentionOutcome } from '../retention.js';
import { mergeSettings } from '../setting.js';
import type { DeployContext, Finding, PackageInfo } from '../types.js';
import { runReleaseMetadata, uploadRelease } from '../upload.js';
import { verifyDeploy } from '../verify.js';
import { renderPlan, type DryRunFacts } from '../dry-run.js';
import {
  restoredPackage,
  type DryRunPlan,
  type Published,
  type Publisher,
  type PublishInput,
} from './types.js';
import { isVerifiedBlob, VERIFIED_KEY } from '../../release/verified.js';
import { acquireDeployLock } from '../lock.js';
import { findAccount, openStore } from './release-store.js';
import { modeOfValue, RFP } from '../../release/rfp.js';

export type UrlPublishInput = PublishInput;

/**
 * URL mode: storage (the account, the auth that can write), the stable blob this side may write, package access
 * (a policy-bound SAS, or the identity's read role), the already-live check, the upload, the stored access policy,
 * and the setting. Restart and verification are the engine's.
 */
export async function publishUrl(input: UrlPublishInput): Promise<Published> {
  const { ctx, pkg, plan, settings, session, storageScope, runUrl, uploads, progress } = input;
  const { log, inputs, target, arm } = ctx;
  const findings: Finding[] = [];
  const accountName = inputs.storageAccount!;

  // Storage: find the account, open it with the auth that can write.
  let reopenWithKey: (() => Promise<ReleaseBlobStore>) | undefined;
  const {
    store: firstStore,
    accountId,
    account: storageAccount,
  } = await log.group('Storage', async () => {
    const account = await findAccount(ctx);
    const open = (preferKey: boolean) => openStore(ctx, session, account, plan, { preferKey });
    const store: ReleaseBlobStore = await open(plan.access === 'sas');
    if (store.auth === 'entra' && account.allowSharedKeyAccess) reopenWithKey = () => open(true);
    log.info(
      `Account ${account.name} (${store.auth === 'entra' ? 'Entra token' : 'account key'}), container ${plan.container}.`,
    );
    return { store, accountId: account.id, account };
  });
  let store = firstStore;

  const releaseBlob = releaseBlobName(target.ref.appName, pkg.sha256);
  const { stableBlob: chosen, usedByOthers } = await stableBlobFor(ctx, store, plan, settings);
  const state: UrlState = {
    account: storageAccount,
    container: plan.container,
    siblingBlobs: usedByOthers,
    store: () => store,
  };
  const prune = () => pruneReleases(ctx, state, pkg.sha256);
  if (chosen !== plan.stableBlob) {
    log.info(
      `${plan.stableBlob} is what another slot of ${target.ref.appName} runs (after a swap); this deploy uses ${chosen}.`,
    );
    plan.stableBlob = chosen;
  }
  const stableUrl = store.blobUrl(plan.container, plan.stableBlob);
  const packageUrl = redactUrl(stableUrl.split('?')[0]);

  // What the app runs now, when its setting names this stable blob.
  const ranStableBefore = bareUrl(plan.previousValue) === bareUrl(stableUrl);
  const stableNow = await store.getBlob(plan.container, plan.stableBlob);
  if (stableNow?.metadata.sha256 && ranStableBefore)
    progress?.({ previousReleaseId: stableNow.metadata.sha256.slice(0, 12) });

  let roleConfirmed: boolean | undefined;
  // The value the setting must hold, and the SAS policy decision.
  const access = await log.group('Package access', async () => {
    if (plan.access === 'sas') {
      const { identifiers, publicAccess } = await store.getPolicies(plan.container);
      const decision = policyDecision(ctx, plan, identifiers);
      const url = buildPolicySasUrl(
        stableUrl,
        store.accountName,
        store.accountKey!,
        plan.container,
        plan.stableBlob,
        plan.policyId,
      );
      ctx.secrets.add(new URL(url).searchParams.get('sig') ?? undefined);
      log.info(
        `Stored access policy ${plan.policyId}: ${decision.action === 'keep' ? `kept, ${decision.reason}` : `${decision.action} (${decision.reason}), read-only until ${decision.expiresOn.toISOString()}`}.`,
      );
      return { value: url, decision, publicAccess };
    }
    // Identity: confirm a blob read role for the identity through role assignments.
    const principal = plan.identityPrincipalId!;
    try {
      const assignments = await arm.listRoleAssignments(accountId, principal);
      const ok = assignments.some((a) => grantsBlobRead(a, principal, accountId, plan.container));
      roleConfirmed = ok;
      if (ok) log.info(`The app's identity (${principal}) can read blobs in ${accountName}.`);
      else {
        const f: Finding = {
          severity: 'warning',
          code: 'identity-role-unconfirmed',
          message: `No Storage Blob Data Reader (or wider) role for the app's identity ${principal} on ${accountName} was found; the app will fail to mount the package without it (az role assignment create --role "Storage Blob Data Reader" --assignee-object-id ${principal} --scope ${accountId}).`,
        };
        findings.push(f);
        log.warn(f.message);
      }
    } catch (err) {
      roleConfirmed = false;
      const f: Finding = {
        severity: 'warning',
        code: 'identity-role-unconfirmed',
        message: `Could not read role assignments on ${accountName} (${describeError(err).split(';')[0]}); make sure the app's identity has Storage Blob Data Reader there.`,
      };
      findings.push(f);
      log.warn(f.message);
    }
    return { value: stableUrl, decision: undefined, publicAccess: undefined };
  });

  const changes: Record<string, string | null> = { [RFP]: access.value, ...plan.extra };
  const storageAuthorization = () => session.authorization(storageScope);
  // With identity access runpack checks the blob with its own token, or with a short read SAS when it holds
  // only the account key (its login has no data role).
  const probeUrl = (): string | undefined => {
    if (plan.access !== 'identity' || store.auth !== 'key' || !store.accountKey) return undefined;
    const url = buildShortReadSasUrl(
      store.blobUrl(plan.container, plan.stableBlob),
      store.accountName,
      store.accountKey,
      plan.container,
      plan.stableBlob,
      new Date(ctx.clock.now()),
    );
    ctx.secrets.add(new URL(url).searchParams.get('sig') ?? undefined);
    return url;
  };

  // Unchanged content already live and verified: nothing to do.
  if (!inputs.force && !ctx.config?.plan.changed) {
    const settingsSame = !mergeSettings(settings, changes).changed;
    const policyFine = !access.decision || access.decision.action === 'keep';
    if (stableNow?.metadata.sha256 === pkg.sha256 && settingsSame && policyFine && pkg.stamp) {
      const quick = await log.group('Check the live release', () =>
        verifyDeploy(ctx, pkg, {
          intendedValue: access.value,
          access: plan.access,
          storageAuthorization,
          probeUrl: probeUrl(),
          quick: true,
        }),
      );
      const mounted = quick.levels.find((l) => l.level === 'mounted-content')?.status === 'pass';
      if (quick.ok && mounted) {
        log.info(`Release ${pkg.releaseId} is already live and verified; nothing to upload, set or restart.`);
        return {
          noop: { levels: quick.levels },
          previousReleaseId: pkg.releaseId,
          packageUrl,
          findings,
          prune,
        };
      }
    }
  }

  // One deploy at a time per app and slot from here on (held until the engine is done: verify, rollback).
  const lock = await log.group('Deploy lock', () =>
    acquireDeployLock(ctx, store, plan.container, { runUrl, commit: inputs.commit }),
  );
  input.hold?.(() => lock.release());

  // Upload.
  // A fleet uploads the package once per account and container; the other targets copy that blob.
  const uploadKey = `${store.accountName}/${plan.container}`.toLowerCase();
  let copyFrom: string | undefined;
  let announce: ((blob: string | null) => void) | undefined;
  if (uploads) {
    const first = uploads.get(uploadKey);
    if (first) copyFrom = (await first) ?? undefined;
    else uploads.set(uploadKey, new Promise((r) => (announce = r)));
  }
  const doUpload = () =>
    uploadRelease(
      store,
      plan.container,
      releaseBlob,
      plan.stableBlob,
      pkg,
      runReleaseMetadata(pkg, { commit: inputs.commit, runUrl, now: ctx.clock.now() }),
      log,
      uploadSignal,
      copyFrom,
      () => progress?.({ switching: true }),
    );
  // The upload may not outlive the deploy's time budget.
  const timeout = AbortSignal.timeout(Math.max(1000, ctx.deadline - ctx.clock.now()));
  const uploadSignal = ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout;
  let uploadOk = false;
  const uploaded = await log.group('Upload', async () => {
    try {
      const u = await doUpload();
      uploadOk = true;
      return u;
    } catch (err) {
      if (ctx.signal?.aborted)
        throw new RunpackError('cancelled', 'The step was cancelled during the upload.');
      if (uploadSignal.aborted)
        throw new RunpackError(
          'timeout',
          `The upload of ${releaseBlob} to ${store.accountName} did not finish within timeout-minutes (${inputs.timeoutMinutes}); raise timeout-minutes or check the runner's network to the storage account.`,
        );
      // A token that may read but not write: fall back to the account key once.
      if (err instanceof RunpackError && err.code === 'storage-forbidden' && reopenWithKey) {
        log.info('The login may read but not write blobs with its token; using the account key.');
        store = await reopenWithKey();
        reopenWithKey = undefined;
        const u = await doUpload();
        uploadOk = true;
        return u;
      }
      if (err instanceof RunpackError) throw err;
      throw new RunpackError('upload-failed', `Upload failed: ${describeError(err)}`);
    } finally {
      announce?.(uploadOk ? releaseBlob : null);
    }
  });
  const previousReleaseId = uploaded.previousSha256?.slice(0, 12);

  if (access.decision && access.decision.action !== 'keep') {
    await log.group('Stored access policy', async () => {
      await store.setPolicies(plan.container, access.decision!.identifiers, access.publicAccess);
      log.info(`Policy ${plan.policyId} ${access.decision!.action === 'create' ? 'created' : 'renewed'}.`);
    });
  }

  // Setting.
  const update = await log.group('App setting', async () => {
    const u = await ctx.settings.update(changes);
    if (u.changed) {
      const kept = Object.keys(u.before).filter((k) => !(k in changes));
      const lost = kept.filter((k) => !(k in u.after));
      if (lost.length)
        log.warn(
          `Settings ${lost.join(', ')} disappeared between the read and the write: another writer changed them at the same time.`,
        );
      log.info(`Set ${Object.keys(changes).join(', ')}; ${kept.length} other settings kept.`);
    } else log.info(`${RFP} already points at the package; no settings write.`);
    return u;
  });

  const verify = {
    intendedValue: access.value,
    access: plan.access,
    storageAuthorization,
    probeUrl: probeUrl(),
    identityRoleConfirmed: roleConfirmed,
  };
  return {
    verify,
    settingChanged: update.changed,
    previousReleaseId,
    packageUrl,
    findings,
    prune,
    recordVerified: async () => {
      const blob = await store.getBlob(plan.container, releaseBlob);
      if (blob?.etag)
        await store.addMetadataIfMatch(
          plan.container,
          releaseBlob,
          { [VERIFIED_KEY]: new Date(ctx.clock.now()).toISOString() },
          blob.etag,
        );
    },
    previous: {
      releaseId: previousReleaseId,
      restore: () =>
        restorePreviousBlob(ctx, {
          store,
          container: plan.container,
          stableBlob: plan.stableBlob,
          stableEtag: uploaded.stable.etag,
          previousSha256: uploaded.previousSha256,
          previousValue: plan.previousValue,
          ranStableBefore,
          releaseSha256: pkg.sha256,
          pkg,
          verify,
        }),
    },
  };
}

/**
 * The automatic rollback in URL mode: copy the release that the stable blob held before this deploy back onto
 * it, only while the stable blob still holds this deploy's copy, and only a release runpack verified.
 */
async function restorePreviousBlob(
  ctx: DeployContext,
  r: {
    store: ReleaseBlobStore;
    container: string;
    stableBlob: string;
    stableEtag?: string;
    previousSha256?: string;
    previousValue?: string;
    /** The app's setting named this stable blob before this deploy. */
    ranStableBefore: boolean;
    releaseSha256: string;
    pkg: PackageInfo;
    verify: Published['verify'] & object;
  },
): Promise<{ pkg: PackageInfo; verify: NonNullable<Published['verify']> }> {
  const refuse = (code: string, why: string): never => {
    throw new RunpackError(code, why);
  };
  const prev = r.previousSha256?.toLowerCase();
  if (modeOfValue(r.previousValue) !== 'url')
    refuse(
      'rollback-mode-switch',
      `the app did not run from a package URL before this deploy (${r.previousValue === '1' ? 'it ran a local package' : 'it ran files in wwwroot'}), so there is no earlier release behind ${r.stableBlob} to bring back; switching modes back is not automatic`,
    );
  if (!r.ranStableBefore)
    refuse(
      'rollback-none',
      `the app ran another package URL than ${r.container}/${r.stableBlob} before this deploy, so the blob's earlier content is not what it ran; roll back by hand with 'runpack rollback'`,
    );
  if (!prev || prev === r.releaseSha256)
    refuse(
      'rollback-none',
      `${r.container}/${r.stableBlob} held no earlier runpack release before this deploy, so there is nothing to bring back`,
    );
  const blob = releaseBlobName(ctx.target.ref.appName, prev!);
  const meta = await r.store.getBlob(r.container, blob);
  if (!meta)
    refuse(
      'rollback-missing',
      `release ${prev!.slice(0, 12)} (${r.container}/${blob}) no longer exists, so it cannot be brought back`,
    );
  if (!isVerifiedBlob(meta!.metadata))
    refuse(
      'rollback-unverified',
      `release ${prev!.slice(0, 12)} was never verified by runpack (its blob carries no ${VERIFIED_KEY}), so it is not brought back blindly; roll back by hand with 'runpack rollback --release <id>' after checking it`,
    );
  const copied = await r.store.copyIfMatch(r.container, blob, r.stableBlob, r.stableEtag ?? null);
  if ((copied.metadata.sha256 ?? '').toLowerCase() !== prev)
    refuse(
      'release-target-changed',
      `${r.container}/${r.stableBlob} does not carry release ${prev!.slice(0, 12)} after the copy; another writer may have raced`,
    );
  ctx.log.info(`${r.container}/${r.stableBlob} holds release ${prev!.slice(0, 12)} again.`);
  return {
    pkg: restoredPackage(r.pkg, {
      sha256: prev!,
      releaseId: prev!.slice(0, 12),
      contentSha256: meta!.metadata.content_sha256,
      zipBytes: meta!.size,
    }),
    verify: r.verify,
  };
}

interface UrlState {
  account: StorageAccountInfo;
  /** The store the deploy wrote with (after any fallback to the account key). */
  store: () => ReleaseBlobStore;
  container: string;
  siblingBlobs: ReadonlySet<string>;
}

/** Whether this deploy keeps, creates or renews the container's stored access policy (SAS access). */
function policyDecision(ctx: DeployContext, plan: Plan, identifiers: Parameters<typeof decidePolicy>[0]) {
  return decidePolicy(
    identifiers,
    plan.policyId,
    new Date(ctx.clock.now()),
    ctx.inputs.sasExpiryDays,
    plan.container,
  );
}

/**
 * The stable blob this side may write: never the one another slot runs (after a swap it carries this slot's
 * name), with the blobs the other sides point at.
 */
async function stableBlobFor(
  ctx: DeployContext,
  store: ReleaseBlobStore,
  plan: Plan,
  settings: Record<string, string>,
): Promise<{ stableBlob: string; usedByOthers: Set<string> }> {
  const containerUrl = store.blobUrl(plan.container, 'x').replace(/\/x$/, '');
  const usedByOthers = await blobsUsedBySiblings(ctx, containerUrl);
  const stableBlob = chooseStableBlob(
    plan.stableBlob,
    blobInContainer(settings[RFP], containerUrl),
    usedByOthers,
  );
  return { stableBlob, usedByOthers };
}

/** Retention with src/release's pruning (reads never create anything; deletes are conditional). */
async function pruneReleases(ctx: DeployContext, state: UrlState, live: string): Promise<RetentionOutcome> {
  const store = state.store();
  const outcome = await applyRetention(store, {
    container: state.container,
    appName: ctx.target.ref.appName,
    keep: ctx.inputs.keepReleases ?? 0,
    live,
    siblingBlobs: state.siblingBlobs,
    dryRun: false,
    log: ctx.log,
  });
  if (outcome.deleted.length)
    ctx.log.info(
      `Deleted ${outcome.deleted.length} old release(s); ${outcome.kept} left (keep-releases: ${ctx.inputs.keepReleases}).`,
    );
  return outcome;
}

/** Blobs of the container that production and the other slots of the app point at. */
export async function blobsUsedBySiblings(ctx: DeployContext, containerUrl: string): Promise<Set<string>> {
  const { arm, target } = ctx;
  const used = new Set<string>();
  let slots: string[];
  if (!arm.listSlots) return used;
  try {
    slots = await arm.listSlots(target.ref);
  } catch (err) {
    ctx.log.debug(`Could not list the slots of ${target.ref.appName}: ${describeError(err)}`);
    return used;
  }
  const sides = [null, ...slots].filter(
    (s) => (s ?? '').toLowerCase() !== (target.ref.slot ?? '').toLowerCase(),
  );
  if (slots.length === 0) return used;
  for (const side of sides) {
    try {
      const other = await arm.listAppSettings({ ...target.ref, slot: side });
      const blob = blobInContainer(other[RFP], containerUrl);
      if (blob) used.add(blob);
    } catch (err) {
      ctx.log.debug(`Could not read the settings of ${side ?? 'production'}: ${describeError(err)}`);
    }
  }
  return used;
}

/**
 * dry-run: the facts of the plan, gathered with reads only (Resource Manager GETs and the read POSTs
 * config/appsettings/list and listKeys; blob HEADs, listings and the container's ACL read), rendered by renderPlan.
 * It reads storage with the same helpers publishing uses.
 */
export async function planUrl(input: PublishInput): Promise<DryRunPlan> {
  const { ctx, pkg, plan, settings, session } = input;
  const { inputs, target } = ctx;
  const name = target.ref.slot ? `${target.ref.appName}/${target.ref.slot}` : target.ref.appName;
  const facts: DryRunFacts = {
    target: name,
    mode: plan.mode,
    releaseId: pkg.releaseId,
    zipBytes: pkg.zipBytes,
    settings: {},
    restart: inputs.restart,
    swapTo: inputs.swapTo,
  };
  const changed = (changes: Record<string, string | null>, same: (k: string) => boolean) => {
    for (const k of mergeSettings(settings, changes).changedKeys)
      if (!same(k)) facts.settings[k] = [settings[k], changes[k]];
  };
  let retention: RetentionOutcome | undefined;
  const account = await findAccount(ctx);
  // SAS access signs with the account key (and only the key may read the container's policies).
  const store = await openStore(ctx, session, account, plan, {
    preferKey: plan.access === 'sas',
    createContainer: false,
  });
  const { stableBlob, usedByOthers } = await stableBlobFor(ctx, store, plan, settings);
  const releaseBlob = releaseBlobName(target.ref.appName, pkg.sha256);
  const stableUrl = store.blobUrl(plan.container, stableBlob);
  const packageUrl = redactUrl(stableUrl.split('?')[0]);
  const [releaseNow, stableNow] = await Promise.all([
    store.getBlob(plan.container, releaseBlob),
    store.getBlob(plan.container, stableBlob),
  ]);
  Object.assign(facts, {
    account: account.name,
    container: plan.container,
    releaseBlob,
    stableBlob,
    releaseExists: releaseNow !== null,
    stableCurrent: (stableNow?.metadata.sha256 ?? '').toLowerCase() === pkg.sha256,
  });
  let value = stableUrl;
  if (plan.access === 'sas') {
    let identifiers: Awaited<ReturnType<typeof store.getPolicies>>['identifiers'] = [];
    try {
      identifiers = (await store.getPolicies(plan.container)).identifiers;
    } catch (err) {
      // A missing container has no policies yet; the deploy would create both.
      if (!/ContainerNotFound/.test(describeError(err))) throw err;
      facts.containerMissing = true;
    }
    const decision = policyDecision(ctx, plan, identifiers);
    facts.policy = { id: plan.policyId, action: decision.action, reason: decision.reason };
    // The signature is made at deploy time with the account key; the plan shows where it goes.
    value = `${stableUrl}?si=${encodeURIComponent(plan.policyId)}&sr=b&sig=REDACTED`;
  }
  const sameRfp = (k: string) => {
    if (k !== RFP || plan.access !== 'sas') return false;
    const old = settings[RFP] ?? '';
    return (
      bareUrl(old) === bareUrl(value) &&
      new URLSearchParams(old.split('?')[1] ?? '').get('si') === plan.policyId
    );
  };
  changed({ [RFP]: value, ...plan.extra }, sameRfp);
  facts.unchanged =
    !inputs.force &&
    !!pkg.stamp &&
    facts.stableCurrent === true &&
    Object.keys(facts.settings).length === 0 &&
    (!facts.policy || facts.policy.action === 'keep');
  if (inputs.keepReleases && !facts.unchanged) {
    try {
      const r = await applyRetention(store, {
        container: plan.container,
        appName: target.ref.appName,
        keep: inputs.keepReleases,
        live: pkg.sha256,
        siblingBlobs: usedByOthers,
        dryRun: true,
        log: { info: (l) => ctx.log.debug(l), warn: (l) => ctx.log.warn(l) },
      });
      facts.retention = { keep: inputs.keepReleases, deleted: r.deleted };
      retention = r;
    } catch (err) {
      facts.retention = { keep: inputs.keepReleases, error: describeError(err).replace(/\.$/, '') };
    }
  }
  return { lines: renderPlan(facts), packageUrl, retention };
}

export const urlPublisher: Publisher = { plan: planUrl, publish: publishUrl };

/** Pure: a URL without its query (SAS), case-folded, to tell whether two setting values name the same blob. */
function bareUrl(v: string | null | undefined): string {
  return (v ?? '').split('?')[0].toLowerCase();
}
