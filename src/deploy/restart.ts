/**
 * Restart through Resource Manager and wait until the site answers (not 502/503/504, the warm-up answers).
 */
import type { HttpResponse } from '../azure/http.js';
import type { DeployContext } from './types.js';

export interface SiteProbe {
  status?: number;
  body?: string;
  error?: string;
}

/** One GET of the site (no retries: the caller polls). */
export async function probeSite(ctx: DeployContext, url: string, deadline: number): Promise<SiteProbe> {
  try {
    const res: HttpResponse = await ctx.http.request({
      method: 'GET',
      url,
      service: 'the app',
      retryOn: [],
      maxAttempts: 1,
      deadline: Math.min(deadline, ctx.clock.now() + 30_000),
      headers: { 'Cache-Control': 'no-cache' },
    });
    return { status: res.status, body: res.text().slice(0, 4000) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

const WARMING = new Set([502, 503, 504]);

export interface WaitResult {
  running: boolean;
  last: SiteProbe;
  /** Why waiting stopped early (the worker reported a failed mount). */
  failed?: string;
}

/**
 * Polls the site until it answers something other than a warm-up status. `failed` is asked between polls and
 * ends the wait early with its reason: there is no point waiting for a site that cannot mount its package.
 */
export async function waitUntilRunning(
  ctx: DeployContext,
  url: string,
  deadline: number,
  intervalMs = 2000,
  failed?: () => Promise<string | null>,
): Promise<WaitResult> {
  let last: SiteProbe = {};
  for (;;) {
    last = await probeSite(ctx, url, deadline);
    if (last.status !== undefined && !WARMING.has(last.status)) return { running: true, last };
    if (failed) {
      const reason = await failed().catch(() => null);
      if (reason) return { running: false, last, failed: reason };
    }
    if (ctx.clock.now() + intervalMs >= deadline) return { running: false, last };
    await ctx.clock.sleep(intervalMs);
  }
}

export async function restartApp(
  ctx: DeployContext,
  deadline: number,
  failed?: () => Promise<string | null>,
): Promise<WaitResult> {
  await ctx.arm.restart(ctx.target.ref, { synchronous: true });
  ctx.log.info('Restart requested; waiting for the site to answer.');
  const probeUrl = ctx.target.appUrl + (ctx.inputs.healthPath ?? '/');
  const result = await waitUntilRunning(ctx, probeUrl, deadline, 2000, failed);
  if (result.running) ctx.log.info(`The site answers (${result.last.status}).`);
  else if (result.failed) ctx.log.warn(`The site cannot start: ${result.failed}.`);
  else
    ctx.log.warn(`The site did not answer in time (${result.last.error ?? `HTTP ${result.last.status}`}).`);
  return result;
}
