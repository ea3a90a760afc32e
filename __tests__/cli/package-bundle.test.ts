import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { codeText, noise, tempDir, unzipTest, writeTree } from '../helpers/pack-tree.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

describe('runpack package from a single-file bundle', () => {
  it('starts its compression workers from inline source, so the bundled CLI packages like the sources do', async () => {
    // dist/cli.js is one file made by rollup; a worker file next to it would not exist. Bundle the same way into a
    // temp folder (no other files beside it) and package a tree with large and small files.
    const base = tempDir('runpack-bundle-');
    roots.push(base);
    const cli = path.join(base, 'cli.mjs');
    await build({
      entryPoints: [path.join(repo, 'src/cli.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: cli,
      logLevel: 'error',
      banner: {
        js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
      },
    });
    const src = path.join(base, 'publish');
    writeTree(src, { 'a.js': codeText(3 << 20), 'b.bin': noise(5000), 'c/d.txt': 'd' });
    const out = path.join(base, 'app.zip');
    const r = spawnSync(process.execPath, [cli, 'package', src, '-o', out, '--json'], {
      cwd: base,
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).files).toBe(4);
    expect(unzipTest(out).status).toBe(0);
  });
});
