import { describe, it, expect } from '@jest/globals';
import {
  classifyRunFromPackage,
  compareStamp,
  effectiveRunFromPackage,
  localModeRefusal,
  modeSwitchDecision,
} from '../../src/release/rfp.js';

const stampText = (sha: string) => JSON.stringify({ runpack: 1, contentSha256: sha });

const windows = { isLinux: false, isFunctionApp: false, isConsumption: false, isFlex: false };
const linux = { ...windows, isLinux: true };

describe('classifyRunFromPackage', () => {
  it('treats only exactly "1" as local and http… as a URL, like Kudu', () => {
    expect(classifyRunFromPackage('1')).toBe('local');
    expect(classifyRunFromPackage(' 1')).toBe('other');
    expect(classifyRunFromPackage('true')).toBe('other');
    expect(classifyRunFromPackage('01')).toBe('other');
    expect(classifyRunFromPackage('HTTPS://a/b.zip')).toBe('url');
    expect(classifyRunFromPackage('')).toBe('unset');
    expect(classifyRunFromPackage(undefined)).toBe('unset');
  });
  it('falls back to the legacy WEBSITE_RUN_FROM_ZIP only when the main setting is empty', () => {
    expect(effectiveRunFromPackage({ WEBSITE_RUN_FROM_ZIP: '1' })).toBe('1');
    expect(effectiveRunFromPackage({ WEBSITE_RUN_FROM_PACKAGE: '', WEBSITE_RUN_FROM_ZIP: 'https://x' })).toBe(
      'https://x',
    );
    expect(
      effectiveRunFromPackage({ WEBSITE_RUN_FROM_PACKAGE: '1', WEBSITE_RUN_FROM_ZIP: 'https://x' }),
    ).toBe('1');
    expect(effectiveRunFromPackage({})).toBeUndefined();
  });
});

describe('modeSwitchDecision', () => {
  const url = 'https://acct.blob.core.windows.net/c/app.zip?sv=1&sig=SECRETSIG';
  it('refuses local → URL on a Windows app unless forced, with the reason and the way out', () => {
    const d = modeSwitchDecision('1', 'url', { ...windows, name: 'web' }, false);
    expect(d.allowed).toBe(false);
    expect(d.code).toBe('mode-switch-refused');
    expect(d.message).toMatch(/Windows app running a local package/);
    expect(d.message).toMatch(/keep mode: local, deploy to a new app, or set force: true/);
    const forced = modeSwitchDecision('1', 'url', windows, true);
    expect(forced.allowed).toBe(true);
    expect(forced.code).toBe('mode-switch-forced');
  });
  it('lets a Linux app move from local to URL with a warning', () => {
    const d = modeSwitchDecision('1', 'url', linux, false);
    expect(d).toMatchObject({ allowed: true, severity: 'warning', code: 'mode-switch' });
  });
  it('allows URL → local and says what it costs, without ever quoting the URL', () => {
    const d = modeSwitchDecision(url, 'local', windows, false);
    expect(d).toMatchObject({ allowed: true, from: 'url', code: 'mode-switch' });
    expect(d.message).toMatch(/restarts the app/);
    expect(d.message).not.toContain('SECRETSIG');
    expect(d.message).not.toContain('acct.blob');
  });
  it('reports no switch when the mode stays', () => {
    expect(modeSwitchDecision('1', 'local', windows, false).code).toBe('mode-unchanged');
    expect(modeSwitchDecision(url, 'url', windows, false).code).toBe('mode-unchanged');
  });
  it('refuses local mode on Linux Consumption function apps and anything on Flex', () => {
    const lc = { isLinux: true, isFunctionApp: true, isConsumption: true, isFlex: false, name: 'fn' };
    expect(modeSwitchDecision(undefined, 'local', lc, true).allowed).toBe(false);
    expect(localModeRefusal(lc)).toMatch(
      /Linux Consumption function apps run from a package URL only.*use mode: url/,
    );
    expect(modeSwitchDecision(undefined, 'url', lc, false).allowed).toBe(true);
    const flex = { ...lc, isConsumption: false, isFlex: true };
    const d = modeSwitchDecision(undefined, 'url', flex, true);
    expect(d.allowed).toBe(false);
    expect(d.message).toMatch(/Flex Consumption.*leave mode at auto.*One Deploy/);
  });
});

describe('compareStamp', () => {
  const stamp = { runpack: 1 as const, contentSha256: 'abc' };
  it('matches, mismatches, and handles missing or broken stamps', () => {
    expect(compareStamp(stamp, stampText('abc'))).toBe('match');
    expect(compareStamp(stamp, stampText('old'))).toBe('mismatch');
    expect(compareStamp(stamp, null)).toBe('missing');
    expect(compareStamp(stamp, '{oops')).toBe('unreadable');
    expect(compareStamp(null, null)).toBe('not-stamped');
  });
});
