/**
 * The SCM host (Kudu) of one site or slot: authentication, injected front-end faults, settings, push
 * deployments (zipdeploy, OneDeploy), deployment records, isdeploying (Linux only) and the VFS.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type * as http from 'node:http';
import { affinityOf, type EmulatorContext, type Faults, type Handler, type Site } from './model.js';
import {
  ARTIFACT_TYPES,
  createDeploymentEngine,
  LOCK_CONFLICT,
  locationTime,
  publicRecord,
  URL_MODE_CONFLICT,
  type ArtifactType,
  type DeployRequest,
  type DeploymentEngineOptions,
} from './deployments.js';
import { kuduMountedDir, parseRunFromPackage } from './mount.js';
import { flexStorage, flexStorageProblem, isFlexSite, isLinuxConsumption } from './flex.js';
import { displayPath, handleVfs } from './vfs.js';
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';

export type KuduOptions = DeploymentEngineOptions;

/** Token audiences Kudu accepts: the ARM audiences (API-SPEC §2.1). */
export const ARM_AUDIENCES = [
  'https://management.azure.com',
  'https://management.azure.com/',
  'https://management.core.windows.net/',
];

export type AuthResult = { ok: true; via: 'basic' | 'bearer' } | { ok: false; reason: string };

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Decide whether an Authorization header may use this site's SCM host. */
export function authorize(ctx: EmulatorContext, site: Site, header: string | undefined): AuthResult {
  if (!header) return { ok: false, reason: 'no credentials' };
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  const value = sp < 0 ? '' : header.slice(sp + 1).trim();
  if (scheme === 'basic') {
    if (!site.basicAuthAllowed.scm) return { ok: false, reason: 'basic authentication is disabled' };
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return { ok: false, reason: 'malformed basic credentials' };
    const user = decoded.slice(0, i);
    const pass = decoded.slice(i + 1);
    if (user === site.publishingUserName && safeEqual(pass, site.publishingPassword))
      return { ok: true, via: 'basic' };
    return { ok: false, reason: 'wrong user name or password' };
  }
  if (scheme === 'bearer') {
    const claims = ctx.verifyToken(value);
    if (!claims) return { ok: false, reason: 'invalid token' };
    if (!ARM_AUDIENCES.includes(claims.aud)) return { ok: false, reason: 'wrong token audience' };
    return { ok: true, via: 'bearer' };
  }
  return { ok: false, reason: 'unsupported authorization scheme' };
}

function send(
  res: http.ServerResponse,
  status: number,
  body: string,
  contentType: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8', headers);
}

function sendText(
  res: http.ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  send(res, status, text, 'text/plain; charset=utf-8', headers);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const FORBIDDEN_PAGE =
  '<!DOCTYPE html><html><head><title>Error 403 - Forbidden</title></head><body><h1>Error 403 - Forbidden</h1>' +
  '<p>Ip Forbidden: the web app you have attempted to reach has blocked your access.</p></body></html>';

const UNAUTHORIZED_PAGE =
  '<!DOCTYPE html><html><head><title>401 - Unauthorized</title></head><body><h1>401 - Unauthorized: Access is denied due to invalid credentials.</h1></body></html>';

function hostOnly(host: string): string {
  return host.replace(/:\d+$/, '');
}

function boolParam(q: URLSearchParams, name: string, fallback: boolean): boolean {
  for (const [k, v] of q) {
    if (k.toLowerCase() === name.toLowerCase()) {
      const t = v.trim().toLowerCase();
      if (t === 'true') return true;
      if (t === 'false') return false;
      return fallback;
    }
  }
  return fallback;
}

function param(q: URLSearchParams, name: string): string | null {
  for (const [k, v] of q) if (k.toLowerCase() === name.toLowerCase()) return v;
  return null;
}

/** Kudu-local settings (POST /api/settings) of each site's Kudu, so an admin reset can clear them. */
const kuduLocal = new WeakMap<Site, Record<string, string>>();

/** Forget the settings written through this site's Kudu /api/settings. */
export function clearKuduLocalSettings(site: Site): void {
  const local = kuduLocal.get(site);
  if (local) for (const k of Object.keys(local)) delete local[k];
}

export function createKudu(ctx: EmulatorContext, site: Site, options: KuduOptions = {}): Handler {
  const local: Record<string, string> = {};
  kuduLocal.set(site, local);
  // Kudu's per-site settings (priority 100) override the environment, i.e. the app settings (priority 10).
  const seen = (): Record<string, string> => ({ ...site.scmSettings, ...local });
  const engine = createDeploymentEngine(ctx, site, seen, options);

  const faults = (): Faults[] =>
    [ctx.faults.get(site.appName), ctx.faults.get('*')].filter((f): f is Faults => f !== undefined);

  const baseUrlOf = (req: http.IncomingMessage): string => `https://${req.headers.host ?? site.scmHostName}`;

  /** Accept or refuse a push (zipdeploy / OneDeploy) and run it. */
  const push = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    route: string,
    q: URLSearchParams,
    build: (body: DeployRequest['body']) => DeployRequest | { error: string },
    isAsync: boolean,
  ): Promise<void> => {
    const raw = await readBody(req);
    const ctype = (req.headers['content-type'] ?? '').toLowerCase();
    let body: DeployRequest['body'];
    if (ctype.startsWith('application/json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch {
        sendJson(res, 400, { Message: 'The request body is not valid JSON.' });
        return;
      }
      const obj = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
      const props = (obj.properties && typeof obj.properties === 'object' ? obj.properties : obj) as Record<
        string,
        unknown
      >;
      const uri = props.packageUri;
      if (typeof uri !== 'string' || !/^https?:\/\//i.test(uri)) {
        sendJson(res, 400, { Message: "The JSON body must carry a 'packageUri' with an http(s) URL." });
        return;
      }
      body = { packageUri: uri };
    } else {
      body = { bytes: raw };
    }
    // Linux Consumption takes a zip over a package URL with overwriteWebsiteRunFromPackage=true (KuduLite).
    const linuxConsumption = isLinuxConsumption(site);
    const overwrite = linuxConsumption && boolParam(q, 'overwriteWebsiteRunFromPackage', false);
    if (parseRunFromPackage(seen()).mode === 'url' && !overwrite) {
      sendText(res, 409, URL_MODE_CONFLICT);
      return;
    }
    if (engine.busy()) {
      sendText(res, 409, LOCK_CONFLICT);
      return;
    }
    const built = build(body);
    if ('error' in built) {
      sendText(res, 400, built.error);
      return;
    }
    const request: DeployRequest =
      linuxConsumption && built.type === 'zip' && 'bytes' in built.body
        ? { ...built, linuxConsumption: true }
        : built;
    const headers: Record<string, string> = {};
    if (boolParam(q, 'trackDeploymentProgress', false)) headers['SCM-DEPLOYMENT-ID'] = randomUUID();
    const { record, done } = engine.start(request);
    if (isAsync) {
      const loc = `${request.baseUrl}/api/deployments/latest?deployer=${encodeURIComponent(request.deployer)}&time=${locationTime(ctx.clock.now())}`;
      res.writeHead(202, { ...headers, location: loc, 'retry-after': '30', 'content-length': 0 });
      res.end();
      return;
    }
    const final = await done;
    void record;
    if (final.status === 4) {
      res.writeHead(200, { ...headers, 'content-length': 0 });
      res.end();
      return;
    }
    sendJson(res, 500, { Message: 'An error has occurred.', ExceptionMessage: final.status_text }, headers);
  };

  const zipdeploy = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    q: URLSearchParams,
  ): Promise<void> =>
    push(
      req,
      res,
      '/api/zipdeploy',
      q,
      (body) => ({
        route: '/api/zipdeploy',
        type: 'zip',
        body,
        deployer: param(q, 'deployer') ?? 'ZipDeploy',
        author: param(q, 'author'),
        authorEmail: param(q, 'authorEmail'),
        message: param(q, 'message') ?? 'Created via a push deployment',
        clean: boolParam(q, 'clean', false),
        restart: true,
        targetPath: null,
        baseUrl: baseUrlOf(req),
      }),
      boolParam(q, 'isAsync', false),
    );

  /**
   * Flex Consumption's One Deploy (a different service from Kudu's): `type` may be left out (only zip is
   * accepted), `RemoteBuild` asks for a build on the platform; the platform checks that it can write the
   * deployment storage before it accepts (400 BlobUploadFailedException otherwise), then answers 202 with the
   * deployment id as the body.
   */
  const flexPublish = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    q: URLSearchParams,
  ): Promise<void> => {
    const typeRaw = param(q, 'type');
    const raw = await readBody(req);
    if (typeRaw && typeRaw.toLowerCase() !== 'zip') {
      sendText(
        res,
        400,
        `type='${typeRaw}' is not supported on the Flex Consumption plan; deploy a zip package.`,
      );
      return;
    }
    if (engine.busy()) {
      sendText(res, 409, LOCK_CONFLICT);
      return;
    }
    const problem = flexStorageProblem(site, flexStorage(ctx, site), 'write');
    if (problem) {
      sendText(res, 400, `BlobUploadFailedException: Failed to upload because ${problem}`);
      return;
    }
    const baseUrl = baseUrlOf(req);
    const { record } = engine.start({
      route: '/api/publish',
      type: 'zip',
      body: { bytes: raw },
      deployer: param(q, 'deployer') ?? 'OneDeploy',
      author: param(q, 'author'),
      authorEmail: param(q, 'authorEmail'),
      message: param(q, 'message') ?? 'OneDeploy',
      clean: true,
      restart: boolParam(q, 'restart', true),
      targetPath: null,
      baseUrl,
      flex: { remoteBuild: boolParam(q, 'RemoteBuild', false) },
    });
    const body = JSON.stringify(record.id);
    res.writeHead(202, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      location: `${baseUrl}/api/deployments/${record.id}`,
    });
    res.end(body);
  };

  const publish = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    q: URLSearchParams,
  ): Promise<void> => {
    if (isFlexSite(site)) return flexPublish(req, res, q);
    const typeRaw = param(q, 'type');
    const reset = boolParam(q, 'reset', false);
    const t = (typeRaw ?? '').toLowerCase();
    if (!reset) {
      if (typeRaw === null || typeRaw === '') {
        await readBody(req);
        sendText(res, 400, "Artifact type '' not supported");
        return;
      }
      if (!(ARTIFACT_TYPES as readonly string[]).includes(t)) {
        await readBody(req);
        sendText(res, 400, `type='${typeRaw}' not recognized`);
        return;
      }
    }
    const type = (reset ? 'static' : t) as ArtifactType;
    let targetPath = param(q, 'path');
    if (reset) {
      targetPath = 'hostingstart.html';
    }
    // Path rules and texts of Kudu's OneDeploy (PushDeploymentController, OneDeployHelper.EnsureValidPath)
    const pathError = ((): string | null => {
      if (type === 'static') {
        if (!targetPath || targetPath.trim() === '') return 'Path must be defined for type=static';
        if (targetPath.endsWith('/')) return "Path cannot end with a '/'";
        if (targetPath.split(/[/\\]/).slice(0, -1).includes('..'))
          return "Path cannot contain '..' Please provide an absolute path.";
      }
      if (type === 'lib' || type === 'script') {
        const enumName = type === 'lib' ? 'Lib' : 'Script';
        if (!targetPath || targetPath.trim() === '') return `Path must be defined for type='${enumName}'`;
        if (targetPath.endsWith('/')) return "Path cannot end with a '/'";
        if (targetPath.split(/[/\\]/).includes('..'))
          return "Path cannot contain '..' Please provide an absolute path.";
      }
      if (type === 'zip' && targetPath && targetPath.includes('..')) {
        return "Path cannot contain '..' Please provide an absolute path.";
      }
      return null;
    })();
    if (pathError) {
      await readBody(req);
      sendText(res, 400, pathError);
      return;
    }
    return push(
      req,
      res,
      '/api/publish',
      q,
      (body) => {
        const b =
          reset && 'bytes' in body
            ? {
                bytes: Buffer.from(
                  '<!DOCTYPE html><html><body><h1>Your web app is running and waiting for your content</h1></body></html>',
                ),
              }
            : body;
        return {
          route: '/api/publish',
          type,
          body: b,
          deployer: 'OneDeploy',
          author: param(q, 'author'),
          authorEmail: param(q, 'authorEmail'),
          message: param(q, 'message') ?? 'OneDeploy',
          clean: reset ? false : boolParam(q, 'clean', type === 'zip'),
          restart: boolParam(q, 'restart', true),
          targetPath,
          baseUrl: baseUrlOf(req),
        };
      },
      boolParam(q, 'async', false),
    );
  };

  const deployments = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rest: string[],
    method: string,
  ): Promise<void> => {
    const baseUrl = baseUrlOf(req);
    if (rest.length === 0) {
      if (method !== 'GET')
        return sendJson(res, 405, { Message: 'The requested resource does not support this method.' });
      const list = engine.list().map(publicRecord);
      const body = JSON.stringify(list);
      const etag = `"${createHash('sha1')
        .update(list.map((r) => `${r.id}:${r.status}:${r.end_time ?? ''}:${r.active}`).join('|'))
        .digest('hex')}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag }).end();
        return;
      }
      return send(res, 200, body, 'application/json; charset=utf-8', { etag });
    }
    const id = decodeURIComponent(rest[0]);
    if (method === 'PUT' && rest.length === 1) {
      let fields: Record<string, unknown> = {};
      try {
        fields = JSON.parse((await readBody(req)).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        return sendJson(res, 400, { Message: 'The request body is not valid JSON.' });
      }
      return sendJson(res, 200, publicRecord(engine.put(id, fields, baseUrl)));
    }
    if (method !== 'GET')
      return sendJson(res, 405, { Message: 'The requested resource does not support this method.' });
    const rec = id.toLowerCase() === 'latest' ? engine.latest() : engine.get(id);
    if (!rec) return sendJson(res, 404, { Message: `Deployment '${id}' not found.` });
    if (rest.length === 1) {
      // Kudu's GetResult sets url/log_url from the request path (…/latest stays …/latest)
      const self = `${baseUrl}/api/deployments/${encodeURIComponent(id)}`;
      const shown = { ...publicRecord(rec), url: self, log_url: `${self}/log` };
      if (id.toLowerCase() === 'latest' && !rec.complete) {
        return sendJson(res, 202, shown, { location: `${baseUrl}${req.url ?? ''}`, 'retry-after': '30' });
      }
      return sendJson(res, 200, shown);
    }
    if (rest[1].toLowerCase() === 'log') {
      const logUrl = `${baseUrl}/api/deployments/${encodeURIComponent(id)}/log`;
      if (rest.length === 2) {
        return sendJson(
          res,
          200,
          rec.log.map((e) => ({ ...e, details_url: `${logUrl}/${e.id}` })),
        );
      }
      const entry = rec.log.find((e) => e.id === rest[2]);
      if (!entry || rest.length > 3)
        return sendJson(res, 404, { Message: `LogId '${rest[2]}' was not found in Deployment '${rec.id}'.` });
      return sendJson(res, 200, [{ ...entry, details_url: null }]);
    }
    return sendJson(res, 404, { Message: 'No HTTP resource was found that matches the request URI.' });
  };

  const settingsRoute = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rest: string[],
    method: string,
  ): Promise<void> => {
    if (rest.length === 0 && method === 'GET') return sendJson(res, 200, seen());
    if (rest.length === 0 && method === 'POST') {
      let parsed: unknown;
      try {
        parsed = JSON.parse((await readBody(req)).toString('utf8'));
      } catch {
        return sendJson(res, 400, { Message: 'The request body is not valid JSON.' });
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return sendJson(res, 400, { Message: 'The request body must be a JSON object.' });
      }
      const obj = parsed as Record<string, unknown>;
      const keys = Object.keys(obj);
      // Kudu also takes the older {"key": …, "value": …} form
      if (keys.length === 2 && 'key' in obj && 'value' in obj) {
        if (typeof obj.key !== 'string' || obj.key === '')
          return sendJson(res, 400, { Message: 'The key is empty.' });
        local[obj.key] = String(obj.value);
      } else {
        for (const [k, v] of Object.entries(obj)) local[k] = String(v);
      }
      res.writeHead(204).end();
      return;
    }
    if (rest.length === 1 && method === 'GET') {
      const key = decodeURIComponent(rest[0]);
      const all = seen();
      if (!(key in all)) return sendJson(res, 404, { Message: `The setting '${key}' does not exist.` });
      return sendJson(res, 200, all[key]);
    }
    if (rest.length === 1 && method === 'DELETE') {
      delete local[decodeURIComponent(rest[0])];
      res.writeHead(204).end();
      return;
    }
    return sendJson(res, 405, { Message: 'The requested resource does not support this method.' });
  };

  // Kudu's RuntimeController shape: clients read `system.os_name` to tell Linux from Windows (webapps-deploy warns
  // "Failed to get app runtime OS" and assumes Windows without it).
  const runtime = (): Record<string, unknown> => ({
    nodejs: [{ version: process.versions.node }],
    dotnetCore: { runtimes: [{ version: '8.0.11' }] },
    kuduVersion: '104.0.0-emulated',
    system: site.reserved
      ? { os_name: 'Linux', os_build: '5.15.173.1-1.cm2', processor_count: 2, machine_name: 'lw0sdlwk0000XX' }
      : {
          os_name: 'Microsoft Windows NT 10.0.20348.0',
          os_build: '20348',
          processor_count: 2,
          machine_name: 'RD0000000000XX',
        },
    os: site.reserved ? 'Linux' : 'Windows',
  });

  // Without a worker (unit tests of Kudu alone) there is one SCM instance with an id of its own.
  const scmInstance = randomBytes(32).toString('hex');

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'https://scm.invalid');
    const h = hostOnly(req.headers.host ?? site.scmHostName);
    const domain = /^[\d.]+$|^\[|^localhost$/i.test(h) ? '' : `;Domain=${h}`;
    // The front end pins a client to one SCM instance with this cookie (the instance id); clients send it back,
    // and a client that names an instance reaches that one.
    const asked = affinityOf(req.headers.cookie);
    const worker = ctx.workers.get(site.id.toLowerCase());
    const affinity = worker?.instanceFor ? worker.instanceFor(asked).id : (asked ?? scmInstance);
    res.setHeader('set-cookie', [
      `ARRAffinity=${affinity};Path=/;HttpOnly;Secure${domain}`,
      `ARRAffinitySameSite=${affinity};Path=/;HttpOnly;SameSite=None;Secure${domain}`,
    ]);
    const pathName = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();

    for (const f of faults()) {
      if (f.scmForbidden) {
        await readBody(req).catch(() => undefined);
        send(res, 403, FORBIDDEN_PAGE, 'text/html');
        return;
      }
    }
    for (const f of faults()) {
      const k = f.kudu;
      if (k && k.count > 0 && (!k.pathContains || `${pathName}${url.search}`.includes(k.pathContains))) {
        k.count -= 1;
        await readBody(req).catch(() => undefined);
        const headers: Record<string, string> = {};
        if (k.retryAfter !== undefined) headers['retry-after'] = String(k.retryAfter);
        sendText(res, k.status, k.status === 409 ? LOCK_CONFLICT : `Service error ${k.status}`, headers);
        return;
      }
    }

    const auth = authorize(ctx, site, req.headers.authorization);
    if (!auth.ok) {
      await readBody(req).catch(() => undefined);
      send(res, 401, UNAUTHORIZED_PAGE, 'text/html', { 'www-authenticate': 'Basic realm="site"' });
      return;
    }

    const segs = pathName.split('/').filter((s) => s !== '');
    const lower = segs.map((s) => s.toLowerCase());
    if (segs.length === 0) {
      return send(
        res,
        200,
        `<html><body><h1>Kudu services for ${site.appName}</h1></body></html>`,
        'text/html',
      );
    }
    if (
      method === 'GET' &&
      ((lower[0] === 'diagnostics' && lower[1] === 'runtime' && segs.length === 2) ||
        (lower[0] === 'api' && lower[1] === 'diagnostics' && lower[2] === 'runtime' && segs.length === 3))
    ) {
      return sendJson(res, 200, runtime());
    }
    if (lower[0] !== 'api')
      return sendJson(res, 404, { Message: 'No HTTP resource was found that matches the request URI.' });
    const route = lower[1];
    const rest = segs.slice(2);
    // Flex Consumption's SCM site deploys through One Deploy only: no file system, no zipdeploy.
    if (isFlexSite(site) && (route === 'vfs' || route === 'zipdeploy')) {
      await readBody(req).catch(() => undefined);
      return sendJson(res, 404, { Message: 'No HTTP resource was found that matches the request URI.' });
    }
    if (route === 'vfs') {
      const idx = pathName.toLowerCase().indexOf('/api/vfs');
      const vfsPath = pathName.slice(idx + '/api/vfs'.length);
      return handleVfs(
        req,
        res,
        { site, mountedDir: kuduMountedDir(ctx, site, seen(), affinity), baseUrl: baseUrlOf(req) },
        vfsPath,
        url.search.slice(1),
      );
    }
    if (route === 'zipdeploy' && rest.length === 0 && (method === 'POST' || method === 'PUT')) {
      return zipdeploy(req, res, url.searchParams);
    }
    if (route === 'publish' && rest.length === 0 && (method === 'POST' || method === 'PUT')) {
      return publish(req, res, url.searchParams);
    }
    if (route === 'deployments') return deployments(req, res, rest, method);
    if (route === 'settings') return settingsRoute(req, res, rest, method);
    if (route === 'logs' && lower[2] === 'docker' && rest.length === 1 && method === 'GET' && site.reserved) {
      return sendJson(res, 200, await dockerLogs(site, baseUrlOf(req)));
    }
    if (route === 'isdeploying' && rest.length === 0 && method === 'GET' && site.reserved) {
      const busy = engine.busy();
      return sendJson(res, 200, {
        value: busy ? 'True' : 'False',
        msg: busy ? 'A deployment is in progress.' : 'No deployment in progress.',
      });
    }
    await readBody(req).catch(() => undefined);
    return sendJson(res, 404, { Message: 'No HTTP resource was found that matches the request URI.' });
  };
}

/**
 * `GET /api/logs/docker` (Linux): the container log files in %HOME%/LogFiles, each with the machine it came from
 * and an `href` into the VFS to download it.
 */
async function dockerLogs(site: Site, baseUrl: string): Promise<unknown[]> {
  const dir = nodePath.join(site.homeDir, 'LogFiles');
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const out: unknown[] = [];
  for (const name of names.filter((n) => /^\d{4}_\d{2}_\d{2}_.+_docker\.log$/.test(n)).sort()) {
    const st = await fsp.stat(nodePath.join(dir, name)).catch(() => null);
    if (!st?.isFile()) continue;
    out.push({
      machineName: /^\d{4}_\d{2}_\d{2}_(.+?)(?:_default)?_docker\.log$/.exec(name)?.[1] ?? '',
      lastUpdated: st.mtime.toISOString(),
      size: st.size,
      href: `${baseUrl}/api/vfs/LogFiles/${encodeURIComponent(name)}`,
      path: displayPath(site, ['LogFiles', name]),
    });
  }
  return out;
}
