/**
 * End-to-end setup for the operator commands: one emulator per test file, the app put into a state through
 * the deploy engine in-process (or the storage SDK), and the commands run through their exported functions
 * with captured stdout/stderr. The test CA must be trusted by this process (script/test exports
 * RUNPACK_TEST_CA_DIR and NODE_EXTRA_CA_CERTS).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { startEmulator, type RunningEmulator } from '../../emulator/src/index.js';
import { runEngine, type DeployResult } from '../../src/deploy/engine.js';
import { parseInputs } from '../../src/inputs.js';
import type { CommandIO } from '../../src/ops/command.js';
import { openSession, type OpsSession } from '../../src/ops/session.js';
import { memorySink } from '../../src/report/log.js';
import { createSecretRegistry } from '../../src/report/secrets.js';

export const REPO_ROOT = resolve(new URL('../..', import.meta.url).pathname);

export interface OpsE2E {
  emu: RunningEmulator;
  work: string;
  creds: string;
  /** Everything the commands printed, for the secret scan. */
  printed: string[];
  /** Deploys through the engine in-process; `fastClock` makes its waits pass quickly (a release that never verifies). */
  deploy(inputs: Record<string, string>, options?: { fastClock?: boolean }): Promise<DeployResult>;
  /** Runs a command function with captured output. */
  cli(
    fn: (argv: string[], io: CommandIO) => Promise<number>,
    argv: string[],
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Writes an app folder: the example app answering `version`, or a variant. */
  app(version: string, variant?: 'good' | 'writes-wwwroot' | 'broken-health'): string;
  /** A logged-in session on an app (Resource Manager client, target), for setting up state. */
  session(app: string, slot?: string): Promise<OpsSession>;
  /** Restart a site's worker (the platform's remount), as a restart or scale-out would. */
  remount(app: string, slot?: string): Promise<void>;
  /** Requests that write: anything but GET/HEAD and Resource Manager's read POSTs (admin and Entra excluded). */
  writes(): { service: string; method: string; path: string }[];
  stop(): Promise<void>;
}

const READ_POSTS = /\/config\/appsettings\/list|\/listKeys|\/publishingcredentials\/list/i;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

/** A clock whose sleeps move its time forward at once (with a short real pause so the emulator can work). */
function fastClock(): { now(): number; sleep(ms: number): Promise<void> } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    sleep: async (ms) => {
      offset += Math.max(0, ms - 50);
      await new Promise((r) => setTimeout(r, Math.min(ms, 50)));
    },
  };
}

export async function setupOpsE2E(): Promise<OpsE2E> {
  const caDir = process.env.RUNPACK_TEST_CA_DIR;
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (!caDir || !extra || resolve(extra) !== resolve(caDir, 'ca.pem'))
    throw new Error(
      'end-to-end tests need the test CA: run `tsx emulator/src/cli.ts ca --dir DIR`, then export RUNPACK_TEST_CA_DIR=DIR and NODE_EXTRA_CA_CERTS=DIR/ca.pem (script/test does this)',
    );
  const work = mkdtempSync(join(tmpdir(), 'runpack-ops-e2e-'));
  const emu = await startEmulator({ caDir, stateDir: join(work, 'emulator') });
  // Azure-style host names (sites, SCM) go through the emulator's proxy; loopback endpoints do not.
  const saved = Object.fromEntries(Object.keys(emu.env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, emu.env);
  const creds = JSON.stringify({
    clientId: emu.servicePrincipal.clientId,
    clientSecret: emu.servicePrincipal.clientSecret,
    tenantId: emu.tenantId,
    subscriptionId: emu.subscriptionId,
  });
  const printed: string[] = [];
  let counter = 0;

  const env = (): Record<string, string | undefined> => ({
    ...process.env,
    ...emu.env,
    PATH: '/usr/bin:/bin',
  });

  return {
    emu,
    work,
    creds,
    printed,
    async deploy(inputs, options = {}) {
      const raw: Record<string, string> = {
        'resource-manager-endpoint': emu.resourceManagerEndpoint,
        creds,
        'timeout-minutes': '3',
        ...inputs,
      };
      const parsed = parseInputs((n) => raw[n], {});
      const sink = memorySink();
      const result = await runEngine(parsed, {
        env: { ...env(), RUNNER_TEMP: work },
        sink,
        getIdToken: async () => {
          throw new Error('no OIDC in these tests');
        },
        runAz: async () => null,
        ...(options.fastClock ? { clock: fastClock() } : {}),
      });
      printed.push(sink.lines.join('\n'));
      return result;
    },
    async cli(fn, argv) {
      const stdout = new Capture();
      const stderr = new Capture();
      const code = await fn(
        ['--resource-manager-endpoint', emu.resourceManagerEndpoint, '--creds', creds, ...argv],
        { env: env(), stdout, stderr },
      );
      printed.push(stdout.text, stderr.text);
      return { code, stdout: stdout.text, stderr: stderr.text };
    },
    app(version, variant = 'good') {
      const dir = join(work, `app-${version}-${++counter}`);
      mkdirSync(dir, { recursive: true });
      const src = join(REPO_ROOT, 'examples', 'node-app');
      writeFileSync(join(dir, 'package.json'), readFileSync(join(src, 'package.json')));
      writeFileSync(join(dir, 'version.txt'), `${version}\n`);
      if (variant === 'good') writeFileSync(join(dir, 'server.js'), readFileSync(join(src, 'server.js')));
      else
        writeFileSync(
          join(dir, 'server.js'),
          variant === 'writes-wwwroot'
            ? `import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
createServer((req, res) => {
  try {
    writeFileSync(new URL('./cache.json', import.meta.url), '{}');
    res.end('ok');
  } catch (err) {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end(String(err && err.message));
  }
}).listen(Number(process.env.PORT || 8080));
`
            : `import { createServer } from 'node:http';
createServer((req, res) => {
  res.writeHead(500, { 'Content-Type': 'text/plain' });
  res.end('broken ${version}');
}).listen(Number(process.env.PORT || 8080));
`,
        );
      return dir;
    },
    async session(app, slot) {
      const raw: Record<string, string> = {
        'app-name': app,
        ...(slot ? { slot } : {}),
        'resource-manager-endpoint': emu.resourceManagerEndpoint,
        creds,
      };
      return openSession(
        parseInputs((n) => raw[n], {}),
        {
          env: env(),
          sink: memorySink(),
          secrets: createSecretRegistry(),
          runAz: async () => null,
        },
      );
    },
    async remount(app, slot) {
      const site = [...emu.ctx.sites.values()].find(
        (s) => s.appName === app && (s.slotName ?? undefined) === slot,
      );
      if (!site) throw new Error(`no site ${app}/${slot ?? ''}`);
      await emu.ctx.workers.get(site.id.toLowerCase())!.restart();
    },
    writes() {
      return emu.admin
        .requests()
        .filter((r) => !['admin', 'entra', 'oidc', 'proxy'].includes(r.service))
        .filter((r) => !/^(GET|HEAD)$/.test(r.method) && !(r.method === 'POST' && READ_POSTS.test(r.path)))
        .map((r) => ({ service: r.service, method: r.method, path: r.path }));
    },
    async stop() {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await emu.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
