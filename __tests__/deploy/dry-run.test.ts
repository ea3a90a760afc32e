import { describe, expect, it } from '@jest/globals';
import { renderPlan, showValue, type DryRunFacts } from '../../src/deploy/dry-run.js';

const base: DryRunFacts = {
  target: 'web/staging',
  mode: 'url',
  releaseId: 'aaaaaaaaaaaa',
  zipBytes: 2048,
  account: 'acct',
  container: 'app-packages',
  releaseBlob: `releases/web/${'a'.repeat(64)}.zip`,
  stableBlob: 'web-staging.zip',
  settings: {},
  restart: true,
};

describe('renderPlan', () => {
  it('names the blobs, each setting old → new with the SAS signature redacted, restart and swap', () => {
    const lines = renderPlan({
      ...base,
      settings: {
        WEBSITE_RUN_FROM_PACKAGE: [
          'https://acct.blob.core.windows.net/app-packages/old.zip?sv=2024&si=p&sr=b&sig=OLDSECRETSIG',
          'https://acct.blob.core.windows.net/app-packages/web-staging.zip?si=runpack-web&sr=b&sig=REDACTED',
        ],
        WEBSITE_RUN_FROM_ZIP: [undefined, null],
      },
      policy: { id: 'runpack-web', action: 'create', reason: 'no policy yet' },
      swapTo: 'production',
      retention: { keep: 2, deleted: ['bbbbbbbbbbbb'] },
    });
    const text = lines.join('\n');
    expect(lines[0]).toBe('Dry run for web/staging: nothing is written.');
    expect(text).toContain(
      `Would upload release aaaaaaaaaaaa (2048 bytes) to acct/app-packages/releases/web/`,
    );
    expect(text).toContain('Would copy it onto the stable blob acct/app-packages/web-staging.zip.');
    expect(text).toContain('Would create stored access policy runpack-web (no policy yet).');
    expect(text).toMatch(
      /Would set WEBSITE_RUN_FROM_PACKAGE: https:\/\/acct.*old\.zip\?.*sig=REDACTED.* → https:\/\/.*web-staging\.zip/,
    );
    expect(text).not.toContain('OLDSECRETSIG');
    expect(text).toContain('Would set WEBSITE_RUN_FROM_ZIP: (unset) → (deleted).');
    expect(text).toContain('Would restart the app');
    expect(text).toContain('Would swap into production after a verified deploy.');
    expect(text).toContain('Would delete 1 old release(s) (keep-releases: 2): bbbbbbbbbbbb.');
  });

  it('says when nothing would change, and when the release blob exists already', () => {
    expect(renderPlan({ ...base, unchanged: true })[1]).toMatch(
      /already live; a deploy would change nothing/,
    );
    expect(renderPlan({ ...base, containerMissing: true })).toContain(
      'Would create the private container acct/app-packages.',
    );
    const text = renderPlan({ ...base, releaseExists: true, stableCurrent: true, restart: false }).join('\n');
    expect(text).toContain('exists already (same content); no upload');
    expect(text).toContain('No app setting changes.');
    expect(text).toContain('Would not restart (restart: false)');
  });

  it('local mode: a Kudu push and WEBSITE_RUN_FROM_PACKAGE=1', () => {
    const text = renderPlan({
      ...base,
      mode: 'local',
      settings: { WEBSITE_RUN_FROM_PACKAGE: ['https://x/y.zip', '1'] },
    }).join('\n');
    expect(text).toContain("Would push release aaaaaaaaaaaa (2048 bytes) to the app's Kudu");
    expect(text).toContain('Would set WEBSITE_RUN_FROM_PACKAGE: https://x/y.zip → 1.');
  });

  it('shows URLs without credentials', () => {
    expect(showValue('https://user:pw@host/x.zip?sig=abc')).toBe('https://host/x.zip?sig=REDACTED');
    expect(showValue(undefined)).toBe('(unset)');
  });
});
