/**
 * Rules for application code. One ordered pass per file: assignments update the variable table, call sites
 * are checked against the write operations of the language. A finding needs both a write operation and a
 * path that points at the app root (or is relative); reads and writes to temp or env-based paths never count.
 */
import { Analyzer, type Arg, type CallSite } from './analyzer.js';
import {
  dataProtectionFinding,
  databaseFinding,
  logFinding,
  uploadFinding,
  writeFinding,
  type Draft,
} from './explain.js';
import {
  classifyDbPath,
  classifyPathString,
  jdbcFile,
  sqliteFileFromConnectionString,
  UNKNOWN,
  type Classified,
} from './paths.js';
import type { Dialect } from './tokenize.js';
import type { AuditRuntime } from './types.js';

const RUNTIME: Record<Dialect, AuditRuntime> = { js: 'node', cs: 'dotnet', py: 'python', java: 'java' };

/** Worth reporting: anchored to the root, or relative. `rootOnly` sites (generic `.Save(`) need the root. */
function reportable(c: Classified, rootOnly = false): boolean {
  return c.cls === 'root' || (c.cls === 'relative' && !rootOnly);
}

export function scanCode(dialect: Dialect, source: string): Draft[] {
  const a = new Analyzer(dialect, source);
  const out: Draft[] = [];
  const runtime = RUNTIME[dialect];
  const ctx: Ctx = { a, out, runtime, source, fsImported: FS_IMPORT.test(source) };
  const djangoSqlite = dialect === 'py' && source.includes('django.db.backends.sqlite3');
  const pyLoggingDict = dialect === 'py' && /['"]logging\.(handlers\.)?\w*FileHandler['"]/.test(source);
  /** Variables shadowed by parameters, restored when the function body closes. */
  const restore = new Map<number, [string, Classified | undefined][]>();
  for (let i = 0; i < a.toks.length; i++) {
    const saved = restore.get(i);
    if (saved) {
      for (const [k, v] of saved) {
        if (v) a.vars.set(k, v);
        else a.vars.delete(k);
      }
      restore.delete(i);
    }
    const params = a.paramsAt(i);
    if (params) {
      const keep: [string, Classified | undefined][] = [];
      for (const n of params.names) {
        keep.push([n, a.vars.get(n)]);
        a.vars.delete(n);
      }
      if (params.bodyEnd > i) restore.set(params.bodyEnd, [...(restore.get(params.bodyEnd) ?? []), ...keep]);
    }
    if (pyLoggingDict) loggingDictEntry(ctx, i);
    if (djangoSqlite) djangoDatabaseName(ctx, i);
    if (dialect === 'java') jdbcUrl(ctx, i);
    const asg = a.assignmentAt(i);
    if (asg) {
      const c = a.classify(asg.value);
      onAssignment(ctx, asg.key, c, i);
      if (c.cls === 'unknown') a.vars.delete(asg.key);
      else a.vars.set(asg.key, c);
      continue;
    }
    const call = a.callAt(i);
    if (!call) continue;
    if (dialect === 'js') jsCall(ctx, call);
    else if (dialect === 'cs') csCall(ctx, call);
    else if (dialect === 'py') pyCall(ctx, call);
    else javaCall(ctx, call);
  }
  if (dialect === 'cs') dataProtectionDefaults(ctx);
  return out;
}

interface Ctx {
  a: Analyzer;
  out: Draft[];
  runtime: AuditRuntime;
  source: string;
  fsImported: boolean;
}

const FS_IMPORT =
  /(require\s*\(\s*|from\s+|import\s+)['"](node:)?(fs|fs\/promises|fs-extra|graceful-fs|mkdirp)['"]/;

function at(ctx: Ctx, call: CallSite): { line: number; column: number } {
  return { line: call.token.line, column: call.token.column };
}

function label(call: CallSite): string {
  return (call.isNew ? 'new ' : '') + (call.receiver ? `${call.receiver}.${call.name}` : call.name);
}

function checkWrite(ctx: Ctx, call: CallSite, arg: Arg | undefined, rootOnly = false): void {
  if (!arg) return;
  const c = ctx.a.classify(arg);
  if (!reportable(c, rootOnly)) return;
  const p = at(ctx, call);
  ctx.out.push(writeFinding(ctx.runtime, label(call), c, p.line, p.column));
}

function checkReceiverWrite(ctx: Ctx, call: CallSite): void {
  if (!call.receiverRange) return;
  const c = ctx.a.classify(call.receiverRange);
  if (!reportable(c)) return;
  const p = at(ctx, call);
  const op = `${call.name}()`;
  ctx.out.push(writeFinding(ctx.runtime, op, c, p.line, p.column));
}

function onAssignment(ctx: Ctx, key: string, c: Classified, i: number): void {
  // Django settings: FileSystemStorage keeps uploads under MEDIA_ROOT.
  if (ctx.runtime === 'python' && key === 'MEDIA_ROOT' && reportable(c)) {
    const t = ctx.a.toks[i - 1];
    ctx.out.push(uploadFinding('python', 'Django MEDIA_ROOT (FileSystemStorage)', c, t.line, t.column));
    return;
  }
  // SQLALCHEMY_DATABASE_URI = 'sqlite:///app.db' (also app.config['SQLALCHEMY_DATABASE_URI']).
  if (ctx.runtime === 'python' && /(^|[.[])SQLALCHEMY_DATABASE_URI\]?$/.test(key)) {
    const asg = ctx.a.assignmentAt(i);
    if (asg)
      pushDatabase(ctx, 'SQLite database (SQLAlchemy URL)', sqliteUrl(ctx, asg.value), ctx.a.toks[i + 1]);
    return;
  }
  // form.uploadDir = 'uploads' (formidable).
  if (ctx.runtime === 'node' && /(^|\.)uploadDir$/.test(key) && reportable(c)) {
    const t = ctx.a.toks[i - 1];
    ctx.out.push(
      uploadFinding('node', 'formidable (uploadDir)', c, t.line, t.column - key.length + 'uploadDir'.length),
    );
  }
}

// ---------------------------------------------------------------------------------------------------- Node

const JS_WRITE_ARG0 = new Set([
  'writeFile',
  'writeFileSync',
  'appendFile',
  'appendFileSync',
  'createWriteStream',
  'mkdir',
  'mkdirSync',
  'outputFile',
  'outputFileSync',
  'outputJson',
  'outputJsonSync',
  'writeJson',
  'writeJsonSync',
  'ensureDir',
  'ensureDirSync',
  'ensureFile',
  'ensureFileSync',
  'mkdirp',
  'mkdirs',
  'mkdirsSync',
]);
const JS_WRITE_ARG1 = new Set([
  'copyFile',
  'copyFileSync',
  'rename',
  'renameSync',
  'cp',
  'cpSync',
  'copy',
  'copySync',
  'move',
  'moveSync',
]);
const FS_RECEIVER = /(^|\.)(fs|fsp|fse|fsExtra|fsPromises|promises|gracefulFs|fs_extra)$/i;

function jsCall(ctx: Ctx, call: CallSite): void {
  const { a } = ctx;
  const fsLike = call.receiver ? FS_RECEIVER.test(call.receiver) : ctx.fsImported && !call.isNew;
  if (fsLike) {
    if (JS_WRITE_ARG0.has(call.name)) return checkWrite(ctx, call, call.args[0]);
    if (JS_WRITE_ARG1.has(call.name)) return checkWrite(ctx, call, call.args[1]);
    if (call.name === 'open' || call.name === 'openSync') {
      const flags = a.stringValue(call.args[1]);
      if (flags && /[wax+]/.test(flags)) checkWrite(ctx, call, call.args[0]);
      return;
    }
  }
  // SQLite files: new sqlite3.Database(file), new Database(file) (better-sqlite3), knex / Sequelize sqlite storage.
  if (call.isNew && call.name === 'Database' && /['"](better-)?sqlite3['"]/.test(ctx.source)) {
    const arg = call.args[0];
    if (arg && a.stringValue(arg) !== ':memory:')
      pushDatabase(ctx, 'SQLite database', a.classify(arg), call.token);
    return;
  }
  if (
    (call.name === 'knex' || (call.isNew && call.name === 'Sequelize')) &&
    /sqlite/.test(a.text(optionsRange(call) ?? { from: 0, to: 0 }))
  ) {
    const r = optionsRange(call)!;
    const v = a.findKey(r, ['filename', 'storage']);
    if (v && a.stringValue(v) !== ':memory:')
      pushDatabase(ctx, `SQLite database (${call.name})`, a.classify(v), a.toks[v.from - 2]);
    return;
  }
  // session-file-store: new FileStore({ path }) keeps sessions in ./sessions unless told otherwise.
  if (call.isNew && call.name === 'FileStore' && /['"]session-file-store['"]/.test(ctx.source)) {
    const r = optionsRange(call);
    const v = r ? a.findKey(r, ['path']) : undefined;
    const c = v ? a.classify(v) : { cls: 'relative' as const, anchor: "'./sessions' (the default)" };
    pushDatabase(ctx, 'session-file-store', c, v ? a.toks[v.from - 2] : call.token);
    return;
  }
  // express-fileupload: req.files.x.mv(dest).
  if (call.name === 'mv' && call.receiver) return checkWrite(ctx, call, call.args[0]);
  const head = call.receiver ? call.receiver.split('.')[0] : call.name;
  // multer({ dest }) / multer.diskStorage({ destination }).
  if (head === 'multer' || call.name === 'multer' || call.name === 'diskStorage') {
    return uploadOptions(ctx, call, 'multer', ['dest', 'destination']);
  }
  if (call.name === 'formidable' || call.name === 'IncomingForm' || head === 'formidable') {
    return uploadOptions(ctx, call, 'formidable', ['uploadDir']);
  }
  if (call.name === 'fileUpload' || call.name === 'fileupload') {
    return uploadOptions(ctx, call, 'express-fileupload', ['tempFileDir']);
  }
  // winston: new winston.transports.File({ filename }), new DailyRotateFile({ filename, dirname }).
  if (
    call.isNew &&
    ((call.name === 'File' && /(^|\.)transports$/.test(call.receiver)) || call.name === 'DailyRotateFile')
  ) {
    return logOptions(ctx, call, `winston ${call.name} transport`, ['filename', 'dirname']);
  }
  // log4js.configure({ appenders: { file: { type: 'file', filename } } }), bunyan.createLogger({ streams: [{ path }] }).
  if (head === 'log4js' && call.name === 'configure')
    return logOptions(ctx, call, 'log4js file appender', ['filename']);
  if (head === 'bunyan' && call.name === 'createLogger')
    return logOptions(ctx, call, 'bunyan file stream', ['path']);
  // pino.destination('x') / pino.destination({ dest }) / pino({ transport: { target: 'pino/file', options: { destination } } }).
  if (head === 'pino' || call.name === 'pino') {
    const first = call.args[0];
    if (call.name === 'destination' && first && !a.is(first.from, '{')) {
      const c = a.classify(first);
      if (reportable(c)) pushLog(ctx, call, 'pino.destination', c);
      return;
    }
    return logOptions(ctx, call, 'pino file destination', ['destination', 'dest']);
  }
}

function optionsRange(call: CallSite): { from: number; to: number } | undefined {
  if (call.args.length === 0) return undefined;
  return { from: call.args[0].from, to: call.args[call.args.length - 1].to };
}

function uploadOptions(ctx: Ctx, call: CallSite, lib: string, keys: string[]): void {
  const { a } = ctx;
  const r = optionsRange(call);
  if (!r) return;
  const v = a.findKey(r, keys);
  if (!v) return;
  let c = a.classify(v);
  // diskStorage({ destination: (req, file, cb) => cb(null, 'uploads/') }).
  if (c.cls === 'unknown') {
    for (let i = v.from; i < v.to; i++) {
      const inner = a.callAt(i);
      if (inner && inner.args.length >= 2 && a.isIdent(inner.args[0].from, 'null')) {
        c = a.classify(inner.args[1]);
        break;
      }
    }
  }
  if (!reportable(c)) return;
  const t = a.toks[v.from - 2];
  ctx.out.push(uploadFinding(ctx.runtime, lib, c, t.line, t.column));
}

function logOptions(ctx: Ctx, call: CallSite, sink: string, keys: string[]): void {
  const { a } = ctx;
  const r = optionsRange(call);
  if (!r) return;
  const v = a.findKey(r, keys);
  if (!v) return;
  const c = a.classify(v);
  if (!reportable(c)) return;
  const t = a.toks[v.from - 2];
  ctx.out.push(logFinding(ctx.runtime, sink, c, t.line, t.column));
}

function pushLog(ctx: Ctx, call: CallSite, sink: string, c: Classified): void {
  const p = at(ctx, call);
  ctx.out.push(logFinding(ctx.runtime, sink, c, p.line, p.column));
}

// ---------------------------------------------------------------------------------------------------- .NET

const CS_FILE_ARG0 =
  /^(WriteAll(Text|Bytes|Lines)|AppendAll(Text|Lines)|Create|CreateText|AppendText|OpenWrite)(Async)?$/;
const CS_FILE_ARG1 = /^(Copy|Move|Replace)$/;
const CS_WRITE_MODE =
  /FileMode\s*\.\s*(Create|CreateNew|Append|OpenOrCreate|Truncate)|FileAccess\s*\.\s*(Write|ReadWrite)/;

function csCall(ctx: Ctx, call: CallSite): void {
  const { a } = ctx;
  const recv = call.receiver.replace(/^System\.IO\./, '');
  if (recv === 'File') {
    if (CS_FILE_ARG0.test(call.name)) return checkWrite(ctx, call, call.args[0]);
    if (CS_FILE_ARG1.test(call.name)) return checkWrite(ctx, call, call.args[1]);
    if (
      call.name === 'Open' &&
      call.args.slice(1).some((x) => CS_WRITE_MODE.test(a.text(x).replace(/ /g, '')))
    ) {
      return checkWrite(ctx, call, call.args[0]);
    }
    return;
  }
  if (recv === 'Directory') {
    if (call.name === 'CreateDirectory') return checkWrite(ctx, call, call.args[0]);
    if (call.name === 'Move') return checkWrite(ctx, call, call.args[1]);
    return;
  }
  if (call.isNew && call.name === 'FileStream') {
    if (call.args.slice(1).some((x) => CS_WRITE_MODE.test(a.text(x).replace(/ /g, ''))))
      checkWrite(ctx, call, call.args[0]);
    return;
  }
  if (call.isNew && call.name === 'StreamWriter') return checkWrite(ctx, call, a.arg(call, 0, 'path'));
  // image.Save(path), doc.SaveAs(path), formFile.CopyTo… : only when the path is clearly the app root.
  if ((call.name === 'Save' || call.name === 'SaveAs') && call.receiver)
    return checkWrite(ctx, call, call.args[0], true);
  // Serilog: .WriteTo.File("logs/app.txt") (also inside WriteTo.Async(a => a.File(…))).
  if ((call.name === 'File' || call.name === 'RollingFile') && call.receiver && recv !== 'File') {
    const arg = a.arg(call, 0, 'path') ?? a.arg(call, 0, 'pathFormat');
    if (!arg) return;
    // WriteTo.File(formatter, "path"): the path is the first string-like argument.
    const pathArg =
      a.stringValue(arg) === undefined && a.classify(arg).cls === 'unknown' ? a.arg(call, 1) : arg;
    if (!pathArg) return;
    const c = a.classify(pathArg);
    if (reportable(c)) pushLog(ctx, call, `Serilog ${call.name} sink`, c);
    return;
  }
  // Serilog.Extensions.Logging.File / NReco: builder.Logging.AddFile("Logs/app-{Date}.txt").
  if (call.name === 'AddFile' && call.receiver) {
    const arg = a.arg(call, 0, 'pathFormat');
    if (!arg) return;
    const c = a.classify(arg);
    if (reportable(c)) pushLog(ctx, call, 'AddFile log provider', c);
    return;
  }
  // EF Core / Microsoft.Data.Sqlite: UseSqlite("Data Source=app.db"), new SqliteConnection("Data Source=app.db").
  if (call.name === 'UseSqlite' || (call.isNew && call.name === 'SqliteConnection')) {
    const cs = a.stringValue(call.args[0]);
    const file = cs === undefined ? undefined : sqliteFileFromConnectionString(cs);
    if (file !== undefined) pushDatabase(ctx, 'SQLite database', classifyDbPath(file), call.token);
    return;
  }
  if (call.name === 'PersistKeysToFileSystem') {
    const arg = call.args[0];
    if (!arg) return;
    const c = a.classify(arg);
    if (!reportable(c)) return;
    const p = at(ctx, call);
    ctx.out.push(dataProtectionFinding('under-root', c, p.line, p.column));
  }
}

/** AddDataProtection() in a file that never names a PersistKeysTo… target. */
function dataProtectionDefaults(ctx: Ctx): void {
  const { a } = ctx;
  const persists = a.toks.some((t) => t.kind === 'ident' && t.value.startsWith('PersistKeysTo'));
  if (persists) return;
  for (let i = 0; i < a.toks.length; i++) {
    const t = a.toks[i];
    if (t.kind === 'ident' && t.value === 'AddDataProtection' && a.is(i + 1, '(')) {
      ctx.out.push(dataProtectionFinding('no-persist', null, t.line, t.column));
    }
  }
}

// ---------------------------------------------------------------------------------------------------- Python

function pyMode(ctx: Ctx, call: CallSite, index: number): boolean {
  const mode = ctx.a.stringValue(ctx.a.arg(call, index, 'mode'));
  return !!mode && /[wax+]/.test(mode);
}

const PY_LOG_HANDLERS = /^(FileHandler|RotatingFileHandler|TimedRotatingFileHandler|WatchedFileHandler)$/;

function pyCall(ctx: Ctx, call: CallSite): void {
  const { a } = ctx;
  const r = call.receiver;
  if (
    (call.name === 'open' && (!r || r === 'io' || r === 'codecs')) ||
    (call.name === 'open' && r === 'os')
  ) {
    if (pyMode(ctx, call, 1)) checkWrite(ctx, call, a.arg(call, 0, 'file'));
    return;
  }
  if (r === 'os' && (call.name === 'makedirs' || call.name === 'mkdir'))
    return checkWrite(ctx, call, a.arg(call, 0, 'name'));
  if (r === 'sqlite3' && call.name === 'connect') {
    const arg = a.arg(call, 0, 'database');
    if (arg && a.stringValue(arg) !== ':memory:')
      pushDatabase(ctx, 'SQLite database', a.classify(arg), call.token);
    return;
  }
  if (call.name === 'create_engine' && call.args[0]) {
    pushDatabase(ctx, 'SQLite database (SQLAlchemy URL)', sqliteUrl(ctx, call.args[0]), call.token);
    return;
  }
  if (r === 'joblib' && call.name === 'dump') return checkWrite(ctx, call, a.arg(call, 1, 'filename'), true);
  if (r === 'shutil' && /^(copy|copy2|copyfile|copytree|move)$/.test(call.name))
    return checkWrite(ctx, call, a.arg(call, 1, 'dst'));
  if (PY_LOG_HANDLERS.test(call.name)) {
    const arg = a.arg(call, 0, 'filename');
    if (!arg) return;
    const c = a.classify(arg);
    if (reportable(c)) pushLog(ctx, call, `logging.${call.name}`, c);
    return;
  }
  if (call.name === 'basicConfig') {
    const arg = call.args.find((x) => x.name === 'filename');
    if (!arg) return;
    const c = a.classify(arg);
    if (reportable(c)) pushLog(ctx, call, 'logging.basicConfig(filename=…)', c);
    return;
  }
  if (!call.receiverRange) return;
  // Path methods on a root-anchored path.
  if (/^(write_text|write_bytes|mkdir|touch)$/.test(call.name)) return checkReceiverWrite(ctx, call);
  if (call.name === 'open' && pyMode(ctx, call, 0)) return checkReceiverWrite(ctx, call);
  // PIL / matplotlib / pandas style saves: only when the path is clearly the app root.
  if (/^(save|savefig|to_csv|to_json|to_excel|to_parquet)$/.test(call.name))
    return checkWrite(ctx, call, call.args[0], true);
}

/** LOGGING = {...} / dictConfig({...}): a 'filename' entry in a file that configures a logging FileHandler. */
function loggingDictEntry(ctx: Ctx, i: number): void {
  const { a } = ctx;
  const t = a.toks[i];
  if (t.kind !== 'string' || t.interpolated || t.value !== 'filename' || !a.is(i + 1, ':')) return;
  const c = a.classify({ from: i + 2, to: a.exprEnd(i + 2) });
  if (reportable(c))
    ctx.out.push(logFinding('python', 'logging FileHandler (dict config)', c, t.line, t.column));
}

// ---------------------------------------------------------------------------------------------------- Java

const JAVA_FILES_ARG0 =
  /^(write|writeString|newOutputStream|newBufferedWriter|createDirectories|createDirectory|createFile)$/;

function javaCall(ctx: Ctx, call: CallSite): void {
  const { a } = ctx;
  if (call.isNew) {
    if (/^(FileOutputStream|FileWriter|PrintWriter|PrintStream)$/.test(call.name))
      return checkWrite(ctx, call, call.args[0]);
    // java.util.logging.FileHandler("app.log"); %t (temp) and %h (home) patterns are writable.
    if (call.name === 'FileHandler' && call.args[0]) {
      const pattern = a.stringValue(call.args[0]);
      if (pattern !== undefined && /^%[th]/.test(pattern)) return;
      const c = a.classify(call.args[0]);
      if (reportable(c)) pushLog(ctx, call, 'java.util.logging FileHandler', c);
      return;
    }
    if (call.name === 'RandomAccessFile') {
      const mode = a.stringValue(call.args[1]);
      if (mode && mode.includes('w')) checkWrite(ctx, call, call.args[0]);
    }
    return;
  }
  if (call.receiver === 'Files' || call.receiver === 'java.nio.file.Files') {
    if (JAVA_FILES_ARG0.test(call.name)) return checkWrite(ctx, call, call.args[0]);
    if (call.name === 'copy' || call.name === 'move') return checkWrite(ctx, call, call.args[1]);
    return;
  }
  // Apache Commons IO.
  if (call.receiver === 'FileUtils' || call.receiver === 'org.apache.commons.io.FileUtils') {
    if (
      /^(write|writeStringToFile|writeByteArrayToFile|writeLines|forceMkdir|copyInputStreamToFile|openOutputStream|touch)$/.test(
        call.name,
      )
    ) {
      return checkWrite(ctx, call, call.args[0]);
    }
    if (
      /^(copyFile|copyDirectory|copyURLToFile|moveFile|moveDirectory|copyFileToDirectory)$/.test(call.name)
    ) {
      return checkWrite(ctx, call, call.args[1]);
    }
    return;
  }
  if (/^(mkdirs|mkdir|createNewFile)$/.test(call.name) && call.args.length === 0)
    return checkReceiverWrite(ctx, call);
  // Spring MultipartFile.transferTo(dest).
  if (call.name === 'transferTo' && call.args.length === 1) return checkWrite(ctx, call, call.args[0]);
}

// ---------------------------------------------------------------------------------------------------- Databases

function pushDatabase(ctx: Ctx, store: string, c: Classified, t: { line: number; column: number }): void {
  if (reportable(c)) ctx.out.push(databaseFinding(ctx.runtime, store, c, t.line, t.column));
}

/** `sqlite:///relative.db` (relative), `sqlite:////abs.db` (absolute), `'sqlite:///' + os.path.join(…)`. */
function sqliteUrl(ctx: Ctx, r: { from: number; to: number }): Classified {
  const { a } = ctx;
  const t = a.toks[r.from];
  if (!t || t.kind !== 'string' || !t.value.startsWith('sqlite:///')) return UNKNOWN;
  const rest = t.value.slice('sqlite:///'.length);
  if (rest === '' && a.is(r.from + 1, '+')) return a.classify({ from: r.from + 2, to: r.to });
  if (rest === '' || rest.startsWith(':memory:') || t.interpolated) return UNKNOWN;
  return classifyPathString(rest);
}

/** Django DATABASES 'NAME': BASE_DIR / 'db.sqlite3' in a settings file that uses the sqlite3 backend. */
function djangoDatabaseName(ctx: Ctx, i: number): void {
  const { a } = ctx;
  const t = a.toks[i];
  if (t.kind !== 'string' || t.interpolated || t.value !== 'NAME' || !a.is(i + 1, ':')) return;
  const c = a.classify({ from: i + 2, to: a.exprEnd(i + 2) });
  pushDatabase(ctx, 'SQLite database (Django DATABASES)', c, t);
}

function jdbcUrl(ctx: Ctx, i: number): void {
  const t = ctx.a.toks[i];
  if (t.kind !== 'string' || t.interpolated) return;
  const file = jdbcFile(t.value);
  if (file !== undefined) pushDatabase(ctx, 'file database (JDBC URL)', classifyPathString(file), t);
}
