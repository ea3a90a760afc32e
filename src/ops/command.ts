/**
 * The shared shell of `runpack diagnose|releases|rollback`: I/O streams and environment (injectable for tests),
 * the log sink (stderr when stdout carries JSON), the job summary (GITHUB_STEP_SUMMARY) and the help text.
 */
import { appendFileSync } from 'node:fs';
import type { HttpClient } from '../azure/http.js';
import { CLI_NAMING, speak } from '../inputs.js';
import { mapSink, streamSink } from '../report/log.js';
import type { SecretRegistry } from '../report/secrets.js';
import type { OpsDeps } from './session.js';

export interface CommandIO {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Tests may inject the HTTP client. */
  http?: HttpClient;
}

export function defaultIO(): CommandIO {
  return { env: process.env, stdout: process.stdout, stderr: process.stderr };
}

/** The operator commands' messages in the CLI's words (flags, not action inputs). */
export const cliWords = (text: string): string => speak(text, CLI_NAMING);

/** Logs go to stderr; stdout carries only the report (text or JSON). */
export function depsFor(io: CommandIO, secrets: SecretRegistry): OpsDeps {
  return {
    env: io.env,
    sink: mapSink(streamSink(io.stderr, io.stderr), cliWords),
    secrets,
    ...(io.http ? { http: io.http } : {}),
  };
}

/** Prints a result as JSON on stdout, secrets redacted. */
export function writeJson(io: CommandIO, secrets: SecretRegistry, value: unknown): void {
  io.stdout.write(cliWords(secrets.redact(JSON.stringify(value, null, 2))) + '\n');
}

/** Appends markdown to the GitHub job summary when running in Actions. */
export function writeSummary(io: CommandIO, markdown: string): void {
  const file = io.env.GITHUB_STEP_SUMMARY;
  if (!file) return;
  try {
    appendFileSync(file, markdown + '\n');
  } catch {
    // A summary that cannot be written is not worth failing the command for.
  }
}

const COMMON = [
  ['--app-name <app>', 'App Service or Function App (required).'],
  ['--resource-group <rg>', "Resource group of the app; found from the subscription's apps when not given."],
  ['--subscription-id <id>', 'Subscription; from the login when not given.'],
  ['--slot <slot>', 'Deployment slot (production when not given).'],
  [
    '--storage-account <name>',
    "Storage account of the release blobs; found from the app's package URL when not given.",
  ],
  ['--container <name>', "Blob container of the releases (default: the package URL's, else app-packages)."],
  ['--resource-manager-endpoint <url>', 'Resource Manager URL (default https://management.azure.com).'],
  ['--client-id <id>, --tenant-id <id>', 'Log in with GitHub OIDC (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN).'],
  ['--creds <json>', 'Log in with a service principal (azure/login JSON; or AZURE_CREDENTIALS).'],
  ['--timeout-minutes <n>', 'Give up after this many minutes (default 15).'],
  ['--json', 'Print the result as JSON on stdout (the log goes to stderr).'],
  ['--help', 'Show this help.'],
] as const;

export function helpText(usage: string, about: string, own: [string, string][]): string {
  const lines = [`Usage: ${usage}`, '', about, '', 'Options:'];
  for (const [flag, text] of [...own, ...COMMON]) lines.push(`  ${flag}`, `      ${text}`);
  lines.push(
    '',
    'Without --client-id/--creds an Azure CLI login (az) is used. Exit codes: 0 ok, 1 failure found, 2 bad usage.',
  );
  return lines.join('\n') + '\n';
}
