/**
 * Phase time budgets. Each phase of a deploy runs with its own deadline; Resource Manager calls made inside it
 * retry (honouring Retry-After) only until that deadline, never past the whole deploy's. The deadline follows the
 * async context, so concurrent targets of a fleet, which share one Resource Manager client, keep their own.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '../report/log.js';

/** The current phase's deadline, and how far past the whole deploy's deadline work may go (the rollback's budget). */
const phase = new AsyncLocalStorage<{ deadline: number; beyond?: number }>();

/** Default budget of one phase. */
export const PHASE_BUDGET_MS = 10 * 60_000;

/** Phases that move the package itself: bounded by the whole deploy's deadline only. */
const UNBOUNDED_PHASES = new Set(['Upload', 'Publish (local mode)']);

/** Runs fn with a phase deadline; a nested phase never extends the phase it runs in. */
export function withPhaseDeadline<T>(deadline: number, fn: () => Promise<T>): Promise<T> {
  const outer = phase.getStore();
  return phase.run(
    outer === undefined
      ? { deadline }
      : { deadline: Math.min(outer.deadline, deadline), ...(outer.beyond ? { beyond: outer.beyond } : {}) },
    fn,
  );
}

/**
 * Runs fn with a budget of its own that may reach past the whole deploy's deadline (`until`): the automatic
 * rollback must still run when a failed verification used up timeout-minutes.
 */
export function beyondDeadline<T>(until: number, fn: () => Promise<T>): Promise<T> {
  return phase.run({ deadline: until, beyond: until }, fn);
}

/** The whole deploy's deadline as it holds now: `overall`, or later inside beyondDeadline. */
function effectiveOverall(overall: number): number {
  return Math.max(overall, phase.getStore()?.beyond ?? overall);
}

/** The deadline for a call made now: the current phase's, never past `overall` (or beyondDeadline's). */
export function currentDeadline(overall: number): number {
  const p = phase.getStore();
  return p === undefined ? overall : Math.min(p.deadline, effectiveOverall(overall));
}

/** The budget a named phase gets, as a deadline from `now`, capped by `overall`. */
export function phaseBudget(name: string, now: number, overall: number): number {
  return UNBOUNDED_PHASES.has(name) ? overall : Math.min(overall, now + PHASE_BUDGET_MS);
}

/** A logger whose groups (the deploy's phases) each run within their phase budget. */
export function withPhaseBudgets(log: Logger, now: () => number, overall: number): Logger {
  return {
    ...log,
    group: (name, fn) =>
      log.group(name, () => withPhaseDeadline(phaseBudget(name, now(), effectiveOverall(overall)), fn)),
  };
}
