import { describe, it, expect } from '@jest/globals';
import { describeRollback, liveRelease, type DeployResult } from '../../src/deploy/engine.js';
import {
  describeInstance,
  laggardBudgetMs,
  shortInstance,
  type InstanceRow,
} from '../../src/deploy/instances.js';
import { classifyFailure } from '../../src/deploy/classify.js';

const base = (over: Partial<DeployResult>): DeployResult => ({
  ok: false,
  noop: false,
  app: 'web',
  verified: false,
  levels: [],
  phases: [],
  findings: [],
  ...over,
});
const level = { level: 'health' as const, status: 'fail' as const, detail: 'x' };

describe('what the app runs after a deploy (live-release-id)', () => {
  it('is this release when verified or already live', () => {
    expect(liveRelease(base({ verified: true }), 'new')).toBe('new');
    expect(liveRelease(base({ noop: true }), 'new')).toBe('new');
  });
  it('is the restored release after a rollback, verified or not', () => {
    expect(
      liveRelease(
        base({ levels: [level], rollback: { from: 'new', to: 'old', verified: true, levels: [] } }),
        'new',
      ),
    ).toBe('old');
    expect(
      liveRelease(
        base({ levels: [level], rollback: { from: 'new', to: 'old', verified: false, levels: [] } }),
        'new',
      ),
    ).toBe('old');
  });
  it('is the failed release when nothing was brought back after the switch, and the previous one before it', () => {
    expect(
      liveRelease(
        base({ levels: [level], rollback: { from: 'new', verified: false, levels: [], reason: 'r' } }),
        'new',
      ),
    ).toBe('new');
    expect(liveRelease(base({ previousReleaseId: 'old' }), 'new')).toBe('old');
    expect(liveRelease(base({}), 'new')).toBeUndefined();
  });
});

describe('the rollback part of the failure message', () => {
  it('says what serves now in each case, loudly when the rollback did not verify', () => {
    expect(describeRollback({ from: 'n', to: 'o', verified: true, levels: [] })).toBe(
      'Rolled back: release o is live again and verified.',
    );
    expect(
      describeRollback({ from: 'n', to: 'o', verified: false, levels: [], reason: 'the app fails' }),
    ).toBe(
      'ROLLBACK NOT VERIFIED: release o was made live again but did not verify (the app fails); check the app now.',
    );
    expect(describeRollback({ from: 'n', verified: false, levels: [], reason: 'none known' })).toBe(
      'Not rolled back: none known; release n stays live.',
    );
  });
});

describe('each instance', () => {
  const row = (over: Partial<InstanceRow>): InstanceRow => ({
    id: 'a'.repeat(64),
    stamp: 'match',
    mountFailed: false,
    app: 'up',
    why: '/ answers 200',
    ok: true,
    ...over,
  });
  it('describes what an instance runs, and gives laggards a budget that grows with the instances', () => {
    expect(shortInstance('a'.repeat(64))).toBe('aaaaaaaaaaaa');
    expect(describeInstance(row({}))).toBe('mounts this release; the app answers');
    expect(describeInstance(row({ stamp: 'mismatch', ok: false }))).toBe(
      'still mounts another release; the app answers',
    );
    expect(
      describeInstance(row({ mountFailed: true, app: 'warming', why: '/ answers 503', ok: false })),
    ).toBe("shows 'FAILED TO INITIALIZE RUN FROM PACKAGE.txt'; the app / answers 503");
    expect(describeInstance(row({ gone: true }))).toBe('left during the check (scaled in or moved)');
    expect(laggardBudgetMs(2)).toBe(50_000);
    expect(laggardBudgetMs(10)).toBe(130_000);
  });

  it('classifies a bad instance among good ones: failed mount, stale content, or an app that does not answer there', () => {
    const ok = { id: 'good', ok: true, stamp: 'match' as const, mountFailed: false, app: 'up' as const };
    const evidence = (bad: object) => ({
      mode: 'url' as const,
      settingMatches: true,
      stamp: 'match' as const,
      app: { state: 'up' as const, why: '/ answers 200' },
      instances: [
        ok,
        { id: 'bad', ok: false, stamp: 'match' as const, mountFailed: false, app: 'up' as const, ...bad },
      ],
    });
    expect(classifyFailure(evidence({ mountFailed: true }))).toMatchObject({ cause: 'mount-blocked' });
    const stale = classifyFailure(evidence({ stamp: 'mismatch' }));
    expect(stale).toMatchObject({ cause: 'stale-content' });
    expect(stale?.evidence).toBe(
      'instance bad still runs another release after the others were proven (1 of 2 instances fail): it did not remount',
    );
    expect(classifyFailure(evidence({ app: 'start-failed' }))).toMatchObject({ cause: 'app-start-failed' });
    expect(classifyFailure({ ...evidence({}), instances: [ok] })).toBeNull();
  });
});

describe('the deployment history record', () => {
  it('says the release, commit, run and result, failed ones with the rollback they led to', async () => {
    const { deploymentRecord } = await import('../../src/deploy/recover.js');
    const now = new Date('2026-12-07T10:11:12.000Z');
    const ok = deploymentRecord(base({ ok: true, verified: true, releaseId: 'aaaaaaaaaaaa', mode: 'url' }), {
      commit: 'c0ffee',
      runUrl: 'https://ci/run/1',
      author: 'octocat',
      now,
    });
    expect(ok).toMatchObject({
      id: 'runpack-aaaaaaaaaaaa-20261207101112',
      status: 4,
      active: true,
      deployer: 'runpack',
      author: 'octocat',
    });
    expect(JSON.parse(ok.message)).toEqual({
      type: 'deployment',
      releaseId: 'aaaaaaaaaaaa',
      commitId: 'c0ffee',
      runUrl: 'https://ci/run/1',
      result: 'verified',
      mode: 'url',
    });
    const failed = deploymentRecord(
      base({
        releaseId: 'aaaaaaaaaaaa',
        cause: { cause: 'app-start-failed', evidence: 'e', fix: 'f' },
        rollback: { from: 'aaaaaaaaaaaa', to: 'bbbbbbbbbbbb', verified: true, levels: [] },
      }),
      { now },
    );
    expect(failed).toMatchObject({ status: 3, active: false });
    expect(JSON.parse(failed.message)).toMatchObject({
      result: 'failed; rolled back to bbbbbbbbbbbb',
      cause: 'app-start-failed',
    });
  });
});

describe('the Application Insights release annotation', () => {
  it("finds the app's instrumentation key in its connection string or its key setting", async () => {
    const { insightsKey } = await import('../../src/deploy/recover.js');
    expect(
      insightsKey({
        APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=k-1;IngestionEndpoint=https://x/',
        APPINSIGHTS_INSTRUMENTATIONKEY: 'old',
      }),
    ).toBe('k-1');
    expect(insightsKey({ APPINSIGHTS_INSTRUMENTATIONKEY: ' k-2 ' })).toBe('k-2');
    expect(
      insightsKey({ APPLICATIONINSIGHTS_CONNECTION_STRING: 'IngestionEndpoint=https://x/' }),
    ).toBeUndefined();
    expect(insightsKey({})).toBeUndefined();
  });

  it('is a Deployment marker with the release, its result, commit and run', async () => {
    const { releaseAnnotation } = await import('../../src/deploy/recover.js');
    const now = new Date('2026-12-07T10:11:12.000Z');
    const a = releaseAnnotation(
      base({
        app: 'web',
        slot: 'staging',
        releaseId: 'aaaaaaaaaaaa',
        rollback: { from: 'aaaaaaaaaaaa', to: 'bbbbbbbbbbbb', verified: true, levels: [] },
      }),
      { id: 'id-1', commit: 'c0ffee', runUrl: 'https://ci/run/1', now },
    );
    expect(a).toMatchObject({
      Id: 'id-1',
      AnnotationName: 'runpack aaaaaaaaaaaa failed',
      EventTime: '2026-12-07T10:11:12.000Z',
      Category: 'Deployment',
    });
    expect(JSON.parse(a.Properties as string)).toEqual({
      Label: 'Error',
      ReleaseId: 'aaaaaaaaaaaa',
      Result: 'failed; rolled back to bbbbbbbbbbbb',
      App: 'web/staging',
      Commit: 'c0ffee',
      RunUrl: 'https://ci/run/1',
      Deployer: 'runpack',
    });
  });
});

describe('steps that must not fail the deploy', () => {
  it('turn a failure into one warning finding with the error line, and leave a success alone', async () => {
    const { bestEffort } = await import('../../src/deploy/result.js');
    const { RunpackError } = await import('../../src/util/errors.js');
    const r = base({ ok: true, verified: true });
    const warned: string[] = [];
    const log = { warn: (m: string) => warned.push(m), info: () => undefined, error: () => undefined };
    await bestEffort(
      r,
      log,
      'history-failed',
      (why) => `Could not add it (${why})`,
      async () => {
        throw new RunpackError('kudu-error', 'Kudu answered 500');
      },
    );
    expect(r.findings).toEqual([
      { severity: 'warning', code: 'history-failed', message: 'Could not add it (Kudu answered 500)' },
    ]);
    expect(warned).toEqual(['Could not add it (Kudu answered 500)']);
    let ran = false;
    await bestEffort(
      r,
      log,
      'x',
      (why) => why,
      async () => {
        ran = true;
      },
    );
    expect(ran).toBe(true);
    expect(r.findings).toHaveLength(1);
  });
});
