/**
 * Bad input, table-driven, through the CLI as a process (dist/cli.js) with the emulator as Azure: every case
 * exits with the usage code, prints one line that names what is wrong, no stack trace and no secret, and makes
 * no Azure call (the emulator's request log stays empty).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CLI, emulatorSecrets, findLeaks, REPO_ROOT } from './helpers/action.js';
import { setupOpsE2E, type OpsE2E } from '../ops/e2e-setup.js';

let e: OpsE2E;
let work: string;
beforeAll(async () => {
  e = await setupOpsE2E();
  work = mkdtempSync(join(tmpdir(), 'runpack-bad-input-'));
  writeFileSync(join(work, 'not.zip'), 'this is not a zip archive');
  writeFileSync(join(work, 'file.txt'), 'x');
}, 120_000);
afterAll(async () => {
  await e?.stop();
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      // A PATH without any real az; the emulator as Azure; a valid login, so only the input is wrong.
      env: { ...process.env, ...e.emu.env, PATH: '/usr/bin:/bin', AZURE_CREDENTIALS: e.creds },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const ARM = () => ['--resource-manager-endpoint', e.emu.resourceManagerEndpoint];
const APP = ['--app-name', 'rp-linux-web'];

/** [name, argv, what the one line must say]. Paths under `work` are filled in at run time. */
const CASES: [string, (w: string) => string[], RegExp][] = [
  // deploy: flags and values
  ['unknown flag', () => ['deploy', ...APP, '--colour', 'red'], /Unknown flag '--colour' for runpack deploy/],
  ['flag without a value', () => ['deploy', '--app-name'], /Flag '--app-name' needs a value/],
  ['repeated app-name', () => ['deploy', ...APP, '--app-name', 'x'], /given twice.*comma separated/],
  ['missing app-name', () => ['deploy', '--package', '.'], /'--app-name' is required/],
  ['bad app name', () => ['deploy', '--app-name', 'bad_name!'], /--app-name/],
  ['app listed twice', () => ['deploy', '--app-name', 'web,web'], /lists web twice/],
  ['unknown mode', () => ['deploy', ...APP, '--mode', 'zip'], /--mode' must be one of/],
  ['unknown runtime', () => ['deploy', ...APP, '--runtime', 'cobol'], /--runtime/],
  ['unknown package access', () => ['deploy', ...APP, '--package-access', 'public'], /--package-access/],
  ['user delegation SAS', () => ['deploy', ...APP, '--package-access', 'user-delegation'], /7 days/],
  [
    'negative timeout',
    () => ['deploy', ...APP, '--timeout-minutes', '-5'],
    /--timeout-minutes' must be between/,
  ],
  ['timeout not a number', () => ['deploy', ...APP, '--timeout-minutes', 'soon'], /must be a number/],
  [
    'huge timeout',
    () => ['deploy', ...APP, '--timeout-minutes', '100000'],
    /--timeout-minutes' must be between/,
  ],
  ['sas expiry zero', () => ['deploy', ...APP, '--sas-expiry-days', '0'], /--sas-expiry-days/],
  ['keep-releases not a number', () => ['deploy', ...APP, '--keep-releases', 'all'], /--keep-releases/],
  ['restart not a boolean', () => ['deploy', ...APP, '--restart=maybe'], /--restart' must be true or false/],
  [
    'unknown on-failure',
    () => ['deploy', ...APP, '--on-failure', 'retry'],
    /--on-failure' must be one of rollback, keep/,
  ],
  ['bad audit value', () => ['deploy', ...APP, '--audit', 'loud'], /--audit/],
  ['health path without slash', () => ['deploy', ...APP, '--health-path', 'healthz'], /--health-path/],
  ['health path climbing out', () => ['deploy', ...APP, '--health-path', '/../../etc'], /--health-path/],
  ['expect without health path', () => ['deploy', ...APP, '--expect', 'v1'], /--expect' needs --health-path/],
  [
    'swap to itself',
    () => ['deploy', ...APP, '--slot', 'staging', '--swap-to', 'staging'],
    /--swap-to' names the slot being deployed/,
  ],
  ['bad slot name', () => ['deploy', ...APP, '--slot', 'bad slot'], /--slot/],
  ['bad storage account', () => ['deploy', ...APP, '--storage-account', 'Bad_Name'], /--storage-account/],
  ['bad container', () => ['deploy', ...APP, '--container', 'UPPER'], /--container/],
  ['bad subscription id', () => ['deploy', ...APP, '--subscription-id', 'not-a-guid'], /--subscription-id/],
  ['bad resource group', () => ['deploy', ...APP, '--resource-group', 'bad/rg'], /--resource-group/],
  [
    'bad endpoint',
    () => ['deploy', ...APP, '--resource-manager-endpoint', 'ftp://x'],
    /--resource-manager-endpoint/,
  ],
  [
    'plain http endpoint',
    () => ['deploy', ...APP, '--resource-manager-endpoint', 'http://example.com'],
    /--resource-manager-endpoint/,
  ],
  [
    'client id without tenant',
    () => ['deploy', ...APP, '--client-id', '11111111-1111-4111-8111-111111111111'],
    /--tenant-id' is required with --client-id/,
  ],
  [
    'bad tenant id',
    () => ['deploy', ...APP, '--client-id', '11111111-1111-4111-8111-111111111111', '--tenant-id', 'contoso'],
    /--tenant-id/,
  ],
  [
    'bad client id',
    () => ['deploy', ...APP, '--client-id', 'me', '--tenant-id', '11111111-1111-4111-8111-111111111111'],
    /--client-id/,
  ],
  ['creds not JSON', () => ['deploy', ...APP, '--creds', 'not json'], /--creds' must be JSON/],
  [
    'creds with a malformed tenant',
    () => [
      'deploy',
      ...APP,
      '--creds',
      '{"clientId":"11111111-1111-4111-8111-111111111111","clientSecret":"s3cret-value","tenantId":"not a tenant"}',
    ],
    /--creds' has a tenantId that is not a tenant GUID or domain/,
  ],
  [
    'creds without secret',
    () => ['deploy', ...APP, '--creds', '{"clientId":"a","tenantId":"b"}'],
    /--creds' is missing clientSecret/,
  ],
  [
    'release with a deploy',
    () => ['deploy', ...APP, '--release', 'previous'],
    /--release' is given but only command: rollback uses it|--release/,
  ],
  [
    'storage account with local mode',
    () => ['deploy', ...APP, '--mode', 'local', '--storage-account', 'acct'],
    /--storage-account' is given but --mode local/,
  ],
  [
    'rollback through deploy',
    () => ['deploy', ...APP, '--command', 'rollback', '--release', 'previous'],
    /runpack rollback/,
  ],
  [
    'publish profile not XML',
    () => ['deploy', ...APP, '--mode', 'local', '--publish-profile', 'nope'],
    /--publish-profile/,
  ],
  [
    'missing package folder',
    () => ['deploy', ...APP, '--package', 'no/such/folder'],
    /--package' names no\/such\/folder/,
  ],
  [
    'package is a plain file',
    (w) => ['deploy', ...APP, '--package', join(w, 'file.txt')],
    /--package' must be a folder or a \.zip/,
  ],
  ['unexpected argument', () => ['deploy', ...APP, 'extra'], /Unexpected argument 'extra'/],
  ['boolean flag with a value', () => ['deploy', ...APP, '--no-restart=yes'], /takes no value/],
  // operator commands
  [
    'diagnose unknown flag',
    () => ['diagnose', ...APP, '--package', '.'],
    /Unknown flag '--package' for runpack diagnose/,
  ],
  ['diagnose without app', () => ['diagnose'], /'--app-name' is required/],
  ['diagnose on a fleet', () => ['diagnose', '--app-name', 'a,b'], /works on one app/],
  ['releases on a fleet', () => ['releases', '--app-name', 'a,b'], /works on one app/],
  ['releases keep not a number', () => ['releases', ...APP, '--keep', 'all'], /--keep/],
  ['rollback without release', () => ['rollback', ...APP], /--release' is required/],
  ['rollback malformed release', () => ['rollback', ...APP, '--release', 'yesterday'], /--release/],
  [
    'rollback repeated release',
    () => ['rollback', ...APP, '--release', 'previous', '--release', 'abc'],
    /given twice/,
  ],
  [
    'rollback unknown flag',
    () => ['rollback', ...APP, '--release', 'previous', '--force'],
    /Unknown flag '--force'/,
  ],
  [
    'rollback bad timeout',
    () => ['rollback', ...APP, '--release', 'previous', '--timeout-minutes', '0'],
    /--timeout-minutes/,
  ],
  // package and inspect
  ['package without output', (w) => ['package', w], /Missing the output zip/],
  ['package without folder', () => ['package', '-o', 'x.zip'], /Missing the folder to package/],
  ['package two folders', (w) => ['package', w, w, '-o', 'x.zip'], /takes one folder/],
  ['package missing folder', () => ['package', 'no/such/dir', '-o', 'x.zip'], /no\/such\/dir/],
  [
    'package bad epoch',
    (w) => ['package', w, '-o', join(w, 'o.zip'), '--source-date-epoch', 'yesterday'],
    /--source-date-epoch needs a whole number/,
  ],
  [
    'package zero threads',
    (w) => ['package', w, '-o', join(w, 'o.zip'), '--concurrency', '0'],
    /--concurrency needs a whole number of at least 1/,
  ],
  [
    'package unknown flag',
    (w) => ['package', w, '-o', 'x.zip', '--level', '9'],
    /Unknown flag '--level' for runpack package/,
  ],
  ['inspect nothing', () => ['inspect'], /inspect needs the zip or folder/],
  ['inspect two targets', () => ['inspect', 'a.zip', 'b.zip'], /takes one zip or folder/],
  [
    'inspect unknown runtime',
    () => ['inspect', 'a.zip', '--runtime', 'cobol'],
    /--runtime 'cobol' is not a runtime/,
  ],
  [
    'inspect unknown flag',
    () => ['inspect', 'a.zip', '--verbose'],
    /Unknown flag '--verbose' for runpack inspect/,
  ],
  ['inspect missing file', () => ['inspect', 'no/such.zip'], /no\/such\.zip/],
  ['unknown command', () => ['deplyo'], /unknown command 'deplyo'/],
];

describe('bad input (CLI, one line, usage exit code, no Azure call)', () => {
  it.each(CASES.map(([name, argv, line]) => [name, argv, line] as const))(
    '%s',
    async (_name, argv, line) => {
      e.emu.admin.clearRequests();
      const r = await cli([
        ...argv(work),
        ...(argv(work)[0] === 'deploy' && !argv(work).includes('--resource-manager-endpoint') ? ARM() : []),
      ]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(line) });
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(r.stderr).not.toMatch(/^\s+at |Error: /m);
      expect(findLeaks(r.stdout + r.stderr, emulatorSecrets(e.emu))).toEqual([]);
      expect(r.stdout + r.stderr).not.toContain('s3cret-value');
      expect(e.emu.admin.requests().filter((q) => q.service !== 'admin')).toEqual([]);
    },
    30_000,
  );
});
