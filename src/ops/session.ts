/**
 * What every operator command needs: its flags (named like the action's inputs), the login, the target
 * through Resource Manager, a DeployContext so the deploy engine's Kudu, restart and verify phases can be
 * reused as they are, and the release blobs' storage account.
 */
import type { TokenCredential } from '@azure/identity';
import type { ArmClient, StorageAccountInfo } from '../azure/arm.js';
import type { CloudEndpoints } from '../azure/cloud.js';
import { openBlobStore, type ReleaseBlobStore } from '../azure/blob.js';
import { envIdToken, maskingCredential, type AuthDeps, type AuthSession } from '../azure/credentials.js';
import { createHttpClient, describeRetry, type HttpClient } from '../azure/http.js';
import { resolveSubscription, resolveTarget } from '../deploy/target.js';
import type { Clock, DeployContext, DeployInputs, TargetInfo } from '../deploy/types.js';
import { CLI_NAMING, inputFlagSpecs, parseInputs, secretInputValues } from '../inputs.js';
import { parseFlagTable, type FlagSpec } from '../flags.js';
import { createLogger, type Logger, type LogSink } from '../report/log.js';
import { createSecretRegistry, type SecretRegistry } from '../report/secrets.js';
import { RunpackError, UsageError } from '../util/errors.js';

import { RUNPACK_VERSION } from '../version.js';
import { cancellableClock, createDeployContext, logIn, realClock } from '../deploy/context.js';

/** The version in the operator commands' User-Agent. */
export const OPS_VERSION = RUNPACK_VERSION;

/** Deploy inputs the operator commands accept as flags (same names as the action's inputs). */
export const SHARED_FLAGS = [
  'app-name',
  'resource-group',
  'subscription-id',
  'slot',
  'storage-account',
  'container',
  'resource-manager-endpoint',
  'client-id',
  'tenant-id',
  'creds',
  'health-path',
  'timeout-minutes',
] as const;

export interface OpsFlags {
  inputs: DeployInputs;
  /** Flags of the command itself (release, keep, …). */
  extra: Map<string, string>;
  /** Names of the shared flags given on the command line (a default is not a choice: --container). */
  given: Set<string>;
  json: boolean;
  dryRun: boolean;
  help: boolean;
  secrets: SecretRegistry;
}

/**
 * Parses the command's flags with the one table-driven parser (flags.ts): the shared flags from the inputs
 * table, the command's own value flags (`own`), and the switches `--json`, `--dry-run` and `--help`. Unknown or
 * repeated flags are usage errors naming the command.
 */
export function parseOpsFlags(
  argv: string[],
  command: string,
  own: readonly string[],
  env: Record<string, string | undefined> = process.env,
  /** Inputs this command takes beyond the shared ones (rollback: rollback-settings). */
  inputsToo: readonly string[] = [],
): OpsFlags {
  const specs: FlagSpec[] = [
    ...inputFlagSpecs([...SHARED_FLAGS, ...inputsToo]),
    ...own.map((name): FlagSpec => ({ name, kind: 'value' })),
    { name: 'dry-run', kind: 'switch' },
  ];
  const parsed = parseFlagTable(argv, specs, { command });
  const values = new Map([...parsed.values].filter(([k]) => !own.includes(k)));
  const extra = new Map([...parsed.values].filter(([k]) => own.includes(k)));
  const json = parsed.switches.has('json');
  const dryRun = parsed.switches.has('dry-run');
  const help = parsed.switches.has('help');
  const secrets = createSecretRegistry();
  const raw = (name: string) => values.get(name) ?? (name === 'creds' ? env.AZURE_CREDENTIALS : undefined);
  for (const s of secretInputValues(raw)) secrets.add(s);
  const given = new Set(values.keys());
  if (help) return { inputs: {} as DeployInputs, extra, given, json, dryRun, help, secrets };
  if (!values.get('app-name'))
    throw new UsageError(
      `Flag '--app-name' is required: the App Service or Function App (runpack ${command} --app-name <app>).`,
    );
  const inputs = parseInputs(raw, {}, CLI_NAMING);
  if (inputs.targets)
    throw new UsageError(
      `Flag '--app-name' lists ${inputs.targets.length} targets, but runpack ${command} works on one app; run it once per app (and slot).`,
    );
  return { inputs, extra, given, json, dryRun, help, secrets };
}

export interface OpsDeps {
  env: Record<string, string | undefined>;
  sink: LogSink;
  secrets: SecretRegistry;
  http?: HttpClient;
  clock?: Clock;
  getIdToken?: (audience: string) => Promise<string>;
  runAz?: (args: string[]) => Promise<string | null>;
  /** The front end's own login (the Azure Pipelines task's service connection). */
  login?: AuthDeps['login'];
  /** The step's cancellation (SIGINT/SIGTERM): waits and requests stop at once. */
  signal?: AbortSignal;
}

export interface OpsSession {
  inputs: DeployInputs;
  http: HttpClient;
  arm: ArmClient;
  cloud: CloudEndpoints;
  auth: AuthSession;
  secrets: SecretRegistry;
  log: Logger;
  clock: Clock;
  target: TargetInfo;
  /** A deploy context over this session, for the deploy engine's Kudu, restart and verify phases. */
  ctx: DeployContext;
  storageAuthorization(): Promise<string>;
  credential: TokenCredential;
}

/** Logs in and resolves the target (reads only). */
export async function openSession(inputs: DeployInputs, deps: OpsDeps): Promise<OpsSession> {
  const clock = cancellableClock(deps.clock ?? realClock, deps.signal);
  const secrets = deps.secrets;
  const log = createLogger(deps.sink, secrets, { now: clock.now });
  const http =
    deps.http ??
    createHttpClient({
      userAgent: `runpack/${OPS_VERSION}`,
      sleep: clock.sleep,
      now: clock.now,
      onRetry: (i) => log.info(describeRetry(i)),
      signal: deps.signal,
    });
  const deadline = clock.now() + inputs.timeoutMinutes * 60_000;
  const phaseDeadline = (ms: number) => Math.min(deadline, clock.now() + ms);
  const {
    session: auth,
    arm,
    cloud,
  } = await logIn(
    inputs,
    { ...deps, getIdToken: deps.getIdToken ?? envIdToken(deps.env, http) },
    { http, clock, secrets, log, deadline, phaseDeadline },
    {},
  );
  const subscriptionId = await resolveSubscription(arm, inputs, auth.subscriptionId);
  const target = await resolveTarget(arm, inputs, subscriptionId);
  const ctx = createDeployContext({
    inputs,
    target,
    http,
    arm,
    log,
    secrets,
    clock,
    armAuthorization: (o) => auth.authorization(cloud.armScope, o),
    deadline,
    signal: deps.signal,
  });
  return {
    inputs,
    http,
    arm,
    cloud,
    auth,
    secrets,
    log,
    clock,
    target,
    ctx,
    storageAuthorization: () => auth.authorization(cloud.storageScope),
    credential: auth.credential,
  };
}

/** The storage account by name through Resource Manager, or a one-line error. */
export async function findAccount(s: OpsSession, name: string): Promise<StorageAccountInfo> {
  const account = await s.arm.findStorageAccount(s.target.ref.subscriptionId, name);
  if (!account)
    throw new RunpackError(
      'storage-not-found',
      `Storage account ${name} was not found in subscription ${s.target.ref.subscriptionId}; check --storage-account (the login needs Reader on it).`,
    );
  return account;
}

/** The release container's account, opened for reads and conditional writes; opening never writes. */
export async function openStore(
  s: OpsSession,
  account: StorageAccountInfo,
  container: string,
): Promise<ReleaseBlobStore> {
  return openBlobStore({
    accountName: account.name,
    blobEndpoint: account.blobEndpoint,
    allowSharedKeyAccess: account.allowSharedKeyAccess,
    credential: maskingCredential(s.credential, s.secrets),
    getKeys: () => s.arm.listStorageAccountKeys(account.id),
    container,
    preferKey: false,
    createContainer: false,
    log: (l) => s.log.info(l),
    addSecret: (v) => s.secrets.add(v),
  });
}
