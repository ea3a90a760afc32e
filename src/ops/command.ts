/**
 * The shared shell of `runpack diagnose|releases|rollback`: I/O streams and environment (injectable for tests),
 * the log sink (stderr when stdout carries JSON), the job summary (GITHUB_STEP_SUMMARY) and the help text.
 */
import { appendFileSync } from 'node:fs';
import type { HttpClient } from '../azure/http.js';
import { CLI_NAMING, INPUTS, speak } from '../inputs.js';
import { mapSink, streamSink } from '../report/log.js';
import type { SecretRegistry } from '../report/secrets.js';
import { listenForCancellation, type Cancellation } from '../util/cancel.js';
import { RunpackError } from '../util/errors.js';
import { SHARED_FLAGS, type OpsDeps } from './session.js';

export interface CommandIO {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Tests may inject the HTTP client. */
  http?: HttpClient;
  /** The command's cancellation (default: SIGINT/SIGTERM of this process). */
  signal?: AbortSignal;
}

export function defaultIO(): CommandIO {
  return { env: process.env, stdout: process.stdout, stderr: process.stderr };
}

/** The operator commands' messages in the CLI's words (flags, not action inputs). */
export const cliWords = (text: string): string => speak(text, CLI_NAMING);

let cancellation: Cancellation | undefined;

/**
 * The running operator command's cancellation (SIGINT/SIGTERM), started by the CLI's dispatcher around the
 * command and ended after it; a command run in-process without the dispatcher has none.
 */
export function listenForOpsCancellation(): Cancellation {
  const c = listenForCancellation();
  cancellation = c;
  return {
    ...c,
    dispose() {
      c.dispose();
      if (cancellation === c) cancellation = undefined;
    },
  };
}

/**
 * A cancelled operator command's one line: the command's own account when it gave one (a rollback says what is
 * live), otherwise that nothing was changed. `signal` names the signal when known (`Cancelled (SIGINT): …`).
 */
export function cancelledOpsError(command: string, err: unknown, signal?: string): unknown {
  if (err instanceof RunpackError && err.code === 'cancelled') return err;
  const what =
    command === 'rollback' ? 'the rollback changed nothing' : `${command} only reads, so nothing was changed`;
  return new RunpackError('cancelled', `Cancelled${signal ? ` (${signal})` : ''}: ${what}.`);
}

/** Logs go to stderr; stdout carries only the report (text or JSON). */
export function depsFor(io: CommandIO, secrets: SecretRegistry): OpsDeps {
  return {
    env: io.env,
    sink: mapSink(streamSink(io.stderr, io.stderr), cliWords),
    secrets,
    ...((io.signal ?? cancellation?.signal) ? { signal: io.signal ?? cancellation?.signal } : {}),
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

/** Where an operator command reads a shared flag differently from a deploy (the deploy's words come from INPUTS). */
const OPS_MEANING: Partial<Record<(typeof SHARED_FLAGS)[number], string>> = {
  'app-name': 'App Service or Function App (required).',
  'storage-account': "Storage account of the release blobs; found from the app's package URL when not given.",
  container: "Blob container of the releases; the one in the app's package URL when not given.",
  slot: 'Deployment slot (production when not given).',
  'health-path': 'Path on the app to probe (default: the root); after a rollback it must answer 2xx.',
  'timeout-minutes': 'Give up after this many minutes.',
};

/** The shared flags' help, from the inputs table (the same names, defaults and words as a deploy's). */
function commonHelp(): [string, string][] {
  const rows = SHARED_FLAGS.map((name): [string, string] => {
    const def = INPUTS.find((d) => d.name === name)!;
    const text = OPS_MEANING[name] ?? def.description;
    const dflt = def.default !== undefined && def.default !== '' ? ` (default: ${def.default})` : '';
    return [`--${name} <value>`, speak(`${text}${dflt}`, CLI_NAMING)];
  });
  return [
    ...rows,
    ['--json', 'Print the result as JSON on stdout (the log goes to stderr).'],
    ['--help', 'Show this help.'],
  ];
}

export function helpText(usage: string, about: string, own: [string, string][]): string {
  const lines = [`Usage: ${usage}`, '', about, '', 'Options:'];
  for (const [flag, text] of [...own, ...commonHelp()]) lines.push(`  ${flag}`, `      ${text}`);
  lines.push(
    '',
    'Without --client-id/--creds an Azure CLI login (az) is used. Exit codes: 0 ok, 1 failure found, 2 bad usage.',
  );
  return lines.join('\n') + '\n';
}
