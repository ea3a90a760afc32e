/**
 * A site on several instances: each mounts on its own; the ARRAffinity cookie pins a request to one instance on
 * the site and on its SCM site (Kudu's VFS then shows that instance's wwwroot); a test can make one instance miss
 * restarts or fail its mount.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  addSite,
  createTestContext,
  makeZip,
  serveSite,
  setSettings,
  type TestContext,
} from './helpers/kudu-context.js';
import { sitePackagesDir } from '../src/mount.js';
import type { Site } from '../src/model.js';

let ctx: TestContext;
let site: Site;

beforeAll(async () => {
  ctx = createTestContext();
  site = addSite(ctx, { appName: 'multi', stack: 'static', instanceCount: 2 });
  setSettings(site, { WEBSITE_RUN_FROM_PACKAGE: '1' });
});

afterAll(async () => {
  await ctx.cleanup();
});

async function store(name: string, version: string): Promise<void> {
  const dir = sitePackagesDir(site);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, name), makeZip({ 'index.html': 'i', 'v.txt': version }));
  await fsp.writeFile(path.join(dir, 'packagename.txt'), name);
}

const pinned = (id: string) => ({ headers: { cookie: `ARRAffinity=${id}` } });

describe('a site on two instances', () => {
  it('starts every instance, pins by ARRAffinity on the site and on Kudu, and lets one instance miss a restart', async () => {
    await store('20250101000000.zip', 'one');
    const s = await serveSite(ctx, site);
    try {
      const ids = s.worker.instances().map((i) => i.id);
      expect(ids).toHaveLength(2);
      expect(ids.every((id) => /^[0-9a-f]{64}$/.test(id))).toBe(true);

      // Unpinned requests are spread, and each answer names the instance that served it.
      const served = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${s.siteUrl}/v.txt`);
        served.add(/ARRAffinity=([0-9a-f]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '');
      }
      expect([...served].sort()).toEqual([...ids].sort());

      s.worker.setInstanceFault(1, 'keep-mount');
      await store('20250101000001.zip', 'two');
      await s.worker.restart();
      expect(await (await fetch(`${s.siteUrl}/v.txt`, pinned(ids[0]))).text()).toBe('two');
      expect(await (await fetch(`${s.siteUrl}/v.txt`, pinned(ids[1]))).text()).toBe('one');

      const vfs = (id: string) =>
        fetch(`${s.scmUrl}/api/vfs/site/wwwroot/v.txt`, {
          headers: { authorization: s.basic, cookie: `ARRAffinity=${id}` },
        });
      const lagging = await vfs(ids[1]);
      expect(await lagging.text()).toBe('one');
      expect(lagging.headers.get('set-cookie')).toContain(`ARRAffinity=${ids[1]}`);
      expect(await (await vfs(ids[0])).text()).toBe('two');

      // A failed mount on one instance: that instance shows the marker and answers 503, the other serves.
      s.worker.setInstanceFault(1, 'fail-mount');
      await s.worker.restart();
      expect((await fetch(`${s.siteUrl}/v.txt`, pinned(ids[1]))).status).toBe(503);
      expect(await (await fetch(`${s.siteUrl}/v.txt`, pinned(ids[0]))).text()).toBe('two');
      const marker = await fetch(
        `${s.scmUrl}/api/vfs/site/wwwroot/FAILED%20TO%20INITIALIZE%20RUN%20FROM%20PACKAGE.txt`,
        { headers: { authorization: s.basic, cookie: `ARRAffinity=${ids[1]}` } },
      );
      expect(marker.status).toBe(200);

      s.worker.setInstanceFault(1, null);
      await s.worker.restart();
      expect(await (await fetch(`${s.siteUrl}/v.txt`, pinned(ids[1]))).text()).toBe('two');
      expect(() => s.worker.setInstanceFault(5, 'fail-mount')).toThrow(/no instance 5/);
    } finally {
      await s.close();
      await s.worker.dispose();
    }
  });
});
