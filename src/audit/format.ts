/** Output of the audit: readable lines, GitHub annotations and a job-summary table. All pure. */
import type { AuditReport, Finding } from './types.js';

/** `prefix/file`, with the prefix's `./` and trailing slashes dropped and `/` separators. */
function prefixed(file: string, pathPrefix?: string): string {
  const prefix = (pathPrefix ?? '')
    .replace(/\\/g, '/')
    .replace(/^\.(\/|$)/, '')
    .replace(/\/+$/, '');
  return prefix ? `${prefix}/${file}` : file;
}

/** `file:line: rule — why. Fix: …`; `pathPrefix` (the audited folder) makes the path usable from the working directory. */
export function formatFinding(f: Finding, options: { pathPrefix?: string } = {}): string {
  return `${prefixed(f.file, options.pathPrefix)}:${f.line}: ${f.rule} — ${f.why}. Fix: ${f.fix}.`;
}

/** The readable report: one line per finding, then a count. */
export function formatText(report: AuditReport, options: { pathPrefix?: string } = {}): string {
  const lines = report.findings.map((f) => formatFinding(f, options));
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
  return findings.map((f) => ({
    level: f.severity,
    message: `${f.why}. Fix: ${f.fix}.`,
    properties: {
      title: `runpack audit: ${f.rule}`,
      file: prefixed(f.file, options.pathPrefix),
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
