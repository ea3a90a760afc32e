/**
 * Records people look for: a URL-mode deploy adds a record to the app's deployment history, what the portal's
 * Deployment Center lists, read here through Resource Manager with the official SDK client; a failed deploy is
 * recorded as failed, with the rollback it led to.
 */
import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appServiceClient, type E2E, principalCredential, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

async function history(app: string) {
  const client = appServiceClient(e.emu);
  const out = [];
  for await (const d of client.webApps.listDeployments('runpack-rg', app)) out.push(d);
  return out;
}

describe('the deployment history', () => {
  it('lists each URL-mode deploy with its release, commit, run and result, failed ones too', async () => {
    const url = { 'app-name': 'rp-linux-web', 'storage-account': e.emu.storage.accountName };
    const good = await e.run({ ...url, package: e.app('h1') });
    expect(good.code).toBe(0);
    const broken = e.app('h2');
    writeFileSync(join(broken, 'server.js'), "throw new Error('boom');\n");
    const bad = await e.run({ ...url, package: broken }, { timeoutMs: 120_000 });
    expect(bad.code).toBe(1);

    const records = await history('rp-linux-web');
    const ours = records.filter((d) => d.deployer === 'runpack');
    expect(ours).toHaveLength(2);
    const byRelease = (id: string) => ours.find((d) => JSON.parse(d.message ?? '{}').releaseId === id)!;
    const ok = byRelease(good.outputs['release-id']);
    expect(ok.status).toBe(4);
    expect(ok.active).toBe(true);
    expect(JSON.parse(ok.message!)).toMatchObject({
      type: 'deployment',
      commitId: '0123456789abcdef0123456789abcdef01234567',
      runUrl: 'https://github.com/octo-org/octo-app/actions/runs/1234',
      result: 'verified',
      mode: 'url',
    });
    const failed = byRelease(bad.outputs['release-id']);
    expect(failed.status).toBe(3);
    expect(failed.active).toBe(false);
    expect(JSON.parse(failed.message!)).toMatchObject({
      result: `failed; rolled back to ${good.outputs['release-id']}`,
      cause: 'app-start-failed',
    });
    expect(good.summary).toMatch(/\| Deployment history \| `runpack-[0-9a-f]{12}-\d{14}` \|/);
    expect(good.summary).toContain('| Run | https://github.com/octo-org/octo-app/actions/runs/1234 |');
  });

  it("marks each deploy, verified or failed, in the app's Application Insights, and none where the app has none", async () => {
    const url = { 'app-name': 'rp-linux-web', 'storage-account': e.emu.storage.accountName };
    const good = await e.run({ ...url, package: e.app('a1') });
    expect(good.code).toBe(0);
    const broken = e.app('a2');
    writeFileSync(join(broken, 'server.js'), "throw new Error('boom');\n");
    const bad = await e.run({ ...url, package: broken }, { timeoutMs: 120_000 });
    expect(bad.code).toBe(1);

    // Read back through Resource Manager (the component's Annotations), with the deploying principal's token.
    const cred = principalCredential(e.emu);
    const token = await cred.getToken('https://management.azure.com/.default');
    const res = await fetch(
      `${e.emu.resourceManagerEndpoint.replace(/\/+$/, '')}/subscriptions/${e.emu.subscriptionId}/resourceGroups/runpack-rg/providers/microsoft.insights/components/rp-linux-web-insights/Annotations?api-version=2015-05-01`,
      { headers: { authorization: `Bearer ${token!.token}` } },
    );
    expect(res.status).toBe(200);
    const notes = ((await res.json()) as { value: Record<string, string>[] }).value;
    const byRelease = (id: string) => notes.find((n) => JSON.parse(n.Properties).ReleaseId === id)!;
    expect(byRelease(good.outputs['release-id'])).toMatchObject({
      Category: 'Deployment',
      AnnotationName: `runpack ${good.outputs['release-id']} verified`,
    });
    expect(JSON.parse(byRelease(good.outputs['release-id']).Properties)).toMatchObject({
      Label: 'Success',
      Commit: '0123456789abcdef0123456789abcdef01234567',
      RunUrl: 'https://github.com/octo-org/octo-app/actions/runs/1234',
    });
    expect(JSON.parse(byRelease(bad.outputs['release-id']).Properties)).toMatchObject({
      Label: 'Error',
      Result: `failed; rolled back to ${good.outputs['release-id']}`,
    });
    expect(good.summary).toContain('| Release annotation | Application Insights rp-linux-web-insights |');

    // An app without Application Insights: no annotation phase, no lookup.
    e.emu.admin.clearRequests();
    const plain = await e.run({ 'app-name': 'rp-win-web', mode: 'local', package: e.app('a3') });
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toMatch(/::group::Release annotation/);
    expect(e.requests().some((q) => /microsoft\.insights/i.test(q.path))).toBe(false);
  });
});
