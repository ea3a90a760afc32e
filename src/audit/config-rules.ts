/**
 * Rules for logging configuration files: appsettings*.json (Serilog, NLog sections), NLog and log4net XML,
 * logback / log4j2 XML, and Java .properties. A log file at a relative path or under the app base directory
 * fails on the read-only mount, usually at startup.
 */
import { Analyzer } from './analyzer.js';
import { databaseFinding, logFinding, type Draft } from './explain.js';
import {
  classifyConfigPath,
  classifyDbPath,
  classifyPathString,
  jdbcFile,
  sqliteFileFromConnectionString,
  type Classified,
} from './paths.js';
import type { AuditRuntime } from './types.js';

function reportable(c: Classified): boolean {
  return c.cls === 'root' || c.cls === 'relative';
}

/** Line and column (1-based) of a character offset. */
function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** appsettings.json: Serilog "Args": { "path": … } and NLog "targets": { …: { "fileName": … } }. */
export function scanAppSettings(text: string): Draft[] {
  const out: Draft[] = [];
  // JSON with comments tokenizes as JavaScript; string keys followed by ':' are what we need.
  const a = new Analyzer('js', text);
  const hasSerilog = a.toks.some((t) => t.kind === 'string' && t.value === 'Serilog');
  const hasNLog = a.toks.some((t) => t.kind === 'string' && t.value === 'NLog');
  for (let i = 0; i < a.toks.length - 2; i++) {
    const t = a.toks[i];
    if (t.kind !== 'string' || !a.is(i + 1, ':')) continue;
    const v = a.toks[i + 2];
    if (v.kind !== 'string') continue;
    const key = t.value.toLowerCase();
    let c: Classified | null = null;
    let sink = '';
    if (hasSerilog && (key === 'path' || key === 'pathformat')) {
      c = classifyConfigPath(v.value, 'serilog');
      sink = 'Serilog File sink (appsettings)';
    } else if (hasNLog && (key === 'filename' || key === 'archivefilename' || key === 'internallogfile')) {
      c = classifyConfigPath(v.value, 'nlog');
      sink = 'NLog file target (appsettings)';
    }
    if (c && reportable(c)) out.push(logFinding('dotnet', sink, c, v.line, v.column));
    // "ConnectionStrings": { "Default": "Data Source=app.db" }: a SQLite file (by its extension or |DataDirectory|).
    const file = sqliteFileFromConnectionString(v.value);
    if (
      file !== undefined &&
      (/\.(db|sqlite|sqlite3|db3)$/i.test(file) || /^\|DataDirectory\|/i.test(file))
    ) {
      const db = classifyDbPath(file);
      if (reportable(db))
        out.push(databaseFinding('dotnet', 'SQLite database (connection string)', db, v.line, v.column));
    }
  }
  return out;
}

/** Blanks out XML comments, keeping offsets and line breaks. */
function stripXmlComments(text: string): string {
  return text.replace(/<!--[\s\S]*?-->/g, (m) => m.replace(/[^\n]/g, ' '));
}

function decodeXml(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** NLog, log4net, logback and log4j2 XML configuration. */
export function scanXmlConfig(raw: string): Draft[] {
  const text = stripXmlComments(raw);
  const out: Draft[] = [];
  const push = (runtime: AuditRuntime, sink: string, c: Classified, offset: number) => {
    if (!reportable(c)) return;
    const p = position(text, offset);
    out.push(logFinding(runtime, sink, c, p.line, p.column));
  };

  if (/<nlog\b/i.test(text)) {
    // <target xsi:type="File" fileName="logs/app.log" archiveFileName="…"/> and <nlog internalLogFile="…">.
    const attr = /\b(fileName|archiveFileName|internalLogFile)\s*=\s*(["'])(.*?)\2/g;
    for (let m; (m = attr.exec(text));) {
      const valueOffset = m.index + m[0].indexOf(m[2]) + 1;
      push(
        'dotnet',
        m[1] === 'internalLogFile' ? 'NLog internal log' : 'NLog file target',
        classifyConfigPath(decodeXml(m[3]), 'nlog'),
        valueOffset,
      );
    }
  }
  // web.config: <aspNetCore stdoutLogEnabled="true" stdoutLogFile=".\logs\stdout" /> (also <httpPlatform>).
  // The module resolves a relative stdoutLogFile against the app's root folder.
  const handler = /<(aspNetCore|httpPlatform)\b[^>]*>/g;
  for (let m; (m = handler.exec(text));) {
    if (!/\bstdoutLogEnabled\s*=\s*["']true["']/i.test(m[0])) continue;
    const file = /\bstdoutLogFile\s*=\s*(["'])(.*?)\1/.exec(m[0]);
    if (!file) continue;
    const value = decodeXml(file[2]);
    let c = classifyConfigPath(value, 'log4net');
    if (c.cls === 'relative') c = { cls: 'root', anchor: `'${value}' (relative to the app root)` };
    push('dotnet', `${m[1]} stdout log`, c, m.index + file.index + file[0].indexOf(file[1]) + 1);
  }
  // log4net and logback: only inside <appender> elements, so build files (pom.xml <configuration><file>) never count.
  const isLog4netDoc = /<log4net\b/i.test(text);
  const isLogbackDoc = /ch\.qos\.logback/.test(text);
  const appender = /<appender\b([^>]*)>([\s\S]*?)<\/appender>/g;
  for (let b; (b = appender.exec(text));) {
    const attrs = b[1];
    const bodyOffset = b.index + b[0].indexOf('>') + 1;
    const log4net = /log4net/i.test(attrs) || (isLog4netDoc && !/ch\.qos\.logback/.test(attrs));
    const logback = !log4net && (/ch\.qos\.logback/.test(attrs) || isLogbackDoc);
    if (log4net) {
      // <appender type="log4net.Appender.RollingFileAppender"> <file value="logs/app.log" /> </appender>
      const file = /<file\b[^>]*?\bvalue\s*=\s*(["'])(.*?)\1/gi;
      for (let m; (m = file.exec(b[2]));) {
        const valueOffset = bodyOffset + m.index + m[0].lastIndexOf(m[1] + m[2]) + 1;
        push('dotnet', 'log4net file appender', classifyConfigPath(decodeXml(m[2]), 'log4net'), valueOffset);
      }
    } else if (logback) {
      // <appender class="ch.qos.logback.core.FileAppender"><file>logs/app.log</file> / <fileNamePattern>.
      const el = /<(file|fileNamePattern)>\s*([^<]*?)\s*<\/\1>/g;
      for (let m; (m = el.exec(b[2]));) {
        const valueOffset = bodyOffset + m.index + m[0].indexOf(m[2], m[1].length + 2);
        push('java', `logback ${m[1]}`, classifyConfigPath(decodeXml(m[2]), 'java'), valueOffset);
      }
    }
  }
  // log4j2: <File name="x" fileName="logs/app.log"/> / <RollingFile fileName="…" filePattern="…">.
  if (/<Configuration\b/.test(text) && /<Appenders\b/i.test(text)) {
    const attr = /<(File|RollingFile|RollingRandomAccessFile|RandomAccessFile)\b[^>]*>/g;
    for (let m; (m = attr.exec(text));) {
      const inner = /\b(fileName|filePattern)\s*=\s*(["'])(.*?)\2/g;
      for (let k; (k = inner.exec(m[0]));) {
        const valueOffset = m.index + k.index + k[0].indexOf(k[2]) + 1;
        push('java', `log4j2 ${m[1]} appender`, classifyConfigPath(decodeXml(k[3]), 'java'), valueOffset);
      }
    }
  }
  return out;
}

/** log4j2.properties / application.properties: appender.x.fileName = logs/app.log, logging.file.name=app.log. */
export function scanProperties(text: string): Draft[] {
  const out: Draft[] = [];
  const lines = text.split('\n');
  lines.forEach((lineText, idx) => {
    const m = /^(\s*)([\w.-]+)\s*[=:]\s*(.*?)\s*$/.exec(lineText);
    if (!m || lineText.trimStart().startsWith('#') || lineText.trimStart().startsWith('!')) return;
    const key = m[2];
    const jdbc = jdbcFile(m[3]);
    if (jdbc !== undefined) {
      const db = classifyPathString(jdbc);
      if (reportable(db)) {
        out.push(
          databaseFinding(
            'java',
            'file database (JDBC URL)',
            db,
            idx + 1,
            lineText.indexOf(m[3], m[1].length + key.length) + 1,
          ),
        );
      }
      return;
    }
    const isLog4j = /^appender\.[\w-]+\.(fileName|filePattern)$/.test(key);
    const isSpring = /^logging\.file(\.name|\.path)?$/.test(key);
    if (!isLog4j && !isSpring) return;
    const c = classifyConfigPath(m[3], 'java');
    if (!reportable(c)) return;
    const column = lineText.indexOf(m[3], m[1].length + key.length) + 1;
    out.push(
      logFinding('java', isLog4j ? 'log4j2 file appender' : 'Spring Boot logging.file', c, idx + 1, column),
    );
  });
  return out;
}
