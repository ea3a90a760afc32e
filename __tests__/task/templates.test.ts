/**
 * The Azure Pipelines templates (the deploy job template and the manual rollback pipeline): well-formed pipeline
 * YAML of the documented shape, every task input they pass exists in task.json, the required ones are passed,
 * every parameter they use is declared, and the deploy template mirrors the reusable GitHub workflow.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { taskInputName } from '../../src/inputs.js';

type Step = { task?: string; name?: string; inputs?: Record<string, unknown>; download?: string };
type Job = {
  deployment?: string;
  environment?: string;
  pool?: unknown;
  strategy?: { runOnce?: { deploy?: { steps?: Step[] } } };
};
type Pipeline = {
  trigger?: unknown;
  pr?: unknown;
  parameters: { name: string; type: string; default?: unknown; values?: unknown[] }[];
  jobs: Job[];
};

const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');
const taskJson = JSON.parse(read('extension/RunpackDeploy/task.json')) as {
  name: string;
  version: { Major: number };
  inputs: { name: string; required: boolean; options?: Record<string, string> }[];
};
const TEMPLATES = ['templates/azure-pipelines/deploy.yml', 'templates/azure-pipelines/rollback.yml'];

function runpackStep(p: Pipeline): Step {
  const steps = p.jobs.flatMap((j) => j.strategy?.runOnce?.deploy?.steps ?? []);
  const s = steps.find((x) => x.task?.startsWith(`${taskJson.name}@`));
  if (!s) throw new Error('no runpack task step');
  return s;
}

describe.each(TEMPLATES)('%s', (file) => {
  const text = read(file);
  const p = parse(text) as Pipeline;

  it('is one deployment job bound to an environment, with the runpack task named runpack', () => {
    expect(p.jobs).toHaveLength(1);
    expect(p.jobs[0].deployment).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$|^\$\{\{ parameters\.\w+ \}\}$/);
    expect(p.jobs[0].environment).toBe('${{ parameters.environment }}');
    expect(runpackStep(p).name).toBe('runpack');
    expect(runpackStep(p).task).toBe(`${taskJson.name}@${taskJson.version.Major}`);
  });

  it('passes only inputs task.json declares, every required one, and pick-list values it allows', () => {
    const inputs = runpackStep(p).inputs ?? {};
    const declared = new Map(taskJson.inputs.map((i) => [i.name, i]));
    for (const k of Object.keys(inputs))
      expect({ input: k, known: declared.has(k) }).toEqual({ input: k, known: true });
    for (const i of taskJson.inputs.filter((x) => x.required)) expect(Object.keys(inputs)).toContain(i.name);
    for (const [k, v] of Object.entries(inputs)) {
      const options = declared.get(k)?.options;
      if (options && typeof v === 'string' && !v.includes('${{')) expect(Object.keys(options)).toContain(v);
    }
  });

  it('declares every parameter it uses and uses every parameter it declares', () => {
    const declared = new Set(p.parameters.map((x) => x.name));
    const used = new Set([...text.matchAll(/parameters\.(\w+)/g)].map((m) => m[1]));
    for (const u of used) expect({ used: u, declared: declared.has(u) }).toEqual({ used: u, declared: true });
    for (const d of declared) expect({ declared: d, used: used.has(d) }).toEqual({ declared: d, used: true });
    // Parameter value lists agree with the task's pick lists.
    for (const x of p.parameters.filter((q) => q.values)) {
      const options = taskJson.inputs.find((i) => i.name === x.name)?.options;
      expect(Object.keys(options ?? {})).toEqual(expect.arrayContaining(x.values as string[]));
    }
  });
});

describe('the rollback pipeline', () => {
  const p = parse(read('templates/azure-pipelines/rollback.yml')) as Pipeline;
  it('runs only by hand, with runtime parameters app, slot, release (default previous) and environment', () => {
    expect(p.trigger).toBe('none');
    expect(p.pr).toBe('none');
    const names = p.parameters.map((x) => x.name);
    expect(names).toEqual(
      expect.arrayContaining(['appName', 'slot', 'release', 'environment', 'azureSubscription']),
    );
    expect(p.parameters.find((x) => x.name === 'release')?.default).toBe('previous');
    expect(runpackStep(p).inputs).toMatchObject({
      command: 'rollback',
      release: '${{ parameters.release }}',
    });
  });
});

describe('the deploy template mirrors the reusable GitHub workflow', () => {
  it('has a parameter for every workflow input (GitHub-only login inputs and the runner label aside)', () => {
    const workflow = parse(read('.github/workflows/deploy.yml')) as {
      on: { workflow_call: { inputs: Record<string, unknown> } };
    };
    const template = parse(read('templates/azure-pipelines/deploy.yml')) as Pipeline;
    const params = new Set(template.parameters.map((x) => x.name));
    const githubOnly = ['client-id', 'tenant-id', 'runs-on'];
    for (const name of Object.keys(workflow.on.workflow_call.inputs).filter((n) => !githubOnly.includes(n)))
      expect({ input: name, parameter: params.has(taskInputName(name)) }).toEqual({
        input: name,
        parameter: true,
      });
    expect(params.has('azureSubscription')).toBe(true);
    expect(params.has('pool')).toBe(true);
  });
});
