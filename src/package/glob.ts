/**
 * Exclude patterns for `runpack package --exclude`. Paths are relative to the source folder with `/` separators.
 *
 * - `*` matches any run of characters except `/`; `?` one character except `/`; `**` any number of whole folders.
 * - A pattern with no `/` except a trailing one matches a name at any depth (`*.map`, `node_modules`, `logs/`).
 * - A pattern with a `/` is anchored at the source folder (`docs/*.md`, `/config.local.json`).
 * - A trailing `/` matches folders only. A pattern that matches a folder leaves out everything inside it.
 */
import { UsageError } from '../util/errors.js';

export interface ExcludeMatcher {
  /** True when `relPath` (no trailing slash) is left out. `isDir` says whether it is a folder. */
  excludes(relPath: string, isDir: boolean): boolean;
}

interface Compiled {
  re: RegExp;
  dirOnly: boolean;
}

export function compileExcludes(patterns: readonly string[]): ExcludeMatcher {
  const compiled = patterns.map(compileOne);
  return {
    excludes(relPath, isDir) {
      return compiled.some((c) => (!c.dirOnly || isDir) && c.re.test(relPath));
    },
  };
}

function compileOne(raw: string): Compiled {
  let p = raw.trim().replace(/\\/g, '/');
  if (p === '' || p === '/' || p === '.' || p === './') {
    throw new UsageError(
      `--exclude '${raw}' matches nothing useful; give a file or folder pattern such as '*.map' or 'tests/'.`,
    );
  }
  if (p.split('/').includes('..')) {
    throw new UsageError(`--exclude '${raw}' points outside the source folder; patterns are relative to it.`);
  }
  while (p.startsWith('./')) p = p.slice(2);
  const dirOnly = p.endsWith('/');
  p = p.replace(/\/+$/, '');
  const anchored = p.includes('/');
  p = p.replace(/^\/+/, '');
  const segs = p.split('/');
  let body = '';
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    if (seg === '**') {
      // `**` at the end matches everything below; elsewhere zero or more folders.
      body += last ? (i === 0 ? '.*' : '/.*') : i === 0 ? '(?:.*/)?' : '/(?:.*/)?';
      return;
    }
    body += (i === 0 || segs[i - 1] === '**' ? '' : '/') + segmentToRegex(seg);
  });
  const prefix = anchored ? '^' : '^(?:.*/)?';
  return { re: new RegExp(prefix + body + '$', 'u'), dirOnly };
}

function segmentToRegex(seg: string): string {
  let out = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') {
      while (seg[i + 1] === '*') i++;
      out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return out;
}
