import { describe, expect, it } from '@jest/globals';
import {
  judgeAnswer,
  platformFailure,
  FailureWatch,
  persistentFailure,
  START_FAILURE_CONFIRM_MS,
} from '../../src/deploy/app-answer.js';
import { classifyFailure } from '../../src/deploy/classify.js';

const LINUX_APP_ERROR =
  '<!DOCTYPE html><html><head><title>Application Error</title></head><body><div><h2>:( Application Error</h2><p>If you are the application administrator, you can access the diagnostic resources.</p></div></body></html>';

describe('platformFailure: the platform answers for an app that does not run', () => {
  const pages: [number, string][] = [
    [503, LINUX_APP_ERROR],
    [500, 'The page cannot be displayed because an internal server error has occurred.'],
    [500, '<h1>HTTP Error 500.30 - ASP.NET Core app failed to start</h1>'],
    [502, '<h1>HTTP Error 502.5 - ANCM Out-Of-Process Startup Failure</h1>'],
    [500, 'iisnode encountered an error when processing the request. HRESULT: 0x2'],
    [502, 'The specified CGI application encountered an error and the server terminated the process.'],
    [503, '<h1>Function host is not running.</h1>'],
    [403, '<h1>Error 403 - This web app is stopped.</h1>'],
  ];
  for (const [status, body] of pages)
    it(`${status} ${body.slice(0, 50)}`, () => expect(platformFailure({ status, body })).not.toBeNull());

  it("never takes the app's own answers for the platform's", () => {
    expect(platformFailure({ status: 500, body: 'Internal error: database down' })).toBeNull();
    expect(platformFailure({ status: 200, body: LINUX_APP_ERROR })).toBeNull();
    expect(platformFailure({ status: 403, body: 'Forbidden' })).toBeNull();
    expect(platformFailure({ error: 'ECONNRESET' })).toBeNull();
  });
});

describe('judgeAnswer', () => {
  it('without health-path: any answer of the app counts, the platform failure pages and warm-up do not', () => {
    expect(judgeAnswer({ status: 200, body: 'hi' }, {}).state).toBe('up');
    expect(judgeAnswer({ status: 404, body: 'not here' }, {}).state).toBe('up');
    const own500 = judgeAnswer({ status: 500, body: 'oops' }, {});
    expect(own500.state).toBe('up');
    expect(own500.why).toMatch(/the app's own answer/);
    expect(judgeAnswer({ status: 503, body: 'Service Unavailable' }, {}).state).toBe('warming');
    expect(judgeAnswer({ error: 'socket hang up' }, {}).state).toBe('warming');
    const failed = judgeAnswer({ status: 503, body: LINUX_APP_ERROR }, {});
    expect(failed.state).toBe('start-failed');
    expect(failed.why).toBe("/ answers 503 with the platform's ':( Application Error' page");
  });

  it('with health-path: only 2xx (with the expected text) is up', () => {
    const o = { healthPath: '/healthz', expect: 'v2' };
    expect(judgeAnswer({ status: 200, body: '{"version":"v2"}' }, o).state).toBe('up');
    expect(judgeAnswer({ status: 200, body: '{"version":"v1"}' }, o)).toEqual({
      state: 'unhealthy',
      why: '/healthz answers 200 without the expected text',
    });
    expect(judgeAnswer({ status: 404, body: '' }, o).state).toBe('unhealthy');
    expect(judgeAnswer({ status: 500, body: 'oops' }, o).state).toBe('unhealthy');
    expect(judgeAnswer({ status: 500, body: 'iisnode encountered an error' }, o).state).toBe('start-failed');
  });
});

describe('FailureWatch and persistentFailure', () => {
  it('is certain only after three answers of the same failure spanning the confirmation time', () => {
    const w = new FailureWatch();
    expect(w.see('down', 0)).toBe(false);
    expect(w.see('down', 2000)).toBe(false);
    expect(w.see('down', 4000)).toBe(false);
    expect(w.see('down', START_FAILURE_CONFIRM_MS)).toBe(true);
  });

  it('starts over when the app answers in between (the platform restarted it) or the failure changes', () => {
    const w = new FailureWatch();
    w.see('down', 0);
    w.see('down', 5000);
    w.see(null, 6000);
    expect(w.see('down', 9000)).toBe(false);
    expect(w.see('down', 12000)).toBe(false);
    expect(w.see('other', 9000 + START_FAILURE_CONFIRM_MS)).toBe(false);
  });

  it('only start failures and client errors of the health path persist; warm-up and 5xx are waited out', () => {
    const o = { healthPath: '/healthz' };
    const persists = (status: number, body = '') =>
      persistentFailure(judgeAnswer({ status, body }, o), { status, body });
    expect(persists(503, LINUX_APP_ERROR)).toBe(true);
    expect(persists(404)).toBe(true);
    expect(persists(401)).toBe(true);
    expect(persists(429)).toBe(false);
    expect(persists(408)).toBe(false);
    expect(persists(503)).toBe(false);
    expect(persists(500)).toBe(false);
    expect(persists(200)).toBe(false);
  });
});

describe('classifyFailure with what the app answers', () => {
  it('calls a mounted package whose app does not start app-start-failed and points at the log stream', () => {
    const c = classifyFailure({
      mode: 'url',
      settingMatches: true,
      blobFetch: { status: 206, sha256Matches: true },
      stamp: 'match',
      health: { status: 503, body: LINUX_APP_ERROR },
      app: { state: 'start-failed', why: "/ answers 503 with the platform's ':( Application Error' page" },
      logStreamUrl: 'https://app.scm.example/api/logstream',
    });
    expect(c?.cause).toBe('app-start-failed');
    expect(c?.evidence).toMatch(/Application Error.*the app's process does not start/);
    expect(c?.fix).toContain('https://app.scm.example/api/logstream');
  });

  it("blames a write into the read-only mount when the app's log shows one", () => {
    const c = classifyFailure({
      mode: 'local',
      stamp: 'match',
      app: { state: 'start-failed', why: '/ answers 503' },
      appLogReadOnlyLine: "Error: EACCES: permission denied, open '/home/site/wwwroot/cache.json'",
    });
    expect(c?.cause).toBe('read-only-write');
    expect(c?.evidence).toContain('/home/site/wwwroot/cache.json');
  });

  it('a site that never answers with the package mounted is the app, without a stamp it may be the mount', () => {
    expect(
      classifyFailure({ mode: 'url', stamp: 'match', app: { state: 'warming', why: '/ answers 503' } })
        ?.cause,
    ).toBe('app-start-failed');
    expect(
      classifyFailure({
        mode: 'url',
        stamp: 'not-checked',
        health: { status: 503 },
        app: { state: 'warming', why: '/ answers 503' },
      })?.cause,
    ).toBe('mount-blocked');
  });

  it('an app that answers passes, whatever its root says', () => {
    expect(
      classifyFailure({
        mode: 'url',
        stamp: 'match',
        health: { status: 404 },
        app: { state: 'up', why: 'x' },
      }),
    ).toBeNull();
  });

  it('the earlier evidence wins: a failure marker is a blocked mount, not a start failure', () => {
    expect(
      classifyFailure({
        mode: 'local',
        failureMarker: true,
        app: { state: 'warming', why: '/ answers 503' },
      })?.cause,
    ).toBe('mount-blocked');
  });
});

describe('a runner that cannot reach the site', () => {
  it('is unreachable (a persistent failure) for DNS, refused connections, proxies and TLS trust, warming for resets', () => {
    const dns =
      'Could not reach the app (GET app.example.net/): getaddrinfo ENOTFOUND app.example.net; check the network';
    const j = judgeAnswer({ error: dns }, {});
    expect(j).toEqual({
      state: 'unreachable',
      why: 'the runner cannot reach app.example.net: the name does not resolve (Could not reach the app (GET app.example.net/): getaddrinfo ENOTFOUND app.example.net)',
    });
    expect(persistentFailure(j, { error: dns })).toBe(true);
    expect(judgeAnswer({ error: 'connect ECONNREFUSED 10.0.0.4:443' }, {}).why).toMatch(
      /the connection is refused/,
    );
    expect(judgeAnswer({ error: 'unable to verify the first certificate' }, {}).why).toMatch(/not trusted/);
    expect(judgeAnswer({ error: 'socket hang up' }, {}).state).toBe('warming');
    expect(judgeAnswer({ error: 'read ECONNRESET' }, {}).state).toBe('warming');
  });

  it('classifies as runner-network, saying nothing about the app', () => {
    const c = classifyFailure({
      mode: 'url',
      stamp: 'not-checked',
      app: {
        state: 'unreachable',
        why: 'the runner cannot reach app.example.net: the name does not resolve',
      },
    });
    expect(c?.cause).toBe('runner-network');
    expect(c?.fix).toMatch(/HTTPS_PROXY, NO_PROXY.*NODE_EXTRA_CA_CERTS/);
  });
});
