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
