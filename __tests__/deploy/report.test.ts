import { describe, expect, it } from '@jest/globals';
import { createLogger, memorySink, type PhaseTiming } from '../../src/report/log.js';
import { createSecretRegistry, redactSasSignatures } from '../../src/report/secrets.js';
import { outputsOf, renderSummary, renderText } from '../../src/report/summary.js';
import type { DeployResult } from '../../src/deploy/engine.js';

describe('secret registry', () => {
  it('masks every registered value through the sink and in redacted text, also URL-encoded', () => {
    const masked: string[] = [];
    const s = createSecretRegistry((v) => masked.push(v));
    s.add('p@ss/word+1');
    s.add('');
    s.add('ab');
    expect(masked).toEqual(['p@ss/word+1', encodeURIComponent('p@ss/word+1')]);
    expect(s.redact('user p@ss/word+1 and p%40ss%2Fword%2B1')).toBe('user *** and ***');
  });

  it('removes SAS signatures from free text', () => {
    expect(redactSasSignatures('GET https://a/b.zip?sv=1&sig=AbC%2B%3D&se=x failed')).toBe(
      'GET https://a/b.zip?sv=1&sig=***&se=x failed',
    );
  });
});

describe('logger', () => {
  it('redacts every line and times each group', async () => {
    const sink = memorySink();
    const secrets = createSecretRegistry();
    secrets.add('topsecret-token');
    const timings: PhaseTiming[] = [];
    let t = 1000;
    const log = createLogger(sink, secrets, { now: () => t, timings });
    await log.group('Upload', async () => {
      log.info('token topsecret-token here');
      t += 2500;
    });
    await expect(
      log.group('Verify', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(sink.lines).toEqual([
      'group: Upload',
      'token *** here',
      'Upload: done in 2.5 s',
      'endgroup',
      'group: Verify',
      'Verify: failed in 0 ms',
      'endgroup',
    ]);
    expect(timings).toEqual([
      { name: 'Upload', ms: 2500, ok: true },
      { name: 'Verify', ms: 0, ok: false },
    ]);
  });
});

describe('summary', () => {
  const result: DeployResult = {
    ok: false,
    noop: false,
    app: 'web',
    slot: 'staging',
    mode: 'url',
    access: 'sas',
    releaseId: 'aaaaaaaaaaaa',
    sha256: 'a'.repeat(64),
    zipBytes: 2048,
    files: 3,
    packageUrl: 'https://acct.blob.core.windows.net/c/web-staging.zip',
    previousReleaseId: 'bbbbbbbbbbbb',
    appUrl: 'https://web-staging.azurewebsites.net',
    verified: false,
    error: 'Verification failed: sig=SECRETSIG1 leaked key ACCOUNTKEY123',
    levels: [
      { level: 'setting', status: 'pass', detail: 'ok' },
      { level: 'package-url', status: 'fail', detail: 'answers 403 AuthenticationFailed' },
    ],
    phases: [{ name: 'Upload', ms: 1200, ok: true }],
    findings: [{ severity: 'warning', code: 'x', message: 'careful' }],
    cause: { cause: 'sas-invalid', evidence: 'the SAS expired', fix: 'deploy again' },
  };

  it('tabulates the release, verification levels, cause and phases, with secrets removed', () => {
    const secrets = createSecretRegistry();
    secrets.add('ACCOUNTKEY123');
    const md = renderSummary(result, secrets);
    expect(md).toContain('| Release id | `aaaaaaaaaaaa` |');
    expect(md).toContain('| Previous release | `bbbbbbbbbbbb` |');
    expect(md).toContain(
      '| (b) package URL returns this release | ❌ fail | answers 403 AuthenticationFailed |',
    );
    expect(md).toContain('**Likely cause:** the package URL or its SAS is bad or expired');
    expect(md).toContain('| Upload | 1.2 s | ✅ |');
    expect(md).not.toContain('ACCOUNTKEY123');
    expect(md).not.toContain('SECRETSIG1');
    const text = renderText(result, secrets);
    expect(text).toMatch(/^FAILED: /);
    expect(text).not.toContain('ACCOUNTKEY123');
  });

  it('sets every output as a string and never a SAS', () => {
    expect(outputsOf(result)).toEqual({
      'release-id': 'aaaaaaaaaaaa',
      'package-sha256': 'a'.repeat(64),
      'package-url': 'https://acct.blob.core.windows.net/c/web-staging.zip',
      'previous-release-id': 'bbbbbbbbbbbb',
      'rolled-back': 'false',
      'live-release-id': '',
      mode: 'url',
      'app-url': 'https://web-staging.azurewebsites.net',
      verified: 'false',
      results: expect.any(String),
      deleted: '',
      cause: 'sas-invalid',
    });
    expect(JSON.parse(outputsOf(result).results)).toEqual([
      {
        app: 'web',
        slot: 'staging',
        ok: false,
        verified: false,
        'release-id': 'aaaaaaaaaaaa',
        mode: 'url',
        'app-url': 'https://web-staging.azurewebsites.net',
        'package-url': 'https://acct.blob.core.windows.net/c/web-staging.zip',
        'error-code': null,
        'rolled-back': false,
        'live-release-id': null,
      },
    ]);
    expect(outputsOf({ ...result, mode: 'local' })['package-url']).toBe('');
    const rolled = outputsOf({
      ...result,
      liveReleaseId: 'bbbbbbbbbbbb',
      rollback: { from: 'aaaaaaaaaaaa', to: 'bbbbbbbbbbbb', verified: true, levels: [] },
    });
    expect(rolled['rolled-back']).toBe('true');
    expect(rolled['live-release-id']).toBe('bbbbbbbbbbbb');
  });

  const good = (app: string, extra: Partial<DeployResult> = {}): DeployResult => ({
    ...result,
    app,
    slot: undefined,
    ok: true,
    verified: true,
    error: undefined,
    cause: null,
    appUrl: `https://${app}.azurewebsites.net`,
    ...extra,
  });

  it('a fleet sets the shared outputs, one results entry per target and a table row for each', () => {
    const failed = good('web3', {
      ok: false,
      verified: false,
      errorCode: 'verify-mount-blocked',
      error: 'Verification failed: the package URL answers 403 AuthorizationFailure.',
    });
    const fleet: DeployResult = {
      ...good('web1, web2, web3'),
      ok: false,
      verified: false,
      error: '1 of 3 targets failed: web3 (verify-mount-blocked)',
      fleet: [
        good('web1', { retention: { deleted: ['cccccccccccc'], skipped: [], kept: 3, dryRun: false } }),
        good('web2'),
        failed,
      ],
    };
    const out = outputsOf(fleet);
    expect(out['app-url']).toBe('');
    expect(out['package-url']).toBe('');
    expect(out.verified).toBe('false');
    expect(out.deleted).toBe('cccccccccccc');
    const entries = JSON.parse(out.results) as { app: string; ok: boolean; 'error-code': string | null }[];
    expect(entries.map((e) => [e.app, e.ok, e['error-code']])).toEqual([
      ['web1', true, null],
      ['web2', true, null],
      ['web3', false, 'verify-mount-blocked'],
    ]);
    const md = renderSummary(fleet, createSecretRegistry());
    expect(md).toContain('❌ Fleet deploy failed: 1 of 3 targets failed');
    expect(md).toMatch(/\| web1 \| ✅ ok \| `aaaaaaaaaaaa` \| yes \|.*\| cccccccccccc \|/);
    expect(md).toMatch(/\| web3 \| ❌ failed \|.*403 AuthorizationFailure/);
  });

  it('shows the dry-run plan, the audit table, the swap and what retention deleted', () => {
    const md = renderSummary(
      good('web', {
        dryRun: true,
        plan: [
          'Would upload release aaaaaaaaaaaa',
          'Would set WEBSITE_RUN_FROM_PACKAGE: (unset) → https://x?sig=REDACTED.',
        ],
        audit: {
          source: '/repo/src',
          pathPrefix: 'src',
          filesScanned: 4,
          strict: false,
          findings: [
            {
              file: 'cache.js',
              line: 3,
              column: 1,
              rule: 'write-under-app-root',
              runtime: 'node',
              severity: 'error',
              message: 'writes cache.json under __dirname',
              why: 'the mount is read-only',
              fix: 'write to os.tmpdir()',
            },
          ],
        },
        swap: { from: 'staging', to: 'production', verified: true },
        retention: { deleted: ['dddddddddddd'], skipped: [], kept: 10, dryRun: false },
      }),
      createSecretRegistry(),
    );
    expect(md).toContain('Dry run for **web**');
    expect(md).toContain('- Would upload release aaaaaaaaaaaa');
    expect(md).toContain(
      '| src/cache.js | 3 | `write-under-app-root` | error | writes cache.json under __dirname | write to os.tmpdir() |',
    );
    expect(md).toContain('staging → production: ✅ swapped-in side verified');
    expect(md).toContain('Deleted 1 old release(s): `dddddddddddd`; 10 left.');
    expect(outputsOf(good('web', { dryRun: true })).verified).toBe('false');
  });
});
