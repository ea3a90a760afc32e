import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../src/cli.js';
import { loadConfig, presetConfig } from '../src/config.js';

const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');
const CLI = join(process.cwd(), 'emulator', 'src', 'cli.ts');

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(TSX, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe('emulator CLI arguments', () => {
  it('parses run flags and the ca subcommand', () => {
    expect(parseArgs(['--state-dir', '/s', '--port', '8443', '--config=/c.json'])).toEqual({
      command: 'run',
      stateDir: '/s',
      port: 8443,
      config: '/c.json',
    });
    expect(parseArgs(['ca', '--dir', '/d'])).toEqual({ command: 'ca', dir: '/d' });
  });

  it('rejects bad input with one line that names the flag', () => {
    expect(() => parseArgs(['--port', 'x'])).toThrow("--port must be a port number, got 'x'");
    expect(() => parseArgs(['--frobnicate'])).toThrow("unknown option '--frobnicate'");
    expect(() => parseArgs(['ca'])).toThrow('ca needs --dir DIR');
    expect(() => parseArgs(['--state-dir'])).toThrow('--state-dir needs a value');
  });
});

describe('emulator config', () => {
  it('a JSON file replaces top-level preset keys', () => {
    const dir = tempDir('runpack-emu-cfg-');
    const file = join(dir, 'c.json');
    writeFileSync(
      file,
      JSON.stringify({
        resourceGroup: 'other-rg',
        apps: [{ name: 'solo', kind: 'app', sku: 'Basic', stack: 'node', linuxFxVersion: '' }],
      }),
    );
    const c = loadConfig(file);
    expect(c.resourceGroup).toBe('other-rg');
    expect(c.apps.map((a) => a.name)).toEqual(['solo']);
    expect(c.tenantId).toBe(presetConfig().tenantId);
  });

  it('refuses an invalid file with a message naming the file and field', () => {
    const dir = tempDir('runpack-emu-cfg-');
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({ apps: [{ name: 'x', kind: 'web', sku: 'B1', stack: 'node', linuxFxVersion: '' }] }),
    );
    expect(() => loadConfig(file)).toThrow(`${file}: app name 'x' is not a valid site name`);
    writeFileSync(file, JSON.stringify({ storage: { accountName: 'Bad-Name' } }));
    expect(() => loadConfig(file)).toThrow("'storage.accountName' must be 3-24 lowercase letters or digits");
    writeFileSync(file, '{not json');
    expect(() => loadConfig(file)).toThrow(/cannot read the emulator config/);
  });

  it('the presets describe the resources the tests rely on', () => {
    const c = presetConfig();
    const kinds = c.apps.map((a) => `${a.kind}|${a.sku}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'app,linux|Standard',
        'app|Standard',
        'functionapp,linux|Dynamic',
        'functionapp|Dynamic',
        'functionapp,linux|FlexConsumption',
      ]),
    );
    expect(c.apps.find((a) => a.kind === 'app,linux')).toMatchObject({
      slots: ['staging'],
      systemIdentity: true,
      blobReader: true,
    });
    expect(c.federatedCredentials.map((f) => f.subject)).toEqual([
      'repo:octo-org/octo-app:ref:refs/heads/main',
      'repo:octo-org/octo-app:environment:production',
    ]);
  });
});

describe('emulator CLI processes', () => {
  it('ca --dir creates the CA once and reuses it', async () => {
    const dir = join(tempDir('runpack-emu-ca-'), 'ca');
    const first = run(['ca', '--dir', dir]);
    expect(await first.exited).toBe(0);
    const pem = readFileSync(join(dir, 'ca.pem'), 'utf8');
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(existsSync(join(dir, 'ca-key.pem'))).toBe(true);
    const second = run(['ca', '--dir', dir]);
    expect(await second.exited).toBe(0);
    expect(readFileSync(join(dir, 'ca.pem'), 'utf8')).toBe(pem);
    expect(first.out().trim()).toBe(join(dir, 'ca.pem'));
  });

  it('exits 2 with a usage line for a bad flag', async () => {
    const p = run(['--bogus']);
    expect(await p.exited).toBe(2);
    expect(p.err()).toContain("emulator: unknown option '--bogus'");
  });

  it('runs in the foreground, prints the how-to, writes connection.json and stops on Ctrl-C', async () => {
    const state = tempDir('runpack-emu-cli-');
    const p = run(['--state-dir', state], { RUNPACK_TEST_CA_DIR: '' });
    const end = Date.now() + 30000;
    while (!p.out().includes('Press Ctrl-C') && Date.now() < end && p.child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const out = p.out();
    expect(out).toContain('Press Ctrl-C');
    expect(out).toContain(`NODE_EXTRA_CA_CERTS=${join(state, 'ca.pem')}`);
    expect(out).toMatch(/HTTPS_PROXY=http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toContain('NO_PROXY=127.0.0.1,localhost');
    expect(out).toMatch(/resource-manager-endpoint: +https:\/\/127\.0\.0\.1:\d+\//);
    expect(out).toContain('client-id:');
    const conn = JSON.parse(readFileSync(join(state, 'connection.json'), 'utf8')) as {
      servicePrincipal: { clientSecret: string };
    };
    expect(out).not.toContain(conn.servicePrincipal.clientSecret);
    expect(existsSync(join(state, 'ca-key.pem'))).toBe(true);
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
  });
});
