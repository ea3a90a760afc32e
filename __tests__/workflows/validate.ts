/**
 * Workflow validation used by the workflow tests: GitHub's own parser (@actions/workflow-parser) for schema
 * and expression errors, plus cross-checks between the workflows, action.yml and the reusable workflow:
 * inputs passed to the runpack action exist, `${{ inputs.x }}` refers to a declared input, the reusable
 * workflow's outputs come from outputs the action declares, and callers pass only inputs the template has.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { parse as parseYaml } from 'yaml';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface ActionSpec {
  inputs: Map<string, { required: boolean; hasDefault: boolean }>;
  outputs: Set<string>;
}

export function readAction(file: string): ActionSpec {
  const doc = parseYaml(readFileSync(file, 'utf8')) as Obj;
  const inputs = new Map<string, { required: boolean; hasDefault: boolean }>();
  for (const [name, def] of Object.entries((doc.inputs as Obj) ?? {})) {
    const d = isObj(def) ? def : {};
    inputs.set(name, { required: d.required === true, hasDefault: d.default !== undefined });
  }
  return { inputs, outputs: new Set(Object.keys((doc.outputs as Obj) ?? {})) };
}

/** The reusable workflow's interface, as callers see it. */
export interface TemplateSpec {
  inputs: Map<string, { required: boolean }>;
  secrets: Set<string>;
  outputs: Set<string>;
}

export function readTemplate(file: string): TemplateSpec {
  const doc = parseYaml(readFileSync(file, 'utf8')) as Obj;
  const call = ((doc.on as Obj)?.workflow_call as Obj) ?? {};
  const inputs = new Map<string, { required: boolean }>();
  for (const [name, def] of Object.entries((call.inputs as Obj) ?? {})) {
    inputs.set(name, { required: isObj(def) && def.required === true });
  }
  return {
    inputs,
    secrets: new Set(Object.keys((call.secrets as Obj) ?? {})),
    outputs: new Set(Object.keys((call.outputs as Obj) ?? {})),
  };
}

/** How a `uses:` names the runpack action: this repository (`./`), its checkout in the template, or by repository. */
export function isRunpackAction(uses: string): boolean {
  return uses === './' || uses === './.runpack/action' || /^[\w.-]+\/runpack@/.test(uses);
}

/** How a job names the reusable deploy workflow: locally or `<owner>/runpack/.github/workflows/deploy.yml@ref`. */
export function isDeployTemplate(uses: string): boolean {
  return (
    uses === './.github/workflows/deploy.yml' ||
    /^[\w.-]+\/runpack\/\.github\/workflows\/deploy\.yml@/.test(uses)
  );
}

/** Schema and expression errors reported by GitHub's workflow parser; called workflows are resolved to `templateFile`. */
export async function parserErrors(file: string, templateFile: string): Promise<string[]> {
  const content = readFileSync(file, 'utf8');
  const name = path.basename(file);
  const result = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  const errors = result.context.errors.getErrors().map((e) => e.message);
  if (errors.length > 0 || !result.value) return errors;
  const provider = {
    getFileContent: async (ref: { path: string }) => {
      if (!ref.path.endsWith('.github/workflows/deploy.yml')) {
        throw new Error(`${name}: calls ${ref.path}, which is not the runpack deploy workflow`);
      }
      return { name: 'deploy.yml', content: readFileSync(templateFile, 'utf8') };
    },
  };
  const template = await convertWorkflowTemplate(result.context, result.value, provider, {
    fetchReusableWorkflowDepth: 1,
  });
  return (template.errors ?? []).map((e) => e.Message);
}

/** Every string in a YAML value, with a readable location. */
function strings(
  v: unknown,
  where: string,
  out: { where: string; text: string }[] = [],
): { where: string; text: string }[] {
  if (typeof v === 'string') out.push({ where, text: v });
  else if (Array.isArray(v)) v.forEach((x, i) => strings(x, `${where}[${i}]`, out));
  else if (isObj(v)) for (const [k, x] of Object.entries(v)) strings(x, where ? `${where}.${k}` : k, out);
  return out;
}

function expressions(text: string): string[] {
  return [...text.matchAll(/\$\{\{([\s\S]*?)\}\}/g)].map((m) => m[1]);
}

function refs(expr: string, re: RegExp): RegExpMatchArray[] {
  return [...expr.matchAll(re)];
}

const INPUT_REF = /(?<![\w.-])inputs\.([A-Za-z_][\w-]*)/g;
const SECRET_REF = /(?<![\w.-])secrets\.([A-Za-z_][\w-]*)/g;
const STEP_OUTPUT_REF = /(?<![\w.-])steps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)/g;
const NEEDS_OUTPUT_REF = /(?<![\w.-])needs\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)/g;
const JOB_OUTPUT_REF = /(?<![\w.-])jobs\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)/g;

/**
 * Cross-checks one workflow against action.yml and the reusable workflow. Returns one line per problem,
 * `file: where: what`, empty when the workflow is consistent.
 */
export function crossCheck(file: string, action: ActionSpec, template: TemplateSpec): string[] {
  const name = path.basename(file);
  const problems: string[] = [];
  const report = (where: string, what: string) => problems.push(`${name}: ${where}: ${what}`);
  const doc = parseYaml(readFileSync(file, 'utf8')) as Obj;
  const on = isObj(doc.on) ? doc.on : {};
  const call = isObj(on.workflow_call) ? on.workflow_call : null;
  const dispatch = isObj(on.workflow_dispatch) ? on.workflow_dispatch : null;
  const declaredInputs = new Set<string>([
    ...Object.keys((call?.inputs as Obj) ?? {}),
    ...Object.keys((dispatch?.inputs as Obj) ?? {}),
  ]);
  const declaredSecrets = new Set(Object.keys((call?.secrets as Obj) ?? {}));
  const jobs = isObj(doc.jobs) ? doc.jobs : {};

  // ${{ inputs.x }} must name a declared input; in a called workflow ${{ secrets.x }} a declared secret.
  if (call || dispatch) {
    for (const s of strings(doc, '')) {
      for (const e of expressions(s.text)) {
        for (const m of refs(e, INPUT_REF)) {
          if (!declaredInputs.has(m[1])) report(s.where, `\${{ inputs.${m[1]} }} is not a declared input`);
        }
        if (call) {
          for (const m of refs(e, SECRET_REF)) {
            if (!declaredSecrets.has(m[1]))
              report(s.where, `\${{ secrets.${m[1]} }} is not a declared workflow_call secret`);
          }
        }
      }
    }
  }

  // Per job: steps that run the runpack action, and jobs that call the reusable workflow.
  const jobOutputs = new Map<string, Set<string>>();
  const templateJobs = new Set<string>();
  for (const [jobId, jobDef] of Object.entries(jobs)) {
    if (!isObj(jobDef)) continue;
    const uses = typeof jobDef.uses === 'string' ? jobDef.uses : '';
    if (uses && isDeployTemplate(uses)) {
      templateJobs.add(jobId);
      const withs = isObj(jobDef.with) ? jobDef.with : {};
      for (const key of Object.keys(withs)) {
        if (!template.inputs.has(key))
          report(`jobs.${jobId}.with.${key}`, `the deploy workflow has no input '${key}'`);
      }
      for (const [key, def] of template.inputs) {
        if (def.required && !(key in withs))
          report(`jobs.${jobId}.with`, `required deploy workflow input '${key}' is missing`);
      }
      if (isObj(jobDef.secrets)) {
        for (const key of Object.keys(jobDef.secrets)) {
          if (!template.secrets.has(key))
            report(`jobs.${jobId}.secrets.${key}`, `the deploy workflow has no secret '${key}'`);
        }
      }
      continue;
    }
    const steps = Array.isArray(jobDef.steps) ? jobDef.steps : [];
    const runpackSteps = new Set<string>();
    steps.forEach((step, i) => {
      if (!isObj(step) || typeof step.uses !== 'string' || !isRunpackAction(step.uses)) return;
      if (typeof step.id === 'string') runpackSteps.add(step.id);
      const withs = isObj(step.with) ? step.with : {};
      for (const key of Object.keys(withs)) {
        if (!action.inputs.has(key))
          report(`jobs.${jobId}.steps[${i}].with.${key}`, `action.yml declares no input '${key}'`);
      }
      for (const [key, def] of action.inputs) {
        if (def.required && !def.hasDefault && !(key in withs)) {
          report(`jobs.${jobId}.steps[${i}].with`, `required action input '${key}' is missing`);
        }
      }
    });
    // steps.<runpack step>.outputs.x must be an output action.yml declares.
    for (const s of strings(jobDef, `jobs.${jobId}`)) {
      for (const e of expressions(s.text)) {
        for (const m of refs(e, STEP_OUTPUT_REF)) {
          if (runpackSteps.has(m[1]) && !action.outputs.has(m[2])) {
            report(s.where, `action.yml declares no output '${m[2]}' (steps.${m[1]}.outputs.${m[2]})`);
          }
        }
      }
    }
    const outs = new Set<string>();
    if (isObj(jobDef.outputs)) {
      for (const [key, value] of Object.entries(jobDef.outputs)) {
        outs.add(key);
        if (call && typeof value === 'string') {
          const fromRunpack = expressions(value).some((e) =>
            refs(e, STEP_OUTPUT_REF).some((m) => runpackSteps.has(m[1])),
          );
          if (!fromRunpack) report(`jobs.${jobId}.outputs.${key}`, 'does not come from the runpack step');
        }
      }
    }
    jobOutputs.set(jobId, outs);
  }

  // needs.<job calling the template>.outputs.x must be a template output.
  for (const s of strings(jobs, 'jobs')) {
    for (const e of expressions(s.text)) {
      for (const m of refs(e, NEEDS_OUTPUT_REF)) {
        if (templateJobs.has(m[1]) && !template.outputs.has(m[2])) {
          report(s.where, `the deploy workflow has no output '${m[2]}'`);
        }
      }
    }
  }

  // A called workflow's outputs: jobs.<job>.outputs.<name> that exists (and so comes from the runpack step).
  if (call && isObj(call.outputs)) {
    for (const [key, def] of Object.entries(call.outputs)) {
      const value = isObj(def) && typeof def.value === 'string' ? def.value : '';
      const found = expressions(value).flatMap((e) => refs(e, JOB_OUTPUT_REF));
      if (found.length === 0) report(`on.workflow_call.outputs.${key}`, 'does not map to a job output');
      for (const m of found) {
        if (!jobOutputs.get(m[1])?.has(m[2]))
          report(`on.workflow_call.outputs.${key}`, `job '${m[1]}' has no output '${m[2]}'`);
      }
    }
  }
  return problems;
}
