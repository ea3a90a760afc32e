/**
 * The emulator's command line.
 *   tsx emulator/src/cli.ts ca --dir DIR        create DIR/ca.pem and its key once (reused when present)
 *   tsx emulator/src/cli.ts [--state-dir DIR] [--port N] [--config FILE]
 *                                               run the emulator in the foreground until Ctrl-C
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startEmulator, type RunningEmulator } from './index.js';
import { ensureCa } from './tls.js';

export interface ParsedArgs {
  command: 'ca' | 'run' | 'help';
  dir?: string;
  stateDir?: string;
  port?: number;
  config?: string;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const out: ParsedArgs = { command: 'run' };
  const args = [...argv];
  if (args[0] === 'ca') {
    out.command = 'ca';
    args.shift();
  } else if (args[0] === 'run') {
    args.shift();
  }
  while (args.length) {
    const a = args.shift()!;
    const [flag, inline] = a.includes('=')
      ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
      : [a, undefined];
    const value = (): string => {
      const v = inline ?? args.shift();
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '-h':
      case '--help':
        out.command = 'help';
        break;
      case '--dir':
        out.dir = value();
        break;
      case '--state-dir':
        out.stateDir = value();
        break;
      case '--config':
        out.config = value();
        break;
      case '--port': {
        const v = value();
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 65535)
          throw new Error(`--port must be a port number, got '${v}'`);
        out.port = n;
        break;
      }
      default:
        throw new Error(`unknown option '${a}'`);
    }
  }
  if (out.command === 'ca' && !out.dir) throw new Error('ca needs --dir DIR');
  return out;
}

export const USAGE = `Usage:
  npm run emulator -- [--state-dir DIR] [--port N] [--config FILE]   run until Ctrl-C
  npm run emulator -- ca --dir DIR                                   create (once) DIR/ca.pem for NODE_EXTRA_CA_CERTS
`;

/** The how-to printed at start: which variables and runpack inputs point runpack at this emulator. */
export function howTo(e: RunningEmulator): string {
  const app = e.apps[0]!;
  return [
    `runpack emulator is running (state: ${e.stateDir}).`,
    '',
    'Environment for runpack (Node reads NODE_EXTRA_CA_CERTS at start):',
    `  export NODE_EXTRA_CA_CERTS=${e.caCertPath}`,
    `  export HTTPS_PROXY=${e.proxyUrl}`,
    `  export NO_PROXY=127.0.0.1,localhost`,
    '',
    'runpack inputs:',
    `  resource-manager-endpoint: ${e.resourceManagerEndpoint}`,
    `  tenant-id:                 ${e.tenantId}`,
    `  subscription-id:           ${e.subscriptionId}`,
    `  resource-group:            ${e.resourceGroup}`,
    `  client-id:                 ${e.servicePrincipal.clientId}`,
    `  client-secret:             (servicePrincipal.clientSecret in ${e.stateDir}/connection.json)`,
    `  authority host:            ${e.authorityHost} (AZURE_AUTHORITY_HOST)`,
    `  app-name:                  ${e.apps.map((a) => a.name).join(' | ')}`,
    '',
    'GitHub OIDC (for client-id without a secret):',
    `  ACTIONS_ID_TOKEN_REQUEST_URL=${e.oidc.requestUrl}`,
    '  ACTIONS_ID_TOKEN_REQUEST_TOKEN=(oidc.requestToken in connection.json)',
    '',
    `Storage account ${e.storage.accountName}: ${e.storage.blobEndpoint}`,
    `Example site: ${app.defaultHostUrl} (through the proxy) or ${app.siteUrl}`,
    `Everything else: ${e.stateDir}/connection.json. Admin API (tests): ${e.adminUrl}`,
    'Press Ctrl-C to stop.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`emulator: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.command === 'ca') {
    const ca = ensureCa(resolve(args.dir!));
    process.stdout.write(`${ca.certPath}\n`);
    return 0;
  }
  const emulator = await startEmulator({ stateDir: args.stateDir, port: args.port, configFile: args.config });
  process.stdout.write(howTo(emulator) + '\n');
  await new Promise<void>((done) => {
    const stop = () => {
      process.stdout.write('Stopping the emulator...\n');
      void emulator.stop().then(done, done);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`emulator: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
