/**
 * The Azure DevOps extension as users install it: `npm run package-extension` builds the .vsix with tfx-cli; the
 * archive (opened with adm-zip, an independent reader) carries a manifest with the extension's identity and the
 * task contribution, and the task folder as built; the task extracted from it runs on its own (no node_modules),
 * as the agent runs it, against the emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import AdmZip from 'adm-zip';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, setupE2E, type E2E } from '../e2e/helpers/action.js';
import { runTask } from './helpers.js';

let out: string;
let vsix: AdmZip;
let e: E2E;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'runpack-vsix-'));
  execFileSync('npm', ['run', '--silent', 'package-extension', '--', '--output-path', out], {
    cwd: REPO_ROOT,
    stdio: 'pipe',
  });
  const files = readdirSync(out).filter((f) => f.endsWith('.vsix'));
  expect(files).toEqual(['runpack.runpack-0.1.0.vsix']);
  vsix = new AdmZip(join(out, files[0]));
  e = await setupE2E();
}, 120_000);
afterAll(async () => {
  await e?.stop();
  rmSync(out, { recursive: true, force: true });
});

describe('the .vsix', () => {
  it('has a manifest with the identity of vss-extension.json and the task contribution', () => {
    const manifest = vsix.readAsText('extension.vsixmanifest');
    const ext = JSON.parse(readFileSync(join(REPO_ROOT, 'extension', 'vss-extension.json'), 'utf8')) as {
      id: string;
      publisher: string;
      version: string;
    };
    const identity = /<Identity\s([^>]*)\/>/.exec(manifest)?.[1] ?? '';
    const attrs = Object.fromEntries([...identity.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    expect(attrs).toMatchObject({ Id: ext.id, Publisher: ext.publisher, Version: ext.version });
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(ext.version).toBe(pkg.version);
    const contributions = JSON.parse(vsix.readAsText('extension.vsomanifest')) as {
      contributions: { type: string; properties: { name: string } }[];
    };
    expect(contributions.contributions).toEqual([
      expect.objectContaining({
        type: 'ms.vss-distributed-task.task',
        properties: { name: 'RunpackDeploy' },
      }),
    ]);
  });

  it('carries the task folder exactly as built', () => {
    for (const f of ['task.json', 'index.js', 'package.json']) {
      const inside = vsix.getEntry(`RunpackDeploy/${f}`);
      expect(inside).toBeTruthy();
      expect(inside!.getData().equals(readFileSync(join(REPO_ROOT, 'extension', 'RunpackDeploy', f)))).toBe(
        true,
      );
    }
  });

  it('runs on its own once extracted, as the agent runs it', async () => {
    const dir = join(out, 'installed');
    vsix.extractAllTo(dir, true);
    const r = await runTask(
      e.emu,
      e.work,
      { appName: 'rp-linux-web', storageAccount: e.emu.storage.accountName, package: e.app('vsix') },
      { taskPath: join(dir, 'RunpackDeploy', 'index.js') },
    );
    expect(r.result?.result).toMatch(/^Succeeded/);
    expect(r.outputs.verified).toBe('true');
  });
});
