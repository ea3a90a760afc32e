import { describe, expect, it } from '@jest/globals';
import { buildReleasesReport, renderReleasesMarkdown, renderReleasesText } from '../../src/ops/releases.js';
import { liveSha256, releaseFromBlob, releasePrefix, sortNewestFirst } from '../../src/release/releases.js';
import {
  selectReleasesToDelete,
  keepReason,
  pruneReleases,
  type DeleteOutcome,
} from '../../src/release/retention.js';
import { blobPathOf, parseSas, urlWithoutQuery } from '../../src/ops/sas.js';
import type { Release } from '../../src/ops/types.js';

const sha = (c: string) => c.repeat(64);
function rel(c: string, day: number, over: Partial<Release> = {}): Release {
  return {
    id: sha(c).slice(0, 12),
    sha256: sha(c),
    blob: `releases/web/${sha(c)}.zip`,
    size: 1000 + day,
    etag: `"etag-${c}"`,
    created: `2026-02-${String(day).padStart(2, '0')}T10:00:00.000Z`,
    ...over,
  };
}

describe('releaseFromBlob', () => {
  it("reads the deploy engine's release blobs and metadata", () => {
    expect(releasePrefix('Web')).toBe('releases/web/');
    const r = releaseFromBlob('web', {
      name: `releases/web/${sha('a')}.zip`,
      size: 42,
      etag: '"1"',
      lastModified: '2026-02-02T00:00:00Z',
      metadata: {
        sha256: sha('a'),
        created: '2026-02-01T10:00:00.000Z',
        commit: 'abc123',
        run_url: 'https://x/run/1',
        content_sha256: sha('c'),
      },
    });
    expect(r).toEqual({
      id: 'aaaaaaaaaaaa',
      sha256: sha('a'),
      blob: `releases/web/${sha('a')}.zip`,
      size: 42,
      etag: '"1"',
      created: '2026-02-01T10:00:00.000Z',
      commit: 'abc123',
      runUrl: 'https://x/run/1',
      contentSha256: sha('c'),
    });
  });

  it('falls back to last-modified and skips blobs that are not releases of this app', () => {
    expect(
      releaseFromBlob('web', {
        name: `releases/web/${sha('b')}.zip`,
        size: 1,
        etag: 'e',
        lastModified: 'L',
        metadata: {},
      })?.created,
    ).toBe('L');
    expect(releaseFromBlob('web', { name: 'web.zip', size: 1, etag: 'e', metadata: {} })).toBeNull();
    expect(
      releaseFromBlob('web', { name: `releases/webx/${sha('b')}.zip`, size: 1, etag: 'e', metadata: {} }),
    ).toBeNull();
    expect(
      releaseFromBlob('web', { name: 'releases/web/notasha.zip', size: 1, etag: 'e', metadata: {} }),
    ).toBeNull();
    // Metadata that contradicts the name: not trusted.
    expect(
      releaseFromBlob('web', {
        name: `releases/web/${sha('b')}.zip`,
        size: 1,
        etag: 'e',
        metadata: { sha256: sha('c') },
      }),
    ).toBeNull();
  });
});

describe('liveSha256', () => {
  const releases = [rel('a', 1), rel('b', 2), rel('c', 3, { contentSha256: sha('9') })];
  const base = { appName: 'web', container: 'packages', releases, stableSha256: { 'web.zip': sha('b') } };

  it('reads the stable blob named by the setting', () => {
    expect(
      liveSha256({ ...base, mode: 'url', settingBlob: { container: 'packages', blob: 'web.zip' } }),
    ).toBe(sha('b'));
  });

  it('reads a release blob named directly by the setting', () => {
    expect(
      liveSha256({ ...base, mode: 'url', settingBlob: { container: 'packages', blob: releases[0].blob } }),
    ).toBe(sha('a'));
  });

  it('is unknown for another container or no setting', () => {
    expect(
      liveSha256({ ...base, mode: 'url', settingBlob: { container: 'other', blob: 'web.zip' } }),
    ).toBeNull();
    expect(liveSha256({ ...base, mode: 'unset' })).toBeNull();
  });

  it('matches the mounted stamp in local mode', () => {
    expect(liveSha256({ ...base, mode: 'local', contentSha256: sha('9') })).toBe(sha('c'));
    expect(liveSha256({ ...base, mode: 'local', contentSha256: sha('8') })).toBeNull();
  });
});

describe('releases report', () => {
  const releases = [rel('a', 1), rel('c', 3, { commit: 'deadbeefcafe0001' }), rel('b', 2)];
  const report = buildReleasesReport({
    app: 'web',
    container: 'packages',
    releases,
    live: sha('c'),
    sides: { production: sha('c'), staging: sha('b') },
    stableSha256: { 'web.zip': sha('c'), 'web-staging.zip': sha('b') },
  });

  it('lists newest first and marks the live release and what slots run', () => {
    expect(report.releases.map((r) => r.id)).toEqual([
      sha('c').slice(0, 12),
      sha('b').slice(0, 12),
      sha('a').slice(0, 12),
    ]);
    expect(report.releases[0]).toMatchObject({ live: true, slots: [], stable: ['web.zip'] });
    expect(report.releases[1]).toMatchObject({
      live: false,
      slots: ['staging'],
      stable: ['web-staging.zip'],
    });
  });

  it('renders a text table and a markdown table', () => {
    const text = renderReleasesText(report);
    expect(text).toMatch(/cccccccccccc\s+2026-02-03T10:00:00Z\s+deadbeefcafe\s+1003 B\s+live/);
    expect(text).toMatch(/bbbbbbbbbbbb.*slot:staging/);
    expect(text).toContain('Live: cccccccccccc');
    const md = renderReleasesMarkdown(report);
    expect(md).toContain('| release | created | commit | size | runs on |');
    expect(md).toContain(`\`cccccccccccc\`<br>\`${sha('c')}\``);
  });

  it('sorts by created time', () => {
    expect(sortNewestFirst([rel('a', 5), rel('b', 9), rel('c', 1)]).map((r) => r.sha256[0])).toEqual([
      'b',
      'a',
      'c',
    ]);
  });
});

describe('selectReleasesToDelete', () => {
  const releases = [rel('1', 1), rel('2', 2), rel('3', 3), rel('4', 4), rel('5', 5), rel('6', 6)];

  it('keeps the newest N and deletes the rest, oldest first', () => {
    expect(selectReleasesToDelete(releases, { keep: 2 }).map((r) => r.sha256[0])).toEqual([
      '1',
      '2',
      '3',
      '4',
    ]);
  });

  it('never deletes the live release, a slot release or a stable one', () => {
    const out = selectReleasesToDelete(releases, {
      keep: 1,
      live: sha('2'),
      slotReferenced: [sha('3'), null],
      stable: [sha('1'), undefined],
    });
    expect(out.map((r) => r.sha256[0])).toEqual(['4', '5']);
  });

  it('deletes nothing when keep covers everything, and everything unprotected at keep 0', () => {
    expect(selectReleasesToDelete(releases, { keep: 10 })).toEqual([]);
    expect(selectReleasesToDelete(releases, { keep: 0, live: sha('6') })).toHaveLength(5);
  });

  it('explains why a release stays', () => {
    const o = { keep: 2, live: sha('1'), slotReferenced: [sha('2')], stable: [sha('3')] };
    expect(keepReason(releases[0], releases, o)).toBe('live');
    expect(keepReason(releases[1], releases, o)).toBe('a slot runs it');
    expect(keepReason(releases[2], releases, o)).toBe('a stable blob holds it');
    expect(keepReason(releases[5], releases, o)).toBe('one of the newest 2');
    expect(keepReason(releases[3], releases, o)).toBeNull();
  });
});

describe('pruneReleases', () => {
  const log = { info: () => undefined, warn: () => undefined };

  it('deletes with the listed ETag and leaves changed blobs alone', async () => {
    const calls: [string, string][] = [];
    const store = {
      async deleteIfMatch(_c: string, blob: string, etag: string): Promise<DeleteOutcome> {
        calls.push([blob, etag]);
        return blob.includes(sha('2')) ? 'changed' : 'deleted';
      },
    };
    const result = await pruneReleases(store, 'packages', [rel('1', 1), rel('2', 2)], { dryRun: false, log });
    expect(calls).toEqual([
      [rel('1', 1).blob, '"etag-1"'],
      [rel('2', 2).blob, '"etag-2"'],
    ]);
    expect(result).toEqual({ deleted: [sha('1')], skipped: [sha('2')], dryRun: false });
  });

  it('writes nothing on a dry run', async () => {
    const store = {
      deleteIfMatch: async (): Promise<DeleteOutcome> => {
        throw new Error('no writes on a dry run');
      },
    };
    const result = await pruneReleases(store, 'packages', [rel('1', 1)], { dryRun: true, log });
    expect(result.deleted).toEqual([sha('1')]);
  });
});

describe('SAS and URL helpers', () => {
  it('parses a service SAS without keeping the signature', () => {
    const s = parseSas(
      'https://a.blob.core.windows.net/c/b.zip?sv=2023&sr=b&sp=r&se=2027-01-01T00:00:00Z&si=p&spr=https&sig=SECRET',
    );
    expect(s).toEqual({
      kind: 'service',
      version: '2023',
      resource: 'b',
      permissions: 'r',
      start: undefined,
      expiry: '2027-01-01T00:00:00Z',
      protocol: 'https',
      policyId: 'p',
      keyExpiry: undefined,
      keyObjectId: undefined,
      signed: true,
    });
    expect(JSON.stringify(s)).not.toContain('SECRET');
  });

  it('tells user delegation and account SAS apart, and no SAS at all', () => {
    expect(parseSas('https://a/c/b?skoid=o&ske=x&sig=s')?.kind).toBe('user-delegation');
    expect(parseSas('https://a/c/b?ss=b&srt=o&sig=s')?.kind).toBe('account');
    expect(parseSas('https://a/c/b.zip')).toBeUndefined();
    expect(parseSas('not a url')).toBeUndefined();
  });

  it('finds container and blob for Azure-style and path-style endpoints', () => {
    expect(blobPathOf('https://acct.blob.core.windows.net/packages/web.zip?sig=x')).toEqual({
      container: 'packages',
      blob: 'web.zip',
    });
    expect(
      blobPathOf('https://127.0.0.1:9/acct/packages/releases/web/a.zip', 'https://127.0.0.1:9/acct/'),
    ).toEqual({
      container: 'packages',
      blob: 'releases/web/a.zip',
    });
    expect(blobPathOf('https://acct.blob.core.windows.net/onlycontainer')).toBeNull();
    expect(urlWithoutQuery('https://u:p@a/c/b.zip?sig=x')).toBe('https://a/c/b.zip');
  });
});
