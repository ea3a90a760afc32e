import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { crossCheck, parserErrors, readAction, readTemplate } from './validate.js';
import { OUTPUTS } from '../../src/inputs.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = path.resolve('.');
const WORKFLOWS = path.join(ROOT, '.github', 'workflows');
const EXAMPLES = path.join(ROOT, 'docs', 'examples');
const TEMPLATE = path.join(WORKFLOWS, 'deploy.yml');
const ACTION = path.join(ROOT, 'action.yml');

const files = [
  ...readdirSync(WORKFLOWS)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => path.join(WORKFLOWS, f)),
  ...readdirSync(EXAMPLES)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => path.join(EXAMPLES, f)),
];
const load = (file: string) => parseYaml(readFileSync(file, 'utf8')) as Obj;

describe('every workflow and example', () => {
  it('includes the deploy and rollback workflows and both example callers', () => {
    const names = files.map((f) => path.relative(ROOT, f));
    expect(names).toEqual(
      expect.arrayContaining([
        '.github/workflows/deploy.yml',
        '.github/workflows/rollback.yml',
        'docs/examples/deploy-caller.yml',
        'docs/examples/deploy-matrix.yml',
      ]),
    );
  });

  it.each(files.map((f) => [path.relative(ROOT, f), f]))(
    '%s parses with GitHub’s workflow parser',
    async (_name, file) => {
      expect(await parserErrors(file, TEMPLATE)).toEqual([]);
    },
  );

  it.each(files.map((f) => [path.relative(ROOT, f), f]))(
    '%s agrees with action.yml and the deploy workflow',
    (_name, file) => {
      expect(crossCheck(file, readAction(ACTION), readTemplate(TEMPLATE))).toEqual([]);
    },
  );
});

describe('deploy.yml (reusable)', () => {
  const doc = load(TEMPLATE);
  const job = doc.jobs.deploy as Obj;
  const steps = job.steps as Obj[];

  it('is a workflow_call workflow with id-token: write and contents: read', () => {
    expect(Object.keys(doc.on)).toEqual(['workflow_call']);
    expect(doc.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
    expect(job.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
  });

  it('exposes every output a deploy sets, and only outputs action.yml declares', () => {
    const outputs = Object.keys(doc.on.workflow_call.outputs).sort();
    const declared = [...readAction(ACTION).outputs];
    for (const o of outputs) expect(declared).toContain(o);
    const deployOutputs = OUTPUTS.filter((o) => o.commands.includes('deploy')).map((o) => o.name);
    expect(deployOutputs.length).toBeGreaterThan(0);
    for (const o of deployOutputs) expect(outputs).toContain(o);
    // Each workflow output reads the job output of the same name, which reads the step's.
    for (const o of outputs) {
      expect(doc.on.workflow_call.outputs[o].value).toBe(`\${{ jobs.deploy.outputs.${o} }}`);
      expect(job.outputs[o]).toBe(`\${{ steps.runpack.outputs.${o} }}`);
    }
  });

  it('takes secrets creds and publish-profile as optional, OIDC ids and the artifact as inputs', () => {
    const call = doc.on.workflow_call;
    expect(call.secrets.creds.required).toBe(false);
    expect(call.secrets['publish-profile'].required).toBe(false);
    for (const name of [
      'client-id',
      'tenant-id',
      'subscription-id',
      'artifact',
      'artifact-path',
      'environment',
      'runs-on',
    ]) {
      expect(call.inputs).toHaveProperty(name);
    }
    expect(call.inputs.artifact.required).toBe(true);
  });

  it('downloads the artifact, then runs the action checked out at this workflow’s own commit (never the caller’s ./)', () => {
    const uses = steps.map((s) => s.uses as string | undefined);
    const download = uses.indexOf('actions/download-artifact@v4');
    const run = steps.findIndex((s) => s.id === 'runpack');
    expect(download).toBeGreaterThanOrEqual(0);
    expect(run).toBeGreaterThan(download);
    expect(uses).not.toContain('./');
    const checkout = steps.find((s) => s.uses === 'actions/checkout@v4')!;
    expect(checkout.with.repository).toBe('${{ job.workflow_repository }}');
    expect(checkout.with.ref).toBe('${{ job.workflow_sha }}');
    expect(steps[run].uses).toBe(`./${checkout.with.path}`);
    expect(steps[run].with.package).toContain('${{ inputs.artifact-path }}');
  });
});

describe('rollback.yml', () => {
  const doc = load(path.join(WORKFLOWS, 'rollback.yml'));
  const [job] = Object.values(doc.jobs) as Obj[];

  it('is dispatched by hand with app, resource group, slot and release (default previous)', () => {
    const inputs = doc.on.workflow_dispatch.inputs;
    expect(Object.keys(inputs)).toEqual(
      expect.arrayContaining(['app-name', 'resource-group', 'slot', 'release']),
    );
    expect(inputs.release.default).toBe('previous');
  });

  it('runs in a protected environment with id-token: write, using the action from this repository', () => {
    expect(job.environment).toBeTruthy();
    expect(job.permissions['id-token']).toBe('write');
    const steps = job.steps as Obj[];
    const checkout = steps.findIndex(
      (s) => typeof s.uses === 'string' && s.uses.startsWith('actions/checkout@'),
    );
    const run = steps.findIndex((s) => s.uses === './');
    expect(checkout).toBeGreaterThanOrEqual(0);
    expect(run).toBeGreaterThan(checkout);
    expect(steps[run].with.command).toBe('rollback');
    expect(steps[run].with.release).toBe('${{ inputs.release }}');
  });
});

describe('the example callers', () => {
  it('upload the publish folder in a build job and call the template from a deploy job', () => {
    const doc = load(path.join(EXAMPLES, 'deploy-caller.yml'));
    const build = doc.jobs.build as Obj;
    const upload = (build.steps as Obj[]).find((s) => String(s.uses).startsWith('actions/upload-artifact@'))!;
    expect(doc.jobs.deploy.uses).toMatch(/\/runpack\/\.github\/workflows\/deploy\.yml@v1$/);
    expect(doc.jobs.deploy.with.artifact).toBe(upload.with.name);
    expect(doc.jobs.deploy.permissions['id-token']).toBe('write');
  });

  it('deploy one package to several apps with a matrix', () => {
    const doc = load(path.join(EXAMPLES, 'deploy-matrix.yml'));
    expect(doc.jobs.deploy.strategy.matrix.include.length).toBeGreaterThan(1);
    expect(doc.jobs.deploy.with['app-name']).toBe('${{ matrix.app }}');
  });
});

describe('docs/workflows.md', () => {
  it('documents every input of the deploy workflow', () => {
    const md = readFileSync(path.join(ROOT, 'docs', 'workflows.md'), 'utf8');
    for (const name of readTemplate(TEMPLATE).inputs.keys()) expect(md).toContain(`| \`${name}\``);
  });

  it('shows each example caller exactly as the validated file (without its header comment)', () => {
    const md = readFileSync(path.join(ROOT, 'docs', 'workflows.md'), 'utf8');
    const blocks = [...md.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
    for (const name of ['deploy-caller.yml', 'deploy-matrix.yml']) {
      const body = readFileSync(path.join(EXAMPLES, name), 'utf8')
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .join('\n')
        .replace(/^\n+/, '');
      expect(blocks).toContain(body);
    }
  });
});

describe('the validator catches broken workflows', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runpack-wf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const broken = (name: string, from: string, edit: (text: string) => string): string => {
    const text = readFileSync(from, 'utf8');
    const changed = edit(text);
    expect(changed).not.toBe(text); // the edit applied
    const file = path.join(dir, name);
    writeFileSync(file, changed);
    return file;
  };

  it('a typo in an input passed to the action', () => {
    const file = broken('typo.yml', TEMPLATE, (t) =>
      t.replace('          app-name: ${{ inputs.app-name }}', '          app-nme: ${{ inputs.app-name }}'),
    );
    const problems = crossCheck(file, readAction(ACTION), readTemplate(TEMPLATE));
    expect(problems).toContain(
      "typo.yml: jobs.deploy.steps[3].with.app-nme: action.yml declares no input 'app-nme'",
    );
    expect(problems).toContain(
      "typo.yml: jobs.deploy.steps[3].with: required action input 'app-name' is missing",
    );
  });

  it('a bad expression', async () => {
    const file = broken('expr.yml', TEMPLATE, (t) =>
      t.replace('slot: ${{ inputs.slot }}', 'slot: ${{ inputs.slot ) }}'),
    );
    const errors = await parserErrors(file, TEMPLATE);
    expect(errors.join('\n')).toMatch(/expr\.yml \(Line: \d+, Col: \d+\): Unexpected symbol: '\)'/);
  });

  it('a reference to an undeclared input and an output the action does not have', () => {
    const file = broken('refs.yml', TEMPLATE, (t) =>
      t
        .replace('${{ inputs.expect }}', '${{ inputs.expected }}')
        .replace('steps.runpack.outputs.verified', 'steps.runpack.outputs.verifed'),
    );
    const problems = crossCheck(file, readAction(ACTION), readTemplate(TEMPLATE));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/refs\.yml: .*expect: \$\{\{ inputs\.expected \}\} is not a declared input/),
        expect.stringMatching(
          /refs\.yml: jobs\.deploy\.outputs\.verified: action\.yml declares no output 'verifed'/,
        ),
      ]),
    );
  });

  it('a caller passing an input the template does not declare (both checks)', async () => {
    const file = broken('caller.yml', path.join(EXAMPLES, 'deploy-caller.yml'), (t) =>
      t.replace('      slot: staging', '      slots: staging'),
    );
    expect(crossCheck(file, readAction(ACTION), readTemplate(TEMPLATE))).toContain(
      "caller.yml: jobs.deploy.with.slots: the deploy workflow has no input 'slots'",
    );
    expect((await parserErrors(file, TEMPLATE)).join('\n')).toContain(
      'slots is not defined in the referenced workflow',
    );
  });

  it('a schema error (unknown job key)', async () => {
    const file = broken('schema.yml', path.join(WORKFLOWS, 'rollback.yml'), (t) =>
      t.replace('    runs-on: ubuntu-latest', '    run-on: ubuntu-latest'),
    );
    expect((await parserErrors(file, TEMPLATE)).join('\n')).toContain("Unexpected value 'run-on'");
  });
});
