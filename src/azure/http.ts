/**
 * The one HTTP client every runpack call goes through (Resource Manager, Kudu, Blob Storage, Entra, the site).
 * Built on @azure/core-rest-pipeline so proxies (HTTPS_PROXY/HTTP_PROXY/NO_PROXY), extra CAs
 * (NODE_EXTRA_CA_CERTS) and streaming behave exactly as in the Azure SDKs. The pipeline's own retries are
 * off: this module retries with backoff, honours Retry-After, and never waits past the caller's deadline.
 */
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient as CoreHttpClient,
  type Pipeline,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { RunpackError } from '../util/errors.js';

export interface HttpRequestOptions {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A factory for stream bodies so a retry can resend. */
  body?: string | Buffer | (() => NodeJS.ReadableStream);
  /** Human name of the service for messages: 'Resource Manager', 'Kudu', 'Blob Storage', 'Entra ID'. */
  service: string;
  /** Authorization header value, fetched before every attempt (so an expired token is refreshed). */
  authorization?: () => Promise<string | undefined>;
  /** Give up (RunpackError code 'timeout', naming the service, the operation and the budget) when this ms-epoch deadline passes. */
  deadline?: number;
  /** Statuses to retry with backoff, honouring Retry-After within the deadline. Default [408, 429, 500, 502, 503, 504] plus network errors. */
  retryOn?: number[];
  /** Max attempts (default 6). */
  maxAttempts?: number;
  /** Stream the response body instead of buffering it (downloads). */
  stream?: boolean;
  /** Abort signal. */
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The answer's bytes exactly as sent (never decoded as text); empty when stream: true. */
  body: Buffer;
  stream?: NodeJS.ReadableStream;
  text(): string;
  json<T = unknown>(): T;
}

export interface HttpClient {
  request(options: HttpRequestOptions): Promise<HttpResponse>;
}

export interface RetryInfo {
  service: string;
  status?: number;
  error?: string;
  waitMs: number;
  attempt: number;
}

/** The log line for a retry: `Kudu answered 503; retrying in 2.5 s (attempt 2).` (network errors say what failed). */
export function describeRetry(i: RetryInfo): string {
  const what = i.status ? `answered ${i.status}` : `failed (${(i.error ?? '').slice(0, 100)})`;
  return `${i.service} ${what}; retrying in ${Math.round(i.waitMs / 100) / 10} s (attempt ${i.attempt + 1}).`;
}

export interface HttpClientOptions {
  userAgent?: string;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  onRetry?: (info: RetryInfo) => void;
  /** The transport; defaults to the SDK's Node client. Tests may inject one. */
  transport?: CoreHttpClient;
  /** Cancels every request of this client (the step's cancellation), besides each request's own signal. */
  signal?: AbortSignal;
}

/** Largest answer collected into memory when the caller did not ask for a stream. */
export const MAX_BUFFERED_BYTES = 256 * 1024 * 1024;

/**
 * Pure: what to check on the runner for a connection that failed with this error: the CA it trusts for a TLS
 * failure, DNS for a name that does not resolve, the proxy when one is set and the connection is refused.
 */
export function networkAdvice(
  message: string,
  env: Record<string, string | undefined> = process.env,
): string {
  if (/certificate|self[- ]signed|UNABLE_TO_VERIFY|CERT_|ERR_TLS/i.test(message))
    return "the runner does not trust the server's TLS certificate: give Node the CA that signed it with NODE_EXTRA_CA_CERTS (for a TLS-inspecting proxy, the proxy's root CA)";
  if (/ENOTFOUND|EAI_AGAIN/.test(message))
    return 'the name does not resolve on the runner: check its DNS, and NO_PROXY when the host should be reached through the proxy';
  const proxy = env.HTTPS_PROXY || env.https_proxy;
  if (proxy && /ECONNREFUSED|proxy/i.test(message)) {
    let where = 'the proxy';
    try {
      where = `the proxy ${new URL(proxy).host}`;
    } catch {
      // not a URL: named without its address
    }
    return `${where} (HTTPS_PROXY) refused the connection: check HTTPS_PROXY and NO_PROXY`;
  }
  return 'check the network, proxy (HTTPS_PROXY/NO_PROXY) and firewall rules';
}

export const DEFAULT_RETRY_STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504];
const RETRIABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);
/** Longest single backoff wait without Retry-After. */
const MAX_BACKOFF_MS = 20_000;

/** Removes any userinfo and the SAS signature (`sig`) from a URL, for messages and logs. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/([?&]sig=)[^&#\s]*/gi, '$1REDACTED').replace(/\/\/[^/@\s]*@/, '//');
  }
  parsed.username = '';
  parsed.password = '';
  if (parsed.searchParams.has('sig')) parsed.searchParams.set('sig', 'REDACTED');
  return parsed.toString();
}

/** Milliseconds to wait from a Retry-After header (delta seconds or HTTP date), or from retry-after-ms. */
export function parseRetryAfter(headers: Record<string, string>, now: number): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const v = headers[name];
    if (v !== undefined && /^\d+(\.\d+)?$/.test(v.trim())) return Math.max(0, Math.ceil(Number(v)));
  }
  const value = headers['retry-after'];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.max(0, Math.ceil(Number(trimmed) * 1000));
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Exponential backoff without Retry-After: 1 s, 2 s, 4 s, ... capped. */
export function backoffMs(attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.max(0, attempt - 1));
}

function formatBudget(ms: number): string {
  if (ms >= 120_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.max(1, Math.round(ms / 1000))} s`;
}

function describeOperation(options: HttpRequestOptions): string {
  let path = options.url;
  try {
    const u = new URL(options.url);
    path = `${u.host}${u.pathname}`;
  } catch {
    path = redactUrl(options.url);
  }
  return `${options.method} ${path}`;
}

function isRetriableNetworkError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; name?: unknown };
  if (typeof e.code === 'string' && RETRIABLE_NETWORK_CODES.has(e.code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /socket hang up|ECONNRESET|ETIMEDOUT|EPIPE|other side closed|network socket disconnected/i.test(
    message,
  );
}

function headersToRecord(response: PipelineResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of response.headers) out[name.toLowerCase()] = value;
  return out;
}

function makeResponse(
  status: number,
  headers: Record<string, string>,
  body: Buffer,
  stream?: NodeJS.ReadableStream,
) {
  const response: HttpResponse = {
    status,
    headers,
    body,
    stream,
    text: () => body.toString('utf8'),
    json: <T = unknown>() => JSON.parse(body.toString('utf8') || 'null') as T,
  };
  return response;
}

function drain(response: PipelineResponse): void {
  const s = response.readableStreamBody;
  if (s && typeof (s as NodeJS.ReadableStream & { resume?: () => void }).resume === 'function') {
    s.on('error', () => undefined);
    (s as NodeJS.ReadableStream).resume();
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The caller's signal, aborted also when `remaining` ms pass (no deadline: the caller's signal alone). */
function budgetSignal(
  signal: AbortSignal | undefined,
  remaining: number | undefined,
): AbortSignal | undefined {
  if (remaining === undefined) return signal;
  const timeout = AbortSignal.timeout(Math.max(1, remaining));
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const transport = options.transport ?? createDefaultHttpClient();
  const pipeline: Pipeline = createPipelineFromOptions({
    retryOptions: { maxRetries: 0 },
    redirectOptions: { maxRetries: 5 },
    userAgentOptions: { userAgentPrefix: options.userAgent ?? 'runpack' },
  });

  async function request(given: HttpRequestOptions): Promise<HttpResponse> {
    const signals = [given.signal, options.signal].filter((x): x is AbortSignal => x !== undefined);
    const req: HttpRequestOptions =
      signals.length > 1 ? { ...given, signal: AbortSignal.any(signals) } : { ...given, signal: signals[0] };
    const maxAttempts = Math.max(1, req.maxAttempts ?? 6);
    const retryOn = req.retryOn ?? DEFAULT_RETRY_STATUSES;
    const started = now();
    const budget = req.deadline !== undefined ? req.deadline - started : undefined;
    const op = describeOperation(req);
    const timeoutError = (detail: string) =>
      new RunpackError(
        'timeout',
        `${req.service} did not answer ${op} within the ${formatBudget(budget ?? 0)} budget (${detail}); ` +
          'try again later or raise timeout-minutes.',
      );

    for (let attempt = 1; ; attempt++) {
      if (req.signal?.aborted) throw new RunpackError('aborted', `${req.service} ${op} was cancelled.`);
      const remaining = req.deadline !== undefined ? req.deadline - now() : undefined;
      if (remaining !== undefined && remaining <= 0) throw timeoutError('deadline passed');

      const headers = createHttpHeaders({ ...(req.headers ?? {}) });
      if (req.authorization) {
        const auth = await req.authorization();
        if (auth) headers.set('Authorization', auth);
      }
      const pr = createPipelineRequest({
        url: req.url,
        method: req.method,
        headers,
        body: req.body,
        // The budget is an abort signal, not the pipeline's `timeout`: the transport leaves its timeout timer
        // running when a request fails before an answer (a name that does not resolve), which kept the process
        // alive for the whole budget after the step had finished. AbortSignal.timeout's timer never does.
        abortSignal: budgetSignal(req.signal, remaining),
        allowInsecureConnection: req.url.startsWith('http:'),
        // Always streamed: a body read as text by the transport is UTF-8 decoded, which corrupts binary data
        // (a zip read through Kudu VFS). Non-streamed answers are collected as bytes below.
        streamResponseStatusCodes: new Set([Number.POSITIVE_INFINITY]),
      });

      let response: PipelineResponse;
      try {
        response = await pipeline.sendRequest(transport, pr);
      } catch (err) {
        if (req.signal?.aborted) throw new RunpackError('aborted', `${req.service} ${op} was cancelled.`);
        const message = err instanceof Error ? err.message : String(err);
        if (req.deadline !== undefined && now() >= req.deadline) throw timeoutError(message);
        if (isRetriableNetworkError(err) && attempt < maxAttempts) {
          const waitMs = backoffMs(attempt);
          if (req.deadline !== undefined && now() + waitMs >= req.deadline) throw timeoutError(message);
          options.onRetry?.({ service: req.service, error: message, waitMs, attempt });
          await sleep(waitMs);
          continue;
        }
        throw new RunpackError(
          'network',
          `Could not reach ${req.service} (${op}): ${message}; ${networkAdvice(message)}.`,
          { cause: err },
        );
      }

      const resHeaders = headersToRecord(response);
      if (retryOn.includes(response.status)) {
        if (attempt >= maxAttempts) {
          drain(response);
          throw new RunpackError(
            'retries-exhausted',
            `${req.service} answered ${response.status} to ${op} ${attempt} times in a row; the service is busy or failing, try again later.`,
          );
        }
        const waitMs = parseRetryAfter(resHeaders, now()) ?? backoffMs(attempt);
        if (req.deadline !== undefined && now() + waitMs > req.deadline) {
          drain(response);
          throw timeoutError(`it answered ${response.status} and asked to wait ${formatBudget(waitMs)}`);
        }
        drain(response);
        options.onRetry?.({ service: req.service, status: response.status, waitMs, attempt });
        await sleep(waitMs);
        continue;
      }

      if (req.stream) {
        return makeResponse(response.status, resHeaders, Buffer.alloc(0), response.readableStreamBody);
      }
      let body: Buffer;
      try {
        body = await readStream(response.readableStreamBody, MAX_BUFFERED_BYTES);
      } catch (err) {
        if (err instanceof RunpackError) {
          drain(response);
          throw new RunpackError(
            err.code,
            `${req.service} sent more than ${MAX_BUFFERED_BYTES} bytes for ${op}; read it as a stream.`,
          );
        }
        if (req.deadline !== undefined && now() >= req.deadline)
          throw timeoutError(err instanceof Error ? err.message : String(err));
        throw new RunpackError(
          'network',
          `${req.service} broke off the answer to ${op}: ${err instanceof Error ? err.message : String(err)}; try again.`,
          { cause: err },
        );
      }
      return makeResponse(response.status, resHeaders, body);
    }
  }

  return { request };
}

/** Reads a streamed body fully (bounded by maxBytes) into a Buffer. */
export async function readStream(
  stream: NodeJS.ReadableStream | undefined,
  maxBytes = 64 * 1024 * 1024,
): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += b.length;
    if (total > maxBytes)
      throw new RunpackError('response-too-large', `A response exceeded ${maxBytes} bytes.`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}
