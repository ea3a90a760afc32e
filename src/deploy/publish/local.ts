/**
 * The local-mode publisher (WEBSITE_RUN_FROM_PACKAGE=1): the package is pushed to the app's Kudu, which stores it
 * as data/SitePackages/<UTC yyyyMMddHHmmss>.zip, points packagename.txt at it after a successful deployment, and
 * the worker mounts it read-only as wwwroot (API-SPEC §1.2).
 *
 * Order (API-SPEC §6.4 d, §6.6, checklist 3): make the setting `1` (fresh read-merge-write), wait until Kudu's
 * /api/settings shows it, only then push (earlier, Kudu would extract into wwwroot or answer the URL-mode 409),
 * follow the deployment, and confirm packagename.txt names the new package. The engine then restarts the app
 * and verifies the mounted release stamp.
 */
import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  KuduError,
  deploymentOutcome,
  deploymentStatusName,
  describeDeploymentState,
  type KuduClient,
  type KuduDeployment,
  type PushOptions,
  type PushResult,
} from '../../azure/kudu.js';
import type { ReleaseStamp } from '../../package/types.js';
import { readMountedStamp, readPackageName, storedPackageIsOurs } from '../../release/mounted.js';
import {
  classifyRunFromPackage,
  effectiveRunFromPackage,
  isSitePackageName,
  modeSwitchDecision,
  PACKAGE_NAME_FILE,
  RFP,
  RFP_LEGACY,
  SITE_PACKAGES,
  STATE_WORDS,
  type RfpState,
} from '../../release/rfp.js';
import { RunpackError } from '../../util/errors.js';
import {
  LOCAL_RECORD,
  readLocalRecords,
  recordLocalVerified,
  type LocalRelease,
} from '../../release/verified.js';
import { openKudu } from '../context.js';
import type { DeployContext, Finding, PackageInfo, PublishOutcome } from '../types.js';
import { verifyDeploy } from '../verify.js';
import {
  restoredPackage,
  type DryRunPlan,
  type Published,
  type Publisher,
  type PublishInput,
} from './types.js';
import { renderPlan, type DryRunFacts } from '../dry-run.js';
import { mergeSettings } from '../setting.js';

/**
 * Local mode: the already-live check, then the push to Kudu, followed to its end (packagename.txt names the new
 * package). Restart and verification are the engine's.
 */
/** dry-run in local mode: the setting change only (the push itself reads nothing worth showing). */
async function planLocal({ ctx, pkg, plan, settings }: PublishInput): Promise<DryRunPlan> {
  const name = ctx.target.ref.slot
    ? `${ctx.target.ref.appName}/${ctx.target.ref.slot}`
    : ctx.target.ref.appName;
  const facts: DryRunFacts = {
    target: name,
    mode: 'local',
    releaseId: pkg.releaseId,
    zipBytes: pkg.zipBytes,
    settings: {},
    restart: ctx.inputs.restart,
    swapTo: ctx.inputs.swapTo,
  };
  const changes: Record<string, string | null> = { [RFP]: '1', ...plan.extra };
  for (const k of mergeSettings(settings, changes).changedKeys) facts.settings[k] = [settings[k], changes[k]];
  return { lines: renderPlan(facts) };
}

export const localPublisher: Publisher = {
  plan: planLocal,
  publish: ({ ctx, pkg, plan, progress }) => publishLocalMode(ctx, pkg, plan.previousValue, progress),
};

export async function publishLocalMode(
  ctx: DeployContext,
  pkg: PackageInfo,
  previousValue: string | undefined,
  progress?: PublishInput['progress'],
): Promise<Published> {
  const { log } = ctx;
  // Unchanged content already mounted and verified: nothing to push or restart.
  if (!ctx.inputs.force && !ctx.config?.plan.changed && previousValue === '1' && pkg.stamp) {
    const quick = await log.group('Check the live release', () =>
      verifyDeploy(ctx, pkg, { intendedValue: '1', quick: true }),
    );
    if (quick.ok && quick.levels.find((l) => l.level === 'mounted-content')?.status === 'pass') {
      log.info(`Release ${pkg.releaseId} is already live and verified; nothing to push or restart.`);
      return { noop: { levels: quick.levels }, previousReleaseId: pkg.releaseId, findings: [] };
    }
  }
  progress?.({ switching: true });
  const outcome = await log.group('Publish (local mode)', () => publishLocal(ctx, pkg, progress));
  const { kudu } = outcome;
  const before = outcome.previousPackage ?? null;
  const record = outcome.previousRecord ?? null;
  return {
    verify: { intendedValue: '1', packageName: outcome.packageName },
    settingChanged: false,
    findings: outcome.findings,
    loggedFindings: false,
    kudu,
    previousReleaseId: record?.releaseId,
    recordVerified: async () => {
      await recordLocalVerified(
        kudu,
        {
          package: outcome.packageName,
          releaseId: pkg.releaseId,
          sha256: pkg.sha256,
          ...(pkg.stamp ? { contentSha256: pkg.stamp.contentSha256 } : {}),
          verifiedAt: new Date(ctx.clock.now()).toISOString(),
          ...(ctx.inputs.commit ? { commit: ctx.inputs.commit } : {}),
        },
        ctx.phaseDeadline(60_000),
      );
    },
    previous: {
      releaseId: record?.releaseId,
      restore: () =>
        restorePreviousPackage(ctx, kudu, pkg, previousValue, before, record, outcome.packageName),
    },
  };
}

/**
 * The automatic rollback in local mode: point packagename.txt back at the package it named before this deploy,
 * only while it still names this deploy's package, and only a package runpack recorded as verified.
 */
async function restorePreviousPackage(
  ctx: DeployContext,
  kudu: KuduClient,
  pkg: PackageInfo,
  previousValue: string | undefined,
  before: string | null,
  record: LocalRelease | null,
  ours: string,
): Promise<{ pkg: PackageInfo; verify: NonNullable<Published['verify']> }> {
  const refuse = (code: string, why: string): never => {
    throw new RunpackError(code, why);
  };
  if (previousValue !== '1')
    refuse(
      'rollback-mode-switch',
      `the app did not run a local package before this deploy (${classifyRunFromPackage(previousValue) === 'url' ? 'it ran a package URL' : 'it ran files in wwwroot'}), so switching back is not automatic`,
    );
  if (!before || before === ours)
    refuse(
      'rollback-none',
      'packagename.txt named no earlier package before this deploy, so there is nothing to bring back',
    );
  const deadline = ctx.phaseDeadline(2 * 60_000);
  if (!record)
    refuse(
      'rollback-unverified',
      `the package that ran before (${before}) was never verified by runpack (no record in ${LOCAL_RECORD}), so it is not brought back blindly; roll back by hand with 'runpack rollback --release <id>' after checking it`,
    );
  const stored = await kudu.vfsList(SITE_PACKAGES, deadline);
  if (!stored?.some((e) => e.name === before))
    refuse('rollback-missing', `${SITE_PACKAGES}/${before} no longer exists, so it cannot be brought back`);
  const pointer = await kudu.vfsGet(PACKAGE_NAME_FILE, deadline);
  if ((pointer?.text.trim() ?? '') !== ours || !pointer?.etag)
    refuse(
      'release-target-changed',
      `packagename.txt no longer names ${ours} (another deployment changed it), so it is left alone`,
    );
  const written = await kudu.vfsPut(PACKAGE_NAME_FILE, before!, { ifMatch: pointer!.etag, deadline });
  if (written === 'changed')
    refuse(
      'release-target-changed',
      'packagename.txt changed while the rollback wrote it (another deployment)',
    );
  ctx.log.info(`packagename.txt names ${before} again (release ${record!.releaseId}).`);
  return {
    pkg: restoredPackage(pkg, record!),
    verify: { intendedValue: '1', packageName: before! },
  };
}

/** Poll Kudu's /api/settings until WEBSITE_RUN_FROM_PACKAGE is exactly `1` (Core Tools: 5 s interval). */
export async function waitForKuduSetting(
  ctx: DeployContext,
  kudu: KuduClient,
  first: Record<string, string> | null,
  deadline: number,
  intervalMs = 5000,
): Promise<void> {
  let seen = first;
  const started = ctx.clock.now();
  let lastError = '';
  const read = async () => {
    try {
      seen = await kudu.settings(deadline);
      lastError = '';
    } catch (err) {
      // The SCM site restarts after a settings change: 502/503 and resets are expected for a while.
      if (err instanceof KuduError && (err.status === 401 || err.status === 403)) throw err;
      if (err instanceof RunpackError && err.code === 'timeout') throw err;
      lastError = err instanceof Error ? err.message : String(err);
      seen = null;
    }
  };
  if (!seen) await read();
  for (let round = 0; ; round++) {
    if (seen && effectiveRunFromPackage(seen) === '1') {
      if (round > 0)
        ctx.log.info(`Kudu sees ${RFP}=1 after ${Math.round((ctx.clock.now() - started) / 1000)} s.`);
      return;
    }
    if (round === 0) ctx.log.info(`Waiting for Kudu to see ${RFP}=1 before pushing…`);
    if (ctx.clock.now() + intervalMs > deadline) {
      const state = seen ? classifyRunFromPackage(effectiveRunFromPackage(seen)) : 'unknown';
      throw new RunpackError(
        'setting-not-propagated',
        `Kudu at ${kudu.host} still does not see ${RFP}=1 (it sees ${state === 'unknown' ? `no settings${lastError ? `: ${lastError}` : ''}` : STATE_WORDS[state as RfpState]}) after ${Math.round((ctx.clock.now() - started) / 1000)} s; pushing now would extract into wwwroot or be refused — run the deploy again, or restart the app's SCM site.`,
      );
    }
    await ctx.clock.sleep(intervalMs);
    await read();
  }
}

function describeHolder(d: KuduDeployment): string {
  const who = [d.deployer, d.author && d.author !== 'N/A' ? d.author : ''].filter(Boolean).join(', ');
  const when = d.received_time ? `, received ${d.received_time}` : '';
  return `deployment ${d.id}${who ? ` (${who}${when})` : when ? ` (${when.slice(2)})` : ''}, ${deploymentStatusName(d.status)}`;
}

interface PushedDeployment {
  record: KuduDeployment;
  /** Tells this run's deployment record from others (the unique message sent with the push). */
  isOurs: (record: KuduDeployment) => boolean | undefined;
}

/** Pure: whether a deployment record belongs to the push that sent `nonce` in its message. */
export function deploymentIsOurs(record: KuduDeployment, nonce: string): boolean | undefined {
  const message = record.message ?? '';
  if (message.includes(nonce)) return true;
  if (/\brunpack [0-9a-f]{12} [0-9a-f]{8}\b/.test(message)) return false;
  const deployer = (record.deployer ?? '').toLowerCase();
  if (deployer && deployer !== 'runpack' && deployer !== 'zipdeploy') return false;
  return undefined;
}

/**
 * Push and follow. A 409 because another deployment runs is never resent blindly: runpack names the holder
 * (GET /api/deployments/latest), waits for it to finish, then pushes again, all within the deadline.
 */
export async function pushAndFollow(
  ctx: DeployContext,
  kudu: KuduClient,
  pkg: PackageInfo,
  deadline: number,
  /**
   * The push itself and the route it is logged as. Default: OneDeploy of the zip with restart=false (Kudu stores
   * it and points packagename.txt at it; the engine's one restart mounts it). Flex Consumption: its One Deploy.
   */
  via: { route: string; push: (o: PushOptions) => Promise<PushResult> } = {
    route: '/api/publish?type=zip&restart=false (OneDeploy, async)',
    push: (o) => kudu.oneDeployZip(o),
  },
): Promise<PushedDeployment> {
  const nonce = randomBytes(4).toString('hex');
  const message = `runpack ${pkg.releaseId} ${nonce}${ctx.inputs.commit ? ` (${ctx.inputs.commit.slice(0, 12)})` : ''}`;
  const isOurs = (record: KuduDeployment) => deploymentIsOurs(record, nonce);
  for (let attempt = 1; ; attempt++) {
    const previous = await kudu.latestDeployment(deadline);
    if (previous && deploymentOutcome(previous) === 'running') {
      ctx.log.info(`Kudu is busy with ${describeHolder(previous)}; waiting for it before pushing.`);
      await followOther(ctx, kudu, previous, deadline);
      continue;
    }
    ctx.log.info(
      `Pushing ${pkg.zipBytes} bytes to ${kudu.host}${via.route}${attempt > 1 ? `, attempt ${attempt}` : ''}…`,
    );
    const result = await via.push({
      body: () => createReadStream(pkg.zipPath),
      size: pkg.zipBytes,
      deployer: 'runpack',
      message,
      deadline,
    });
    if (result.kind === 'conflict') {
      if (result.reason === 'url-mode') {
        throw new RunpackError(
          'kudu-url-mode',
          `Kudu at ${kudu.host} refused the push because it still sees a package URL in ${RFP} (409: ${result.message}); wait a minute and run the deploy again.`,
        );
      }
      if (result.reason === 'other') {
        throw new RunpackError(
          'kudu-conflict',
          `Kudu at ${kudu.host} refused the push (409: ${result.message}); try again later.`,
        );
      }
      const holder = await kudu.latestDeployment(deadline);
      if (holder && deploymentOutcome(holder) === 'running') {
        ctx.log.info(
          `Kudu answered 409 (${result.message}); the lock is held by ${describeHolder(holder)}. Waiting for it.`,
        );
        await followOther(ctx, kudu, holder, deadline);
      } else {
        const wait = Math.min(5000 * attempt, 20_000);
        if (ctx.clock.now() + wait > deadline)
          throw new RunpackError(
            'timeout',
            `Kudu at ${kudu.host} kept answering 409 (${result.message}) until the deadline; another deployment holds the lock — try again when it completes.`,
          );
        ctx.log.info(
          `Kudu answered 409 (${result.message}) while no deployment record is running (another push is still uploading); retrying in ${Math.round(wait / 1000)} s.`,
        );
        await ctx.clock.sleep(wait);
      }
      continue;
    }
    const location = result.kind === 'accepted' ? result.location : '/api/deployments/latest';
    const record = await kudu.pollDeployment(location, {
      deadline,
      previousId: previous?.id ?? null,
      isOurs,
      initialRetryAfterMs: result.kind === 'accepted' ? result.retryAfterMs : undefined,
      sleep: (ms) => ctx.clock.sleep(ms),
      now: () => ctx.clock.now(),
      onStatus: (r) => ctx.log.info(`Kudu deployment ${r.id}: ${describeDeploymentState(r)}`),
    });
    return { record, isOurs };
  }
}

/** A deployment that started after ours replaces it: stop rather than verify content that is not ours. */
async function checkSuperseded(
  kudu: KuduClient,
  pushed: PushedDeployment,
  pkg: PackageInfo,
  deadline: number,
): Promise<void> {
  const latest = await kudu.latestDeployment(deadline).catch(() => null);
  if (!latest || latest.id === pushed.record.id || pushed.isOurs(latest) === true) return;
  throw new RunpackError(
    'superseded',
    `Kudu deployment ${pushed.record.id} of release ${pkg.releaseId} succeeded, but ${describeHolder(latest)} started after it and replaces it; the later deployment wins, so this run stops without verifying.`,
  );
}

async function followOther(
  ctx: DeployContext,
  kudu: KuduClient,
  holder: KuduDeployment,
  deadline: number,
): Promise<void> {
  try {
    const done = await kudu.pollDeployment(`/api/deployments/${encodeURIComponent(holder.id)}`, {
      deadline,
      sleep: (ms) => ctx.clock.sleep(ms),
      now: () => ctx.clock.now(),
    });
    ctx.log.info(
      `The other deployment ${done.id} ended: ${describeDeploymentState(done)}. Pushing ours now.`,
    );
  } catch (err) {
    if (err instanceof RunpackError && err.code === 'timeout')
      throw new RunpackError(
        'timeout',
        `Kudu at ${kudu.host} is still busy with ${describeHolder(holder)} at the deadline; nothing was pushed — run the deploy again when it completes.`,
      );
    throw err;
  }
}

/** The log of a failed deployment, as lines (best effort). */
export async function failureLog(kudu: KuduClient, id: string, deadline: number): Promise<string[]> {
  try {
    const entries = await kudu.deploymentLog(id, deadline);
    return entries.map((e) => `${e.log_time ? `${e.log_time} ` : ''}${e.message}`.trimEnd());
  } catch {
    return [];
  }
}

/**
 * The local-mode publish (entry point for the engine): setting `1`, wait for Kudu, push, follow, confirm
 * packagename.txt. Throws a RunpackError when the deployment fails, saying what is still mounted.
 */
export async function publishLocal(
  ctx: DeployContext,
  pkg: PackageInfo,
  progress?: PublishInput['progress'],
): Promise<PublishOutcome> {
  const { target, inputs } = ctx;
  const findings: Finding[] = [];
  const name = target.ref.slot ? `${target.ref.appName}/${target.ref.slot}` : target.ref.appName;

  // 1. The setting, with the mode-switch rules.
  const current = await ctx.settings.read();
  const decision = modeSwitchDecision(
    effectiveRunFromPackage(current),
    'local',
    { ...target, name },
    inputs.force,
  );
  // The engine reports the switch (plan phase); here it only guards against a refused one.
  if (!decision.allowed) throw new RunpackError(decision.code, decision.message);
  const setupDeadline = ctx.phaseDeadline(5 * 60_000);
  const { kudu, settings: kuduSettings } = await openKudu(ctx, setupDeadline);
  const changes: Record<string, string | null> = { [RFP]: '1' };
  if (current[RFP_LEGACY] !== undefined) changes[RFP_LEGACY] = null;
  const update = await ctx.settings.update(changes);
  if (update.changed) ctx.log.info(`Set ${RFP}=1 on ${name} (other settings kept).`);

  // 2. Kudu must see it before the push.
  await waitForKuduSetting(ctx, kudu, update.changed ? null : kuduSettings, setupDeadline);

  // 3. What is mounted now, for the evidence if the push fails.
  const oldName = await readPackageName(kudu, setupDeadline).catch(() => null);
  ctx.log.info(`Current package: ${oldName ?? 'none'} (${PACKAGE_NAME_FILE}).`);
  // runpack's record of that package: its release id (live before this deploy), and whether a rollback may
  // bring it back.
  const previousRecord = oldName
    ? await readLocalRecords(kudu, ctx.phaseDeadline(30_000))
        .then(({ records }) => records.find((r) => r.package === oldName) ?? null)
        .catch(() => null)
    : null;
  progress?.({ previousReleaseId: previousRecord?.releaseId });

  // 4. Push and follow.
  const pushed = await pushAndFollow(ctx, kudu, pkg, ctx.deadline);
  const { record } = pushed;
  if (deploymentOutcome(record) !== 'succeeded') {
    const lines = await failureLog(kudu, record.id, ctx.deadline);
    if (lines.length) {
      ctx.log.error(`Kudu deployment ${record.id} log:`);
      for (const line of lines.slice(-40)) ctx.log.error(`  ${line}`);
    }
    const nowName = await readPackageName(kudu, ctx.deadline).catch(() => null);
    const stamp = await readMountedStamp(kudu, ctx.deadline).catch(() => null);
    const stampText = stampSummary(stamp);
    // Nothing changed what the app mounts: the release that was live still is.
    if (nowName === oldName) progress?.({ switching: false });
    const still =
      nowName === oldName
        ? `the previous package ${oldName ?? '(none)'} is still mounted (packagename.txt unchanged${stampText ? `, wwwroot stamp ${stampText}` : ''})`
        : `packagename.txt now names ${nowName ?? 'nothing'}`;
    const reason = (record.status_text || record.progress || '').trim();
    throw new RunpackError(
      'deploy-failed',
      `Kudu deployment ${record.id} on ${name} ended ${deploymentStatusName(record.status)}${reason ? ` (${reason})` : ''}; ${still}. See the Kudu log above, fix the package and deploy again.`,
    );
  }

  // 5. packagename.txt must name a new package (written after Success), unless a later push replaced ours.
  await checkSuperseded(kudu, pushed, pkg, ctx.deadline);
  let newName: string | null = null;
  for (let i = 0; i < 3; i++) {
    newName = await readPackageName(kudu, ctx.deadline);
    if (newName && newName !== oldName) break;
    await ctx.clock.sleep(2000);
  }
  const renamed = !!newName && newName !== oldName;
  // Kudu names stored packages by UTC second: a push in the same second as the previous one reuses its name, so
  // an unchanged name is confirmed by the stored zip itself (our size, written during this deployment).
  const sameSecond =
    !!newName &&
    newName === oldName &&
    (await storedPackageIsOurs(kudu, newName, pkg.zipBytes, record, ctx.deadline));
  if (sameSecond)
    ctx.log.info(`packagename.txt still names ${newName}: Kudu reused the name within one second.`);
  const confirmed = !!newName && (renamed || sameSecond) && isSitePackageName(newName);
  await checkSuperseded(kudu, pushed, pkg, ctx.deadline);
  if (!confirmed) {
    const msg =
      newName === oldName
        ? `Kudu reported deployment ${record.id} Success but packagename.txt still names ${oldName ?? 'nothing'}; the new package is not the one mounted — check ${kudu.baseUrl}/api/vfs/${SITE_PACKAGES}/ and deploy again.`
        : `packagename.txt names '${newName ?? ''}', not a package Kudu stored; check ${kudu.baseUrl}/api/vfs/${SITE_PACKAGES}/ and deploy again.`;
    throw new RunpackError('package-not-confirmed', msg);
  }
  ctx.log.info(
    `Kudu deployment ${record.id} succeeded; packagename.txt now names ${newName} (was ${oldName ?? 'none'}).`,
  );
  return {
    mode: 'local',
    packageName: newName!,
    deploymentId: record.id,
    confirmed,
    previousPackage: oldName,
    previousRecord,
    kudu,
    findings,
  };
}

function shortSha(sha: string | undefined): string {
  return sha ? sha.slice(0, 12) : '?';
}

function stampSummary(text: string | null): string {
  if (text === null) return '';
  try {
    const s = JSON.parse(text) as Partial<ReleaseStamp>;
    return s.contentSha256 ? `still content ${shortSha(s.contentSha256)}` : '';
  } catch {
    return '';
  }
}
