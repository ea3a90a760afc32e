/**
 * task.json agrees with the input table and action.yml (as action.yml does), follows the task schema's rules that
 * the agent and the marketplace enforce, and is what the build writes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { CONNECTION_REPLACES, renderTaskJson, TASK_ID } from '../../src/azdo/task-manifest.js';
import { INPUTS, OUTPUTS, taskInputName } from '../../src/inputs.js';
import { RUNPACK_VERSION } from '../../src/version.js';

interface TaskInput {
  name: string;
  type: string;
  label: string;
  defaultValue: string;
  required: boolean;
  groupName?: string;
  helpMarkDown: string;
  options?: Record<string, string>;
  aliases?: string[];
}
const taskJson = JSON.parse(
  readFileSync(new URL('../../extension/RunpackDeploy/task.json', import.meta.url), 'utf8'),
) as {
  id: string;
  name: string;
  version: { Major: number; Minor: number; Patch: number };
  category: string;
  minimumAgentVersion: string;
  instanceNameFormat: string;
  groups: { name: string }[];
  inputs: TaskInput[];
  outputVariables: { name: string; description: string }[];
  execution: Record<string, { target: string }>;
};
const action = parse(readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')) as {
  inputs: Record<string, { required?: boolean; default?: string }>;
  outputs: Record<string, unknown>;
};
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('task.json', () => {
  it('is what the build renders from the input table (npm run build writes it)', () => {
    expect(taskJson).toEqual(renderTaskJson());
  });

  it('has every input of the table and action.yml but the login ones, with the same required flags and defaults', () => {
    const byName = new Map(taskJson.inputs.map((i) => [i.name, i]));
    const expected = INPUTS.filter((d) => !CONNECTION_REPLACES.includes(d.name));
    expect(taskJson.inputs.map((i) => i.name).sort()).toEqual(
      ['azureSubscription', ...expected.map((d) => taskInputName(d.name))].sort(),
    );
    for (const d of expected) {
      const t = byName.get(taskInputName(d.name))!;
      const a = action.inputs[d.name];
      expect(a).toBeDefined();
      expect({ name: d.name, required: t.required, default: t.defaultValue }).toEqual({
        name: d.name,
        required: Boolean(a.required),
        default: a.default === undefined ? '' : String(a.default),
      });
      if (d.type === 'enum') {
        expect(t.type).toBe('pickList');
        expect(Object.keys(t.options ?? {})).toEqual([...(d.choices ?? [])]);
      }
      if (d.type === 'boolean') expect(t.type).toBe('boolean');
    }
    expect(byName.get('package')?.type).toBe('filePath');
    for (const name of ['mode', 'packageAccess', 'runtime', 'command'])
      expect(byName.get(name)?.type).toBe('pickList');
  });

  it('logs in with a required AzureRM service connection instead of client-id, tenant-id and creds', () => {
    const conn = taskJson.inputs.find((i) => i.name === 'azureSubscription')!;
    expect(conn).toMatchObject({ type: 'connectedService:AzureRM', required: true });
    for (const name of ['clientId', 'tenantId', 'creds', 'resourceManagerEndpoint'])
      expect(taskJson.inputs.some((i) => i.name === name)).toBe(false);
  });

  it('declares the outputs of action.yml as output variables, in the task spelling', () => {
    expect(taskJson.outputVariables.map((o) => o.name).sort()).toEqual(
      Object.keys(action.outputs).map(taskInputName).sort(),
    );
    expect(taskJson.outputVariables.map((o) => o.name).sort()).toEqual(
      OUTPUTS.map((o) => taskInputName(o.name)).sort(),
    );
  });

  it("follows the task schema's rules: names, types, groups, the Node 20 handler and its minimum agent", () => {
    expect(taskJson.id).toBe(TASK_ID);
    expect(taskJson.id).toMatch(
      /^[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$/,
    );
    expect(taskJson.name).toMatch(/^[A-Za-z0-9-]+$/);
    expect(taskJson.category).toBe('Deploy');
    expect(taskJson.minimumAgentVersion).toBe('3.232.1');
    expect(taskJson.execution).toEqual({ Node20_1: { target: 'index.js', argumentFormat: '' } });
    const groups = new Set(taskJson.groups.map((g) => g.name));
    const types = ['boolean', 'filePath', 'multiLine', 'pickList', 'radio', 'secureFile', 'string'];
    for (const i of taskJson.inputs) {
      expect(i.name).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
      expect(types.includes(i.type) || /^connectedService:.+$/.test(i.type)).toBe(true);
      expect(i.label.length).toBeGreaterThan(0);
      if (i.groupName) expect(groups.has(i.groupName)).toBe(true);
      // Help speaks the task's names, not the action's.
      expect(i.helpMarkDown).not.toMatch(/\b(app-name|health-path|keep-releases|swap-to|storage-account)\b/);
    }
    for (const o of taskJson.outputVariables) expect(o.name).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
    expect(taskJson.instanceNameFormat).toMatch(/\$\(appName\)/);
  });

  it('carries the package version, which src/version.ts keeps', () => {
    expect(RUNPACK_VERSION).toBe(pkg.version);
    const { Major, Minor, Patch } = taskJson.version;
    expect(`${Major}.${Minor}.${Patch}`).toBe(pkg.version);
  });

  it('is documented: docs/azure-pipelines.md names every input and output variable', () => {
    const docs = readFileSync(new URL('../../docs/azure-pipelines.md', import.meta.url), 'utf8');
    for (const i of taskJson.inputs) expect(docs).toContain(`\`${i.name}\``);
    for (const o of taskJson.outputVariables) expect(docs).toContain(`\`${o.name}\``);
  });
});
