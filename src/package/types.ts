/**
 * Contracts shared by the packager, the inspector and the deploy engine.
 * The packager (zip-writer) and inspector (inspect) implement them; deploy and the CLI consume them.
 */

export type Runtime = 'node' | 'dotnet' | 'python' | 'java' | 'php' | 'static' | 'functions';
export const RUNTIMES: readonly Runtime[] = [
  'node',
  'dotnet',
  'python',
  'java',
  'php',
  'static',
  'functions',
];

export type ProblemCode =
  | 'nested-root'
  | 'entry-point-missing'
  | 'source-not-build'
  | 'runtime-unsupported'
  | 'unsafe-path'
  | 'symlink'
  | 'duplicate-entry'
  | 'encrypted-entry'
  | 'corrupt-archive'
  | 'empty-package'
  | 'too-large'
  | 'dependencies-missing'
  | 'functions-host-missing';

export interface Problem {
  code: ProblemCode;
  severity: 'error' | 'warning';
  message: string;
  path?: string;
}

/** Exactly the JSON that `runpack inspect --json` prints (plus optional extras the deploy engine uses). */
export interface InspectReport {
  ok: boolean;
  runtime: string;
  entryPoint: string | null;
  files: number;
  bytes: number;
  problems: Problem[];
  /** Function names found in a functions package (folders with function.json, or declared by the worker). */
  functions?: string[];
  /** Function name → the trigger type its function.json declares (`httpTrigger`, `timerTrigger`, …). */
  functionTriggers?: Record<string, string>;
  /** Content of `.runpack/release.json` when the archive carries a release stamp. */
  stamp?: ReleaseStamp | null;
}

export interface InspectOptions {
  /** Force a runtime instead of detecting it. */
  runtime?: Runtime;
  /** Treat the target as a function app: host.json is required. */
  functionApp?: boolean;
  /**
   * For a zip: inflate every entry and check its CRC (default true). Local headers and the central directory
   * are always checked; callers that have just written the zip themselves may pass false to skip the data.
   */
  verifyData?: boolean;
}

/** Path of the release stamp inside every package runpack writes (unless turned off). */
export const STAMP_PATH = '.runpack/release.json';

/**
 * The release stamp. It holds only what is derived from the content, so the same tree always gives the
 * same zip; run metadata (commit, run URL, time) goes on the release blob, never into the archive.
 */
export interface ReleaseStamp {
  runpack: 1;
  /** sha256 over the sorted list of (path, mode, size, sha256 of file) of every packaged file except the stamp. */
  contentSha256: string;
}

export interface PackOptions {
  /** Folder whose CONTENTS go to the archive root. */
  sourceDir: string;
  /** Zip to write. Never packaged itself, even when it sits inside sourceDir. */
  outFile: string;
  /** Glob patterns (relative to sourceDir, `/` separators) of files or folders to leave out. `.git` is always left out. */
  exclude?: string[];
  /** Seconds since the epoch for every entry's timestamp; defaults to SOURCE_DATE_EPOCH or a fixed date. */
  sourceDateEpoch?: number;
  /** Add `.runpack/release.json` (default true). */
  stamp?: boolean;
  /** Compression workers; defaults to the number of cores. */
  concurrency?: number;
  /** Called now and then with bytes read so far, for progress lines on large packages. */
  onProgress?: (done: number, total: number) => void;
  /**
   * A folder of compressed entries from earlier packs, keyed by content (see docs/packaging.md): a file whose bytes
   * were packed before is not compressed again. Entries this pack did not use are removed afterwards, so the
   * folder holds one package's worth. The output is the same bytes with or without it.
   */
  cacheDir?: string;
}

export interface PackResult {
  outFile: string;
  /** sha256 of the zip file, lowercase hex. */
  sha256: string;
  /** Size of the zip file in bytes. */
  zipBytes: number;
  /** Number of files (not directories) in the archive, the stamp included. */
  files: number;
  /** Uncompressed bytes of all files. */
  bytes: number;
  stamp: ReleaseStamp | null;
  /** With cacheDir: files whose compressed entry came from the cache, and files compressed (and cached) now. */
  cache?: { hits: number; misses: number; removed: number };
}
