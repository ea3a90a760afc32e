/**
 * The one command-line parser of the CLI, driven by a table of flags: `deploy` and the operator commands take
 * their flags from the INPUTS table (inputs.ts), `package` and `inspect` from their own short tables. It knows
 * `--name value`, `--name=value`, boolean flags (`--x`, `--no-x`, `--x true|false`), repeatable lists and
 * positional arguments, and reports which flags were given (a default is not a choice). A flag given twice is
 * refused unless it is a list, so no value is silently dropped.
 */
import { UsageError } from './util/errors.js';

export interface FlagSpec {
  /** Without the dashes: `app-name`. */
  name: string;
  /** value: one value; list: repeatable, values kept in order; boolean: `--x`, `--no-x`, `--x true|false`; switch: no value. */
  kind: 'value' | 'list' | 'boolean' | 'switch';
  /** Other spellings, with their dashes: `-o`, `--out`. */
  aliases?: readonly string[];
  /** What to say when a value flag is repeated (the way to give several values, if there is one). */
  repeated?: string;
}

export interface ParsedFlags {
  /** Value and boolean flags ('true'/'false'), by name. */
  values: Map<string, string>;
  /** List flags, by name, in the order given. */
  lists: Map<string, string[]>;
  /** Switches given. */
  switches: Set<string>;
  positionals: string[];
  /** Every flag given on the command line, by name. */
  given: Set<string>;
}

/** What a boolean flag takes as its next argument (the inputs table checks the spelling). */
const BOOLEAN_WORDS = ['true', 'false'];

/** `--x` or `-x` is a flag; `-5` and `-` are values (a negative number is refused by the input's own check). */
function looksLikeFlag(arg: string): boolean {
  return arg.startsWith('--') || /^-[A-Za-z]/.test(arg);
}

/** `runpack <command>` as errors name it. */
export interface ParseContext {
  command: string;
  /** How many positional arguments the command takes (default 0); more is a usage error. */
  positionals?: number;
  /** Describes the positional argument for the "too many" message (`one zip or folder`). */
  positionalWhat?: string;
}

export function parseFlagTable(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  c: ParseContext,
): ParsedFlags {
  const bySpelling = new Map<string, FlagSpec>();
  for (const s of specs) {
    bySpelling.set(`--${s.name}`, s);
    for (const a of s.aliases ?? []) bySpelling.set(a, s);
  }
  const out: ParsedFlags = {
    values: new Map(),
    lists: new Map(),
    switches: new Set(),
    positionals: [],
    given: new Set(),
  };
  const help = `run 'runpack ${c.command} --help' for the list`;
  const set = (spec: FlagSpec, spelled: string, value: string) => {
    if (spec.kind === 'list') {
      out.lists.set(spec.name, [...(out.lists.get(spec.name) ?? []), value]);
    } else {
      const before = out.values.get(spec.name);
      if (before !== undefined && out.given.has(spec.name))
        throw new UsageError(
          `Flag '${spelled}' is given twice (runpack ${c.command}); give it once${spec.repeated ? `: ${spec.repeated}` : '.'}`,
        );
      out.values.set(spec.name, value);
    }
    out.given.add(spec.name);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!looksLikeFlag(arg)) {
      if (out.positionals.length >= (c.positionals ?? 0))
        throw new UsageError(
          c.positionals
            ? `runpack ${c.command} takes ${c.positionalWhat ?? `${c.positionals} argument(s)`}, got '${out.positionals.join("', '")}' and '${arg}'.`
            : `Unexpected argument '${arg}' for runpack ${c.command}; flags look like --app-name <name>.`,
        );
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const spelled = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const spec = bySpelling.get(spelled);
    if (!spec && spelled.startsWith('--no-')) {
      const positive = bySpelling.get(`--${spelled.slice(5)}`);
      if (positive?.kind === 'boolean') {
        if (inline !== undefined)
          throw new UsageError(`Flag '${spelled}' takes no value (runpack ${c.command}).`);
        set(positive, spelled, 'false');
        continue;
      }
    }
    if (!spec) throw new UsageError(`Unknown flag '${spelled}' for runpack ${c.command}; ${help}.`);
    if (spec.kind === 'switch') {
      if (inline !== undefined)
        throw new UsageError(`Flag '${spelled}' takes no value (runpack ${c.command}).`);
      out.switches.add(spec.name);
      out.given.add(spec.name);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (spec.kind === 'boolean') {
        if (next !== undefined && BOOLEAN_WORDS.includes(next.toLowerCase())) {
          value = next;
          i++;
        } else value = 'true';
      } else {
        if (next === undefined || looksLikeFlag(next))
          throw new UsageError(`Flag '${spelled}' needs a value (runpack ${c.command}).`);
        value = next;
        i++;
      }
    }
    set(spec, spelled, value);
  }
  return out;
}
