/**
 * How a front end names its inputs in messages: the action says `Input 'app-name'`, the CLI `Flag '--app-name'`,
 * the Azure Pipelines task `Input 'appName'`.
 */
export interface InputNaming {
  /** The subject of a message: "Input 'app-name'". */
  input(name: string): string;
  /** A reference inside a sentence: 'app-name', --app-name, 'appName'. */
  ref(name: string): string;
  /** An input with a value: "mode: local", "--mode local". */
  value(name: string, value: string): string;
}

export const ACTION_NAMING: InputNaming = {
  input: (n) => `Input '${n}'`,
  ref: (n) => `'${n}'`,
  value: (n, v) => `${n}: ${v}`,
};

export const CLI_NAMING: InputNaming = {
  input: (n) => `Flag '--${n}'`,
  ref: (n) => `--${n}`,
  value: (n, v) => (v === 'true' ? `--${n}` : v === 'false' ? `--no-${n}` : `--${n} ${v}`),
};

/** The Azure Pipelines task's name of an input: camelCase (task.json allows letters and digits only). */
export function taskInputName(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

export const TASK_NAMING: InputNaming = {
  input: (n) => `Input '${taskInputName(n)}'`,
  ref: (n) => `'${taskInputName(n)}'`,
  value: (n, v) => `${taskInputName(n)}: ${v}`,
};
