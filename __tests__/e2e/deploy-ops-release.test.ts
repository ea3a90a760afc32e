/**
 * Release operations on a deploy, end to end through the built action and the emulator: a dry run makes only
 * reads and changes nothing; keep-releases prunes old release blobs after a verified deploy, never the live one;
 * the audit input annotates writes into the read-only mount and, when strict, stops before any upload.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fetchSite, type E2E, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

/** The POSTs that only read: settings, keys and publishing credentials lists. */
const READ_POST = /\/config\/appsettings\/list|\/listKeys|\/publishingcredentials\/list/i;

describe('dry-run', () => {
  it('prints the plan and makes only reads: the app keeps running the live release', async () => {
    const live = await e.run({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('d1'),
    });
    expect(live.code).toBe(0);
    const settingBefore = e.emu.admin.site('rp-linux-web').appSettings.WEBSITE_RUN_FROM_PACKAGE;

    e.emu.admin.clearRequests();
    const r = await e.run({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('d2'),
      'dry-run': 'true',
      'swap-to': '',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Dry run for rp-linux-web: nothing is written\./);
    expect(r.stdout).toMatch(
      /Would upload release [0-9a-f]{12} \(\d+ bytes\) to .*\/app-packages\/releases\/rp-linux-web\//,
    );
    expect(r.stdout).toMatch(/Would restart the app/);
    expect(r.summary).toContain('Plan (dry run: nothing written)');
    expect(r.outputs.verified).toBe('false');
    expect(r.outputs['release-id']).not.toBe(live.outputs['release-id']);

    const platform = e.requests().filter((q) => q.service !== 'entra' && q.service !== 'oidc');
    expect(platform.length).toBeGreaterThan(0);
    const writes = platform.filter(
      (q) => !(q.method === 'GET' || q.method === 'HEAD' || (q.method === 'POST' && READ_POST.test(q.path))),
    );
    expect(writes).toEqual([]);
    expect(e.emu.admin.site('rp-linux-web').appSettings.WEBSITE_RUN_FROM_PACKAGE).toBe(settingBefore);
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version d1');
  });
});

describe('dry-run with SAS access', () => {
  it('plans the stored access policy and the setting with the signature redacted, and writes nothing', async () => {
    e.emu.admin.clearRequests();
    const r = await e.run({
      'app-name': 'rp-win-web',
      'storage-account': e.emu.storage.accountName,
      'package-access': 'sas',
      mode: 'url',
      package: e.app('d3'),
      'dry-run': 'true',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /(Would (create|renew) stored access policy runpack-rp-win-web|Stored access policy runpack-rp-win-web: kept)/,
    );
    expect(r.stdout).toMatch(
      /Would set WEBSITE_RUN_FROM_PACKAGE: .* → https:\/\/\S+\/rp-win-web\.zip\?si=runpack-rp-win-web&sr=b&sig=(REDACTED|\*\*\*)/,
    );
    const writes = e
      .requests()
      .filter((q) => q.service !== 'entra' && q.service !== 'oidc')
      .filter(
        (q) =>
          !(q.method === 'GET' || q.method === 'HEAD' || (q.method === 'POST' && READ_POST.test(q.path))),
      );
    expect(writes).toEqual([]);
  });
});

describe('keep-releases', () => {
  it('deletes release blobs beyond the newest N after a verified deploy, never the live one', async () => {
    const ids: string[] = [];
    for (const v of ['k1', 'k2']) {
      const r = await e.run({
        'app-name': 'rp-linux-web',
        'storage-account': e.emu.storage.accountName,
        package: e.app(v),
        'keep-releases': '0',
      });
      expect(r.code).toBe(0);
      expect(r.outputs.deleted).toBe('');
      ids.push(r.outputs['release-id']);
    }
    const r = await e.run({
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      package: e.app('k3'),
      'keep-releases': '1',
    });
    expect(r.code).toBe(0);
    expect(r.outputs.verified).toBe('true');
    const deleted = r.outputs.deleted.split(',').filter(Boolean);
    // k1 and k2 were older than the newest one (k3, live); anything older from earlier tests may go too.
    expect(deleted).toEqual(expect.arrayContaining(ids));
    expect(deleted).not.toContain(r.outputs['release-id']);
    expect(r.summary).toMatch(/### Retention[\s\S]*Deleted \d+ old release\(s\): .*`/);
    expect((await fetchSite(e.emu, 'rp-linux-web', '/')).body).toContain('version k3');

    // The deleted releases are gone from the releases list; the live one is there.
    const list = await e.run({
      command: 'releases',
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
    });
    expect(list.code).toBe(0);
    const listed = list.outputs.releases.split(',');
    expect(listed).toContain(r.outputs['release-id']);
    for (const id of ids) expect(listed).not.toContain(id);
  });
});

describe('keep-releases with command: releases', () => {
  it('lists without deleting, and plans the prune when keep-releases is given', async () => {
    for (const v of ['r1', 'r2']) {
      const d = await e.run({
        'app-name': 'rp-linux-web',
        'storage-account': e.emu.storage.accountName,
        package: e.app(v),
        'keep-releases': '0',
      });
      expect(d.code).toBe(0);
    }
    const listOnly = await e.run({
      command: 'releases',
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
    });
    expect(listOnly.code).toBe(0);
    expect(listOnly.outputs.deleted ?? '').toBe('');
    expect(listOnly.outputs.releases.split(',').length).toBeGreaterThanOrEqual(2);
    const planned = await e.run({
      command: 'releases',
      'app-name': 'rp-linux-web',
      'storage-account': e.emu.storage.accountName,
      'keep-releases': '1',
      'dry-run': 'true',
    });
    expect(planned.code).toBe(0);
    expect(planned.outputs.deleted.split(',').filter(Boolean).length).toBeGreaterThanOrEqual(1);
  });
});

describe('audit input', () => {
  function sourceWithWrite(version: string): { cwd: string; source: string; pkg: string } {
    const pkg = e.app(version);
    writeFileSync(
      join(pkg, 'cache.js'),
      "const fs = require('fs');\nconst path = require('path');\nfs.writeFileSync(path.join(__dirname, 'cache.json'), '{}');\n",
    );
    const cwd = dirname(pkg);
    mkdirSync(cwd, { recursive: true });
    return { cwd, source: pkg.slice(cwd.length + 1), pkg };
  }

  it('annotates each finding as a warning on its file and line, with a summary table, and deploys', async () => {
    const s = sourceWithWrite('a1');
    const r = await e.run(
      {
        'app-name': 'rp-linux-web',
        'storage-account': e.emu.storage.accountName,
        package: s.pkg,
        audit: 'true',
        source: s.source,
      },
      { cwd: s.cwd },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^::warning .*file=${s.source}/cache\\.js,line=3,.*::`, 'm'));
    expect(r.summary).toMatch(/### Audit of `/);
    expect(r.summary).toContain(`| ${s.source}/cache.js | 3 | \`write-under-app-root\` | error |`);
  });

  it('audit: strict fails on an error finding before anything is uploaded', async () => {
    const s = sourceWithWrite('a2');
    e.emu.admin.clearRequests();
    const r = await e.run(
      {
        'app-name': 'rp-linux-web',
        'storage-account': e.emu.storage.accountName,
        package: s.pkg,
        audit: 'strict',
        source: s.source,
      },
      { cwd: s.cwd },
    );
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^::error .*file=${s.source}/cache\\.js,line=3,.*::`, 'm'));
    expect(r.stdout).toMatch(/::error::The audit found 1 write\(s\) into the read-only package mount/);
    expect(e.requests().filter((q) => q.method === 'PUT')).toEqual([]);
  });
});
