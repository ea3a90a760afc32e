import { describe, it, expect } from '@jest/globals';
import { createDeployContext } from '../../src/deploy/context.js';
import { fakeArm, makeContext, makeTarget, newArmFake } from './local-helpers.js';

describe('createDeployContext', () => {
  it('caps a phase deadline at the whole deploy and reads settings through the target', async () => {
    const armFake = newArmFake({ settings: { prod: { KEEP: 'me' } } });
    const base = makeContext({ arm: fakeArm(armFake), armFake, target: makeTarget() });
    let now = 1000;
    const ctx = createDeployContext({
      ...base,
      clock: { now: () => now, sleep: base.clock.sleep },
      deadline: 5000,
    });
    expect(ctx.phaseDeadline(1000)).toBe(2000);
    now = 4500;
    expect(ctx.phaseDeadline(1000)).toBe(5000);
    expect(await ctx.settings.read()).toEqual({ KEEP: 'me' });
  });
});
