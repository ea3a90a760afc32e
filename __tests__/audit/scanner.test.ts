import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  auditSource,
  auditText,
  formatAnnotations,
  formatFinding,
  formatText,
  summaryTable,
} from '../../src/audit/index.js';
import { UsageError } from '../../src/util/errors.js';

const BAD_JS = "const fs = require('fs');\nfs.writeFileSync(__dirname + '/x.json', '{}');\n";
const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'runpack-audit-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpRoot, 't-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

describe('auditSource walking', () => {
  it('skips dependency, build and VCS folders, test files and files over the size limit', async () => {
    const dir = tree({
      'app.js': BAD_JS,
      'node_modules/lib/index.js': BAD_JS,
      'bin/Debug/x.js': BAD_JS,
      'obj/x.js': BAD_JS,
      '.git/hooks/x.js': BAD_JS,
      'dist/x.js': BAD_JS,
      'build/x.js': BAD_JS,
      'vendor/x.js': BAD_JS,
      '.venv/lib/x.py': "open(__file__ + 'x', 'w')\n",
      '__pycache__/x.py': "open(__file__ + 'x', 'w')\n",
      'target/classes/X.java': 'class X { void f() throws Exception { new java.io.FileOutputStream("x"); } }',
      'app.test.js': BAD_JS,
      'big.js': BAD_JS + '// ' + 'x'.repeat(1024 * 1024) + '\n',
    });
    const report = await auditSource(dir);
    expect(report.findings.map((f) => f.file)).toEqual(['app.js']);
    expect(report.filesScanned).toBe(1);
  });

  it('limits the audit to one runtime with the runtime option', async () => {
    const dir = tree({
      'app.js': BAD_JS,
      'app.py': "import os\nopen(os.path.join(os.path.dirname(__file__), 'x'), 'w')\n",
      'logback.xml':
        '<configuration><appender class="ch.qos.logback.core.FileAppender"><file>logs/a.log</file></appender></configuration>',
    });
    const all = await auditSource(dir);
    expect(all.findings.map((f) => f.runtime).sort()).toEqual(['java', 'node', 'python']);
    const python = await auditSource(dir, { runtime: 'python' });
    expect(python.findings.map((f) => `${f.file}:${f.line}`)).toEqual(['app.py:2']);
  });

  it('rejects a missing folder or a file with a usage error that says what to pass', async () => {
    await expect(auditSource(path.join(tmpRoot, 'nope'))).rejects.toThrow(UsageError);
    await expect(auditSource(path.join(tmpRoot, 'nope'))).rejects.toThrow(/does not exist/);
    const dir = tree({ 'a.js': '' });
    await expect(auditSource(path.join(dir, 'a.js'))).rejects.toThrow(/is a file, not a folder/);
  });
});

describe('precision', () => {
  const js = (src: string) =>
    auditText('app.js', "const fs = require('fs');\nconst path = require('path');\n" + src);

  it('needs both a write and a root-anchored path', () => {
    expect(js("fs.readFileSync(path.join(__dirname, 'a'));")).toEqual([]);
    expect(js("fs.writeFileSync(path.join(require('os').tmpdir(), 'a'), 'x');")).toEqual([]);
    expect(js('fs.writeFileSync(somePath, "x");')).toEqual([]);
    expect(js("console.log(path.join(__dirname, 'a'));")).toEqual([]);
    expect(js("fs.writeFileSync(path.join(__dirname, 'a'), 'x');")).toHaveLength(1);
  });

  it('follows reassignment: a variable moved to temp is no longer reported', () => {
    const src =
      "let d = path.join(__dirname, 'c');\nfs.mkdirSync(d);\nd = require('os').tmpdir();\nfs.mkdirSync(d);\n";
    expect(js(src).map((f) => f.line)).toEqual([4]);
  });

  it('does not read code inside strings, template text, regular expressions or comments', () => {
    const src = [
      'const a = "fs.writeFileSync(__dirname)";',
      "const b = `fs.writeFileSync(${'__dirname'})`;",
      "const c = /fs.writeFileSync\\(__dirname/; const q = '\"';",
      '// fs.writeFileSync(__dirname)',
      '/* fs.writeFileSync(__dirname) */',
    ].join('\n');
    expect(js(src)).toEqual([]);
  });

  it('tracks TypeScript-annotated variables and ESM module paths', () => {
    const src = [
      "import { writeFile } from 'node:fs/promises';",
      'const here: string = path.dirname(fileURLToPath(import.meta.url));',
      "const out: string = path.join(here, 'out');",
      "await writeFile(path.join(out, 'x.json'), '{}');",
    ].join('\n');
    expect(auditText('a.ts', src).map((f) => `${f.line}:${f.rule}:${f.message}`)).toEqual([
      '4:write-under-app-root:writeFile writes to a path built from out (from import.meta.url)',
    ]);
  });

  it('does not report a conditional path or a write to an env-based folder', () => {
    expect(
      js("fs.writeFileSync(process.env.CACHE ? process.env.CACHE : path.join(__dirname, 'c'), 'x');"),
    ).toEqual([]);
    expect(js("fs.writeFileSync(path.join(process.env.HOME, 'c'), 'x');")).toEqual([]);
  });

  it('reports a data-protection default only when no PersistKeysTo target exists in the file', () => {
    expect(auditText('Startup.cs', 'services.AddDataProtection();')).toHaveLength(1);
    expect(
      auditText('Startup.cs', 'services.AddDataProtection().PersistKeysToAzureBlobStorage(uri, cred);'),
    ).toEqual([]);
    expect(auditText('Startup.cs', '// services.AddDataProtection();')).toEqual([]);
  });

  it('reads C# verbatim and interpolated strings and Python f-strings correctly', () => {
    expect(auditText('A.cs', 'File.WriteAllText(@"C:\\home\\data\\x.json", s);')).toEqual([]);
    expect(auditText('A.cs', 'File.WriteAllText(@"D:\\home\\site\\wwwroot\\x.json", s);')[0].rule).toBe(
      'write-under-app-root',
    );
    expect(auditText('A.cs', 'File.WriteAllText($"{AppContext.BaseDirectory}/x.json", s);')[0].rule).toBe(
      'write-under-app-root',
    );
    expect(auditText('a.py', "open(f'{os.environ[\"HOME\"]}/x', 'w')\n")).toEqual([]);
    expect(auditText('a.py', "open(f'{__file__}.lock', 'w')\n")[0].rule).toBe('write-under-app-root');
    expect(auditText('a.py', "open(f'{__file__}.lock')\n")).toEqual([]);
  });
});

describe('output helpers', () => {
  const findings = auditText('lib/cache.js', BAD_JS);

  it('formats a finding as file:line: rule — why. Fix: …', () => {
    expect(formatFinding(findings[0])).toMatch(
      /^lib\/cache\.js:2: write-under-app-root — fs\.writeFileSync writes to .+\. Fix: .+os\.tmpdir\(\)/,
    );
    expect(formatText({ root: '.', filesScanned: 3, findings })).toContain(
      '1 write under the app root in 1 file (3 files scanned).',
    );
    expect(formatText({ root: 'app', filesScanned: 3, findings }, { pathPrefix: './app/' })).toMatch(
      /^app\/lib\/cache\.js:2: /,
    );
    expect(formatText({ root: '.', filesScanned: 3, findings: [] })).toBe(
      'No writes under the app root found (3 files scanned).',
    );
  });

  it('turns findings into GitHub annotations on the right file and line', () => {
    const [a] = formatAnnotations(findings, { pathPrefix: './src/app/' });
    expect(a.level).toBe('error');
    expect(a.properties).toEqual({
      title: 'runpack audit: write-under-app-root',
      file: 'src/app/lib/cache.js',
      startLine: 2,
      startColumn: 1,
    });
    expect(a.message).toContain('Fix:');
    expect(formatAnnotations(findings)[0].properties.file).toBe('lib/cache.js');
  });

  it('builds a summary table with a header row and one row per finding', () => {
    const rows = summaryTable(findings);
    expect(rows).toHaveLength(2);
    expect(rows[0][0]).toEqual({ data: 'File', header: true });
    expect(rows[1].slice(0, 4)).toEqual(['lib/cache.js', '2', 'write-under-app-root', 'error']);
  });
});

describe('scopes', () => {
  const js = (src: string) =>
    auditText('app.js', "const fs = require('fs');\nconst path = require('path');\n" + src);

  it('a parameter shadows a root-anchored variable of the same name inside its function only', () => {
    const src = [
      "const file = path.join(__dirname, 'data.json');", // 3
      'function save(file, data) {', // 4
      '  fs.writeFileSync(file, data);', // 5: the caller's path, unknown
      '}', // 6
      "const put = (file) => { fs.writeFileSync(file, 'x'); };", // 7
      'class Store { write(file) { fs.writeFileSync(file, "x"); } }', // 8
      "fs.writeFileSync(file, '{}');", // 9: the module-level one again
    ].join('\n');
    expect(js(src).map((f) => f.line)).toEqual([9]);
  });

  it('does the same for C#, Java and Python parameters', () => {
    const cs = [
      'var dir = Path.Combine(AppContext.BaseDirectory, "x");',
      'void Save(string dir) { Directory.CreateDirectory(dir); }',
      'Directory.CreateDirectory(dir);',
    ].join('\n');
    expect(auditText('A.cs', cs).map((f) => f.line)).toEqual([3]);
    const java = [
      'class A {',
      '  File dir = new File(System.getProperty("user.dir"));',
      '  void save(File dir) throws IOException { dir.mkdirs(); }',
      '  void init() { dir.mkdirs(); }',
      '}',
    ].join('\n');
    expect(auditText('A.java', java).map((f) => f.line)).toEqual([4]);
    const py = ['import os', 'd = os.path.dirname(__file__)', 'def save(d):', "    open(d, 'w')"].join('\n');
    expect(auditText('a.py', py)).toEqual([]);
  });
});

describe('robustness', () => {
  it('never throws on malformed input: unterminated strings, comments, brackets and binary bytes', () => {
    const pieces = [
      'fs.writeFileSync(',
      '__dirname',
      "'",
      '"',
      '`',
      '${',
      '}',
      '(',
      ')',
      '/*',
      '//',
      '#',
      '\n',
    ];
    pieces.push(
      '@"',
      '$"',
      'f"',
      '"""',
      '/',
      '= ',
      'path.join(',
      ',',
      'open(',
      "'w'",
      'new File(',
      'def f(',
      '=>',
    );
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const names = ['a.js', 'A.cs', 'a.py', 'A.java', 'appsettings.json', 'nlog.config', 'x.properties'];
    for (let k = 0; k < 300; k++) {
      let text = '';
      for (let j = 0, n = Math.floor(next() * 120); j < n; j++) {
        text +=
          next() < 0.1
            ? String.fromCharCode(Math.floor(next() * 0xffff))
            : pieces[Math.floor(next() * pieces.length)];
      }
      for (const name of names) expect(Array.isArray(auditText(name, text))).toBe(true);
    }
  });
});
