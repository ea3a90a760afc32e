/**
 * `runpack deploy --app-name … [options]`: the same engine as the action, with the report on stdout
 * (`--json` for the result object). Flags have the action's input names.
 */
import { execFile } from 'node:child_process';
import { runDeploy as deployEngine } from '../deploy/run.js';
import { checkArchive, validateLocal } from '../deploy/engine.js';
import { CLI_NAMING, cliHelp, parseFlags, parseInputs, secretInputValues } from '../inputs.js';
import { cliWords } from '../ops/command.js';
import { mapSink, streamSink } from '../report/log.js';
import { createSecretRegistry } from '../report/secrets.js';
import { outputsOf, renderText } from '../report/summary.js';
import { UsageError } from '../util/errors.js';
import { listenForCancellation } from '../util/cancel.js';
import { envIdToken } from '../azure/credentials.js';
import { createHttpClient } from '../azure/http.js';

export async function runDeploy(argv: string[]): Promise<number> {
  const flags = parseFlags(argv);
  if (flags.help) {
    process.stdout.write(cliHelp() + '\n');
    return 0;
  }
  const raw = (name: string) =>
    flags.values.get(name) ?? (name === 'creds' ? process.env.AZURE_CREDENTIALS : undefined);
  const secrets = createSecretRegistry();
  for (const s of secretInputValues(raw)) secrets.add(s);
  const inputs = parseInputs(raw, process.env, CLI_NAMING);
  // The package path is the user's to fix: a usage error (exit 2) before any Azure call, as for the other commands.
  await checkArchive(inputs, validateLocal(inputs));
  if (inputs.command === 'rollback')
    throw new UsageError(
      "Use 'runpack rollback --app-name <app> --release <id>' to roll back from the command line.",
    );
  const sink = mapSink(
    flags.json ? streamSink(process.stderr, process.stderr) : streamSink(process.stdout, process.stderr),
    cliWords,
  );
  const cancellation = listenForCancellation();
  const result = await deployEngine(inputs, {
    env: process.env,
    sink,
    secrets,
    getIdToken: envIdToken(process.env, createHttpClient()),
    runAz: (args) =>
      new Promise((resolve) =>
        execFile('az', args, { timeout: 60_000 }, (err, stdout) => resolve(err ? null : String(stdout))),
      ),
    signal: cancellation.signal,
  });
  cancellation.dispose();
  if (result.error) result.error = cliWords(result.error);
  if (flags.json) {
    process.stdout.write(
      secrets.redact(JSON.stringify({ ...result, outputs: outputsOf(result) }, null, 2)) + '\n',
    );
  } else {
    process.stdout.write(cliWords(renderText(result, secrets)));
  }
  return result.ok ? 0 : cancellation.reason() ? cancellation.exitCode() : 1;
}
