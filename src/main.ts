/** Entry point of the GitHub Action (bundled to dist/index.js): inputs in, engine, outputs and job summary out. */
import * as core from '@actions/core';
import { runDeploy } from './deploy/run.js';
import { listenForCancellation } from './util/cancel.js';
import { parseInputs, secretInputValues } from './inputs.js';
import type { LogSink } from './report/log.js';
import { createSecretRegistry } from './report/secrets.js';
import { outputsOf, renderSummary } from './report/summary.js';
import { describeError } from './util/errors.js';
import { opsOptions, runOpsAction, type OpsCommand } from './ops/action.js';
import type { DeployInputs } from './deploy/types.js';
import type { SecretRegistry } from './report/secrets.js';

const sink: LogSink = {
  info: (l) => core.info(l),
  warn: (l) => core.warning(l),
  error: (l) => core.error(l),
  debug: (l) => core.debug(l),
  startGroup: (n) => core.startGroup(n),
  endGroup: () => core.endGroup(),
};

async function run(): Promise<void> {
  const secrets = createSecretRegistry((v) => core.setSecret(v));
  const raw = (name: string) => core.getInput(name);
  // Mask secret inputs before anything could print them.
  for (const s of secretInputValues(raw)) secrets.add(s);
  let inputs;
  try {
    inputs = parseInputs(raw, process.env);
  } catch (err) {
    core.setOutput('verified', 'false');
    core.setFailed(secrets.redact(describeError(err)));
    return;
  }
  if (inputs.command && inputs.command !== 'deploy') {
    await operate(inputs, secrets);
    return;
  }
  const cancellation = listenForCancellation();
  const result = await runDeploy(inputs, {
    env: process.env,
    sink,
    secrets,
    getIdToken: (audience) => core.getIDToken(audience),
    annotate: (a) => (a.level === 'error' ? core.error : core.warning)(a.message, a.properties),

    signal: cancellation.signal,
  });
  cancellation.dispose();
  for (const [k, v] of Object.entries(outputsOf(result))) core.setOutput(k, v);
  try {
    if (process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(renderSummary(result, secrets)).write();
  } catch (err) {
    core.warning(`Could not write the job summary: ${describeError(err)}`);
  }
  if (!result.ok) core.setFailed(secrets.redact(result.error ?? 'The deploy failed.'));
}

/** Operator commands (`rollback`, `diagnose`, `releases`): src/ops/action.ts does the work. */
async function operate(inputs: DeployInputs, secrets: SecretRegistry): Promise<void> {
  const command = inputs.command as OpsCommand;
  const cancellation = listenForCancellation();
  const result = await runOpsAction(command, inputs, opsOptions(inputs), {
    env: process.env,
    sink,
    secrets,
    getIdToken: (audience) => core.getIDToken(audience),
    signal: cancellation.signal,
  });
  cancellation.dispose();
  for (const [k, v] of Object.entries(result.outputs)) core.setOutput(k, v);
  if (result.outputs.verified === undefined && command === 'rollback') core.setOutput('verified', 'false');
  try {
    if (process.env.GITHUB_STEP_SUMMARY && result.summary)
      await core.summary.addRaw(secrets.redact(result.summary)).write();
  } catch (err) {
    core.warning(`Could not write the job summary: ${describeError(err)}`);
  }
  if (!result.ok) core.setFailed(secrets.redact(result.error ?? `runpack ${command} failed.`));
}

run().catch((err: unknown) => core.setFailed(describeError(err)));
