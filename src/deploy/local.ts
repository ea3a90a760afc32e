/**
 * Local mode (WEBSITE_RUN_FROM_PACKAGE=1): the package is pushed to Kudu, which stores it as
 * data/SitePackages/<UTC yyyyMMddHHmmss>.zip, points packagename.txt at it after a successful deployment,
 * and the worker mounts it read-only as wwwroot (API-SPEC §1.2).
 *
 * Order (API-SPEC §6.4 d, §6.6, checklist 3): make the setting `1` (fresh read-merge-write), wait until Kudu's
 * /api/settings shows it, only then push (earlier, Kudu would extract into wwwroot or answer the URL-mode 409),
 * follow the deployment, and confirm packagename.txt names the new package. The engine then restarts the app
 * and calls `verifyLocalMount` to read the release stamp back from the mounted wwwroot.
 */
import { createReadStream } from 'node:fs';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { HttpClient } from '../azure/http.js';
import {
  KuduClient,
  KuduError,
  classifyKuduAuthFailure,
  deploymentOutcome,
  deploymentStatusName,
  describeDeploymentState,
  explainKuduAuthFailure,
  type KuduDeployment,
} from '../azure/kudu.js';
import { parsePublishProfile, profileMismatch } from '../azure/publish-profile.js';
import { STAMP_PATH, type ReleaseStamp } from '../package/types.js';
import { RunpackError, UsageError } from '../util/errors.js';
import type {
  DeployContext,
  DeployMode,
  Finding,
  PackageInfo,
  PublishOutcome,
  Severity,
  TargetInfo,
} from './types.js';

export const RFP_SETTING = 'WEBSITE_RUN_FROM_PACKAGE';
/** The legacy name Kudu falls back to when WEBSITE_RUN_FROM_PACKAGE is empty (API-SPEC §1.1). */
export const RFP_LEGACY_SETTING = 'WEBSITE_RUN_FROM_ZIP';
export const SITE_PACKAGES = 'data/SitePackages';
export const PACKAGE_NAME_FILE = `${SITE_PACKAGES}/packagename.txt`;
export const WWWROOT = 'site/wwwroot';
export const FAILURE_MARKER = 'FAILED TO INITIALIZE RUN FROM PACKAGE.txt';

// ---------------------------------------------------------------------------------------------------------
// Pure decisions
// ---------------------------------------------------------------------------------------------------------

/** How Kudu reads a WEBSITE_RUN_FROM_PACKAGE value: exactly `1` is local, `http…` is a URL (API-SPEC §1.1). */
export type RfpState = 'local' | 'url' | 'unset' | 'other';

export function classifyRunFromPackage(value: string | undefined | null): RfpState {
  if (value === undefined || value === null || value === '') return 'unset';
  if (value === '1') return 'local';
  if (/^http/i.test(value)) return 'url';
  return 'other';
}

/** The value Kudu acts on: WEBSITE_RUN_FROM_PACKAGE, or the legacy WEBSITE_RUN_FROM_ZIP when the first is empty. */
export function effectiveRunFromPackage(settings: Record<string, string>): string | undefined {
  const main = settings[RFP_SETTING];
  if (main !== undefined && main !== '') return main;
  const legacy = settings[RFP_LEGACY_SETTING];
  return legacy !== undefined && legacy !== '' ? legacy : undefined;
}

const STATE_WORDS: Record<RfpState, string> = {
  local: 'a local package (WEBSITE_RUN_FROM_PACKAGE=1)',
  url: 'a package URL',
  unset: 'files in wwwroot (no WEBSITE_RUN_FROM_PACKAGE)',
  other: "an unrecognised WEBSITE_RUN_FROM_PACKAGE value (only exactly '1' or an https URL count)",
};

export interface ModeSwitchDecision {
  from: RfpState;
  to: DeployMode;
  /** false: refuse (the message says why and the way out). */
  allowed: boolean;
  /** Stable code for findings and errors. */
  code:
    | 'mode-unchanged'
    | 'mode-switch'
    | 'mode-switch-forced'
    | 'mode-switch-refused'
    | 'mode-switch-unsupported';
  severity: Severity;
  /** One line for the log and the summary; never contains the setting's value (a URL may carry a SAS). */
  message: string;
}

/**
 * Decide whether moving an app from its current WEBSITE_RUN_FROM_PACKAGE value to `wanted` is allowed.
 * The platform documents local → URL as unsupported on an existing app (API-SPEC §1.3 "Migration"); runpack
 * refuses it on Windows unless `force`, and warns on Linux. Local mode on Linux Consumption function apps and
 * any run-from-package on Flex Consumption are refused outright.
 */
export function modeSwitchDecision(
  current: string | undefined,
  wanted: DeployMode,
  target: Pick<TargetInfo, 'isLinux' | 'isFunctionApp' | 'isConsumption' | 'isFlex'> & { name?: string },
  force: boolean,
): ModeSwitchDecision {
  const from = classifyRunFromPackage(current);
  const app = target.name ? `App '${target.name}'` : 'The app';
  const base = { from, to: wanted };
  if (target.isFlex) {
    return {
      ...base,
      allowed: false,
      code: 'mode-switch-unsupported',
      severity: 'error',
      message: flexRefusalMessage(target.name),
    };
  }
  if (wanted === 'local') {
    const refusal = localModeRefusal(target);
    if (refusal)
      return {
        ...base,
        allowed: false,
        code: 'mode-switch-unsupported',
        severity: 'error',
        message: refusal,
      };
    if (from === 'local')
      return {
        ...base,
        allowed: true,
        code: 'mode-unchanged',
        severity: 'info',
        message: `${app} already runs a local package.`,
      };
    const cost =
      from === 'url'
        ? 'changing the setting restarts the app; it comes back on the package in data/SitePackages if one is left from an earlier local deploy, otherwise it cannot start (FAILED TO INITIALIZE RUN FROM PACKAGE) until the push completes'
        : from === 'unset'
          ? 'the files now in wwwroot are hidden by the mounted package from now on; changing the setting restarts the app'
          : 'Kudu did not treat the old value as local mode; changing the setting restarts the app';
    return {
      ...base,
      allowed: true,
      code: 'mode-switch',
      severity: 'warning',
      message: `${app} switches from ${STATE_WORDS[from]} to a local package: ${cost}.`,
    };
  }
  // wanted === 'url'
  if (from === 'url')
    return {
      ...base,
      allowed: true,
      code: 'mode-unchanged',
      severity: 'info',
      message: `${app} already runs from a package URL.`,
    };
  if (from === 'local') {
    const why =
      'the platform does not support moving an app that runs a local package to a package URL ("create a new App Service resource")';
    if (!target.isLinux && !force) {
      return {
        ...base,
        allowed: false,
        code: 'mode-switch-refused',
        severity: 'error',
        message: `${app} is a Windows app running a local package (WEBSITE_RUN_FROM_PACKAGE=1) and ${why}; keep mode: local, deploy to a new app, or set force: true to switch anyway.`,
      };
    }
    return {
      ...base,
      allowed: true,
      code: force && !target.isLinux ? 'mode-switch-forced' : 'mode-switch',
      severity: 'warning',
      message: `${app} switches from a local package to a package URL although ${why}${force && !target.isLinux ? ' (forced)' : ''}; watch the app after the restart.`,
    };
  }
  return {
    ...base,
    allowed: true,
    code: 'mode-switch',
    severity: 'warning',
    message: `${app} switches from ${STATE_WORDS[from]} to a package URL: changing the setting restarts the app${from === 'unset' ? ' and hides the files now in wwwroot' : ''}.`,
  };
}

/** Why local mode is impossible on this target, or null. */
export function localModeRefusal(
  target: Pick<TargetInfo, 'isLinux' | 'isFunctionApp' | 'isConsumption' | 'isFlex'> & { name?: string },
): string | null {
  if (target.isFlex) return flexRefusalMessage(target.name);
  if (target.isFunctionApp && target.isLinux && target.isConsumption) {
    const app = target.name ? `'${target.name}'` : 'this app';
    return `mode: local is not possible on ${app}: Linux Consumption function apps run from a package URL only (WEBSITE_RUN_FROM_PACKAGE=1 is not supported there); use mode: url (or auto).`;
  }
  return null;
}

/** The refusal for Flex Consumption apps (API-SPEC §1.7, §6.13). */
export function flexRefusalMessage(name?: string): string {
  const app = name ? `'${name}'` : 'This function app';
  return `${app} runs on the Flex Consumption plan, which does not support WEBSITE_RUN_FROM_PACKAGE in either mode; deploy it with OneDeploy to its deployment storage instead (Azure/functions-action or 'func azure functionapp publish'), and remove the setting if it is present.`;
}

/** Kudu's stored package names: `yyyyMMddHHmmss.zip` (UTC). */
export function isSitePackageName(name: string): boolean {
  return /^\d{14}\.zip$/.test(name);
}

/** Compare the stamp read from wwwroot with the package's. */
export type StampCheck = 'match' | 'mismatch' | 'missing' | 'unreadable' | 'not-stamped';

export function compareStamp(expected: ReleaseStamp | null, text: string | null): StampCheck {
  if (!expected) return 'not-stamped';
  if (text === null) return 'missing';
  try {
    const parsed = JSON.parse(text) as Partial<ReleaseStamp>;
    if (typeof parsed?.contentSha256 !== 'string') return 'unreadable';
    return parsed.contentSha256 === expected.contentSha256 ? 'match' : 'mismatch';
  } catch {
    return 'unreadable';
  }
}

function shortSha(sha: string | undefined): string {
  return sha ? sha.slice(0, 12) : '?';
}

// ---------------------------------------------------------------------------------------------------------
// Kudu access
// ---------------------------------------------------------------------------------------------------------

function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

function scmUrlOf(target: TargetInfo): string | null {
  return target.scmHostName ? `https://${target.scmHostName}` : null;
}

async function basicPolicy(ctx: DeployContext): Promise<boolean | undefined> {
  try {
    return await ctx.arm.getBasicAuthAllowed(ctx.target.ref, 'scm');
  } catch {
    return undefined;
  }
}

/** Re-explain a Kudu 401/403 now that the basic-auth policy can be read. */
async function explainAuth(ctx: DeployContext, kudu: KuduClient, err: KuduError): Promise<RunpackError> {
  const allowed = kudu.authKind === 'basic' ? await basicPolicy(ctx) : undefined;
  const problem = classifyKuduAuthFailure(
    err.status,
    err.bodySnippet,
    err.contentType,
    kudu.authKind,
    allowed,
  );
  return new RunpackError(err.code, explainKuduAuthFailure(problem, err.status, kudu.host));
}

/**
 * A Kudu client for the target, authenticated and proven with one call (GET /api/settings, which the
 * settings wait needs anyway). Entra Bearer by default; the publish-profile input when given; publishing
 * credentials from Resource Manager when Kudu refuses the token and SCM basic auth is allowed.
 */
export async function connectKudu(
  ctx: DeployContext,
  deadline: number,
): Promise<{ kudu: KuduClient; settings: Record<string, string> }> {
  const { inputs, target } = ctx;
  const http: HttpClient = ctx.http;
  if (inputs.publishProfile) {
    const profile = parsePublishProfile(inputs.publishProfile);
    ctx.secrets.add(profile.password);
    ctx.secrets.add(basicHeader(profile.userName, profile.password).slice('Basic '.length));
    const mismatch = profileMismatch(profile, target.ref.appName, target.ref.slot ?? null);
    if (mismatch) throw new UsageError(mismatch);
    const kudu = new KuduClient({
      http,
      scmUrl: profile.scmUrl,
      authKind: 'basic',
      authorization: async () => basicHeader(profile.userName, profile.password),
    });
    ctx.log.info(
      `Kudu: ${kudu.host}, signing in with the publish profile's ${profile.userName} credentials.`,
    );
    try {
      return { kudu, settings: await kudu.settings(deadline) };
    } catch (err) {
      if (err instanceof KuduError && (err.status === 401 || err.status === 403))
        throw await explainAuth(ctx, kudu, err);
      throw err;
    }
  }

  let scmUrl = scmUrlOf(target);
  let creds: { userName: string; password: string; scmUri: string } | null = null;
  const loadCreds = async () => {
    if (creds) return creds;
    creds = await ctx.arm.listPublishingCredentials(target.ref);
    ctx.secrets.add(creds.password);
    ctx.secrets.add(basicHeader(creds.userName, creds.password).slice('Basic '.length));
    return creds;
  };
  if (!scmUrl) {
    const c = await loadCreds();
    if (!c.scmUri)
      throw new RunpackError(
        'scm-missing',
        `App '${target.ref.appName}' has no SCM (Kudu) host name in Resource Manager; local mode needs Kudu — use mode: url.`,
      );
    scmUrl = c.scmUri;
  }
  const bearer = new KuduClient({
    http,
    scmUrl,
    authKind: 'bearer',
    authorization: () => ctx.armAuthorization(),
  });
  ctx.log.info(`Kudu: ${bearer.host}, signing in with the Entra token.`);
  try {
    return { kudu: bearer, settings: await bearer.settings(deadline) };
  } catch (err) {
    if (!(err instanceof KuduError) || (err.status !== 401 && err.status !== 403)) throw err;
    const problem = classifyKuduAuthFailure(
      err.status,
      err.bodySnippet,
      err.contentType,
      'bearer',
      undefined,
    );
    if (problem === 'scm-blocked') throw new RunpackError(err.code, err.message);
    const allowed = await basicPolicy(ctx);
    if (allowed === false) {
      throw new RunpackError(
        err.code,
        `${explainKuduAuthFailure(problem, err.status, bearer.host).replace(/;.*$/, '')}; SCM basic auth is disabled too, so publishing credentials cannot stand in — grant the principal Website Contributor on the app.`,
      );
    }
    ctx.log.warn(
      `Kudu refused the Entra token (${err.status}); falling back to the app's publishing credentials from Resource Manager.`,
    );
    const c = await loadCreds();
    const basic = new KuduClient({
      http,
      scmUrl: c.scmUri || scmUrl,
      authKind: 'basic',
      authorization: async () => basicHeader(c.userName, c.password),
    });
    try {
      return { kudu: basic, settings: await basic.settings(deadline) };
    } catch (err2) {
      if (err2 instanceof KuduError && (err2.status === 401 || err2.status === 403))
        throw await explainAuth(ctx, basic, err2);
      throw err2;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------------------------

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
        ctx.log.info(`Kudu sees ${RFP_SETTING}=1 after ${Math.round((ctx.clock.now() - started) / 1000)} s.`);
      return;
    }
    if (round === 0) ctx.log.info(`Waiting for Kudu to see ${RFP_SETTING}=1 before pushing…`);
    if (ctx.clock.now() + intervalMs > deadline) {
      const state = seen ? classifyRunFromPackage(effectiveRunFromPackage(seen)) : 'unknown';
      throw new RunpackError(
        'setting-not-propagated',
        `Kudu at ${kudu.host} still does not see ${RFP_SETTING}=1 (it sees ${state === 'unknown' ? `no settings${lastError ? `: ${lastError}` : ''}` : STATE_WORDS[state as RfpState]}) after ${Math.round((ctx.clock.now() - started) / 1000)} s; pushing now would extract into wwwroot or be refused — run the deploy again, or restart the app's SCM site.`,
      );
    }
    await ctx.clock.sleep(intervalMs);
    await read();
  }
}

/** packagename.txt's content (trimmed), or null when there is none. */
export async function readPackageName(kudu: KuduClient, deadline?: number): Promise<string | null> {
  const file = await kudu.vfsGet(PACKAGE_NAME_FILE, deadline);
  if (!file) return null;
  const name = file.text.trim();
  return name || null;
}

/** The release stamp in the mounted wwwroot, raw text, or null. */
export async function readMountedStamp(kudu: KuduClient, deadline?: number): Promise<string | null> {
  const file = await kudu.vfsGet(`${WWWROOT}/${STAMP_PATH}`, deadline);
  return file ? file.text : null;
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
      `Pushing ${pkg.zipBytes} bytes to ${kudu.host}/api/zipdeploy (async)${attempt > 1 ? `, attempt ${attempt}` : ''}…`,
    );
    const result = await kudu.zipDeploy({
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
          `Kudu at ${kudu.host} refused the push because it still sees a package URL in ${RFP_SETTING} (409: ${result.message}); wait a minute and run the deploy again.`,
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
async function failureLog(kudu: KuduClient, id: string, deadline: number): Promise<string[]> {
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
export async function publishLocal(ctx: DeployContext, pkg: PackageInfo): Promise<PublishOutcome> {
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
  const { kudu, settings: kuduSettings } = await connectKudu(ctx, setupDeadline);
  const changes: Record<string, string | null> = { [RFP_SETTING]: '1' };
  if (current[RFP_LEGACY_SETTING] !== undefined) changes[RFP_LEGACY_SETTING] = null;
  const update = await ctx.settings.update(changes);
  if (update.changed) ctx.log.info(`Set ${RFP_SETTING}=1 on ${name} (other settings kept).`);

  // 2. Kudu must see it before the push.
  await waitForKuduSetting(ctx, kudu, update.changed ? null : kuduSettings, setupDeadline);

  // 3. What is mounted now, for the evidence if the push fails.
  const oldName = await readPackageName(kudu, setupDeadline).catch(() => null);
  ctx.log.info(`Current package: ${oldName ?? 'none'} (${PACKAGE_NAME_FILE}).`);

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
    !!newName && newName === oldName && (await storedPackageIsOurs(kudu, newName, pkg, record, ctx.deadline));
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
  return { mode: 'local', packageName: newName!, deploymentId: record.id, confirmed, findings };
}

/** Whether data/SitePackages/<name> is this run's zip: the same size, and written since Kudu received the push. */
export async function storedPackageIsOurs(
  kudu: KuduClient,
  name: string,
  pkg: PackageInfo,
  record: { received_time?: string; start_time?: string | null },
  deadline?: number,
): Promise<boolean> {
  const entries = await kudu.vfsList(SITE_PACKAGES, deadline).catch(() => null);
  const entry = entries?.find((e) => e.name === name);
  const since = Date.parse(record.received_time ?? record.start_time ?? '');
  const written = Date.parse(entry?.mtime ?? '');
  return !!entry && entry.size === pkg.zipBytes && Number.isFinite(since) && written >= since - 1000;
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

/**
 * After the engine's restart: read the release stamp from the mounted wwwroot through Kudu, with a bounded
 * wait for the remount (warm-up). Findings: `stale-content` (old stamp still mounted), `mount-failed`
 * (the failure marker), `stamp-missing`. Also confirms packagename.txt when `packageName` is given.
 */
export async function verifyLocalMount(
  ctx: DeployContext,
  pkg: PackageInfo,
  options: { packageName?: string; kudu?: KuduClient; budgetMs?: number; intervalMs?: number } = {},
): Promise<Finding[]> {
  const deadline = ctx.phaseDeadline(options.budgetMs ?? 120_000);
  const kudu = options.kudu ?? (await connectKudu(ctx, deadline)).kudu;
  return checkMountedRelease(ctx, kudu, pkg, deadline, options.intervalMs ?? 5000, options.packageName);
}

export async function checkMountedRelease(
  ctx: Pick<DeployContext, 'clock' | 'log'>,
  kudu: KuduClient,
  pkg: Pick<PackageInfo, 'stamp' | 'releaseId'>,
  deadline: number,
  intervalMs: number,
  packageName?: string,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  if (packageName) {
    const now = await readPackageName(kudu, deadline);
    if (now !== packageName) {
      findings.push({
        severity: 'error',
        code: 'package-replaced',
        message: `packagename.txt on ${kudu.host} names ${now ?? 'nothing'}, not ${packageName} that this run pushed; another deployment replaced it.`,
      });
      return findings;
    }
  }
  if (!pkg.stamp) {
    findings.push({
      severity: 'info',
      code: 'stamp-off',
      message: 'The package carries no release stamp (stamp: false); the mounted content was not compared.',
    });
    return findings;
  }
  let last: ReturnType<typeof compareStamp> = 'missing';
  let marker = false;
  for (;;) {
    const text = await readMountedStamp(kudu, deadline).catch((err: unknown) => {
      if (err instanceof KuduError && (err.status === 401 || err.status === 403)) throw err;
      return null;
    });
    last = compareStamp(pkg.stamp, text);
    if (last === 'match') {
      ctx.log.info(`wwwroot on ${kudu.host} serves release ${pkg.releaseId} (stamp matches).`);
      return findings;
    }
    marker = (await kudu.vfsGet(`${WWWROOT}/${FAILURE_MARKER}`, deadline).catch(() => null)) !== null;
    if (marker || ctx.clock.now() + intervalMs > deadline) break;
    await ctx.clock.sleep(intervalMs);
  }
  if (marker) {
    findings.push({
      severity: 'error',
      code: 'mount-failed',
      message: `The app could not mount the package: wwwroot on ${kudu.host} shows '${FAILURE_MARKER}'; the archive is not a valid zip for run-from-package or the package file is missing — run 'runpack inspect' on it and deploy again.`,
    });
  } else if (last === 'mismatch') {
    findings.push({
      severity: 'error',
      code: 'stale-content',
      message: `wwwroot on ${kudu.host} still serves an older release (its stamp differs from ${pkg.releaseId}) although Kudu stored the new package: the app did not remount — restart it and check again.`,
    });
  } else {
    findings.push({
      severity: 'error',
      code: 'stamp-missing',
      message: `wwwroot on ${kudu.host} has no readable ${STAMP_PATH} after the deploy: the new package is not mounted yet (or the app failed to start); restart the app and check again.`,
    });
  }
  return findings;
}
