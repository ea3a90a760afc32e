/**
 * Runtime entry-point rules: given the file tree of a package, detect which runtime it is for and check that
 * the runtime will find something to run at the root. Pure functions over a `PackageTree`; the only I/O is
 * reading small files (package.json, host.json, ...) through the tree's `read`.
 * docs/inspect.md documents every rule here.
 */
import type { Problem, Runtime } from './types.js';

/** The files and folders of a package, paths relative to its root with `/` separators and no trailing slash. */
export interface PackageTree {
  files: ReadonlySet<string>;
  dirs: ReadonlySet<string>;
  /** Content of a small file in the tree, or null when it is missing, too big or unreadable. */
  read(path: string): Promise<Buffer | null>;
}

export interface RuleResult {
  runtime: Runtime | 'unknown';
  entryPoint: string | null;
  problems: Problem[];
  functions?: string[];
  /** Function name → the trigger its function.json declares (`httpTrigger`, `timerTrigger`, …), when it declares one. */
  functionTriggers?: Record<string, string>;
}

/** Build a tree from file paths (directories are implied by the files and may also be listed). */
export function makeTree(
  files: Iterable<string>,
  read: (path: string) => Promise<Buffer | null>,
  extraDirs: Iterable<string> = [],
): PackageTree {
  const fileSet = new Set<string>();
  const dirs = new Set<string>();
  const addParents = (p: string): void => {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) {
      const d = p.slice(0, i);
      if (dirs.has(d)) break;
      dirs.add(d);
    }
  };
  for (const f of files) {
    fileSet.add(f);
    addParents(f);
  }
  for (const d of extraDirs) {
    if (!d) continue;
    dirs.add(d);
    addParents(d);
  }
  return { files: fileSet, dirs, read };
}

/** A view of the tree under `prefix/` (used to look inside a nested top folder). */
export function subTree(tree: PackageTree, prefix: string): PackageTree {
  const p = `${prefix}/`;
  const files = [...tree.files].filter((f) => f.startsWith(p)).map((f) => f.slice(p.length));
  const dirs = [...tree.dirs].filter((d) => d.startsWith(p)).map((d) => d.slice(p.length));
  return makeTree(files, (path) => tree.read(p + path), dirs);
}

const rootFileCache = new WeakMap<PackageTree, string[]>();
const rootDirCache = new WeakMap<PackageTree, string[]>();
/** Files at the root, sorted (computed once per tree: trees can hold 250,000 paths). */
const rootFiles = (t: PackageTree): string[] => {
  let r = rootFileCache.get(t);
  if (!r) rootFileCache.set(t, (r = [...t.files].filter((f) => !f.includes('/')).sort()));
  return r;
};
const rootDirs = (t: PackageTree): string[] => {
  let r = rootDirCache.get(t);
  if (!r) rootDirCache.set(t, (r = [...t.dirs].filter((d) => !d.includes('/')).sort()));
  return r;
};
const ext = (f: string, ...exts: string[]): boolean => exts.some((e) => f.toLowerCase().endsWith(e));
const anyFile = (t: PackageTree, pred: (f: string) => boolean): boolean => {
  for (const f of t.files) if (pred(f)) return true;
  return false;
};
/** Root file matched case-insensitively (Windows hosts and default documents ignore case). */
const rootFileCi = (t: PackageTree, name: string): string | undefined =>
  rootFiles(t).find((f) => f.toLowerCase() === name.toLowerCase());

async function readJson(
  t: PackageTree,
  path: string,
): Promise<{ value: unknown } | { error: string } | null> {
  const buf = await t.read(path);
  if (!buf) return null;
  try {
    return { value: JSON.parse(buf.toString('utf8').replace(/^\uFEFF/, '')) as unknown };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const error = (code: Problem['code'], message: string, path?: string): Problem =>
  path === undefined ? { code, severity: 'error', message } : { code, severity: 'error', message, path };
const warning = (code: Problem['code'], message: string, path?: string): Problem =>
  path === undefined ? { code, severity: 'warning', message } : { code, severity: 'warning', message, path };

/** Normalise a relative path from a config file: `./a/b` → `a/b`, backslashes to slashes, `..` resolved. */
export function normalizeRef(ref: string, base = ''): string | null {
  const parts = (base ? `${base}/${ref}` : ref).replace(/\\/g, '/').split('/');
  const out: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(part);
  }
  return out.join('/');
}

// ---------------------------------------------------------------------------------------------------------
// Detection

/** Which runtime a tree looks like, or 'unknown'. Functions win when host.json is at the root. */
export function detectRuntime(t: PackageTree): Runtime | 'unknown' {
  const root = rootFiles(t);
  const has = (n: string): boolean => t.files.has(n);
  if (has('host.json')) return 'functions';
  if (root.some((f) => f.endsWith('.runtimeconfig.json'))) return 'dotnet';
  if (NODE_DEFAULTS.some(has)) return 'node';
  if (root.some((f) => ext(f, '.jar', '.war'))) return 'java';
  // Entry files beat a package.json that may only be there for front-end tooling (Flask + Tailwind, PHP + Vite).
  if (PY_ENTRIES.some(has) || has('manage.py')) return 'python';
  if (root.some((f) => ext(f, '.php'))) return 'php';
  if (has('package.json')) return 'node';
  if (has('requirements.txt') || has('pyproject.toml')) return 'python';
  if (STATIC_DEFAULTS.some((d) => rootFileCi(t, d))) return 'static';
  if (
    rootFileCi(t, 'web.config') &&
    (root.some((f) => ext(f, '.dll')) || anyFile(t, (f) => /^bin\/[^/]+\.dll$/i.test(f)))
  ) {
    return 'dotnet';
  }
  if (root.some((f) => ext(f, '.csproj', '.fsproj', '.vbproj', '.sln'))) return 'dotnet';
  if (has('pom.xml') || has('build.gradle') || has('build.gradle.kts')) return 'java';
  if (has('tsconfig.json')) return 'node';
  if (has('composer.json')) return 'php';
  return 'unknown';
}

/** Apply the rules of `runtime` (detected when not given) to the tree. */
export async function checkRuntime(t: PackageTree, runtime?: Runtime): Promise<RuleResult> {
  const r = runtime ?? detectRuntime(t);
  switch (r) {
    case 'node':
      return nodeRules(t);
    case 'dotnet':
      return dotnetRules(t);
    case 'python':
      return pythonRules(t);
    case 'java':
      return javaRules(t);
    case 'php':
      return phpRules(t);
    case 'static':
      return staticRules(t);
    case 'functions':
      return functionsRules(t);
    default:
      return {
        runtime: 'unknown',
        entryPoint: null,
        problems: [
          error(
            'entry-point-missing',
            'cannot tell which runtime this package is for: no package.json, *.runtimeconfig.json, host.json, app.py, *.jar, index.php or index.html at its root. Package the build output, or pass --runtime to say which runtime it is for',
          ),
        ],
      };
  }
}

// ---------------------------------------------------------------------------------------------------------
// node

const NODE_DEFAULTS = ['server.js', 'app.js', 'index.js'];
const NODE_FALLBACKS = ['bin/www', ...NODE_DEFAULTS, 'hostingstart.js'];
/** Flags of `node` that take the next word as their value. */
const NODE_VALUE_FLAGS = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '-C',
  '--conditions',
  '--env-file',
  '--title',
  '--inspect-port',
]);

/**
 * The script a start command runs with node: `node server.js`, `NODE_ENV=production node --enable-source-maps dist/main.js`,
 * `cross-env X=1 node ./bin/www`, `npm run build && node dist/index.js` (last node command wins).
 * Returns null when the command does not run a file with node (e.g. `next start`).
 */
export function parseStartScript(script: string): string | null {
  const segments = script.split(/&&|\|\||;|\|/);
  let found: string | null = null;
  for (const seg of segments) {
    const words = seg.trim().match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
    let i = 0;
    while (
      i < words.length &&
      (/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]) ||
        words[i] === 'cross-env' ||
        words[i] === 'exec' ||
        words[i] === 'env')
    )
      i++;
    const cmd = words[i]?.replace(/^["']|["']$/g, '');
    if (!cmd || !/^(node|nodejs|node\.exe)$/.test(cmd.split('/').pop() ?? '')) continue;
    for (i++; i < words.length; i++) {
      const w = words[i].replace(/^["']|["']$/g, '');
      if (w === '-e' || w === '--eval' || w === '-p' || w === '--print') break;
      if (w.startsWith('-')) {
        if (NODE_VALUE_FLAGS.has(w)) i++;
        continue;
      }
      found = w;
      break;
    }
  }
  return found;
}

/** A file node would load for `ref`: exact, `.js`/`.mjs`/`.cjs`/`.json` added, or `index.js` in a folder. */
function resolveNode(t: PackageTree, ref: string): string | null {
  const n = normalizeRef(ref);
  if (n === null) return null;
  for (const c of [
    n,
    `${n}.js`,
    `${n}.mjs`,
    `${n}.cjs`,
    `${n}.json`,
    `${n}/index.js`,
    `${n}/index.mjs`,
    `${n}/index.cjs`,
  ]) {
    if (c && t.files.has(c)) return c;
  }
  return null;
}

function hasTypeScriptSources(t: PackageTree): boolean {
  return anyFile(
    t,
    (f) =>
      ext(f, '.ts', '.mts', '.cts') &&
      !ext(f, '.d.ts', '.d.mts', '.d.cts') &&
      !f.startsWith('node_modules/') &&
      !f.includes('/node_modules/'),
  );
}

/** When a referenced script is missing: source-not-build if this is a TypeScript source tree, else entry-point-missing. */
function missingScript(t: PackageTree, what: string, ref: string): Problem {
  if (ext(ref, '.ts', '.mts', '.cts') || t.files.has('tsconfig.json') || hasTypeScriptSources(t)) {
    return error(
      'source-not-build',
      `${what} '${ref}' is not in the package, which holds TypeScript sources (tsconfig.json / .ts files): this is a source tree, not build output. Run the build and package the folder that holds the compiled '${ref.replace(/\.(m|c)?ts$/, '.js')}'`,
      'package.json',
    );
  }
  return error(
    'entry-point-missing',
    `${what} '${ref}' is not in the package; package the build output that contains it, or fix package.json`,
    'package.json',
  );
}

function dependencyProblems(t: PackageTree, pkg: Record<string, unknown>, base = ''): Problem[] {
  const deps = isObject(pkg.dependencies) ? Object.keys(pkg.dependencies) : [];
  if (deps.length === 0) return [];
  const nm = base ? `${base}/node_modules` : 'node_modules';
  const pj = base ? `${base}/package.json` : 'package.json';
  if (!t.dirs.has(nm)) {
    return [
      warning(
        'dependencies-missing',
        `package.json lists ${deps.length} ${deps.length === 1 ? 'dependency' : 'dependencies'} but the package has no node_modules folder; run-from-package never runs npm install (no remote build). Run 'npm ci --omit=dev' before packaging, or bundle the app`,
        pj,
      ),
    ];
  }
  const missing = deps.filter((d) => !t.dirs.has(`${nm}/${d}`));
  if (missing.length === 0) return [];
  const shown =
    missing.slice(0, 5).join(', ') + (missing.length > 5 ? ` and ${missing.length - 5} more` : '');
  return [
    warning(
      'dependencies-missing',
      `node_modules lacks ${missing.length === 1 ? 'a dependency' : `${missing.length} dependencies`} listed in package.json (${shown}); run 'npm ci --omit=dev' before packaging`,
      pj,
    ),
  ];
}

async function nodeRules(t: PackageTree): Promise<RuleResult> {
  const problems: Problem[] = [];
  const result = (entryPoint: string | null): RuleResult => ({ runtime: 'node', entryPoint, problems });
  const pkgJson = await readJson(t, 'package.json');
  if (pkgJson && 'error' in pkgJson) {
    problems.push(
      error(
        'entry-point-missing',
        `package.json is not valid JSON (${pkgJson.error}); fix it so the platform can read the start command`,
        'package.json',
      ),
    );
    return result(null);
  }
  const pkg = pkgJson && isObject(pkgJson.value) ? pkgJson.value : null;
  if (pkg) problems.push(...dependencyProblems(t, pkg));
  const scripts = pkg && isObject(pkg.scripts) ? pkg.scripts : {};
  // The platform's Node startup: `npm start` when there is a start script, else `main`, else well-known files.
  if (typeof scripts.start === 'string' && scripts.start.trim()) {
    let target = parseStartScript(scripts.start);
    if (target === null) return result(`npm start (${scripts.start.trim()})`);
    // `node .` runs the package itself: its main, else index.js.
    if (normalizeRef(target) === '')
      target = pkg && typeof pkg.main === 'string' && pkg.main ? pkg.main : 'index.js';
    const found = resolveNode(t, target);
    if (found) return result(found);
    problems.push(missingScript(t, 'the start script runs', target));
    return result(null);
  }
  if (pkg && typeof pkg.main === 'string' && pkg.main.trim()) {
    const found = resolveNode(t, pkg.main);
    if (found) return result(found);
    problems.push(missingScript(t, 'package.json main', pkg.main));
    return result(null);
  }
  const fallback = NODE_FALLBACKS.find((f) => t.files.has(f));
  if (fallback) return result(fallback);
  if (t.files.has('tsconfig.json') || hasTypeScriptSources(t)) {
    problems.push(
      error(
        'source-not-build',
        'this is a TypeScript source tree (tsconfig.json / .ts files) with no compiled entry point: run the build and package its output folder',
        'tsconfig.json',
      ),
    );
  } else {
    problems.push(
      error(
        'entry-point-missing',
        `no Node.js entry point: package.json has no start script or main, and there is no ${NODE_DEFAULTS.join(', ')} or bin/www at the root. Add a start script ('node server.js') or package the folder that holds the app`,
      ),
    );
  }
  return result(null);
}

// ---------------------------------------------------------------------------------------------------------
// dotnet

function dotnetSourceProblem(t: PackageTree): Problem | null {
  const proj = rootFiles(t).find((f) => ext(f, '.csproj', '.fsproj', '.vbproj', '.sln'));
  const src =
    proj ??
    [...t.files].find((f) => ext(f, '.cs', '.fs', '.vb') && !f.includes('/obj/') && !f.startsWith('obj/'));
  if (!src) return null;
  return error(
    'source-not-build',
    `'${src}' is .NET source code, not publish output: run 'dotnet publish -c Release -o publish' and package the publish folder`,
    src,
  );
}

async function dotnetRules(t: PackageTree): Promise<RuleResult> {
  const problems: Problem[] = [];
  const root = rootFiles(t);
  const configs = root.filter((f) => f.endsWith('.runtimeconfig.json'));
  for (const cfg of configs) {
    const dll = `${cfg.slice(0, -'.runtimeconfig.json'.length)}.dll`;
    if (t.files.has(dll)) return { runtime: 'dotnet', entryPoint: dll, problems };
  }
  if (configs.length > 0) {
    const dll = `${configs[0].slice(0, -'.runtimeconfig.json'.length)}.dll`;
    problems.push(
      error(
        'entry-point-missing',
        `'${configs[0]}' is at the root but '${dll}' is not; package the complete 'dotnet publish' output`,
        configs[0],
      ),
    );
    return { runtime: 'dotnet', entryPoint: null, problems };
  }
  const webConfig = rootFileCi(t, 'web.config');
  if (webConfig) {
    const buf = await t.read(webConfig);
    const text = buf ? buf.toString('utf8') : '';
    // ASP.NET Core behind IIS: <aspNetCore processPath="dotnet" arguments=".\App.dll" /> or processPath=".\App.exe".
    const arg =
      /arguments\s*=\s*"([^"]*?\.dll)\b[^"]*"/i.exec(text)?.[1] ??
      /processPath\s*=\s*"([^"]*?\.exe)"/i.exec(text)?.[1];
    if (arg) {
      const ref = normalizeRef(arg.trim().split(/\s+/).pop() ?? arg);
      if (ref && t.files.has(ref)) return { runtime: 'dotnet', entryPoint: ref, problems };
      problems.push(
        error(
          'entry-point-missing',
          `web.config starts '${arg}', which is not in the package; package the complete 'dotnet publish' output`,
          webConfig,
        ),
      );
      return { runtime: 'dotnet', entryPoint: null, problems };
    }
    // ASP.NET (.NET Framework): web.config with the site's assemblies in bin/.
    if (anyFile(t, (f) => /^bin\/[^/]+\.dll$/i.test(f)))
      return { runtime: 'dotnet', entryPoint: webConfig, problems };
  }
  problems.push(
    dotnetSourceProblem(t) ??
      error(
        'entry-point-missing',
        'no .NET entry point: no <App>.runtimeconfig.json with its <App>.dll, and no web.config with bin/*.dll at the root. Package the output of dotnet publish',
      ),
  );
  return { runtime: 'dotnet', entryPoint: null, problems };
}

// ---------------------------------------------------------------------------------------------------------
// python

const PY_ENTRIES = ['app.py', 'application.py', 'wsgi.py', 'main.py'];
const PY_INSTALLED = ['.python_packages', 'antenv', '.venv', 'venv', '__pypackages__'];

function pythonPackagesInstalled(t: PackageTree): boolean {
  if (PY_INSTALLED.some((d) => t.dirs.has(d))) return true;
  for (const d of t.dirs) if (d.endsWith('/site-packages') || d === 'site-packages') return true;
  return false;
}

async function pythonRules(t: PackageTree): Promise<RuleResult> {
  const problems: Problem[] = [
    warning(
      'runtime-unsupported',
      'run-from-package is not supported for Python web apps on App Service: deploy with build automation instead (zip deploy with SCM_DO_BUILD_DURING_DEPLOYMENT=true and no WEBSITE_RUN_FROM_PACKAGE), or use a container',
    ),
  ];
  if ((t.files.has('requirements.txt') || t.files.has('pyproject.toml')) && !pythonPackagesInstalled(t)) {
    problems.push(
      warning(
        'dependencies-missing',
        `${t.files.has('requirements.txt') ? 'requirements.txt' : 'pyproject.toml'} is here but no installed packages are (no .python_packages, antenv or site-packages folder); run-from-package never runs pip install. Install them into the package before zipping`,
        t.files.has('requirements.txt') ? 'requirements.txt' : 'pyproject.toml',
      ),
    );
  }
  let entry: string | null = PY_ENTRIES.find((f) => t.files.has(f)) ?? null;
  if (!entry && t.files.has('manage.py')) {
    // Django: <project>/wsgi.py next to manage.py.
    entry = [...t.files].filter((f) => /^[^/]+\/wsgi\.py$/.test(f)).sort()[0] ?? null;
  }
  if (!entry) {
    problems.push(
      error(
        'entry-point-missing',
        `no Python entry point: none of ${PY_ENTRIES.join(', ')} (or a Django project's wsgi.py next to manage.py) is at the root; package the folder that holds the app`,
      ),
    );
  }
  return { runtime: 'python', entryPoint: entry, problems };
}

// ---------------------------------------------------------------------------------------------------------
// java

async function javaRules(t: PackageTree): Promise<RuleResult> {
  const problems: Problem[] = [
    warning(
      'runtime-unsupported',
      'run-from-package is not supported for Java web apps (Java SE, Tomcat, JBoss): they need a writable app directory. Deploy the jar or war with `az webapp deploy --type jar|war` instead',
    ),
  ];
  const archives = rootFiles(t).filter((f) => ext(f, '.jar', '.war'));
  const entry = archives.find((f) => f.toLowerCase() === 'app.jar') ?? archives[0] ?? null;
  if (!entry) {
    const src =
      ['pom.xml', 'build.gradle', 'build.gradle.kts'].find((f) => t.files.has(f)) ??
      (t.dirs.has('src/main/java') ? 'src/main/java' : undefined);
    problems.push(
      src
        ? error(
            'source-not-build',
            `'${src}' is Java source, not a build: run 'mvn package' or 'gradle build' and package the jar or war`,
            src,
          )
        : error(
            'entry-point-missing',
            'no Java entry point: no .jar or .war at the root; package the built jar (app.jar) or war',
          ),
    );
  }
  return { runtime: 'java', entryPoint: entry, problems };
}

// ---------------------------------------------------------------------------------------------------------
// php

async function phpRules(t: PackageTree): Promise<RuleResult> {
  const problems: Problem[] = [];
  const composer = await readJson(t, 'composer.json');
  if (composer && 'value' in composer && isObject(composer.value) && isObject(composer.value.require)) {
    const needs = Object.keys(composer.value.require).filter((k) => k !== 'php' && !k.startsWith('ext-'));
    if (needs.length > 0 && !t.dirs.has('vendor')) {
      problems.push(
        warning(
          'dependencies-missing',
          "composer.json requires packages but there is no vendor folder; run 'composer install --no-dev' before packaging",
          'composer.json',
        ),
      );
    }
  }
  const entry = rootFileCi(t, 'index.php') ?? null;
  if (!entry) {
    const hint = t.files.has('public/index.php')
      ? "index.php is under public/: package the contents of public/, or configure the site's document root"
      : 'add index.php at the root or package the folder that holds it';
    problems.push(error('entry-point-missing', `no index.php at the root; ${hint}`));
  }
  return { runtime: 'php', entryPoint: entry, problems };
}

// ---------------------------------------------------------------------------------------------------------
// static

const STATIC_DEFAULTS = ['index.html', 'index.htm', 'default.htm', 'default.html'];

async function staticRules(t: PackageTree): Promise<RuleResult> {
  for (const d of STATIC_DEFAULTS) {
    const f = rootFileCi(t, d);
    if (f) return { runtime: 'static', entryPoint: f, problems: [] };
  }
  const nested = ['dist', 'build', 'public', 'out', 'www'].find((d) => t.files.has(`${d}/index.html`));
  const hint = nested
    ? `index.html is under ${nested}/: package the contents of ${nested}/`
    : 'package the folder that holds the built site';
  return {
    runtime: 'static',
    entryPoint: null,
    problems: [error('entry-point-missing', `no index.html at the root; ${hint}`)],
  };
}

// ---------------------------------------------------------------------------------------------------------
// functions

interface FunctionFolder {
  name: string;
  scriptFile: string | null;
  problem: Problem | null;
  /** The trigger binding's type in function.json. */
  trigger?: string;
}

/**
 * The type of the trigger binding a function's config (function.json, or the config Resource Manager lists for it)
 * declares (`…Trigger`), if any.
 */
export function triggerOf(cfg: unknown): string | undefined {
  const bindings = isObject(cfg) && Array.isArray(cfg.bindings) ? cfg.bindings : [];
  for (const b of bindings)
    if (isObject(b) && typeof b.type === 'string' && /trigger$/i.test(b.type)) return b.type;
  return undefined;
}

const DEFAULT_SCRIPTS = [
  'index.js',
  'index.mjs',
  'index.cjs',
  'run.ps1',
  '__init__.py',
  'run.csx',
  'main.py',
];

async function functionFolders(t: PackageTree): Promise<FunctionFolder[]> {
  const out: FunctionFolder[] = [];
  for (const d of rootDirs(t)) {
    const fj = `${d}/function.json`;
    if (!t.files.has(fj)) continue;
    const json = await readJson(t, fj);
    if (json && 'error' in json) {
      out.push({
        name: d,
        scriptFile: null,
        problem: error('entry-point-missing', `${fj} is not valid JSON (${json.error}); fix it`, fj),
      });
      continue;
    }
    const cfg = json && isObject(json.value) ? json.value : {};
    const trigger = triggerOf(cfg);
    const withTrigger = trigger ? { trigger } : {};
    if (typeof cfg.scriptFile === 'string' && cfg.scriptFile) {
      const ref = normalizeRef(cfg.scriptFile, d);
      if (ref !== null && t.files.has(ref)) {
        out.push({ name: d, scriptFile: ref, problem: null, ...withTrigger });
      } else {
        out.push({
          name: d,
          scriptFile: null,
          problem: missingFunctionScript(t, fj, cfg.scriptFile),
          ...withTrigger,
        });
      }
      continue;
    }
    const def = DEFAULT_SCRIPTS.map((s) => `${d}/${s}`).find((s) => t.files.has(s)) ?? null;
    out.push({
      name: d,
      scriptFile: def,
      problem: def ? null : missingFunctionScript(t, fj, 'index.js'),
      ...withTrigger,
    });
  }
  return out;
}

function missingFunctionScript(t: PackageTree, fj: string, ref: string): Problem {
  if (ext(ref, '.dll') && dotnetSourceProblem(t)) return dotnetSourceProblem(t)!;
  if (ext(ref, '.js', '.mjs', '.cjs') && (t.files.has('tsconfig.json') || hasTypeScriptSources(t))) {
    return error(
      'source-not-build',
      `${fj} runs '${ref}', which is not in the package (TypeScript sources are): run the build and package its output`,
      fj,
    );
  }
  return error(
    'entry-point-missing',
    `${fj} runs '${ref}', which is not in the package; package the built function app`,
    fj,
  );
}

/** Glob match for package.json main in the Node.js v4 programming model (`dist/src/functions/*.js`). */
function globMatches(t: PackageTree, pattern: string): string[] {
  const norm = normalizeRef(pattern);
  if (norm === null) return [];
  if (!/[*?{]/.test(norm)) {
    const found = resolveNode(t, norm);
    return found ? [found] : [];
  }
  let re = '';
  for (let i = 0; i < norm.length; i++) {
    const c = norm[i];
    if (c === '*' && norm[i + 1] === '*') {
      re += '.*';
      i++;
      if (norm[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') re += '(';
    else if (c === '}') re += ')';
    else if (c === ',' && re.includes('(')) re += '|';
    else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  const rx = new RegExp(`^${re}$`);
  return [...t.files].filter((f) => rx.test(f)).sort();
}

async function functionsRules(t: PackageTree): Promise<RuleResult> {
  const problems: Problem[] = [];
  const hostJson = t.files.has('host.json');
  if (!hostJson) {
    problems.push(
      error(
        'functions-host-missing',
        'host.json is not at the root of the package, so the Functions host finds no functions; package the folder that holds host.json (the build output of the function app)',
      ),
    );
  }
  const folders = await functionFolders(t);
  const functions = new Set(folders.map((f) => f.name));
  for (const f of folders) if (f.problem) problems.push(f.problem);
  const root = rootFiles(t);
  let entryPoint: string | null = null;

  // .NET isolated worker: worker.config.json / functions.metadata + the worker dll.
  const workerCfg = await readJson(t, 'worker.config.json');
  if (workerCfg || t.files.has('functions.metadata')) {
    let dll: string | null = null;
    if (
      workerCfg &&
      'value' in workerCfg &&
      isObject(workerCfg.value) &&
      isObject(workerCfg.value.description)
    ) {
      const p = workerCfg.value.description.defaultWorkerPath;
      if (typeof p === 'string') {
        dll = normalizeRef(p);
        if (dll && !t.files.has(dll)) {
          problems.push(
            error(
              'entry-point-missing',
              `worker.config.json starts '${p}', which is not in the package; package the complete 'dotnet publish' output`,
              'worker.config.json',
            ),
          );
          dll = null;
        }
      }
    }
    dll ??=
      root
        .find(
          (f) =>
            f.endsWith('.runtimeconfig.json') && t.files.has(f.replace(/\.runtimeconfig\.json$/, '.dll')),
        )
        ?.replace(/\.runtimeconfig\.json$/, '.dll') ?? null;
    entryPoint = dll;
    const meta = await readJson(t, 'functions.metadata');
    if (meta && 'value' in meta && Array.isArray(meta.value)) {
      for (const m of meta.value) if (isObject(m) && typeof m.name === 'string') functions.add(m.name);
    }
    if (!entryPoint && !problems.some((p) => p.code === 'entry-point-missing')) {
      problems.push(
        error(
          'entry-point-missing',
          'the .NET isolated worker assembly is missing (worker.config.json or functions.metadata is here but no <App>.dll); package the complete publish output',
        ),
      );
    }
  } else if (t.files.has('function_app.py')) {
    entryPoint = 'function_app.py';
  } else if (t.files.has('package.json')) {
    const pkg = await readJson(t, 'package.json');
    const main =
      pkg && 'value' in pkg && isObject(pkg.value) && typeof pkg.value.main === 'string'
        ? pkg.value.main
        : null;
    if (main) {
      const matches = globMatches(t, main);
      if (matches.length > 0) entryPoint = matches[0];
      else problems.push(missingScript(t, 'package.json main', main));
    }
    if (pkg && 'value' in pkg && isObject(pkg.value)) problems.push(...dependencyProblems(t, pkg.value));
  }
  if (!entryPoint) entryPoint = folders.find((f) => f.scriptFile)?.scriptFile ?? null;

  const language = pickLanguage(t, entryPoint);
  if (language === 'python') {
    if (t.files.has('requirements.txt') && !t.dirs.has('.python_packages')) {
      problems.push(
        warning(
          'dependencies-missing',
          "requirements.txt is here but .python_packages is not; run-from-package never runs pip install. Run 'pip install -r requirements.txt --target .python_packages/lib/site-packages' before packaging",
          'requirements.txt',
        ),
      );
    }
  }
  if (
    !entryPoint &&
    !problems.some((p) => p.code === 'entry-point-missing' || p.code === 'source-not-build')
  ) {
    const src = dotnetSourceProblem(t);
    if (src) problems.push(src);
    else if (t.files.has('tsconfig.json') || hasTypeScriptSources(t)) {
      problems.push(
        error(
          'source-not-build',
          'this function app holds TypeScript sources but no compiled JavaScript: run the build and package its output',
          'tsconfig.json',
        ),
      );
    } else if (hostJson) {
      problems.push(
        error(
          'entry-point-missing',
          "host.json is here but no built function code is: no package.json main, function_app.py, worker.config.json + <App>.dll, or folders with function.json. Package the function app's build output",
        ),
      );
    }
  }
  const functionTriggers = Object.fromEntries(
    folders.filter((f) => f.trigger).map((f) => [f.name, f.trigger!] as const),
  );
  return {
    runtime: 'functions',
    entryPoint,
    problems,
    functions: [...functions].sort(),
    ...(Object.keys(functionTriggers).length ? { functionTriggers } : {}),
  };
}

function pickLanguage(t: PackageTree, entry: string | null): 'python' | 'other' {
  if (entry && ext(entry, '.py')) return 'python';
  if (!entry && (t.files.has('requirements.txt') || anyFile(t, (f) => /^[^/]+\/__init__\.py$/.test(f))))
    return 'python';
  return 'other';
}
