import { describe, it, expect } from '@jest/globals';
import {
  PHASE_BUDGET_MS,
  beyondDeadline,
  currentDeadline,
  phaseBudget,
  withPhaseBudgets,
  withPhaseDeadline,
} from '../../src/deploy/budget.js';
import { createLogger, memorySink } from '../../src/report/log.js';
import { createSecretRegistry } from '../../src/report/secrets.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('phase budgets', () => {
  it("lets the rollback's own budget reach past the whole deploy's deadline, and phases inside it stay within it", async () => {
    await beyondDeadline(9000, async () => {
      await tick();
      expect(currentDeadline(5000)).toBe(9000);
      await withPhaseDeadline(7000, async () => {
        await tick();
        expect(currentDeadline(5000)).toBe(7000);
      });
    });
    expect(currentDeadline(5000)).toBe(5000);
  });

  it('gives a call the current phase deadline, never past the whole deploy', async () => {
    expect(currentDeadline(5000)).toBe(5000);
    await withPhaseDeadline(3000, async () => {
      await tick();
      expect(currentDeadline(5000)).toBe(3000);
      expect(currentDeadline(2000)).toBe(2000);
    });
    expect(currentDeadline(5000)).toBe(5000);
  });

  it('never lets a nested phase extend the phase it runs in', async () => {
    await withPhaseDeadline(3000, () =>
      withPhaseDeadline(9000, async () => {
        expect(currentDeadline(10_000)).toBe(3000);
      }),
    );
  });

  it('keeps concurrent phases apart (fleet targets share one Resource Manager client)', async () => {
    const seen: number[] = [];
    await Promise.all([
      withPhaseDeadline(1000, async () => {
        await tick();
        seen.push(currentDeadline(Infinity));
      }),
      withPhaseDeadline(2000, async () => {
        await tick();
        seen.push(currentDeadline(Infinity));
      }),
    ]);
    expect(seen.sort()).toEqual([1000, 2000]);
  });

  it('bounds ordinary phases by the phase budget and the package transfer only by the deploy', () => {
    expect(phaseBudget('Resolve target', 0, 60 * 60_000)).toBe(PHASE_BUDGET_MS);
    expect(phaseBudget('Resolve target', 0, 60_000)).toBe(60_000);
    expect(phaseBudget('Upload', 0, 60 * 60_000)).toBe(60 * 60_000);
    expect(phaseBudget('Publish (local mode)', 0, 60 * 60_000)).toBe(60 * 60_000);
  });

  it('runs every logged phase inside its budget', async () => {
    const base = createLogger(
      memorySink(),
      createSecretRegistry(() => undefined),
    );
    let now = 1000;
    const log = withPhaseBudgets(base, () => now, 1000 + 60 * 60_000);
    const inside = await log.group('App setting', async () => currentDeadline(Infinity));
    expect(inside).toBe(1000 + PHASE_BUDGET_MS);
    now = 5000;
    const upload = await log.group('Upload', async () => currentDeadline(Infinity));
    expect(upload).toBe(1000 + 60 * 60_000);
  });
});
