/**
 * A minimal EmulatorContext for testing Kudu, the worker and the blob fetch without the whole emulator:
 * plain HTTP servers around createKudu / worker.handle, a fake token verifier and a fake HTTPS blob server.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import AdmZip from 'adm-zip';
import type { EmulatorContext, Faults, Site, StorageAccount, TokenClaims } from '../../src/model.js';
import { createKudu, type KuduOptions } from '../../src/kudu.js';
import { createWorker, type SiteWorker, type WorkerOptions } from '../../src/worker.js';

export interface TestContext extends EmulatorContext {
  cleanup(): Promise<void>;
}

/** Fake bearer tokens: `test.<base64url JSON claims>`; anything else is invalid. */
export function fakeToken(claims: Partial<TokenClaims>): string {
  const now = Math.floor(Date.now() / 1000);
  const full = {
    iss: 'https://sts.windows.net/t/',
    tid: 't',
    oid: 'o',
    appid: 'a',
    iat: now,
    nbf: now,
    exp: now + 3600,
    ...claims,
  };
  return `test.${Buffer.from(JSON.stringify(full)).toString('base64url')}`;
}

export function createTestContext(): TestContext {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'runpack-kudu-test-'));
  let offset = 0;
  const workers = new Map();
  const ctx: TestContext = {
    clock: { now: () => new Date(Date.now() + offset), advance: (ms) => void (offset += ms) },
    tenantId: 't',
    subscriptionId: 's',
    resourceGroup: 'runpack-rg',
    sites: new Map(),
    storageAccounts: new Map(),
    components: new Map(),
    faults: new Map<string, Faults>(),
    requestLog: [],
    log(entry) {
      this.requestLog.push({ time: new Date().toISOString(), ...entry });
    },
    verifyToken(token) {
      if (!token.startsWith('test.')) return null;
      try {
        const claims = JSON.parse(Buffer.from(token.slice(5), 'base64url').toString('utf8')) as TokenClaims;
        return claims.exp * 1000 > ctx.clock.now().getTime() ? claims : null;
      } catch {
        return null;
      }
    },
    issueManagedIdentityToken: (principalId, resource) =>
      `mi.${principalId}.${Buffer.from(resource).toString('base64url')}`,
    azurite: { blobEndpoint: '', accountName: 'runpackstore', accountKey: '' },
    caCertPem: '',
    stateDir,
    workers,
    async cleanup() {
      for (const w of workers.values()) await (w as SiteWorker).dispose();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return ctx;
}

export function addSite(ctx: EmulatorContext, over: Partial<Site> & { appName: string }): Site {
  const name = over.slotName ? `${over.appName}__${over.slotName}` : over.appName;
  const homeDir = path.join(ctx.stateDir, 'sites', name);
  mkdirSync(path.join(homeDir, 'data', 'SitePackages'), { recursive: true });
  mkdirSync(path.join(homeDir, 'site', 'wwwroot'), { recursive: true });
  const hex = randomBytes(3).toString('hex');
  const site: Site = {
    id: `/subscriptions/s/resourceGroups/runpack-rg/providers/Microsoft.Web/sites/${over.appName}`,
    slotName: null,
    kind: 'app,linux',
    location: 'westeurope',
    reserved: true,
    functionAppConfig: null,
    instanceCount: 1,
    sku: 'Standard',
    stack: 'static',
    linuxFxVersion: '',
    state: 'Running',
    identity: {
      systemAssigned: { principalId: `p-${over.appName}`, clientId: `c-${over.appName}` },
      userAssigned: {},
    },
    appSettings: {},
    scmSettings: {},
    connectionStrings: {},
    appCommandLine: '',
    slotConfigNames: { appSettingNames: [], connectionStringNames: [], azureStorageConfigNames: [] },
    basicAuthAllowed: { scm: true, ftp: true },
    publishingUserName: `$${over.appName}`,
    publishingPassword: randomBytes(12).toString('base64url'),
    defaultHostName: `${over.appName}.azurewebsites.emulator.test`,
    scmHostName: `${over.appName}-${hex}.scm.westeurope-01.azurewebsites.emulator.test`,
    homeDir,
    deployments: [],
    triggerSyncs: [],
    ...over,
  };
  ctx.sites.set(site.id.toLowerCase(), site);
  return site;
}

/** Set app settings the way ARM does with no lag: both what the worker and what Kudu see. */
export function setSettings(site: Site, settings: Record<string, string>): void {
  site.appSettings = { ...settings };
  site.scmSettings = { ...settings };
}

export interface SiteServers {
  worker: SiteWorker;
  scmUrl: string;
  siteUrl: string;
  /** Basic auth header for the site's publishing credentials. */
  basic: string;
  close(): Promise<void>;
}

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function serveSite(
  ctx: EmulatorContext,
  site: Site,
  opts: { kudu?: KuduOptions; worker?: WorkerOptions } = {},
): Promise<SiteServers> {
  const worker = createWorker(ctx, site, { warmupMs: 30, ...opts.worker });
  ctx.workers.set(site.id.toLowerCase(), worker);
  const kudu = createKudu(ctx, site, { stepMs: 20, ...opts.kudu });
  const wrap =
    (h: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>): http.RequestListener =>
    (req, res) => {
      h(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(err));
      });
    };
  const scm = await listen(wrap(kudu));
  const web = await listen(wrap(worker.handle));
  await worker.start();
  return {
    worker,
    scmUrl: scm.url,
    siteUrl: web.url,
    basic: `Basic ${Buffer.from(`${site.publishingUserName}:${site.publishingPassword}`).toString('base64')}`,
    async close() {
      scm.server.closeAllConnections();
      web.server.closeAllConnections();
      await new Promise((r) => scm.server.close(r));
      await new Promise((r) => web.server.close(r));
    },
  };
}

/** Build a zip in memory from `{ path: content }`. */
export function makeZip(files: Record<string, string | Buffer>): Buffer {
  const z = new AdmZip();
  for (const [name, content] of Object.entries(files)) {
    if (name.endsWith('/')) z.addFile(name, Buffer.alloc(0));
    else z.addFile(name, typeof content === 'string' ? Buffer.from(content) : content);
  }
  return z.toBuffer();
}

/** Wait until `check` returns a value that is not undefined (polling every 20 ms, up to `ms`). */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  ms = 10000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A throwaway CA and a server certificate for 127.0.0.1 and localhost (openssl CLI). */
export function makeTestCerts(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=test-ca',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'srv.key',
    '-out',
    'srv.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run([
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  return {
    ca: readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    cert: readFileSync(path.join(dir, 'srv.pem'), 'utf8'),
    key: readFileSync(path.join(dir, 'srv.key'), 'utf8'),
  };
}

/**
 * A fake blob service over HTTPS, path style `/<account>/<container>/<blob>`. A request with `sig` must have
 * `se` after the context clock (else 403 AuthenticationFailed); a Bearer `mi.<principal>.…` token is accepted;
 * anything else gets 404 ResourceNotFound (private container).
 */
export async function startFakeBlobs(
  ctx: EmulatorContext,
  accountName = 'runpackstore',
): Promise<{
  endpoint: string;
  account: StorageAccount;
  blobs: Map<string, Buffer>;
  requests: string[];
  close(): Promise<void>;
}> {
  const certs = makeTestCerts(ctx.stateDir);
  ctx.caCertPem = certs.ca;
  const blobs = new Map<string, Buffer>();
  const requests: string[] = [];
  const xmlError = (
    res: http.ServerResponse,
    status: number,
    code: string,
    message: string,
    detail?: string,
  ): void => {
    const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\nRequestId:1\nTime:x</Message>${detail ? `<AuthenticationErrorDetail>${detail}</AuthenticationErrorDetail>` : ''}</Error>`;
    res.writeHead(status, { 'x-ms-error-code': code, 'content-type': 'application/xml' }).end(body);
  };
  const server = https.createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
    const u = new URL(req.url ?? '/', 'https://x');
    requests.push(`${req.headers.authorization ? 'bearer ' : ''}${u.pathname}`);
    const sig = u.searchParams.get('sig');
    const auth = req.headers.authorization ?? '';
    if (sig) {
      const se = u.searchParams.get('se');
      if (se && new Date(se).getTime() < ctx.clock.now().getTime()) {
        return xmlError(
          res,
          403,
          'AuthenticationFailed',
          'Server failed to authenticate the request.',
          `Signature not valid in the specified time frame: Start [] - Expiry [${new Date(se).toUTCString()}] - Current [${ctx.clock.now().toUTCString()}]`,
        );
      }
    } else if (!auth.startsWith('Bearer mi.')) {
      return xmlError(res, 404, 'ResourceNotFound', 'The specified resource does not exist.');
    }
    const blob = blobs.get(u.pathname);
    if (!blob) return xmlError(res, 404, 'BlobNotFound', 'The specified blob does not exist.');
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      etag: '"0x1"',
      'content-length': blob.length,
    });
    res.end(blob);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}/${accountName}/`;
  const account: StorageAccount = {
    id: `/subscriptions/s/resourceGroups/runpack-rg/providers/Microsoft.Storage/storageAccounts/${accountName}`,
    name: accountName,
    blobEndpoint: endpoint,
    keys: [],
    allowSharedKeyAccess: true,
    allowBlobPublicAccess: false,
    networkDefaultAction: 'Allow',
    blobReaders: [],
    blobWriters: [],
  };
  ctx.storageAccounts.set(account.id.toLowerCase(), account);
  return {
    endpoint,
    account,
    blobs,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
