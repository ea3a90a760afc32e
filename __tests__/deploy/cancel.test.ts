import { describe, it, expect } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { describeCancellation, type DeployResult } from '../../src/deploy/engine.js';
import { cancellableClock } from '../../src/deploy/context.js';
import { listenForCancellation } from '../../src/util/cancel.js';

const result = (over: Partial<DeployResult>): DeployResult => ({
  ok: false,
  noop: false,
  app: 'web',
  verified: false,
  levels: [],
  phases: [],
  findings: [],
  releaseId: 'aaaaaaaaaaaa',
  ...over,
});

describe('cancellation', () => {
  it('says where the deploy stopped and what the app runs, in each state', () => {
    const by = new Error('cancelled by SIGINT');
    expect(describeCancellation(result({ previousReleaseId: 'bbbbbbbbbbbb' }), 'Upload', by)).toBe(
      'Cancelled (SIGINT) during Upload: nothing was changed, so release bbbbbbbbbbbb still is.',
    );
    expect(describeCancellation(result({}), 'Package', undefined)).toBe(
      'Cancelled (the runner) during Package: nothing was changed, so the release that was live still is.',
    );
    expect(describeCancellation(result({ switching: true }), 'Verify', by)).toMatch(
      /during Verify: the package of release aaaaaaaaaaaa was switched but not verified, so it may be live unverified/,
    );
    expect(describeCancellation(result({ verified: true }), 'Retention', by)).toMatch(
      /release aaaaaaaaaaaa is live and verified; what came after \(Retention\) did not finish/,
    );
  });

  it('ends a wait at once when the step is cancelled, and leaves it alone otherwise', async () => {
    const controller = new AbortController();
    const never = { now: () => 0, sleep: () => new Promise<void>(() => undefined) };
    const clock = cancellableClock(never, controller.signal);
    const waiting = clock.sleep(60_000);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'cancelled' });
    await expect(
      cancellableClock({ now: () => 0, sleep: async () => undefined }, new AbortController().signal).sleep(5),
    ).resolves.toBeUndefined();
  });

  it('aborts on the first signal and exits with its code when a second one comes', () => {
    const proc = Object.assign(new EventEmitter(), { exited: [] as number[] });
    const exit = ((code: number) => proc.exited.push(code)) as unknown as NodeJS.Process['exit'];
    const c = listenForCancellation({
      on: proc.on.bind(proc) as unknown as NodeJS.Process['on'],
      off: proc.off.bind(proc) as unknown as NodeJS.Process['off'],
      exit,
    });
    expect(c.signal.aborted).toBe(false);
    proc.emit('SIGTERM', 'SIGTERM');
    expect(c.signal.aborted).toBe(true);
    expect(c.reason()).toBe('SIGTERM');
    expect(c.exitCode()).toBe(143);
    c.dispose();
    expect(proc.listenerCount('SIGINT')).toBe(0);
  });
});
