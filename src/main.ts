/** Entry point of the GitHub Action (bundled to dist/index.js): inputs in, engine, outputs and job summary out. */
import * as core from '@actions/core';
import { runEngine } from './deploy/engine.js';
import { parseInputs, secretInputValues } from './inputs.js';
import type { LogSink } from './report/log.js';
import { createSecretRegistry } from './report/secrets.js';
import { outputsOf, renderSummary } from './report/summary.js';
import { describeError } from './util/errors.js';
import { runRollback } from './ops/rollback.js';
import { openSession } from './ops/session.js';
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
  if (inputs.command === 'rollback') {
    await rollback(inputs, secrets);
    return;
  }
  const result = await runEngine(inputs, {
    env: process.env,
    sink,
    secrets,
    getIdToken: (audience) => core.getIDToken(audience),
  });
  for (const [k, v] of Object.entries(outputsOf(result))) core.setOutput(k, v);
  try {
    if (process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(renderSummary(result, secrets)).write();
  } catch (err) {
    core.warning(`Could not write the job summary: ${describeError(err)}`);
  }
  if (!result.ok) core.setFailed(secrets.redact(result.error ?? 'The deploy failed.'));
}

/** `command: rollback`: make an earlier release live again, restart and verify (src/ops/rollback.ts). */
async function rollback(inputs: DeployInputs, secrets: SecretRegistry): Promise<void> {
  try {
    const session = await openSession(inputs, {
      env: process.env,
      sink,
      secrets,
      getIdToken: (audience) => core.getIDToken(audience),
    });
    const result = await runRollback(session, {
      release: inputs.release!,
      dryRun: false,
      containerGiven: core.getInput('container') !== '',
    });
    const p = result.plan;
    core.setOutput('release-id', p.to.id);
    core.setOutput('package-sha256', p.to.sha256);
    core.setOutput('previous-release-id', p.from?.id ?? '');
    core.setOutput('mode', p.mode);
    core.setOutput('app-url', session.target.appUrl);
    core.setOutput('verified', result.ok ? 'true' : 'false');
    if (process.env.GITHUB_STEP_SUMMARY) {
      const lines = [
        '## runpack rollback',
        '',
        `${result.ok ? '✅' : '❌'} ${p.slot ? `${p.app}/${p.slot}` : p.app}: ${p.from?.id ?? 'unknown'} → \`${p.to.id}\` (${p.mode} mode)`,
        '',
        ...p.steps.map((x) => `- ${x}`),
        '',
        ...result.levels.map((l) => `- ${l.level}: ${l.status} — ${l.detail}`),
      ];
      await core.summary.addRaw(secrets.redact(lines.join('\n') + '\n')).write();
    }
    if (!result.ok) core.setFailed(secrets.redact(result.error ?? 'The rollback did not verify.'));
  } catch (err) {
    core.setOutput('verified', 'false');
    core.setFailed(secrets.redact(describeError(err)));
  }
}

run().catch((err: unknown) => core.setFailed(describeError(err)));
