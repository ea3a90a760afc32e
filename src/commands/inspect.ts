/**
 * `runpack inspect <zip-or-folder> [--runtime <r>] [--function-app] [--json] [--no-verify-data]`
 * Exit codes: 0 deployable, 1 an error-severity problem was found, 2 bad usage.
 */
import { formatBytes, inspect } from '../package/inspect.js';
import { RUNTIMES, type InspectOptions, type InspectReport, type Runtime } from '../package/types.js';
import { parseFlagTable, type FlagSpec } from '../flags.js';
import { UsageError } from '../util/errors.js';

export const INSPECT_HELP = `Usage: runpack inspect <zip-or-folder> [options]

Checks a zip (or a folder before packaging) for what breaks run-from-package: the runtime's entry point
at the root, nested folders, source instead of build output, unsafe or duplicate paths, links,
encryption, damaged archives, size and missing dependencies.

Options:
  --runtime <r>      check against one runtime: ${RUNTIMES.join(', ')} (detected when absent or auto)
  --function-app     the target is a function app: host.json must be at the root
  --json             print exactly one JSON object: {ok, runtime, entryPoint, files, bytes, problems, ...}
  --no-verify-data   skip inflating every entry to check its CRC (headers are still checked)
  -h, --help         show this help

Exit codes: 0 deployable, 1 problems of error severity found, 2 bad usage.
See docs/inspect.md for every check and how to fix it.`;

interface InspectArgs {
  target: string;
  json: boolean;
  options: InspectOptions;
}

const INSPECT_FLAGS: FlagSpec[] = [
  { name: 'runtime', kind: 'value' },
  { name: 'function-app', kind: 'switch' },
  { name: 'verify-data', kind: 'boolean' },
  { name: 'json', kind: 'switch' },
  { name: 'help', kind: 'switch', aliases: ['-h'] },
];

export function parseInspectArgs(argv: string[]): InspectArgs | 'help' {
  const f = parseFlagTable(argv, INSPECT_FLAGS, {
    command: 'inspect',
    positionals: 1,
    positionalWhat: 'one zip or folder',
  });
  if (f.switches.has('help')) return 'help';
  const options: InspectOptions = {};
  if (f.switches.has('function-app')) options.functionApp = true;
  const verify = f.values.get('verify-data');
  if (verify !== undefined) {
    if (!/^(true|false)$/i.test(verify))
      throw new UsageError(`--verify-data must be true or false, got '${verify}'.`);
    options.verifyData = verify.toLowerCase() === 'true';
  }
  const runtime = f.values.get('runtime');
  if (runtime === '') throw new UsageError(`--runtime needs a value: one of ${RUNTIMES.join(', ')}.`);
  if (runtime !== undefined && runtime !== 'auto') {
    if (!(RUNTIMES as readonly string[]).includes(runtime))
      throw new UsageError(
        `--runtime '${runtime}' is not a runtime runpack knows; use one of ${RUNTIMES.join(', ')} or auto.`,
      );
    options.runtime = runtime as Runtime;
  }
  const target = f.positionals[0];
  if (target === undefined)
    throw new UsageError('inspect needs the zip or folder to check: runpack inspect <zip-or-folder>');
  return { target, json: f.switches.has('json'), options };
}

/** The readable report: what was found, each problem with its fix, and a verdict. */
export function formatReport(target: string, report: InspectReport, forced: boolean): string {
  const lines: string[] = [];
  lines.push(`runpack inspect ${target}`);
  lines.push(
    `  runtime:     ${report.runtime}${forced ? '' : report.runtime === 'unknown' ? '' : ' (detected)'}`,
  );
  lines.push(`  entry point: ${report.entryPoint ?? '(none)'}`);
  lines.push(`  files:       ${report.files} (${formatBytes(report.bytes)} uncompressed)`);
  if (report.functions)
    lines.push(`  functions:   ${report.functions.length ? report.functions.join(', ') : '(none found)'}`);
  if (report.stamp) lines.push(`  stamp:       content sha256 ${report.stamp.contentSha256}`);
  lines.push('');
  for (const p of report.problems) {
    lines.push(`${p.severity === 'error' ? 'error  ' : 'warning'} [${p.code}] ${p.message}`);
  }
  if (report.problems.length) lines.push('');
  const errors = report.problems.filter((p) => p.severity === 'error').length;
  const warnings = report.problems.length - errors;
  const counts = `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
  lines.push(
    report.ok
      ? `OK: deployable with run-from-package (${counts}).`
      : `NOT DEPLOYABLE: ${counts}. Fix the errors above (docs/inspect.md explains each code).`,
  );
  return lines.join('\n');
}

export async function runInspect(argv: string[]): Promise<number> {
  const args = parseInspectArgs(argv);
  if (args === 'help') {
    process.stdout.write(`${INSPECT_HELP}\n`);
    return 0;
  }
  const report = await inspect(args.target, args.options);
  if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else
    process.stdout.write(
      `${formatReport(args.target, report, args.options.runtime !== undefined || args.options.functionApp === true)}\n`,
    );
  return report.ok ? 0 : 1;
}
