/**
 * The words of each finding: why the write breaks under run-from-package and where it should go instead,
 * following the usual decision: scratch data to the temp folder, durable data to Blob Storage or a database,
 * legacy code that must have a writable folder to %HOME% (/home) outside site/wwwroot or an Azure Files mount.
 */
import type { Classified } from './paths.js';
import type { AuditRule, AuditRuntime, Finding } from './types.js';

export type Draft = Omit<Finding, 'file'>;

const TEMP: Record<AuditRuntime, string> = {
  node: 'os.tmpdir()',
  dotnet: 'Path.GetTempPath()',
  python: 'tempfile.gettempdir()',
  java: 'System.getProperty("java.io.tmpdir")',
};

const MOUNT = 'a folder under %HOME% (/home on Linux) outside site/wwwroot, or an Azure Files mount';

function where(c: Classified): string {
  return c.cls === 'root' ? `a path built from ${c.anchor}` : `the relative path ${c.anchor}`;
}

function mountNote(c: Classified): string {
  return c.cls === 'root'
    ? 'which is inside the app root, and run-from-package mounts the app root read-only'
    : 'which resolves against the working directory (the app root, site/wwwroot, on App Service) and run-from-package mounts it read-only';
}

/**
 * A finding about a path the classifier placed in the app root (error) or relative to it (warning): the message
 * says what writes where, `why` adds the read-only mount and what then fails.
 */
function pathFinding(
  rule: AuditRule,
  runtime: AuditRuntime,
  c: Classified,
  at: { line: number; column: number },
  message: string,
  consequence: string,
  fix: string,
): Draft {
  return {
    line: at.line,
    column: at.column,
    rule,
    runtime,
    severity: c.cls === 'root' ? 'error' : 'warning',
    message,
    why: `${message}, ${mountNote(c)}, so ${consequence}`,
    fix,
  };
}

/** A plain file or folder write (fs.writeFile, File.WriteAllText, open(…, 'w'), new FileOutputStream…). */
export function writeFinding(
  runtime: AuditRuntime,
  op: string,
  c: Classified,
  line: number,
  column: number,
): Draft {
  const rule: AuditRule = c.cls === 'root' ? 'write-under-app-root' : 'write-relative-path';
  return pathFinding(
    rule,
    runtime,
    c,
    { line, column },
    `${op} writes to ${where(c)}`,
    `the write fails at run time`,
    `scratch or regenerable data: write under ${TEMP[runtime]}; durable data: Blob Storage or a database; code that must keep a writable folder: ${MOUNT}`,
  );
}

export function databaseFinding(
  runtime: AuditRuntime,
  store: string,
  c: Classified,
  line: number,
  column: number,
): Draft {
  return pathFinding(
    'database-file-in-app-root',
    runtime,
    c,
    { line, column },
    `${store} keeps its file at ${where(c)}`,
    `the first write fails ("readonly database" / EROFS)`,
    `use a database service (Azure SQL, PostgreSQL, Cosmos DB) or Redis for sessions; a SQLite file that must stay goes under %HOME% (/home on Linux) outside site/wwwroot, and it is then shared by every instance`,
  );
}

export function uploadFinding(
  runtime: AuditRuntime,
  lib: string,
  c: Classified,
  line: number,
  column: number,
): Draft {
  return pathFinding(
    'upload-dir-in-app-root',
    runtime,
    c,
    { line, column },
    `${lib} stores uploaded files in ${where(c)}`,
    `every upload fails`,
    `stream uploads to Blob Storage (they are durable user data); if the library needs a staging folder, use ${TEMP[runtime]}`,
  );
}

export function logFinding(
  runtime: AuditRuntime,
  sink: string,
  c: Classified,
  line: number,
  column: number,
): Draft {
  return pathFinding(
    'log-file-in-app-root',
    runtime,
    c,
    { line, column },
    `${sink} writes its log file to ${where(c)}`,
    `logging fails (often at startup)`,
    `log to stdout/stderr (App Service log stream) or Application Insights; if a file is required, put it under %HOME%/LogFiles (/home/LogFiles on Linux) or ${TEMP[runtime]}`,
  );
}

export function dataProtectionFinding(
  kind: 'no-persist' | 'under-root',
  c: Classified | null,
  line: number,
  column: number,
): Draft {
  const fix =
    'persist the key ring to shared durable storage: PersistKeysToAzureBlobStorage (Azure.Extensions.AspNetCore.DataProtection.Blobs, with ProtectKeysWithAzureKeyVault), or PersistKeysToFileSystem on %HOME%\\ASP.NET\\DataProtection-Keys';
  if (kind === 'no-persist') {
    return {
      line,
      column,
      rule: 'data-protection-keys',
      runtime: 'dotnet',
      severity: 'warning',
      message: 'AddDataProtection() without a PersistKeysTo… target',
      why: 'AddDataProtection() has no PersistKeysTo… target, so keys land in a default folder that may be under the read-only app root or local to one instance; users are logged out after restarts and antiforgery tokens fail across instances',
      fix,
    };
  }
  return {
    line,
    column,
    rule: 'data-protection-keys',
    runtime: 'dotnet',
    severity: c?.cls === 'root' ? 'error' : 'warning',
    message: `PersistKeysToFileSystem writes the key ring to ${c ? where(c) : 'the app root'}`,
    why: `PersistKeysToFileSystem writes the key ring to ${c ? where(c) : 'the app root'}, ${c ? mountNote(c) : 'which is read-only'}, so keys cannot be saved and protected payloads break after restarts`,
    fix,
  };
}
