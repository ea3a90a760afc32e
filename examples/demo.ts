/**
 * The runpack demo (`npm run demo`, after `npm run build`): starts the emulator in this process, deploys the
 * example app (examples/node-app) as v1 by running the built action (dist/index.js) the way GitHub runs a
 * step, shows the app answering v1, deploys v2, shows it answering v2, and prints the job summary.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startEmulator, type RunningEmulator } from '../emulator/src/index.js';

const root = resolve(new URL('..', import.meta.url).pathname);
const action = join(root, 'dist', 'index.js');
const APP = 'rp-linux-web';

function say(line: string): void {
  process.stdout.write(`\x1b[1m▶ ${line}\x1b[0m\n`);
}

/** GET the app through its loopback URL, trusting the emulator's CA. */
function getApp(emu: RunningEmulator, path: string): Promise<string> {
  const site = emu.apps.find((a) => a.name === APP)!.siteUrl;
  const ca = readFileSync(emu.caCertPath);
  return new Promise((ok, fail) => {
    const req = request(`${site}${path}`, { ca }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => ok(`HTTP ${res.statusCode}: ${body.trim()}`));
    });
    req.on('error', fail);
    req.end();
  });
}

async function deploy(
  emu: RunningEmulator,
  work: string,
  version: string,
): Promise<{ code: number; summary: string; outputs: string }> {
  const appDir = join(work, `app-${version}`);
  cpSync(join(root, 'examples', 'node-app'), appDir, { recursive: true });
  writeFileSync(join(appDir, 'version.txt'), `${version}\n`);
  const outputFile = join(work, `output-${version}`);
  const summaryFile = join(work, `summary-${version}`);
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: work,
    ...emu.env,
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_SHA: `${version}000000000000000000000000000000000000000`.slice(0, 40),
    GITHUB_REPOSITORY: 'octo-org/octo-app',
    GITHUB_RUN_ID: '1',
    GITHUB_SERVER_URL: 'https://github.com',
    RUNNER_TEMP: work,
    // The step's inputs, as GitHub passes them.
    'INPUT_APP-NAME': APP,
    INPUT_PACKAGE: appDir,
    'INPUT_STORAGE-ACCOUNT': emu.storage.accountName,
    'INPUT_HEALTH-PATH': '/healthz',
    INPUT_EXPECT: version,
    'INPUT_RESOURCE-MANAGER-ENDPOINT': emu.resourceManagerEndpoint,
    // OIDC login: the job's id-token, exchanged for an Entra token of the federated app registration.
    'INPUT_CLIENT-ID': emu.oidc.clientId,
    'INPUT_TENANT-ID': emu.tenantId,
    ACTIONS_ID_TOKEN_REQUEST_URL: emu.oidc.requestUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: emu.oidc.requestToken,
  };
  const child = spawn(process.execPath, [action], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', (d: Buffer) => {
    // The runner consumes workflow commands; show the log as a user sees it.
    const text = d
      .toString()
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::') && !l.startsWith('::debug::'))
      .map((l) =>
        l
          .replace(/^::group::/, '  ┌ ')
          .replace(/^::endgroup::/, '  └')
          .replace(/^::(warning|error)::/, '  $1: '),
      )
      .join('\n');
    process.stdout.write(text.replace(/^(?! {2}[┌└]| {2}(warning|error): )(.+)$/gm, '  │ $2'));
  });
  const code: number = await new Promise((r) => child.on('close', (c) => r(c ?? 1)));
  return { code, summary: readFileSync(summaryFile, 'utf8'), outputs: readFileSync(outputFile, 'utf8') };
}

async function main(): Promise<number> {
  if (!existsSync(action)) {
    process.stderr.write('dist/index.js is missing; run `npm run build` first.\n');
    return 1;
  }
  const work = mkdtempSync(join(tmpdir(), 'runpack-demo-'));
  say('Starting the emulator (Resource Manager, Entra ID, GitHub OIDC, Kudu, the app workers, Azurite)…');
  const emu = await startEmulator({ stateDir: join(work, 'emulator') });
  try {
    say(`Deploying v1 of examples/node-app to ${APP} with the action (dist/index.js)…`);
    const v1 = await deploy(emu, work, 'v1');
    if (v1.code !== 0) throw new Error('the v1 deploy failed');
    say(`The app answers: ${await getApp(emu, '/')}`);

    say(`Deploying v2…`);
    const v2 = await deploy(emu, work, 'v2');
    if (v2.code !== 0) throw new Error('the v2 deploy failed');
    say(`The app answers: ${await getApp(emu, '/')}`);

    say('Job summary of the v2 deploy:');
    process.stdout.write(`\n${v2.summary}\n`);
    say('Done.');
    return 0;
  } catch (err) {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await emu.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

process.exitCode = await main();
