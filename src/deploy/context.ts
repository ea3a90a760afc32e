/**
 * The session the phases share (clock, secrets, logger, HTTP, deadlines, the Resource Manager login and the Kudu
 * session): the deploy engine, the fleet and the operator commands all build it here.
 */
import { createArmClient, type ArmClient } from '../azure/arm.js';
import { discoverCloud, type CloudEndpoints } from '../azure/cloud.js';
import { authenticate, type AuthDeps, type AuthSession } from '../azure/credentials.js';
import type { HttpClient } from '../azure/http.js';
import type { KuduClient } from '../azure/kudu.js';
import type { SecretRegistry } from '../report/secrets.js';
import { currentDeadline } from './budget.js';
import { RunpackError } from '../util/errors.js';
import { connectKudu, type KuduSessionDeps } from '../azure/kudu-session.js';
import { createSettingsHelper } from './setting.js';
import type { Clock, DeployContext, DeployInputs } from './types.js';

/**
 * A clock whose waits end at once when the step is cancelled (they throw `cancelled`), so a cancelled deploy never
 * sits out a retry or a poll interval.
 */
export function cancellableClock(clock: Clock, signal?: AbortSignal): Clock {
  if (!signal) return clock;
  return {
    now: clock.now,
    sleep: (ms) =>
      new Promise<void>((resolve, reject) => {
        const cancelled = () => reject(new RunpackError('cancelled', 'The step was cancelled.'));
        if (signal.aborted) return cancelled();
        const onAbort = () => cancelled();
        signal.addEventListener('abort', onAbort, { once: true });
        clock.sleep(ms).then(
          () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          },
          (err: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(err);
          },
        );
      }),
  };
}

/** The wall clock (tests inject their own). */
export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export function createDeployContext(parts: Omit<DeployContext, 'settings' | 'phaseDeadline'>): DeployContext {
  return {
    ...parts,
    settings: createSettingsHelper(parts.arm, parts.target.ref, parts.config?.plan),
    phaseDeadline: (ms) => Math.min(parts.deadline, parts.clock.now() + ms),
  };
}

/** The Kudu session's needs, from a deploy context (the target's site, and the publish profile when given). */
export function kuduDeps(ctx: DeployContext): KuduSessionDeps {
  return { ...ctx, site: ctx.target, publishProfile: ctx.inputs.publishProfile };
}

/** A signed-in Kudu session for the context's target (see azure/kudu-session.ts). */
export function openKudu(
  ctx: DeployContext,
  deadline: number,
): Promise<{ kudu: KuduClient; settings: Record<string, string> }> {
  return connectKudu(kuduDeps(ctx), deadline);
}

/** What a login needs from the front end (EngineDeps and the operator commands' deps carry it). */
export interface LoginDeps {
  env: Record<string, string | undefined>;
  getIdToken: (audience: string) => Promise<string>;
  runAz?: (args: string[]) => Promise<string | null>;
  login?: AuthDeps['login'];
}

/** Logs in and opens Resource Manager: the cloud's endpoints, the session and the ARM client. */
export async function logIn(
  inputs: DeployInputs,
  deps: LoginDeps,
  c: {
    http: HttpClient;
    clock: Clock;
    secrets: SecretRegistry;
    log: { info(m: string): void };
    deadline: number;
    phaseDeadline: (ms: number) => number;
  },
  result: { auth?: string },
): Promise<{ session: AuthSession; arm: ArmClient; cloud: CloudEndpoints }> {
  const cloud = await discoverCloud(c.http, inputs.resourceManagerEndpoint, c.phaseDeadline(60_000));
  const session: AuthSession = await authenticate(inputs, cloud, {
    env: deps.env,
    secrets: c.secrets,
    getIdToken: deps.getIdToken,
    runAz: deps.runAz,
    now: c.clock.now,
    log: (l) => c.log.info(l),
    login: deps.login,
  });
  c.log.info(session.description);
  result.auth = session.method;
  const arm = createArmClient({
    http: c.http,
    endpoint: cloud.resourceManager,
    authorization: (o) => session.authorization(cloud.armScope, o),
    deadline: () => currentDeadline(c.deadline),
    sleep: c.clock.sleep,
    now: c.clock.now,
  });
  return { session, arm, cloud };
}
