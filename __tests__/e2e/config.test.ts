/**
 * Configuration in the same step, end to end through the built action: app settings, connection strings and a
 * startup command applied with the package and read back through Resource Manager with the official SDK client,
 * every other setting kept, one settings write, secrets masked; a dry run writes nothing; a Windows app refuses a
 * startup command before anything is written; a rollback brings the recorded settings back only when asked.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appServiceClient, type E2E, fetchSite, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

const RG = 'runpack-rg';
const APP = 'rp-linux-web';

const client = () => appServiceClient(e.emu);

async function settingsOf(app = APP): Promise<Record<string, string>> {
  return (await client().webApps.listApplicationSettings(RG, app)).properties ?? {};
}

/** An app that starts only through the startup command (alt.js) and says what the platform gave it. */
function altApp(version: string): string {
  const dir = e.app(version);
  writeFileSync(
    join(dir, 'alt.js'),
    `import { createServer } from 'node:http';
createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ started: 'alt.js', greeting: process.env.GREETING ?? null, db: process.env.SQLAZURECONNSTR_Db ? 'set' : null }));
}).listen(Number(process.env.PORT));
`,
  );
  return dir;
}

function crashing(version: string): string {
  const dir = e.app(version);
  writeFileSync(join(dir, 'server.js'), "throw new Error('boom at start');\n");
  return dir;
}

const writes = (since: number) =>
  e
    .requests()
    .slice(since)
    .filter((r) => ['PUT', 'PATCH', 'DELETE'].includes(r.method));

describe('configuration in the same step', () => {
  // Each test starts from the preset's settings, connection strings and startup command.
  beforeEach(() => e.emu.admin.reset({ sites: true }), 60_000);

  it('applies app settings, connection strings and the startup command with the package, keeping everything else', async () => {
    const sdk = client();
    await sdk.webApps.updateApplicationSettings(RG, APP, {
      properties: { ...(await settingsOf()), KEEP_ME: 'yes' },
    });
    await sdk.webApps.updateConnectionStrings(RG, APP, {
      properties: { Legacy: { value: 'Server=legacy;Password=legacy-pass-1', type: 'Custom' } },
    });
    const apiKey = `k3y-${randomBytes(12).toString('hex')}`;
    const dbValue = `Server=tcp:db.example;Password=Pa55-${randomBytes(8).toString('hex')}`;
    const before = e.requests().length;
    const r = await e.run({
      'app-name': APP,
      'storage-account': e.emu.storage.accountName,
      package: altApp('cfg1'),
      'app-settings': JSON.stringify([
        { name: 'GREETING', value: 'hello from settings', slotSetting: true },
        { name: 'API_KEY', value: apiKey },
      ]),
      'connection-strings': JSON.stringify([{ name: 'Db', value: dbValue, type: 'SQLAzure' }]),
      'startup-command': 'node alt.js',
    });
    expect(r.code).toBe(0);
    expect(r.outputs.verified).toBe('true');

    // The app started through the startup command, with the setting and the connection string it was given.
    const site = await fetchSite(e.emu, APP, '/');
    expect(JSON.parse(site.body)).toEqual({ started: 'alt.js', greeting: 'hello from settings', db: 'set' });

    // Read back through Resource Manager: what was asked for is there, and nothing else was lost.
    const settings = await settingsOf();
    expect(settings).toMatchObject({ KEEP_ME: 'yes', GREETING: 'hello from settings', API_KEY: apiKey });
    expect(settings.WEBSITE_RUN_FROM_PACKAGE).toMatch(/^https:\/\//);
    const strings = (await sdk.webApps.listConnectionStrings(RG, APP)).properties ?? {};
    expect(strings.Legacy).toMatchObject({ value: 'Server=legacy;Password=legacy-pass-1', type: 'Custom' });
    expect(strings.Db).toMatchObject({ value: dbValue, type: 'SQLAzure' });
    expect((await sdk.webApps.getConfiguration(RG, APP)).appCommandLine).toBe('node alt.js');
    expect((await sdk.webApps.listSlotConfigurationNames(RG, APP)).appSettingNames).toContain('GREETING');

    // One settings write for the package setting and the app settings together.
    const settingWrites = writes(before).filter((w) => /\/config\/appsettings(\?|$)/i.test(w.path));
    expect(settingWrites).toHaveLength(1);

    // Secrets are masked (the runner hides what ::add-mask:: names) and never printed; the summary lists the
    // changes with values redacted.
    expect(r.stdout).toContain(`::add-mask::${apiKey}`);
    expect(r.stdout).toContain(`::add-mask::${dbValue}`);
    expect(r.everything).not.toContain(apiKey);
    expect(r.everything).not.toContain(dbValue);
    expect(r.summary).toContain('### Configuration');
    expect(r.summary).toContain('App setting GREETING: added (value ***), now slot-sticky.');
    expect(r.summary).toContain('Connection string Db (SQLAzure): added (value ***).');
    expect(r.summary).toContain('Startup command: set.');
  });

  it('a dry run shows the change with values redacted and writes nothing', async () => {
    const before = e.requests().length;
    const secret = `s3cret-${randomBytes(10).toString('hex')}`;
    const r = await e.run({
      'app-name': APP,
      'storage-account': e.emu.storage.accountName,
      package: e.app('cfg-dry'),
      'app-settings': JSON.stringify([{ name: 'DB_PASSWORD', value: secret }]),
      'startup-command': 'node server.js',
      'dry-run': 'true',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('App setting DB_PASSWORD: added (value ***).');
    expect(r.stdout).toContain('Startup command: set.');
    expect(r.everything).not.toContain(secret);
    expect(writes(before)).toEqual([]);
    expect(await settingsOf()).not.toHaveProperty('DB_PASSWORD');
  });

  it('refuses a startup command on a Windows app before anything is uploaded or written', async () => {
    const before = e.requests().length;
    const r = await e.run({
      'app-name': 'rp-win-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('cfg-win'),
      'startup-command': 'node server.js',
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /::error::.*'startup-command' sets a Linux app's startup command, but rp-win-web runs on Windows/,
    );
    expect(writes(before)).toEqual([]);
  });

  it('rollback-settings: the rollback brings back the settings recorded with the release; without it they stay', async () => {
    const url = { 'app-name': APP, 'storage-account': e.emu.storage.accountName };
    const flag = (value: string) => JSON.stringify([{ name: 'FLAG', value }]);
    const good = await e.run({ ...url, package: e.app('rs1'), 'app-settings': flag('one') });
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/Configuration of release [0-9a-f]{12} recorded/);

    e.emu.admin.clearRequests();
    const bad = await e.run(
      { ...url, package: crashing('rs2'), 'app-settings': flag('two'), 'rollback-settings': 'true' },
      { timeoutMs: 120_000 },
    );
    expect(bad.code).toBe(1);
    expect(bad.outputs).toMatchObject({
      'rolled-back': 'true',
      'live-release-id': good.outputs['release-id'],
    });
    expect(bad.stdout).toContain(
      `Brought back the configuration recorded with release ${good.outputs['release-id']}`,
    );
    expect((await settingsOf()).FLAG).toBe('one');
    // The deploy's settings write and the rollback's each restarted the app: runpack asked for no restart on top.
    const restartRequests = e
      .requests()
      .filter((q) => q.service === 'arm' && q.method === 'POST' && /\/restart(\?|$)/.test(q.path));
    expect(restartRequests).toEqual([]);

    const kept = await e.run(
      { ...url, package: crashing('rs3'), 'app-settings': flag('three') },
      { timeoutMs: 120_000 },
    );
    expect(kept.code).toBe(1);
    expect(kept.outputs['rolled-back']).toBe('true');
    expect((await settingsOf()).FLAG).toBe('three');
    expect(kept.summary).toMatch(
      /`rollback-settings-kept`: Settings were left as they are \(rollback-settings: false\)/,
    );

    // The rollback command brings the recorded settings back when asked.
    const second = await e.run({ ...url, package: e.app('rs4'), 'app-settings': flag('four') });
    expect(second.code).toBe(0);
    const back = await e.run({
      ...url,
      command: 'rollback',
      release: good.outputs['release-id'],
      'rollback-settings': 'true',
    });
    expect(back.code).toBe(0);
    expect((await settingsOf()).FLAG).toBe('one');
    expect((await fetchSite(e.emu, APP, '/version.txt')).body.trim()).toMatch(/rs1$/);
  });
});
