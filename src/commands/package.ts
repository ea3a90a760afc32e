/**
 * `runpack package <dir> -o <out.zip> [--exclude <glob>]... [--no-stamp] [--source-date-epoch N] [--json]`
 */
import { pack } from '../package/zip-writer.js';
import type { PackOptions, PackResult } from '../package/types.js';
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

/** Parses the command line of `runpack package`; throws UsageError with one line on bad input. */
export function parsePackageArgs(argv: string[]): PackageArgs {
  const exclude: string[] = [];
  let sourceDir: string | undefined;
  let outFile: string | undefined;
  let stamp = true;
  let json = false;
  let help = false;
  let sourceDateEpoch: number | undefined;
  let concurrency: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined || (v.startsWith('-') && v.length > 1)) {
        throw new UsageError(`${arg} needs a value; see 'runpack package --help'.`);
      }
      return v;
    };
    switch (arg) {
      case '-h':
      case '--help':
        help = true;
        break;
      case '-o':
      case '--output':
      case '--out':
        outFile = value();
        break;
      case '--exclude':
        exclude.push(value());
        break;
      case '--no-stamp':
        stamp = false;
        break;
      case '--json':
        json = true;
        break;
      case '--source-date-epoch':
        sourceDateEpoch = wholeNumber('--source-date-epoch', value(), 0);
        break;
      case '--concurrency':
        concurrency = wholeNumber('--concurrency', value(), 1);
        break;
      default:
        if (arg.startsWith('-') && arg !== '-') {
          throw new UsageError(`Unknown option '${arg}' for runpack package; see 'runpack package --help'.`);
        }
        if (sourceDir !== undefined) {
          throw new UsageError(
            `Only one folder can be packaged, got '${sourceDir}' and '${arg}'; quote globs passed to --exclude.`,
          );
        }
        sourceDir = arg;
    }
  }
  if (help) return { help, json, options: { sourceDir: sourceDir ?? '', outFile: outFile ?? '' } };
  if (!sourceDir) throw new UsageError('Missing the folder to package: runpack package <dir> -o <out.zip>.');
  if (!outFile) throw new UsageError(`Missing the output zip: runpack package ${sourceDir} -o <out.zip>.`);
  return { help, json, options: { sourceDir, outFile, exclude, stamp, sourceDateEpoch, concurrency } };
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
