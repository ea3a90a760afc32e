/**
 * The local-mode publisher: the package is pushed to the app's Kudu (WEBSITE_RUN_FROM_PACKAGE=1), which stores it
 * under data/SitePackages and points packagename.txt at it.
 */
import { publishLocal } from '../local.js';
import type { DeployContext, PackageInfo } from '../types.js';
import { verifyDeploy } from '../verify.js';
import type { Published } from './types.js';

/**
 * Local mode: the already-live check, then the push to Kudu, followed to its end (packagename.txt names the new
 * package). Restart and verification are the engine's.
 */
export async function publishLocalMode(
  ctx: DeployContext,
  pkg: PackageInfo,
  previousValue: string | undefined,
): Promise<Published> {
  const { log } = ctx;
  // Unchanged content already mounted and verified: nothing to push or restart.
  if (!ctx.inputs.force && previousValue === '1' && pkg.stamp) {
    const quick = await log.group('Check the live release', () =>
      verifyDeploy(ctx, pkg, { intendedValue: '1', quick: true }),
    );
    if (quick.ok && quick.levels.find((l) => l.level === 'mounted-content')?.status === 'pass') {
      log.info(`Release ${pkg.releaseId} is already live and verified; nothing to push or restart.`);
      return { noop: { levels: quick.levels }, previousReleaseId: pkg.releaseId, findings: [] };
    }
  }
  const outcome = await log.group('Publish (local mode)', () => publishLocal(ctx, pkg));
  return {
    verify: { intendedValue: '1', packageName: outcome.packageName },
    settingChanged: false,
    findings: outcome.findings,
    loggedFindings: false,
  };
}
