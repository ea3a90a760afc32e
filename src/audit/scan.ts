/** Walks a source folder and runs the rules on every file the audit understands. */
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../util/errors.js';
import { scanCode } from './code-rules.js';
import { scanAppSettings, scanProperties, scanXmlConfig } from './config-rules.js';
import type { Draft } from './explain.js';
import type { Dialect } from './tokenize.js';
import type { AuditOptions, AuditReport, AuditRuntime, Finding } from './types.js';

/** Folders never audited: dependencies, build output, VCS and virtual environments. */
export const SKIPPED_DIRS: ReadonlySet<string> = new Set([
  'node_modules',
  'bin',
  'obj',
  '.git',
  'dist',
  'build',
  'vendor',
  '.venv',
  'venv',
  '__pycache__',
  'target',
  '__tests__',
]);

export const MAX_FILE_BYTES = 1024 * 1024;

type Kind = { dialect: Dialect } | { config: 'appsettings' | 'xml' | 'properties' };

const RUNTIME_OF: Record<Dialect, AuditRuntime> = { js: 'node', cs: 'dotnet', py: 'python', java: 'java' };

/** Which rules read a file, from its name; null when the audit does not read it. */
export function fileKind(relPath: string): Kind | null {
  const base = path.posix.basename(relPath);
  const lower = base.toLowerCase();
  // Test code is not deployed; fixtures written next to tests are not a production write.
  if (/\.(test|spec)\.[cm]?[jt]sx?$/.test(lower) || /^test_.*\.py$|_test\.py$/.test(lower)) return null;
  if (/(^|\/)src\/test\//.test(relPath)) return null;
  if (/\.d\.[cm]?ts$/.test(lower) || /\.min\.js$/.test(lower)) return null;
  if (/\.([cm]?js|jsx|[cm]?ts|tsx)$/.test(lower)) return { dialect: 'js' };
  if (lower.endsWith('.cs')) return { dialect: 'cs' };
  if (lower.endsWith('.py')) return { dialect: 'py' };
  if (lower.endsWith('.java')) return { dialect: 'java' };
  if (/^appsettings(\..+)?\.json$/.test(lower)) return { config: 'appsettings' };
  if (/\.(config|xml|nlog)$/.test(lower)) return { config: 'xml' };
  if (lower.endsWith('.properties')) return { config: 'properties' };
  return null;
}

function kindRuntime(kind: Kind): AuditRuntime | null {
  if ('dialect' in kind) return RUNTIME_OF[kind.dialect];
  if (kind.config === 'appsettings') return 'dotnet';
  if (kind.config === 'properties') return 'java';
  return null; // XML: NLog/log4net are .NET, logback/log4j2 are Java; decided per finding
}

/** Runs the rules for one file's text. Pure: used by the scanner and directly by tests. */
export function auditText(relPath: string, text: string, runtime?: AuditRuntime): Finding[] {
  const kind = fileKind(relPath);
  if (!kind) return [];
  const r = kindRuntime(kind);
  if (runtime && r && r !== runtime) return [];
  let drafts: Draft[];
  if ('dialect' in kind) drafts = scanCode(kind.dialect, text);
  else if (kind.config === 'appsettings') drafts = scanAppSettings(text);
  else if (kind.config === 'xml') drafts = scanXmlConfig(text);
  else drafts = scanProperties(text);
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const d of drafts) {
    if (runtime && d.runtime !== runtime) continue;
    const key = `${d.line}:${d.column}:${d.rule}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ file: relPath, ...d });
  }
  return out;
}

/** Audits every source and config file under `dir` for writes that fail on the read-only run-from-package mount. */
export async function auditSource(dir: string, options: AuditOptions = {}): Promise<AuditReport> {
  const maxBytes = options.maxFileBytes ?? MAX_FILE_BYTES;
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw new UsageError(
      `source folder '${dir}' does not exist; pass the folder that holds the app's source code.`,
    );
  }
  if (!st.isDirectory()) {
    throw new UsageError(
      `'${dir}' is a file, not a folder; pass the folder that holds the app's source code.`,
    );
  }
  const findings: Finding[] = [];
  let filesScanned = 0;
  const walk = async (abs: string, rel: string): Promise<void> => {
    const entries = await readdir(abs, { withFileTypes: true });
    entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    for (const e of entries) {
      const childAbs = path.join(abs, e.name);
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) await walk(childAbs, childRel);
        continue;
      }
      if (!e.isFile() || !fileKind(childRel)) continue;
      const kind = fileKind(childRel)!;
      const r = kindRuntime(kind);
      if (options.runtime && r && r !== options.runtime) continue;
      const size = (await lstat(childAbs)).size;
      if (size > maxBytes) continue;
      const text = await readFile(childAbs, 'utf8');
      filesScanned++;
      findings.push(...auditText(childRel, text, options.runtime));
    }
  };
  await walk(dir, '');
  findings.sort((x, y) =>
    x.file < y.file ? -1 : x.file > y.file ? 1 : x.line - y.line || x.column - y.column,
  );
  return { root: dir, filesScanned, findings };
}
