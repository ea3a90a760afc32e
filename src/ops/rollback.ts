/**
 * Rollback execution. URL mode: a server-side copy of the chosen release blob onto the stable name (If-Match
 * on the stable blob's ETag), then the deploy engine's restart and verify phases. Local mode: rewrite
 * packagename.txt through Kudu VFS (If-Match) to the stored package Kudu still keeps, or push the release blob
 * through zip deploy; then restart and verify. A dry run prints the plan and writes nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KuduClient } from '../azure/kudu.js';
import { pushAndFollow } from '../deploy/publish/local.js';
import { readPackageName } from '../release/mounted.js';
import { restartAndVerify } from '../deploy/after-mount.js';
import { rollbackConfig } from '../deploy/config.js';
import { openKudu } from '../deploy/context.js';
import { stableBlobName } from '../release/releases.js';
import type { Classification } from '../deploy/classify.js';
import type { Finding, PackageInfo } from '../deploy/types.js';
import type { LevelResult, VerifyInput } from '../deploy/verify.js';
import { publishFlexRelease } from '../deploy/publish/flex.js';
import { RunpackError, describeError } from '../util/errors.js';
import { maskUrl } from './collect.js';
import {
  inspectRelease,
  loadReleaseState,
  loadStoredState,
  type ReleaseState,
  type StoredState,
} from './release-ops.js';
import { resolveRollbackRelease, rollbackPlan, stableTargetOf, type RollbackPlan } from './rollback-plan.js';
import { blobPathOf } from './sas.js';
import type { OpsSession } from './session.js';
import type { ArchiveEvidence, Release } from './types.js';
import { classifyRunFromPackage, effectiveRunFromPackage, PACKAGE_NAME_FILE, RFP } from '../release/rfp.js';

export interface RollbackResult {
  ok: boolean;
  dryRun: boolean;
  plan: RollbackPlan;
  /** Verification levels after the restart (empty on a dry run). */
  levels: LevelResult[];
  cause?: Classification | null;
  /** Function apps: trigger sync and the functions check after the rollback. */
  findings: Finding[];
  error?: string;
}

function packageInfo(r: Release, inspection: ArchiveEvidence, zipPath = ''): PackageInfo {
  return {
    zipPath,
    sha256: r.sha256,
    zipBytes: r.size,
    files: inspection.files ?? 0,
    bytes: 0,
    stamp: inspection.stamp ?? null,
    inspect: {
      ok: true,
      runtime: inspection.runtime ?? 'unknown',
      entryPoint: inspection.entryPoint ?? null,
      files: inspection.files ?? 0,
      bytes: 0,
      problems: [],
    },
    functions: inspection.functions ?? [],
    releaseId: r.id,
  };
}

/** Plans the rollback and, unless dryRun, carries it out and verifies it. */
type RollbackOptions = {
  release: string;
  dryRun: boolean;
  containerGiven: boolean;
  rollbackSettings?: boolean;
};

/** What a cancelled rollback can say: the release that was live, and where the switch to which one stood. */
interface RollbackProgress {
  live?: string;
  to?: string;
  switching: boolean;
}

export async function runRollback(s: OpsSession, options: RollbackOptions): Promise<RollbackResult> {
  const progress: RollbackProgress = { switching: false };
  try {
    return await rollbackSteps(s, options, progress);
  } catch (err) {
    const signal = s.ctx.signal;
    if (!signal?.aborted) throw err;
    const by =
      signal.reason instanceof Error ? signal.reason.message.replace(/^cancelled by /, '') : 'the runner';
    const who = s.target.ref.slot ? `${s.target.ref.appName}/${s.target.ref.slot}` : s.target.ref.appName;
    throw new RunpackError(
      'cancelled',
      progress.switching
        ? `Cancelled (${by}) during the rollback to ${progress.to} of ${who}: the switch had started but nothing verified it, so release ${progress.to} may be live unverified — run the rollback again.`
        : `Cancelled (${by}) before the rollback changed anything: ${progress.live ? `release ${progress.live}` : 'the release that was live'} still is.`,
    );
  }
}

async function rollbackSteps(
  s: OpsSession,
  options: RollbackOptions,
  progress: RollbackProgress,
): Promise<RollbackResult> {
  const { log, target } = s;
  const who = target.ref.slot ? `${target.ref.appName}/${target.ref.slot}` : target.ref.appName;
  const deadline = s.ctx.phaseDeadline(5 * 60_000);
  const settings = await s.arm.listAppSettings(target.ref);
  const settingValue = effectiveRunFromPackage(settings);
  maskUrl(s, settings[RFP]);
  const rfpMode = classifyRunFromPackage(settingValue);
  const mode = target.isFlex ? 'flex' : rfpMode;
  if (mode !== 'url' && mode !== 'local' && mode !== 'flex')
    throw new RunpackError(
      'rollback-no-package',
      `${who} does not run from a package (WEBSITE_RUN_FROM_PACKAGE is ${rfpMode === 'unset' ? 'unset' : 'not 1 or a URL'}); there is nothing to roll back — deploy with runpack first.`,
    );
  let stableBlob = stableBlobName(target.ref.appName, target.ref.slot);

  let state: ReleaseState | undefined;
  let stored: StoredState | undefined;
  const inspections = new Map<string, ArchiveEvidence>();
  if (mode === 'flex' && !s.inputs.storageAccount)
    throw new RunpackError(
      'storage-account-missing',
      `${who} runs on Flex Consumption, whose releases runpack keeps only in its own storage; give ${s.inputs.naming ? s.inputs.naming.input('storage-account') : "Input 'storage-account'"} (the one the deploys used).`,
    );
  if (mode === 'flex' && options.rollbackSettings)
    throw new RunpackError(
      'rollback-settings-unsupported',
      `${who} runs on Flex Consumption, whose SCM site keeps no files, so no settings were recorded with its releases; roll back without rollback-settings.`,
    );
  if (mode === 'local' && !s.inputs.storageAccount) {
    // Local mode keeps its own releases: the packages Kudu stores (ids are their release stamps).
    stored = await log.group('Stored packages', () => loadStoredState(s, deadline));
    for (const [k, v] of stored.inspections) inspections.set(k, v);
  } else {
    state = await log.group('Releases', () => loadReleaseState(s, options.containerGiven));
    if (mode === 'url') {
      const path = settingValue ? blobPathOf(settingValue, state.account.blobEndpoint) : null;
      // After a slot swap the side runs another stable blob (`<app>.zip`, `<app>-<slot>-a.zip`…): that one.
      const named = stableTargetOf(target.ref.appName, state.container, path);
      if (!named)
        throw new RunpackError(
          'rollback-not-stable',
          `${who}'s package URL does not name a stable blob of ${target.ref.appName} in ${state.container} (such as ${stableBlob}), so copying a release there would not change what it runs; deploy once with runpack (it points the app at a stable blob), then roll back.`,
        );
      stableBlob = named;
    } else stored = await log.group('Stored packages', () => loadStoredState(s, deadline));
  }
  const releases = state?.releases ?? stored!.releases;
  const live = state ? state.live : stored!.live;
  progress.live = live?.slice(0, 12);

  // Inspect the release the spec names (the plan refuses it if it fails).
  const chosen = resolveRollbackRelease(options.release, releases, live);
  if (state) inspections.set(chosen.sha256, await inspectRelease(s, state.store, state.container, chosen));
  const plan = rollbackPlan({
    release: options.release,
    mode: mode as 'url' | 'local' | 'flex',
    app: target.ref.appName,
    ...(target.ref.slot ? { slot: target.ref.slot } : {}),
    releases,
    live,
    inspections,
    container: state?.container,
    stableBlob,
    settingValue: settingValue ? s.secrets.redact(settingValue) : undefined,
    sitePackages: stored?.packages,
    packageName: stored?.packageName ?? null,
  });
  plan.steps.push(
    options.rollbackSettings
      ? `Bring back the app settings, connection strings and startup command recorded with release ${plan.to.id}, every other setting kept.`
      : 'Leave app settings, connection strings and the startup command as they are (rollback-settings: false).',
  );
  const kudu: KuduClient | undefined = stored?.kudu;
  const packageEtag = stored?.packageEtag;
  log.info(`Rollback of ${who} to release ${plan.to.id}${plan.from ? ` (live: ${plan.from.id})` : ''}:`);
  for (const step of plan.steps) log.info(`  ${step}`);
  const result: RollbackResult = { ok: false, dryRun: options.dryRun, plan, levels: [], findings: [] };
  if (options.dryRun) {
    log.info('Dry run: nothing was written.');
    result.ok = true;
    return result;
  }

  const inspection = inspections.get(plan.to.sha256)!;
  let workDir: string | undefined;
  let flexInput: VerifyInput | undefined;
  try {
    // Cancelled while planning: stop before anything changes what the app mounts.
    s.ctx.signal?.throwIfAborted();
    progress.to = plan.to.id;
    progress.switching = !plan.alreadyLive;
    if (plan.copy) {
      const copy = plan.copy;
      await log.group('Copy the release to the stable blob', async () => {
        const after = await state!.store.copyIfMatch(
          copy.container,
          copy.from,
          copy.to,
          state!.stableEtags[copy.to] ?? null,
        );
        const sha = Object.entries(after.metadata).find(([k]) => k.toLowerCase() === 'sha256')?.[1];
        if (sha !== plan.to.sha256)
          throw new RunpackError(
            'rollback-copy-mismatch',
            `${copy.container}/${copy.to} does not carry release ${plan.to.id} after the copy; another writer may have raced — run the rollback again.`,
          );
        log.info(`${copy.container}/${copy.to} now holds release ${plan.to.id}.`);
      });
    }
    if (plan.local?.strategy === 'repoint' && !plan.alreadyLive) {
      const name = plan.local.packageName;
      await log.group('Point packagename.txt at the stored package', async () => {
        const written = await kudu!
          .vfsPut(PACKAGE_NAME_FILE, name, { ifMatch: packageEtag ?? '*', deadline })
          .catch((err: unknown) => {
            throw new RunpackError(
              'rollback-write-failed',
              `Kudu at ${kudu!.host} could not write packagename.txt (${describeError(err)}); check the SCM site and try again.`,
            );
          });
        if (written === 'changed')
          throw new RunpackError(
            'release-target-changed',
            `packagename.txt on ${kudu!.host} changed while the rollback was being prepared (another deployment); run the rollback again.`,
          );
        const now = await readPackageName(kudu!, deadline);
        if (now !== name)
          throw new RunpackError(
            'rollback-write-failed',
            `packagename.txt reads ${now ?? 'nothing'} after writing ${name}; try again.`,
          );
        log.info(`packagename.txt now names ${name} (was ${plan.local?.previousName ?? 'none'}).`);
      });
    }
    if (plan.flex) {
      const flex = plan.flex;
      await log.group('Publish the release with One Deploy', async () => {
        workDir = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'runpack-rollback-'));
        const zipPath = join(workDir, `${plan.to.sha256}.zip`);
        await state!.store.download(flex.container, flex.blob, zipPath);
        flexInput = await publishFlexRelease(
          s.ctx,
          packageInfo(plan.to, inspection, zipPath),
          s.storageAuthorization,
        );
      });
    }
    if (plan.local?.strategy === 'zipdeploy') {
      const blob = plan.local.blob;
      await log.group('Push the release through zip deploy', async () => {
        workDir = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'runpack-rollback-'));
        const zipPath = join(workDir, `${plan.to.sha256}.zip`);
        await state!.store.download(state!.container, blob, zipPath);
        const { record } = await pushAndFollow(
          s.ctx,
          kudu!,
          packageInfo(plan.to, inspection, zipPath),
          s.ctx.deadline,
        );
        if (record.status !== 4)
          throw new RunpackError(
            'rollback-deploy-failed',
            `Kudu deployment ${record.id} of release ${plan.to.id} ended with status ${record.status}; read its log in the SCM site.`,
          );
      });
    }
    const configFindings: Finding[] = [];
    let settingChanged = false;
    if (options.rollbackSettings)
      await log.group(`Settings of release ${plan.to.id}`, async () => {
        const done = await rollbackConfig(
          {
            ...s.ctx,
            kudu: async () => kudu ?? (await openKudu(s.ctx, deadline)).kudu,
            deadline,
            failure: 'error',
          },
          plan.to.id,
          true,
        );
        if (done.note) {
          if (done.note.severity === 'error') log.error(done.note.message);
          else log.warn(done.note.message);
          configFindings.push(done.note);
        }
        settingChanged = done.settingsWritten;
      });
    const signed = /[?&]sig=/i.test(settingValue ?? '');
    const after = await restartAndVerify(s.ctx, packageInfo(plan.to, inspection), {
      verify: flexInput ?? {
        intendedValue: mode === 'local' ? '1' : (settingValue ?? ''),
        access: mode === 'url' ? (signed ? 'sas' : 'identity') : undefined,
        storageAuthorization: s.storageAuthorization,
      },
      mode,
      restart: true,
      settingChanged,
    });
    // Flex: the verified release is the last verified one again.
    if (plan.flex && after.verify.ok)
      await state!.store.copyBlob(plan.flex.container, plan.flex.blob, plan.flex.stable);
    const verified = after.verify;
    result.levels = verified.levels;
    result.cause = verified.cause;
    result.findings = [...configFindings, ...after.findings];
    result.ok = verified.ok && !result.findings.some((f) => f.severity === 'error');
    if (verified.ok && !result.ok)
      result.error = result.findings.find((f) => f.severity === 'error')?.message;
    if (!verified.ok)
      result.error = verified.cause
        ? `Rollback to ${plan.to.id} did not verify: ${verified.cause.evidence}. Fix: ${verified.cause.fix}.`
        : `Rollback to ${plan.to.id} did not verify.`;
  } finally {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }
  return result;
}
