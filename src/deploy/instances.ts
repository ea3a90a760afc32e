/**
 * Every instance runs this release: the site's scale-out instances from Resource Manager, each checked on its
 * own — the release stamp read through Kudu pinned to that instance and the app's answer from the site pinned
 * the same way (the ARRAffinity cookie with the instance id, as Azure documents for reaching one instance).
 * Instances that appear during the check are checked too; instances that go away are reported, not failed.
 */
import type { KuduClient } from '../azure/kudu.js';
import { watchMountedStamp } from '../release/mounted.js';
import type { StampCheck } from '../release/rfp.js';
import type { AnswerState } from './app-answer.js';
import { watchApp } from './restart.js';
import type { DeployContext, PackageInfo } from './types.js';

export interface InstanceRow {
  /** The instance id (also its ARRAffinity value). */
  id: string;
  /** What its mounted wwwroot carries: this release (`match`), another (`mismatch`), none, or not read. */
  stamp: Exclude<StampCheck, 'not-stamped'> | 'not-checked';
  /** The worker's failure marker in its wwwroot. */
  mountFailed: boolean;
  /** What the app answers on it. */
  app: AnswerState;
  /** One phrase: what the app's answer on this instance was. */
  why: string;
  /** The instance left during the check (scale-in, a move): not held against the deploy. */
  gone?: boolean;
  ok: boolean;
}

export interface InstancesOutcome {
  rows: InstanceRow[];
  ok: boolean;
}

/** Pure: the short form of an instance id for logs and the summary (the full id is in the JSON result). */
export function shortInstance(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}

/** Pure: one line for an instance's row. */
export function describeInstance(r: InstanceRow): string {
  if (r.gone) return 'left during the check (scaled in or moved)';
  const stamp = r.mountFailed
    ? "shows 'FAILED TO INITIALIZE RUN FROM PACKAGE.txt'"
    : r.stamp === 'match'
      ? 'mounts this release'
      : r.stamp === 'mismatch'
        ? 'still mounts another release'
        : r.stamp === 'missing' || r.stamp === 'unreadable'
          ? 'has no readable release stamp'
          : 'mount not read';
  return `${stamp}; the app ${r.app === 'up' ? 'answers' : r.why}`;
}

/**
 * How long an instance may trail the others once the first proof passed: a restart reaches every instance, but
 * not all at once. 30 s plus 10 s per instance, never past the verification deadline.
 */
export function laggardBudgetMs(instances: number): number {
  return 30_000 + 10_000 * instances;
}

/**
 * Checks each instance until it runs this release or the budget ends; null when Resource Manager does not list
 * the instances (then the unpinned checks stand alone) or the site runs on one instance only.
 */
export async function verifyInstances(
  ctx: DeployContext,
  pkg: PackageInfo,
  kudu: KuduClient | null,
  deadline: number,
  o: { once?: boolean } = {},
): Promise<InstancesOutcome | null> {
  const list = ctx.arm.listInstances;
  if (!list) return null;
  const listed = () => list.call(ctx.arm, ctx.target.ref).catch(() => null);
  const first = await listed();
  if (!first || first.length <= 1) return null;
  const until = Math.min(deadline, ctx.clock.now() + laggardBudgetMs(first.length));
  ctx.log.info(`${first.length} instances: checking each one (pinned with ARRAffinity).`);
  const checkOne = async (id: string): Promise<InstanceRow> => {
    const mount =
      kudu && pkg.stamp
        ? await watchMountedStamp(kudu.pinnedTo(id), pkg.stamp, {
            deadline: until,
            intervalMs: 3000,
            once: o.once,
            sleep: (ms) => ctx.clock.sleep(ms),
            now: () => ctx.clock.now(),
          }).catch(() => ({ state: 'unreadable' as const, marker: false }))
        : { state: 'not-checked' as const, marker: false };
    const app = await watchApp(ctx, until, {
      affinity: id,
      quick: o.once || mount.marker,
    });
    const stampOk = mount.state === 'match' || mount.state === 'not-checked' || mount.state === 'not-stamped';
    const row: InstanceRow = {
      id,
      stamp: mount.state === 'not-stamped' ? 'not-checked' : mount.state,
      mountFailed: mount.marker,
      app: app.judgement.state,
      why: app.judgement.why,
      ok: stampOk && !mount.marker && app.judgement.state === 'up',
    };
    ctx.log[row.ok ? 'info' : 'error'](`Instance ${shortInstance(id)}: ${describeInstance(row)}.`);
    return row;
  };
  const rows = await Promise.all(first.map(checkOne));
  // Scale changes during the check: instances that left are noted, new ones checked too.
  const now = await listed();
  if (now) {
    for (const r of rows) if (!now.includes(r.id)) Object.assign(r, { gone: true, ok: true });
    const added = now.filter((id) => !first.includes(id));
    if (added.length) {
      ctx.log.info(`${added.length} instance(s) appeared during the check; checking them too.`);
      rows.push(...(await Promise.all(added.map(checkOne))));
    }
  }
  return { rows, ok: rows.every((r) => r.ok) };
}
