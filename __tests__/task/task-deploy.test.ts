/**
 * The Azure Pipelines task end to end: the bundled task run as the agent runs it, against the emulator, with each
 * service connection scheme; output variables, the uploaded summary, the task result, secrets never in the log.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emulatorSecrets, findLeaks, setupE2E, type E2E } from '../e2e/helpers/action.js';
import { pipelineSecrets, runTask, type TaskOptions, type TaskRun } from './helpers.js';

let e: E2E;
const runs: TaskRun[] = [];

beforeAll(async () => {
  e = await setupE2E();
}, 120_000);
beforeEach(() => e?.emu.admin.reset());
afterAll(async () => {
  if (!e) return;
  const secrets = [...emulatorSecrets(e.emu), ...pipelineSecrets(e.emu)];
  const leaks = runs.flatMap((r) => findLeaks(r.everything, secrets));
  await e.stop();
  expect(leaks).toEqual([]);
});

async function task(inputs: Record<string, string>, options: TaskOptions = {}): Promise<TaskRun> {
  const r = await runTask(e.emu, e.work, inputs, options);
  runs.push(r);
  return r;
}

const armCalls = () =>
  e.requests().filter((r) => r.service === 'arm' || r.service === 'entra' || r.service === 'azdo');

describe('each service connection scheme deploys and verifies', () => {
  it('workload identity federation (Azure DevOps issuer), URL mode: output variables, summary, groups, progress', async () => {
    const r = await task({
      appName: 'rp-linux-web',
      storageAccount: e.emu.storage.accountName,
      package: e.app('task-v1'),
      healthPath: '/healthz',
      expect: 'task-v1',
    });
    // The app ran from wwwroot files before: the switch to a package is a warning, so SucceededWithIssues.
    expect(r.result?.result).toBe('SucceededWithIssues');
    expect(r.result?.message).toMatch(
      /^Release [0-9a-f]{12} is live and verified on rp-linux-web\. 1 warning\(s\): .*switches from files in wwwroot/,
    );
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ verified: 'true', mode: 'url', cause: '' });
    expect(r.outputs.releaseId).toMatch(/^[0-9a-f]{12}$/);
    expect(r.outputs.appUrl).toMatch(/^https:\/\/rp-linux-web\./);
    // Output variables carry the task's (camelCase) names only.
    expect(Object.keys(r.outputs).every((k) => /^[A-Za-z][A-Za-z0-9]*$/.test(k))).toBe(true);
    expect(r.stdout).toMatch(
      /Logged in with service connection c0ffee00-0000-4000-8000-000000000001 \(workload identity federation/,
    );
    expect(r.stdout).toMatch(/^##\[group\]Log in$/m);
    expect(r.stdout).toMatch(/^##\[endgroup\]$/m);
    expect(r.progress.some((p) => p.text === 'Packaging' && p.value === 100)).toBe(true);
    expect(r.summary).toContain('(c) mounted content is this release');
    expect(r.summary).toContain(r.outputs.releaseId);
    // The release records the pipeline run.
    const site = e.emu.admin.site('rp-linux-web');
    expect(site.appSettings.WEBSITE_RUN_FROM_PACKAGE).toMatch(/^https:\/\//);
    // The job access token was masked before use.
    expect(r.secretsSet).toContain(e.emu.azurePipelines!.accessToken);
  });

  it('workload identity federation with the Entra issuer form works the same', async () => {
    const r = await task(
      { appName: 'rp-linux-web', storageAccount: e.emu.storage.accountName, package: e.app('task-v2') },
      { scheme: 'wif-entra-issuer' },
    );
    expect(r.result?.result).toMatch(/^Succeeded/);
    expect(r.outputs.verified).toBe('true');
  });

  it('service principal with a secret, local mode on Windows: the secret is masked first', async () => {
    const r = await task(
      { appName: 'rp-win-web', mode: 'local', package: e.app('task-local') },
      { scheme: 'spn-secret' },
    );
    // The switch from wwwroot files to a package is a warning: SucceededWithIssues, with the warning in the message.
    expect(r.result?.result).toBe('SucceededWithIssues');
    expect(r.result?.message).toMatch(
      /is live and verified on rp-win-web\. 1 warning\(s\): .*switches from files in wwwroot/,
    );
    expect(r.issues.some((i) => i.type === 'warning')).toBe(true);
    expect(r.outputs).toMatchObject({ verified: 'true', mode: 'local' });
    expect(r.stdout).toMatch(/service principal with a secret/);
    const masked = r.stdout.indexOf(`##vso[task.setsecret]${e.emu.servicePrincipal.clientSecret}`);
    expect(masked).toBeGreaterThanOrEqual(0);
    expect(masked).toBeLessThan(r.stdout.indexOf('##[group]Log in'));
  });

  it('service principal with a certificate: the operator command releases lists what the deploys left', async () => {
    await task({
      appName: 'rp-linux-web',
      storageAccount: e.emu.storage.accountName,
      package: e.app('task-c1'),
    });
    const r = await task({ command: 'releases', appName: 'rp-linux-web' }, { scheme: 'spn-certificate' });
    expect(r.result?.result).toBe('Succeeded');
    expect(r.stdout).toMatch(/service principal with a certificate/);
    expect(r.outputs.releases).toMatch(/^[0-9a-f]{12}/);
    expect(r.summary).toMatch(/live/i);
  });
});

describe('the managed identity of a self-hosted agent on an Azure VM', () => {
  it('diagnoses with a ManagedServiceIdentity connection (the VM identity from IMDS)', async () => {
    const r = await task({ command: 'diagnose', appName: 'rp-linux-web' }, { scheme: 'msi' });
    expect(r.stdout).toMatch(/Logged in with service connection .* \(the agent's managed identity in tenant/);
    expect(r.result?.result).toBe('Succeeded');
    expect(r.outputs.appUrl).toMatch(/^https:\/\/rp-linux-web\./);
    expect(e.requests().some((x) => x.service === 'imds')).toBe(true);
  });
});

describe('failures fail the task with one clear line', () => {
  it('a connection without a federated credential names the subject to add, and nothing reaches Resource Manager', async () => {
    e.emu.admin.clearRequests();
    const r = await task({ appName: 'rp-linux-web', package: e.app('task-x') }, { scheme: 'wif-untrusted' });
    expect(r.result?.result).toBe('Failed');
    expect(r.result?.message).toMatch(
      /Service connection c0ffee00-0000-4000-8000-000000000003 \(WorkloadIdentityFederation\): Entra found no federated credential.*subject 'sc:\/\/fabrikam\/runpack\/untrusted-connection'/,
    );
    expect(r.result?.message).not.toContain('\n');
    expect(e.requests().filter((x) => x.service === 'arm' && !x.path.startsWith('/metadata'))).toEqual([]);
  });

  it("bad inputs are refused in the task's own words before any Azure call", async () => {
    e.emu.admin.clearRequests();
    const bad = await task({ appName: 'rp-linux-web', mode: 'ftp' });
    expect(bad.result?.result).toBe('Failed');
    expect(bad.result?.message).toMatch(/^Input 'mode' must be one of auto, url, local, not 'ftp'\.$/);
    const expectOnly = await task({ appName: 'rp-linux-web', expect: 'v1' });
    expect(expectOnly.result?.message).toBe(
      "Input 'expect' needs 'healthPath': add the path whose response must contain the text.",
    );
    const missing = await task({ appName: 'rp-linux-web' }, { env: { INPUT_AZURESUBSCRIPTION: '' } });
    expect(missing.result?.message).toMatch(/^Input 'azureSubscription' is required/);
    const noSecret = await task(
      { appName: 'rp-linux-web' },
      {
        scheme: 'spn-secret',
        connection: (v, id) => delete v[`ENDPOINT_AUTH_PARAMETER_${id}_SERVICEPRINCIPALKEY`],
      },
    );
    expect(noSecret.result?.message).toMatch(/uses a service principal secret but holds none/);
    expect(armCalls()).toEqual([]);
  });

  it("refusals found at Azure speak the task's words too (packageAccess: identity, not package-access)", async () => {
    const r = await task({
      appName: 'rp-win-web',
      storageAccount: e.emu.storage.accountName,
      package: e.app('task-identity'),
      mode: 'url',
      packageAccess: 'identity',
    });
    expect(r.result?.result).toBe('Failed');
    expect(r.result?.message).toMatch(
      /so packageAccess: identity cannot work;.* or use packageAccess: sas\./,
    );
    expect(r.everything).not.toMatch(/package-access/);
  });

  it('a release whose app does not start fails the task with the cause and is rolled back; with onFailure: keep, the rollback command brings the last one back', async () => {
    const good = await task({
      appName: 'rp-linux-web',
      storageAccount: e.emu.storage.accountName,
      package: e.app('task-good'),
    });
    expect(good.result?.result).toBe('Succeeded');
    const broken = e.app('task-broken');
    writeFileSync(join(broken, 'server.js'), "throw new Error('boom at boot');\n");
    const rolled = await task(
      { appName: 'rp-linux-web', storageAccount: e.emu.storage.accountName, package: broken },
      { timeoutMs: 100_000 },
    );
    expect(rolled.result?.result).toBe('Failed');
    expect(rolled.outputs).toMatchObject({
      verified: 'false',
      cause: 'app-start-failed',
      rolledBack: 'true',
      liveReleaseId: good.outputs.releaseId,
    });
    expect(rolled.result?.message).toMatch(
      new RegExp(
        `the app fails to start.*Rolled back: release ${good.outputs.releaseId} is live again and verified`,
      ),
    );
    const bad = await task(
      {
        appName: 'rp-linux-web',
        storageAccount: e.emu.storage.accountName,
        package: broken,
        onFailure: 'keep',
      },
      { timeoutMs: 100_000 },
    );
    expect(bad.result?.result).toBe('Failed');
    expect(bad.outputs).toMatchObject({ verified: 'false', cause: 'app-start-failed', rolledBack: 'false' });
    expect(bad.outputs.liveReleaseId).toBe(bad.outputs.releaseId);
    expect(bad.result?.message).toMatch(/the app fails to start/);
    expect(bad.issues.some((i) => i.type === 'error')).toBe(true);
    const back = await task({ command: 'rollback', release: 'previous', appName: 'rp-linux-web' });
    expect(back.result?.result).toBe('Succeeded');
    expect(back.outputs).toMatchObject({ verified: 'true', releaseId: good.outputs.releaseId });
  });
});
