/**
 * `runpack rollback --app-name <app> --release previous|<id> [--dry-run] [options]`: make an earlier release
 * live again without rebuilding or re-uploading it, then restart and verify exactly like a deploy.
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
import { runRollback, type RollbackResult } from '../ops/rollback.js';
import { openSession, parseOpsFlags } from '../ops/session.js';
import type { SecretRegistry } from '../report/secrets.js';
import { INPUTS } from '../inputs.js';
import { UsageError } from '../util/errors.js';

export const ROLLBACK_HELP = helpText(
  'runpack rollback --app-name <app> --release previous|<release-id> [--dry-run] [options]',
  'Make an earlier release live again. URL mode: a server-side copy of the release blob onto the stable blob\n' +
    'the setting names. Local mode: point packagename.txt at the stored package Kudu still keeps, or push the\n' +
    'release blob through zip deploy. Then restart and verify. The release must exist and pass inspection.',
  [
    [
      '--release <previous|id>',
      "'previous' (the release before the live one), a full sha256 or its 12-digit prefix (required).",
    ],
    ['--dry-run', 'Print the plan (blob to copy, setting before and after, restart) and write nothing.'],
    ['--health-path <path>', 'Path that must answer 2xx after the restart.'],
    [
      '--rollback-settings',
      'Also bring back the app settings, connection strings and startup command recorded with the release\n' +
        '(when a deploy with --app-settings, --connection-strings or --startup-command verified it); without it,\n' +
        'settings are left as they are.',
    ],
  ],
);

function renderText(r: RollbackResult, secrets: SecretRegistry): string {
  const p = r.plan;
  const who = p.slot ? `${p.app}/${p.slot}` : p.app;
  const lines = [
    `${r.dryRun ? 'Rollback plan' : 'Rollback'} of ${who}: ${p.from ? p.from.id : 'unknown'} → ${p.to.id} (${p.mode} mode)${p.alreadyLive ? ', already live' : ''}.`,
    ...p.steps.map((s) => `  - ${s}`),
  ];
  if (p.setting)
    lines.push(`  setting ${p.setting.name}: ${p.setting.old ?? '(unset)'} → ${p.setting.new ?? '(unset)'}`);
  if (!r.dryRun) {
    for (const l of r.levels) lines.push(`  ${l.level}: ${l.status} — ${l.detail}`);
    lines.push(
      r.ok ? `Release ${p.to.id} is live and verified.` : (r.error ?? 'The rollback did not verify.'),
    );
  } else lines.push('Dry run: nothing was written.');
  return secrets.redact(lines.join('\n') + '\n');
}

export async function runRollbackCommand(argv: string[], io: CommandIO = defaultIO()): Promise<number> {
  const flags = parseOpsFlags(argv, 'rollback', ['release'], io.env, ['rollback-settings']);
  if (flags.help) {
    io.stdout.write(ROLLBACK_HELP);
    return 0;
  }
  const release = flags.extra.get('release');
  if (!release)
    throw new UsageError(
      "Flag '--release' is required: 'previous' or a release id (runpack releases lists them).",
    );
  // The same rule as the release input of the action and the task, checked before any Azure call.
  const bad = INPUTS.find((d) => d.name === 'release')?.validate?.(release);
  if (bad) throw new UsageError(`Flag '--release' ${bad}, not '${release}'; runpack releases lists them.`);
  const session = await openSession(flags.inputs, depsFor(io, flags.secrets));
  const result = await runRollback(session, {
    release,
    dryRun: flags.dryRun,
    containerGiven: flags.given.has('container'),
    rollbackSettings: flags.inputs.rollbackSettings,
  });
  if (flags.json) writeJson(io, flags.secrets, result);
  else io.stdout.write(cliWords(renderText(result, flags.secrets)));
  writeSummary(io, '```\n' + renderText(result, flags.secrets) + '```');
  return result.ok ? 0 : 1;
}
