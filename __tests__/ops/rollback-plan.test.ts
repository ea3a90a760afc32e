import { describe, expect, it } from '@jest/globals';
import {
  resolveRollbackRelease,
  rollbackPlan,
  stableTargetOf,
  type RollbackInput,
} from '../../src/ops/rollback-plan.js';
import type { ArchiveEvidence, Release } from '../../src/ops/types.js';
import { RunpackError } from '../../src/util/errors.js';

const sha = (c: string) => c.repeat(64);
function rel(c: string, day: number, over: Partial<Release> = {}): Release {
  return {
    id: sha(c).slice(0, 12),
    sha256: sha(c),
    blob: `releases/web/${sha(c)}.zip`,
    size: 10,
    etag: `"${c}"`,
    created: `2026-02-0${day}T10:00:00Z`,
    ...over,
  };
}
const releases = [
  rel('a', 1, { contentSha256: sha('1') }),
  rel('b', 2, { contentSha256: sha('2') }),
  rel('c', 3),
];
const good: ArchiveEvidence = { opened: true, problems: [] };

function input(over: Partial<RollbackInput> = {}): RollbackInput {
  return {
    release: 'previous',
    mode: 'url',
    app: 'web',
    releases,
    live: sha('c'),
    inspections: new Map(releases.map((r) => [r.sha256, good])),
    container: 'packages',
    stableBlob: 'web.zip',
    settingValue: 'https://acct.blob.core.windows.net/packages/web.zip?sv=1&sig=***',
    ...over,
  };
}

function error(fn: () => unknown): RunpackError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RunpackError) return err;
    throw err;
  }
  throw new Error('expected a RunpackError');
}

describe('resolveRollbackRelease', () => {
  it("takes 'previous' as the release before the live one", () => {
    expect(resolveRollbackRelease('previous', releases, sha('c')).sha256).toBe(sha('b'));
    expect(resolveRollbackRelease('previous', releases, sha('b')).sha256).toBe(sha('a'));
  });

  it('takes a full sha256 or its 12-digit prefix, in any case', () => {
    expect(resolveRollbackRelease(sha('a'), releases, null).sha256).toBe(sha('a'));
    expect(resolveRollbackRelease('AAAAAAAAAAAA', releases, null).sha256).toBe(sha('a'));
  });

  it('refuses a release that does not exist, naming the available ones', () => {
    const err = error(() => resolveRollbackRelease('dddddddddddd', releases, sha('c')));
    expect(err.code).toBe('release-not-found');
    expect(err.message).toContain('cccccccccccc (live), bbbbbbbbbbbb, aaaaaaaaaaaa');
  });

  it("refuses 'previous' when the live release is unknown or the oldest", () => {
    expect(error(() => resolveRollbackRelease('previous', releases, null)).code).toBe('release-live-unknown');
    expect(error(() => resolveRollbackRelease('previous', releases, sha('f'))).code).toBe(
      'release-live-unknown',
    );
    expect(error(() => resolveRollbackRelease('previous', releases, sha('a'))).code).toBe(
      'release-none-older',
    );
  });

  it('refuses something that is not an id', () => {
    expect(error(() => resolveRollbackRelease('v1.2', releases, null)).code).toBe('usage');
    expect(error(() => resolveRollbackRelease('abc', releases, null)).code).toBe('usage');
  });
});

describe('rollbackPlan (url mode)', () => {
  it('copies the release blob onto the stable name and keeps the setting', () => {
    const plan = rollbackPlan(input());
    expect(plan.to.sha256).toBe(sha('b'));
    expect(plan.from?.sha256).toBe(sha('c'));
    expect(plan.copy).toEqual({ container: 'packages', from: releases[1].blob, to: 'web.zip' });
    expect(plan.setting?.old).toBe(plan.setting?.new);
    expect(plan.restart).toBe(true);
    expect(plan.steps.join('\n')).toMatch(/Copy packages\/releases\/web\/b+\.zip onto packages\/web\.zip/);
    expect(plan.steps.join('\n')).not.toMatch(/sig=[^*]/);
  });

  it('plans no copy when the release is already live', () => {
    const plan = rollbackPlan(input({ release: sha('c').slice(0, 12) }));
    expect(plan.alreadyLive).toBe(true);
    expect(plan.copy).toBeUndefined();
  });

  it('refuses a release that fails inspection, naming the others', () => {
    const inspections = new Map(releases.map((r) => [r.sha256, good]));
    inspections.set(sha('b'), {
      opened: true,
      problems: [{ code: 'nested-root', severity: 'error', message: 'everything is under site/' }],
    });
    const err = error(() => rollbackPlan(input({ inspections })));
    expect(err.code).toBe('release-invalid');
    expect(err.message).toContain('nested-root');
    expect(err.message).toContain('aaaaaaaaaaaa');
    expect(err.message).not.toContain('bbbbbbbbbbbb,');
  });

  it('refuses a release that is not a zip or was not inspected', () => {
    const notZip = new Map([
      [sha('b'), { opened: false, problems: [], error: 'no end of central directory' }],
    ]);
    expect(error(() => rollbackPlan(input({ inspections: notZip }))).message).toContain(
      'no end of central directory',
    );
    expect(error(() => rollbackPlan(input({ inspections: new Map() }))).code).toBe('release-uninspected');
  });
});

describe('rollbackPlan (local mode)', () => {
  it('points packagename.txt at the stored package Kudu still keeps', () => {
    const plan = rollbackPlan(
      input({
        mode: 'local',
        live: sha('b'),
        sitePackages: [
          { name: '20260201100000.zip', contentSha256: sha('1') },
          { name: '20260202100000.zip', contentSha256: sha('2') },
        ],
        packageName: '20260202100000.zip',
      }),
    );
    expect(plan.to.sha256).toBe(sha('a'));
    expect(plan.local).toEqual({
      strategy: 'repoint',
      packageName: '20260201100000.zip',
      previousName: '20260202100000.zip',
    });
    expect(plan.steps[0]).toMatch(/packagename\.txt from 20260202100000\.zip to 20260201100000\.zip/);
  });

  it('pushes the release blob when Kudu no longer keeps it', () => {
    const plan = rollbackPlan(
      input({
        mode: 'local',
        live: sha('b'),
        sitePackages: [{ name: '20260202100000.zip', contentSha256: sha('2') }],
        packageName: '20260202100000.zip',
      }),
    );
    expect(plan.local).toEqual({
      strategy: 'zipdeploy',
      blob: releases[0].blob,
      previousName: '20260202100000.zip',
    });
  });
});

describe('stableTargetOf', () => {
  const at = (blob: string, container = 'app-packages') => ({ container, blob });
  it("is the stable blob the side's URL names, also another side's name after a swap", () => {
    expect(stableTargetOf('web', 'app-packages', at('web.zip'))).toBe('web.zip');
    expect(stableTargetOf('web', 'app-packages', at('web-staging.zip'))).toBe('web-staging.zip');
    expect(stableTargetOf('web', 'app-packages', at('web-staging-a.zip'))).toBe('web-staging-a.zip');
  });
  it('refuses a release blob, another app, another container and no URL', () => {
    expect(stableTargetOf('web', 'app-packages', at(`releases/web/${'a'.repeat(64)}.zip`))).toBeNull();
    expect(stableTargetOf('web', 'app-packages', at('api.zip'))).toBeNull();
    expect(stableTargetOf('web', 'app-packages', at('web.zip', 'other'))).toBeNull();
    expect(stableTargetOf('web', 'app-packages', null)).toBeNull();
  });
});
