/**
 * `diagnose`: read-only. Collect the evidence, run the rules, and report which of the causes it is, with the
 * evidence and the fix for each finding (a text table for the CLI, markdown for a job summary, and JSON).
 */
import type { SecretRegistry } from '../report/secrets.js';
import { CAUSE_TITLES } from '../deploy/causes.js';
import { classifyRunFromPackage, effectiveRunFromPackage } from '../release/rfp.js';
import { collectEvidence } from './collect.js';
import { diagnoseEvidence, primaryCause } from './rules.js';
import type { OpsSession } from './session.js';
import type { Cause, Evidence, OpsFinding } from './types.js';

export interface DiagnoseReport {
  app: string;
  slot?: string;
  /** What the setting asks for. */
  mode: 'local' | 'url' | 'unset' | 'other';
  /** false when an error-level finding exists (the CLI exits 1). */
  ok: boolean;
  /** The cause the errors (or, without errors, the warnings) point at. */
  cause: Cause | null;
  findings: OpsFinding[];
  evidence: Evidence;
  checkedAt: string;
}

/** The cause titles of the shared vocabulary (deploy/causes.ts). */
export const CAUSE_NAMES: Record<Cause, string> = CAUSE_TITLES;

export function modeOf(e: Evidence): DiagnoseReport['mode'] {
  return classifyRunFromPackage(effectiveRunFromPackage(e.settings));
}

/** Pure: the report from evidence. */
export function buildDiagnoseReport(e: Evidence, now: Date): DiagnoseReport {
  const findings = diagnoseEvidence(e, now);
  return {
    app: e.target.app,
    ...(e.target.slot ? { slot: e.target.slot } : {}),
    mode: modeOf(e),
    ok: !findings.some((f) => f.severity === 'error'),
    cause: primaryCause(findings),
    findings,
    evidence: e,
    checkedAt: now.toISOString(),
  };
}

export async function runDiagnosis(s: OpsSession): Promise<DiagnoseReport> {
  const evidence = await s.log.group('Collect evidence (read-only)', () => collectEvidence(s));
  return buildDiagnoseReport(evidence, new Date(s.clock.now()));
}

const MODE_WORDS: Record<DiagnoseReport['mode'], string> = {
  local: 'local package (WEBSITE_RUN_FROM_PACKAGE=1)',
  url: 'package URL',
  unset: 'not running from a package',
  other: 'unrecognised WEBSITE_RUN_FROM_PACKAGE value',
};

/** Plain text for the CLI: a summary line, a table, then each finding's evidence and fix. */
export function renderDiagnoseText(r: DiagnoseReport, secrets?: SecretRegistry): string {
  const who = r.slot ? `${r.app}/${r.slot}` : r.app;
  const lines = [`Diagnosis of ${who}: ${MODE_WORDS[r.mode]}.`];
  lines.push(
    r.cause
      ? `${r.ok ? 'No error; most warnings point at' : 'Cause'}: ${r.cause} — ${CAUSE_NAMES[r.cause]}.`
      : 'No problem found.',
  );
  if (r.findings.length) {
    const rows = [['severity', 'cause', 'code'], ...r.findings.map((f) => [f.severity, f.cause, f.code])];
    const widths = [0, 1, 2].map((c) => Math.max(...rows.map((x) => x[c].length)));
    lines.push('');
    for (const row of rows)
      lines.push(
        '  ' +
          row
            .map((cell, c) => cell.padEnd(widths[c]))
            .join('  ')
            .trimEnd(),
      );
    for (const f of r.findings) {
      lines.push('', `${f.severity.toUpperCase()} ${f.code}: ${f.message}`);
      lines.push(`  evidence: ${f.evidence}`);
      lines.push(`  fix: ${f.fix}`);
    }
  }
  const text = lines.join('\n') + '\n';
  return secrets ? secrets.redact(text) : text;
}

/** Markdown for a job summary. */
export function renderDiagnoseMarkdown(r: DiagnoseReport, secrets?: SecretRegistry): string {
  const who = r.slot ? `${r.app}/${r.slot}` : r.app;
  const esc = (t: string) => t.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const lines = [
    `### runpack diagnose: ${who}`,
    '',
    `Mode: ${MODE_WORDS[r.mode]}. ${r.cause ? `**Cause: ${r.cause}** — ${CAUSE_NAMES[r.cause]}.` : 'No problem found.'}`,
    '',
  ];
  if (r.findings.length) {
    lines.push('| severity | cause | code | finding | evidence | fix |', '|---|---|---|---|---|---|');
    for (const f of r.findings)
      lines.push(
        `| ${f.severity} | ${f.cause} | \`${f.code}\` | ${esc(f.message)} | ${esc(f.evidence)} | ${esc(f.fix)} |`,
      );
  }
  const text = lines.join('\n') + '\n';
  return secrets ? secrets.redact(text) : text;
}
