/**
 * `runpack package <dir> -o <out.zip> [--exclude <glob>]... [--no-stamp] [--source-date-epoch N] [--cache <dir>] [--json]`
 */
import { existsSync, statSync } from 'node:fs';
import { pack } from '../package/zip-writer.js';
import type { PackOptions, PackResult } from '../package/types.js';
import { parseFlagTable, type FlagSpec } from '../flags.js';
import { UsageError } from '../util/errors.js';

export const PACKAGE_HELP = `Usage: runpack package <dir> -o <out.zip> [options]

Zip the contents of a publish folder (not the folder itself) deterministically: the same tree always gives the
same bytes and sha256. Adds .runpack/release.json (the release stamp) unless --no-stamp.

Options:
  -o, --output <file>        zip to write (required); never packaged itself, even inside <dir>
  --exclude <glob>           leave out matching files or folders; repeatable. Relative to <dir>, '/' separators;
                             '*', '?', '**'; a trailing '/' matches folders only; a pattern without '/' matches
                             at any depth (e.g. --exclude '*.map' --exclude tests/). .git is always left out
  --no-stamp                 do not add .runpack/release.json
  --source-date-epoch <N>    timestamp for every entry, seconds since 1970 (default: $SOURCE_DATE_EPOCH, else
                             2000-01-01T00:00:00Z)
  --concurrency <N>          compression threads (default: number of cores)
  --cache <dir>              entry cache: files packed before (same content, any path) are not compressed again;
                             the zip is the same bytes with or without it. Keep <dir> between runs (actions/cache,
                             the Azure Pipelines Cache task); it holds one package's worth
  --json                     print one JSON object (outFile, sha256, zipBytes, files, bytes, stamp)
  -h, --help                 show this help

Exit codes: 0 written, 1 failed, 2 bad usage.`;

export interface PackageArgs {
  help: boolean;
  json: boolean;
  options: PackOptions;
}

function wholeNumber(flag: string, v: string | undefined, min: number): number {
  if (v === undefined || !/^\d+$/.test(v.trim()) || Number(v) < min) {
    throw new UsageError(
      `${flag} needs a whole number${min > 0 ? ` of at least ${min}` : ''}, got '${v ?? ''}'.`,
    );
  }
  return Number(v);
}

const PACKAGE_FLAGS: FlagSpec[] = [
  { name: 'output', kind: 'value', aliases: ['-o', '--out'] },
  { name: 'exclude', kind: 'list' },
  { name: 'stamp', kind: 'boolean' },
  { name: 'source-date-epoch', kind: 'value' },
  { name: 'concurrency', kind: 'value' },
  { name: 'cache', kind: 'value' },
  { name: 'json', kind: 'switch' },
  { name: 'help', kind: 'switch', aliases: ['-h'] },
];

/** Parses the command line of `runpack package`; throws UsageError with one line on bad input. */
export function parsePackageArgs(argv: string[]): PackageArgs {
  const f = parseFlagTable(argv, PACKAGE_FLAGS, {
    command: 'package',
    positionals: 1,
    positionalWhat: 'one folder (quote globs passed to --exclude)',
  });
  const help = f.switches.has('help');
  const json = f.switches.has('json');
  const sourceDir = f.positionals[0];
  const outFile = f.values.get('output');
  if (help) return { help, json, options: { sourceDir: sourceDir ?? '', outFile: outFile ?? '' } };
  if (!sourceDir) throw new UsageError('Missing the folder to package: runpack package <dir> -o <out.zip>.');
  if (!outFile) throw new UsageError(`Missing the output zip: runpack package ${sourceDir} -o <out.zip>.`);
  // A path that is not a folder is the caller's to fix: a usage error, as for deploy and inspect.
  if (!existsSync(sourceDir))
    throw new UsageError(`Source folder '${sourceDir}' does not exist; give the publish folder to package.`);
  if (!statSync(sourceDir).isDirectory())
    throw new UsageError(`Source folder '${sourceDir}' is not a folder; give the publish folder to package.`);
  const stampValue = f.values.get('stamp');
  if (stampValue !== undefined && !/^(true|false)$/i.test(stampValue))
    throw new UsageError(`--stamp must be true or false, got '${stampValue}'.`);
  const epoch = f.values.get('source-date-epoch');
  const threads = f.values.get('concurrency');
  const cacheDir = f.values.get('cache');
  if (
    cacheDir !== undefined &&
    (cacheDir.trim() === '' || (existsSync(cacheDir) && !statSync(cacheDir).isDirectory()))
  )
    throw new UsageError(`--cache needs a folder for the entry cache, got '${cacheDir}'.`);
  return {
    help,
    json,
    options: {
      sourceDir,
      outFile,
      exclude: f.lists.get('exclude') ?? [],
      stamp: stampValue === undefined || stampValue.toLowerCase() === 'true',
      sourceDateEpoch: epoch === undefined ? undefined : wholeNumber('--source-date-epoch', epoch, 0),
      concurrency: threads === undefined ? undefined : wholeNumber('--concurrency', threads, 1),
      ...(cacheDir !== undefined ? { cacheDir } : {}),
    },
  };
}

function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function formatPackResult(r: PackResult): string {
  const lines = [
    `Packaged ${r.outFile}`,
    `  sha256  ${r.sha256}`,
    `  size    ${r.zipBytes} bytes (${human(r.zipBytes)})`,
    `  files   ${r.files} (${human(r.bytes)} uncompressed)`,
  ];
  if (r.stamp) lines.push(`  stamp   .runpack/release.json contentSha256=${r.stamp.contentSha256}`);
  if (r.cache)
    lines.push(
      `  cache   ${r.cache.hits} entries reused, ${r.cache.misses} compressed${r.cache.removed ? `, ${r.cache.removed} old ones dropped` : ''}`,
    );
  return lines.join('\n');
}

export async function runPackage(argv: string[]): Promise<number> {
  const args = parsePackageArgs(argv);
  if (args.help) {
    process.stdout.write(PACKAGE_HELP + '\n');
    return 0;
  }
  const progress =
    !args.json && process.stderr.isTTY
      ? (done: number, total: number) => {
          process.stderr.write(`\rpackaging ${human(done)} / ${human(total)}`);
          if (done >= total) process.stderr.write('\n');
        }
      : undefined;
  const result = await pack({ ...args.options, onProgress: progress });
  process.stdout.write((args.json ? JSON.stringify(result) : formatPackResult(result)) + '\n');
  return 0;
}
