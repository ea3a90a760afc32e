/**
 * Entry point of the Azure Pipelines task (bundled to extension/RunpackDeploy/index.js): the task's inputs and
 * its service connection in, the same engine as the action and the CLI, output variables, the run summary and
 * the task result out. Everything said to the agent goes through azure-pipelines-task-lib.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as tl from 'azure-pipelines-task-lib/task.js';
import { CONNECTION_INPUT, CONNECTION_REPLACES } from './azdo/task-manifest.js';
import {
  connectionLogin,
  connectionSecrets,
  readServiceConnection,
  type EndpointReader,
  type ServiceConnection,
} from './azure/service-connection.js';
import type { CloudEndpoints } from './azure/cloud.js';
import { runDeploy } from './deploy/run.js';
import { listenForCancellation } from './util/cancel.js';
import type { DeployInputs } from './deploy/types.js';
import { parseInputs, secretInputValues, speak, TASK_NAMING, taskInputName } from './inputs.js';
import { opsOptions, runOpsAction, type OpsCommand } from './ops/action.js';
import { mapSink, type LogSink } from './report/log.js';
import { createSecretRegistry, type SecretRegistry } from './report/secrets.js';
import { outputsOf, renderSummary } from './report/summary.js';
import { describeError, UsageError } from './util/errors.js';

let lastProgress = '';
/** Messages in the task's words (`packageAccess: sas`, `Input 'healthPath'`). */
const say = (text: string) => speak(text, TASK_NAMING);
const agentSink: LogSink = {
  info: (l) => console.log(l),
  warn: (l) => tl.warning(l),
  error: (l) => tl.error(l),
  debug: (l) => tl.debug(l),
  // Log groups are a formatting command of the agent's log viewer; task-lib has no call for them.
  startGroup: (n) => console.log(`##[group]${n}`),
  endGroup: () => console.log('##[endgroup]'),
  progress: (percent, operation) => {
    const key = `${operation}:${percent}`;
    if (key === lastProgress) return;
    lastProgress = key;
    tl.setProgress(percent, operation);
  },
};

const sink = mapSink(agentSink, say);

const reader: EndpointReader = {
  url: (id) => tl.getEndpointUrl(id, true),
  scheme: (id) => tl.getEndpointAuthorizationScheme(id, true),
  auth: (id, key) => tl.getEndpointAuthorizationParameter(id, key, true),
  data: (id, key) => tl.getEndpointDataParameter(id, key, true),
};

/** The raw value of an input by its table name, as the task spells it (camelCase). */
function raw(connection: ServiceConnection | null) {
  return (name: string): string | undefined => {
    if (name === 'resource-manager-endpoint') return connection?.resourceManagerUrl;
    if (CONNECTION_REPLACES.includes(name)) return undefined;
    if (name === 'subscription-id')
      return tl.getInput(taskInputName(name)) || connection?.subscriptionId || undefined;
    return tl.getInput(taskInputName(name)) ?? undefined;
  };
}

function fail(secrets: SecretRegistry, message: string): void {
  tl.setResult(tl.TaskResult.Failed, secrets.redact(say(message)));
}

/** The markdown summary attached to the run (task.uploadsummary), from a file in the agent's temp folder. */
function uploadSummary(markdown: string): void {
  const dir = mkdtempSync(join(tl.getVariable('Agent.TempDirectory') || tmpdir(), 'runpack-summary-'));
  const file = join(dir, 'runpack.md');
  writeFileSync(file, markdown);
  tl.uploadSummary(file);
}

/** Output variables (isOutput, so later jobs and stages read them), named as in task.json (camelCase). */
function setOutputs(outputs: Record<string, string>): void {
  for (const [k, v] of Object.entries(outputs)) tl.setVariable(taskInputName(k), v, false, true);
}

function runUrl(): string | undefined {
  const collection =
    tl.getVariable('System.CollectionUri') ?? tl.getVariable('System.TeamFoundationCollectionUri');
  const project = tl.getVariable('System.TeamProject');
  const build = tl.getVariable('Build.BuildId');
  if (!collection || !project || !build) return undefined;
  return `${collection.replace(/\/+$/, '')}/${encodeURIComponent(project)}/_build/results?buildId=${build}`;
}

/**
 * The agent's proxy (Agent.ProxyUrl, with its credentials and bypass list) for runpack's HTTP, which follows
 * HTTPS_PROXY and NO_PROXY; a proxy already set in the environment wins.
 */
function useAgentProxy(secrets: SecretRegistry): void {
  if (process.env.HTTPS_PROXY || process.env.https_proxy) return;
  const proxy = tl.getHttpProxyConfiguration();
  if (!proxy?.proxyUrl) return;
  const url = new URL(proxy.proxyUrl);
  if (proxy.proxyUsername) url.username = encodeURIComponent(proxy.proxyUsername);
  if (proxy.proxyPassword) {
    secrets.add(proxy.proxyPassword);
    url.password = encodeURIComponent(proxy.proxyPassword);
  }
  process.env.HTTPS_PROXY = url.toString();
  process.env.HTTP_PROXY = url.toString();
  // The agent's bypass list holds regular expressions; the plain host names among them carry over.
  const hosts = (proxy.proxyBypassHosts ?? []).filter((h) => /^[\w.-]+$/.test(h));
  if (hosts.length && !process.env.NO_PROXY) process.env.NO_PROXY = hosts.join(',');
}

async function run(): Promise<void> {
  const secrets = createSecretRegistry((v) => tl.setSecret(v));
  // Mask secret inputs before anything could print them.
  for (const s of secretInputValues(raw(null))) secrets.add(s);
  useAgentProxy(secrets);

  // Everything is checked before any Azure call: the connection's shape, then every input.
  let connection: ServiceConnection;
  let inputs: DeployInputs;
  try {
    const id = tl.getInput(CONNECTION_INPUT);
    if (!id)
      throw new UsageError(
        `Input '${CONNECTION_INPUT}' is required: the Azure Resource Manager service connection to deploy with.`,
      );
    connection = readServiceConnection(id, CONNECTION_INPUT, reader);
    for (const s of connectionSecrets(connection)) secrets.add(s);
    inputs = parseInputs(raw(connection), { GITHUB_SHA: tl.getVariable('Build.SourceVersion') }, TASK_NAMING);
  } catch (err) {
    tl.setVariable('verified', 'false', false, true);
    fail(secrets, describeError(err));
    return;
  }

  const systemAccessToken =
    tl.getEndpointAuthorizationParameter('SystemVssConnection', 'AccessToken', true) ??
    tl.getVariable('System.AccessToken');
  if (systemAccessToken) secrets.add(systemAccessToken);
  const login = (cloud: CloudEndpoints) => connectionLogin(connection, cloud, { secrets, systemAccessToken });
  const noGitHubToken = () =>
    Promise.reject(
      new Error('GitHub OIDC is not available in Azure Pipelines; the service connection logs in.'),
    );

  if (inputs.command && inputs.command !== 'deploy') {
    const command = inputs.command as OpsCommand;
    const cancellation = listenForCancellation();
    const result = await runOpsAction(command, inputs, opsOptions(inputs), {
      env: process.env,
      sink,
      secrets,
      getIdToken: noGitHubToken,
      login,
      signal: cancellation.signal,
    });
    cancellation.dispose();
    setOutputs(result.outputs);
    if (result.outputs.verified === undefined && command === 'rollback')
      tl.setVariable('verified', 'false', false, true);
    if (result.summary) uploadSummary(secrets.redact(say(result.summary)));
    if (!result.ok) fail(secrets, result.error ?? `runpack ${command} failed.`);
    else tl.setResult(tl.TaskResult.Succeeded, `runpack ${command} done.`);
    return;
  }

  const cancellation = listenForCancellation();
  const result = await runDeploy(inputs, {
    env: process.env,
    sink,
    secrets,
    getIdToken: noGitHubToken,
    login,
    tempDir: tl.getVariable('Agent.TempDirectory'),
    runUrl: runUrl(),
    workspace: tl.getVariable('Build.SourcesDirectory'),

    signal: cancellation.signal,
  });
  cancellation.dispose();
  setOutputs(outputsOf(result));
  try {
    uploadSummary(say(renderSummary(result, secrets)));
  } catch (err) {
    tl.warning(`Could not attach the run summary: ${describeError(err)}`);
  }
  if (!result.ok) {
    fail(secrets, result.error ?? 'The deploy failed.');
    return;
  }
  const warnings = (result.fleet ?? [result])
    .flatMap((r) => r.findings)
    .filter((f) => f.severity === 'warning');
  const done = result.noop
    ? `Release ${result.releaseId} was already live and verified.`
    : `Release ${result.releaseId} is live and verified on ${result.app}${result.slot ? `/${result.slot}` : ''}.`;
  if (warnings.length)
    tl.setResult(
      tl.TaskResult.SucceededWithIssues,
      say(`${done} ${warnings.length} warning(s): ${warnings[0].message}`),
    );
  else tl.setResult(tl.TaskResult.Succeeded, done);
}

run().catch((err: unknown) => tl.setResult(tl.TaskResult.Failed, describeError(err)));
