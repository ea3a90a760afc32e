/** Output of the audit: readable lines, GitHub annotations and a job-summary table. All pure. */
import type { AuditReport, Finding } from './types.js';

/** `file:line: rule — why. Fix: …` */
export function formatFinding(f: Finding): string {
  return `${f.file}:${f.line}: ${f.rule} — ${f.why}. Fix: ${f.fix}.`;
}

/** The readable report: one line per finding, then a count. */
export function formatText(report: AuditReport): string {
  const lines = report.findings.map(formatFinding);
  const files = new Set(report.findings.map((f) => f.file)).size;
  const scanned = `${report.filesScanned} file${report.filesScanned === 1 ? '' : 's'} scanned`;
  if (report.findings.length === 0) {
    lines.push(`No writes under the app root found (${scanned}).`);
  } else {
    const n = report.findings.length;
    lines.push(
      `${n} write${n === 1 ? '' : 's'} under the app root in ${files} file${files === 1 ? '' : 's'} (${scanned}).`,
    );
  }
  return lines.join('\n');
}

export interface Annotation {
  level: 'error' | 'warning';
  message: string;
  /** Shaped like @actions/core's AnnotationProperties: pass straight to core.error / core.warning. */
  properties: { title: string; file: string; startLine: number; startColumn: number };
}

/**
 * One annotation per finding. `pathPrefix` is the audited folder relative to the repository root, so the
 * annotation lands on the right file in the pull request (`src/app` + `lib/cache.js` → `src/app/lib/cache.js`).
 */
export function formatAnnotations(
  findings: readonly Finding[],
  options: { pathPrefix?: string } = {},
): Annotation[] {
  const prefix = (options.pathPrefix ?? '')
    .replace(/\\/g, '/')
    .replace(/^\.\/?/, '')
    .replace(/\/+$/, '');
  return findings.map((f) => ({
    level: f.severity,
    message: `${f.why}. Fix: ${f.fix}.`,
    properties: {
      title: `runpack audit: ${f.rule}`,
      file: prefix ? `${prefix}/${f.file}` : f.file,
      startLine: f.line,
      startColumn: f.column,
    },
  }));
}

export type SummaryCell = string | { data: string; header?: boolean };

/** Rows for @actions/core's `summary.addTable`: a header row, then one row per finding. */
export function summaryTable(findings: readonly Finding[]): SummaryCell[][] {
  const header: SummaryCell[] = ['File', 'Line', 'Rule', 'Severity', 'Problem', 'Fix'].map((data) => ({
    data,
    header: true,
  }));
  return [header, ...findings.map((f) => [f.file, String(f.line), f.rule, f.severity, f.message, f.fix])];
}
