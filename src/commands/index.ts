/**
 * Command dispatch for the runpack CLI. Each command module exports `(argv) => Promise<exitCode>`.
 * Exit codes: 0 success, 1 the command ran and found a failure, 2 bad usage.
 */
import { describeError, RunpackError, UsageError } from '../util/errors.js';
import { RUNPACK_VERSION } from '../version.js';
import { cancelledOpsError, cliWords, listenForOpsCancellation } from '../ops/command.js';

export type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  package: {
    summary: 'zip a publish folder deterministically: runpack package <dir> -o <out.zip>',
    load: async () => (await import('./package.js')).runPackage,
  },
  inspect: {
    summary:
      'check a zip or folder for run-from-package: runpack inspect <zip-or-dir> [--runtime r] [--json]',
    load: async () => (await import('./inspect.js')).runInspect,
  },
  deploy: {
    summary: 'package, upload, set, restart and verify: runpack deploy --app-name <app> [options]',
    load: async () => (await import('./deploy.js')).runDeploy,
  },
  diagnose: {
    summary:
      'read-only: which run-from-package failure is it, with evidence and fix: runpack diagnose --app-name <app>',
    load: async () => (await import('./diagnose.js')).runDiagnose,
  },
  releases: {
    summary:
      'list releases newest first, mark the live one, prune old ones: runpack releases --app-name <app>',
    load: async () => (await import('./releases.js')).runReleases,
  },
  rollback: {
    summary:
      'make an earlier release live again, restart and verify: runpack rollback --app-name <app> [--release id]',
    load: async () => (await import('./rollback.js')).runRollbackCommand,
  },
  audit: {
    summary:
      'find writes under the app root that fail on a read-only mount: runpack audit <source-dir> [--json]',
    load: async () => (await import('./audit.js')).runAudit,
  },
};

export function usage(): string {
  const lines = ['Usage: runpack <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push(
    '',
    'Options: --version prints the version; every command takes --help, and --json for a JSON result (on failure too).',
    "Run 'runpack <command> --help' for a command's options.",
  );
  return lines.join('\n');
}

export async function cli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`${RUNPACK_VERSION}\n`);
    return 0;
  }
  const json = rest.includes('--json');
  const command = COMMANDS[name];
  if (!command) {
    const message = `unknown command '${name}'; run 'runpack --help' for the list.`;
    if (json) writeJsonError(new UsageError(message));
    else process.stderr.write(`runpack: ${message}\n`);
    return 2;
  }
  // The operator commands stop at SIGINT/SIGTERM and say where (deploy listens on its own).
  const cancellation = OPERATOR_COMMANDS.includes(name) ? listenForOpsCancellation() : undefined;
  try {
    const code = await (await command.load())(rest);
    return cancellation?.reason() ? cancellation.exitCode() : code;
  } catch (err) {
    const failure = cancellation?.reason() ? cancelledOpsError(name, err, cancellation.reason()) : err;
    // --json: one JSON object on stdout for a failure as for a success, so scripts always parse the same thing.
    if (json) writeJsonError(failure);
    else process.stderr.write(`runpack ${name}: ${cliWords(describeError(failure))}\n`);
    return cancellation?.reason() ? cancellation.exitCode() : err instanceof UsageError ? 2 : 1;
  } finally {
    cancellation?.dispose();
  }
}

const OPERATOR_COMMANDS = ['diagnose', 'releases', 'rollback'];

function writeJsonError(err: unknown): void {
  const errorCode = err instanceof RunpackError ? err.code : 'unexpected';
  process.stdout.write(
    JSON.stringify({ ok: false, error: cliWords(describeError(err)), errorCode }, null, 2) + '\n',
  );
}
