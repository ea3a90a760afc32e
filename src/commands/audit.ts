/** `runpack audit <source-dir> [--json] [--runtime r]`: find writes under the app root that fail on a read-only mount. */
import { parseArgs } from 'node:util';
import { auditSource, formatText } from '../audit/index.js';
import { AUDIT_RUNTIMES, type AuditRuntime } from '../audit/types.js';
import { UsageError } from '../util/errors.js';

const HELP = `Usage: runpack audit <source-dir> [--json] [--runtime node|dotnet|python|java|functions]

Scans application source and logging config for writes under the app's own folder (__dirname,
AppContext.BaseDirectory, __file__, user.dir, relative paths), which fail once run-from-package
mounts the app read-only. Exit code: 0 no finding, 1 findings, 2 bad usage.

  --json           print one JSON object: { root, filesScanned, findings: [{ file, line, column, rule, runtime, severity, message, why, fix }] }
  --runtime <r>    only audit files of this runtime (default, and 'functions': all)`;

export async function runAudit(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        runtime: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError(
      `${(err as Error).message.split('\n')[0]}. Run 'runpack audit --help' for the options.`,
    );
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "give the folder to audit, e.g. 'runpack audit ./src'."
        : `give one folder to audit, got ${positionals.length}: ${positionals.join(' ')}.`,
    );
  }
  // A function app can be written in any of the languages: audit them all.
  const runtime = values.runtime === 'functions' ? undefined : values.runtime;
  if (runtime !== undefined && !(AUDIT_RUNTIMES as readonly string[]).includes(runtime)) {
    throw new UsageError(
      `--runtime '${runtime}' has no audit rules; use one of ${AUDIT_RUNTIMES.join(', ')} or functions, or leave it out to audit all.`,
    );
  }
  const report = await auditSource(positionals[0], { runtime: runtime as AuditRuntime | undefined });
  process.stdout.write(
    (values.json ? JSON.stringify(report) : formatText(report, { pathPrefix: positionals[0] })) + '\n',
  );
  return report.findings.length > 0 ? 1 : 0;
}
