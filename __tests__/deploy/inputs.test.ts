import { describe, expect, it } from '@jest/globals';
import { cliHelp, INPUTS, parseFlags, parseInputs, secretInputValues } from '../../src/inputs.js';
import { UsageError } from '../../src/util/errors.js';

const from = (values: Record<string, string>) => (name: string) => values[name];

function failure(values: Record<string, string>): string {
  try {
    parseInputs(from(values));
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('parseInputs', () => {
  it('applies the defaults of the table', () => {
    const i = parseInputs(from({ 'app-name': 'my-app' }), { GITHUB_SHA: 'abc123' });
    expect(i).toMatchObject({
      appName: 'my-app',
      package: '.',
      mode: 'auto',
      container: 'app-packages',
      packageAccess: 'auto',
      sasExpiryDays: 365,
      restart: true,
      timeoutMinutes: 15,
      force: false,
      stamp: true,
      exclude: [],
      commit: 'abc123',
      resourceManagerEndpoint: 'https://management.azure.com',
    });
  });

  it('names the input and the fix on a bad value', () => {
    expect(failure({})).toMatch(/^Input 'app-name' is required/);
    expect(failure({ 'app-name': 'a', mode: 'zip' })).toMatch(
      /Input 'mode' must be one of auto, url, local, not 'zip'/,
    );
    expect(failure({ 'app-name': 'a', restart: 'yes' })).toMatch(/Input 'restart' must be true or false/);
    expect(failure({ 'app-name': 'a', 'timeout-minutes': '0' })).toMatch(
      /'timeout-minutes' must be between 1 and 360/,
    );
    expect(failure({ 'app-name': 'a', 'storage-account': 'My_Account' })).toMatch(
      /'storage-account' must be a storage account name/,
    );
    expect(failure({ 'app-name': 'a', 'health-path': 'healthz' })).toMatch(
      /'health-path' must start with \//,
    );
    expect(failure({ 'app-name': 'a', 'resource-manager-endpoint': 'http://x' })).toMatch(/https/);
    expect(failure({ 'app-name': 'a', 'client-id': '00000000-0000-0000-0000-000000000001' })).toMatch(
      /'tenant-id' is required/,
    );
    expect(failure({ 'app-name': 'a', expect: 'v2' })).toMatch(/'expect' needs 'health-path'/);
    expect(failure({ 'app-name': 'a', slot: 'staging', 'swap-to': 'staging' })).toMatch(/'swap-to'/);
  });

  it('refuses a user delegation SAS with the reason', () => {
    expect(failure({ 'app-name': 'a', 'package-access': 'user-delegation' })).toMatch(/7 days/);
  });

  it('never echoes a secret input in its error', () => {
    const msg = failure({ 'app-name': 'a', creds: '{"clientId":"x","clientSecret":"hunter2-secret"}' });
    expect(msg).toMatch(/'creds' is missing tenantId/);
    expect(msg).not.toContain('hunter2');
  });

  it('lists the secrets to mask, including the client secret inside creds', () => {
    const creds = JSON.stringify({ clientId: 'c', clientSecret: 'very-secret', tenantId: 't' });
    expect(secretInputValues(from({ creds }))).toEqual([creds, 'very-secret']);
  });

  it('splits exclude into globs and treats slot production as no slot', () => {
    const i = parseInputs(from({ 'app-name': 'a', exclude: 'tests/**\n\n*.map\n', slot: 'production' }));
    expect(i.exclude).toEqual(['tests/**', '*.map']);
    expect(i.slot).toBeUndefined();
  });
});

describe('parseFlags', () => {
  it('reads the same names as flags, with --no- booleans, = values and repeated lists', () => {
    const f = parseFlags([
      '--app-name',
      'web1',
      '--no-restart',
      '--force',
      '--exclude=*.map',
      '--exclude',
      'test/**',
      '--json',
    ]);
    expect(f.json).toBe(true);
    const i = parseInputs((n) => f.values.get(n));
    expect(i).toMatchObject({ appName: 'web1', restart: false, force: true, exclude: ['*.map', 'test/**'] });
  });

  it('rejects unknown flags', () => {
    expect(() => parseFlags(['--app', 'x'])).toThrow(/Unknown flag '--app'/);
  });

  it('documents every input in --help', () => {
    const help = cliHelp();
    for (const d of INPUTS) expect(help).toContain(`--${d.name}`);
  });
});

describe('fleets, retention and audit inputs', () => {
  it('reads several targets from app-name, newline or comma separated, app or app/slot', () => {
    const i = parseInputs(from({ 'app-name': 'web1, web2/staging\nweb3\n# old: web4\n' }));
    expect(i.targets).toEqual([
      { appName: 'web1' },
      { appName: 'web2', slot: 'staging' },
      { appName: 'web3' },
    ]);
    expect(i.appName).toBe('web1');
    expect(i.slot).toBeUndefined();
  });

  it('applies the slot input to the entries that name none; app/production means production', () => {
    const i = parseInputs(from({ 'app-name': 'web1\nweb2/blue\nweb3/production', slot: 'staging' }));
    expect(i.targets).toEqual([
      { appName: 'web1', slot: 'staging' },
      { appName: 'web2', slot: 'blue' },
      { appName: 'web3' },
    ]);
  });

  it('one entry is a single target, app/slot included', () => {
    const i = parseInputs(from({ 'app-name': 'web1/staging' }));
    expect(i.targets).toBeUndefined();
    expect(i).toMatchObject({ appName: 'web1', slot: 'staging' });
  });

  it('refuses a bad entry, a duplicate, and a fleet with an operator command, naming the input', () => {
    expect(failure({ 'app-name': 'web1, bad_name' })).toMatch(/^Input 'app-name' .*'bad_name' is not/);
    expect(failure({ 'app-name': 'web1, WEB1' })).toMatch(/lists WEB1 twice/);
    expect(failure({ 'app-name': 'web1, web2', command: 'diagnose' })).toMatch(
      /command: diagnose works on one app/,
    );
  });

  it('keep-releases defaults to 10 and 0 turns pruning off; audit is false, true or strict', () => {
    expect(parseInputs(from({ 'app-name': 'a1' })).keepReleases).toBe(10);
    expect(parseInputs(from({ 'app-name': 'a1', 'keep-releases': '0' })).keepReleases).toBe(0);
    expect(failure({ 'app-name': 'a1', 'keep-releases': '-1' })).toMatch(/keep-releases/);
    expect(parseInputs(from({ 'app-name': 'a1' })).audit).toBe('false');
    expect(parseInputs(from({ 'app-name': 'a1', audit: 'Strict' })).audit).toBe('strict');
    expect(failure({ 'app-name': 'a1', audit: 'loud' })).toMatch(
      /^Input 'audit' must be one of false, true, strict/,
    );
  });
});

describe('inputs found in a field test', () => {
  const raw = (v: Record<string, string>) => (n: string) => v[n];
  const error = (v: Record<string, string>) => {
    try {
      parseInputs(raw({ 'app-name': 'a1', ...v }));
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  };
  it('a negative number is out of range, not "not a number"', () => {
    expect(error({ 'timeout-minutes': '-5' })).toBe(
      "Input 'timeout-minutes' must be between 1 and 360, not -5.",
    );
  });
  it("health-path stays a path on the app: no '..' or '.' segments, backslashes, spaces or fragments", () => {
    for (const bad of ['/../../etc', '/a/../b', '/./x', '/a\\\\b', '/a b', '/a#b'])
      expect({ bad, error: error({ 'health-path': bad }) }).toEqual({
        bad,
        error: expect.stringMatching(/^Input 'health-path' must be (a path on the app|a URL path)/),
      });
    for (const good of ['/', '/healthz', '/.well-known/health', '/api/v1/health?probe=1'])
      expect({ good, error: error({ 'health-path': good }) }).toEqual({ good, error: '' });
  });
});

describe('no input is accepted and then ignored', () => {
  it('refuses an input the command does not use, naming it and the way out', () => {
    expect(failure({ 'app-name': 'a', command: 'diagnose', package: 'dist' })).toBe(
      "Input 'package' is given but only a deploy uses it, not command: diagnose; remove it.",
    );
    expect(failure({ 'app-name': 'a', release: 'previous' })).toBe(
      "Input 'release' is given but only command: rollback uses it (a deploy always deploys the package); remove it.",
    );
    expect(failure({ 'app-name': 'a', mode: 'local', 'storage-account': 'acct' })).toBe(
      "Input 'storage-account' is given but mode: local pushes the package to Kudu and keeps no blobs, so it is not used; remove it or use mode: url.",
    );
    expect(failure({ 'app-name': 'a', mode: 'local', 'package-access': 'sas' })).toMatch(
      /Input 'package-access' is given/,
    );
  });

  it('takes a value equal to the default as no choice (reusable workflows pass every input)', () => {
    expect(() =>
      parseInputs(
        from({
          'app-name': 'a',
          mode: 'local',
          'package-access': 'auto',
          container: 'app-packages',
          'keep-releases': '10',
        }),
      ),
    ).not.toThrow();
    expect(() =>
      parseInputs(from({ 'app-name': 'a', command: 'rollback', release: 'previous', package: '.' })),
    ).not.toThrow();
  });
});
