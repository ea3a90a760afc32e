import { afterAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { inspect, inspectEntries, type EntryInfo } from '../../src/package/inspect.js';
import type { InspectReport, ProblemCode } from '../../src/package/types.js';
import {
  buildZip,
  removeTempDirs,
  tempDir,
  writeTree,
  writeZip,
  zipWithCommand,
  type FixtureEntry,
} from '../helpers/zip-fixtures.js';

afterAll(removeTempDirs);

type Files = Record<string, string | Buffer>;

/** Zip `files` with the independent builder (deflate for bigger files) and inspect the zip. */
async function inspectFiles(
  files: Files,
  options: Parameters<typeof inspect>[1] = {},
): Promise<InspectReport> {
  const entries: FixtureEntry[] = Object.entries(files).map(([name, data]) => ({
    name,
    data,
    method: typeof data === 'string' && data.length > 64 ? 8 : 0,
  }));
  return inspect(writeZip(buildZip(entries)), options);
}

const codes = (r: InspectReport): ProblemCode[] => r.problems.map((p) => p.code);
const problem = (r: InspectReport, code: ProblemCode) => r.problems.find((p) => p.code === code);
const json = (v: unknown): string => JSON.stringify(v);

describe('runtime detection and entry points', () => {
  it('node: the start script target', async () => {
    const r = await inspectFiles({
      'package.json': json({
        scripts: { start: 'NODE_ENV=production node --enable-source-maps dist/server.js' },
      }),
      'dist/server.js': 'x',
    });
    expect(r).toMatchObject({ ok: true, runtime: 'node', entryPoint: 'dist/server.js', problems: [] });
  });

  it('node: main, then server.js/app.js/index.js at the root', async () => {
    expect(
      (await inspectFiles({ 'package.json': json({ main: 'lib/main' }), 'lib/main.js': 'x' })).entryPoint,
    ).toBe('lib/main.js');
    expect((await inspectFiles({ 'app.js': 'x', 'views/a.html': 'x' })).entryPoint).toBe('app.js');
    expect((await inspectFiles({ 'package.json': json({ name: 'a' }), 'index.js': 'x' })).entryPoint).toBe(
      'index.js',
    );
  });

  it('node: a start script or main pointing at a missing file is entry-point-missing', async () => {
    const r = await inspectFiles({
      'package.json': json({ scripts: { start: 'node server.js' } }),
      'app.js': 'x',
    });
    expect(r.ok).toBe(false);
    expect(problem(r, 'entry-point-missing')?.message).toMatch(/server\.js/);
    const m = await inspectFiles({ 'package.json': json({ main: 'out/index.js' }), 'readme.md': 'x' });
    expect(codes(m)).toEqual(['entry-point-missing']);
  });

  it('node: TypeScript sources without the compiled main are source-not-build', async () => {
    const r = await inspectFiles({
      'package.json': json({ main: 'dist/index.js' }),
      'tsconfig.json': '{}',
      'src/index.ts': 'export {}',
    });
    expect(codes(r)).toEqual(['source-not-build']);
    expect(r.problems[0].message).toMatch(/dist\/index\.js/);
  });

  it('node: dependencies without node_modules is a dependencies-missing warning, not an error', async () => {
    const r = await inspectFiles({
      'package.json': json({ main: 'a.js', dependencies: { express: '^4' } }),
      'a.js': 'x',
    });
    expect(r.ok).toBe(true);
    expect(problem(r, 'dependencies-missing')).toMatchObject({ severity: 'warning' });
    const partial = await inspectFiles({
      'package.json': json({ main: 'a.js', dependencies: { express: '^4', left: '1' } }),
      'a.js': 'x',
      'node_modules/express/package.json': '{}',
    });
    expect(problem(partial, 'dependencies-missing')?.message).toMatch(/left/);
    const full = await inspectFiles({
      'package.json': json({ main: 'a.js', dependencies: { express: '^4' } }),
      'a.js': 'x',
      'node_modules/express/package.json': '{}',
    });
    expect(full.problems).toEqual([]);
  });

  it('dotnet: <name>.runtimeconfig.json with its dll; source trees are source-not-build', async () => {
    const ok = await inspectFiles({
      'Shop.runtimeconfig.json': '{}',
      'Shop.dll': 'MZ',
      'Shop.deps.json': '{}',
    });
    expect(ok).toMatchObject({ ok: true, runtime: 'dotnet', entryPoint: 'Shop.dll' });
    const noDll = await inspectFiles({ 'Shop.runtimeconfig.json': '{}' }, { runtime: 'dotnet' });
    expect(problem(noDll, 'entry-point-missing')?.message).toMatch(/Shop\.dll/);
    const src = await inspectFiles({ 'Shop.csproj': '<Project/>', 'Program.cs': 'class P {}' });
    expect(src.runtime).toBe('dotnet');
    expect(codes(src)).toEqual(['source-not-build']);
    expect(src.problems[0].message).toMatch(/dotnet publish/);
  });

  it('dotnet: web.config-only framework apps and aspNetCore web.config arguments', async () => {
    const fx = await inspectFiles({
      'Web.config': '<configuration/>',
      'bin/Site.dll': 'MZ',
      'Default.aspx': 'x',
    });
    expect(fx).toMatchObject({ ok: true, runtime: 'dotnet', entryPoint: 'Web.config' });
    const core = await inspectFiles(
      { 'web.config': '<aspNetCore processPath="dotnet" arguments=".\\Api.dll" />', 'Other.dll': 'MZ' },
      { runtime: 'dotnet' },
    );
    expect(problem(core, 'entry-point-missing')?.message).toMatch(/Api\.dll/);
  });

  it('python: app.py with runtime-unsupported and dependencies-missing warnings', async () => {
    const r = await inspectFiles({ 'app.py': 'app = 1', 'requirements.txt': 'flask' });
    expect(r).toMatchObject({ ok: true, runtime: 'python', entryPoint: 'app.py' });
    expect(r.problems.map((p) => [p.code, p.severity])).toEqual([
      ['runtime-unsupported', 'warning'],
      ['dependencies-missing', 'warning'],
    ]);
    const installed = await inspectFiles({
      'wsgi.py': 'x',
      'requirements.txt': 'flask',
      'antenv/lib/site-packages/flask/__init__.py': '',
    });
    expect(codes(installed)).toEqual(['runtime-unsupported']);
    const none = await inspectFiles({ 'requirements.txt': 'flask', 'lib/x.py': '' });
    expect(codes(none)).toContain('entry-point-missing');
  });

  it('java: a jar is the entry point, with runtime-unsupported; pom.xml without a jar is source-not-build', async () => {
    const r = await inspectFiles({ 'app.jar': 'PK' });
    expect(r).toMatchObject({ ok: true, runtime: 'java', entryPoint: 'app.jar' });
    expect(problem(r, 'runtime-unsupported')?.message).toMatch(/writable app directory/);
    const src = await inspectFiles({ 'pom.xml': '<project/>', 'src/main/java/App.java': 'class App {}' });
    expect(src.runtime).toBe('java');
    expect(codes(src)).toContain('source-not-build');
  });

  it('php and static: index.php and index.html at the root', async () => {
    expect(await inspectFiles({ 'index.php': '<?php' })).toMatchObject({
      ok: true,
      runtime: 'php',
      entryPoint: 'index.php',
    });
    expect(await inspectFiles({ 'index.html': '<h1>', 'css/a.css': '' })).toMatchObject({
      ok: true,
      runtime: 'static',
      entryPoint: 'index.html',
    });
    const laravel = await inspectFiles({
      'public/index.php': '<?php',
      'composer.json': json({ require: { 'laravel/framework': '^11' } }),
    });
    expect(laravel.runtime).toBe('php');
    expect(problem(laravel, 'entry-point-missing')?.message).toMatch(/public\//);
    expect(problem(laravel, 'dependencies-missing')?.severity).toBe('warning');
    const forced = await inspectFiles({ 'readme.txt': 'x', 'dist/index.html': 'x' }, { runtime: 'static' });
    expect(problem(forced, 'entry-point-missing')?.message).toMatch(/dist\//);
  });

  it('an unrecognisable package is entry-point-missing and asks for --runtime', async () => {
    const r = await inspectFiles({ 'notes.txt': 'x', 'data/a.csv': '1' });
    expect(r).toMatchObject({ ok: false, runtime: 'unknown', entryPoint: null });
    expect(problem(r, 'entry-point-missing')?.message).toMatch(/--runtime/);
  });
});

describe('function apps', () => {
  it('node v4 model: host.json and a package.json main glob that matches built files', async () => {
    const r = await inspectFiles({
      'host.json': json({ version: '2.0' }),
      'package.json': json({ main: 'dist/src/functions/*.js' }),
      'dist/src/functions/hello.js': 'x',
      'node_modules/@azure/functions/package.json': '{}',
    });
    expect(r).toMatchObject({
      ok: true,
      runtime: 'functions',
      entryPoint: 'dist/src/functions/hello.js',
      functions: [],
    });
  });

  it('function folders with function.json are listed; a missing scriptFile is reported', async () => {
    const r = await inspectFiles({
      'host.json': '{}',
      'HttpTrigger/function.json': json({ scriptFile: '../dist/HttpTrigger/index.js', bindings: [] }),
      'dist/HttpTrigger/index.js': 'x',
      'Timer/function.json': json({ scriptFile: '../dist/Timer/index.js' }),
    });
    expect(r.functions).toEqual(['HttpTrigger', 'Timer']);
    expect(problem(r, 'entry-point-missing')).toMatchObject({ path: 'Timer/function.json' });
    expect(r.problems[0].message).toMatch(/dist\/Timer\/index\.js/);
  });

  it('.NET isolated: worker.config.json with its dll, functions from functions.metadata', async () => {
    const r = await inspectFiles({
      'host.json': '{}',
      'worker.config.json': json({
        description: { defaultExecutablePath: 'dotnet', defaultWorkerPath: 'Fn.dll' },
      }),
      'Fn.dll': 'MZ',
      'functions.metadata': json([{ name: 'Ping' }, { name: 'Nightly' }]),
    });
    expect(r).toMatchObject({
      ok: true,
      runtime: 'functions',
      entryPoint: 'Fn.dll',
      functions: ['Nightly', 'Ping'],
    });
  });

  it('.NET in-process: bin/*.dll with function.json folders', async () => {
    const r = await inspectFiles({
      'host.json': '{}',
      'bin/Fn.dll': 'MZ',
      'Ping/function.json': json({ scriptFile: '../bin/Fn.dll', entryPoint: 'Fn.Ping.Run' }),
    });
    expect(r).toMatchObject({ ok: true, entryPoint: 'bin/Fn.dll', functions: ['Ping'] });
  });

  it('python: function_app.py without .python_packages is a dependencies-missing warning', async () => {
    const r = await inspectFiles({
      'host.json': '{}',
      'function_app.py': 'import azure.functions',
      'requirements.txt': 'azure-functions',
    });
    expect(r).toMatchObject({ ok: true, runtime: 'functions', entryPoint: 'function_app.py' });
    expect(problem(r, 'dependencies-missing')?.message).toMatch(/\.python_packages/);
    const ok = await inspectFiles({
      'host.json': '{}',
      'function_app.py': 'x',
      'requirements.txt': 'azure-functions',
      '.python_packages/lib/site-packages/azure/functions/__init__.py': '',
    });
    expect(ok.problems).toEqual([]);
  });

  it('functions-host-missing when a function app has no host.json at the root', async () => {
    const r = await inspectFiles(
      { 'package.json': json({ main: 'index.js' }), 'index.js': 'x' },
      { functionApp: true },
    );
    expect(r.runtime).toBe('functions');
    expect(codes(r)).toContain('functions-host-missing');
    const forced = await inspectFiles({ 'index.js': 'x' }, { runtime: 'functions' });
    expect(codes(forced)).toContain('functions-host-missing');
  });

  it('host.json with only C# sources is source-not-build', async () => {
    const r = await inspectFiles({ 'host.json': '{}', 'Fn.csproj': '<Project/>', 'Ping.cs': 'x' });
    expect(codes(r)).toEqual(['source-not-build']);
  });
});

describe('package shape', () => {
  it('nested-root names the folder to package instead', async () => {
    const r = await inspectFiles({
      'myapp/package.json': json({ main: 'server.js' }),
      'myapp/server.js': 'x',
    });
    expect(r.ok).toBe(false);
    const p = problem(r, 'nested-root')!;
    expect(p.path).toBe('myapp/');
    expect(p.message).toMatch(/contents of 'myapp\/'/);
    expect(p.message).toMatch(/myapp\/server\.js/);
    expect(r.entryPoint).toBeNull();
  });

  it('nested-root for a function app also says where host.json is', async () => {
    const r = await inspectFiles(
      { 'publish/host.json': '{}', 'publish/function_app.py': 'x' },
      { functionApp: true },
    );
    expect(codes(r)).toEqual(['nested-root', 'functions-host-missing']);
    expect(problem(r, 'functions-host-missing')?.message).toMatch(/publish\/host\.json/);
  });

  it('empty-package for a zip without files', async () => {
    const r = await inspect(writeZip(buildZip([{ name: 'empty/' }])));
    expect(codes(r)).toEqual(['empty-package']);
    expect((await inspect(writeZip(buildZip([])))).problems[0].code).toBe('empty-package');
  });

  it('too-large over 1 GiB uncompressed', async () => {
    const entries: EntryInfo[] = [
      { name: 'index.html', isDirectory: false, isSymlink: false, size: 10 },
      { name: 'a.bin', isDirectory: false, isSymlink: false, size: 700 * 1024 * 1024 },
      { name: 'b.bin', isDirectory: false, isSymlink: false, size: 400 * 1024 * 1024 },
    ];
    const r = await inspectEntries(entries, {}, async () => null);
    expect(r).toMatchObject({ ok: false, runtime: 'static', files: 3 });
    expect(problem(r, 'too-large')?.message).toMatch(/1 GiB/);
  });

  it('reads the release stamp', async () => {
    const r = await inspectFiles({
      'index.html': 'x',
      '.runpack/release.json': json({ runpack: 1, contentSha256: 'ab'.repeat(32) }),
    });
    expect(r.stamp).toEqual({ runpack: 1, contentSha256: 'ab'.repeat(32) });
    expect(r.files).toBe(2);
  });
});

describe('hostile archives', () => {
  it.each([
    ['../evil.js', /climbs out/],
    ['/etc/passwd', /absolute/],
    ['C:\\Windows\\x.dll', /backslash|drive/],
    ['C:/x.dll', /drive letter/],
    ['lib\\util.js', /backslash/],
    ['a/../../b.js', /climbs out/],
  ])('unsafe-path for %s', async (name, why) => {
    const r = await inspect(
      writeZip(
        buildZip([
          { name: 'index.html', data: 'x' },
          { name, data: 'x' },
        ]),
      ),
    );
    expect(r.ok).toBe(false);
    const p = problem(r, 'unsafe-path')!;
    expect(p.message).toMatch(why);
    expect(p.path).toBe(name);
  });

  it('unsafe-path for a name too long for a file system', async () => {
    const r = await inspect(
      writeZip(
        buildZip([
          { name: 'index.html', data: 'x' },
          { name: `${'a'.repeat(70_000 - 4)}.txt`.slice(0, 65_000), data: 'x' },
        ]),
      ),
    );
    expect(problem(r, 'unsafe-path')?.message).toMatch(/longer than/);
  });

  it('symlink: a link leaving the package is an error, one inside it a warning', async () => {
    const r = await inspect(
      writeZip(
        buildZip([
          { name: 'index.js', data: 'x' },
          { name: 'secrets', data: '/etc/shadow', unixMode: 0o120777 },
          { name: 'node_modules/.bin/tool', data: '../tool/cli.js', unixMode: 0o120777 },
        ]),
      ),
    );
    const links = r.problems.filter((p) => p.code === 'symlink');
    expect(links.map((p) => [p.path, p.severity])).toEqual([
      ['secrets', 'error'],
      ['node_modules/.bin/tool', 'warning'],
    ]);
  });

  it('symlink entries made by zip -y', async () => {
    const file = zipWithCommand({ 'index.js': 'x', 'up.js': 'link:../../outside.js' });
    const r = await inspect(file);
    expect(problem(r, 'symlink')).toMatchObject({ severity: 'error', path: 'up.js' });
  });

  it('duplicate-entry: the same name twice is an error, names differing in case a warning', async () => {
    const r = await inspect(
      writeZip(
        buildZip([
          { name: 'index.js', data: 'a' },
          { name: 'index.js', data: 'b' },
          { name: 'Readme.md', data: 'c' },
          { name: 'README.md', data: 'd' },
        ]),
      ),
    );
    const dups = r.problems.filter((p) => p.code === 'duplicate-entry');
    expect(dups.map((p) => [p.path, p.severity])).toEqual([
      ['index.js', 'error'],
      ['README.md', 'warning'],
    ]);
  });

  it('duplicate-entry: a path that is both a file and a folder', async () => {
    const r = await inspect(
      writeZip(
        buildZip([
          { name: 'index.html', data: 'x' },
          { name: 'lib', data: 'x' },
          { name: 'lib/a.js', data: 'x' },
        ]),
      ),
    );
    expect(problem(r, 'duplicate-entry')?.message).toMatch(/both a file and a folder/);
  });

  it('encrypted-entry', async () => {
    const r = await inspect(
      writeZip(
        buildZip([
          { name: 'index.html', data: 'x' },
          { name: 'key.pem', data: 'zz', flags: 1 },
        ]),
      ),
    );
    expect(problem(r, 'encrypted-entry')).toMatchObject({ severity: 'error', path: 'key.pem' });
  });

  it('corrupt-archive: not a zip, truncated, bad CRC, local/central mismatch', async () => {
    const dir = tempDir();
    const text = path.join(dir, 'notes.zip');
    writeFileSync(text, 'hello, I am not a zip at all');
    const a = await inspect(text);
    expect(a).toMatchObject({ ok: false, files: 0 });
    expect(codes(a)).toEqual(['corrupt-archive']);
    const tgz = path.join(dir, 'app.tar.gz');
    writeFileSync(tgz, zlib.gzipSync(Buffer.alloc(100)));
    expect(problem(await inspect(tgz), 'corrupt-archive')?.message).toMatch(/gzip/);

    const good = buildZip([{ name: 'index.html', data: '<p>'.repeat(100), method: 8 }]);
    expect(codes(await inspect(writeZip(good.subarray(0, good.length - 10))))).toEqual(['corrupt-archive']);

    const crc = await inspect(writeZip(buildZip([{ name: 'index.html', data: 'x', crc: 1 }])));
    expect(codes(crc)).toEqual(['corrupt-archive']);
    expect(crc.problems[0].message).toMatch(/CRC/);
    const unverified = await inspect(writeZip(buildZip([{ name: 'index.html', data: 'x', crc: 1 }])), {
      verifyData: false,
    });
    expect(unverified.ok).toBe(true);

    // Local headers are read with the data: verified by default, skipped (with the data) on request.
    const mismatched = writeZip(buildZip([{ name: 'index.html', data: 'x', localName: 'other.html' }]));
    expect(problem(await inspect(mismatched), 'corrupt-archive')?.message).toMatch(/local header/);
    expect((await inspect(mismatched, { verifyData: false })).ok).toBe(true);
  });

  it('corrupt-archive: data prepended to a zip', async () => {
    const zip = buildZip([{ name: 'index.html', data: 'x' }]);
    const r = await inspect(writeZip(Buffer.concat([Buffer.from('#!/bin/sh\nexit 0\n'), zip])));
    expect(codes(r)).toContain('corrupt-archive');
  });

  it('a bomb ratio is reported, not inflated', async () => {
    const r = await inspect(
      writeZip(
        buildZip([
          { name: 'index.html', data: 'x' },
          { name: 'bomb.bin', data: Buffer.alloc(2000), method: 8, uncompressedSize: 2 ** 31 },
        ]),
      ),
    );
    expect(codes(r).sort()).toEqual(['corrupt-archive', 'too-large']);
  });

  it('floods of bad entries are summarised', async () => {
    const entries: FixtureEntry[] = [{ name: 'index.html', data: 'x' }];
    for (let i = 0; i < 60; i++) entries.push({ name: `../x${i}`, data: 'x' });
    const r = await inspect(writeZip(buildZip(entries)));
    const unsafe = r.problems.filter((p) => p.code === 'unsafe-path');
    expect(unsafe).toHaveLength(21);
    expect(unsafe[20].message).toMatch(/40 more/);
  });
});

describe('folders', () => {
  it('apply the same rules as zips, leave out .git and report links', async () => {
    const dir = writeTree(tempDir(), {
      'package.json': json({ scripts: { start: 'node server.js' }, dependencies: { a: '1' } }),
      'server.js': 'x',
      '.git/HEAD': 'ref',
      logs: 'link:/var/log',
    });
    const r = await inspect(dir);
    expect(r).toMatchObject({ ok: false, runtime: 'node', entryPoint: 'server.js', files: 3 });
    expect(r.problems.map((p) => [p.code, p.severity])).toEqual([
      ['symlink', 'error'],
      ['dependencies-missing', 'warning'],
    ]);
  });

  it('follow links that stay inside the folder, as the packager does, and report dangling or looping ones', async () => {
    const dir = writeTree(tempDir(), {
      'index.html': 'x',
      'assets/logo.svg': '<svg/>',
      'logo.svg': 'link:assets/logo.svg',
      shared: 'link:assets',
      'gone.txt': 'link:missing.txt',
      'assets/loop': 'link:..',
    });
    const r = await inspect(dir);
    // index.html, assets/logo.svg, logo.svg, shared/logo.svg and the three bad links.
    expect(r.files).toBe(7);
    const links = r.problems.filter((p) => p.code === 'symlink');
    expect(links.map((p) => [p.path, p.severity])).toEqual([
      ['gone.txt', 'error'],
      ['assets/loop', 'error'],
      ['shared/loop', 'error'],
    ]);
    expect(links[0].message).toMatch(/dangles/);
  });

  it('a folder holding only a nested publish folder is nested-root', async () => {
    const dir = writeTree(tempDir(), {
      'bin/Release/net8.0/publish/App.dll': 'MZ',
      'bin/Release/net8.0/publish/App.runtimeconfig.json': '{}',
    });
    const r = await inspect(dir);
    expect(problem(r, 'nested-root')?.path).toBe('bin/');
  });

  it('a missing target is a usage error', async () => {
    await expect(inspect(path.join(tempDir(), 'nope.zip'))).rejects.toMatchObject({ code: 'usage' });
    await expect(inspect('https://acct.blob.core.windows.net/c/app.zip?sig=secret')).rejects.toThrow(
      /not a URL/,
    );
    await expect(inspect('https://acct.blob.core.windows.net/c/app.zip?sig=secret')).rejects.not.toThrow(
      /secret/,
    );
  });
});
