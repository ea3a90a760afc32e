import { describe, expect, it } from '@jest/globals';
import { classifyFailure } from '../../src/deploy/classify.js';

describe('classifyFailure', () => {
  it('is null when nothing failed', () => {
    expect(
      classifyFailure({
        mode: 'url',
        settingMatches: true,
        blobFetch: { status: 200, sha256Matches: true },
        stamp: 'match',
        health: { status: 200, containsExpect: true },
      }),
    ).toBeNull();
  });

  it('blames an expired SAS when the URL answers AuthenticationFailed with a time-frame detail', () => {
    const c = classifyFailure({
      mode: 'url',
      access: 'sas',
      blobFetch: {
        status: 403,
        errorCode: 'AuthenticationFailed',
        detail: 'Signature not valid in the specified time frame: Start [..]',
      },
      failureMarker: true,
    });
    expect(c?.cause).toBe('sas-invalid');
    expect(c?.evidence).toMatch(/expired/);
  });

  it('blames the network rule on AuthorizationFailure and the role on AuthorizationPermissionMismatch', () => {
    expect(
      classifyFailure({ mode: 'url', blobFetch: { status: 403, errorCode: 'AuthorizationFailure' } })?.cause,
    ).toBe('mount-blocked');
    const role = classifyFailure({
      mode: 'url',
      access: 'identity',
      blobFetch: { status: 403, errorCode: 'AuthorizationPermissionMismatch' },
    });
    expect(role?.cause).toBe('mount-blocked');
    expect(role?.fix).toMatch(/Storage Blob Data Reader/);
  });

  it('uses the failure marker as evidence of a blocked mount when the URL itself works', () => {
    const c = classifyFailure({
      mode: 'url',
      blobFetch: { status: 200, sha256Matches: true },
      failureMarker: true,
    });
    expect(c?.cause).toBe('mount-blocked');
    expect(c?.evidence).toMatch(/FAILED TO INITIALIZE RUN FROM PACKAGE/);
  });

  it('calls a different stamp stale content', () => {
    expect(classifyFailure({ mode: 'local', stamp: 'mismatch' })?.cause).toBe('stale-content');
    expect(classifyFailure({ mode: 'url', settingMatches: false })?.cause).toBe('stale-content');
  });

  it('recognises writes into the read-only mount from the error the app answers', () => {
    const c = classifyFailure({
      mode: 'url',
      stamp: 'match',
      health: {
        status: 500,
        body: "Error: EROFS: read-only file system, open '/home/site/wwwroot/cache.json'",
      },
    });
    expect(c?.cause).toBe('read-only-write');
    expect(c?.fix).toMatch(/runpack audit/);
  });

  it.each([
    "Error: EACCES: permission denied, open '/home/site/wwwroot/uploads/a.png'",
    "Error: EPERM: operation not permitted, mkdir 'D:\\home\\site\\wwwroot\\logs'",
    "[Errno 30] Read-only file system: '/home/site/wwwroot/app.db'",
    "System.UnauthorizedAccessException: Access to the path 'C:\\home\\site\\wwwroot\\keys' is denied.",
  ])('calls a 500 with %s a write into the read-only mount', (body) => {
    expect(classifyFailure({ mode: 'url', stamp: 'match', health: { status: 500, body } })?.cause).toBe(
      'read-only-write',
    );
  });

  it('does not call an unrelated 500 a read-only write', () => {
    const c = classifyFailure({
      mode: 'url',
      stamp: 'match',
      health: { status: 500, body: 'TypeError: cannot read properties of undefined (reading "id")' },
    });
    expect(c?.cause).not.toBe('read-only-write');
  });

  it('calls a missing expected text stale content', () => {
    expect(
      classifyFailure({ mode: 'url', stamp: 'match', health: { status: 200, containsExpect: false } })?.cause,
    ).toBe('stale-content');
  });
});

describe('classifyFailure with identity access', () => {
  it('points at the missing role when the mount failed and no role was confirmed', () => {
    const c = classifyFailure({
      mode: 'url',
      access: 'identity',
      identityRoleConfirmed: false,
      blobFetch: { status: 206, sha256Matches: true },
      failureMarker: true,
    });
    expect(c?.cause).toBe('mount-blocked');
    expect(c?.fix).toMatch(/Storage Blob Data Reader/);
  });
});

describe('conclusive evidence is named as such', () => {
  it('names the release a later deploy put behind the URL', () => {
    const c = classifyFailure({
      mode: 'url',
      settingMatches: true,
      blobFetch: { status: 206, sha256Matches: false, releaseThere: 'abcdef012345' },
      stamp: 'mismatch',
    });
    expect(c?.cause).toBe('stale-content');
    expect(c?.evidence).toBe(
      'the blob behind the package URL holds release abcdef012345, not this one: a later deploy replaced it',
    );
  });

  it('says that nothing re-mounted the package when restart was off and the settings did not change', () => {
    const c = classifyFailure({ mode: 'url', settingMatches: true, stamp: 'mismatch', noRemount: true });
    expect(c?.cause).toBe('stale-content');
    expect(c?.evidence).toMatch(/^restart: false and the settings did not change/);
    expect(classifyFailure({ mode: 'url', stamp: 'mismatch' })?.evidence).not.toMatch(/restart: false/);
  });
});
