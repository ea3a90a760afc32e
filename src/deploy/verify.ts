/**
 * Verification levels: (a) the setting read back, (b) the package URL fetched as the worker fetches it,
 * (c) the mounted content's release stamp through Kudu VFS, (d) the health probe. Each level reports pass,
 * fail or skipped with a reason; the failure classification comes from classify.ts.
 */
import type { HttpResponse } from '../azure/http.js';
import type { KuduClient } from '../azure/kudu.js';
import { STAMP_PATH } from '../package/types.js';
import { classifyFailure, type Classification, type VerifyEvidence } from './classify.js';
import { mountFailed, readPackageName, watchMountedStamp } from '../release/mounted.js';
import { RunpackError } from '../util/errors.js';
import { readOnlyLineInLogs, watchApp } from './restart.js';
import type { AnswerState } from './app-answer.js';
import { describeInstance, shortInstance, verifyInstances, type InstanceRow } from './instances.js';
import type { DeployContext, Finding, PackageInfo } from './types.js';
import { FAILURE_MARKER, FLEX_PACKAGE_BLOB, RFP } from '../release/rfp.js';
import { openKudu } from './context.js';

export type LevelName = 'setting' | 'package-url' | 'mounted-content' | 'health' | 'instances' | 'functions';
export interface LevelResult {
  level: LevelName;
  status: 'pass' | 'fail' | 'skipped';
  detail: string;
}

export const LEVEL_TITLES: Record<LevelName, string> = {
  setting: '(a) setting read back',
  'package-url': '(b) package URL returns this release',
  'mounted-content': '(c) mounted content is this release',
  health: '(d) the app answers (health-path, or the root)',
  instances: '(e) every instance runs this release',
  functions: "(f) the functions host lists the package's functions",
};

export interface VerifyOutcome {
  levels: LevelResult[];
  /** Each instance's check, when the site runs on several (see instances.ts). */
  instances?: InstanceRow[];
  ok: boolean;
  evidence: VerifyEvidence;
  cause: Classification | null;
}

/** Pure: the storage error code and detail of a failed blob response. */
export function storageErrorOf(res: HttpResponse): { code?: string; detail?: string } {
  const code = res.headers['x-ms-error-code'];
  const body = res.text();
  const detail =
    /<AuthenticationErrorDetail>([\s\S]*?)<\/AuthenticationErrorDetail>/.exec(body)?.[1] ??
    /<Message>([\s\S]*?)<\/Message>/.exec(body)?.[1]?.split('\n')[0];
  return { code: code ?? /<Code>([^<]+)<\/Code>/.exec(body)?.[1], detail };
}

export interface VerifyInput {
  intendedValue: string;
  access?: 'identity' | 'sas';
  /** For identity URLs: how runpack authenticates its own probe of the blob. */
  storageAuthorization?: () => Promise<string>;
  /** For identity URLs when runpack holds only the account key: a short-lived read SAS URL of the same blob. */
  probeUrl?: string;
  /** Skip the stamp wait (no-op check): one read only. */
  quick?: boolean;
  /**
   * Nothing will re-mount the package (restart: false and no settings change): what is mounted now stays, so one
   * read of the stamp and one answer of the app are conclusive.
   */
  noRemount?: boolean;
  /** identity access: whether a blob read role for the app's identity was found. */
  identityRoleConfirmed?: boolean;
  /** Level (c) budget. */
  mountBudgetMs?: number;
  /** The failure the restart already found certain (start-failed, unreachable): one answer confirms it. */
  confirmed?: AnswerState;
  /**
   * Flex Consumption: the package in the app's deployment storage (`…/released-package.zip`), read with the
   * login's storage token, must be this one (its Content-MD5, else its size); the SCM site exposes no files, so
   * that read and the functions the host lists stand in for the mounted stamp.
   */
  flex?: { containerUrl: string; md5: string; bytes: number; authorization: () => Promise<string> };
  /**
   * Local mode: the package (packagename.txt) this run pushed. While waiting for the stamp, a packagename.txt
   * that names another package means a later deployment replaced this one: stop with `superseded`.
   */
  packageName?: string;
}

async function checkBlobUrl(
  ctx: DeployContext,
  url: string,
  pkg: PackageInfo,
  input: VerifyInput,
  deadline: number,
) {
  // GET with a one-byte range: the same authorization the worker uses, without downloading the package.
  const res = await ctx.http.request({
    method: 'GET',
    url,
    service: 'Blob Storage',
    headers: { Range: 'bytes=0-0', 'x-ms-version': '2023-11-03' },
    authorization: input.access === 'identity' ? input.storageAuthorization : undefined,
    deadline,
    maxAttempts: 3,
  });
  if (res.status >= 400) {
    const err = storageErrorOf(res);
    return { status: res.status, errorCode: err.code, detail: err.detail };
  }
  const sha = res.headers['x-ms-meta-sha256'];
  return {
    status: res.status,
    sha256Matches: sha === undefined ? undefined : sha === pkg.sha256,
    ...(sha && sha !== pkg.sha256 ? { releaseThere: sha.slice(0, 12) } : {}),
  };
}

/**
 * The package in a Flex app's deployment storage (`<container>/released-package.zip`), read with a HEAD and the
 * login's storage token: its status and headers (Content-MD5, Content-Length), or status 0 when nothing answered.
 */
export async function headDeployedPackage(
  http: DeployContext['http'],
  containerUrl: string,
  authorization: () => Promise<string>,
  o: { deadline: number; maxAttempts: number },
): Promise<{ status: number; headers: Record<string, string> }> {
  return http
    .request({
      method: 'HEAD',
      url: `${containerUrl}/${FLEX_PACKAGE_BLOB}`,
      service: 'Blob Storage',
      headers: { 'x-ms-version': '2023-11-03' },
      authorization,
      deadline: o.deadline,
      maxAttempts: o.maxAttempts,
    })
    .catch(() => ({ status: 0, headers: {} }));
}

/** A check for the failure marker in wwwroot through Kudu (null when SCM is not reachable or there is none). */
export function failureMarkerCheck(ctx: DeployContext): () => Promise<string | null> {
  let kudu: KuduClient | null | undefined;
  return async () => {
    if (!ctx.target.scmHostName) return null;
    if (kudu === undefined) {
      kudu = await openKudu(ctx, ctx.phaseDeadline(30_000))
        .then((k) => k.kudu)
        .catch(() => null);
    }
    if (!kudu) return null;
    return (await mountFailed(kudu, ctx.phaseDeadline(30_000))) ? `wwwroot shows '${FAILURE_MARKER}'` : null;
  };
}

export async function verifyDeploy(
  ctx: DeployContext,
  pkg: PackageInfo,
  input: VerifyInput,
): Promise<VerifyOutcome> {
  if (input.flex) return verifyFlex(ctx, pkg, input, input.flex);
  const levels: LevelResult[] = [];
  const mode = input.intendedValue === '1' ? 'local' : 'url';
  const evidence: VerifyEvidence = {
    noRemount: input.noRemount,
    mode,
    access: input.access,
    identityRoleConfirmed: input.identityRoleConfirmed,
  };
  const deadline = ctx.phaseDeadline(input.mountBudgetMs ?? 180_000);
  /** One read settles it: nothing will change what is mounted, or another release already won. */
  let conclusive = Boolean(input.quick || input.noRemount);

  // (a)
  const settings = await ctx.settings.read();
  evidence.settingMatches = settings[RFP] === input.intendedValue;
  levels.push({
    level: 'setting',
    status: evidence.settingMatches ? 'pass' : 'fail',
    detail: evidence.settingMatches
      ? `${RFP} is the intended value`
      : `${RFP} reads ${settings[RFP] === undefined ? 'nothing' : 'another value'}`,
  });

  // (b)
  if (mode === 'url') {
    const target = input.probeUrl ?? settings[RFP] ?? input.intendedValue;
    const probeInput = input.probeUrl ? { ...input, access: undefined } : input;
    const fetch = await checkBlobUrl(ctx, target, pkg, probeInput, deadline).catch((err: unknown) => ({
      status: 0,
      errorCode: 'network',
      detail: err instanceof Error ? err.message : String(err),
    }));
    evidence.blobFetch = fetch as VerifyEvidence['blobFetch'];
    // Another release is behind the URL (a later deploy won the race): waiting for the mount cannot help.
    if ((fetch as { releaseThere?: string }).releaseThere) conclusive = true;
    const ok =
      fetch.status >= 200 &&
      fetch.status < 300 &&
      (fetch as { sha256Matches?: boolean }).sha256Matches !== false;
    levels.push({
      level: 'package-url',
      status: ok ? 'pass' : 'fail',
      detail: ok
        ? `answers ${fetch.status}${(fetch as { sha256Matches?: boolean }).sha256Matches ? ' with this sha256' : ''}${input.access === 'identity' ? (input.probeUrl ? ' (checked with a short-lived read SAS of the same blob)' : " (checked with the deploying login's token)") : ''}`
        : `answers ${fetch.status || 'no response'}${(fetch as { errorCode?: string }).errorCode ? ` ${(fetch as { errorCode?: string }).errorCode}` : ''}`,
    });
  } else {
    levels.push({ level: 'package-url', status: 'skipped', detail: 'local mode: no URL' });
  }

  // (c)
  let kudu: KuduClient | null = null;
  if (!ctx.target.scmHostName) {
    levels.push({ level: 'mounted-content', status: 'skipped', detail: 'the app has no SCM host' });
    evidence.stamp = 'not-checked';
  } else {
    try {
      kudu = (await openKudu(ctx, deadline)).kudu;
    } catch (err) {
      levels.push({
        level: 'mounted-content',
        status: 'skipped',
        detail: `SCM not reachable: ${err instanceof Error ? err.message.split(';')[0] : String(err)}`,
      });
      evidence.stamp = 'not-checked';
    }
  }
  if (kudu) {
    const pinned = kudu;
    const who = ctx.target.ref.slot
      ? `${ctx.target.ref.appName}/${ctx.target.ref.slot}`
      : ctx.target.ref.appName;
    const { state, marker } = await watchMountedStamp(pinned, pkg.stamp, {
      deadline,
      intervalMs: 3000,
      once: conclusive,
      sleep: (ms) => ctx.clock.sleep(ms),
      now: () => ctx.clock.now(),
      onMiss: async () => {
        if (!input.packageName) return;
        const now = await readPackageName(pinned, deadline).catch(() => undefined);
        if (now && now !== input.packageName)
          throw new RunpackError(
            'superseded',
            `${who}: this deployment was replaced by a later deployment (packagename.txt now names ${now}, not ${input.packageName} that this run pushed); check which deployment should win and run it again if needed.`,
          );
      },
    });
    evidence.failureMarker = marker;
    evidence.stamp = state === 'not-stamped' ? 'not-checked' : state === 'unreadable' ? 'unreadable' : state;
    levels.push({
      level: 'mounted-content',
      status: marker ? 'fail' : state === 'match' ? 'pass' : state === 'not-stamped' ? 'skipped' : 'fail',
      detail: marker
        ? `wwwroot shows '${FAILURE_MARKER}'`
        : state === 'match'
          ? `${STAMP_PATH} matches release ${pkg.releaseId}`
          : state === 'not-stamped'
            ? 'the package has no release stamp (stamp: false)'
            : state === 'mismatch'
              ? `${STAMP_PATH} belongs to another release`
              : `${STAMP_PATH} is ${state}`,
    });
  }

  // (d) The app answers: a mounted package is not a running app.
  levels.push(await appLevel(ctx, deadline, conclusive, input, evidence, kudu));

  // (e) Every instance: only once the unpinned checks pass (otherwise their failure is the story).
  let instances: InstanceRow[] | undefined;
  if (levels.every((l) => l.status !== 'fail')) {
    const each = await verifyInstances(ctx, pkg, kudu, deadline, { once: conclusive });
    if (each) {
      instances = each.rows;
      const bad = each.rows.filter((r) => !r.ok);
      const gone = each.rows.filter((r) => r.gone).length;
      evidence.instances = each.rows.map((r) => ({
        id: shortInstance(r.id),
        ok: r.ok,
        stamp: r.stamp,
        mountFailed: r.mountFailed,
        app: r.app,
      }));
      levels.push({
        level: 'instances',
        status: each.ok ? 'pass' : 'fail',
        detail: each.ok
          ? `all ${each.rows.length - gone} instances${gone ? ` (${gone} left during the check)` : ''} run release ${pkg.releaseId}`
          : `${bad.map((r) => `${shortInstance(r.id)} ${describeInstance(r)}`).join('; ')}`,
      });
    }
  }

  const ok = levels.every((l) => l.status !== 'fail');
  return { levels, ok, evidence, cause: ok ? null : classifyFailure(evidence), instances };
}

/** Level (d): the app answers (health-path and expect, or the root), with the evidence a failure needs. */
async function appLevel(
  ctx: DeployContext,
  deadline: number,
  conclusive: boolean,
  input: VerifyInput,
  evidence: VerifyEvidence,
  kudu: KuduClient | null,
): Promise<LevelResult> {
  const app = await watchApp(ctx, deadline, {
    quick: conclusive,
    confirmed: input.confirmed,
    mountFailed: () => evidence.failureMarker === true,
  });
  const last = app.last;
  const containsExpect =
    ctx.inputs.healthPath && ctx.inputs.expect && last.status !== undefined
      ? (last.body ?? '').includes(ctx.inputs.expect)
      : undefined;
  evidence.health = { status: last.status, containsExpect, body: last.body, error: last.error };
  evidence.app = { state: app.judgement.state, why: app.judgement.why };
  if (app.judgement.state !== 'up' && kudu) {
    evidence.logStreamUrl = `${kudu.baseUrl}/api/logstream`;
    evidence.appLogReadOnlyLine = await readOnlyLineInLogs(kudu, deadline);
  } else if (app.judgement.state !== 'up' && ctx.target.scmHostName) {
    evidence.logStreamUrl = `https://${ctx.target.scmHostName}/api/logstream`;
  }
  return {
    level: 'health',
    status: app.judgement.state === 'up' ? 'pass' : 'fail',
    detail:
      app.judgement.state === 'start-failed'
        ? `${app.judgement.why}: the app does not start`
        : app.judgement.why,
  };
}

/**
 * Flex Consumption: (a) no WEBSITE_RUN_FROM_PACKAGE, (b) the deployment storage holds this package, (c) skipped
 * (no files on the SCM site), (d) the app answers. The engine then compares the host's functions.
 */
async function verifyFlex(
  ctx: DeployContext,
  pkg: PackageInfo,
  input: VerifyInput,
  flex: NonNullable<VerifyInput['flex']>,
): Promise<VerifyOutcome> {
  const levels: LevelResult[] = [];
  const evidence: VerifyEvidence = { mode: 'flex' };
  const deadline = ctx.phaseDeadline(input.mountBudgetMs ?? 180_000);
  const settings = await ctx.settings.read();
  evidence.settingMatches = settings[RFP] === undefined;
  levels.push({
    level: 'setting',
    status: evidence.settingMatches ? 'pass' : 'fail',
    detail: evidence.settingMatches
      ? `${RFP} is not set (Flex runs the package from its deployment storage)`
      : `${RFP} is set, which Flex Consumption does not support`,
  });
  const res = await headDeployedPackage(ctx.http, flex.containerUrl, flex.authorization, {
    deadline,
    maxAttempts: 3,
  });
  const where = `${flex.containerUrl}/${FLEX_PACKAGE_BLOB}`;
  if (res.status >= 200 && res.status < 300) {
    const md5 = res.headers['content-md5'];
    const size = Number(res.headers['content-length']);
    const same = md5 ? md5 === flex.md5 : size === flex.bytes;
    evidence.blobFetch = { status: res.status, sha256Matches: same };
    levels.push({
      level: 'package-url',
      status: same ? 'pass' : 'fail',
      detail: same
        ? `the deployment storage holds this package (${md5 ? 'Content-MD5' : 'size'} matches)`
        : `the deployment storage holds another package (${where})`,
    });
  } else if (res.status === 404) {
    evidence.blobFetch = { status: 404 };
    levels.push({
      level: 'package-url',
      status: 'fail',
      detail: `no package in the deployment storage (${where})`,
    });
  } else {
    levels.push({
      level: 'package-url',
      status: 'skipped',
      detail: `the login cannot read the deployment storage (${res.status || 'no answer'}); give it Storage Blob Data Reader there to compare the package`,
    });
  }
  levels.push({
    level: 'mounted-content',
    status: 'skipped',
    detail:
      "Flex Consumption's SCM site exposes no files; the deployment storage and the host's functions stand in",
  });
  evidence.stamp = 'not-checked';
  levels.push(await appLevel(ctx, deadline, Boolean(input.quick), input, evidence, null));
  const ok = levels.every((l) => l.status !== 'fail');
  return { levels, ok, evidence, cause: ok ? null : classifyFailure(evidence) };
}

/**
 * The release's stamp in a mounted wwwroot as findings (after a swap, on the side that received the release):
 * `package-replaced` when packagename.txt names another package, `mount-failed`, `stale-content`, `stamp-missing`.
 */
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
  const { state: last, marker } = await watchMountedStamp(kudu, pkg.stamp, {
    deadline,
    intervalMs,
    sleep: (ms) => ctx.clock.sleep(ms),
    now: () => ctx.clock.now(),
  });
  if (last === 'match') {
    ctx.log.info(`wwwroot on ${kudu.host} serves release ${pkg.releaseId} (stamp matches).`);
    return findings;
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
