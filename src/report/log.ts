/**
 * The logger every phase writes through. Each line passes the secret registry's redaction first, so a secret
 * that slipped into a message never reaches the log. `group` runs a phase in its own log group and reports its
 * duration.
 */
import type { SecretRegistry } from './secrets.js';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  /** Runs fn inside a named group; the group's last line gives its duration. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** How far a long operation is (packaging, upload), for front ends that show progress (the task's bar). */
  progress?(percent: number, operation: string): void;
}

/** Where lines go: the action maps these onto @actions/core, the CLI onto stdout/stderr. */
export interface LogSink {
  info(line: string): void;
  warn(line: string): void;
  error(line: string): void;
  debug(line: string): void;
  startGroup(name: string): void;
  endGroup(): void;
  /** Progress of a long operation (0-100); Azure Pipelines shows it on the step. */
  progress?(percent: number, operation: string): void;
}

export interface PhaseTiming {
  name: string;
  ms: number;
  ok: boolean;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m} min ${s} s`;
}

export function createLogger(
  sink: LogSink,
  secrets: SecretRegistry,
  options: { now?: () => number; timings?: PhaseTiming[] } = {},
): Logger {
  const now = options.now ?? Date.now;
  const clean = (m: string) => secrets.redact(m);
  let depth = 0;
  return {
    info: (m) => sink.info(clean(m)),
    warn: (m) => sink.warn(clean(m)),
    error: (m) => sink.error(clean(m)),
    debug: (m) => sink.debug(clean(m)),
    progress: (percent, operation) =>
      sink.progress?.(Math.max(0, Math.min(100, Math.round(percent))), clean(operation)),
    async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
      const nested = depth > 0;
      if (!nested) sink.startGroup(clean(name));
      else sink.info(clean(`— ${name}`));
      depth++;
      const start = now();
      let ok = false;
      try {
        const result = await fn();
        ok = true;
        return result;
      } finally {
        depth--;
        const ms = now() - start;
        options.timings?.push({ name, ms, ok });
        sink.info(clean(`${name}: ${ok ? 'done' : 'failed'} in ${formatDuration(ms)}`));
        if (!nested) sink.endGroup();
      }
    },
  };
}

/** A sink that writes plain lines to streams (the CLI). Groups become headings. */
export function streamSink(out: NodeJS.WritableStream, err: NodeJS.WritableStream, verbose = false): LogSink {
  return {
    info: (l) => out.write(l + '\n'),
    warn: (l) => err.write(`warning: ${l}\n`),
    error: (l) => err.write(`error: ${l}\n`),
    debug: (l) => {
      if (verbose) out.write(`debug: ${l}\n`);
    },
    startGroup: (n) => out.write(`== ${n}\n`),
    endGroup: () => undefined,
  };
}

/** A sink that rewrites every line (and group name) before passing it on: a front end's own words. */
export function mapSink(sink: LogSink, f: (line: string) => string): LogSink {
  return {
    info: (l) => sink.info(f(l)),
    warn: (l) => sink.warn(f(l)),
    error: (l) => sink.error(f(l)),
    debug: (l) => sink.debug(f(l)),
    startGroup: (n) => sink.startGroup(f(n)),
    endGroup: () => sink.endGroup(),
    ...(sink.progress ? { progress: sink.progress } : {}),
  };
}

/** A sink that records every line (tests). */
export function memorySink(): LogSink & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (l) => lines.push(l),
    warn: (l) => lines.push(`warning: ${l}`),
    error: (l) => lines.push(`error: ${l}`),
    debug: (l) => lines.push(`debug: ${l}`),
    startGroup: (n) => lines.push(`group: ${n}`),
    endGroup: () => lines.push('endgroup'),
  };
}
