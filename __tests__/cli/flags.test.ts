import { describe, it, expect } from '@jest/globals';
import { parseFlagTable, type FlagSpec } from '../../src/flags.js';
import { parseFlags } from '../../src/inputs.js';
import { parseOpsFlags } from '../../src/ops/session.js';
import { UsageError } from '../../src/util/errors.js';

const specs: FlagSpec[] = [
  { name: 'name', kind: 'value', repeated: 'several names go in one --name, comma separated.' },
  { name: 'exclude', kind: 'list' },
  { name: 'stamp', kind: 'boolean' },
  { name: 'json', kind: 'switch' },
  { name: 'output', kind: 'value', aliases: ['-o'] },
];
const parse = (argv: string[], positionals = 0) =>
  parseFlagTable(argv, specs, { command: 'demo', positionals, positionalWhat: 'one folder' });
const usage = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('no usage error');
};

describe('the one flag parser', () => {
  it('reads values, inline values, aliases, lists in order, booleans and switches, and says what was given', () => {
    const f = parse(
      ['--name', 'a', '--exclude=x', '--exclude', 'y', '--no-stamp', '--json', '-o', 'out.zip', 'dir'],
      1,
    );
    expect(f.values.get('name')).toBe('a');
    expect(f.values.get('output')).toBe('out.zip');
    expect(f.lists.get('exclude')).toEqual(['x', 'y']);
    expect(f.values.get('stamp')).toBe('false');
    expect(f.switches.has('json')).toBe(true);
    expect(f.positionals).toEqual(['dir']);
    expect([...f.given].sort()).toEqual(['exclude', 'json', 'name', 'output', 'stamp']);
    expect(parse(['--stamp', 'false']).values.get('stamp')).toBe('false');
    expect(parse(['--stamp']).values.get('stamp')).toBe('true');
  });

  it('refuses a repeated value flag instead of keeping the last, and says how to give several', () => {
    expect(usage(() => parse(['--name', 'a', '--name', 'b']))).toBe(
      "Flag '--name' is given twice (runpack demo); give it once: several names go in one --name, comma separated.",
    );
  });

  it('takes a negative number as a value (the input check then explains it), but not a flag', () => {
    expect(parse(['--name', '-5']).values.get('name')).toBe('-5');
    expect(usage(() => parse(['--name', '--json']))).toMatch(/Flag '--name' needs a value \(runpack demo\)/);
    expect(usage(() => parse(['--name']))).toMatch(/needs a value/);
  });

  it('names unknown flags, values given to switches, and extra arguments', () => {
    expect(usage(() => parse(['--nope']))).toBe(
      "Unknown flag '--nope' for runpack demo; run 'runpack demo --help' for the list.",
    );
    expect(usage(() => parse(['--json=1']))).toMatch(/takes no value/);
    expect(usage(() => parse(['a', 'b'], 1))).toBe("runpack demo takes one folder, got 'a' and 'b'.");
    expect(usage(() => parse(['a']))).toMatch(/Unexpected argument 'a' for runpack demo/);
  });
});

describe('every command parses with it', () => {
  it('deploy refuses a repeated --app-name and points at the fleet syntax', () => {
    expect(usage(() => parseFlags(['--app-name', 'web', '--app-name', 'api']))).toMatch(
      /Flag '--app-name' is given twice \(runpack deploy\); give it once: several apps go in one --app-name, comma separated/,
    );
  });

  it('deploy joins a repeated list flag into lines, as the action input would hold them', () => {
    expect(parseFlags(['--exclude', '*.map', '--exclude', 'tests/']).values.get('exclude')).toBe(
      '*.map\ntests/',
    );
  });

  it('the operator commands work on one app and say so when given a fleet', () => {
    expect(usage(() => parseOpsFlags(['--app-name', 'web,api'], 'releases', ['keep'], {}))).toBe(
      "Flag '--app-name' lists 2 targets, but runpack releases works on one app; run it once per app (and slot).",
    );
  });

  it('the operator commands refuse a repeated flag of their own too', () => {
    expect(
      usage(() =>
        parseOpsFlags(['--app-name', 'web', '--release', 'a', '--release', 'b'], 'rollback', ['release'], {}),
      ),
    ).toMatch(/Flag '--release' is given twice \(runpack rollback\)/);
  });
});
