/**
 * Runs the bundled Azure Pipelines task (extension/RunpackDeploy/index.js) as the agent does: a node process with
 * the task's inputs as INPUT_*, its service connection as ENDPOINT_URL_/ENDPOINT_AUTH_/ENDPOINT_AUTH_PARAMETER_/
 * ENDPOINT_DATA_ variables, the job's SYSTEM_*, BUILD_* and AGENT_* variables, and the job access token as the
 * SystemVssConnection's AccessToken. The `##vso[...]` commands it prints are parsed the way the agent reads them.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningEmulator } from '../../emulator/src/index.js';
import { REPO_ROOT, runNodeProcess } from '../e2e/helpers/action.js';

export const TASK = join(REPO_ROOT, 'extension', 'RunpackDeploy', 'index.js');

export interface VsoCommand {
  name: string;
  props: Record<string, string>;
  data: string;
}

export interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
  commands: VsoCommand[];
  /** task.setvariable with isOutput=true. */
  outputs: Record<string, string>;
  /** task.complete */
  result?: { result: string; message: string };
  /** task.logissue / task.issue */
  issues: { type: string; message: string }[];
  /** The contents of every file given to task.uploadsummary. */
  summary: string;
  /** Values registered with task.setsecret. */
  secretsSet: string[];
  progress: { value: number; text: string }[];
  /** What the run's log and summary show a user (setsecret lines are consumed by the agent). */
  everything: string;
}

const unescapeData = (s: string) => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
const unescapeProp = (s: string) =>
  s
    .replace(/%3B/g, ';')
    .replace(/%5D/g, ']')
    .replace(/%0D/g, '\r')
    .replace(/%0A/g, '\n')
    .replace(/%25/g, '%');

export function parseVso(stdout: string): VsoCommand[] {
  const out: VsoCommand[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^##vso\[([\w.]+)((?:\s[^\]]*)?)\](.*)$/.exec(line.replace(/\r$/, ''));
    if (!m) continue;
    const props: Record<string, string> = {};
    for (const kv of m[2].trim().split(';')) {
      const eq = kv.indexOf('=');
      if (eq > 0) props[kv.slice(0, eq).trim()] = unescapeProp(kv.slice(eq + 1));
    }
    out.push({ name: m[1], props, data: unescapeData(m[3]) });
  }
  return out;
}

export type Scheme = 'wif' | 'wif-entra-issuer' | 'wif-untrusted' | 'spn-secret' | 'spn-certificate' | 'msi';

export interface TaskOptions {
  scheme?: Scheme;
  /** Extra environment (wins over the defaults). */
  env?: Record<string, string>;
  /** Change the service connection's endpoint variables (after the defaults). */
  connection?: (vars: Record<string, string>, id: string) => void;
  timeoutMs?: number;
  cwd?: string;
  /** Another copy of the task to run (for example one extracted from the .vsix). */
  taskPath?: string;
}

/** The agent's variables for the service connection `id` of the given scheme. */
export function connectionVars(emu: RunningEmulator, id: string, scheme: Scheme): Record<string, string> {
  const params: Record<string, string> =
    scheme === 'msi'
      ? { tenantid: emu.tenantId }
      : { tenantid: emu.tenantId, serviceprincipalid: emu.servicePrincipal.clientId };
  let authScheme = scheme === 'msi' ? 'ManagedServiceIdentity' : 'WorkloadIdentityFederation';
  if (scheme === 'spn-secret') {
    authScheme = 'ServicePrincipal';
    params.authenticationType = 'spnKey';
    params.serviceprincipalkey = emu.servicePrincipal.clientSecret;
  }
  if (scheme === 'spn-certificate') {
    authScheme = 'ServicePrincipal';
    params.authenticationType = 'spnCertificate';
    params.servicePrincipalCertificate = emu.servicePrincipal.certificatePem;
  }
  const vars: Record<string, string> = {
    [`ENDPOINT_URL_${id}`]: emu.resourceManagerEndpoint,
    [`ENDPOINT_AUTH_${id}`]: JSON.stringify({ parameters: params, scheme: authScheme }),
    [`ENDPOINT_AUTH_SCHEME_${id}`]: authScheme,
    [`ENDPOINT_DATA_${id}_SUBSCRIPTIONID`]: emu.subscriptionId,
    [`ENDPOINT_DATA_${id}_SUBSCRIPTIONNAME`]: 'runpack emulator',
    [`ENDPOINT_DATA_${id}_ENVIRONMENT`]: 'AzureStack',
    [`ENDPOINT_DATA_${id}_SCOPELEVEL`]: 'Subscription',
  };
  for (const [k, v] of Object.entries(params)) vars[`ENDPOINT_AUTH_PARAMETER_${id}_${k.toUpperCase()}`] = v;
  return vars;
}

function connectionFor(emu: RunningEmulator, scheme: Scheme) {
  const name =
    scheme === 'wif-entra-issuer'
      ? 'runpack-entra-issuer'
      : scheme === 'wif-untrusted'
        ? 'untrusted-connection'
        : 'runpack-emulator';
  const c = emu.azurePipelines?.connections.find((x) => x.name === name);
  if (!c) throw new Error(`the emulator has no service connection ${name}`);
  return c;
}

let counter = 0;

export async function runTask(
  emu: RunningEmulator,
  work: string,
  inputs: Record<string, string>,
  options: TaskOptions = {},
): Promise<TaskRun> {
  const taskPath = options.taskPath ?? TASK;
  if (!existsSync(taskPath)) throw new Error(`${taskPath} is missing: run npm run build first`);
  const dir = join(work, `task-run-${++counter}`);
  const temp = join(dir, '_temp');
  mkdirSync(temp, { recursive: true });
  const scheme = options.scheme ?? 'wif';
  const conn = connectionFor(emu, scheme);
  const vars = connectionVars(emu, conn.id, scheme);
  options.connection?.(vars, conn.id);
  // A self-hosted agent on an Azure VM reaches IMDS; here the emulator's, through the IMDS host override.
  const imds: Record<string, string> =
    scheme === 'msi' ? { AZURE_POD_IDENTITY_AUTHORITY_HOST: emu.agentVmIdentity!.imdsHost } : {};
  const env: Record<string, string> = {
    PATH: ['/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    HOME: dir,
    ...emu.env,
    TF_BUILD: 'True',
    AGENT_VERSION: '3.248.0',
    AGENT_OS: 'Linux',
    AGENT_NAME: 'Hosted Agent',
    AGENT_TEMPDIRECTORY: temp,
    AGENT_WORKFOLDER: dir,
    AGENT_JOBSTATUS: 'Succeeded',
    SYSTEM_HOSTTYPE: 'build',
    SYSTEM_COLLECTIONURI: 'https://dev.azure.com/fabrikam/',
    SYSTEM_TEAMFOUNDATIONCOLLECTIONURI: 'https://dev.azure.com/fabrikam/',
    SYSTEM_TEAMPROJECT: 'runpack',
    SYSTEM_DEFINITIONID: '7',
    SYSTEM_JOBID: 'a9f7c3e0-0000-4000-8000-000000000042',
    SYSTEM_OIDCREQUESTURI: emu.azurePipelines!.oidcRequestUri,
    BUILD_BUILDID: '42',
    BUILD_SOURCEVERSION: 'fedcba9876543210fedcba9876543210fedcba98',
    BUILD_SOURCESDIRECTORY: options.cwd ?? REPO_ROOT,
    ENDPOINT_URL_SYSTEMVSSCONNECTION: 'https://dev.azure.com/fabrikam/',
    ENDPOINT_AUTH_SYSTEMVSSCONNECTION: JSON.stringify({
      parameters: { AccessToken: emu.azurePipelines!.accessToken },
      scheme: 'OAuth',
    }),
    ENDPOINT_AUTH_SCHEME_SYSTEMVSSCONNECTION: 'OAuth',
    ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN: emu.azurePipelines!.accessToken,
    INPUT_AZURESUBSCRIPTION: conn.id,
    ...imds,
    ...vars,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/\./g, '_').toUpperCase()}`] = v;
  Object.assign(env, options.env ?? {});

  const { code, stdout, stderr } = await runNodeProcess(taskPath, {
    cwd: options.cwd ?? REPO_ROOT,
    env,
    timeoutMs: options.timeoutMs,
  });

  const commands = parseVso(stdout);
  const outputs: Record<string, string> = {};
  let result: TaskRun['result'];
  const issues: TaskRun['issues'] = [];
  const secretsSet: string[] = [];
  const progress: TaskRun['progress'] = [];
  let summary = '';
  for (const c of commands) {
    if (c.name === 'task.setvariable' && c.props.isOutput === 'true') outputs[c.props.variable] = c.data;
    if (c.name === 'task.complete') result = { result: c.props.result, message: c.data };
    if (c.name === 'task.logissue' || c.name === 'task.issue')
      issues.push({ type: c.props.type, message: c.data });
    if (c.name === 'task.setsecret') secretsSet.push(c.data);
    if (c.name === 'task.setprogress') progress.push({ value: Number(c.props.value), text: c.data });
    if (c.name === 'task.uploadsummary') summary += readFileSync(c.data, 'utf8');
  }
  // What the agent shows: it consumes setsecret lines, and masks endpoint authorization parameters and registered
  // secrets. task-lib's own debug lines print endpoint parameters in the clear and rely on that mask, so the mask
  // is applied to those lines only: every other line must carry no secret by itself.
  const agentMasked = [
    ...Object.entries(env)
      .filter(([k]) => k.startsWith('ENDPOINT_AUTH_PARAMETER_'))
      .flatMap(([, v]) => v.split(/\r?\n/)),
    ...secretsSet,
  ].filter((v) => v.trim().length >= 8);
  const mask = (line: string) =>
    agentMasked
      .reduce((l, s) => l.split(s.trim()).join('***'), line.replace(/%0D%0A|%0A/g, '\n'))
      .replace(/\n/g, '%0A');
  const visible = stdout
    .split('\n')
    .filter((l) => !l.startsWith('##vso[task.setsecret]'))
    .map((l) => (l.startsWith('##vso[task.debug]') ? mask(l) : l))
    .join('\n');
  return {
    code,
    stdout,
    stderr,
    commands,
    outputs,
    result,
    issues,
    summary,
    secretsSet,
    progress,
    everything: [visible, stderr, summary].join('\n'),
  };
}

/** Secrets of the Azure Pipelines side: the job access token and the certificate key. */
export function pipelineSecrets(emu: RunningEmulator): string[] {
  const key =
    /-----BEGIN [A-Z ]*PRIVATE KEY-----([\s\S]*?)-----END/.exec(emu.servicePrincipal.certificatePem)?.[1] ??
    '';
  return [
    emu.azurePipelines!.accessToken,
    ...key
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length >= 16),
  ];
}
