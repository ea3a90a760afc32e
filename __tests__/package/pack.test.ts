import { afterAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { hashFile, pack } from '../../src/package/zip-writer.js';
import { computeContentSha256, parseStamp } from '../../src/package/stamp.js';
import { STAMP_PATH } from '../../src/package/types.js';
import { RunpackError } from '../../src/util/errors.js';
import {
  admEntries,
  codeText,
  noise,
  readTree,
  tempDir,
  unzipTest,
  writeTree,
  zipinfoLines,
  zipinfoVerbose,
  zipNames,
} from '../helpers/pack-tree.js';

const roots: string[] = [];
function fresh(): string {
  const d = tempDir();
  roots.push(d);
  return d;
}
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

async function packErr(p: Promise<unknown>): Promise<RunpackError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RunpackError);
    expect((err as Error).message).not.toContain('\n');
    return err as RunpackError;
  }
  throw new Error('expected pack to fail');
}

describe('pack: archive layout', () => {
  it('puts the contents of the folder at the archive root and every byte matches the source', async () => {
    const base = fresh();
    const src = path.join(base, 'publish');
    writeTree(src, {
      'server.js': codeText(5000),
      'package.json': '{"name":"app","main":"server.js"}\n',
      'lib/util.js': codeText(20000, 7),
      'public/logo.png': noise(3000, 3),
      'assets/big.js': codeText(3 << 20, 9), // several 1 MiB pieces compressed in parallel
      'assets/blob.dat': noise((2 << 20) + 123, 5), // incompressible, several pieces
      'empty.txt': '',
      'emptydir/': '',
    });
    const out = path.join(base, 'app.zip');
    const r = await pack({ sourceDir: src, outFile: out });

    const t = unzipTest(out);
    expect(t.status).toBe(0);
    expect(t.output).toContain('No errors detected');
    const names = zipNames(out);
    expect(names.some((n) => n.startsWith('publish'))).toBe(false);
    expect(names).toContain('server.js');
    expect(names).toContain('emptydir/');

    const entries = admEntries(out);
    const source = readTree(src);
    for (const [rel, bytes] of source) expect(entries.get(rel)?.data.equals(bytes)).toBe(true);
    const files = [...entries.values()].filter((e) => !e.isDirectory);
    expect(files.length).toBe(source.size + 1); // + the stamp
    expect(r.files).toBe(source.size + 1);
    expect(r.zipBytes).toBe(fs.statSync(out).size);
    expect(r.sha256).toBe(createHash('sha256').update(fs.readFileSync(out)).digest('hex'));
    expect(await hashFile(out)).toEqual({ sha256: r.sha256, bytes: r.zipBytes });
    // Compressible text is deflated, media and noise are stored.
    const lines = zipinfoLines(out);
    expect(lines.find((l) => l.endsWith(' assets/big.js'))).toMatch(/ defN /);
    expect(lines.find((l) => l.endsWith(' public/logo.png'))).toMatch(/ stor /);
    expect(lines.find((l) => l.endsWith(' assets/blob.dat'))).toMatch(/ stor /);
    expect(fs.readdirSync(base).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('writes entries in sorted order while the walk streams them, with the stamp merged in at its place', async () => {
    // Names around the stamp's folder ('.runpack/') and around '/' (0x2F): '.', '-' and '0' sort on either side.
    const names = [
      '.a.txt',
      '.runpack-x/f.txt',
      '.runpack/release.json',
      '.runpack/notes.txt',
      '.s/x/y.txt',
      '-x.txt',
      'a0',
      'a.b/c.txt',
      'a/b.txt',
      'a/b/c.txt',
      'a/b0.txt',
      'a/b-c/d.txt',
      'deep/1/2/3/4/5/6/7.txt',
      'deep/1/2/3/4/5/6.txt',
      'Z/é/ｚ.txt',
      'Z/\u{1F600}/a.txt',
    ];
    for (const stamp of [true, false]) {
      const base = fresh();
      const src = path.join(base, 'src');
      writeTree(src, Object.fromEntries(names.map((n, i) => [n, `content ${i}`])));
      const out = path.join(base, 'o.zip');
      await pack({ sourceDir: src, outFile: out, stamp });
      const listed = zipNames(out);
      // The order is the sorted order of the whole list of names (folders with their '/'), byte for byte.
      const expected = [...listed].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect(listed).toEqual(expected);
      expect(listed).toContain('.runpack/notes.txt');
      expect(listed.filter((n) => n === STAMP_PATH)).toHaveLength(1);
      expect(listed.filter((n) => n === '.runpack/')).toHaveLength(1);
      expect(unzipTest(out).status).toBe(0);
      // With the stamp, the tree's own release.json is replaced by a fresh stamp; without, it is packaged as is.
      const inZip = execFileSync('unzip', ['-p', out, STAMP_PATH]);
      if (stamp) expect(parseStamp(inZip.toString())?.contentSha256).toMatch(/^[0-9a-f]{64}$/);
      else expect(inZip.toString()).toBe('content 2');
    }
    // Without a '.runpack' folder in the tree, the stamp's folder is added at its place.
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { '.a': '1', '.z/y': '2', a: '3' });
    await pack({ sourceDir: src, outFile: path.join(base, 'o.zip') });
    expect(zipNames(path.join(base, 'o.zip'))).toEqual(['.a', '.runpack/', STAMP_PATH, '.z/', '.z/y', 'a']);
  });

  it('sorts entries by UTF-8 bytes, including non-ASCII names, with folders as name/', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    // UTF-16 order would put '\u{1F600}' (surrogates D83D...) before 'ｚ' (FF5A); UTF-8 puts F0... after EF...
    writeTree(src, {
      'b.txt': 'b',
      'B.txt': 'B',
      'a-b.txt': '1',
      'a/x.txt': '2',
      'a.txt': '3',
      'é.txt': '4',
      'ｚ.txt': '5',
      '\u{1F600}.txt': '6',
      'z.txt': '7',
    });
    const out = path.join(base, 'o.zip');
    await pack({ sourceDir: src, outFile: out, stamp: false });
    expect(zipNames(out)).toEqual([
      'B.txt',
      'a-b.txt',
      'a.txt',
      'a/',
      'a/x.txt',
      'b.txt',
      'z.txt',
      'é.txt',
      'ｚ.txt',
      '\u{1F600}.txt',
    ]);
    // Bit 11 (UTF-8 names) is set in every central directory record, so readers decode the names as UTF-8.
    const buf = fs.readFileSync(out);
    let records = 0;
    for (
      let i = buf.indexOf('PK\x01\x02', 0, 'latin1');
      i >= 0;
      i = buf.indexOf('PK\x01\x02', i + 4, 'latin1')
    ) {
      expect(buf.readUInt16LE(i + 8) & 0x0800).toBe(0x0800);
      records++;
    }
    expect(records).toBe(10);
    const adm = admEntries(out);
    expect(adm.get('\u{1F600}.txt')?.data.toString()).toBe('6');
  });

  it('normalizes modes: 0644 files, 0755 executables and folders, Unix as the made-by host', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, {
      'run.sh': '#!/bin/sh\necho hi\n',
      'data.json': '{}',
      'secret.txt': 'x',
      'bin/tool': 'elf',
    });
    fs.chmodSync(path.join(src, 'run.sh'), 0o700);
    fs.chmodSync(path.join(src, 'secret.txt'), 0o600);
    fs.chmodSync(path.join(src, 'data.json'), 0o666);
    fs.chmodSync(path.join(src, 'bin/tool'), 0o751);
    fs.chmodSync(path.join(src, 'bin'), 0o700);
    const out = path.join(base, 'o.zip');
    await pack({ sourceDir: src, outFile: out });
    const lines = new Map(zipinfoLines(out).map((l) => [l.split(/\s+/).pop()!, l]));
    expect(lines.get('run.sh')).toMatch(/^-rwxr-xr-x .* unx /);
    expect(lines.get('secret.txt')).toMatch(/^-rw-r--r-- /);
    expect(lines.get('data.json')).toMatch(/^-rw-r--r-- /);
    expect(lines.get('bin/tool')).toMatch(/^-rwxr-xr-x /);
    expect(lines.get('bin/')).toMatch(/^drwxr-xr-x /);
    expect(lines.get(STAMP_PATH)).toMatch(/^-rw-r--r-- /);
    const adm = admEntries(out);
    expect(adm.get('run.sh')!.mode).toBe(0o100755);
    expect(adm.get('secret.txt')!.mode).toBe(0o100644);
    expect(adm.get('bin/')!.mode).toBe(0o040755);
  });

  it('uses a fixed timestamp, or SOURCE_DATE_EPOCH / the option, in DOS fields (UTC) and the UT extra field', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'a.txt': 'a' });
    fs.utimesSync(
      path.join(src, 'a.txt'),
      new Date('2021-05-06T07:08:09Z'),
      new Date('2021-05-06T07:08:09Z'),
    );

    const def = path.join(base, 'default.zip');
    await pack({ sourceDir: src, outFile: def });
    const v = zipinfoVerbose(def, 'a.txt', { TZ: 'UTC' });
    expect(v).toContain('file last modified on (DOS date/time):          2000 Jan 1 00:00:00');
    expect(v).toContain('2000 Jan 1 00:00:00 UTC');

    const epoch = Date.UTC(2024, 1, 29, 13, 45, 31) / 1000; // odd second: DOS keeps 2-second steps
    const opt = path.join(base, 'opt.zip');
    await pack({ sourceDir: src, outFile: opt, sourceDateEpoch: epoch });
    const vo = zipinfoVerbose(opt, 'a.txt', { TZ: 'UTC' });
    expect(vo).toContain('(DOS date/time):          2024 Feb 29 13:45:30');
    expect(vo).toContain('2024 Feb 29 13:45:31 UTC');

    const saved = process.env.SOURCE_DATE_EPOCH;
    process.env.SOURCE_DATE_EPOCH = String(epoch);
    try {
      const env = path.join(base, 'env.zip');
      await pack({ sourceDir: src, outFile: env });
      expect(fs.readFileSync(env).equals(fs.readFileSync(opt))).toBe(true);
      process.env.SOURCE_DATE_EPOCH = 'yesterday';
      const e = await packErr(pack({ sourceDir: src, outFile: path.join(base, 'bad.zip') }));
      expect(e.message).toContain("SOURCE_DATE_EPOCH='yesterday'");
    } finally {
      if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = saved;
    }
  });
});

describe('pack: what is left out', () => {
  it('never packages .git (at any depth) or the output zip, even when it sits inside the folder', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, {
      'index.js': 'x',
      '.git/HEAD': 'ref',
      'vendor/lib/.git': 'gitdir: ../x',
      '.gitignore': 'y',
    });
    const out = path.join(src, 'app.zip');
    await pack({ sourceDir: src, outFile: out });
    // A second run finds the first zip in the folder and must still leave it out.
    const r = await pack({ sourceDir: src, outFile: out });
    // A temp file a killed run left next to the output is not packaged either.
    fs.writeFileSync(path.join(src, '.app.zip.4242.0badf00d.tmp'), 'partial');
    await pack({ sourceDir: src, outFile: out });
    const names = zipNames(out);
    expect(names).toEqual(['.gitignore', '.runpack/', STAMP_PATH, 'index.js', 'vendor/', 'vendor/lib/']);
    expect(r.files).toBe(3);
  });

  it('applies exclude globs: *, **, ?, folder names, trailing /, anchored paths', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, {
      'app.js': '1',
      'app.js.map': '2',
      'lib/x.js': '3',
      'lib/x.js.map': '4',
      'lib/deep/y.js.map': '5',
      'tests/a.test.js': '6',
      'src/tests/keep.js': '7',
      'logs/': '',
      cache: 'a file named cache',
      'data/cache/c.bin': '8',
      'config.local.json': '9',
      'lib/config.local.json': '10',
      'v1.txt': '11',
      'v10.txt': '12',
      'docs/a/b/readme.md': '13',
      'docs/keep.txt': '14',
    });
    const out = path.join(base, 'o.zip');
    await pack({
      sourceDir: src,
      outFile: out,
      stamp: false,
      exclude: ['*.map', '/tests', 'logs', 'cache/', '/config.local.json', 'v?.txt', 'docs/**/*.md'],
    });
    const names = zipNames(out).filter((n) => !n.endsWith('/'));
    expect(names).toEqual([
      'app.js',
      'cache', // `cache/` matches folders only
      'docs/keep.txt',
      'lib/config.local.json', // anchored pattern only matches at the root
      'lib/x.js',
      'src/tests/keep.js', // `/tests` is anchored
      'v10.txt',
    ]);
    expect(zipNames(out)).not.toContain('logs/');
    expect(zipNames(out)).not.toContain('data/cache/');
  });
});

describe('pack: symlinks', () => {
  it('stores a link that resolves inside the folder as the file (or folder) it points to', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'real/config.json': '{"a":1}', 'run.sh': '#!/bin/sh' });
    fs.chmodSync(path.join(src, 'run.sh'), 0o755);
    fs.symlinkSync('real/config.json', path.join(src, 'config.json'));
    fs.symlinkSync('real', path.join(src, 'alias'));
    fs.symlinkSync('run.sh', path.join(src, 'start'));
    const out = path.join(base, 'o.zip');
    await pack({ sourceDir: src, outFile: out, stamp: false });
    const adm = admEntries(out);
    expect(adm.get('config.json')!.data.toString()).toBe('{"a":1}');
    expect(adm.get('config.json')!.mode).toBe(0o100644); // a regular file, not a link (0o120000)
    expect(adm.get('alias/config.json')!.data.toString()).toBe('{"a":1}');
    expect(adm.get('start')!.mode).toBe(0o100755);
    expect(unzipTest(out).status).toBe(0);
  });

  it('fails naming a link that points outside the folder', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'a.txt': 'a', 'lib/x.js': 'x' });
    writeTree(base, { 'outside.txt': 'secret' });
    fs.symlinkSync('../../outside.txt', path.join(src, 'lib/escape.txt'));
    const e = await packErr(pack({ sourceDir: src, outFile: path.join(base, 'o.zip') }));
    expect(e.code).toBe('package-symlink-escape');
    expect(e.message).toContain("'lib/escape.txt'");
    expect(fs.existsSync(path.join(base, 'o.zip'))).toBe(false);
    // Excluding the link makes the folder packageable.
    await pack({ sourceDir: src, outFile: path.join(base, 'o.zip'), exclude: ['lib/escape.txt'] });
    expect(zipNames(path.join(base, 'o.zip'))).not.toContain('lib/escape.txt');
  });

  it('fails on link loops instead of hanging: a link to a parent folder and a cycle of links', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'a/b/file.txt': 'x' });
    fs.symlinkSync('..', path.join(src, 'a/b/up'));
    const e1 = await packErr(pack({ sourceDir: src, outFile: path.join(base, 'o.zip') }));
    expect(e1.code).toBe('package-symlink-loop');
    expect(e1.message).toContain("'a/b/up'");

    const src2 = path.join(base, 'src2');
    writeTree(src2, { 'ok.txt': 'x' });
    fs.symlinkSync('l2', path.join(src2, 'l1'));
    fs.symlinkSync('l1', path.join(src2, 'l2'));
    const e2 = await packErr(pack({ sourceDir: src2, outFile: path.join(base, 'o2.zip') }));
    expect(e2.code).toBe('package-symlink-loop');
    expect(e2.message).toMatch(/'l[12]'/);
  });

  it('fails naming a dangling link', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'a.txt': 'a' });
    fs.symlinkSync('missing.txt', path.join(src, 'gone'));
    const e = await packErr(pack({ sourceDir: src, outFile: path.join(base, 'o.zip') }));
    expect(e.code).toBe('package-symlink-dangling');
    expect(e.message).toContain("'gone'");
  });
});

describe('pack: bad input', () => {
  it('missing folder, a file instead of a folder, an empty folder', async () => {
    const base = fresh();
    const missing = await packErr(
      pack({ sourceDir: path.join(base, 'nope'), outFile: path.join(base, 'o.zip') }),
    );
    expect(missing.code).toBe('package-source-missing');
    expect(missing.message).toContain('nope');

    writeTree(base, { 'file.txt': 'x' });
    const notDir = await packErr(
      pack({ sourceDir: path.join(base, 'file.txt'), outFile: path.join(base, 'o.zip') }),
    );
    expect(notDir.code).toBe('package-source-not-folder');

    writeTree(base, { 'empty/sub/': '', 'onlymaps/a.map': 'x' });
    const empty = await packErr(
      pack({ sourceDir: path.join(base, 'empty'), outFile: path.join(base, 'o.zip') }),
    );
    expect(empty.code).toBe('package-empty');
    const excluded = await packErr(
      pack({ sourceDir: path.join(base, 'onlymaps'), outFile: path.join(base, 'o.zip'), exclude: ['*.map'] }),
    );
    expect(excluded.code).toBe('package-empty');
    expect(excluded.message).toContain('after excludes');
    expect(fs.existsSync(path.join(base, 'o.zip'))).toBe(false);
  });

  it('names a FIFO (a file that is not a regular file) and can exclude it', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'a.txt': 'a', 'run/': '' });
    execFileSync('mkfifo', [path.join(src, 'run/app.pipe')]);
    const e = await packErr(pack({ sourceDir: src, outFile: path.join(base, 'o.zip') }));
    expect(e.code).toBe('package-special-file');
    expect(e.message).toContain("'run/app.pipe'");
    await pack({ sourceDir: src, outFile: path.join(base, 'o.zip'), exclude: ['*.pipe'] });
  });

  it('names an unreadable file and leaves no zip behind', async () => {
    // Tests run as root, so chmod 000 does not stop reads. Instead the file is replaced, after the walk listed it,
    // by something the reader cannot open as a file (a folder), which fails the read the same way EACCES would.
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'a.txt': 'a', 'lib/secret.key': 'k', 'z.txt': 'z' });
    const out = path.join(base, 'o.zip');
    const e = await packErr(
      pack(
        { sourceDir: src, outFile: out },
        {
          afterWalk: () => {
            fs.rmSync(path.join(src, 'lib/secret.key'));
            fs.mkdirSync(path.join(src, 'lib/secret.key'));
          },
        },
      ),
    );
    expect(e.code).toBe('package-unreadable');
    expect(e.message).toContain("'lib/secret.key'");
    expect(e.message).toContain('EISDIR');
    expect(fs.readdirSync(base).sort()).toEqual(['src']);
  });

  it('reports a file that changes after the walk listed it instead of writing a wrong size or CRC', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'a.txt': 'aaaa' });
    const out = path.join(base, 'o.zip');
    let calls = 0;
    const e = await packErr(
      pack(
        { sourceDir: src, outFile: out },
        {
          afterWalk: () => {
            calls++;
            fs.writeFileSync(path.join(src, 'a.txt'), 'aaaaaaaa'); // grows after the walk took its size
          },
        },
      ),
    );
    expect(calls).toBe(1);
    expect(e.code).toBe('package-changed');
    expect(e.message).toContain("'a.txt'");
  });

  it('fails with one line when the output cannot be written (parent is a file, output is a folder)', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'a.txt': 'a' });
    writeTree(base, { afile: 'x' });
    const e = await packErr(pack({ sourceDir: src, outFile: path.join(base, 'afile', 'o.zip') }));
    expect(e.code).toBe('package-output-unwritable');
    expect(e.message).toContain(path.join(base, 'afile', 'o.zip'));
    const e2 = await packErr(pack({ sourceDir: src, outFile: src }));
    expect(e2.code).toBe('package-output-unwritable');
    expect(e2.message).toContain('is a folder');
  });

  it('replaces an existing zip only when the new one is complete', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'a.txt': 'a' });
    const out = path.join(base, 'o.zip');
    fs.writeFileSync(out, 'previous');
    fs.symlinkSync('/nonexistent/target', path.join(src, 'broken'));
    await packErr(pack({ sourceDir: src, outFile: out }));
    expect(fs.readFileSync(out, 'utf8')).toBe('previous');
    fs.rmSync(path.join(src, 'broken'));
    await pack({ sourceDir: src, outFile: out });
    expect(unzipTest(out).status).toBe(0);
  });
});

describe('pack: release stamp', () => {
  it('writes .runpack/release.json that anyone can recompute from the extracted files', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'index.js': codeText(4000), 'bin/cli': '#!/usr/bin/env node', 'é/ü.txt': 'ü' });
    fs.chmodSync(path.join(src, 'bin/cli'), 0o755);
    const out = path.join(base, 'o.zip');
    const r = await pack({ sourceDir: src, outFile: out });
    const adm = admEntries(out);
    const raw = adm.get(STAMP_PATH)!.data.toString('utf8');
    expect(raw).toBe(`{"runpack":1,"contentSha256":"${r.stamp!.contentSha256}"}`);
    expect(parseStamp(raw)).toEqual(r.stamp);
    const recomputed = computeContentSha256(
      [...adm.values()]
        .filter((e) => !e.isDirectory && e.name !== STAMP_PATH)
        .map((e) => ({
          path: e.name,
          mode: e.mode & 0o7777,
          size: e.data.length,
          sha256: createHash('sha256').update(e.data).digest('hex'),
        })),
    );
    expect(recomputed).toBe(r.stamp!.contentSha256);

    // Content, names and modes all feed the stamp.
    fs.writeFileSync(path.join(src, 'index.js'), codeText(4000) + ' ');
    const r2 = await pack({ sourceDir: src, outFile: out });
    expect(r2.stamp!.contentSha256).not.toBe(r.stamp!.contentSha256);
    fs.writeFileSync(path.join(src, 'index.js'), codeText(4000));
    fs.chmodSync(path.join(src, 'bin/cli'), 0o644);
    const r3 = await pack({ sourceDir: src, outFile: out });
    expect(r3.stamp!.contentSha256).not.toBe(r.stamp!.contentSha256);
  });

  it('leaves the stamp out with stamp: false, and replaces a stale stamp found in the folder', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'a.txt': 'a', [STAMP_PATH]: '{"runpack":1,"contentSha256":"old"}' });
    const out = path.join(base, 'o.zip');
    const off = await pack({ sourceDir: src, outFile: out, stamp: false });
    expect(off.stamp).toBeNull();
    expect(admEntries(out).get(STAMP_PATH)!.data.toString()).toContain('"old"');
    const on = await pack({ sourceDir: src, outFile: out });
    expect(admEntries(out).get(STAMP_PATH)!.data.toString()).toBe(
      `{"runpack":1,"contentSha256":"${on.stamp!.contentSha256}"}`,
    );
    expect(on.files).toBe(2);
  });
});

describe('pack: progress', () => {
  it('reports bytes read so far, ending with the total', async () => {
    const base = fresh();
    const src = path.join(base, 'src');
    writeTree(src, { 'big.js': codeText(20 << 20, 3), 'small.txt': 'x' });
    const calls: [number, number][] = [];
    await pack({
      sourceDir: src,
      outFile: path.join(base, 'o.zip'),
      onProgress: (d, t) => calls.push([d, t]),
    });
    const total = (20 << 20) + 1;
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.every(([, t]) => t === total)).toBe(true);
    expect(calls.at(-1)).toEqual([total, total]);
    for (let i = 1; i < calls.length; i++) expect(calls[i][0]).toBeGreaterThanOrEqual(calls[i - 1][0]);
  });
});

describe('hashFile', () => {
  it('streams sha256 and size, and names a missing file in one line', async () => {
    const base = fresh();
    const f = path.join(base, 'x.bin');
    const data = noise(3 << 20, 11);
    fs.writeFileSync(f, data);
    expect(await hashFile(f)).toEqual({
      sha256: createHash('sha256').update(data).digest('hex'),
      bytes: data.length,
    });
    const e = await packErr(hashFile(path.join(base, 'missing.zip')));
    expect(e.message).toContain('missing.zip');
  });
});
