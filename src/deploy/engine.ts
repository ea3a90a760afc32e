/**
 * The deploy engine: validate, log in, resolve the target, package and inspect, upload, grant access, set,
 * restart, verify. Each phase runs in its own log group with its duration. I/O comes in through EngineDeps so
 * the action and the CLI (and tests) run the same engine.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { ArmClient } from '../azure/arm.js';
import type { CloudEndpoints } from '../azure/cloud.js';
import type { AuthDeps, AuthSession } from '../azure/credentials.js';
import { createHttpClient, describeRetry, type HttpClient } from '../azure/http.js';
import { auditSource, formatAnnotations, formatFinding, type Annotation } from '../audit/index.js';
import { ACTION_NAMING } from '../naming.js';
import { inspect } from '../package/inspect.js';
import { hashFile, pack } from '../package/zip-writer.js';
import { modeSwitchDecision } from '../release/rfp.js';
import { createLogger, type LogSink, type PhaseTiming } from '../report/log.js';
import { createSecretRegistry, type SecretRegistry } from '../report/secrets.js';
import { RunpackError, UsageError, describeError } from '../util/errors.js';
import { RUNPACK_VERSION } from '../version.js';
import { restartAndVerify } from './after-mount.js';
import { withPhaseBudgets } from './budget.js';
import { cancellableClock, createDeployContext, logIn, realClock } from './context.js';
import { planDeployConfig, wantedConfig } from './config.js';
import { functionPackageFindings } from './functions.js';
import { planDeploy, type Plan } from './plan.js';
import { localPublisher } from './publish/local.js';
import type { Published, Publisher, PublishInput } from './publish/types.js';
import { urlPublisher } from './publish/url.js';
import { flexPublisher } from './publish/flex.js';
import { annotationPhase, historyPhase, insightsKey, recordPhase, rollbackPhase } from './recover.js';
import { probeSite } from './restart.js';
import {
  bestEffort,
  describeFindings,
  hasErrors,
  liveRelease,
  recordFindings,
  settleVerdict,
  type DeployResult,
} from './result.js';
import type { RetentionOutcome } from './retention.js';
import { checkSlots, swapSlots, targetAfterSwap } from './slots.js';
import { resolveSubscription, resolveTarget } from './target.js';
import type { Clock, DeployContext, DeployInputs, DeployMode, PackageInfo, TargetInfo } from './types.js';

export { RUNPACK_VERSION } from '../version.js';
export type { DeployResult, RollbackOutcome } from './result.js';
export { describeRollback, liveRelease } from './result.js';

/** One publisher per mode: a new mode is a new file and one line here. */
const PUBLISHERS: Record<DeployMode, Publisher> = {
  url: urlPublisher,
  local: localPublisher,
  flex: flexPublisher,
};

export interface EngineDeps {
  env: Record<string, string | undefined>;
  sink: LogSink;
  /** core.setSecret in the action. */
  setSecret?: (value: string) => void;
  getIdToken: (audience: string) => Promise<string>;
  runAz?: (args: string[]) => Promise<string | null>;
  http?: HttpClient;
  clock?: Clock;
  /** Secrets already known (secret inputs), masked first. */
  secrets?: SecretRegistry;
  /** GitHub annotations (core.warning / core.error with file and line); the CLI logs the lines instead. */
  annotate?: (a: Annotation) => void;
  /** The front end's own login (the Azure Pipelines task's service connection), instead of the inputs' logins. */
  login?: AuthDeps['login'];
  /** Where temp files go (default RUNNER_TEMP, then the OS temp folder). */
  tempDir?: string;
  /** A link to this run, recorded with the release (default: the GitHub Actions run from GITHUB_* variables). */
  runUrl?: string;
  /** The source folder the audit reads by default (default GITHUB_WORKSPACE, then the working folder). */
  workspace?: string;
  /** The step's cancellation (SIGINT/SIGTERM): stop starting new work, clean up, say where it stopped. */
  signal?: AbortSignal;
}

/** Checks that need no network: the package path. */
export function validateLocal(inputs: DeployInputs, cwd = process.cwd()): { path: string; isZip: boolean } {
  const path = resolve(cwd, inputs.package);
  const n = inputs.naming ?? ACTION_NAMING;
  if (!existsSync(path))
    throw new UsageError(
      `${n.input('package')} names ${inputs.package}, which does not exist; give the publish folder or a .zip.`,
    );
  const st = statSync(path);
  if (st.isDirectory()) return { path, isZip: false };
  if (inputs.packageCache)
    throw new UsageError(
      `${n.input('package-cache')} is for a folder package, but ${n.ref('package')} names a zip, which is deployed as it is; remove ${n.ref('package-cache')} or give the publish folder.`,
    );
  if (!/\.zip$/i.test(path))
    throw new UsageError(`${n.input('package')} must be a folder or a .zip file, not ${inputs.package}.`);
  return { path, isZip: true };
}

/** Problems of a zip that no target, runtime or login changes: refused while validating the inputs. */
const ARCHIVE_PROBLEMS = new Set([
  'corrupt-archive',
  'too-large',
  'unsafe-path',
  'symlink',
  'encrypted-entry',
  'duplicate-entry',
  'empty-package',
]);

/**
 * A prebuilt .zip's structure (its central directory: readable, safe paths, no links, no encryption), checked
 * before any Azure call; the full inspection with the target's runtime rules and every CRC follows in Package.
 */
export async function checkArchive(
  inputs: DeployInputs,
  local: { path: string; isZip: boolean },
): Promise<void> {
  if (!local.isZip) return;
  const report = await inspect(local.path, { verifyData: false });
  const bad = report.problems.filter((p) => p.severity === 'error' && ARCHIVE_PROBLEMS.has(p.code));
  if (bad.length)
    throw new UsageError(
      `${(inputs.naming ?? ACTION_NAMING).input('package')} cannot be deployed: ${bad
        .slice(0, 3)
        .map((p) => p.message.replace(/\.$/, ''))
        .join(
          '; ',
        )}${bad.length > 3 ? ` (and ${bad.length - 3} more)` : ''}. Rebuild the zip from the publish folder.`,
    );
}

/** What the targets of a fleet share: one login, one package. */
export interface SharedRun {
  http: HttpClient;
  session: AuthSession;
  arm: ArmClient;
  cloud: CloudEndpoints;
  /** The package packed once (a folder input); absent for a .zip input, which every target reads. */
  packed?: { zipPath: string; stamp: PackageInfo['stamp'] };
  /**
   * `account/container` → the release blob the first target uploaded there (null when its upload failed), so
   * the others copy it inside the account instead of uploading the package again.
   */
  uploads?: Map<string, Promise<string | null>>;
}

export async function runEngine(
  inputs: DeployInputs,
  deps: EngineDeps,
  shared?: SharedRun,
): Promise<DeployResult> {
  const clock = cancellableClock(deps.clock ?? realClock, deps.signal);
  const secrets = deps.secrets ?? createSecretRegistry(deps.setSecret);
  const phases: PhaseTiming[] = [];
  const started = clock.now();
  const deadline = started + inputs.timeoutMinutes * 60_000;
  let phase = '';
  const log = cancellablePhases(
    withPhaseBudgets(
      createLogger(deps.sink, secrets, { now: clock.now, timings: phases }),
      clock.now,
      deadline,
    ),
    deps.signal,
    (name) => (phase = name),
  );
  const result: DeployResult = {
    ok: false,
    noop: false,
    app: inputs.appName,
    slot: inputs.slot,
    ...(inputs.commit ? { commit: inputs.commit } : {}),
    ...((deps.runUrl ?? githubRunUrl(deps.env)) ? { runUrl: deps.runUrl ?? githubRunUrl(deps.env) } : {}),
    verified: false,
    levels: [],
    phases,
    findings: [],
  };
  const http =
    shared?.http ??
    deps.http ??
    createHttpClient({
      userAgent: `runpack/${RUNPACK_VERSION}`,
      sleep: clock.sleep,
      now: clock.now,
      onRetry: (i) => log.info(describeRetry(i)),
      signal: deps.signal,
    });
  const phaseDeadline = (ms: number) => Math.min(deadline, clock.now() + ms);
  let workDir: string | undefined;
  /** Released when the deploy ends, however it ends (the deploy lock). */
  const held: (() => Promise<void>)[] = [];

  try {
    // 1. Validate (no network).
    const local = await log.group('Validate inputs', async () => {
      const v = validateLocal(inputs);
      await checkArchive(inputs, v);
      log.info(`App ${inputs.appName}${inputs.slot ? `, slot ${inputs.slot}` : ''}; package ${v.path}.`);
      return v;
    });

    // 1b. Write-path audit of the source, before anything is packaged or uploaded.
    if (!shared && inputs.audit && inputs.audit !== 'false')
      await log.group('Audit', () => runAudit(inputs, deps, result, log));

    // 2. Log in.
    const login = () => logIn(inputs, deps, { http, clock, secrets, log, deadline, phaseDeadline }, result);
    const { session, arm, cloud } = shared
      ? { session: shared.session, arm: shared.arm, cloud: shared.cloud }
      : await log.group('Log in', login);
    if (shared) result.auth = shared.session.method;

    // 3. Resolve the target and plan.
    const { target, settings, plan } = await log.group('Resolve target', () =>
      resolvePhase(inputs, arm, session, result, log),
    );

    // 3b. The configuration the deploy carries, planned against what the app has (nothing written yet).
    const config = wantedConfig(inputs)
      ? await log.group('Configuration', () => planDeployConfig(arm, target, settings, inputs, log))
      : undefined;
    if (config) result.configuration = config.plan.lines;

    const ctx = createDeployContext({
      inputs,
      target,
      config,
      http,
      arm,
      log,
      secrets,
      clock,
      armAuthorization: (o) => session.authorization(cloud.armScope, o),
      deadline,
      signal: deps.signal,
    });

    if (target.ref.slot || inputs.swapTo) {
      await log.group('Slots', async () => recordFindings(result, await checkSlots(ctx, plan.mode), log));
      if (hasErrors(result))
        throw new RunpackError(
          'slot-check',
          describeFindings(result.findings.filter((f) => f.severity === 'error')),
        );
    }

    // 4. Package and inspect.
    const pkg = await log.group('Package', async () => {
      return packagePhase(inputs, deps, local, target, result, log, (dir) => (workDir = dir), shared?.packed);
    });

    // What the mode's publisher works from, for the dry run's plan and for the publish.
    const publishInput: PublishInput = {
      ctx,
      pkg,
      plan,
      settings,
      session,
      storageScope: cloud.storageScope,
    };
    if (inputs.dryRun) {
      await log.group('Plan (dry run)', async () => {
        const planned = await PUBLISHERS[plan.mode].plan(publishInput);
        for (const l of planned.lines) log.info(l);
        result.plan = planned.lines;
        if (planned.packageUrl) result.packageUrl = planned.packageUrl;
        if (planned.retention) result.retention = planned.retention;
      });
      result.dryRun = true;
      result.ok = !hasErrors(result);
      if (!result.ok) {
        const failed = result.findings.filter((f) => f.severity === 'error');
        result.error = describeFindings(failed);
        result.errorCode = failed[0].code;
      }
      return result;
    }

    // Publish with the mode's publisher, then restart and verify.
    const published = await publishPhase(publishInput, deps, result, shared?.uploads, (release) =>
      held.push(release),
    );

    // After the switch: record a verified release (where a rollback looks for it), or bring the last good one back.
    if (!result.noop && published.verify) {
      if (result.verified && !hasErrors(result))
        await log.group('Record the release', () => recordPhase(ctx, published, result));
      else if (!result.verified) await rollbackPhase(ctx, pkg, plan.mode, published, result);
    }

    // Slots: swap after a verified deploy, then check the swapped-in side.
    if (inputs.swapTo && result.verified && !hasErrors(result))
      await log.group(`Swap into ${inputs.swapTo}`, () => swapPhase(ctx, inputs.swapTo!, pkg, result));

    // Retention: only after a verified url-mode deploy; a failed prune is a warning, never a failed deploy.
    const prune = published.prune;
    if (prune && result.verified && !hasErrors(result) && inputs.keepReleases)
      await log.group('Retention', () => retentionPhase(prune, inputs, result, log));

    settleVerdict(result);
    result.liveReleaseId = liveRelease(result, pkg.releaseId);

    // Application Insights (when the app's settings name one) gets a release annotation, verified or failed.
    const key = insightsKey({ ...settings, ...(config?.plan.settingChanges ?? {}) });
    if (key && published.verify)
      await log.group('Release annotation', () =>
        annotationPhase(ctx, result, key, { runUrl: result.runUrl }),
      );

    // The app's deployment history (what the portal's Deployment Center lists) gets this deploy, in URL mode too.
    if (plan.mode === 'url' && published.verify)
      await log.group('Deployment history', () =>
        historyPhase(ctx, result, {
          runUrl: result.runUrl,
          author: deps.env.GITHUB_ACTOR ?? deps.env.BUILD_REQUESTEDFOR,
        }),
      );
  } catch (err) {
    result.ok = false;
    result.error = secrets.redact(describeError(err));
    result.errorCode = err instanceof RunpackError ? err.code : 'unexpected';
    // Failed before anything changed what the app mounts: the release that was live still is.
    if (!result.switching) result.liveReleaseId = result.previousReleaseId;
    // Verified before the failure (a cancellation during the steps after): this release is live.
    else if (result.verified) result.liveReleaseId = result.releaseId;
    if (deps.signal?.aborted) {
      result.errorCode = 'cancelled';
      result.error = describeCancellation(result, phase, deps.signal.reason);
    }
  } finally {
    for (const release of held) await release().catch(() => undefined);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }
  if (result.error) result.error = secrets.redact(result.error);
  log.info(`Total ${((clock.now() - started) / 1000).toFixed(1)} s.`);
  return result;
}

type PhaseLog = DeployContext['log'];

/** A logger whose groups refuse to start once the step is cancelled, and report which phase runs. */
function cancellablePhases(
  log: PhaseLog,
  signal: AbortSignal | undefined,
  onPhase: (name: string) => void,
): PhaseLog {
  return {
    ...log,
    group: (name, fn) => {
      if (signal?.aborted) throw new RunpackError('cancelled', 'The step was cancelled.');
      onPhase(name);
      return log.group(name, fn);
    },
  };
}

/** Pure: where a cancelled deploy stopped and what the app runs now. */
export function describeCancellation(result: DeployResult, phase: string, reason?: unknown): string {
  const by = reason instanceof Error ? reason.message.replace(/^cancelled by /, '') : 'the runner';
  const where = phase ? ` during ${phase}` : '';
  const now = result.verified
    ? `release ${result.releaseId} is live and verified; what came after (${phase || 'the last steps'}) did not finish`
    : result.switching
      ? `the package of release ${result.releaseId} was switched but not verified, so it may be live unverified — run 'runpack rollback --release previous' or deploy again`
      : `nothing was changed, so ${result.previousReleaseId ? `release ${result.previousReleaseId}` : 'the release that was live'} still is`;
  return `Cancelled (${by})${where}: ${now}.`;
}

/** Resolves the subscription and the target, reads its settings, and plans the deploy (mode, access, refusals). */
async function resolvePhase(
  inputs: DeployInputs,
  arm: ArmClient,
  session: AuthSession,
  result: DeployResult,
  log: PhaseLog,
): Promise<{ target: TargetInfo; settings: Record<string, string>; plan: Plan }> {
  const subscriptionId = await resolveSubscription(arm, inputs, session.subscriptionId);
  const target = await resolveTarget(arm, inputs, subscriptionId);
  result.resourceGroup = target.ref.resourceGroup;
  result.appUrl = target.appUrl;
  log.info(
    `${target.ref.appName}${target.ref.slot ? `/${target.ref.slot}` : ''} in ${target.ref.resourceGroup}: ${target.kind}, ${target.isLinux ? 'Linux' : 'Windows'}, sku ${target.sku || 'unknown'}, ${target.state}; SCM ${target.scmHostName ?? 'none'}.`,
  );
  const settings = await arm.listAppSettings(target.ref);
  const plan = planDeploy(inputs, target, settings);
  // Run-from-package's mode switches (a Flex app's plan already refused what Flex cannot do).
  if (plan.mode !== 'flex') {
    const decision = modeSwitchDecision(
      plan.previousValue,
      plan.mode,
      {
        ...target,
        name: target.ref.slot ? `${target.ref.appName}/${target.ref.slot}` : target.ref.appName,
      },
      inputs.force,
    );
    if (!decision.allowed) throw new RunpackError(decision.code, decision.message);
    if (decision.severity !== 'info')
      plan.findings.push({ severity: decision.severity, code: decision.code, message: decision.message });
  }
  for (const f of plan.findings) log.warn(f.message);
  result.findings.push(...plan.findings);
  result.mode = plan.mode;
  result.access = plan.access;
  log.info(`Mode ${plan.mode}${plan.access ? `, package access ${plan.access}` : ''}.`);
  return { target, settings, plan };
}

/** Packs the folder (or takes the zip, or the fleet's shared package), inspects it, and hashes it. */
async function packagePhase(
  inputs: DeployInputs,
  deps: EngineDeps,
  local: { path: string; isZip: boolean },
  target: TargetInfo,
  result: DeployResult,
  log: PhaseLog,
  /** Told the temp folder as soon as it exists, so the engine removes it whatever happens next. */
  keepWorkDir: (dir: string) => void,
  packed?: SharedRun['packed'],
): Promise<PackageInfo> {
  let zipPath = local.path;
  let stamp: PackageInfo['stamp'] = null;
  /** The zip's sha256 and size when this phase wrote it (pack hashes every byte it writes). */
  let written: { sha256: string; bytes: number } | undefined;
  if (packed) {
    zipPath = packed.zipPath;
    stamp = packed.stamp;
  } else if (!local.isZip) {
    const workDir = mkdtempSync(join(deps.tempDir || deps.env.RUNNER_TEMP || tmpdir(), 'runpack-'));
    keepWorkDir(workDir);
    zipPath = join(workDir, `${inputs.appName}.zip`);
    let reported = 0;
    const packed = await pack({
      sourceDir: local.path,
      outFile: zipPath,
      exclude: inputs.exclude,
      stamp: inputs.stamp,
      ...(inputs.packageCache ? { cacheDir: resolve(inputs.packageCache) } : {}),
      // Progress lines for large folders, about every tenth.
      onProgress: (done, total) => {
        log.progress?.((done / total) * 100, 'Packaging');
        if (total < 64 * 1048576 || done - reported < total / 10) return;
        reported = done;
        log.info(`Packaged ${Math.round((done / total) * 100)}% (${(done / 1048576).toFixed(0)} MiB).`);
      },
    });
    stamp = packed.stamp;
    written = { sha256: packed.sha256, bytes: packed.zipBytes };
    if (packed.cache)
      log.info(
        `Entry cache ${inputs.packageCache}: ${packed.cache.hits} entries reused, ${packed.cache.misses} compressed.`,
      );
  }
  const report = await inspect(zipPath, {
    runtime: inputs.runtime === 'auto' ? undefined : inputs.runtime,
    functionApp: target.isFunctionApp,
    verifyData: local.isZip,
  });
  const errors = report.problems.filter((p) => p.severity === 'error');
  for (const p of report.problems.filter((x) => x.severity === 'warning')) log.warn(p.message);
  if (errors.length)
    throw new RunpackError(
      errors[0].code,
      `The package cannot run from package: ${errors.map((e) => e.message).join(' ')}`,
    );
  // Function apps: what the inspector's findings mean without a remote build (Python dependencies).
  const fnFindings = functionPackageFindings(
    report,
    { ...target, name: target.ref.appName },
    inputs.force,
    inputs.remoteBuild,
    inputs.naming,
  );
  const fnError = fnFindings.find((f) => f.severity === 'error');
  recordFindings(
    result,
    fnFindings.filter((f) => f !== fnError),
    log,
  );
  if (fnError) throw new RunpackError(fnError.code, fnError.message);
  const { sha256, bytes } = written ?? (await hashFile(zipPath));
  const info: PackageInfo = {
    zipPath,
    sha256,
    zipBytes: bytes,
    files: report.files,
    bytes: report.bytes,
    stamp: stamp ?? report.stamp ?? null,
    inspect: report,
    functions: report.functions ?? [],
    releaseId: sha256.slice(0, 12),
  };
  result.releaseId = info.releaseId;
  result.sha256 = sha256;
  result.zipBytes = bytes;
  result.files = report.files;
  log.info(
    `Release ${info.releaseId}: ${report.files} files, ${bytes} bytes zipped, runtime ${report.runtime}${info.stamp ? '' : ', no release stamp'}.`,
  );
  return info;
}

/** Publishes with the mode's publisher, then restarts the app and verifies what was published. */
async function publishPhase(
  input: PublishInput,
  deps: EngineDeps,
  result: DeployResult,
  uploads?: SharedRun['uploads'],
  hold?: (release: () => Promise<void>) => void,
): Promise<Published> {
  const { ctx, pkg, plan } = input;
  const { log } = ctx;
  const published = await PUBLISHERS[plan.mode].publish({
    ...input,
    runUrl: deps.runUrl ?? githubRunUrl(deps.env),
    uploads,
    progress: (p) => {
      if (p.previousReleaseId) result.previousReleaseId = p.previousReleaseId;
      if (p.switching !== undefined) result.switching = p.switching;
    },
    hold,
  });
  if (published.loggedFindings === false) recordFindings(result, published.findings, log);
  else result.findings.push(...published.findings);
  result.packageUrl = published.packageUrl;
  result.previousReleaseId = published.previousReleaseId;
  if (published.noop) {
    result.noop = true;
    result.verified = true;
    result.levels = published.noop.levels;
  } else if (published.verify) {
    const after = await restartAndVerify(ctx, pkg, {
      verify: published.verify,
      mode: plan.mode,
      restart: ctx.inputs.restart,
      settingChanged: published.settingChanged ?? false,
    });
    result.findings.push(...after.findings);
    result.levels = after.verify.levels;
    result.verified = after.verify.ok;
    result.cause = after.verify.cause;
    result.instances = after.verify.instances;
  }

  return published;
}

/** Swaps the verified slot into `to`, then checks the swapped-in side. */
async function swapPhase(
  ctx: DeployContext,
  to: string,
  pkg: PackageInfo,
  result: DeployResult,
): Promise<void> {
  const { log, inputs, target } = ctx;
  const outcome = await swapSlots(ctx, to, pkg);
  recordFindings(result, outcome.findings, log);
  result.swap = {
    from: target.ref.slot ?? 'production',
    to: outcome.to,
    verified: !outcome.findings.some((f) => f.severity === 'error'),
  };
  const after = await targetAfterSwap(ctx, outcome.to);
  result.appUrl = after.appUrl;
  if (inputs.healthPath) {
    const probe = await probeSite(ctx, after.appUrl + inputs.healthPath, ctx.phaseDeadline(60_000));
    const good =
      probe.status !== undefined &&
      probe.status >= 200 &&
      probe.status < 300 &&
      (!inputs.expect || (probe.body ?? '').includes(inputs.expect));
    recordFindings(
      result,
      [
        good
          ? {
              severity: 'info',
              code: 'swap-health',
              message: `${outcome.to} answers ${inputs.healthPath} with ${probe.status}.`,
            }
          : {
              severity: 'error',
              code: 'swap-health',
              message: `${outcome.to} answers ${inputs.healthPath} with ${probe.error ?? probe.status} after the swap; swap back (swap-to again from ${outcome.to}) if it stays broken.`,
            },
      ],
      log,
    );
    if (!good) result.swap.verified = false;
  }
}

/** Retention after a verified URL-mode deploy: a failed prune is a warning, never a failed deploy. */
async function retentionPhase(
  prune: () => Promise<RetentionOutcome>,
  inputs: DeployInputs,
  result: DeployResult,
  log: PhaseLog,
): Promise<void> {
  await bestEffort(
    result,
    log,
    'retention-failed',
    (why) => `Could not prune old releases (keep-releases: ${inputs.keepReleases}): ${why}`,
    async () => {
      result.retention = await prune();
    },
  );
}

/** audit: true (findings warn) or strict (error findings fail the deploy before anything is uploaded). */
export async function runAudit(
  inputs: DeployInputs,
  deps: EngineDeps,
  result: Pick<DeployResult, 'audit'>,
  log: { info(m: string): void; warn(m: string): void; error(m: string): void },
): Promise<void> {
  const root = deps.workspace || deps.env.GITHUB_WORKSPACE || process.cwd();
  const source = resolve(root, inputs.source ?? '.');
  const pathPrefix = relative(root, source).replace(/\\/g, '/');
  const strict = inputs.audit === 'strict';
  const report = await auditSource(source);
  result.audit = { source, pathPrefix, filesScanned: report.filesScanned, findings: report.findings, strict };
  const annotations = formatAnnotations(report.findings, { pathPrefix });
  report.findings.forEach((f, i) => {
    // Findings warn unless strict; strict keeps the audit's own severity.
    const a: Annotation = { ...annotations[i], level: strict ? f.severity : 'warning' };
    if (deps.annotate) deps.annotate(a);
    else if (a.level === 'error') log.error(formatFinding(f, { pathPrefix }));
    else log.warn(formatFinding(f, { pathPrefix }));
  });
  const errors = report.findings.filter((f) => f.severity === 'error');
  log.info(
    `Audit of ${pathPrefix || '.'}: ${report.filesScanned} file(s) scanned, ${report.findings.length} write(s) into the app root found${strict ? ` (${errors.length} error(s), audit: strict)` : ''}.`,
  );
  if (strict && errors.length)
    throw new RunpackError(
      'audit-failed',
      `The audit found ${errors.length} write(s) into the read-only package mount (first: ${formatFinding(errors[0], { pathPrefix })}); move the writes to /tmp or HOME outside wwwroot, or set audit: true to deploy with warnings.`,
    );
}

/** The GitHub Actions run this step belongs to, from the variables GitHub sets. */
function githubRunUrl(env: Record<string, string | undefined>): string | undefined {
  return env.GITHUB_RUN_ID && env.GITHUB_REPOSITORY
    ? `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
    : undefined;
}

export type { TargetInfo };
