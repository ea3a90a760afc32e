/**
 * The deploy entry the front ends call: one target goes to the engine, several (a fleet in app-name) to the fleet,
 * which runs the engine once per target. The fleet sits above the engine; the engine knows nothing of fleets.
 */
import { runEngine, type DeployResult, type EngineDeps } from './engine.js';
import { runFleet } from './fleet.js';
import type { DeployInputs } from './types.js';

export function runDeploy(inputs: DeployInputs, deps: EngineDeps): Promise<DeployResult> {
  return inputs.targets && inputs.targets.length > 1
    ? runFleet(inputs, inputs.targets, deps)
    : runEngine(inputs, deps);
}
