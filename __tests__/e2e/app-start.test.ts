/**
 * A mounted package is not a running app: end to end through the built action, a release whose app cannot start
 * is never reported verified, the step says so as its own cause within seconds of being certain (not after the
 * whole budget), and a write into the read-only mount is named from the app's container log.
 */
import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type E2E, fetchSite, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

/** The example app with server.js replaced. */
function appWith(version: string, server: string): string {
  const dir = e.app(version);
  writeFileSync(join(dir, 'server.js'), server);
  return dir;
}

const CRASH_ON_BOOT = `throw new Error('boom: the configuration is missing DATABASE_URL');\n`;
const WRITES_NEXT_TO_ITSELF = `import { writeFileSync } from 'node:fs';
writeFileSync(new URL('./cache.json', import.meta.url), '{}');
import('node:http').then(({ createServer }) => createServer((q, r) => r.end('ok')).listen(process.env.PORT));
`;
const ROOT_404 = `import { createServer } from 'node:http';
createServer((req, res) => { res.writeHead(404); res.end('nothing at ' + req.url); }).listen(process.env.PORT);
`;

const url = () => ({ 'storage-account': e.emu.storage.accountName });

describe('the app must run, not just be mounted', () => {
  it('URL mode, Linux: an app that throws on boot fails the step as app-start-failed, early', async () => {
    const good = await e.run({ 'app-name': 'rp-linux-web', ...url(), package: e.app('v1') });
    expect(good.code).toBe(0);
    const r = await e.run(
      { 'app-name': 'rp-linux-web', ...url(), package: appWith('crash', CRASH_ON_BOOT) },
      { timeoutMs: 100_000 },
    );
    expect(r.code).toBe(1);
    expect(r.outputs.verified).toBe('false');
    expect(r.outputs.cause).toBe('app-start-failed');
    // The package itself mounted: the stamp level passes, the app level fails with the platform's answer.
    expect(r.stdout).toMatch(/mounted-content: pass/);
    expect(r.stdout).toMatch(
      /health: fail — \/ answers 503 with the platform's ':\( Application Error' page/,
    );
    expect(r.stdout).toMatch(
      /::error::.*the app fails to start.*log stream \(https:\/\/[^)]+\/api\/logstream\)/,
    );
    // Stopped as soon as the failure was certain: the restart saw it, verification confirmed it once.
    expect(r.stdout).toMatch(/The app does not start: .*answer after answer/);
    expect(r.stdout).not.toMatch(/did not answer in time/);
    expect(r.summary).toContain('the app fails to start from the mounted package');
    // on-failure: rollback (the default): the last good release is live again, verified, and the step says both.
    expect(r.outputs['rolled-back']).toBe('true');
    expect(r.outputs['live-release-id']).toBe(good.outputs['release-id']);
    expect(r.outputs['release-id']).not.toBe(good.outputs['release-id']);
    expect(r.stdout).toMatch(
      new RegExp(
        `::error::Verification failed: .*Rolled back: release ${good.outputs['release-id']} is live again and verified\\.`,
      ),
    );
    expect(r.summary).toContain('### Rollback (on-failure: rollback)');
    expect(r.summary).toContain(
      `| Restored release | \`${good.outputs['release-id']}\` ✅ live and verified |`,
    );
    const site = await fetchSite(e.emu, 'rp-linux-web', '/version.txt');
    expect(site.status).toBe(200);
    expect(site.body.trim()).toMatch(/version v1$/);
  });

  it("local mode, Windows: IIS's 500 for a process that does not start is not the app answering", async () => {
    const r = await e.run(
      {
        'app-name': 'rp-win-web',
        mode: 'local',
        package: appWith('crash-win', CRASH_ON_BOOT),
        'on-failure': 'keep',
      },
      { timeoutMs: 100_000 },
    );
    expect(r.code).toBe(1);
    expect(r.outputs.cause).toBe('app-start-failed');
    expect(r.stdout).toMatch(/health: fail — \/ answers 500 with IIS's internal server error page/);
    // on-failure: keep: the failed release stays live, and the step says so.
    expect(r.outputs['rolled-back']).toBe('false');
    expect(r.outputs['live-release-id']).toBe(r.outputs['release-id']);
    expect(r.stdout).toMatch(
      /::warning::on-failure: keep: release [0-9a-f]{12} stays live although it did not verify/,
    );
    expect((await fetchSite(e.emu, 'rp-win-web')).status).toBe(500);
  });

  it('names the write into the read-only mount from the container log', async () => {
    const r = await e.run(
      { 'app-name': 'rp-linux-web', ...url(), package: appWith('writer', WRITES_NEXT_TO_ITSELF) },
      { timeoutMs: 100_000 },
    );
    expect(r.code).toBe(1);
    expect(r.outputs.cause).toBe('read-only-write');
    expect(r.stdout).toMatch(
      /::error::.*the app's log shows a write into its read-only package mount: ".*cache\.json/,
    );
    expect(r.stdout).toMatch(/runpack audit/);
  });

  it('without health-path, any answer of the app proves it runs (here a 404 at the root)', async () => {
    const r = await e.run({ 'app-name': 'rp-linux-web', ...url(), package: appWith('root404', ROOT_404) });
    expect(r.code).toBe(0);
    expect(r.outputs.verified).toBe('true');
    expect(r.stdout).toMatch(/health: pass — \/ answers 404/);
  });

  it('with health-path, the path must answer 2xx: a 404 there fails as soon as it persists', async () => {
    const r = await e.run(
      {
        'app-name': 'rp-linux-web',
        ...url(),
        package: appWith('root404-h', ROOT_404),
        'health-path': '/healthz',
      },
      { timeoutMs: 100_000 },
    );
    expect(r.code).toBe(1);
    expect(r.outputs.verified).toBe('false');
    expect(r.stdout).toMatch(/health: fail — \/healthz answers 404/);
    expect(r.outputs.cause).not.toBe('app-start-failed');
  });
});
