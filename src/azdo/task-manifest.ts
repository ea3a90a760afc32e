/**
 * Pure: the Azure Pipelines task's task.json, rendered from the one INPUTS and OUTPUTS table, so the task, the
 * action and the CLI cannot drift apart. Azure Pipelines names inputs and output variables with letters and
 * digits only, so `app-name` is `appName` and `release-id` is `releaseId` in the task. The login inputs give way
 * to the service connection (`azureSubscription`), which also carries the cloud.
 */
import { INPUTS, OUTPUTS, taskInputName, type InputDef, type InputGroup } from '../inputs.js';
import { RUNPACK_VERSION } from '../version.js';

/** The task's stable identity: never change the id, or pipelines lose the task. */
export const TASK_ID = '6f1c2a4e-8b7d-4c3e-9a51-2d7e0b9c4f18';
export const TASK_NAME = 'RunpackDeploy';
export const TASK_FOLDER = 'extension/RunpackDeploy';
/** The first agent with the Node 20 handler (Node20_1). */
export const MINIMUM_AGENT_VERSION = '3.232.1';

/** Inputs the service connection replaces in the task. */
export const CONNECTION_REPLACES = ['client-id', 'tenant-id', 'creds', 'resource-manager-endpoint'];

export const CONNECTION_INPUT = 'azureSubscription';

const GROUPS: { name: InputGroup; displayName: string; isExpanded: boolean }[] = [
  { name: 'target', displayName: 'Target', isExpanded: true },
  { name: 'package', displayName: 'Package', isExpanded: true },
  {
    name: 'configuration',
    displayName: 'Configuration (app settings, connection strings)',
    isExpanded: false,
  },
  { name: 'verification', displayName: 'Verification', isExpanded: true },
  { name: 'operations', displayName: 'Operations (rollback, diagnose, releases, audit)', isExpanded: false },
  { name: 'login', displayName: 'Kudu sign-in', isExpanded: false },
];

/** Inputs of the task, in the table's order. */
export function taskInputs(): InputDef[] {
  return INPUTS.filter((d) => !CONNECTION_REPLACES.includes(d.name));
}

function label(d: InputDef): string {
  const words = d.name.replace(/-/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function taskType(d: InputDef): string {
  if (d.name === 'package') return 'filePath';
  if (d.type === 'boolean') return 'boolean';
  if (d.type === 'enum') return 'pickList';
  if (
    d.type === 'list' ||
    d.name === 'app-name' ||
    d.name === 'app-settings' ||
    d.name === 'connection-strings'
  )
    return 'multiLine';
  return 'string';
}

/** Markdown of the action's descriptions, in the task's words (input names as the task spells them). */
export function taskHelp(text: string): string {
  const names = [...INPUTS.map((d) => d.name), ...OUTPUTS.map((o) => o.name)].sort(
    (a, b) => b.length - a.length,
  );
  let out = text;
  for (const n of names) {
    if (!n.includes('-')) continue;
    out = out.replace(new RegExp(`(?<![\\w-])${n}(?![\\w-])`, 'g'), taskInputName(n));
  }
  return out
    .replace(/GITHUB_SHA/g, 'Build.SourceVersion')
    .replace(/GITHUB_WORKSPACE/g, 'Build.SourcesDirectory');
}

export function renderTaskJson(): Record<string, unknown> {
  const [major, minor, patch] = RUNPACK_VERSION.split('.').map(Number);
  const inputs: Record<string, unknown>[] = [
    {
      name: CONNECTION_INPUT,
      aliases: ['connectedServiceNameARM'],
      type: 'connectedService:AzureRM',
      label: 'Azure Resource Manager connection',
      defaultValue: '',
      required: true,
      helpMarkDown:
        "The Azure Resource Manager service connection to deploy with: workload identity federation, a service principal (secret or certificate) or the agent VM's managed identity. It also names the cloud (Azure, sovereign clouds, Azure Stack) and the default subscription.",
    },
  ];
  for (const d of taskInputs()) {
    const input: Record<string, unknown> = {
      name: taskInputName(d.name),
      type: taskType(d),
      label: label(d),
      defaultValue: d.default ?? '',
      required: Boolean(d.required),
      groupName: d.group === 'login' ? 'login' : d.group,
      helpMarkDown: taskHelp(d.taskDescription ?? d.description),
    };
    if (d.type === 'enum') input.options = Object.fromEntries((d.choices ?? []).map((c) => [c, c]));
    inputs.push(input);
  }
  return {
    $schema: 'https://raw.githubusercontent.com/Microsoft/azure-pipelines-task-lib/master/tasks.schema.json',
    id: TASK_ID,
    name: TASK_NAME,
    friendlyName: 'runpack: run-from-package deploy',
    description:
      'Deploy to Azure App Service and Azure Functions from a package and prove every step: zip, inspect, upload or push, set WEBSITE_RUN_FROM_PACKAGE, restart, verify that the app runs this release. Also rollback, diagnose and releases.',
    helpMarkDown:
      'Every input, output variable, service connection scheme and a copy-paste pipeline: docs/azure-pipelines.md in the runpack package.',
    category: 'Deploy',
    visibility: ['Build', 'Release'],
    runsOn: ['Agent'],
    author: 'runpack',
    version: { Major: major, Minor: minor, Patch: patch },
    minimumAgentVersion: MINIMUM_AGENT_VERSION,
    instanceNameFormat: 'runpack $(command): $(appName)',
    groups: GROUPS,
    inputs,
    outputVariables: OUTPUTS.map((o) => ({
      name: taskInputName(o.name),
      description: taskHelp(o.description),
    })),
    execution: { Node20_1: { target: 'index.js', argumentFormat: '' } },
    messages: {},
  };
}
