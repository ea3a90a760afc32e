/**
 * The operator commands for the GitHub Action (`command: diagnose | releases | rollback`): one call that logs
 * in, runs the command and hands back the step outputs and the job summary. The action's entry point maps
 * its inputs to DeployInputs as for a deploy and passes `release`, `dry-run` and `keep-releases` (as `keep`) here.
 */
import type { DeployInputs } from '../deploy/types.js';
import { describeError, RunpackError } from '../util/errors.js';
import { renderDiagnoseMarkdown, runDiagnosis } from './diagnose.js';
import { loadReleaseState, reportOf } from './release-ops.js';
import { renderReleasesMarkdown } from './releases.js';
import { pruneReleases, selectReleasesToDelete } from '../release/retention.js';
import { runRollback } from './rollback.js';
import { openSession, type OpsDeps } from './session.js';
import { cancelledOpsError } from './command.js';

export type OpsCommand = 'diagnose' | 'releases' | 'rollback';

export interface OpsActionOptions {
  /** rollback: `previous` or a release id. */
  release?: string;
  dryRun?: boolean;
  /** releases: retention, keep the newest n. */
  keep?: number;
  /** The container input was given explicitly (otherwise the package URL's container is used). */
  containerGiven?: boolean;
  /** rollback: also bring back the configuration recorded with the release. */
  rollbackSettings?: boolean;
}

/**
 * The options of an operator command from the parsed inputs and which of them were given: the releases command
 * prunes only when keep-releases was given (its default applies to deploys), and a container given explicitly
 * wins over the package URL's.
 */
export function opsOptions(inputs: DeployInputs): OpsActionOptions {
  const given = (name: string) => inputs.given?.has(name) ?? false;
  return {
    release: inputs.release,
    dryRun: inputs.dryRun,
    keep: given('keep-releases') && inputs.keepReleases ? inputs.keepReleases : undefined,
    containerGiven: given('container'),
    rollbackSettings: inputs.rollbackSettings,
  };
}

export interface OpsActionResult {
  ok: boolean;
  /** Step outputs (names as in the deploy's outputs where they mean the same). */
  outputs: Record<string, string>;
  /** Markdown for the job summary. */
  summary: string;
  error?: string;
  errorCode?: string;
}

export async function runOpsAction(
  command: OpsCommand,
  inputs: DeployInputs,
  options: OpsActionOptions,
  deps: OpsDeps,
): Promise<OpsActionResult> {
  const redact = (t: string) => deps.secrets.redact(t);
  try {
    const s = await openSession(inputs, deps);
    if (command === 'diagnose') {
      const report = await runDiagnosis(s);
      return {
        ok: report.ok,
        outputs: {
          cause: report.cause ?? '',
          findings: String(report.findings.length),
          'error-codes': report.findings
            .filter((f) => f.severity === 'error')
            .map((f) => f.code)
            .join(','),
          'app-url': s.target.appUrl,
        },
        summary: renderDiagnoseMarkdown(report, deps.secrets),
        ...(report.ok
          ? {}
          : { error: `Diagnosis found ${report.cause ?? 'an error'}: ${report.findings[0]?.message ?? ''}` }),
      };
    }
    if (command === 'releases') {
      const state = await loadReleaseState(s, Boolean(options.containerGiven));
      const report = reportOf(s, state);
      const outputs: Record<string, string> = {
        'release-id': state.live ? state.live.slice(0, 12) : '',
        releases: report.releases.map((r) => r.id).join(','),
      };
      if (options.keep !== undefined) {
        const self = s.target.ref.slot ?? 'production';
        const toDelete = selectReleasesToDelete(state.releases, {
          keep: options.keep,
          live: state.live,
          slotReferenced: Object.entries(state.sides)
            .filter(([n]) => n !== self)
            .map(([, sha]) => sha),
          stable: Object.values(state.stableSha256),
        });
        const pruned = await pruneReleases(state.store, state.container, toDelete, {
          dryRun: Boolean(options.dryRun),
          log: s.log,
        });
        outputs.deleted = pruned.deleted.map((x) => x.slice(0, 12)).join(',');
      }
      return { ok: true, outputs, summary: renderReleasesMarkdown(report) };
    }
    if (!options.release)
      throw new RunpackError(
        'usage',
        "Input 'release' is required for command: rollback ('previous' or a release id).",
      );
    const r = await runRollback(s, {
      release: options.release,
      dryRun: Boolean(options.dryRun),
      containerGiven: Boolean(options.containerGiven),
      rollbackSettings: Boolean(options.rollbackSettings),
    });
    const lines = [
      `### runpack rollback: ${s.target.ref.slot ? `${s.target.ref.appName}/${s.target.ref.slot}` : s.target.ref.appName}`,
      '',
      `${r.plan.from ? `\`${r.plan.from.id}\`` : 'unknown'} → \`${r.plan.to.id}\`${r.dryRun ? ' (dry run: nothing written)' : ''}`,
      '',
      ...r.plan.steps.map((x) => `- ${x}`),
      ...r.levels.map((l) => `- ${l.level}: ${l.status} — ${l.detail}`),
    ];
    return {
      ok: r.ok,
      outputs: {
        'release-id': r.plan.to.id,
        'package-sha256': r.plan.to.sha256,
        'previous-release-id': r.plan.from?.id ?? '',
        'app-url': s.target.appUrl,
        verified: String(!r.dryRun && r.ok),
      },
      summary: redact(lines.join('\n') + '\n'),
      ...(r.error ? { error: redact(r.error) } : {}),
    };
  } catch (caught) {
    // Cancelled: the rollback says what is live; a read-only command changed nothing.
    const err = deps.signal?.aborted ? cancelledOpsError(command, caught) : caught;
    return {
      ok: false,
      outputs: {},
      summary: '',
      error: redact(describeError(err)),
      errorCode: err instanceof RunpackError ? err.code : 'unexpected',
    };
  }
}
