/**
 * A recording stand-in for the site worker (model.ts SiteWorkerApi), for tests of the Resource Manager side:
 * counts restarts/stops/starts, and lets a test hold the worker in 'starting' or choose its function list.
 */
import type { EmulatorContext, MountInfo, Site, SiteWorkerApi } from '../../src/model.js';

export interface FakeWorker extends SiteWorkerApi {
  site: Site;
  calls: string[];
  /** Home directory the worker saw at each restart (a swap must change it). */
  homeDirsAtRestart: string[];
  functions: string[];
  /** While true, restart() leaves the worker in 'starting' until release() is called. */
  hold: boolean;
  release(): void;
}

export function fakeWorkerFactory() {
  const workers = new Map<string, FakeWorker>();
  const create = (_ctx: EmulatorContext, site: Site): SiteWorkerApi => {
    let st: ReturnType<SiteWorkerApi['state']> = site.state === 'Running' ? 'running' : 'stopped';
    let releaseFn: (() => void) | null = null;
    let startedAt: string | null = null;
    const w: FakeWorker = {
      site,
      calls: [],
      homeDirsAtRestart: [],
      functions: [],
      hold: false,
      release() {
        const r = releaseFn;
        releaseFn = null;
        r?.();
      },
      async restart() {
        w.calls.push('restart');
        w.homeDirsAtRestart.push(site.homeDir);
        st = 'starting';
        if (w.hold) await new Promise<void>((r) => (releaseFn = r));
        startedAt = new Date().toISOString();
        st = 'running';
      },
      async stop() {
        w.calls.push('stop');
        st = 'stopped';
      },
      async start() {
        w.calls.push('start');
        st = 'running';
      },
      handle: async (_req, res) => {
        res.writeHead(st === 'running' ? 200 : 503, { 'Content-Type': 'text/plain' });
        res.end(`fake site ${site.id} ${st}`);
      },
      dispose: async () => undefined,
      state: () => st,
      mounted: (): MountInfo => ({
        mode: 'none',
        source: null,
        sha256: null,
        dir: null,
        error: null,
        functions: [...w.functions],
        startedAt,
      }),
    };
    workers.set(`${site.appName}${site.slotName ? `/${site.slotName}` : ''}`, w);
    return w;
  };
  return { create, workers };
}
