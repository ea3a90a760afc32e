/**
 * Restart through Resource Manager, and watch the site until the app answers: warm-up answers (502/503/504) are
 * waited out within the budget, and the platform's start-failure answers end the wait as soon as they have
 * persisted long enough to be certain (app-answer.ts).
 */
import type { HttpResponse } from '../azure/http.js';
import type { KuduClient } from '../azure/kudu.js';
import {
  FailureWatch,
  judgeAnswer,
  persistentFailure,
  type AnswerJudgement,
  type AnswerState,
  type SiteProbe,
} from './app-answer.js';
import { READ_ONLY } from './classify.js';
import type { DeployContext } from './types.js';

export type { SiteProbe } from './app-answer.js';

/** One GET of the site (no retries: the caller polls). */
export async function probeSite(
  ctx: DeployContext,
  url: string,
  deadline: number,
  affinity?: string,
): Promise<SiteProbe> {
  try {
    const res: HttpResponse = await ctx.http.request({
      method: 'GET',
      url,
      service: 'the app',
      retryOn: [],
      maxAttempts: 1,
      deadline: Math.min(deadline, ctx.clock.now() + 30_000),
      // Pinned to one instance with its ARRAffinity cookie (the site honours it while client affinity is on).
      headers: { 'Cache-Control': 'no-cache', ...(affinity ? { Cookie: `ARRAffinity=${affinity}` } : {}) },
    });
    return { status: res.status, body: res.text().slice(0, 4000) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

export interface AppWatch {
  judgement: AnswerJudgement;
  last: SiteProbe;
  /**
   * The failure persisted long enough to be certain (a start failure, or a health-path that keeps answering a
   * client error), or the start failure the restart saw was confirmed once more.
   */
  certain: boolean;
}

export interface WatchOptions {
  /** One answer only (the already-live check). */
  quick?: boolean;
  /** The failure the restart already found certain (start-failed, unreachable): one more such answer confirms it. */
  confirmed?: AnswerState;
  /** When the app counts as running: 'answers' (any answer of the app, for the restart) or 'up' (verification). */
  until?: 'answers' | 'up';
  /** Asked between answers: the mount failed, so waiting cannot help (the failure marker). */
  mountFailed?: () => boolean | Promise<boolean>;
  intervalMs?: number;
  /** Ask one instance (its id, sent as the ARRAffinity cookie). */
  affinity?: string;
}

/**
 * Probes `health-path` (or the root) until the app answers, the start failure is certain, the mount failed, or
 * the budget ends; returns the last answer judged.
 */
export async function watchApp(
  ctx: DeployContext,
  deadline: number,
  o: WatchOptions = {},
): Promise<AppWatch> {
  const path = ctx.inputs.healthPath ?? '/';
  const url = ctx.target.appUrl + path;
  const interval = o.intervalMs ?? 2000;
  const watch = new FailureWatch();
  for (;;) {
    const last = await probeSite(ctx, url, deadline, o.affinity);
    const judgement = judgeAnswer(last, ctx.inputs, path);
    const state = judgement.state;
    if (state === 'up' || (o.until === 'answers' && state === 'unhealthy'))
      return { judgement, last, certain: false };
    const certain =
      watch.see(persistentFailure(judgement, last) ? judgement.why : null, ctx.clock.now()) ||
      (o.confirmed !== undefined && state === o.confirmed);
    if (certain) return { judgement, last, certain };
    if (o.quick || ctx.clock.now() + interval >= deadline) return { judgement, last, certain: false };
    if (o.mountFailed && (await Promise.resolve(o.mountFailed()).catch(() => false)))
      return { judgement, last, certain: false };
    await ctx.clock.sleep(interval);
  }
}

export interface WaitResult {
  running: boolean;
  last: SiteProbe;
  /** Why waiting stopped early: the worker reported a failed mount, or the app's start failure is certain. */
  failed?: string;
  /**
   * The failure that persisted answer after answer: the app's process does not start (start-failed), or the
   * runner cannot reach the site (unreachable). Verification needs one more such answer to confirm it.
   */
  confirmed?: AnswerState;
}

export async function restartApp(
  ctx: DeployContext,
  deadline: number,
  failed?: () => Promise<string | null>,
  /** The settings write already restarts the app: wait for that restart instead of requesting a second one. */
  restartedBySettings = false,
): Promise<WaitResult> {
  if (restartedBySettings)
    ctx.log.info('The settings write restarts the app (no second restart); waiting for the site to answer.');
  else {
    await ctx.arm.restart(ctx.target.ref, { synchronous: true });
    ctx.log.info('Restart requested; waiting for the site to answer.');
  }
  let marker: string | null = null;
  const w = await watchApp(ctx, deadline, {
    until: 'answers',
    mountFailed: failed
      ? async () => {
          marker = await failed().catch(() => null);
          return marker !== null;
        }
      : undefined,
  });
  const state = w.judgement.state;
  if (state === 'up' || state === 'unhealthy') {
    ctx.log.info(`The site answers (${w.last.status}).`);
    return { running: true, last: w.last };
  }
  if (marker) {
    ctx.log.warn(`The site cannot start: ${marker}.`);
    return { running: false, last: w.last, failed: marker };
  }
  if (w.certain) {
    ctx.log.warn(
      `${state === 'start-failed' ? `The app does not start: ${w.judgement.why}` : w.judgement.why}, answer after answer.`,
    );
    return { running: false, last: w.last, failed: w.judgement.why, confirmed: state };
  }
  ctx.log.warn(`The site did not answer in time (${w.last.error ?? `HTTP ${w.last.status}`}).`);
  return { running: false, last: w.last };
}

/**
 * The first line of the app's container log (Kudu's /api/logs/docker, the newest files' ends) that shows a write
 * into the read-only mount, or undefined (none, or no log to read).
 */
export async function readOnlyLineInLogs(kudu: KuduClient, deadline: number): Promise<string | undefined> {
  const logs = await kudu.containerLogTail({ deadline }).catch(() => []);
  for (const log of logs)
    for (const line of log.text.split('\n'))
      if (READ_ONLY.test(line)) return line.replace(/^\S+Z\s+/, '').trim();
  return undefined;
}
