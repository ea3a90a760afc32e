/**
 * Bad input, table-driven, through the CLI as a process (dist/cli.js) with the emulator as Azure: every case
 * exits with the usage code, prints one line that names what is wrong, no stack trace and no secret, and makes
 * no Azure call (the emulator's request log stays empty).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CLI, emulatorSecrets, findLeaks, REPO_ROOT, runNodeProcess } from './helpers/action.js';
import { setupOpsE2E, type OpsE2E } from '../ops/e2e-setup.js';

let e: OpsE2E;
let work: string;
beforeAll(async () => {
  e = await setupOpsE2E();
  work = mkdtempSync(join(tmpdir(), 'runpack-bad-input-'));
  writeFileSync(join(work, 'not.zip'), 'this is not a zip archive');
  writeFileSync(join(work, 'file.txt'), 'x');
  // Malicious and broken archives, written byte by byte (no zip library would write them).
  writeFileSync(
    join(work, 'slip.zip'),
    storedZip([
      ['../../outside.js', 'x'],
      ['server.js', 'y'],
    ]),
  );
  writeFileSync(join(work, 'absolute.zip'), storedZip([['/etc/cron.d/job', 'x']]));
  writeFileSync(
    join(work, 'twice.zip'),
    storedZip([
      ['server.js', 'a'],
      ['server.js', 'b'],
    ]),
  );
  writeFileSync(join(work, 'empty.zip'), storedZip([]));
  writeFileSync(join(work, 'cut.zip'), storedZip([['server.js', 'console.log(1)']]).subarray(0, 40));
}, 120_000);

/** A zip of stored (uncompressed) entries, names taken as given. */
function storedZip(entries: [string, string][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of entries) {
    const n = Buffer.from(name);
    const data = Buffer.from(text);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    centrals.push(central, n);
    offset += 30 + n.length + data.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}
afterAll(async () => {
  await e?.stop();
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // A PATH without any real az; the emulator as Azure; a valid login, so only the input is wrong.
  return runNodeProcess(CLI, {
    args,
    cwd: REPO_ROOT,
    env: { ...process.env, ...e.emu.env, PATH: '/usr/bin:/bin', AZURE_CREDENTIALS: e.creds },
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
  // malicious and corrupt archives: refused before the login
  [
    'package not a zip',
    (w) => ['deploy', ...APP, '--package', join(w, 'not.zip')],
    /--package' cannot be deployed: .*not a zip/,
  ],
  [
    'package cut short',
    (w) => ['deploy', ...APP, '--package', join(w, 'cut.zip')],
    /--package' cannot be deployed/,
  ],
  [
    'package climbing out',
    (w) => ['deploy', ...APP, '--package', join(w, 'slip.zip')],
    /cannot be deployed: .*\.\.\/\.\.\/outside\.js/,
  ],
  [
    'package with an absolute path',
    (w) => ['deploy', ...APP, '--package', join(w, 'absolute.zip')],
    /cannot be deployed: .*\/etc\/cron\.d\/job/,
  ],
  [
    'package with an entry twice',
    (w) => ['deploy', ...APP, '--package', join(w, 'twice.zip')],
    /cannot be deployed: .*server\.js/,
  ],
  [
    'package with nothing in it',
    (w) => ['deploy', ...APP, '--package', join(w, 'empty.zip')],
    /cannot be deployed/,
  ],
  ['boolean flag with a value', () => ['deploy', ...APP, '--no-restart=yes'], /takes no value/],
  // configuration inputs
  [
    'app settings not JSON',
    () => ['deploy', ...APP, '--app-settings', 'A=1'],
    /--app-settings' must be a JSON array/,
  ],
  [
    'app settings as an object',
    () => ['deploy', ...APP, '--app-settings', '{"A":"1"}'],
    /--app-settings' must be a JSON array/,
  ],
  [
    'app setting without a name',
    () => ['deploy', ...APP, '--app-settings', '[{"value":"1"}]'],
    /--app-settings' has entry 1 without a name/,
  ],
  [
    'app setting named twice',
    () => ['deploy', ...APP, '--app-settings', '[{"name":"A","value":"1"},{"name":"a","value":"2"}]'],
    /names a twice/,
  ],
  [
    'app setting with an unknown key',
    () => ['deploy', ...APP, '--app-settings', '[{"name":"A","value":"s3cret-value","sticky":true}]'],
    /'sticky': only name, value, slotSetting, secret are read/,
  ],
  [
    'app setting with a non-boolean slotSetting',
    () => ['deploy', ...APP, '--app-settings', '[{"name":"A","value":"s3cret-value","slotSetting":"yes"}]'],
    /A with slotSetting that is not true or false/,
  ],
  [
    'app setting naming the package setting',
    () => ['deploy', ...APP, '--app-settings', '[{"name":"WEBSITE_RUN_FROM_PACKAGE","value":"1"}]'],
    /runpack sets it itself from --mode/,
  ],
  [
    'app setting with an object value',
    () => ['deploy', ...APP, '--app-settings', '[{"name":"A","value":{"x":1}}]'],
    /A without a string value/,
  ],
  [
    'connection string without a type',
    () => ['deploy', ...APP, '--connection-strings', '[{"name":"Db","value":"s3cret-value"}]'],
    /--connection-strings' has Db without a type: one of ApiHub/,
  ],
  [
    'connection string of an unknown type',
    () => [
      'deploy',
      ...APP,
      '--connection-strings',
      '[{"name":"Db","value":"s3cret-value","type":"Oracle"}]',
    ],
    /Db without a type/,
  ],
  [
    'startup command over two lines',
    () => ['deploy', ...APP, '--startup-command', 'node a.js\nrm -rf /'],
    /--startup-command' must be one line/,
  ],
  [
    'rollback settings not a boolean',
    () => ['deploy', ...APP, '--rollback-settings=always'],
    /--rollback-settings' must be true or false/,
  ],
  [
    'rollback settings that never apply',
    () => ['deploy', ...APP, '--on-failure', 'keep', '--rollback-settings'],
    /--rollback-settings' is given but --on-failure keep never rolls back/,
  ],
  [
    'app settings on the rollback command',
    () => ['rollback', ...APP, '--release', 'previous', '--app-settings', '[]'],
    /Unknown flag '--app-settings' for runpack rollback/,
  ],
  [
    'rollback settings on diagnose',
    () => ['diagnose', ...APP, '--rollback-settings'],
    /Unknown flag '--rollback-settings' for runpack diagnose/,
  ],
  // more values, conflicts and auth material
  ['empty app name', () => ['deploy', '--app-name', ''], /--app-name/],
  ['app name too long', () => ['deploy', '--app-name', 'a'.repeat(61)], /--app-name/],
  ['app name with a bad slot', () => ['deploy', '--app-name', 'web/bad slot'], /--app-name/],
  ['fleet with a bad entry', () => ['deploy', '--app-name', 'web,api,-bad'], /'-bad' is not/],
  ['force not a boolean', () => ['deploy', ...APP, '--force=sometimes'], /--force' must be true or false/],
  ['stamp not a boolean', () => ['deploy', ...APP, '--stamp=perhaps'], /--stamp' must be true or false/],
  ['dry-run not a boolean', () => ['deploy', ...APP, '--dry-run=later'], /--dry-run' must be true or false/],
  ['timeout with a unit', () => ['deploy', ...APP, '--timeout-minutes', '10m'], /must be a number/],
  [
    'keep releases negative',
    () => ['deploy', ...APP, '--keep-releases', '-1'],
    /--keep-releases' must be between/,
  ],
  ['sas expiry too long', () => ['deploy', ...APP, '--sas-expiry-days', '100000'], /--sas-expiry-days/],
  ['health path with a query of spaces', () => ['deploy', ...APP, '--health-path', '/a b'], /--health-path/],
  ['storage account too short', () => ['deploy', ...APP, '--storage-account', 'ab'], /--storage-account/],
  ['container with two dashes', () => ['deploy', ...APP, '--container', 'a--b'], /--container/],
  ['creds an array', () => ['deploy', ...APP, '--creds', '[1,2]'], /--creds'/],
  [
    'creds with a malformed client id',
    () => [
      'deploy',
      ...APP,
      '--creds',
      '{"clientId":"me","clientSecret":"s3cret-value","tenantId":"11111111-1111-4111-8111-111111111111"}',
    ],
    /--creds' has a clientId that is not/,
  ],
  [
    'creds with a malformed subscription',
    () => [
      'deploy',
      ...APP,
      '--creds',
      '{"clientId":"11111111-1111-4111-8111-111111111111","clientSecret":"s3cret-value","tenantId":"11111111-1111-4111-8111-111111111111","subscriptionId":"sub"}',
    ],
    /--creds' has a subscriptionId that is not/,
  ],
  [
    'endpoint with a path',
    () => ['deploy', ...APP, '--resource-manager-endpoint', 'https://management.azure.com/?api=1'],
    /--resource-manager-endpoint' must be an https URL without credentials, query or fragment/,
  ],
  [
    'exclude climbing out',
    () => ['deploy', ...APP, '--exclude', '../secrets'],
    /--exclude' must hold globs relative to the package folder/,
  ],
  ['commit with a space', () => ['deploy', ...APP, '--commit', 'fix bug'], /--commit' must be a commit id/],
  [
    'package-cache for a zip',
    (w) => ['deploy', ...APP, '--package', join(w, 'not.zip'), '--package-cache', join(w, 'cache')],
    /--package-cache' is for a folder package, but --package names a zip/,
  ],
  [
    'remote-build not a boolean',
    () => ['deploy', ...APP, '--remote-build=yes'],
    /--remote-build' must be true or false/,
  ],
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
