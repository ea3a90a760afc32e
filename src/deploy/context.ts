/** Builds the DeployContext the phases share; the deploy engine and the operator commands both use it. */
import { createSettingsHelper } from './setting.js';
import type { DeployContext } from './types.js';

export function createDeployContext(parts: Omit<DeployContext, 'settings' | 'phaseDeadline'>): DeployContext {
  return {
    ...parts,
    settings: createSettingsHelper(parts.arm, parts.target.ref),
    phaseDeadline: (ms) => Math.min(parts.deadline, parts.clock.now() + ms),
  };
}
