/** Public shapes of the write-path audit (`runpack audit`, and the action's `audit` input). */

/** The runtimes the audit has rules for. */
export type AuditRuntime = 'node' | 'dotnet' | 'python' | 'java';
export const AUDIT_RUNTIMES: readonly AuditRuntime[] = ['node', 'dotnet', 'python', 'java'];

export type AuditRule =
  /** A write to a path built from the app's own root (__dirname, AppContext.BaseDirectory, __file__, user.dir…). */
  | 'write-under-app-root'
  /** A write to a relative path, which resolves against the working directory: the app root on App Service. */
  | 'write-relative-path'
  /** Upload middleware that stores files under the app root or a relative folder. */
  | 'upload-dir-in-app-root'
  /** A log file sink (code or config) whose file sits under the app root or at a relative path. */
  | 'log-file-in-app-root'
  /** ASP.NET Core data-protection keys with no persistence target, or persisted under the app root. */
  | 'data-protection-keys'
  /** A SQLite database file (or a file-backed session store) under the app root or at a relative path. */
  | 'database-file-in-app-root';

export interface Finding {
  /** Path relative to the audited folder, `/` separators. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  rule: AuditRule;
  runtime: AuditRuntime;
  /** `error`: the path is anchored to the app root; `warning`: it depends on the working directory or a default. */
  severity: 'error' | 'warning';
  /** One short line: what the code does. */
  message: string;
  /** Why it breaks under run-from-package. */
  why: string;
  /** Where the write should go instead. */
  fix: string;
}

export interface AuditReport {
  /** The audited folder as given. */
  root: string;
  /** Source and config files read. */
  filesScanned: number;
  findings: Finding[];
}

export interface AuditOptions {
  /** Only audit files of this runtime. */
  runtime?: AuditRuntime;
  /** Largest file read, in bytes (default 1 MiB); larger files are skipped. */
  maxFileBytes?: number;
}
