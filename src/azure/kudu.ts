/**
 * Kudu (the SCM site) for local mode: push a package, follow the deployment, read the VFS and the settings
 * Kudu sees. Every call goes through the shared HttpClient; the Authorization value (an ARM-audience Bearer
 * token, or Basic `$app` credentials) is fetched before each attempt. Kudu may answer from several SCM
 * instances: the ARRAffinity cookie it sets is sent back so every call reaches the same one (API-SPEC §2.1).
 */
import type { HttpClient, HttpResponse } from './http.js';
import { DEFAULT_RETRY_STATUSES, readStream } from './http.js';
import { RunpackError } from '../util/errors.js';

const SERVICE = 'Kudu';

/** One deployment record (API-SPEC §2.4). Only the fields runpack reads are typed strictly. */
export interface KuduDeployment {
  id: string;
  status: number;
  status_text?: string;
  complete?: boolean;
  progress?: string;
  message?: string;
  deployer?: string;
  author?: string;
  received_time?: string;
  start_time?: string | null;
  end_time?: string | null;
  active?: boolean;
  /** Kudu's placeholder while the real record is created; its id is not stable. */
  is_temp?: boolean;
  log_url?: string;
  url?: string;
  site_name?: string;
}

export interface KuduLogEntry {
  log_time?: string;
  id?: string;
  message: string;
  /** 0 message, 1 warning, 2 error. */
  type?: number;
  details_url?: string;
}

export type DeploymentOutcome = 'running' | 'succeeded' | 'failed';

const STATUS_NAMES: Record<number, string> = {
  [-1]: 'Cancelled',
  0: 'Pending',
  1: 'Building',
  2: 'Deploying',
  3: 'Failed',
  4: 'Success',
  5: 'Conflict',
  6: 'PartialSuccess',
};

export function deploymentStatusName(status: number): string {
  return STATUS_NAMES[status] ?? `status ${status}`;
}

/**
 * Whether a deployment record is finished and how. Kudu defines 0–4 (4 Success, 3 Failed); a record marked
 * `complete` that is not 4 did not succeed; other numbers (Flex's -1, 5, 6) are never a full success.
 */
export function deploymentOutcome(record: Pick<KuduDeployment, 'status' | 'complete'>): DeploymentOutcome {
  if (record.status === 4) return 'succeeded';
  if (record.status === 3) return 'failed';
  if (record.complete === true) return 'failed';
  if (record.status === 0 || record.status === 1 || record.status === 2) return 'running';
  return record.status < 0 || record.status > 4 ? 'failed' : 'running';
}

/** A short line for a status change: `Building (Running deployment command...)`. */
export function describeDeploymentState(record: KuduDeployment): string {
  const name = deploymentStatusName(record.status);
  const detail = (record.progress || record.status_text || '').trim();
  return detail ? `${name} (${detail})` : name;
}

export interface PollTiming {
  /** Shortest wait between polls (default 1 s). */
  minMs: number;
  /**
   * Longest wait between polls (default 5 s, the cadence of Azure/functions-action and Core Tools). Kudu sends a
   * fixed `Retry-After: 30` meant for ARM clients.
   */
  maxMs: number;
}

export const DEFAULT_POLL_TIMING: PollTiming = { minMs: 1000, maxMs: 5000 };

/**
 * Wait before the next poll: the server's Retry-After when given, otherwise a doubling backoff
 * (1 s, 2 s, 4 s …), both kept within [minMs, maxMs] and never past the deadline.
 */
export function nextPollDelay(
  retryAfterMs: number | undefined,
  attempt: number,
  timing: PollTiming = DEFAULT_POLL_TIMING,
  remainingMs?: number,
): number {
  const base = retryAfterMs ?? timing.minMs * 2 ** Math.max(0, attempt - 1);
  let wait = Math.min(timing.maxMs, Math.max(timing.minMs, base));
  if (remainingMs !== undefined) wait = Math.max(0, Math.min(wait, remainingMs));
  return wait;
}

/** Retry-After as ms (delta seconds or HTTP date). */
export function retryAfterMs(headers: Record<string, string>, now: number): number | undefined {
  const v = headers['retry-after']?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** What a Kudu read retries: the usual transient answers, and 409 (another operation holds Kudu's lock). */
const KUDU_READ_RETRY = [...DEFAULT_RETRY_STATUSES, 409];

/** Why Kudu answered 409 to a push, from its text/plain body (API-SPEC §2.2). */
export type PushConflict = 'in-progress' | 'url-mode' | 'auto-swap' | 'other';

export function classifyPushConflict(body: string): PushConflict {
  if (/remote URL|WEBSITE_USE_ZIP|Run-From-Zip/i.test(body)) return 'url-mode';
  if (/auto swap/i.test(body)) return 'auto-swap';
  if (
    /deployment currently in progress|conflicts with the pending|Preparing zip package|try again|retry/i.test(
      body,
    )
  )
    return 'in-progress';
  return 'other';
}

/** What a 401/403 from the SCM site means (API-SPEC §2.1, §6.3, §6.10). */
export type KuduAuthProblem =
  'basic-disabled' | 'basic-rejected' | 'bearer-rejected' | 'scm-blocked' | 'missing-role';

/**
 * Pure classification of an SCM 401/403. `basicAllowed` is the site's basicPublishingCredentialsPolicies/scm
 * value when known. A 403 with an HTML page comes from the front end (private endpoint, access restriction).
 */
export function classifyKuduAuthFailure(
  status: number,
  body: string,
  contentType: string,
  authKind: 'bearer' | 'basic',
  basicAllowed: boolean | undefined,
): KuduAuthProblem {
  const html = /text\/html/i.test(contentType) || /^\s*<(!doctype|html)/i.test(body);
  if (status === 403 && (html || /ip forbidden|access restriction|private endpoint/i.test(body)))
    return 'scm-blocked';
  if (authKind === 'basic') {
    if (basicAllowed === false) return 'basic-disabled';
    return status === 403 ? 'missing-role' : 'basic-rejected';
  }
  return status === 403 ? 'missing-role' : 'bearer-rejected';
}

export function explainKuduAuthFailure(problem: KuduAuthProblem, status: number, where: string): string {
  switch (problem) {
    case 'basic-disabled':
      return `Kudu at ${where} refused the publishing credentials (${status}): basic authentication is disabled for the SCM site by policy (basicPublishingCredentialsPolicies/scm allow=false); remove the publish-profile input so runpack uses your Entra sign-in, or allow SCM basic auth.`;
    case 'basic-rejected':
      return `Kudu at ${where} refused the publishing credentials (${status}); the publish profile is outdated or for another app (download it again), or SCM basic auth is disabled; remove the publish-profile input to use your Entra sign-in.`;
    case 'bearer-rejected':
      return `Kudu at ${where} refused the Entra token (${status}); the signed-in principal needs Contributor or Website Contributor on the app, or pass a publish-profile.`;
    case 'missing-role':
      return `Kudu at ${where} answered 403 Forbidden: the signed-in principal lacks rights on the app; grant it Website Contributor (or Contributor) on the app or its resource group.`;
    case 'scm-blocked':
      return `Kudu at ${where} answered 403 with the front end's HTML page: the SCM site is behind a private endpoint or an access restriction; run from a runner that can reach it or allow the runner's IP in the SCM access restrictions.`;
  }
}

/** A non-success answer from Kudu the caller may want to explain (auth) or act on. */
export class KuduError extends RunpackError {
  readonly status: number;
  readonly contentType: string;
  readonly bodySnippet: string;
  constructor(code: string, message: string, status: number, contentType: string, body: string) {
    super(code, message);
    this.name = 'KuduError';
    this.status = status;
    this.contentType = contentType;
    this.bodySnippet = body.slice(0, 2000);
  }
}

/** The result of a push: accepted (poll `location`), finished synchronously, or refused by the lock. */
export type PushResult =
  | { kind: 'accepted'; location: string; retryAfterMs?: number; trackingId?: string }
  | { kind: 'completed'; trackingId?: string }
  | { kind: 'conflict'; reason: PushConflict; message: string };

export interface PushOptions {
  /** Stream factory (called again for a resend after a transient failure). */
  body: () => NodeJS.ReadableStream;
  /** Size in bytes, sent as Content-Length. */
  size?: number;
  /** Echoed in the deployment record (`deployer`). */
  deployer?: string;
  /** Free text in the deployment record (`message`). */
  message?: string;
  deadline?: number;
  signal?: AbortSignal;
  /** The answer's body names the deployment (Flex Consumption's One Deploy). */
  idInBody?: boolean;
}

/** Pure: a deployment id from a One Deploy answer's body (`"3f39…"` or a bare id), or null. */
export function deploymentIdOf(body: string): string | null {
  const t = body.trim();
  let id: unknown = t;
  try {
    id = JSON.parse(t);
  } catch {
    // a bare id
  }
  return typeof id === 'string' && /^[A-Za-z0-9_.-]{1,100}$/.test(id) ? id : null;
}

export interface KuduClientOptions {
  http: HttpClient;
  /** `https://<scm-host>`; any userinfo is removed. */
  scmUrl: string;
  /** Authorization header value, e.g. `Bearer …` or `Basic …`; `refresh` asks for a new token. */
  authorization: (o?: { refresh?: boolean }) => Promise<string | undefined>;
  authKind: 'bearer' | 'basic';
  /**
   * Pin every request to one instance (the ARRAffinity cookie with the instance id, as Azure documents for
   * reaching one instance's SCM site); the cookie then never changes with Kudu's answers.
   */
  affinity?: string;
}

/** A streamed answer read into memory (error bodies are small; bounded anyway). */
async function buffered(res: HttpResponse): Promise<HttpResponse> {
  const body = await readStream(res.stream, 1024 * 1024).catch(() => Buffer.alloc(0));
  return {
    status: res.status,
    headers: res.headers,
    body,
    text: () => body.toString('utf8'),
    json: <T = unknown>() => JSON.parse(body.toString('utf8') || 'null') as T,
  };
}

function oneLine(text: string, max = 300): string {
  const t = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** Strip userinfo, path and query: the SCM base URL. */
export function scmBaseUrl(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`;
  const u = new URL(withScheme);
  return `${u.protocol}//${u.host}`;
}

export interface VfsGetOptions {
  deadline?: number;
  /** Inclusive byte range; Kudu answers 206 with those bytes (or 200 with all of them, or 416 past the end). */
  range?: { start: number; end: number };
  /** Leave the body unread in `stream` (large files). */
  stream?: boolean;
  maxAttempts?: number;
  signal?: AbortSignal;
}

/** One entry of a VFS directory listing, as Kudu sends it (fields may be missing from odd builds). */
export interface VfsEntry {
  name?: string;
  size?: number;
  mtime?: string;
  mime?: string;
}

export interface VfsFile {
  /** 200, or 206/416 for a range read. */
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The bytes as sent; empty when streamed. */
  body: Buffer;
  /** The unread body, when asked for with `stream`. */
  stream?: NodeJS.ReadableStream;
  /** The body decoded as UTF-8. */
  readonly text: string;
  etag?: string;
  /** The whole file's size: Content-Range's total for a range read, Content-Length for a full one. */
  size?: number;
  /** The answer itself (for readers written against HttpResponse). */
  response: HttpResponse;
}

function vfsFile(res: HttpResponse): VfsFile {
  const total = /\/(\d+)\s*$/.exec(res.headers['content-range'] ?? '')?.[1];
  const length = res.status === 200 ? res.headers['content-length'] : undefined;
  const size = total !== undefined ? Number(total) : length !== undefined ? Number(length) : undefined;
  return {
    status: res.status,
    headers: res.headers,
    body: res.body,
    stream: res.stream,
    get text() {
      return res.text();
    },
    etag: res.headers['etag'],
    ...(size !== undefined && Number.isFinite(size) ? { size } : {}),
    response: res,
  };
}

/** `/api/vfs/<path>` with each segment of the path (relative to %HOME%, no leading slash) encoded. */
function vfsPath(clean: string): string {
  return `/api/vfs/${clean.split('/').map(encodeURIComponent).join('/')}`;
}

export class KuduClient {
  readonly baseUrl: string;
  readonly authKind: 'bearer' | 'basic';
  private readonly http: HttpClient;
  private readonly authorization: (o?: { refresh?: boolean }) => Promise<string | undefined>;
  private readonly cookies = new Map<string, string>();
  private readonly options: KuduClientOptions;

  constructor(options: KuduClientOptions) {
    this.options = options;
    this.http = options.http;
    this.baseUrl = scmBaseUrl(options.scmUrl);
    this.authorization = options.authorization;
    this.authKind = options.authKind;
    if (options.affinity) {
      this.cookies.set('ARRAffinity', options.affinity);
      this.cookies.set('ARRAffinitySameSite', options.affinity);
    }
  }

  /** The instance this client is pinned to, if any. */
  get affinity(): string | undefined {
    return this.options.affinity;
  }

  /** The same session pinned to one instance (its id from Resource Manager's instance list). */
  pinnedTo(instanceId: string): KuduClient {
    return new KuduClient({ ...this.options, affinity: instanceId });
  }

  /** The SCM host, for messages. */
  get host(): string {
    return new URL(this.baseUrl).host;
  }

  /** The cookie header Kudu asked for (ARRAffinity), if any. */
  get cookieHeader(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private absolute(pathOrUrl: string): string {
    if (/^https?:\/\//i.test(pathOrUrl)) {
      // Kudu builds Location from its own host name; keep the scheme and host we reach it by.
      const u = new URL(pathOrUrl);
      const base = new URL(this.baseUrl);
      if (u.hostname.toLowerCase() === base.hostname.toLowerCase()) {
        u.protocol = base.protocol;
        u.host = base.host;
      }
      u.username = '';
      u.password = '';
      return u.toString();
    }
    return `${this.baseUrl}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
  }

  private remember(res: HttpResponse): void {
    const raw = res.headers['set-cookie'];
    if (!raw || this.affinity) return;
    for (const m of raw.matchAll(/(?:^|[,\s])(ARRAffinity(?:SameSite)?)=([^;,\s]*)/gi))
      this.cookies.set(m[1], m[2]);
  }

  async send(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD',
    pathOrUrl: string,
    extra: {
      headers?: Record<string, string>;
      body?: string | Buffer | (() => NodeJS.ReadableStream);
      deadline?: number;
      signal?: AbortSignal;
      retryOn?: number[];
      maxAttempts?: number;
      /** Leave the body of a successful (2xx) answer unread in `stream`; other answers are read for messages. */
      stream?: boolean;
    } = {},
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...(extra.headers ?? {}) };
    const cookie = this.cookieHeader;
    if (cookie) headers.Cookie = cookie;
    const sendOnce = (refresh: boolean) =>
      this.http.request({
        method,
        url: this.absolute(pathOrUrl),
        headers,
        body: extra.body,
        service: SERVICE,
        authorization: () => this.authorization(refresh ? { refresh } : undefined),
        deadline: extra.deadline,
        signal: extra.signal,
        // Kudu answers 409 while another operation holds its lock; a read is retried (bounded, with backoff).
        retryOn: extra.retryOn ?? (method === 'GET' || method === 'HEAD' ? KUDU_READ_RETRY : undefined),
        maxAttempts: extra.maxAttempts,
        stream: extra.stream,
      });
    let res = await sendOnce(false);
    // A token that expired in flight (or by clock skew): once more with a new one. A body given as a stream
    // factory is opened again; a Buffer or string is sent again as it is.
    if (res.status === 401 && this.authKind === 'bearer') {
      if (extra.stream) await buffered(res);
      res = await sendOnce(true);
    }
    if (extra.stream && (res.status < 200 || res.status >= 300)) res = await buffered(res);
    this.remember(res);
    if (res.status === 401 || res.status === 403) {
      const body = res.text();
      const ct = res.headers['content-type'] ?? '';
      const problem = classifyKuduAuthFailure(res.status, body, ct, this.authKind, undefined);
      throw new KuduError(
        res.status === 401 ? 'kudu-unauthorized' : 'kudu-forbidden',
        explainKuduAuthFailure(problem, res.status, this.host),
        res.status,
        ct,
        body,
      );
    }
    return res;
  }

  private unexpected(res: HttpResponse, what: string): KuduError {
    const body = res.text();
    const detail = oneLine(body);
    return new KuduError(
      'kudu-error',
      `Kudu at ${this.host} answered ${res.status} to ${what}${detail ? `: ${detail}` : ''}; check the app's SCM site (Advanced Tools) and try again.`,
      res.status,
      res.headers['content-type'] ?? '',
      body,
    );
  }

  private async push(path: string, query: Record<string, string>, options: PushOptions): Promise<PushResult> {
    const qs = new URLSearchParams(query).toString();
    const headers: Record<string, string> = { 'Content-Type': 'application/zip' };
    if (options.size !== undefined) headers['Content-Length'] = String(options.size);
    const res = await this.send('POST', `${path}?${qs}`, {
      headers,
      body: options.body,
      deadline: options.deadline,
      signal: options.signal,
    });
    const trackingId = res.headers['scm-deployment-id'];
    // Flex Consumption's One Deploy answers with the deployment id as its body (a JSON string): follow that id.
    const bodyId =
      options.idInBody && res.status >= 200 && res.status < 300 ? deploymentIdOf(res.text()) : null;
    if (bodyId)
      return {
        kind: 'accepted',
        location: this.absolute(`/api/deployments/${encodeURIComponent(bodyId)}`),
        retryAfterMs: retryAfterMs(res.headers, Date.now()),
        trackingId: bodyId,
      };
    if (res.status === 202) {
      const location = res.headers['location'];
      return {
        kind: 'accepted',
        location: this.absolute(location || '/api/deployments/latest'),
        retryAfterMs: retryAfterMs(res.headers, Date.now()),
        trackingId,
      };
    }
    if (res.status === 200 || res.status === 201 || res.status === 204)
      return { kind: 'completed', trackingId };
    if (res.status === 409) {
      const text = res.text();
      return { kind: 'conflict', reason: classifyPushConflict(text), message: oneLine(text) };
    }
    throw this.unexpected(res, `the package push (POST ${path})`);
  }

  /** `POST /api/zipdeploy?isAsync=true` with the zip streamed as the body. */
  zipDeploy(options: PushOptions): Promise<PushResult> {
    const query: Record<string, string> = { isAsync: 'true', deployer: options.deployer ?? 'runpack' };
    if (options.message) query.message = options.message;
    return this.push('/api/zipdeploy', query, options);
  }

  /**
   * OneDeploy of a zip without Kudu's restart: `POST /api/publish?type=zip&async=true&restart=false`. With
   * WEBSITE_RUN_FROM_PACKAGE=1 Kudu stores it in SitePackages and points packagename.txt at it, as zip deploy does
   * (API-SPEC §2.3); the caller restarts the app once itself, so the package is mounted once, not twice.
   */
  oneDeployZip(options: PushOptions): Promise<PushResult> {
    const query: Record<string, string> = {
      type: 'zip',
      async: 'true',
      restart: 'false',
      deployer: options.deployer ?? 'runpack',
    };
    if (options.message) query.message = options.message;
    return this.push('/api/publish', query, options);
  }

  /**
   * Flex Consumption's One Deploy: `POST /api/publish?RemoteBuild=…` with the zip as the body (no `type`, as the
   * official tools send it); the platform stores it in the app's deployment storage and restarts the app onto it.
   */
  oneDeployFlex(options: PushOptions & { remoteBuild: boolean }): Promise<PushResult> {
    const query: Record<string, string> = {
      RemoteBuild: String(options.remoteBuild),
      deployer: options.deployer ?? 'runpack',
    };
    if (options.message) query.message = options.message;
    return this.push('/api/publish', query, { ...options, idInBody: true });
  }

  /**
   * `PUT /api/deployments/{id}`: adds (or updates) a record in the app's deployment history, what the portal's
   * Deployment Center lists (the Azure Pipelines App Service tasks record their deployments the same way).
   */
  async putDeployment(
    id: string,
    record: { status: 3 | 4; message: string; author?: string; deployer: string; active: boolean },
    deadline?: number,
  ): Promise<KuduDeployment> {
    const res = await this.send('PUT', `/api/deployments/${encodeURIComponent(id)}`, {
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ id, ...record }),
      deadline,
    });
    if (res.status !== 200) throw this.unexpected(res, `PUT /api/deployments/${id}`);
    return res.json<KuduDeployment>();
  }

  /** One GET of a deployment URL (`latest` or an id). 404 → null. */
  async getDeployment(
    pathOrUrl: string,
    deadline?: number,
  ): Promise<{ httpStatus: number; record: KuduDeployment | null; retryAfterMs?: number }> {
    const res = await this.send('GET', pathOrUrl, { deadline, headers: { Accept: 'application/json' } });
    if (res.status === 404) return { httpStatus: 404, record: null };
    if (res.status !== 200 && res.status !== 202)
      throw this.unexpected(res, `GET ${new URL(this.absolute(pathOrUrl)).pathname}`);
    let record: KuduDeployment | null = null;
    try {
      const parsed = res.json<KuduDeployment | KuduDeployment[] | null>();
      record = Array.isArray(parsed) ? (parsed[0] ?? null) : parsed;
    } catch {
      record = null;
    }
    if (record && typeof record.status !== 'number') record = { ...record, status: Number(record.status) };
    return { httpStatus: res.status, record, retryAfterMs: retryAfterMs(res.headers, Date.now()) };
  }

  /** `GET /api/deployments/latest`: the running or last finished deployment, null when there is none. */
  async latestDeployment(deadline?: number): Promise<KuduDeployment | null> {
    return (await this.getDeployment('/api/deployments/latest', deadline)).record;
  }

  /**
   * Follow a deployment to its end. `location` is the 202's Location (or `/api/deployments/latest`).
   * `previousId` is the id `latest` had before the push: while `latest` still shows it, the new record does
   * not exist yet. Once the new record is seen its id is pinned, so a later deployment cannot be mistaken
   * for this one. `onStatus` is called on every status change.
   */
  async pollDeployment(
    location: string,
    options: {
      deadline: number;
      previousId?: string | null;
      /**
       * Whether a record is this client's push (e.g. by the unique `message` it sent): true, false, or
       * undefined when it cannot tell. `latest` may already show a later push by someone else; then the
       * deployment list is searched for ours.
       */
      isOurs?: (record: KuduDeployment) => boolean | undefined;
      initialRetryAfterMs?: number;
      timing?: PollTiming;
      onStatus?: (record: KuduDeployment) => void;
      sleep?: (ms: number) => Promise<void>;
      now?: () => number;
    },
  ): Promise<KuduDeployment> {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const now = options.now ?? Date.now;
    const timing = options.timing ?? DEFAULT_POLL_TIMING;
    let url = location;
    let pinned: string | null = null;
    let lastState = '';
    let last: KuduDeployment | null = null;
    let wait = nextPollDelay(options.initialRetryAfterMs, 1, timing, options.deadline - now());
    for (let attempt = 1; ; attempt++) {
      // The first read comes quickly: small deployments finish in a second or two.
      await sleep(attempt === 1 ? Math.min(wait, timing.minMs) : wait);
      if (now() >= options.deadline) {
        const where = last
          ? `deployment ${last.id} was still ${describeDeploymentState(last)}`
          : 'no deployment record for this push appeared; Kudu may have dropped it in the background because another deployment held the lock';
        throw new RunpackError(
          'timeout',
          `Kudu at ${this.host} did not finish the deployment within the budget (${where}); it may still complete — check ${this.baseUrl}/api/deployments/latest, or raise timeout-minutes.`,
        );
      }
      const { httpStatus, record, retryAfterMs: ra } = await this.getDeployment(url, options.deadline);
      wait = nextPollDelay(ra, attempt + 1, timing, options.deadline - now());
      if (!record || httpStatus === 404) {
        // A pinned id that vanished: go back to the Location Kudu gave.
        if (pinned) {
          pinned = null;
          url = location;
        }
        continue;
      }
      let current: KuduDeployment = record;
      if (!pinned) {
        if (options.previousId && record.id === options.previousId) continue;
        if (options.isOurs && options.isOurs(record) === false) {
          // `latest` is someone else's (later) push: find ours in the list.
          const mine = (await this.listDeployments(options.deadline)).find(
            (d) => options.isOurs!(d) === true,
          );
          if (!mine) continue;
          current = mine;
        }
        if (!current.is_temp) {
          pinned = current.id;
          url = `/api/deployments/${encodeURIComponent(current.id)}`;
        }
      } else if (record.id !== pinned) {
        continue;
      }
      const record2 = current;
      last = record2;
      const state = describeDeploymentState(record2);
      if (state !== lastState) {
        lastState = state;
        options.onStatus?.(record2);
      }
      if (deploymentOutcome(record2) !== 'running') return record2;
    }
  }

  /** `GET /api/deployments`: every deployment record Kudu keeps (newest first on Kudu; order not relied on). */
  async listDeployments(deadline?: number): Promise<KuduDeployment[]> {
    const res = await this.send('GET', '/api/deployments', {
      deadline,
      headers: { Accept: 'application/json' },
    });
    if (res.status !== 200) throw this.unexpected(res, 'GET /api/deployments');
    try {
      const parsed = res.json<KuduDeployment[]>();
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }

  /** `GET /api/deployments/{id}/log`, with the details of warning and error entries (at most 5 fetched). */
  async deploymentLog(id: string, deadline?: number): Promise<KuduLogEntry[]> {
    const res = await this.send('GET', `/api/deployments/${encodeURIComponent(id)}/log`, { deadline });
    if (res.status === 404) return [];
    if (res.status !== 200) throw this.unexpected(res, `GET /api/deployments/${id}/log`);
    let entries: KuduLogEntry[] = [];
    try {
      const parsed = res.json<KuduLogEntry[]>();
      entries = Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
    const out: KuduLogEntry[] = [];
    let detailsFetched = 0;
    for (const e of entries) {
      out.push(e);
      if (e.details_url && (e.type ?? 0) >= 1 && detailsFetched < 5) {
        detailsFetched++;
        try {
          const d = await this.send('GET', e.details_url, { deadline, maxAttempts: 2 });
          if (d.status === 200) {
            const details = d.json<KuduLogEntry[]>();
            if (Array.isArray(details))
              for (const x of details)
                if (x.message && x.message !== e.message) out.push({ ...x, message: `  ${x.message}` });
          }
        } catch (err) {
          if (err instanceof KuduError) continue;
          throw err;
        }
      }
    }
    return out;
  }

  /**
   * `GET /api/vfs/{path}` (relative to %HOME%). A redirect (307 for a directory without `/`) is followed.
   * Returns null for 404. The body is the file's bytes as sent (binary-safe); `text` decodes it as UTF-8.
   * With `range` only those bytes are asked for (206, or 416 past the end, both returned rather than thrown);
   * with `stream` the body is left unread in `stream` for the caller to consume. The second argument may
   * still be a bare deadline.
   */
  async vfsGet(path: string, options: number | VfsGetOptions = {}): Promise<VfsFile | null> {
    const o: VfsGetOptions = typeof options === 'number' ? { deadline: options } : options;
    const clean = path.replace(/^\/+/, '');
    const what = `GET /api/vfs/${clean}`;
    const headers: Record<string, string> = { 'Cache-Control': 'no-cache' };
    if (o.range) headers.Range = `bytes=${o.range.start}-${o.range.end}`;
    const get = (pathOrUrl: string) =>
      this.send('GET', pathOrUrl, {
        deadline: o.deadline,
        headers,
        stream: o.stream,
        maxAttempts: o.maxAttempts,
        signal: o.signal,
      });
    let res = await get(vfsPath(clean));
    if (res.status === 307 || res.status === 302 || res.status === 301) {
      const loc = res.headers['location'];
      if (!loc) throw this.unexpected(res, what);
      res = await get(loc);
    }
    if (res.status === 404) return null;
    const ok = res.status === 200 || (o.range !== undefined && (res.status === 206 || res.status === 416));
    if (!ok) throw this.unexpected(res, what);
    return vfsFile(res);
  }

  /** `PUT /api/vfs/{dir}/`: creates the directory (nested ones too); one that exists already (409) is fine. */
  async vfsMkdir(dir: string, deadline?: number): Promise<void> {
    const clean = dir.replace(/^\/+|\/+$/g, '');
    const res = await this.send('PUT', `${vfsPath(clean)}/`, {
      body: '',
      deadline,
    });
    if (res.status !== 409 && (res.status < 200 || res.status >= 300))
      throw this.unexpected(res, `PUT /api/vfs/${clean}/`);
  }

  /**
   * `PUT /api/vfs/{path}`: with `ifMatch` (an ETag from a read, or `*` for any existing file) only while the file
   * is unchanged; without it, a new file (Kudu refuses to overwrite an existing file without If-Match). `written`,
   * or `changed` when the file changed since that read (412). Other answers are a `kudu-error`.
   */
  async vfsPut(
    path: string,
    body: string | Buffer,
    o: { ifMatch?: string; deadline?: number; contentType?: string } = {},
  ): Promise<'written' | 'changed'> {
    const clean = path.replace(/^\/+/, '');
    const res = await this.send('PUT', vfsPath(clean), {
      headers: {
        ...(o.ifMatch !== undefined ? { 'If-Match': o.ifMatch } : {}),
        'Content-Type': o.contentType ?? 'text/plain',
      },
      body,
      deadline: o.deadline,
    });
    if (res.status === 412) return 'changed';
    if (res.status >= 200 && res.status < 300) return 'written';
    throw this.unexpected(res, `PUT /api/vfs/${clean}`);
  }

  /**
   * A VFS directory listing (`GET /api/vfs/{dir}/`): Kudu's entries (name, size, mtime, mime, …), or null when the
   * folder does not exist. An answer that is not a JSON array is a `kudu-error`.
   */
  async vfsList(dir: string, deadline?: number): Promise<VfsEntry[] | null> {
    const clean = dir.replace(/\/+$/, '');
    const file = await this.vfsGet(`${clean}/`, deadline);
    if (!file) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(file.text);
    } catch {
      parsed = null;
    }
    if (!Array.isArray(parsed))
      throw new RunpackError(
        'kudu-error',
        `Kudu answered GET /api/vfs/${clean}/ with something other than a directory listing; check the app's SCM site (Advanced Tools) and try again.`,
      );
    return (parsed as unknown[]).filter((e): e is VfsEntry => !!e && typeof e === 'object');
  }

  /**
   * The end of the newest container logs (Linux: `GET /api/logs/docker`, then a ranged VFS read of each file's
   * last `tailBytes`), newest file first; [] where the SCM site keeps none (Windows answers 404).
   */
  async containerLogTail(
    options: { deadline?: number; files?: number; tailBytes?: number } = {},
  ): Promise<{ name: string; machine: string; text: string }[]> {
    const res = await this.send('GET', '/api/logs/docker', {
      deadline: options.deadline,
      headers: { Accept: 'application/json' },
    });
    if (res.status === 404) return [];
    if (res.status !== 200) throw this.unexpected(res, 'GET /api/logs/docker');
    const list = res.json<unknown>();
    if (!Array.isArray(list)) return [];
    const files = (list as { href?: unknown; machineName?: unknown; lastUpdated?: unknown; size?: unknown }[])
      .filter((f) => typeof f?.href === 'string')
      .map((f) => ({
        href: f.href as string,
        machine: typeof f.machineName === 'string' ? f.machineName : '',
        updated: typeof f.lastUpdated === 'string' ? Date.parse(f.lastUpdated) || 0 : 0,
        size: typeof f.size === 'number' ? f.size : 0,
      }))
      .sort((a, b) => b.updated - a.updated)
      .slice(0, options.files ?? 4);
    const tail = options.tailBytes ?? 16_384;
    const out: { name: string; machine: string; text: string }[] = [];
    for (const f of files) {
      const vfs = /\/api\/vfs\/(.+)$/.exec(new URL(f.href, this.baseUrl).pathname)?.[1];
      if (!vfs) continue;
      const file = await this.vfsGet(decodeURIComponent(vfs), {
        deadline: options.deadline,
        range: { start: Math.max(0, f.size - tail), end: Math.max(0, f.size - 1) },
      }).catch(() => null);
      if (file && file.status !== 416)
        out.push({
          name: decodeURIComponent(vfs.split('/').pop() ?? vfs),
          machine: f.machine,
          text: file.text,
        });
    }
    return out;
  }

  /** `GET /api/settings`: the settings the SCM site sees now (a flat object; older builds send Key/Value pairs). */
  async settings(deadline?: number): Promise<Record<string, string>> {
    const res = await this.send('GET', '/api/settings', {
      deadline,
      headers: { Accept: 'application/json' },
    });
    if (res.status !== 200) throw this.unexpected(res, 'GET /api/settings');
    const parsed = res.json<unknown>();
    const out: Record<string, string> = {};
    if (Array.isArray(parsed)) {
      for (const item of parsed as { Key?: string; Value?: unknown; key?: string; value?: unknown }[]) {
        const k = item.Key ?? item.key;
        const v = item.Value ?? item.value;
        if (typeof k === 'string') out[k] = v == null ? '' : String(v);
      }
    } else if (parsed && typeof parsed === 'object') {
      for (const [k, v] of Object.entries(parsed as Record<string, unknown>))
        out[k] = v == null ? '' : String(v);
    }
    return out;
  }
}
