/**
 * A small tokenizer for the languages the audit reads (JavaScript/TypeScript, C#, Java, Python). It only needs
 * identifiers, string literals and punctuation with positions; comments are dropped so that text in a comment
 * is never taken for code, and string contents stay inside one token so that code quoted in a string is never
 * taken for a call.
 */

export type Dialect = 'js' | 'cs' | 'java' | 'py';

export interface Token {
  kind: 'ident' | 'string' | 'number' | 'punct';
  /** Identifier or punctuation text; for strings, the literal text before any interpolation. */
  value: string;
  /** 1-based line and column of the token's first character. */
  line: number;
  column: number;
  /** A line break separates this token from the previous one. */
  nl: boolean;
  /** Strings: the source of the interpolation that opens the string (`${__dirname}/x`, f"{BASE}/x"), if any. */
  lead?: string;
  /** Strings: an interpolated string (template literal, $"", f""). */
  interpolated?: boolean;
}

const PUNCT3 = ['===', '!==', '**=', '...', '>>>', '<<=', '>>=', '??='];
const PUNCT2 = [
  '=>',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '??',
  '?.',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '++',
  '--',
  '::',
  '->',
  '**',
  '//',
  ':=',
];

function isIdentStart(c: string): boolean {
  return /[A-Za-z_$@]/.test(c) || c.charCodeAt(0) > 127;
}
function isIdentPart(c: string): boolean {
  return /[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) > 127;
}

/** Tokens that end an operand: after them a `/` is division, not the start of a regular expression. */
function endsOperand(t: Token | undefined): boolean {
  if (!t) return false;
  if (t.kind === 'ident')
    return !['return', 'typeof', 'case', 'in', 'of', 'delete', 'void', 'throw', 'new'].includes(t.value);
  if (t.kind === 'string' || t.kind === 'number') return true;
  return t.value === ')' || t.value === ']' || t.value === '}';
}

export function tokenize(src: string, dialect: Dialect): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  let sawNl = false;
  const n = src.length;

  const push = (
    kind: Token['kind'],
    value: string,
    _start: number,
    startLine: number,
    startCol: number,
    extra?: Partial<Token>,
  ) => {
    out.push({ kind, value, line: startLine, column: startCol, nl: sawNl, ...extra });
    sawNl = false;
  };
  /** Advance over src[from..to), counting line breaks. */
  const advanceTo = (to: number) => {
    for (; i < to && i < n; i++) {
      if (src[i] === '\n') {
        line++;
        lineStart = i + 1;
        sawNl = true;
      }
    }
  };

  /** Reads an interpolated expression starting after its opening brace; returns its source and the index after `}`. */
  const readInterpolation = (from: number): { expr: string; end: number } => {
    let depth = 1;
    let j = from;
    while (j < n && depth > 0) {
      const c = src[j];
      if (c === '{') depth++;
      else if (c === '}') depth--;
      else if (c === '"' || c === "'" || c === '`') {
        const q = c;
        j++;
        while (j < n && src[j] !== q) j += src[j] === '\\' ? 2 : 1;
      }
      if (depth > 0) j++;
    }
    return { expr: src.slice(from, j), end: Math.min(j + 1, n) };
  };

  while (i < n) {
    const c = src[i];
    if (c === '\n') {
      advanceTo(i + 1);
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || c === '\ufeff') {
      i++;
      continue;
    }
    const startLine = line;
    const startCol = i - lineStart + 1;
    const start = i;

    // Comments.
    if (dialect === 'py') {
      if (c === '#') {
        while (i < n && src[i] !== '\n') i++;
        continue;
      }
      if (c === '\\' && src[i + 1] === '\n') {
        i++;
        advanceTo(i + 1);
        sawNl = false;
        continue;
      }
    } else {
      if (c === '/' && src[i + 1] === '/') {
        while (i < n && src[i] !== '\n') i++;
        continue;
      }
      if (c === '/' && src[i + 1] === '*') {
        const end = src.indexOf('*/', i + 2);
        advanceTo(end < 0 ? n : end + 2);
        continue;
      }
      if (c === '#' && dialect === 'cs' && (out.length === 0 || sawNl)) {
        // Preprocessor directive: skip the line.
        while (i < n && src[i] !== '\n') i++;
        continue;
      }
    }

    // Strings.
    if (dialect === 'py') {
      const m = /^([rRbBuUfF]{0,2})('''|"""|'|")/.exec(src.slice(i, i + 5));
      if (m && (m[1] === '' || !isIdentPart(src[i - 1] ?? ' '))) {
        const prefix = m[1].toLowerCase();
        const quote = m[2];
        const raw = prefix.includes('r');
        const fstr = prefix.includes('f');
        let j = i + m[0].length;
        const bodyStart = j;
        while (j < n) {
          if (!raw && src[j] === '\\') {
            j += 2;
            continue;
          }
          if (src.startsWith(quote, j)) break;
          if (quote.length === 1 && src[j] === '\n') break;
          j++;
        }
        const body = src.slice(bodyStart, j);
        advanceTo(Math.min(j + quote.length, n));
        pushString(body, fstr, !raw, startLine, startCol, start);
        continue;
      }
    } else if (dialect === 'js' && c === '`') {
      let j = i + 1;
      let lit = '';
      let lead: string | undefined;
      let interpolated = false;
      let done = false;
      while (j < n && !done) {
        const d = src[j];
        if (d === '\\') {
          if (!interpolated) lit += src[j + 1] ?? '';
          j += 2;
        } else if (d === '`') {
          done = true;
          j++;
        } else if (d === '$' && src[j + 1] === '{') {
          const { expr, end } = readInterpolation(j + 2);
          if (!interpolated && lit === '') lead = expr;
          interpolated = true;
          j = end;
        } else {
          if (!interpolated) lit += d;
          j++;
        }
      }
      advanceTo(j);
      push('string', lit, start, startLine, startCol, { lead, interpolated });
      continue;
    } else if (
      c === '"' ||
      c === "'" ||
      (dialect === 'cs' && (c === '$' || c === '@') && /^[$@]{1,2}"/.test(src.slice(i, i + 3)))
    ) {
      if (dialect === 'cs' && c !== '"' && c !== "'") {
        const m = /^([$@]{1,2})("+)/.exec(src.slice(i, i + 10))!;
        const interp = m[1].includes('$');
        const verbatim = m[1].includes('@');
        const quotes = m[2].length >= 3 ? m[2] : '"';
        let j = i + m[1].length + quotes.length;
        const bodyStart = j;
        while (j < n) {
          if (!verbatim && quotes.length === 1 && src[j] === '\\') {
            j += 2;
            continue;
          }
          if (verbatim && src[j] === '"' && src[j + 1] === '"') {
            j += 2;
            continue;
          }
          if (interp && src[j] === '{' && src[j + 1] !== '{') {
            j = readInterpolation(j + 1).end;
            continue;
          }
          if (src.startsWith(quotes, j)) break;
          j++;
        }
        const body = src.slice(bodyStart, j);
        advanceTo(Math.min(j + quotes.length, n));
        pushString(body, interp, !verbatim && quotes.length === 1, startLine, startCol, start);
        continue;
      }
      // Plain "…" / '…' (and Java/C# """ text blocks / raw strings).
      const triple = c === '"' && src.startsWith('"""', i) && dialect !== 'js';
      const quote = triple ? '"""' : c;
      let j = i + quote.length;
      const bodyStart = j;
      while (j < n) {
        if (src[j] === '\\' && !(dialect === 'cs' && triple)) {
          j += 2;
          continue;
        }
        if (src.startsWith(quote, j)) break;
        if (!triple && src[j] === '\n') break;
        j++;
      }
      const body = src.slice(bodyStart, j);
      advanceTo(Math.min(j + quote.length, n));
      push('string', unescape(body), start, startLine, startCol);
      continue;
    }

    // Regular expression literals (JavaScript), so quotes inside them do not open strings.
    if (dialect === 'js' && c === '/' && !endsOperand(out[out.length - 1])) {
      let j = i + 1;
      let inClass = false;
      while (j < n && src[j] !== '\n') {
        const d = src[j];
        if (d === '\\') {
          j += 2;
          continue;
        }
        if (d === '[') inClass = true;
        else if (d === ']') inClass = false;
        else if (d === '/' && !inClass) break;
        j++;
      }
      j++;
      while (j < n && /[a-z]/.test(src[j])) j++;
      advanceTo(j);
      push('string', '', start, startLine, startCol, { interpolated: true });
      continue;
    }

    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(src[j])) j++;
      let word = src.slice(i, j);
      if (word.startsWith('@') && word.length > 1) word = word.slice(1); // C# @identifier, Java/Python decorators
      i = j;
      push('ident', word, start, startLine, startCol);
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[0-9A-Za-z_.]/.test(src[j])) j++;
      i = j;
      push('number', src.slice(start, j), start, startLine, startCol);
      continue;
    }
    const three = src.slice(i, i + 3);
    const two = src.slice(i, i + 2);
    const p = PUNCT3.includes(three)
      ? three
      : PUNCT2.includes(two) && !(two === '//' && dialect !== 'py')
        ? two
        : c;
    i += p.length;
    push('punct', p, start, startLine, startCol);
  }
  return out;

  function pushString(
    body: string,
    interp: boolean,
    escapes: boolean,
    startLine: number,
    startCol: number,
    start: number,
  ) {
    const text = (s: string) => (escapes ? unescape(s) : s);
    if (!interp) {
      push('string', text(body), start, startLine, startCol);
      return;
    }
    const k = findUnescaped(body, '{');
    const lit = k < 0 ? body : body.slice(0, k);
    let lead: string | undefined;
    if (k === 0) lead = readBraced(body, 1);
    push('string', text(lit), start, startLine, startCol, { lead, interpolated: true });
  }
}

function findUnescaped(body: string, open: string): number {
  for (let k = 0; k < body.length; k++) {
    if (body[k] === open) {
      if (body[k + 1] === open) {
        k++;
        continue;
      }
      return k;
    }
  }
  return -1;
}

function readBraced(body: string, from: number): string {
  let depth = 1;
  let j = from;
  for (; j < body.length; j++) {
    if (body[j] === '{') depth++;
    else if (body[j] === '}' && --depth === 0) break;
  }
  // Drop C# format specifiers and Python conversions / format specs: {x:yyyy}, {x!r}.
  return body.slice(from, j).replace(/[!:][^()[\]]*$/, '');
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_m, ch: string) => (ch === 'n' ? '\n' : ch === 't' ? '\t' : ch));
}
