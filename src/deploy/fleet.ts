/**
 * Fleets: `app-name` lists several apps (or app/slot pairs). The package is packed once and the login made
 * once; then every target is deployed, restarted and verified by the same engine, a few at a time. One
 * failing target fails the step but never stops the others.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHttpClient, describeRetry } from '../azure/http.js';
import { pack } from '../package/zip-writer.js';
import { createLogger, type LogSink, type PhaseTiming } from '../report/log.js';
import { createSecretRegistry } from '../report/secrets.js';
import { RunpackError, describeError } from '../util/errors.js';
import {
  runAudit,
  runEngine,
  validateLocal,
  RUNPACK_VERSION,
  type DeployResult,
  type EngineDeps,
  type SharedRun,
} from './engine.js';
import type { DeployInputs } from './types.js';
import { cancellableClock, logIn, realClock } from './context.js';

/** Targets deployed at the same time. */
export const FLEET_CONCURRENCY = 3;

export interface FleetTarget {
  appName: string;
  slot?: string;
}

export function targetLabel(t: FleetTarget): string {
  return t.slot ? `${t.appName}/${t.slot}` : t.appName;
}

/** Runs fn over items, at most `limit` at a time; results in the order of items. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** A sink whose lines name the target; groups become plain lines, since targets run side by side. */
export function prefixedSink(sink: LogSink, label: string): LogSink {
  const p = (l: string) => `[${label}] ${l}`;
  return {
    info: (l) => sink.info(p(l)),
    warn: (l) => sink.warn(p(l)),
    error: (l) => sink.error(p(l)),
    debug: (l) => sink.debug(p(l)),
    startGroup: (n) => sink.info(p(`▶ ${n}`)),
    endGroup: () => undefined,
  };
}

/** Pure: the step's outcome from the targets' outcomes. */
export function fleetOutcome(results: readonly DeployResult[]): {
  ok: boolean;
  error?: string;
  errorCode?: string;
} {
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return { ok: true };
  const names = failed.map(
    (r) => `${targetLabel({ appName: r.app, slot: r.slot })} (${r.errorCode ?? 'failed'})`,
  );
  return {
    ok: false,
    errorCode: failed.length === 1 ? (failed[0].errorCode ?? 'fleet-failed') : 'fleet-failed',
    error: `${failed.length} of ${results.length} targets failed: ${names.join(', ')}; the others ${results.length - failed.length === 0 ? 'failed too' : 'were deployed and verified'}. See each target's lines and the summary table.`,
  };
}

export async function runFleet(
  inputs: DeployInputs,
  targets: readonly FleetTarget[],
  deps: EngineDeps,
): Promise<DeployResult> {
  const clock = cancellableClock(deps.clock ?? realClock, deps.signal);
  const secrets = deps.secrets ?? createSecretRegistry(deps.setSecret);
  const phases: PhaseTiming[] = [];
  const log = createLogger(deps.sink, secrets, { now: clock.now, timings: phases });
  const started = clock.now();
  const deadline = started + inputs.timeoutMinutes * 60_000;
  const phaseDeadline = (ms: number) => Math.min(deadline, clock.now() + ms);
  const result: DeployResult = {
    ok: false,
    noop: false,
    app: targets.map(targetLabel).join(', '),
    verified: false,
    levels: [],
    phases,
    findings: [],
    fleet: [],
  };
  const http =
    deps.http ??
    createHttpClient({
      userAgent: `runpack/${RUNPACK_VERSION}`,
      sleep: clock.sleep,
      now: clock.now,
      onRetry: (i) => log.info(describeRetry(i)),
      signal: deps.signal,
    });
  let workDir: string | undefined;
  try {
    const local = await log.group('Validate inputs', async () => {
      const v = validateLocal(inputs);
      log.info(`${targets.length} targets: ${targets.map(targetLabel).join(', ')}; package ${v.path}.`);
      return v;
    });
    if (inputs.audit && inputs.audit !== 'false')
      await log.group('Audit', () => runAudit(inputs, deps, result, log));
    const login = await log.group('Log in', () =>
      logIn(inputs, deps, { http, clock, secrets, log, deadline, phaseDeadline }, result),
    );
    const shared: SharedRun = { http, ...login, uploads: new Map() };
    if (!local.isZip) {
      await log.group('Package', async () => {
        workDir = mkdtempSync(join(deps.env.RUNNER_TEMP || tmpdir(), 'runpack-'));
        const zipPath = join(workDir, 'fleet.zip');
        const packed = await pack({
          sourceDir: local.path,
          outFile: zipPath,
          exclude: inputs.exclude,
          stamp: inputs.stamp,
          ...(inputs.packageCache ? { cacheDir: resolve(inputs.packageCache) } : {}),
        });
        shared.packed = { zipPath, stamp: packed.stamp };
        log.info(
          `Packed once for ${targets.length} targets${packed.cache ? ` (entry cache: ${packed.cache.hits} reused, ${packed.cache.misses} compressed)` : ''}.`,
        );
      });
    }
    const members = await mapBounded(targets, FLEET_CONCURRENCY, async (t) => {
      const label = targetLabel(t);
      const member = await runEngine(
        { ...inputs, appName: t.appName, slot: t.slot, targets: undefined, audit: 'false' },
        { ...deps, sink: prefixedSink(deps.sink, label), secrets, clock, http },
        shared,
      );
      log.info(
        member.ok
          ? `${label}: release ${member.releaseId} ${member.noop ? 'already live' : 'deployed'}, verified.`
          : `${label}: failed (${member.errorCode ?? 'error'}).`,
      );
      return member;
    });
    result.fleet = members;
    if (inputs.dryRun) result.dryRun = true;
    const first = members.find((m) => m.releaseId);
    Object.assign(result, {
      releaseId: first?.releaseId,
      sha256: first?.sha256,
      zipBytes: first?.zipBytes,
      files: first?.files,
      verified: members.every((m) => m.verified),
    });
    const modes = new Set(members.map((m) => m.mode).filter(Boolean));
    if (modes.size === 1) result.mode = [...modes][0];
    Object.assign(result, fleetOutcome(members));
  } catch (err) {
    result.ok = false;
    result.error = secrets.redact(describeError(err));
    result.errorCode = err instanceof RunpackError ? err.code : 'unexpected';
  } finally {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }
  if (result.error) result.error = secrets.redact(result.error);
  return result;
}
