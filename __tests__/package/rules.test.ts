import { describe, expect, it } from '@jest/globals';
import {
  checkRuntime,
  detectRuntime,
  makeTree,
  normalizeRef,
  parseStartScript,
} from '../../src/package/rules.js';

const tree = (files: Record<string, string>) =>
  makeTree(Object.keys(files), async (p) => (p in files ? Buffer.from(files[p]) : null));

describe('parseStartScript', () => {
  it.each([
    ['node server.js', 'server.js'],
    ['node ./dist/main.js --port 8080', './dist/main.js'],
    ['NODE_ENV=production node --enable-source-maps -r dotenv/config dist/index.js', 'dist/index.js'],
    ['cross-env PORT=80 node bin/www', 'bin/www'],
    ['npm run build && node out/app.mjs', 'out/app.mjs'],
    ['node --import ./register.js "src/server.js"', 'src/server.js'],
    ['next start', null],
    ['node -e "require(\'x\')"', null],
    ['pm2-runtime start ecosystem.config.js', null],
  ])('%s → %s', (script, target) => {
    expect(parseStartScript(script)).toBe(target);
  });
});

describe('normalizeRef', () => {
  it('resolves ./, .., backslashes and refuses to climb out', () => {
    expect(normalizeRef('./a/b.js')).toBe('a/b.js');
    expect(normalizeRef('..\\bin\\Fn.dll', 'Ping')).toBe('bin/Fn.dll');
    expect(normalizeRef('../../x', 'Ping')).toBeNull();
  });
});

describe('detectRuntime', () => {
  it.each([
    [{ 'host.json': '{}', 'package.json': '{}' }, 'functions'],
    [{ 'App.runtimeconfig.json': '{}', 'App.dll': '', 'wwwroot/index.html': '' }, 'dotnet'],
    [{ 'package.json': '{}', 'public/index.html': '' }, 'node'],
    [{ 'server.js': '' }, 'node'],
    [{ 'app.jar': '' }, 'java'],
    [{ 'ROOT.war': '' }, 'java'],
    [{ 'application.py': '' }, 'python'],
    [{ 'manage.py': '', 'site/wsgi.py': '' }, 'python'],
    [{ 'index.php': '' }, 'php'],
    [{ 'INDEX.HTML': '' }, 'static'],
    [{ 'web.config': '', 'bin/Site.dll': '' }, 'dotnet'],
    [{ 'Api.sln': '' }, 'dotnet'],
    [{ 'build.gradle': '' }, 'java'],
    [{ 'tsconfig.json': '', 'src/a.ts': '' }, 'node'],
    [{ 'app.py': '', 'package.json': '{}', 'static/site.css': '' }, 'python'],
    [{ 'index.php': '', 'package.json': '{}' }, 'php'],
    [{ 'requirements.txt': '', 'package.json': '{}' }, 'node'],
    [{ 'readme.md': '' }, 'unknown'],
  ])('%j → %s', (files, runtime) => {
    expect(detectRuntime(tree(files))).toBe(runtime);
  });
});

describe('checkRuntime', () => {
  it('an unparseable start script is trusted as npm start', async () => {
    const r = await checkRuntime(
      tree({ 'package.json': JSON.stringify({ scripts: { start: 'next start' } }) }),
    );
    expect(r).toMatchObject({ runtime: 'node', entryPoint: 'npm start (next start)', problems: [] });
  });

  it('`node .` starts the package main, else index.js', async () => {
    const withMain = await checkRuntime(
      tree({
        'package.json': JSON.stringify({ main: 'lib/app.js', scripts: { start: 'node .' } }),
        'lib/app.js': '',
      }),
    );
    expect(withMain.entryPoint).toBe('lib/app.js');
    const plain = await checkRuntime(
      tree({ 'package.json': JSON.stringify({ scripts: { start: 'node ./' } }) }),
    );
    expect(plain.problems[0].message).toMatch(/'index\.js'/);
  });

  it('invalid package.json is entry-point-missing naming the parse error', async () => {
    const r = await checkRuntime(tree({ 'package.json': '{ main: ' }));
    expect(r.problems).toEqual([
      expect.objectContaining({ code: 'entry-point-missing', path: 'package.json' }),
    ]);
    expect(r.problems[0].message).toMatch(/not valid JSON/);
  });

  it('the start script runs a .ts file that is not compiled: source-not-build', async () => {
    const r = await checkRuntime(
      tree({
        'package.json': JSON.stringify({ scripts: { start: 'node dist/index.js' } }),
        'src/index.ts': '',
      }),
    );
    expect(r.problems.map((p) => p.code)).toEqual(['source-not-build']);
  });

  it('Django: wsgi.py next to manage.py is the entry point', async () => {
    const r = await checkRuntime(tree({ 'manage.py': '', 'shop/wsgi.py': '', 'shop/settings.py': '' }));
    expect(r.entryPoint).toBe('shop/wsgi.py');
  });

  it('a forced runtime is checked even when the files say otherwise', async () => {
    const r = await checkRuntime(tree({ 'index.html': '' }), 'node');
    expect(r.runtime).toBe('node');
    expect(r.problems.map((p) => p.code)).toEqual(['entry-point-missing']);
  });

  it('functions: a glob main with no match and TypeScript sources is source-not-build', async () => {
    const r = await checkRuntime(
      tree({
        'host.json': '{}',
        'package.json': JSON.stringify({ main: 'dist/src/{index.js,functions/*.js}' }),
        'tsconfig.json': '{}',
        'src/functions/a.ts': '',
      }),
    );
    expect(r.problems.map((p) => p.code)).toEqual(['source-not-build']);
    const built = await checkRuntime(
      tree({
        'host.json': '{}',
        'package.json': JSON.stringify({ main: 'dist/src/{index.js,functions/*.js}' }),
        'dist/src/functions/a.js': '',
      }),
    );
    expect(built).toMatchObject({ entryPoint: 'dist/src/functions/a.js', problems: [] });
  });

  it('functions: host.json with nothing to run is entry-point-missing', async () => {
    const r = await checkRuntime(tree({ 'host.json': '{}', 'local.settings.json': '{}' }));
    expect(r.problems.map((p) => p.code)).toEqual(['entry-point-missing']);
  });
});
