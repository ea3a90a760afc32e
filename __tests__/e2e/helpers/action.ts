/**
 * End-to-end helpers: start the emulator once per test file, run the built action (dist/index.js) as a child
 * process with the environment GitHub gives a step, parse its outputs and job summary, and check that no
 * secret the emulator issued shows up in anything the action printed.
 */
import { afterAll, beforeAll, beforeEach, expect } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { WebSiteManagementClient } from '@azure/arm-appservice';
import { startEmulator, type RunningEmulator } from '../../../emulator/src/index.js';
import { stepEnv } from './step-env.js';

export const REPO_ROOT = resolve(new URL('../../..', import.meta.url).pathname);
export const ACTION = join(REPO_ROOT, 'dist', 'index.js');
export const CLI = join(REPO_ROOT, 'dist', 'cli.js');

export type AuthPath = 'creds' | 'oidc' | 'az' | 'none';

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /** stdout + stderr + summary + outputs: everything a user could see. */
  everything: string;
}

export interface RunOptions {
  auth?: AuthPath;
  /** Extra environment (wins over the defaults). */
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the run after this many ms (the test fails then). */
  timeoutMs?: number;
  /** Send a signal (as a runner cancelling the step does) once stdout matches `when`. */
  signal?: { when: RegExp; name: NodeJS.Signals };
}

export interface E2E {
  emu: RunningEmulator;
  /** Every run of this file, for the secret scan. */
  runs: ActionRun[];
  work: string;
  run(inputs: Record<string, string>, options?: RunOptions): Promise<ActionRun>;
  /** azure/login-format creds of the emulator's service principal. */
  creds(): string;
  /** A folder with a copy of the example app whose version.txt says `version`. */
  app(version: string): string;
  /** Requests the emulator saw (admin calls excluded). */
  requests(): { service: string; method: string; path: string; status: number; site?: string }[];
  stop(): Promise<void>;
}

/** Runs `node <script>` as a step or task runs it: its output collected, killed after `timeoutMs`. */
export async function runNodeProcess(
  script: string,
  o: {
    cwd: string;
    env: Record<string, string | undefined>;
    timeoutMs?: number;
    signal?: RunOptions['signal'];
    /** Arguments of the script (a CLI's command and flags), and of node itself (`--import tsx`). */
    args?: string[];
    nodeArgs?: string[];
  },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), script, ...(o.args ?? [])], {
    cwd: o.cwd,
    env: o.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let signalled = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (o.signal && !signalled && o.signal.when.test(stdout)) {
      signalled = true;
      child.kill(o.signal.name);
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
  const code: number = await new Promise((r) => child.on('close', (c) => r(c ?? -1)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Parses GITHUB_OUTPUT (`name<<delimiter` blocks and `name=value` lines). */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]);
      out[heredoc[1]] = value.join('\n');
      continue;
    }
    const eq = lines[i].indexOf('=');
    if (eq > 0) out[lines[i].slice(0, eq)] = lines[i].slice(eq + 1);
  }
  return out;
}

/** A fake `az` on PATH that answers `account show` and `account get-access-token` from the emulator's Entra. */
export function writeFakeAz(emu: RunningEmulator, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const script = `#!/usr/bin/env node
const args = process.argv.slice(2);
const c = ${JSON.stringify({
    tenantId: emu.tenantId,
    subscriptionId: emu.subscriptionId,
    authorityHost: emu.authorityHost,
    clientId: emu.servicePrincipal.clientId,
    clientSecret: emu.servicePrincipal.clientSecret,
  })};
if (args[0] === 'account' && args[1] === 'show') {
  process.stdout.write(JSON.stringify({ id: c.subscriptionId, tenantId: c.tenantId, user: { name: c.clientId, type: 'servicePrincipal' } }));
  process.exit(0);
}
if (args[0] === 'account' && args[1] === 'get-access-token') {
  const resource = args[args.indexOf('--resource') + 1];
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret, scope: resource.replace(/\\/+$/, '') + '/.default' });
  fetch(c.authorityHost + '/' + c.tenantId + '/oauth2/v2.0/token', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    .then((r) => r.json())
    .then((t) => {
      if (!t.access_token) { process.stderr.write('ERROR: ' + JSON.stringify(t)); process.exit(1); }
      const exp = Math.floor(Date.now() / 1000) + t.expires_in;
      process.stdout.write(JSON.stringify({ accessToken: t.access_token, expiresOn: new Date(exp * 1000).toISOString().replace('T', ' ').slice(0, 19), expires_on: exp, subscription: c.subscriptionId, tenant: c.tenantId, tokenType: 'Bearer' }));
    })
    .catch((e) => { process.stderr.write('ERROR: ' + e.message); process.exit(1); });
} else {
  process.stderr.write('ERROR: fake az does not know: ' + args.join(' '));
  process.exit(2);
}
`;
  const file = join(dir, 'az');
  writeFileSync(file, script);
  chmodSync(file, 0o755);
  return dir;
}

function copyApp(target: string, version: string): string {
  mkdirSync(target, { recursive: true });
  const src = join(REPO_ROOT, 'examples', 'node-app');
  for (const f of ['package.json', 'server.js']) writeFileSync(join(target, f), readFileSync(join(src, f)));
  writeFileSync(join(target, 'version.txt'), `${version}\n`);
  return target;
}

/**
 * The hooks every end-to-end file needs: one emulator for the file, emulator faults reset before each test, and
 * when the file ends, every run's output scanned for any secret the emulator issued.
 */
export function useE2E(onReady: (e: E2E) => void): void {
  let e: E2E | undefined;
  beforeAll(async () => {
    e = await setupE2E();
    onReady(e);
  }, 120_000);
  afterAll(async () => {
    if (!e) return;
    const running = e;
    const leaks = running.runs.flatMap((r) => findLeaks(r.everything, emulatorSecrets(running.emu)));
    await running.stop();
    expect(leaks).toEqual([]);
  });
  beforeEach(() => e?.emu.admin.reset());
}

export async function setupE2E(): Promise<E2E> {
  if (!existsSync(ACTION)) throw new Error(`${ACTION} is missing: run npm run build first`);
  const work = mkdtempSync(join(tmpdir(), 'runpack-e2e-'));
  const emu = await startEmulator({ stateDir: join(work, 'emulator') });
  const runs: ActionRun[] = [];
  const fakeAzDir = writeFakeAz(emu, join(work, 'fake-az'));
  let counter = 0;

  const creds = () =>
    JSON.stringify({
      clientId: emu.servicePrincipal.clientId,
      clientSecret: emu.servicePrincipal.clientSecret,
      tenantId: emu.tenantId,
      subscriptionId: emu.subscriptionId,
    });

  async function run(inputs: Record<string, string>, options: RunOptions = {}): Promise<ActionRun> {
    const n = ++counter;
    const dir = join(work, `run-${n}`);
    mkdirSync(dir, { recursive: true });
    const outputFile = join(dir, 'output');
    const summaryFile = join(dir, 'summary');
    writeFileSync(outputFile, '');
    writeFileSync(summaryFile, '');
    const auth = options.auth ?? 'creds';
    const env = stepEnv(emu, {
      dir,
      outputFile,
      summaryFile,
      workspace: options.cwd ?? REPO_ROOT,
      pathPrefix: auth === 'az' ? fakeAzDir : undefined,
    });
    if (auth === 'creds') env.INPUT_CREDS = creds();
    if (auth === 'oidc') {
      env['INPUT_CLIENT-ID'] = emu.oidc.clientId;
      env['INPUT_TENANT-ID'] = emu.tenantId;
      env.ACTIONS_ID_TOKEN_REQUEST_URL = emu.oidc.requestUrl;
      env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = emu.oidc.requestToken;
    }
    for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
    Object.assign(env, options.env ?? {});

    const { code, stdout, stderr } = await runNodeProcess(ACTION, {
      cwd: options.cwd ?? REPO_ROOT,
      env,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    const outputs = parseOutputs(readFileSync(outputFile, 'utf8'));
    const summary = readFileSync(summaryFile, 'utf8');
    const result: ActionRun = {
      code,
      stdout,
      stderr,
      outputs,
      summary,
      // ::add-mask:: lines are commands the runner consumes (it never prints them); everything else is visible.
      everything: [stdout.replace(/^::add-mask::.*$/gm, ''), stderr, summary, JSON.stringify(outputs)].join(
        '\n',
      ),
    };
    runs.push(result);
    return result;
  }

  return {
    emu,
    runs,
    work,
    run,
    creds,
    app: (version) => copyApp(join(work, `app-${version}-${++counter}`), version),
    requests: () => emu.admin.requests().filter((r) => r.service !== 'admin'),
    async stop() {
      await emu.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** The deploying principal's credential against the emulator's Entra (an independent reader of what runpack did). */
export function principalCredential(emu: RunningEmulator): ClientSecretCredential {
  return new ClientSecretCredential(
    emu.tenantId,
    emu.servicePrincipal.clientId,
    emu.servicePrincipal.clientSecret,
    { authorityHost: emu.authorityHost, disableInstanceDiscovery: true },
  );
}

/** The official App Service management client against the emulator's Resource Manager. */
export function appServiceClient(emu: RunningEmulator): WebSiteManagementClient {
  return new WebSiteManagementClient(principalCredential(emu), emu.subscriptionId, {
    endpoint: emu.resourceManagerEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
  });
}

/** GET a site through the emulator's proxy-free loopback URL (what the app answers now). */
export async function fetchSite(
  emu: RunningEmulator,
  app: string,
  path = '/',
  slot?: string,
): Promise<{ status: number; body: string }> {
  const a = emu.apps.find((x) => x.name === app);
  if (!a) throw new Error(`no app ${app}`);
  const base = slot ? a.slots.find((s) => s.name === slot)?.siteUrl : a.siteUrl;
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: await res.text() };
}

/**
 * Secrets the emulator issued that must never appear in what the action printed: the client secret, the
 * account keys, publishing passwords, SAS signatures in app settings, and any JWT.
 */
export function emulatorSecrets(emu: RunningEmulator): string[] {
  const out = new Set<string>([emu.servicePrincipal.clientSecret, emu.storage.accountKey]);
  for (const a of [...emu.ctx.storageAccounts.values()]) for (const k of a.keys) out.add(k.value);
  for (const s of emu.ctx.sites.values()) {
    out.add(s.publishingPassword);
    for (const v of Object.values(s.appSettings)) {
      const sig = /[?&]sig=([^&]+)/.exec(v)?.[1];
      if (sig) {
        out.add(sig);
        out.add(decodeURIComponent(sig));
      }
    }
  }
  return [...out].filter((s) => s && s.length >= 8);
}

export function findLeaks(text: string, secrets: string[]): string[] {
  const leaks = secrets.filter((s) => text.includes(s));
  const jwt = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/.exec(text);
  if (jwt) leaks.push(`a JWT (${jwt[0].slice(0, 16)}…)`);
  return leaks;
}
