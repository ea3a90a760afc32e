/**
 * Pure: what one answer of the site says about the app behind it. A mounted package is not a running app: the
 * platform's front end answers for an app whose process does not start (Linux's 503 ':( Application Error' page,
 * IIS's plain 500, the ANCM and iisnode start failures, the Functions host that is not running, the stopped
 * page). Those answers are never the app's; any other answer is.
 */

/** One GET of the site: its status and the start of its body, or the error when nothing answered. */
export interface SiteProbe {
  status?: number;
  body?: string;
  error?: string;
}

export type AnswerState =
  /** The app answers (with health-path: 2xx, with the expected text when `expect` is given). */
  | 'up'
  /** The platform answers that the app's process failed to start (or the app is stopped). */
  | 'start-failed'
  /** Warm-up: 502/503/504 without a start-failure page, or no answer yet. */
  | 'warming'
  /** The app answers, but health-path is not 2xx or lacks the expected text. */
  | 'unhealthy'
  /** The runner itself cannot reach the site: DNS, a refused connection, the proxy, TLS trust. */
  | 'unreachable';

export interface AnswerJudgement {
  state: AnswerState;
  /** One phrase for logs and evidence, e.g. "answers 503 with the platform's ':( Application Error' page". */
  why: string;
}

/** The platform's own answers for an app that does not run, by what they look like. */
const PLATFORM_FAILURES: { pattern: RegExp; name: string }[] = [
  { pattern: /:\(\s*Application Error/i, name: "the platform's ':( Application Error' page" },
  {
    pattern: /The page cannot be displayed because an internal server error has occurred/i,
    name: "IIS's internal server error page",
  },
  {
    pattern: /HTTP Error 500\.3\d|ASP\.NET Core app failed to start|ANCM In-Process Start Failure/i,
    name: 'the ASP.NET Core Module start failure page',
  },
  {
    pattern: /HTTP Error 502\.5|ANCM Out-Of-Process Startup Failure/i,
    name: 'the ASP.NET Core Module process failure page',
  },
  {
    pattern: /iisnode (?:encountered an error|module is unable to start)/i,
    name: "iisnode's start failure page",
  },
  {
    pattern: /The specified CGI application encountered an error/i,
    name: "IIS's CGI application error page",
  },
  { pattern: /Function host is not running/i, name: "the Functions host's 'not running' page" },
];

const STOPPED = /This web app is stopped/i;

/**
 * Errors that say the runner cannot reach the site at all, whatever the app does: a name that does not resolve,
 * a refused connection (the platform's front end always accepts), a proxy that refuses, a certificate the runner
 * does not trust. Resets and timeouts are not among them: a restarting site gives those.
 */
const RUNNER_SIDE: { pattern: RegExp; reason: string }[] = [
  { pattern: /ENOTFOUND|EAI_AGAIN/, reason: 'the name does not resolve' },
  { pattern: /ECONNREFUSED/, reason: 'the connection is refused' },
  { pattern: /proxy/i, reason: 'the proxy refuses it' },
  {
    pattern: /certificate|self[- ]signed|UNABLE_TO_VERIFY|CERT_|ERR_TLS/i,
    reason: 'its TLS certificate is not trusted',
  },
  { pattern: /EHOSTUNREACH|ENETUNREACH/, reason: 'no route' },
];

/** The host of the URL in an error text (the HTTP client names it), for the evidence line. */
function hostIn(error: string): string | undefined {
  return (
    /(?:ENOTFOUND|EAI_AGAIN)\s+([\w.-]+)/.exec(error)?.[1] ?? /\((?:GET|HEAD) ([\w.-]+)[/)]/.exec(error)?.[1]
  );
}
const WARMING = new Set([502, 503, 504]);

/** The platform's start-failure page this answer is, if any. */
export function platformFailure(p: SiteProbe): string | null {
  if (p.status === undefined) return null;
  if (p.status === 403 && STOPPED.test(p.body ?? '')) return "the platform's 'This web app is stopped' page";
  if (p.status < 500) return null;
  return PLATFORM_FAILURES.find((f) => f.pattern.test(p.body ?? ''))?.name ?? null;
}

export function judgeAnswer(
  p: SiteProbe,
  o: { healthPath?: string; expect?: string },
  path = o.healthPath ?? '/',
): AnswerJudgement {
  if (p.status === undefined) {
    const error = p.error ?? 'no response';
    const runnerSide = RUNNER_SIDE.find((r) => r.pattern.test(error));
    if (runnerSide)
      return {
        state: 'unreachable',
        why: `the runner cannot reach ${hostIn(error) ?? 'the site'}: ${runnerSide.reason} (${error.split(';')[0].slice(0, 160)})`,
      };
    return { state: 'warming', why: `${path} gives no answer (${error})` };
  }
  const failure = platformFailure(p);
  if (failure) return { state: 'start-failed', why: `${path} answers ${p.status} with ${failure}` };
  if (WARMING.has(p.status)) return { state: 'warming', why: `${path} answers ${p.status} (warming up)` };
  if (o.healthPath) {
    if (p.status < 200 || p.status >= 300) return { state: 'unhealthy', why: `${path} answers ${p.status}` };
    if (o.expect && !(p.body ?? '').includes(o.expect))
      return { state: 'unhealthy', why: `${path} answers ${p.status} without the expected text` };
    return { state: 'up', why: `${path} answers ${p.status}${o.expect ? ' with the expected text' : ''}` };
  }
  return {
    state: 'up',
    why: `${path} answers ${p.status}${p.status >= 500 ? " (the app's own answer, not the platform's)" : ''}`,
  };
}

/**
 * Pure: whether an answer is a failure that waiting does not heal once it persists: the platform's start failure,
 * or a health-path that answers a client error (404, 401, …; not 408 or 429). Warm-up answers, 5xx of the app and
 * missing expected text can still change (a slow start, instances switching), so they are waited out.
 */
export function persistentFailure(j: AnswerJudgement, p: SiteProbe): boolean {
  if (j.state === 'start-failed' || j.state === 'unreachable') return true;
  const s = p.status ?? 0;
  return j.state === 'unhealthy' && s >= 400 && s < 500 && s !== 408 && s !== 429;
}

/**
 * How long a failure must persist before it is certain: the platform restarts a crashed process, so one failure
 * page may be followed by a start that works. Three answers in a row, at least this far apart in all.
 */
export const START_FAILURE_ANSWERS = 3;
export const START_FAILURE_CONFIRM_MS = 8_000;

/** Pure: follows a run of answers; `certain` once the same persistent failure has lasted long enough. */
export class FailureWatch {
  private since: number | null = null;
  private count = 0;
  private why = '';

  /** Feeds one answer seen at `now` (its failure phrase when persistentFailure, else null); true when certain. */
  see(failure: string | null, now: number): boolean {
    if (failure === null || failure !== this.why) {
      this.since = null;
      this.count = 0;
      this.why = failure ?? '';
      if (failure === null) return false;
    }
    if (this.since === null) this.since = now;
    this.count += 1;
    return this.count >= START_FAILURE_ANSWERS && now - this.since >= START_FAILURE_CONFIRM_MS;
  }
}
