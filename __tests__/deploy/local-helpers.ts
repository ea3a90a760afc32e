/**
 * Test doubles for local mode, slots and function apps: a small in-memory Kudu over loopback HTTP and a
 * DeployContext whose Resource Manager, settings and clock are plain objects.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpClient, type HttpClient, type HttpResponse } from '../../src/azure/http.js';
import type { ArmClient, SiteRef, SlotConfigNames } from '../../src/azure/arm.js';
import type { KuduDeployment } from '../../src/azure/kudu.js';
import { createLogger, memorySink } from '../../src/report/log.js';
import { createSecretRegistry } from '../../src/report/secrets.js';
import type { DeployContext, DeployInputs, PackageInfo, TargetInfo } from '../../src/deploy/types.js';

export interface FakeKuduState {
  /** What /api/settings shows. */
  scmSettings: Record<string, string>;
  /** /api/settings answers 503 this many more times. */
  settingsUnavailable: number;
  deployments: KuduDeployment[];
  /** Polls of a running deployment before it finishes. */
  pollsToFinish: number;
  /** The next push fails (corrupt package). */
  failNext: boolean;
  packageName: string | null;
  /** Release stamp text in the mounted wwwroot. */
  wwwrootStamp: string | null;
  failureMarker: boolean;
  /** Stamp the package of the next successful push carries. */
  nextStamp: string | null;
  /** Pushes seen: bytes, query, the setting Kudu saw at push time. */
  pushes: { bytes: number; query: string; sawSetting: string | undefined }[];
  /** Requests seen. */
  requests: { method: string; path: string; auth?: string }[];
  /** Accepted Authorization values (exact). */
  acceptAuth: string[];
  /** Answer every request with 403 HTML (SCM behind a private endpoint). */
  blocked: boolean;
  /** Called when a deployment finishes successfully (e.g. to start someone else's right after). */
  afterSuccess?: () => void;
  /** Pushes finish at once (before the first poll). */
  instant: boolean;
  /** The next N pushes get the lock 409 while no deployment record exists (another push still uploading). */
  stagingLock: number;
  counter: number;
}

export interface FakeKudu {
  state: FakeKuduState;
  url: string;
  host: string;
  close(): Promise<void>;
  /** Start a deployment by someone else that holds the lock for `polls` polls. */
  startOther(polls: number): KuduDeployment;
  /** Called on each ARM settings write: Kudu sees the new settings after `lagReads` reads. */
  armWrote(settings: Record<string, string>, lagReads: number): void;
}

export async function startFakeKudu(initial: Partial<FakeKuduState> = {}): Promise<FakeKudu> {
  const state: FakeKuduState = {
    scmSettings: {},
    settingsUnavailable: 0,
    deployments: [],
    pollsToFinish: 2,
    failNext: false,
    packageName: null,
    wwwrootStamp: null,
    failureMarker: false,
    nextStamp: null,
    pushes: [],
    requests: [],
    acceptAuth: ['Bearer arm-token'],
    blocked: false,
    stagingLock: 0,
    instant: false,
    counter: 0,
    ...initial,
  };
  let pending: { settings: Record<string, string>; reads: number } | null = null;
  const running = new Map<string, { left: number; fail: boolean; stamp: string | null }>();

  const stampName = () => {
    state.counter++;
    return `2025010100${String(state.counter).padStart(4, '0')}.zip`;
  };

  function advance(d: KuduDeployment): void {
    const r = running.get(d.id);
    if (!r) return;
    r.left--;
    if (r.left <= 0) {
      d.complete = true;
      d.end_time = new Date().toISOString();
      running.delete(d.id);
      if (r.fail) {
        d.status = 3;
        d.status_text = 'Deployment failed';
      } else {
        d.status = 4;
        state.packageName = stampName();
        state.wwwrootStamp = r.stamp;
        const after = state.afterSuccess;
        state.afterSuccess = undefined;
        after?.();
      }
    } else {
      d.status = 1;
      d.progress = 'Building';
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const p = decodeURIComponent(url.pathname);
      state.requests.push({ method: req.method ?? '', path: req.url ?? '', auth: req.headers.authorization });
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        res.writeHead(status, {
          'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json',
          ...headers,
        });
        res.end(text);
      };
      if (state.blocked) {
        res.writeHead(403, { 'Content-Type': 'text/html' });
        return res.end('<html><body><h1>Error 403 - Forbidden</h1>Ip Forbidden</body></html>');
      }
      if (!state.acceptAuth.includes(req.headers.authorization ?? '')) return send(401, '');
      if (p === '/api/settings') {
        if (state.settingsUnavailable > 0) {
          state.settingsUnavailable--;
          return send(503, 'Service Unavailable');
        }
        if (pending) {
          pending.reads--;
          if (pending.reads < 0) {
            state.scmSettings = pending.settings;
            pending = null;
          }
        }
        return send(200, state.scmSettings);
      }
      if (p === '/api/publish' && req.method === 'POST') {
        const setting = state.scmSettings.WEBSITE_RUN_FROM_PACKAGE;
        if (setting && /^http/i.test(setting))
          return send(
            409,
            'Run-From-Zip is set to a remote URL using WEBSITE_USE_ZIP app setting. Deployment is not supported in this configuration.',
          );
        if (state.stagingLock > 0) {
          state.stagingLock--;
          return send(
            409,
            "The 'Preparing zip package' operation conflicts with the pending 'Deployment' operation started at 2025-01-01T00:00:00Z.  Please retry operation later.",
          );
        }
        if ([...running.keys()].length > 0)
          return send(
            409,
            'There is a deployment currently in progress. Please try again when it completes.',
          );
        state.pushes.push({ bytes: Buffer.concat(chunks).length, query: url.search, sawSetting: setting });
        const id = `dep${state.deployments.length + 1}`;
        const d: KuduDeployment = {
          id,
          status: 0,
          complete: false,
          progress: '',
          deployer: url.searchParams.get('deployer') ?? 'ZipDeploy',
          message: url.searchParams.get('message') ?? 'Created via a push deployment',
          received_time: new Date().toISOString(),
        };
        state.deployments.push(d);
        running.set(id, {
          left: state.instant ? 1 : state.pollsToFinish,
          fail: state.failNext,
          stamp: state.nextStamp,
        });
        state.failNext = false;
        if (state.instant) advance(d);
        return send(202, '', {
          Location: `${base}/api/deployments/latest?deployer=runpack&time=x`,
          'Retry-After': '30',
        });
      }
      if (p === '/api/deployments') return send(200, [...state.deployments].reverse());
      if (p === '/api/deployments/latest') {
        const d = state.deployments[state.deployments.length - 1];
        if (!d) return send(404, { Message: "Deployment 'latest' not found." });
        if (!d.complete) advance(d);
        return send(d.complete ? 200 : 202, d);
      }
      let m = /^\/api\/deployments\/([^/]+)\/log$/.exec(p);
      if (m) {
        const d = state.deployments.find((x) => x.id === m![1]);
        if (!d) return send(404, { Message: 'not found' });
        return send(200, [
          { log_time: '2025-01-01T00:00:00Z', id: 'a', message: 'Received deployment', type: 0 },
          ...(d.status === 3
            ? [
                {
                  log_time: '2025-01-01T00:00:01Z',
                  id: 'b',
                  message: 'Error: End of Central Directory record could not be found.',
                  type: 2,
                },
              ]
            : []),
        ]);
      }
      m = /^\/api\/deployments\/([^/]+)$/.exec(p);
      if (m) {
        const d = state.deployments.find((x) => x.id === m![1]);
        if (!d) return send(404, { Message: `Deployment '${m[1]}' not found.` });
        if (!d.complete) advance(d);
        return send(200, d);
      }
      if (p === '/api/vfs/data/SitePackages/packagename.txt') {
        return state.packageName ? send(200, state.packageName) : send(404, { Message: 'not found' });
      }
      if (p === '/api/vfs/site/wwwroot/.runpack/release.json') {
        return state.wwwrootStamp !== null
          ? send(200, state.wwwrootStamp)
          : send(404, { Message: 'not found' });
      }
      if (p === '/api/vfs/site/wwwroot/FAILED TO INITIALIZE RUN FROM PACKAGE.txt') {
        return state.failureMarker
          ? send(200, 'Run From Package Initialization failed.')
          : send(404, { Message: 'nf' });
      }
      send(404, { Message: `'${p}' not found.` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  return {
    state,
    url: base,
    host: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    startOther(polls) {
      const d: KuduDeployment = {
        id: `other${state.deployments.length + 1}`,
        status: 1,
        complete: false,
        deployer: 'GITHUB_ZIP_DEPLOY',
        author: 'someone',
        received_time: '2025-01-01T00:00:00Z',
      };
      state.deployments.push(d);
      running.set(d.id, { left: polls, fail: false, stamp: '{"runpack":1,"contentSha256":"other"}' });
      return d;
    },
    armWrote(settings, lagReads) {
      pending = { settings: { ...settings }, reads: lagReads };
    },
  };
}

/** The real HTTP client, reaching `https://` hosts of the fake over plain loopback HTTP. */
export function loopbackHttp(): HttpClient {
  const real = createHttpClient({ sleep: async () => undefined });
  return {
    request: (o) => real.request({ ...o, url: o.url.replace(/^https:\/\/127\.0\.0\.1/, 'http://127.0.0.1') }),
  };
}

export function stampText(sha: string): string {
  return JSON.stringify({ runpack: 1, contentSha256: sha });
}

// Every test file that uses makePackage removes the packages it made.
const packageDirs: string[] = [];
afterAll(() => {
  for (const dir of packageDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function makePackage(sha = 'a'.repeat(64), functions: string[] = []): PackageInfo {
  const dir = mkdtempSync(join(tmpdir(), 'runpack-local-'));
  packageDirs.push(dir);
  const zipPath = join(dir, 'app.zip');
  const bytes = Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(100, 1)]);
  writeFileSync(zipPath, bytes);
  return {
    zipPath,
    sha256: 'f'.repeat(64),
    zipBytes: bytes.length,
    files: 2,
    bytes: 100,
    stamp: { runpack: 1, contentSha256: sha },
    inspect: {
      ok: true,
      runtime: 'node',
      entryPoint: 'server.js',
      files: 2,
      bytes: 100,
      problems: [],
      functions,
    },
    functions,
    releaseId: 'ffffffffffff',
  };
}

export interface ArmFake {
  /** App settings per site key (`prod` or the slot name). */
  settings: Record<string, Record<string, string>>;
  slotConfigNames: SlotConfigNames;
  basicAllowed: boolean;
  publishing: { userName: string; password: string; scmUri: string };
  functions: Record<string, string[]>;
  /** syncfunctiontriggers answers 400 this many more times. */
  syncBadRequests: number;
  calls: string[];
  onSettingsWrite?: (key: string, settings: Record<string, string>) => void;
  swaps: { from: string; to: string }[];
  sites: Record<string, { defaultHostName: string; scmHost: string }>;
}

const key = (ref: SiteRef) => ref.slot ?? 'prod';

function response(status: number, body = ''): HttpResponse {
  const buf = Buffer.from(body);
  return { status, headers: {}, body: buf, text: () => body, json: <T>() => JSON.parse(body || 'null') as T };
}

export function fakeArm(fake: ArmFake): ArmClient {
  const no = (what: string) => async () => {
    throw new Error(`unexpected ARM call ${what}`);
  };
  return {
    endpoint: 'https://arm.example',
    getSite: async (ref) => {
      fake.calls.push(`getSite ${key(ref)}`);
      const s = fake.sites[key(ref)];
      return {
        id: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/${ref.appName}${ref.slot ? `/slots/${ref.slot}` : ''}`,
        name: ref.appName,
        kind: 'app',
        properties: {
          defaultHostName: s?.defaultHostName,
          hostNameSslStates: s ? [{ name: s.scmHost, hostType: 'Repository' }] : [],
        },
      };
    },
    getSiteConfig: no('getSiteConfig'),
    listAppSettings: async (ref) => {
      fake.calls.push(`listAppSettings ${key(ref)}`);
      return { ...(fake.settings[key(ref)] ?? {}) };
    },
    putAppSettings: async (ref, s) => {
      fake.calls.push(`putAppSettings ${key(ref)}`);
      fake.settings[key(ref)] = { ...s };
      fake.onSettingsWrite?.(key(ref), s);
      return s;
    },
    restart: async (ref) => {
      fake.calls.push(`restart ${key(ref)}`);
    },
    getSlotConfigNames: async () => {
      fake.calls.push('getSlotConfigNames');
      return fake.slotConfigNames;
    },
    putSlotConfigNames: no('putSlotConfigNames'),
    listConnectionStrings: no('listConnectionStrings'),
    putConnectionStrings: no('putConnectionStrings'),
    patchSiteConfig: no('patchSiteConfig'),
    listPublishingCredentials: async (ref) => {
      fake.calls.push(`listPublishingCredentials ${key(ref)}`);
      return fake.publishing;
    },
    getBasicAuthAllowed: async () => {
      fake.calls.push('getBasicAuthAllowed');
      return fake.basicAllowed;
    },
    setBasicAuthAllowed: no('setBasicAuthAllowed'),
    listFunctions: async (ref) => {
      fake.calls.push(`listFunctions ${key(ref)}`);
      return fake.functions[key(ref)] ?? [];
    },
    syncFunctionTriggers: async (ref) => {
      fake.calls.push(`syncFunctionTriggers ${key(ref)}`);
      if (fake.syncBadRequests > 0) {
        fake.syncBadRequests--;
        return response(400, '{"Code":"BadRequest","Message":"Host is not running"}');
      }
      return response(200);
    },
    swapSlot: async (ref, to) => {
      fake.calls.push(`swapSlot ${key(ref)}->${to}`);
      fake.swaps.push({ from: key(ref), to });
      const other = to === 'production' ? 'prod' : to;
      const mine = key(ref);
      // Non-sticky settings travel with the content; sticky ones stay.
      const sticky = new Set(fake.slotConfigNames.appSettingNames);
      const a = fake.settings[mine] ?? {};
      const b = fake.settings[other] ?? {};
      const na: Record<string, string> = {};
      const nb: Record<string, string> = {};
      for (const [k, v] of Object.entries(a)) (sticky.has(k) ? na : nb)[k] = v;
      for (const [k, v] of Object.entries(b)) (sticky.has(k) ? nb : na)[k] = v;
      fake.settings[mine] = na;
      fake.settings[other] = nb;
    },
    listSlots: async () => {
      fake.calls.push('listSlots');
      return Object.keys(fake.settings).filter((k) => k !== 'prod');
    },
    findSiteResourceGroup: no('findSiteResourceGroup'),
    listSubscriptions: no('listSubscriptions'),
    findStorageAccount: no('findStorageAccount'),
    listStorageAccountKeys: no('listStorageAccountKeys'),
    listRoleAssignments: no('listRoleAssignments'),
  };
}

export function newArmFake(partial: Partial<ArmFake> = {}): ArmFake {
  return {
    settings: { prod: {} },
    slotConfigNames: { appSettingNames: [], connectionStringNames: [], azureStorageConfigNames: [] },
    basicAllowed: true,
    publishing: { userName: '$app', password: 'publish-pw-123', scmUri: '' },
    functions: {},
    syncBadRequests: 0,
    calls: [],
    swaps: [],
    sites: {},
    ...partial,
  };
}

export function makeTarget(partial: Partial<TargetInfo> = {}, slot: string | null = null): TargetInfo {
  return {
    ref: { subscriptionId: 's', resourceGroup: 'rg', appName: 'app', slot },
    id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app',
    kind: 'app',
    isLinux: false,
    isFunctionApp: false,
    isFlex: false,
    isConsumption: false,
    sku: 'Standard',
    state: 'Running',
    location: 'westeurope',
    defaultHostName: 'app.example',
    scmHostName: null,
    appUrl: 'https://app.example',
    linuxFxVersion: '',
    identity: { systemPrincipalId: null, userAssigned: [] },
    ...partial,
  };
}

export function makeInputs(partial: Partial<DeployInputs> = {}): DeployInputs {
  return {
    appName: 'app',
    package: 'dist',
    runtime: 'auto',
    mode: 'local',
    container: 'runpack',
    packageAccess: 'auto',
    sasExpiryDays: 365,
    restart: true,
    onFailure: 'rollback',
    rollbackSettings: false,
    timeoutMinutes: 10,
    force: false,
    remoteBuild: false,
    resourceManagerEndpoint: 'https://arm.example',
    exclude: [],
    stamp: true,
    ...partial,
  };
}

export interface TestContext extends DeployContext {
  lines: string[];
  slept: number[];
}

export function makeContext(options: {
  arm: ArmClient;
  armFake: ArmFake;
  target: TargetInfo;
  inputs?: Partial<DeployInputs>;
  http?: HttpClient;
}): TestContext {
  const sink = memorySink();
  const secrets = createSecretRegistry();
  const log = createLogger(sink, secrets);
  let offset = 0;
  const slept: number[] = [];
  const clock = {
    now: () => Date.now() + offset,
    sleep: async (ms: number) => {
      slept.push(ms);
      offset += ms;
    },
  };
  const k = options.target.ref.slot ?? 'prod';
  const deadline = Date.now() + 10 * 60_000;
  const ctx: TestContext = {
    inputs: makeInputs({ appName: options.target.ref.appName, ...(options.inputs ?? {}) }),
    target: options.target,
    http: options.http ?? loopbackHttp(),
    arm: options.arm,
    log,
    secrets,
    clock,
    settings: {
      read: async () => ({ ...(options.armFake.settings[k] ?? {}) }),
      update: async (changes) => {
        const before = { ...(options.armFake.settings[k] ?? {}) };
        const after = { ...before };
        for (const [name, v] of Object.entries(changes)) {
          if (v === null) delete after[name];
          else after[name] = v;
        }
        const changed = JSON.stringify(before) !== JSON.stringify(after);
        if (changed) await options.arm.putAppSettings(options.target.ref, after);
        return { changed, before, after };
      },
    },
    armAuthorization: async () => 'Bearer arm-token',
    deadline,
    phaseDeadline: (ms: number) => Math.min(clock.now() + ms, deadline),
    lines: sink.lines,
    slept,
  };
  return ctx;
}
