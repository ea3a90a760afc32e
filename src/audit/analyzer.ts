/**
 * Token-level machinery shared by the language rules: bracket matching, call sites, argument lists, and the
 * path classifier with its per-file variable table (`const dir = path.join(__dirname, 'x')` makes `dir` a
 * root-anchored path for the rest of the file, until it is assigned something else).
 */
import { classifyPathString, UNKNOWN, type Classified } from './paths.js';
import { tokenize, type Dialect, type Token } from './tokenize.js';

export interface Range {
  from: number;
  /** Exclusive. */
  to: number;
}

export interface Arg extends Range {
  /** Named argument: C# `path: x`, Python `filename=x`. */
  name?: string;
}

export interface CallSite {
  /** Index of the `(`. */
  open: number;
  close: number;
  /** The called name: `writeFileSync`, `File`, `open`. */
  name: string;
  /** Normalised receiver chain (`fs`, `fs.promises`, `winston.transports`, `Log.Logger.WriteTo`), '' for none. */
  receiver: string;
  /** Receiver token range, when there is one. */
  receiverRange: Range | null;
  /** Called with `new`. */
  isNew: boolean;
  args: Arg[];
  token: Token;
}

interface Anchor {
  re: RegExp;
  cls: 'root' | 'safe';
}

/** Normalised chains (calls shown as `()`, indexing as `[]`) that name the app root or a writable place. */
const ANCHORS: Record<Dialect, Anchor[]> = {
  js: [
    { re: /^(__dirname|__filename)\b/, cls: 'root' },
    { re: /^process\.cwd\(\)/, cls: 'root' },
    { re: /^import\.meta\.(dirname|filename|url)\b/, cls: 'root' },
    { re: /^(os\.)?tmpdir\(\)/, cls: 'safe' },
    { re: /^(os\.)?homedir\(\)/, cls: 'safe' },
    { re: /^process\.env\b/, cls: 'safe' },
    { re: /^(fs\.)?mkdtempSync\(\)/, cls: 'safe' },
  ],
  cs: [
    { re: /^(System\.)?AppContext\.BaseDirectory\b/, cls: 'root' },
    { re: /(^|\.)AppDomain\.CurrentDomain\.(BaseDirectory|RelativeSearchPath)\b/, cls: 'root' },
    { re: /(^|\.)(ContentRootPath|WebRootPath)(\.|$)/, cls: 'root' },
    { re: /^(System\.IO\.)?Directory\.GetCurrentDirectory\(\)/, cls: 'root' },
    { re: /^(System\.)?Environment\.CurrentDirectory\b/, cls: 'root' },
    {
      re: /(^|\.)(Assembly\.(GetExecutingAssembly|GetEntryAssembly|GetCallingAssembly)\(\)|\.Assembly)\.(Location|CodeBase)\b/,
      cls: 'root',
    },
    { re: /(^|\.)HttpRuntime\.AppDomainAppPath\b/, cls: 'root' },
    { re: /(^|\.)(Server|HostingEnvironment)\.MapPath\(\)/, cls: 'root' },
    { re: /^(System\.IO\.)?Path\.(GetTempPath|GetTempFileName)\(\)/, cls: 'safe' },
    {
      re: /^(System\.)?Environment\.(GetEnvironmentVariable|GetFolderPath|ExpandEnvironmentVariables)\(\)/,
      cls: 'safe',
    },
  ],
  java: [{ re: /^(System\.getenv|Files\.createTemp(File|Directory)|File\.createTempFile)\(\)/, cls: 'safe' }],
  py: [
    { re: /^__file__\b/, cls: 'root' },
    { re: /^(os\.getcwd|Path\.cwd|pathlib\.Path\.cwd)\(\)/, cls: 'root' },
    { re: /(^|\.)(root_path|instance_path)$/, cls: 'root' }, // Flask app.root_path / app.instance_path
    { re: /^settings\.BASE_DIR\b/, cls: 'root' },
    { re: /^tempfile\./, cls: 'safe' },
    { re: /^os\.(environ|getenv)\b/, cls: 'safe' },
    { re: /^(Path|pathlib\.Path)\.home\(\)/, cls: 'safe' },
    { re: /^os\.path\.expanduser\(\)/, cls: 'safe' },
  ],
};

/** Functions that derive a path from their first argument (`path.join(x, …)` points where `x` points). */
const PATH_FUNCS: Record<Dialect, RegExp> = {
  js: /^(path\.(posix\.|win32\.)?(join|resolve|normalize|dirname)|join|resolve|dirname|(url\.)?fileURLToPath|upath\.join)$/,
  cs: /^((System\.IO\.)?Path\.(Combine|Join|GetFullPath|GetDirectoryName)|Combine)$/,
  java: /^(Paths\.get|Path\.of|Path\.resolve|FileSystems\.getDefault\(\)\.getPath)$/,
  py: /^(os\.path\.(join|dirname|abspath|realpath|normpath)|(pathlib\.)?(Pure)?(Windows|Posix)?Path|join|dirname|abspath)$/,
};

/** Constructors that build a path from their first argument. */
const PATH_CTORS: Record<Dialect, RegExp> = {
  js: /^URL$/,
  cs: /^(System\.IO\.)?(DirectoryInfo|FileInfo)$/,
  java: /^(java\.io\.)?File$/,
  py: /^$/,
};

/** Identifiers before `(` that never name a declared function. */
const NOT_A_NAME = new Set([
  'if',
  'for',
  'while',
  'switch',
  'catch',
  'return',
  'typeof',
  'sizeof',
  'nameof',
  'using',
  'lock',
  'foreach',
  'await',
  'new',
  'with',
  'elif',
  'synchronized',
  'super',
  'this',
  'base',
]);

/** Keywords a lambda's parameter list can follow. */
const LAMBDA_AFTER = new Set(['async', 'return', 'await', 'yield', 'in', 'of', 'case', 'else']);

/** Path functions whose relative argument is resolved to an absolute path against the working directory. */
const RESOLVES_CWD =
  /^(path\.resolve|resolve|Path\.GetFullPath|System\.IO\.Path\.GetFullPath|os\.path\.abspath|abspath|os\.path\.realpath)$/;

export class Analyzer {
  readonly toks: Token[];
  /** For each bracket token, the index of its partner; -1 otherwise. */
  readonly match: Int32Array;
  /** For each token, the index of the innermost unclosed bracket before it (-1 at top level). */
  readonly parent: Int32Array;
  readonly vars: Map<string, Classified>;

  constructor(
    readonly dialect: Dialect,
    source: string | Token[],
    vars?: Map<string, Classified>,
  ) {
    this.toks = typeof source === 'string' ? tokenize(source, dialect) : source;
    this.vars = vars ?? new Map();
    this.match = new Int32Array(this.toks.length).fill(-1);
    this.parent = new Int32Array(this.toks.length).fill(-1);
    const stack: number[] = [];
    for (let i = 0; i < this.toks.length; i++) {
      const t = this.toks[i];
      this.parent[i] = stack.length ? stack[stack.length - 1] : -1;
      if (t.kind !== 'punct') continue;
      if (t.value === '(' || t.value === '[' || t.value === '{') stack.push(i);
      else if (t.value === ')' || t.value === ']' || t.value === '}') {
        const want = t.value === ')' ? '(' : t.value === ']' ? '[' : '{';
        // Recover from unbalanced input: pop to the nearest matching opener, if any.
        const k = stack.map((s) => this.toks[s].value).lastIndexOf(want);
        if (k < 0) continue;
        const open = stack[k];
        stack.length = k;
        this.match[open] = i;
        this.match[i] = open;
      }
    }
  }

  is(i: number, value: string): boolean {
    const t = this.toks[i];
    return !!t && t.kind === 'punct' && t.value === value;
  }

  isIdent(i: number, value?: string): boolean {
    const t = this.toks[i];
    return !!t && t.kind === 'ident' && (value === undefined || t.value === value);
  }

  /** Index where the member chain ending at `end` (an identifier, `)` or `]`) starts. */
  chainStart(end: number): number {
    let i = end;
    for (;;) {
      const t = this.toks[i];
      if (!t) return i + 1;
      if (t.kind === 'punct' && (t.value === ')' || t.value === ']')) {
        const open = this.match[i];
        if (open < 0) return i;
        i = open - 1;
        // `f(x)` / `a()(b)` continue the chain; a bracket that starts a line does not continue the previous one.
        if (!this.toks[open].nl && (this.toks[i]?.kind === 'ident' || this.is(i, ')') || this.is(i, ']')))
          continue;
        return open;
      }
      if (t.kind === 'ident') {
        if (this.is(i - 1, '.') || this.is(i - 1, '?.')) {
          i -= 2;
          continue;
        }
        return i;
      }
      return i + 1;
    }
  }

  /** Normalised text of the chain in [from, to): identifiers and dots, calls as `()`, indexing as `[]`. */
  chainText(from: number, to: number): string {
    let s = '';
    for (let i = from; i < to; i++) {
      const t = this.toks[i];
      if (t.kind === 'punct' && (t.value === '(' || t.value === '[')) {
        const close = this.match[i];
        // A constant key stays in the text, so app.config['UPLOAD_FOLDER'] can be tracked like a variable.
        const key = this.toks[i + 1];
        s +=
          t.value === '('
            ? '()'
            : close === i + 2 && key.kind === 'string' && !key.interpolated
              ? `[${key.value}]`
              : '[]';
        if (close < 0) break;
        i = close;
        continue;
      }
      if (t.kind === 'punct' && (t.value === '.' || t.value === '?.' || t.value === '!')) {
        if (t.value !== '!') s += '.';
        continue;
      }
      if (t.kind === 'ident') s += t.value;
      else break;
    }
    return s;
  }

  /** End (exclusive) of the member chain starting at `from`. */
  chainEnd(from: number): number {
    let i = from;
    if (!this.isIdent(i)) return from;
    i++;
    for (;;) {
      if ((this.is(i, '.') || this.is(i, '?.')) && this.isIdent(i + 1)) i += 2;
      else if ((this.is(i, '(') || this.is(i, '[')) && this.match[i] > 0) i = this.match[i] + 1;
      else if (this.is(i, '!') && (this.is(i + 1, '.') || this.is(i + 1, ';') || this.is(i + 1, ')'))) i++;
      else return i;
    }
  }

  /** Splits the arguments between `open` and its matching bracket at top-level commas. */
  args(open: number): Arg[] {
    const close = this.match[open];
    if (close < 0) return [];
    const out: Arg[] = [];
    let from = open + 1;
    for (let i = open + 1; i <= close; i++) {
      const t = this.toks[i];
      if (i === close || (t.kind === 'punct' && t.value === ',')) {
        if (i > from) out.push(this.named({ from, to: i }));
        from = i + 1;
        continue;
      }
      if (this.match[i] > i) i = this.match[i];
    }
    return out;
  }

  private named(a: Range): Arg {
    const t = this.toks[a.from];
    const next = this.toks[a.from + 1];
    if (t.kind === 'ident' && next?.kind === 'punct' && a.to - a.from > 2) {
      if ((this.dialect === 'cs' && next.value === ':') || (this.dialect === 'py' && next.value === '=')) {
        return { from: a.from + 2, to: a.to, name: t.value };
      }
    }
    return a;
  }

  /** Every call site `callee(…)` in the token stream, in order. */
  callAt(open: number): CallSite | null {
    if (!this.is(open, '(') || this.match[open] < 0) return null;
    const nameIdx = open - 1;
    // Skip generic arguments: Foo<T>(…) is rare in the places we look; keep it simple.
    if (!this.isIdent(nameIdx)) return null;
    const name = this.toks[nameIdx].value;
    if (
      [
        'if',
        'for',
        'while',
        'switch',
        'catch',
        'return',
        'function',
        'typeof',
        'sizeof',
        'nameof',
        'using',
        'lock',
        'foreach',
        'elif',
        'with',
        'not',
        'and',
        'or',
        'in',
      ].includes(name)
    ) {
      return null;
    }
    let receiver = '';
    let receiverRange: Range | null = null;
    let start = nameIdx;
    if (this.is(nameIdx - 1, '.') || this.is(nameIdx - 1, '?.')) {
      const rs = this.chainStart(nameIdx - 2);
      receiverRange = { from: rs, to: nameIdx - 1 };
      receiver = this.chainText(rs, nameIdx - 1);
      start = rs;
    }
    let isNew = this.isIdent(start - 1, 'new');
    if (isNew && receiver.includes('()') && receiverRange) {
      // new File(x).mkdirs(): the `new` belongs to the receiver.
      isNew = false;
      receiverRange.from = start - 1;
    }
    return {
      open,
      close: this.match[open],
      name,
      receiver,
      receiverRange,
      isNew,
      args: this.args(open),
      // Report where the call is: the start of `fs.writeFileSync(`, or the method name in a multi-line chain.
      token: this.toks[start].line === this.toks[nameIdx].line ? this.toks[start] : this.toks[nameIdx],
    };
  }

  /** First argument with this name, else the positional argument at `index` (positional ones before named ones). */
  arg(call: CallSite, index: number, name?: string): Arg | undefined {
    if (name) {
      const named = call.args.find((a) => a.name === name);
      if (named) return named;
    }
    const positional = call.args.filter((a) => !a.name);
    return positional[index];
  }

  /** Plain string value of a range that is exactly one string literal, else undefined. */
  stringValue(r: Range | undefined): string | undefined {
    if (!r) return undefined;
    let { from, to } = r;
    while (this.is(from, '(') && this.match[from] === to - 1) {
      from++;
      to--;
    }
    const t = this.toks[from];
    if (to - from === 1 && t.kind === 'string' && !t.interpolated) return t.value;
    return undefined;
  }

  text(r: Range): string {
    return this.toks
      .slice(r.from, r.to)
      .map((t) => (t.kind === 'string' ? JSON.stringify(t.value) : t.value))
      .join(' ');
  }

  /** Value range of `key: value` (or `key = value` in a C# initializer / Python dict) anywhere inside a range. */
  findKey(r: Range, keys: string[]): Range | undefined {
    for (let i = r.from; i < r.to - 1; i++) {
      const t = this.toks[i];
      const isKey =
        (t.kind === 'ident' || (t.kind === 'string' && !t.interpolated)) && keys.includes(t.value);
      if (!isKey || !(this.is(i + 1, ':') || (this.is(i + 1, '=') && this.dialect === 'cs'))) continue;
      const from = i + 2;
      return { from, to: this.exprEnd(from, r.to) };
    }
    return undefined;
  }

  /** End (exclusive) of the expression starting at `from`: a top-level `,` `;` or closing bracket. */
  exprEnd(from: number, limit = this.toks.length): number {
    for (let i = from; i < limit; i++) {
      const t = this.toks[i];
      if (i > from && t.nl && (this.dialect === 'py' || this.dialect === 'js') && !this.continues(i))
        return i;
      if (t.kind !== 'punct') continue;
      if (t.value === ',' || t.value === ';') return i;
      if (t.value === ')' || t.value === ']' || t.value === '}') return i;
      if (this.match[i] > i) i = this.match[i];
    }
    return limit;
  }

  /** A line break before token i does not end a statement (the previous line ends in an operator, or this one starts with one). */
  private continues(i: number): boolean {
    const prev = this.toks[i - 1];
    const cur = this.toks[i];
    const ops = ['+', '-', '*', '/', '||', '&&', '??', '?', ':', '=', '(', '[', '{', ',', '.', '=>'];
    if (prev && prev.kind === 'punct' && ops.includes(prev.value)) return true;
    if (
      cur.kind === 'punct' &&
      ['.', '?.', '+', '||', '&&', '??', '?', ':', ')', ']', '}'].includes(cur.value)
    )
      return true;
    return false;
  }

  /** Where the expression in `r` points. */
  classify(r: Range): Classified {
    let { from, to } = r;
    while (this.is(from, '(') && this.match[from] === to - 1) {
      from++;
      to--;
    }
    // await x / (Type) casts / Python `str(x)` wrappers do not change where a path points.
    while (this.isIdent(from, 'await') || this.isIdent(from, 'yield')) from++;
    if (this.isIdent(from, 'str') && this.is(from + 1, '(') && this.match[from + 1] > 0) {
      return this.classify({ from: from + 2, to: this.match[from + 1] });
    }
    if (from >= to) return UNKNOWN;
    // A conditional picks one of two places: too uncertain to report.
    for (let i = from; i < to; i++) {
      if (this.match[i] > i) {
        i = this.match[i];
        continue;
      }
      if (this.is(i, '?') || this.isIdent(i, 'if')) return UNKNOWN;
    }
    const t = this.toks[from];
    if (t.kind === 'string') {
      if (t.lead !== undefined) return this.classifyText(t.lead);
      if (t.interpolated && t.value === '') return UNKNOWN;
      return classifyPathString(t.value);
    }
    if (t.kind !== 'ident') return UNKNOWN;
    if (t.value === 'new') return this.classifyNew(from + 1);
    const end = this.chainEnd(from);
    const chain = this.chainText(from, end);
    return this.classifyChain(from, end, chain);
  }

  private classifyNew(at: number): Classified {
    let i = at;
    while (this.isIdent(i) && this.is(i + 1, '.')) i += 2;
    if (!this.isIdent(i) || !this.is(i + 1, '(')) return UNKNOWN;
    const ctor = this.chainText(at, i + 1);
    if (!PATH_CTORS[this.dialect].test(ctor)) return UNKNOWN;
    const args = this.args(i + 1);
    if (args.length === 0) return UNKNOWN;
    if (this.dialect === 'js') {
      // new URL('./x', import.meta.url): the base decides.
      return args.length > 1 ? this.classify(args[1]) : UNKNOWN;
    }
    const first = this.classify(args[0]);
    if (this.dialect === 'java' && first.cls === 'unknown' && this.stringValue(args[0]) === '') {
      return { cls: 'relative', anchor: "''" };
    }
    return first;
  }

  private classifyChain(from: number, end: number, chain: string): Classified {
    for (const a of ANCHORS[this.dialect]) {
      if (a.re.test(chain)) return { cls: a.cls, anchor: chain };
    }
    if (this.dialect === 'java' && /^System\.getProperty\(\)/.test(chain)) {
      const prop = this.stringValue(this.args(from + 3)[0]);
      if (prop === 'user.dir') return { cls: 'root', anchor: 'System.getProperty("user.dir")' };
      if (prop === 'java.io.tmpdir' || prop === 'user.home') return { cls: 'safe', anchor: prop };
      return UNKNOWN;
    }
    // A variable (or field) assigned a classified path earlier in the file.
    const v = this.lookupVar(chain);
    if (v) return v;
    // path.join(x, …) and friends point where their first argument points.
    const firstCall = chain.indexOf('()');
    if (firstCall > 0) {
      const fn = chain.slice(0, firstCall);
      if (PATH_FUNCS[this.dialect].test(fn)) {
        let open = from;
        while (open < end && !this.is(open, '(')) open++;
        const args = this.args(open);
        if (RESOLVES_CWD.test(fn)) {
          if (args.length === 0) return { cls: 'root', anchor: `${fn}()` };
          const first = this.classify(args[0]);
          if (first.cls === 'relative') return { cls: 'root', anchor: `${fn}(${first.anchor})` };
          return first;
        }
        if (args.length === 0) return UNKNOWN;
        const first = this.classify(args[0]);
        if (first.cls === 'unknown' && this.stringValue(args[0]) === '' && this.dialect !== 'js') {
          return { cls: 'relative', anchor: "''" };
        }
        return first;
      }
    }
    return UNKNOWN;
  }

  /** Longest variable key that is a prefix of the chain at a member boundary. */
  private lookupVar(chain: string): Classified | undefined {
    const found = this.lookupExact(chain);
    if (found) return found;
    // A field read as this._dir / self._dir after `_dir = …` in its declaration (and the other way round).
    const bare = chain.replace(/^(this|self)\./, '');
    if (bare !== chain) return this.lookupExact(bare);
    return undefined;
  }

  private lookupExact(chain: string): Classified | undefined {
    let best: string | undefined;
    for (const key of this.vars.keys()) {
      if (
        chain === key ||
        chain.startsWith(key + '.') ||
        chain.startsWith(key + '(') ||
        chain.startsWith(key + '[')
      ) {
        if (!best || key.length > best.length) best = key;
      }
    }
    if (best === undefined) return undefined;
    const v = this.vars.get(best)!;
    if (v.cls === 'safe' || v.cls === 'unknown') return v;
    const origin = v.anchor.includes(' (from ')
      ? v.anchor.slice(v.anchor.indexOf(' (from ') + 7, -1)
      : v.anchor;
    return { cls: v.cls, anchor: `${best} (from ${origin})` };
  }

  /** Classifies an expression given as source text (an interpolation), sharing this file's variables. */
  classifyText(src: string): Classified {
    const sub = new Analyzer(this.dialect, src, this.vars);
    return sub.classify({ from: 0, to: sub.toks.length });
  }

  /**
   * If token i opens the parameter list of a function, method or lambda, returns the parameter names and the
   * index of the token that closes the body (-1 when the body has no braces, e.g. Python). Parameters shadow
   * variables of the same name: inside the function, `dir` is whatever the caller passes.
   */
  paramsAt(i: number): { names: string[]; bodyEnd: number } | null {
    if (!this.is(i, '(')) return null;
    const close = this.match[i];
    if (close < 0) return null;
    const before = this.toks[i - 1];
    const after = this.toks[close + 1];
    let isDecl = false;
    if (this.dialect === 'py') {
      isDecl = this.isIdent(i - 1) && this.isIdent(i - 2, 'def');
    } else {
      // `(a, b) => …` / `(a) -> …`: a lambda (after an operator, a bracket or a keyword, not after a name).
      const arrow = !!after && after.kind === 'punct' && (after.value === '=>' || after.value === '->');
      if (arrow) isDecl = !before || before.kind !== 'ident' || LAMBDA_AFTER.has(before.value);
      if (!isDecl && this.isIdent(i - 1) && !NOT_A_NAME.has(before.value)) {
        const prev = this.toks[i - 2];
        const called = !!prev && prev.kind === 'punct' && (prev.value === '.' || prev.value === '?.');
        const bodyNext =
          !!after &&
          ((after.kind === 'punct' && (after.value === '{' || after.value === '=>')) ||
            (after.kind === 'ident' && (after.value === 'throws' || after.value === 'where')) ||
            (after.kind === 'punct' && after.value === ':' && this.dialect === 'js'));
        isDecl = this.isIdent(i - 2, 'function') || (!called && !this.isIdent(i - 2, 'new') && bodyNext);
      }
      if (!isDecl && this.isIdent(i - 1, 'function')) isDecl = true;
    }
    if (!isDecl) return null;
    const names: string[] = [];
    for (const a of this.args(i)) {
      let end = a.to;
      for (let k = a.from; k < a.to; k++) {
        if (this.match[k] > k) {
          k = this.match[k];
          continue;
        }
        if (this.is(k, '=')) {
          end = k;
          break;
        }
      }
      let name: string | undefined;
      for (let k = a.from; k < end; k++) {
        if (this.match[k] > k) {
          k = this.match[k];
          continue;
        }
        if (this.is(k, ':') && this.isIdent(k - 1) && this.dialect !== 'cs') {
          name = this.toks[k - 1].value;
          break;
        }
        if (this.isIdent(k)) name = this.toks[k].value;
      }
      if (name) names.push(a.name ?? name);
    }
    let bodyEnd = -1;
    let k = close + 1;
    while (k < this.toks.length && !this.is(k, '{') && !this.is(k, ';') && k < close + 12) k++;
    if (this.is(k, '{') && this.match[k] > k) bodyEnd = this.match[k];
    return { names, bodyEnd };
  }

  /**
   * If token i is a plain assignment `x = …`, `this.x = …`, `x: T = …`, returns the assigned key and value range.
   */
  assignmentAt(i: number): { key: string; value: Range } | null {
    if (!this.is(i, '=')) return null;
    if (this.dialect === 'py') {
      const p = this.parent[i];
      if (p >= 0 && this.is(p, '(')) return null; // keyword argument
    }
    let lhsEnd = i - 1;
    // Type annotation `name: Type = …` (TypeScript, Python): the name is before the colon.
    if (this.isIdent(lhsEnd) && !this.toks[lhsEnd].nl && this.is(lhsEnd - 1, ':') && this.isIdent(lhsEnd - 2))
      lhsEnd -= 2;
    // `config['UPLOAD_FOLDER'] = …`: an indexed target with a constant key.
    if (
      this.is(lhsEnd, ']') &&
      this.match[lhsEnd] === lhsEnd - 2 &&
      this.toks[lhsEnd - 1].kind === 'string'
    ) {
      const start = this.chainStart(lhsEnd);
      const key = this.chainText(start, lhsEnd + 1);
      if (!key.endsWith(']') || key.includes('()')) return null;
      return { key, value: { from: i + 1, to: this.exprEnd(i + 1) } };
    }
    if (!this.isIdent(lhsEnd)) return null;
    let s = lhsEnd;
    while ((this.is(s - 1, '.') || this.is(s - 1, '?.')) && this.isIdent(s - 2)) s -= 2;
    const key = this.chainText(s, lhsEnd + 1);
    const from = i + 1;
    return { key, value: { from, to: this.exprEnd(from) } };
  }
}
