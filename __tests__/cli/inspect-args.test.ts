import { describe, expect, it } from '@jest/globals';
import { formatReport, parseInspectArgs } from '../../src/commands/inspect.js';

describe('parseInspectArgs', () => {
  it('reads the target and every option, in any order and with --flag=value', () => {
    expect(parseInspectArgs(['--json', 'app.zip', '--runtime=dotnet', '--no-verify-data'])).toEqual({
      target: 'app.zip',
      json: true,
      options: { runtime: 'dotnet', verifyData: false },
    });
    expect(parseInspectArgs(['dir', '--function-app', '--runtime', 'auto'])).toEqual({
      target: 'dir',
      json: false,
      options: { functionApp: true },
    });
    expect(parseInspectArgs(['-h'])).toBe('help');
  });

  it.each([
    [[], /needs the zip or folder/],
    [['a.zip', '--runtime'], /needs a value/],
    [['a.zip', '--runtime', 'ruby'], /'ruby' is not a runtime/],
    [['a.zip', '--verbose'], /Unknown flag '--verbose' for runpack inspect/],
    [['a.zip', 'b.zip'], /one zip or folder/],
  ])('%j is a usage error', (argv, why) => {
    expect(() => parseInspectArgs(argv as string[])).toThrow(why);
    try {
      parseInspectArgs(argv as string[]);
    } catch (err) {
      expect((err as { code?: string }).code).toBe('usage');
    }
  });
});

describe('formatReport', () => {
  it('shows the findings, each problem with its code, and the verdict', () => {
    const text = formatReport(
      'app.zip',
      {
        ok: false,
        runtime: 'functions',
        entryPoint: null,
        files: 3,
        bytes: 2048,
        functions: ['Ping'],
        problems: [
          {
            code: 'functions-host-missing',
            severity: 'error',
            message: 'host.json is not at the root; package the folder that holds it',
          },
          { code: 'dependencies-missing', severity: 'warning', message: 'no node_modules; run npm ci' },
        ],
      },
      false,
    );
    expect(text).toMatch(/runtime: +functions \(detected\)/);
    expect(text).toMatch(/functions: +Ping/);
    expect(text).toMatch(/2\.0 KiB/);
    expect(text).toMatch(
      /^error +\[functions-host-missing\] host\.json is not at the root; package the folder/m,
    );
    expect(text).toMatch(/^warning \[dependencies-missing\]/m);
    expect(text).toMatch(/NOT DEPLOYABLE: 1 error, 1 warning/);
  });
});
