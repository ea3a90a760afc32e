/**
 * The operator commands run as processes: help, usage errors (exit 2, one line), and diagnose against the
 * emulator with --json (exit 1 on an error finding, JSON on stdout, no secret in anything printed).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseInputs } from '../../src/inputs.js';
import { runOpsAction } from '../../src/ops/action.js';
import { memorySink } from '../../src/report/log.js';
import { createSecretRegistry } from '../../src/report/secrets.js';
import { REPO_ROOT, setupOpsE2E, type OpsE2E } from '../ops/e2e-setup.js';
import { emulatorSecrets, findLeaks, runNodeProcess } from './helpers/action.js';

const RUNNER = join(REPO_ROOT, '__tests__', 'ops', 'run-command.ts');

function run(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runNodeProcess(RUNNER, {
    nodeArgs: ['--import', 'tsx'],
    args,
    cwd: REPO_ROOT,
    env: { ...process.env, PATH: '/usr/bin:/bin', ...env },
  });
}

describe('operator commands as processes (no Azure needed)', () => {
  it.each(['diagnose', 'releases', 'rollback'])(
    '%s --help lists its flags and exits 0',
    async (name) => {
      const r = await run([name, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: runpack ${name} --app-name <app>`);
      expect(r.stdout).toContain('--resource-manager-endpoint');
    },
    30_000,
  );

  it('refuses a bad flag with one line and exit 2', async () => {
    const r = await run(['releases', '--app-name', 'web', '--keep', 'all']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--keep-releases' must be a whole number/);
    const missing = await run(['rollback', '--app-name', 'web']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--release' is required/);
  }, 30_000);
});

describe('diagnose as a process against the emulator', () => {
  let e: OpsE2E;
  beforeAll(async () => {
    e = await setupOpsE2E();
  }, 120_000);
  afterAll(async () => {
    await e?.stop();
  });

  it('exits 1 with the JSON report for =1 with nothing deployed, and prints no secret', async () => {
    const s = await e.session('rp-win-web');
    await s.arm.putAppSettings(s.target.ref, {
      ...(await s.arm.listAppSettings(s.target.ref)),
      WEBSITE_RUN_FROM_PACKAGE: '1',
    });
    await e.remount('rp-win-web');
    const r = await run(
      [
        'diagnose',
        '--app-name',
        'rp-win-web',
        '--resource-manager-endpoint',
        e.emu.resourceManagerEndpoint,
        '--json',
      ],
      { ...e.emu.env, AZURE_CREDENTIALS: e.creds },
    );
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { cause: string; findings: { code: string }[] };
    expect(report.cause).toBe('stale-content');
    expect(report.findings.map((f) => f.code)).toContain('local-no-package');
    expect(findLeaks(r.stdout + r.stderr, emulatorSecrets(e.emu))).toEqual([]);
  }, 60_000);

  it('gives the action its outputs and summary (runOpsAction)', async () => {
    const secrets = createSecretRegistry();
    const raw: Record<string, string> = {
      'app-name': 'rp-win-web',
      'resource-manager-endpoint': e.emu.resourceManagerEndpoint,
      creds: e.creds,
    };
    const result = await runOpsAction(
      'diagnose',
      parseInputs((n) => raw[n], {}),
      {},
      {
        env: { ...process.env, ...e.emu.env },
        sink: memorySink(),
        secrets,
        runAz: async () => null,
      },
    );
    expect(result.ok).toBe(false);
    expect(result.outputs.cause).toBe('stale-content');
    expect(result.outputs['error-codes']).toContain('local-no-package');
    expect(result.summary).toContain('| error | stale-content | `local-no-package` |');
    const rollback = await runOpsAction(
      'rollback',
      parseInputs((n) => raw[n], {}),
      { release: 'previous' },
      {
        env: { ...process.env, ...e.emu.env },
        sink: memorySink(),
        secrets,
        runAz: async () => null,
      },
    );
    expect(rollback.ok).toBe(false);
    expect(rollback.errorCode).toBe('release-live-unknown');
  }, 60_000);
});
