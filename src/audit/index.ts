/** The write-path audit: finds writes under the app root that fail on the read-only run-from-package mount. */
export { auditSource, auditText, fileKind, MAX_FILE_BYTES, SKIPPED_DIRS } from './scan.js';
export {
  formatAnnotations,
  formatFinding,
  formatText,
  summaryTable,
  type Annotation,
  type SummaryCell,
} from './format.js';
export {
  AUDIT_RUNTIMES,
  type AuditOptions,
  type AuditReport,
  type AuditRule,
  type AuditRuntime,
  type Finding,
} from './types.js';
