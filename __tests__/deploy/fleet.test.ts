import { describe, expect, it } from '@jest/globals';
import { fleetOutcome, mapBounded, prefixedSink } from '../../src/deploy/fleet.js';
import type { DeployResult } from '../../src/deploy/engine.js';

const member = (app: string, ok: boolean, errorCode?: string): DeployResult => ({
  ok,
  noop: false,
  app,
  verified: ok,
  levels: [],
  phases: [],
  findings: [],
  ...(errorCode ? { errorCode } : {}),
});

describe('mapBounded', () => {
  it('runs at most `limit` at a time, every item once, results in input order', async () => {
    let running = 0;
    let most = 0;
    const release: (() => void)[] = [];
    const items = [1, 2, 3, 4, 5, 6, 7];
    const done = mapBounded(items, 3, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((r) => release.push(r));
      running--;
      return n * 10;
    });
    // Let the queue drain one waiter at a time.
    while (release.length || running) {
      await new Promise((r) => setImmediate(r));
      release.shift()?.();
    }
    expect(await done).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(most).toBe(3);
  });

  it('a failing item does not stop the others when fn catches its own errors', async () => {
    const seen: number[] = [];
    const out = await mapBounded([1, 2, 3], 2, async (n) => {
      seen.push(n);
      return n === 2 ? 'failed' : 'ok';
    });
    expect(out).toEqual(['ok', 'failed', 'ok']);
    expect(seen.sort()).toEqual([1, 2, 3]);
  });
});

describe('fleetOutcome', () => {
  it('is ok only when every target is', () => {
    expect(fleetOutcome([member('a', true), member('b', true)])).toEqual({ ok: true });
  });

  it('names each failed target with its code, in one line', () => {
    const o = fleetOutcome([
      member('a', true),
      member('b', false, 'verify-mount-blocked'),
      member('c', true),
    ]);
    expect(o.ok).toBe(false);
    expect(o.errorCode).toBe('verify-mount-blocked');
    expect(o.error).toMatch(
      /^1 of 3 targets failed: b \(verify-mount-blocked\); the others were deployed and verified/,
    );
    expect(o.error).not.toContain('\n');
    const two = fleetOutcome([member('a', false, 'flex-consumption'), member('b', false, 'timeout')]);
    expect(two.errorCode).toBe('fleet-failed');
  });
});

describe('prefixedSink', () => {
  it('names the target on every line and turns groups into lines', () => {
    const lines: string[] = [];
    const push = (l: string) => lines.push(l);
    const sink = prefixedSink(
      {
        info: push,
        warn: (l) => push(`W ${l}`),
        error: push,
        debug: push,
        startGroup: (n) => push(`G ${n}`),
        endGroup: () => push('E'),
      },
      'web2/staging',
    );
    sink.startGroup('Upload');
    sink.warn('slow');
    sink.endGroup();
    expect(lines).toEqual(['[web2/staging] ▶ Upload', 'W [web2/staging] slow']);
  });
});
