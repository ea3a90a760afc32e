/**
 * The environment GitHub gives a step, for the built action run against the emulator (no Jest here: the e2e
 * helpers and the deploy benchmark both use it).
 */
import type { RunningEmulator } from '../../../emulator/src/index.js';

export function stepEnv(
  emu: Pick<RunningEmulator, 'env' | 'resourceManagerEndpoint'>,
  o: {
    /** The step's own folder: HOME and RUNNER_TEMP. */
    dir: string;
    outputFile: string;
    summaryFile: string;
    workspace: string;
    /** Put first on PATH (a fake az); otherwise the PATH holds no real az. */
    pathPrefix?: string;
  },
): Record<string, string> {
  const basePath = ['/usr/local/bin', '/usr/bin', '/bin'].join(':');
  return {
    PATH: o.pathPrefix ? `${o.pathPrefix}:${basePath}` : basePath,
    HOME: o.dir,
    ...emu.env,
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: o.outputFile,
    GITHUB_STEP_SUMMARY: o.summaryFile,
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REPOSITORY: 'octo-org/octo-app',
    GITHUB_RUN_ID: '1234',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_WORKSPACE: o.workspace,
    RUNNER_TEMP: o.dir,
    'INPUT_RESOURCE-MANAGER-ENDPOINT': emu.resourceManagerEndpoint,
  };
}
