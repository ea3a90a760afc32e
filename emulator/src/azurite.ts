/**
 * Azurite's blob service as a child process: HTTPS with an emulator certificate, `--oauth basic`, one custom
 * account (AZURITE_ACCOUNTS), strict mode (no `--loose`), `--skipApiVersionCheck`, data under the state dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface AzuriteProcess {
  /** https://127.0.0.1:<port> */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  dataDir: string;
  certPem: string;
  keyPem: string;
  accountName: string;
  accountKey: string;
  /** A second key (Azure accounts have key1 and key2). */
  secondaryKey?: string;
  /** Give up when Azurite is not listening after this long (default 20 s). */
  timeoutMs?: number;
}

function azuriteBlobMain(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
}

export async function startAzurite(opts: AzuriteOptions): Promise<AzuriteProcess> {
  mkdirSync(opts.dataDir, { recursive: true });
  const certPath = join(opts.dataDir, 'azurite-cert.pem');
  const keyPath = join(opts.dataDir, 'azurite-key.pem');
  writeFileSync(certPath, opts.certPem);
  writeFileSync(keyPath, opts.keyPem, { mode: 0o600 });
  const args = [
    azuriteBlobMain(),
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    '0',
    '--cert',
    certPath,
    '--key',
    keyPath,
    '--oauth',
    'basic',
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--silent',
    '--location',
    opts.dataDir,
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      AZURITE_ACCOUNTS: [
        opts.accountName,
        opts.accountKey,
        ...(opts.secondaryKey ? [opts.secondaryKey] : []),
      ].join(':'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Azurite did not start within ${opts.timeoutMs ?? 20000} ms: ${output.slice(-500)}`));
    }, opts.timeoutMs ?? 20000);
    const onData = (b: Buffer) => {
      output += b.toString('utf8');
      const m = /successfully listens on https:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code} before listening: ${output.slice(-500)}`));
    });
  });
  // Keep draining output so the pipe never fills.
  child.stdout?.resume();
  child.stderr?.resume();
  // Never leave Azurite behind when this process exits without stop().
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}
