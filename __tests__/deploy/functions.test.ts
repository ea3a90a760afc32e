import { describe, it, expect } from '@jest/globals';
import {
  afterMountFunctions,
  diffFunctions,
  functionPackageFindings,
  triggerDifferences,
  warmUpOnly,
  isFunctionAppKind,
} from '../../src/deploy/functions.js';
import { fakeArm, makeContext, makePackage, makeTarget, newArmFake } from './local-helpers.js';

describe('function app helpers', () => {
  it('detects function apps from kind tokens, not whole strings', () => {
    expect(isFunctionAppKind('functionapp')).toBe(true);
    expect(isFunctionAppKind('FunctionApp, Linux')).toBe(true);
    expect(isFunctionAppKind('functionapp,linux,container')).toBe(true);
    expect(isFunctionAppKind('app,linux')).toBe(false);
    expect(isFunctionAppKind('functionapps')).toBe(false);
    expect(isFunctionAppKind(undefined)).toBe(false);
  });

  it('diffs function names case-insensitively, accepting ARM app/fn names', () => {
    expect(diffFunctions(['HttpTrigger', 'Timer'], ['app/httptrigger', 'app/Timer'])).toEqual({
      missing: [],
      unexpected: [],
      same: true,
    });
    expect(diffFunctions(['HttpTrigger', 'Queue'], ['app/HttpTrigger', 'app/OldTimer'])).toEqual({
      missing: ['Queue'],
      unexpected: ['OldTimer'],
      same: false,
    });
  });

  it('makes missing .python_packages an error for Python function apps unless forced', () => {
    const inspect = {
      runtime: 'python',
      problems: [
        {
          code: 'dependencies-missing' as const,
          severity: 'warning' as const,
          message: 'requirements.txt is present but .python_packages is not',
        },
      ],
    };
    const err = functionPackageFindings(inspect, { isFunctionApp: true }, false);
    expect(err).toEqual([expect.objectContaining({ severity: 'error', code: 'python-packages-missing' })]);
    expect(err[0].message).toMatch(
      /pip install -r requirements.txt --target \.python_packages\/lib\/site-packages/,
    );
    expect(functionPackageFindings(inspect, { isFunctionApp: true }, true)[0].severity).toBe('warning');
    expect(functionPackageFindings(inspect, { isFunctionApp: false }, false)).toEqual([]);
    const node = {
      runtime: 'node',
      problems: [{ ...inspect.problems[0], message: 'node_modules is missing' }],
    };
    expect(functionPackageFindings(node, { isFunctionApp: true }, false)).toEqual([]);
  });
});

describe('afterMountFunctions', () => {
  const fnTarget = (slot: string | null = null) =>
    makeTarget({ isFunctionApp: true, kind: 'functionapp' }, slot);

  it('retries the trigger sync while the host answers 400, then confirms the listed functions', async () => {
    const armFake = newArmFake({ syncBadRequests: 2, functions: { prod: ['fn/HttpTrigger', 'fn/Timer'] } });
    const ctx = makeContext({ arm: fakeArm(armFake), armFake, target: fnTarget() });
    const findings = await afterMountFunctions(ctx, makePackage('a'.repeat(64), ['HttpTrigger', 'Timer']));
    expect(findings).toEqual([]);
    expect(armFake.calls.filter((c) => c.startsWith('syncFunctionTriggers'))).toHaveLength(3);
    expect(ctx.slept.slice(0, 2)).toEqual([2000, 4000]);
    expect(ctx.lines.join('\n')).toMatch(/lists the package's 2 function\(s\): HttpTrigger, Timer/);
  });

  it('fails with the difference when the host lists other functions', async () => {
    const armFake = newArmFake({ functions: { prod: ['fn/HttpTrigger', 'fn/OldQueue'] } });
    const ctx = makeContext({ arm: fakeArm(armFake), armFake, target: fnTarget() });
    const findings = await afterMountFunctions(ctx, makePackage('a'.repeat(64), ['HttpTrigger', 'Timer']), {
      listBudgetMs: 20_000,
    });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'error', code: 'functions-mismatch' });
    expect(findings[0].message).toMatch(
      /missing from the host: Timer; listed but not in the package: OldQueue/,
    );
  });

  it('gives up on a host that never starts, within the budget, with an error finding', async () => {
    const armFake = newArmFake({ syncBadRequests: 1000 });
    const ctx = makeContext({ arm: fakeArm(armFake), armFake, target: fnTarget() });
    const findings = await afterMountFunctions(ctx, makePackage('a'.repeat(64), ['HttpTrigger']), {
      budgetMs: 60_000,
    });
    expect(findings[0]).toMatchObject({ severity: 'error', code: 'trigger-sync-failed' });
    expect(findings[0].message).toMatch(/kept answering 400 to the trigger sync for 60 s/);
    expect(ctx.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(60_000);
  });

  it('uses the slot for every call on a slot target', async () => {
    const armFake = newArmFake({ functions: { staging: ['fn/HttpTrigger'] } });
    const ctx = makeContext({ arm: fakeArm(armFake), armFake, target: fnTarget('staging') });
    expect(await afterMountFunctions(ctx, makePackage('a'.repeat(64), ['HttpTrigger']))).toEqual([]);
    expect(armFake.calls).toEqual(['syncFunctionTriggers staging', 'listFunctions staging']);
  });

  it('does nothing for web apps', async () => {
    const armFake = newArmFake();
    const ctx = makeContext({ arm: fakeArm(armFake), armFake, target: makeTarget() });
    expect(await afterMountFunctions(ctx, makePackage())).toEqual([]);
    expect(armFake.calls).toEqual([]);
  });
});

describe('triggerDifferences and warmUpOnly', () => {
  it('names each function whose trigger differs from the package (stale trigger metadata), case-insensitively', () => {
    const host = new Map([
      ['httphello', 'httpTrigger'],
      ['Tick', 'httpTrigger'],
    ]);
    expect(
      triggerDifferences({ HttpHello: 'HTTPTRIGGER', Tick: 'timerTrigger', Gone: 'queueTrigger' }, host),
    ).toEqual(["Tick: the package's timerTrigger, the host's httpTrigger"]);
    expect(triggerDifferences({ Tick: 'timerTrigger' }, null)).toEqual([]);
  });

  it('tells a host that lists only the platform WarmUp function from a package that has one', () => {
    expect(warmUpOnly(['HttpHello'], ['app/WarmUp'])).toBe(true);
    expect(warmUpOnly([], ['warmup'])).toBe(true);
    expect(warmUpOnly(['WarmUp'], ['WarmUp'])).toBe(false);
    expect(warmUpOnly(['HttpHello'], ['WarmUp', 'HttpHello'])).toBe(false);
  });
});
