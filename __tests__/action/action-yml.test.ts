import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { INPUTS, OUTPUTS } from '../../src/inputs.js';

const action = parse(readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')) as {
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string };
};

describe('action.yml', () => {
  it('declares exactly the inputs of the input table, with the same defaults and required flags', () => {
    expect(Object.keys(action.inputs).sort()).toEqual(INPUTS.map((d) => d.name).sort());
    for (const d of INPUTS) {
      const a = action.inputs[d.name];
      expect({
        name: d.name,
        required: Boolean(a.required),
        default: a.default === undefined ? undefined : String(a.default),
      }).toEqual({
        name: d.name,
        required: Boolean(d.required),
        default: d.default,
      });
      expect(a.description).toBe(d.description);
    }
  });

  it('declares the outputs the engine sets', () => {
    expect(Object.keys(action.outputs).sort()).toEqual(OUTPUTS.map((o) => o.name).sort());
  });

  it('runs the bundled action on node24', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
  });

  it('is documented: docs/deploy.md mentions every input and output', () => {
    const docs = readFileSync(new URL('../../docs/deploy.md', import.meta.url), 'utf8');
    for (const d of INPUTS) expect(docs).toContain(`\`${d.name}\``);
    for (const o of OUTPUTS) expect(docs).toContain(`\`${o.name}\``);
  });
});
