/**
 * Where a path expression points: the app's root (read-only under run-from-package), a relative path (resolved
 * against the working directory, which is the app root on App Service), somewhere writable (temp, an
 * environment-based or absolute path), or unknown.
 */
export type PathClass = 'root' | 'relative' | 'safe' | 'unknown';

export interface Classified {
  cls: PathClass;
  /** What anchors the path, for messages: `__dirname`, `'uploads/'`, `cacheDir (from __dirname)`. */
  anchor: string;
}

export const UNKNOWN: Classified = { cls: 'unknown', anchor: '' };

/** The App Service content folder spelled out as an absolute path is the app root too. */
const WWWROOT = /(^|[\\/])site[\\/]wwwroot([\\/]|$)/i;

/** Classifies a plain string used as a file or folder path. */
export function classifyPathString(s: string): Classified {
  const quoted = `'${s}'`;
  if (s.trim() === '') return UNKNOWN;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return UNKNOWN; // a URL, not a file path
  if (WWWROOT.test(s)) return { cls: 'root', anchor: quoted };
  if (/^([A-Za-z]:[\\/]|[\\/]|~([\\/]|$))/.test(s)) return { cls: 'safe', anchor: quoted };
  if (/^(%[A-Za-z_]+%|\$[A-Za-z_{])/.test(s)) return { cls: 'safe', anchor: quoted };
  return { cls: 'relative', anchor: quoted };
}

/**
 * Classifies a path from a logging framework's config, where `${…}` layout or property references appear.
 * `flavor` picks the meaning of references: NLog's ${basedir}/${currentdir} are the app root, ${tempdir}
 * and ${specialfolder} are writable; for log4j/logback ${sys:user.dir} is the root, other properties unknown.
 */
export function classifyConfigPath(raw: string, flavor: 'nlog' | 'log4net' | 'java' | 'serilog'): Classified {
  const s = raw.trim();
  const quoted = `'${s}'`;
  if (s === '') return UNKNOWN;
  if (flavor === 'nlog') {
    if (/^\$\{(basedir|currentdir|processdir)\b/i.test(s)) return { cls: 'root', anchor: quoted };
    if (/^\$\{/.test(s)) return { cls: 'safe', anchor: quoted }; // ${tempdir}, ${specialfolder}, ${environment:HOME}…
  }
  if (flavor === 'java') {
    if (/^\$\{(sys:)?user\.dir\}/.test(s)) return { cls: 'root', anchor: quoted };
    if (/^\$\{/.test(s)) return { cls: 'safe', anchor: quoted }; // ${java.io.tmpdir}, ${LOG_PATH}, ${env:HOME}…
  }
  if (flavor === 'log4net' && /^(\$\{|%env\{|%property\{)/i.test(s)) return { cls: 'safe', anchor: quoted };
  if (flavor === 'serilog' && /^%[A-Za-z_]+%/.test(s)) return { cls: 'safe', anchor: quoted };
  return classifyPathString(s);
}

/** A SQLite path: ADO.NET's |DataDirectory| is App_Data under the app root. */
export function classifyDbPath(file: string): Classified {
  if (/^\|DataDirectory\|/i.test(file))
    return { cls: 'root', anchor: `'${file}' (App_Data under the app root)` };
  return classifyPathString(file.replace(/^file:/, ''));
}

/** The file of a SQLite connection string (`Data Source=app.db;Cache=Shared`), undefined for memory databases. */
export function sqliteFileFromConnectionString(cs: string): string | undefined {
  const m = /(?:^|;)\s*(?:Data Source|DataSource|Filename)\s*=\s*([^;]+)/i.exec(cs);
  if (!m) return undefined;
  const file = m[1].trim();
  if (file === '' || /:memory:|mode=memory/i.test(file) || /mode\s*=\s*memory/i.test(cs)) return undefined;
  return file;
}

/** JDBC URLs of file databases: jdbc:sqlite:app.db, jdbc:h2:./data/app or jdbc:h2:file:data/app. */
export function jdbcFile(url: string): string | undefined {
  let m = /^jdbc:sqlite:(.*)$/i.exec(url);
  if (m)
    return m[1] === '' || m[1].includes(':memory:') ? undefined : m[1].replace(/^file:/, '').split('?')[0];
  m = /^jdbc:h2:(.*)$/i.exec(url);
  if (!m) return undefined;
  const rest = m[1].split(';')[0];
  if (/^(mem|tcp|ssl|zip):/i.test(rest)) return undefined;
  return rest.replace(/^file:/i, '');
}
