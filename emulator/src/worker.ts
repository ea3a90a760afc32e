/**
 * The emulated app worker of one site or slot: mounts the package at start and restart only, runs the app
 * (node really runs; other stacks answer a plain page when their entry point is at the root), and serves the
 * site's default host. The mount is read-only for the app: files 0444, directories 0555, and when the
 * emulator runs as root the app process runs as nobody (uid/gid 65534) so writes fail with EACCES.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  chmodSync,
  promises as fsp,
  statfsSync,
} from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  affinityOf,
  type EmulatorContext,
  type InstanceFault,
  type InstanceInfo,
  type MountInfo,
  type Site,
  type SiteWorkerApi,
} from './model.js';
import { failedMount, functionsIn, isSharedMount, mountPackage, removeTree, wwwrootDir } from './mount.js';

export interface WorkerOptions {
  /** Warm-up window after each (re)start during which the site answers 503 (default 200 ms, env RUNPACK_EMULATOR_WARMUP_MS). */
  warmupMs?: number;
  /** Where fresh mount directories are made (default `<stateDir>/mounts`, or a world-traversable temp dir when root). */
  mountRoot?: string;
  /** How long a node app may take to listen on PORT (default 15 s). */
  appStartTimeoutMs?: number;
  /** Start the worker at once when the site is Running (default true). */
  autoStart?: boolean;
}

/** What the worker exposes beyond SiteWorkerApi (tests, admin). */
export interface SiteWorker extends SiteWorkerApi {
  /** Last lines the app process wrote to stdout/stderr. */
  appOutput(): string[];
  /** Root directory of the content the site serves now (the mount, or site/wwwroot without run-from-package). */
  contentDir(): string;
  /**
   * Add an instance (scale-out): it mounts now, so in URL mode it fetches the blob as it is now, and requests are
   * then spread over the instances (mixed versions after an overwrite without restart, checklist 6).
   */
  scaleOut(): Promise<void>;
  /** Remove the newest instance (never the first). */
  scaleIn(): Promise<void>;
  /** Every instance, first one first: its id (the ARRAffinity value), its mount and its fault. */
  instances(): InstanceInfo[];
  /** The instance an ARRAffinity value names, or the first one. */
  instanceFor(affinity: string | undefined): InstanceInfo;
  /** Give the instance at `index` a fault (null clears it); see InstanceFault. */
  setInstanceFault(index: number, fault: InstanceFault): void;
}

const NOBODY = 65534;

/** An App Service-style worker machine name for an instance (it names the instance's log files). */
/** App Service's environment variable prefixes for connection strings, by type. */
const CONNECTION_STRING_PREFIX: Record<string, string> = {
  SQLServer: 'SQLCONNSTR_',
  SQLAzure: 'SQLAZURECONNSTR_',
  MySql: 'MYSQLCONNSTR_',
  PostgreSQL: 'POSTGRESQLCONNSTR_',
  Custom: 'CUSTOMCONNSTR_',
  NotificationHub: 'NOTIFICATIONHUBCONNSTR_',
  ServiceBus: 'SERVICEBUSCONNSTR_',
  EventHub: 'EVENTHUBCONNSTR_',
  DocDb: 'DOCDBCONNSTR_',
  RedisCache: 'REDISCACHECONNSTR_',
  ApiHub: 'APIHUBCONNSTR_',
};

/** The app's connection strings as App Service hands them to the process (`SQLAZURECONNSTR_<name>`, …). */
export function connectionStringEnv(
  strings: Record<string, { value: string; type: string }>,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(strings).map(([k, v]) => [
      `${CONNECTION_STRING_PREFIX[v.type] ?? 'CUSTOMCONNSTR_'}${k}`,
      v.value,
    ]),
  );
}

export function machineName(inst: { id: string }): string {
  return `lw0sdlwk${inst.id.slice(0, 6).toUpperCase()}`;
}

function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}

function isFunctionSite(site: Site): boolean {
  return site.kind.startsWith('functionapp');
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

/** The node entry point: package.json main, `node <file>` in scripts.start, else server.js, app.js, index.js. */
export async function findNodeEntry(dir: string): Promise<string | null> {
  try {
    const pkg = JSON.parse(await fsp.readFile(path.join(dir, 'package.json'), 'utf8')) as {
      main?: unknown;
      scripts?: { start?: unknown };
    };
    if (typeof pkg.main === 'string' && (await exists(path.join(dir, pkg.main)))) return pkg.main;
    if (typeof pkg.scripts?.start === 'string') {
      const m = /^\s*node\s+(?:--?[\w-]+(?:=\S+)?\s+)*([^\s;&|]+)/.exec(pkg.scripts.start);
      if (m && (await exists(path.join(dir, m[1])))) return m[1];
    }
  } catch {
    // no or unreadable package.json
  }
  for (const f of ['server.js', 'app.js', 'index.js']) if (await exists(path.join(dir, f))) return f;
  return null;
}

/** Whether the runtime of a non-node stack finds its entry point at the root of `dir`. */
export async function stackEntryPresent(stack: Site['stack'], dir: string): Promise<boolean> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return false;
  }
  const has = (n: string): boolean => names.some((x) => x.toLowerCase() === n.toLowerCase());
  switch (stack) {
    case 'dotnet':
      return names.some(
        (n) => n.endsWith('.runtimeconfig.json') && has(n.replace(/\.runtimeconfig\.json$/, '.dll')),
      );
    case 'static':
      return ['index.html', 'index.htm', 'default.htm', 'default.html', 'hostingstart.html'].some(has);
    case 'php':
      return has('index.php');
    case 'python':
      return ['app.py', 'application.py', 'main.py', 'wsgi.py'].some(has);
    case 'java':
      return names.some((n) => n.toLowerCase().endsWith('.jar') || n.toLowerCase().endsWith('.war'));
    case 'node':
      return (await findNodeEntry(dir)) !== null;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function page(res: http.ServerResponse, status: number, title: string, text: string): void {
  const body = `<!DOCTYPE html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * What the platform's front end answers while the app's process does not run: on Linux the 503 ':( Application
 * Error' page, on Windows IIS's plain 500 answer. The app's own error never reaches the client; it goes to the
 * log (LogFiles/…_default_docker.log on Linux, read through Kudu's /api/logs/docker).
 */
function startFailurePage(res: http.ServerResponse, site: Site): void {
  const body = site.reserved
    ? `<!DOCTYPE html><html><head><title>Application Error</title></head><body><div><h2>:( Application Error</h2><p>If you are the application administrator, you can access the <a href="https://${site.scmHostName}/detectors?type=tools&name=eventviewer" target="_blank">diagnostic resources</a>.</p></div></body></html>`
    : 'The page cannot be displayed because an internal server error has occurred.';
  res.writeHead(site.reserved ? 503 : 500, {
    'content-type': site.reserved ? 'text/html; charset=utf-8' : 'text/html',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.js': 'text/javascript',
  '.css': 'text/css',
};

/**
 * Memory-backed storage for the mounts when the machine has room (Linux's /dev/shm with 4 GiB free): the platform
 * mounts the zip and writes no files, while extracting thousands of files to a disk costs seconds, which would make
 * a restart look far slower, relative to everything else, than on Azure.
 */
function memoryRoot(): string | null {
  try {
    const st = statfsSync('/dev/shm');
    return st.bavail * st.bsize >= 4 * 2 ** 30 ? '/dev/shm' : null;
  } catch {
    return null;
  }
}

function defaultMountRoot(ctx: EmulatorContext): string {
  const memory = memoryRoot();
  if (memory || process.getuid?.() === 0) {
    // The app runs as nobody and must reach the mount: use a world-traversable directory of its own.
    const dir = mkdtempSync(path.join(memory ?? os.tmpdir(), 'runpack-emulator-mounts-'));
    chmodSync(dir, 0o755);
    return dir;
  }
  return path.join(ctx.stateDir, 'mounts');
}

interface Instance {
  /** Like the platform's WEBSITE_INSTANCE_ID: 64 hex characters. */
  id: string;
  mount: MountInfo;
  fault: InstanceFault;
  child: ChildProcess | null;
  childPort: number;
  appProblem: string | null;
}

const NO_MOUNT: MountInfo = {
  mode: 'none',
  source: null,
  sha256: null,
  dir: null,
  error: null,
  functions: [],
  startedAt: null,
};

export function createWorker(ctx: EmulatorContext, site: Site, options: WorkerOptions = {}): SiteWorker {
  const warmupMs = options.warmupMs ?? envNumber('RUNPACK_EMULATOR_WARMUP_MS', 200);
  const appStartTimeoutMs = options.appStartTimeoutMs ?? 15000;
  let mountRoot: string | null = options.mountRoot ?? null;
  const ownsMountRoot = options.mountRoot === undefined;
  const key = (site.slotName ? `${site.appName}__${site.slotName}` : site.appName).replace(
    /[^A-Za-z0-9_-]/g,
    '_',
  );
  let seq = 0;
  let rr = 0;

  let st: 'starting' | 'running' | 'failed' | 'stopped' = 'stopped';
  const newInstance = (): Instance => ({
    id: randomBytes(32).toString('hex'),
    mount: { ...NO_MOUNT },
    fault: null,
    child: null,
    childPort: 0,
    appProblem: null,
  });
  const initialInstances = (): Instance[] =>
    Array.from({ length: Math.max(1, site.instanceCount ?? 1) }, newInstance);
  /** Instance 0 is the one mounted() reports; scaleOut() adds more, each with its own fetch and mount. */
  let instances: Instance[] = initialInstances();
  const info = (i: Instance): InstanceInfo => ({
    ...i.mount,
    functions: [...i.mount.functions],
    id: i.id,
    fault: i.fault,
  });
  const output: string[] = [];
  let chain: Promise<void> = Promise.resolve();
  let disposed = false;

  const enqueue = (op: () => Promise<void>): Promise<void> => {
    const next = chain.then(op, op);
    chain = next.catch(() => undefined);
    return next;
  };

  const dirOf = (inst: Instance): string => inst.mount.dir ?? wwwrootDir(site);
  const contentDir = (): string => dirOf(instances[0]);

  const remember = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') output.push(line);
    if (output.length > 200) output.splice(0, output.length - 200);
  };

  /**
   * Linux sites keep what each instance's container prints where App Service does: the app's stdout and stderr
   * in `LogFiles/<yyyy_MM_dd>_<machine>_default_docker.log`, the platform's own lines (container start and exit)
   * in `…_docker.log`; Kudu lists both at /api/logs/docker. Windows sites keep none (their logs are elsewhere).
   */
  const containerLog = (inst: Instance, which: 'app' | 'platform', text: string): void => {
    if (!site.reserved) return;
    const now = ctx.clock.now().toISOString();
    const lines = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => `${now} ${l}\n`)
      .join('');
    if (lines === '') return;
    try {
      const dir = path.join(site.homeDir, 'LogFiles');
      mkdirSync(dir, { recursive: true });
      const day = now.slice(0, 10).replace(/-/g, '_');
      appendFileSync(
        path.join(dir, `${day}_${machineName(inst)}_${which === 'app' ? 'default_' : ''}docker.log`),
        lines,
      );
    } catch {
      // A log that cannot be written never stops the app.
    }
  };

  /**
   * Signals the app's whole process group: a startup command runs under /bin/sh, which forks it, so signalling
   * the shell alone would leave the app running (and holding its port and pipes), as a container stop never does.
   */
  const signalApp = (c: ChildProcess, sig: NodeJS.Signals): void => {
    try {
      if (c.pid === undefined) throw new Error('no pid');
      process.kill(-c.pid, sig);
    } catch {
      try {
        c.kill(sig);
      } catch {
        // already gone
      }
    }
  };

  const killChild = async (inst: Instance): Promise<void> => {
    const c = inst.child;
    inst.child = null;
    if (!c) return;
    if (c.exitCode !== null || c.signalCode !== null) {
      signalApp(c, 'SIGKILL'); // anything the command started and left behind
      return;
    }
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    signalApp(c, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), 2000);
      }),
    ]);
    clearTimeout(timer);
    if (!done) {
      signalApp(c, 'SIGKILL');
      await exited;
    } else signalApp(c, 'SIGKILL');
  };

  const startNodeApp = async (inst: Instance, dir: string): Promise<void> => {
    // A Linux app with a startup command (config/web appCommandLine) starts with it, in the content folder.
    const command = site.reserved ? site.appCommandLine.trim() : '';
    const entry = command ? null : await findNodeEntry(dir);
    if (!command && !entry) {
      inst.appProblem =
        'no entry point (package.json main or start script, server.js, app.js, index.js) at the root';
      return;
    }
    inst.childPort = await freePort();
    const env: Record<string, string> = {
      PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
      ...connectionStringEnv(site.connectionStrings),
      ...site.appSettings,
      PORT: String(inst.childPort),
      WEBSITE_SITE_NAME: site.appName,
      WEBSITE_HOSTNAME: site.defaultHostName,
      WEBSITE_INSTANCE_ID: inst.id,
      NODE_ENV: site.appSettings.NODE_ENV ?? 'production',
    };
    const asRoot = process.getuid?.() === 0;
    const [file, args] = command ? ['/bin/sh', ['-c', command]] : [process.execPath, [entry!]];
    const c = spawn(file, args, {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a stop reaches everything the app started (signalApp).
      detached: true,
      ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    inst.child = c;
    // Never leave the app running when this process exits without dispose().
    const killOnExit = (): void => signalApp(c, 'SIGKILL');
    process.once('exit', killOnExit);
    c.once('exit', () => process.off('exit', killOnExit));
    const keep = (chunk: Buffer): void => {
      remember(chunk);
      containerLog(inst, 'app', chunk.toString('utf8'));
    };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    c.on('error', (err) => keep(Buffer.from(`spawn failed: ${err.message}`)));
    const container = `${key}_0_${inst.id.slice(0, 8)}`;
    containerLog(inst, 'platform', `Starting container ${container} for site ${site.appName}`);
    const deadline = Date.now() + appStartTimeoutMs;
    while (Date.now() < deadline) {
      if (c.exitCode !== null || c.signalCode !== null) {
        inst.appProblem = `the app exited with ${c.exitCode ?? c.signalCode} before listening on PORT`;
        containerLog(
          inst,
          'platform',
          `Container ${container} for site ${site.appName} has exited, failing site start`,
        );
        return;
      }
      if (await canConnect(inst.childPort)) {
        containerLog(
          inst,
          'platform',
          `Container ${container} for site ${site.appName} initialized successfully and is ready to serve requests.`,
        );
        return;
      }
      await sleep(50);
    }
    inst.appProblem = `the app did not listen on PORT within ${appStartTimeoutMs} ms`;
    containerLog(
      inst,
      'platform',
      `Container ${container} didn't respond to HTTP pings on port: ${inst.childPort}, failing site start. See container logs for debugging.`,
    );
  };

  /** Mount (fetching again in URL mode) and start one instance. */
  const bootInstance = async (inst: Instance): Promise<void> => {
    // A worker that missed the restart keeps its app and its mount as they are.
    if (inst.fault === 'keep-mount' && inst.mount.startedAt !== null) return;
    await killChild(inst);
    inst.appProblem = null;
    if (!mountRoot) mountRoot = defaultMountRoot(ctx);
    const oldDir = inst.mount.dir;
    const dir = path.join(mountRoot, key, `m${Date.now().toString(36)}-${++seq}`);
    let outcome: Awaited<ReturnType<typeof mountPackage>>;
    try {
      outcome =
        inst.fault === 'fail-mount'
          ? await failedMount(site, dir, 'the instance could not mount the package (an injected fault)')
          : await mountPackage(ctx, site, dir);
    } catch (err) {
      // Anything unexpected while mounting leaves the site down, as a failed mount would.
      const why = err instanceof Error ? err.message : String(err);
      outcome = { ...NO_MOUNT, error: `mounting failed: ${why}` };
    }
    const functions =
      outcome.mode === 'none' && outcome.error === null
        ? await functionsIn(wwwrootDir(site))
        : outcome.functions;
    inst.mount = { ...outcome, functions, startedAt: ctx.clock.now().toISOString() };
    // A package's shared content stays for the next boot that mounts it (removed with the worker).
    if (oldDir && oldDir !== inst.mount.dir && !isSharedMount(oldDir)) await removeTree(oldDir);
    if (outcome.error === null && site.stack === 'node' && !isFunctionSite(site))
      await startNodeApp(inst, dirOf(inst));
  };

  const boot = async (): Promise<void> => {
    if (disposed) return;
    st = 'starting';
    for (const inst of instances) await bootInstance(inst);
    // Each (re)start mounts the package anew on every instance: in the request log, so tests count them.
    ctx.log({
      service: 'worker',
      host: site.defaultHostName,
      method: 'MOUNT',
      path: `/${instances.length} instance(s): ${instances[0].mount.mode} ${instances[0].mount.sha256?.slice(0, 12) ?? 'none'}`,
      status: instances.every((i) => i.mount.error === null) ? 200 : 500,
      site: site.id,
    });
    if (warmupMs > 0) await sleep(warmupMs);
    if (disposed) return;
    st = instances[0].mount.error === null ? 'running' : 'failed';
  };

  const stopNow = async (): Promise<void> => {
    for (const inst of instances) await killChild(inst);
    st = 'stopped';
  };

  const restart = (): Promise<void> => {
    st = 'starting';
    return enqueue(boot);
  };

  const serveFunctions = async (
    inst: Instance,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> => {
    const dir = dirOf(inst);
    const fns = inst.mount.functions;
    const hostOk = await exists(path.join(dir, 'host.json'));
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    if (p.toLowerCase() === '/admin/host/status') {
      if (!hostOk) {
        json(res, 503, { id: site.appName, state: 'Error', errors: ['host.json not found'] });
        return;
      }
      json(res, 200, { id: site.appName, state: 'Running', version: '4.0.0', functions: fns });
      return;
    }
    if (!hostOk) {
      page(res, 503, 'Function host is not running.', 'host.json not found at the root of wwwroot.');
      return;
    }
    const m = /^\/api\/([^/]+)/.exec(p);
    if (m) {
      const fn = fns.find((f) => f.toLowerCase() === decodeURIComponent(m[1]).toLowerCase());
      if (!fn) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(`Function ${fn} ran.`);
      return;
    }
    if (p === '/') {
      page(res, 200, 'Your Functions 4.0 app is up and running', `Functions: ${fns.join(', ')}`);
      return;
    }
    res.writeHead(404).end();
  };

  const serveStatic = async (
    inst: Instance,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> => {
    const dir = dirOf(inst);
    const entryOk = await stackEntryPresent(site.stack, dir);
    let p: string;
    try {
      p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const rel = path.normalize(p).replace(/^([/\\])+/, '');
    const file = path.join(dir, rel);
    if (rel !== '' && !rel.startsWith('..') && file.startsWith(dir)) {
      try {
        const s = await fsp.stat(file);
        if (s.isFile()) {
          const body = await fsp.readFile(file);
          res.writeHead(200, {
            'content-type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
            'content-length': body.length,
          });
          res.end(req.method === 'HEAD' ? undefined : body);
          return;
        }
      } catch {
        // fall through
      }
    }
    if (rel === '') {
      if (entryOk) {
        page(res, 200, `${site.appName} is running`, `The ${site.stack} app started from its entry point.`);
      } else if (site.stack === 'static') {
        res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404 Not Found</h1>');
      } else {
        page(
          res,
          503,
          'Application Error',
          `The ${site.stack} runtime found no entry point at the root of wwwroot.`,
        );
      }
      return;
    }
    res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404 Not Found</h1>');
  };

  const proxy = (inst: Instance, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> =>
    new Promise((resolve) => {
      const preq = http.request(
        { host: '127.0.0.1', port: inst.childPort, method: req.method, path: req.url, headers: req.headers },
        (pres) => {
          res.writeHead(pres.statusCode ?? 502, pres.headers);
          pres.pipe(res);
          pres.on('end', () => resolve());
          pres.on('error', () => resolve());
        },
      );
      preq.on('error', () => {
        if (!res.headersSent) page(res, 502, 'Bad Gateway', 'The app closed the connection.');
        else res.destroy();
        resolve();
      });
      req.pipe(preq);
    });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (st === 'stopped' || site.state === 'Stopped') {
      page(res, 403, 'Error 403 - This web app is stopped.', 'This web app is stopped.');
      return;
    }
    if (st === 'starting') {
      res.setHeader('retry-after', '1');
      page(res, 503, 'Service Unavailable', 'The app is starting.');
      return;
    }
    // The front end pins a client that sends ARRAffinity to that instance; others are spread (round robin).
    const pinned = affinityOf(req.headers.cookie);
    const inst = instances.find((i) => i.id === pinned) ?? instances[rr++ % instances.length];
    res.setHeader('set-cookie', `ARRAffinity=${inst.id};Path=/;HttpOnly;Secure`);
    if (inst.mount.error !== null) {
      page(res, 503, 'Service Unavailable', 'The app failed to start.');
      return;
    }
    if (isFunctionSite(site)) return serveFunctions(inst, req, res);
    if (site.stack === 'node') {
      const c = inst.child;
      if (!c || c.exitCode !== null || c.signalCode !== null) {
        startFailurePage(res, site);
        return;
      }
      return proxy(inst, req, res);
    }
    return serveStatic(inst, req, res);
  };

  const worker: SiteWorker = {
    restart,
    stop: () => enqueue(stopNow),
    start: () => {
      if (st === 'stopped') return restart();
      return chain;
    },
    handle,
    scaleOut: () =>
      enqueue(async () => {
        if (disposed) return;
        const inst = newInstance();
        await bootInstance(inst);
        if (warmupMs > 0) await sleep(warmupMs);
        if (disposed) {
          await killChild(inst);
          if (inst.mount.dir && !isSharedMount(inst.mount.dir)) await removeTree(inst.mount.dir);
          return;
        }
        instances.push(inst);
      }),
    scaleIn: () =>
      enqueue(async () => {
        if (instances.length <= 1) return;
        const inst = instances.pop() as Instance;
        await killChild(inst);
        if (inst.mount.dir && !isSharedMount(inst.mount.dir)) await removeTree(inst.mount.dir);
      }),
    instances: () => instances.map(info),
    instanceFor: (affinity) => info(instances.find((i) => i.id === affinity) ?? instances[0]),
    setInstanceFault(index, fault) {
      const inst = instances[index];
      if (!inst) throw new Error(`no instance ${index}: the site has ${instances.length}`);
      inst.fault = fault;
    },
    async dispose() {
      disposed = true;
      await chain.catch(() => undefined);
      for (const inst of instances) {
        await killChild(inst);
        if (inst.mount.dir) await removeTree(inst.mount.dir);
      }
      instances = initialInstances();
      st = 'stopped';
      // The packages this site mounted (shared by its boots and instances).
      if (mountRoot) {
        const keyDir = path.join(mountRoot, key);
        for (const name of await fsp.readdir(keyDir).catch(() => [] as string[]))
          if (name.startsWith('pkg-')) await removeTree(path.join(keyDir, name));
      }
      if (ownsMountRoot && mountRoot && existsSync(mountRoot)) {
        const keyDir = path.join(mountRoot, key);
        await removeTree(keyDir);
        const left = await fsp.readdir(mountRoot).catch(() => ['?']);
        if (left.length === 0) await fsp.rm(mountRoot, { recursive: true, force: true });
      }
    },
    state: () => st,
    mounted: () => ({ ...instances[0].mount, functions: [...instances[0].mount.functions] }),
    appOutput: () => [...output],
    contentDir,
  };
  if ((options.autoStart ?? true) && site.state === 'Running') void restart();
  return worker;
}
