/**
 * `runpack diagnose --app-name <app> [options]`: read-only. Names which of the run-from-package failure causes
 * the app suffers from, with the evidence and the fix for each finding. Exit 1 when an error-level finding
 * exists.
 */
import {
  cliWords,
  defaultIO,
  depsFor,
  helpText,
  writeJson,
  writeSummary,
  type CommandIO,
} from '../ops/command.js';
import { renderDiagnoseMarkdown, renderDiagnoseText, runDiagnosis } from '../ops/diagnose.js';
import { openSession, parseOpsFlags } from '../ops/session.js';

export const DIAGNOSE_HELP = helpText(
  'runpack diagnose --app-name <app> [options]',
  'Read-only check of a run-from-package app: the setting and its mode, the SAS, the package fetched as the\n' +
    "worker fetches it, the archive's central directory, the stored access policy, the identity's role, the\n" +
    'mounted content through Kudu, settings that fight run-from-package, and the slots. Writes nothing.',
  [
    [
      '--health-path <path>',
      'Path to GET on the site when looking for read-only file system errors (default /).',
    ],
  ],
);

export async function runDiagnose(argv: string[], io: CommandIO = defaultIO()): Promise<number> {
  const flags = parseOpsFlags(argv, 'diagnose', [], io.env);
  if (flags.help) {
    io.stdout.write(DIAGNOSE_HELP);
    return 0;
  }
  const session = await openSession(flags.inputs, depsFor(io, flags.secrets));
  const report = await runDiagnosis(session);
  if (flags.json) writeJson(io, flags.secrets, report);
  else io.stdout.write(cliWords(renderDiagnoseText(report, flags.secrets)));
  writeSummary(io, renderDiagnoseMarkdown(report, flags.secrets));
  return report.ok ? 0 : 1;
}
