/**
 * The Flex Consumption publisher: the package goes to the app's deployment storage through One Deploy
 * (`POST /api/publish?RemoteBuild=…`, the Entra token), followed to its end; the platform restarts the app onto it.
 * With storage-account, runpack also keeps its own immutable release blob (named by content) and, after a verified
 * deploy, copies it onto the app's stable blob: the last verified release, which an automatic rollback publishes
 * again. Flex has no WEBSITE_RUN_FROM_PACKAGE and its SCM site exposes no files, so verification reads the
 * deployment storage back and the functions the host lists (API-SPEC §2.3, Flex).
 */
import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ReleaseBlobStore } from '../../azure/blob.js';
import { KuduClient, KuduError, deploymentOutcome, deploymentStatusName } from '../../azure/kudu.js';
import { inspect } from '../../package/inspect.js';
import { releaseBlobName } from '../../release/releases.js';
import { isVerifiedBlob, VERIFIED_KEY } from '../../release/verified.js';
import { RunpackError, describeError } from '../../util/errors.js';
import { renderPlan, type DryRunFacts } from '../dry-run.js';
import { mergeSettings } from '../setting.js';
import type { DeployContext, Finding, PackageInfo } from '../types.js';
import { md5OfFile, runReleaseMetadata, uploadReleaseBlob } from '../upload.js';
import { headDeployedPackage, verifyDeploy, type VerifyInput } from '../verify.js';
import { failureLog, pushAndFollow } from './local.js';
import { findAccount, openStore } from './release-store.js';
import {
  restoredPackage,
  type DryRunPlan,
  type Published,
  type Publisher,
  type PublishInput,
} from './types.js';

/** A Kudu client for the Flex app's SCM site with the Entra token (Flex deploys take no publishing credentials). */
function flexKudu(ctx: DeployContext): KuduClient {
  if (!ctx.target.scmHostName)
    throw new RunpackError(
      'scm-missing',
      `${ctx.target.ref.appName} has no SCM host name in Resource Manager, so its package cannot be published with One Deploy.`,
    );
  return new KuduClient({
    http: ctx.http,
    scmUrl: `https://${ctx.target.scmHostName}`,
    authKind: 'bearer',
    authorization: (o) => ctx.armAuthorization(o),
  });
}

/** What verification reads of the deployment storage, for a package file (read with the login's storage token). */
async function flexVerifyInput(
  ctx: DeployContext,
  storageAuthorization: () => Promise<string>,
  zipPath: string,
  bytes: number,
): Promise<VerifyInput> {
  return {
    intendedValue: '',
    flex: {
      containerUrl: ctx.target.flex!.containerUrl,
      md5: (await md5OfFile(zipPath)).toString('base64'),
      bytes,
      authorization: storageAuthorization,
    },
  };
}

/**
 * Publish a stored release again with One Deploy (`runpack rollback` on Flex) and say what to verify; a failure
 * throws a RunpackError saying what still runs.
 */
export async function publishFlexRelease(
  ctx: DeployContext,
  pkg: PackageInfo,
  storageAuthorization: () => Promise<string>,
): Promise<VerifyInput> {
  await oneDeploy(ctx, flexKudu(ctx), pkg);
  return flexVerifyInput(ctx, storageAuthorization, pkg.zipPath, pkg.zipBytes);
}

/** The deployment storage's package: its Content-MD5 (base64), or null when it cannot be read. */
async function deployedMd5(input: PublishInput): Promise<string | null> {
  const { ctx } = input;
  const res = await headDeployedPackage(
    ctx.http,
    ctx.target.flex!.containerUrl,
    () => input.session.authorization(input.storageScope),
    { deadline: ctx.phaseDeadline(30_000), maxAttempts: 2 },
  );
  return res.status === 200 ? (res.headers['content-md5'] ?? null) : null;
}

/** Publish one package file with One Deploy and follow it to its end; a failure says what the app still runs. */
async function oneDeploy(
  ctx: DeployContext,
  kudu: KuduClient,
  pkg: Pick<PackageInfo, 'zipPath' | 'zipBytes' | 'releaseId'>,
  onUnchanged?: () => Promise<boolean>,
): Promise<string> {
  const name = ctx.target.ref.appName;
  const container = ctx.target.flex!.containerUrl;
  let pushed;
  try {
    pushed = await pushAndFollow(ctx, kudu, pkg as PackageInfo, ctx.deadline, {
      route: `/api/publish?RemoteBuild=${ctx.inputs.remoteBuild}`,
      push: (o) =>
        kudu.oneDeployFlex({
          ...o,
          body: () => createReadStream(pkg.zipPath),
          remoteBuild: ctx.inputs.remoteBuild,
          signal: ctx.signal,
        }),
    });
  } catch (err) {
    if (
      err instanceof KuduError &&
      err.status === 400 &&
      /BlobUploadFailed|Failed to upload/i.test(err.bodySnippet)
    )
      throw new RunpackError(
        'flex-storage-denied',
        `${name} could not write its package to its deployment storage ${container} (${err.bodySnippet.replace(/\s+/g, ' ').trim().slice(0, 240)}); give the app's ${ctx.target.flex!.authentication === 'StorageAccountConnectionString' ? `connection-string setting ${ctx.target.flex!.connectionStringSetting ?? ''} a valid key of the account` : 'identity Storage Blob Data Contributor on the storage account'} and check its network rules, then deploy again. Nothing was deployed: the previous package still runs.`,
      );
    throw err;
  }
  const { record } = pushed;
  if (deploymentOutcome(record) !== 'succeeded') {
    const lines = await failureLog(kudu, record.id, ctx.deadline);
    if (lines.length) {
      ctx.log.error(`Flex deployment ${record.id} log:`);
      for (const line of lines.slice(-40)) ctx.log.error(`  ${line}`);
    }
    const unchanged = onUnchanged ? await onUnchanged() : false;
    const reason = (record.status_text || record.progress || '').trim();
    throw new RunpackError(
      'deploy-failed',
      `The Flex deployment ${record.id} of ${name} ended ${deploymentStatusName(record.status)}${reason ? ` (${reason})` : ''}; ${unchanged ? 'its deployment storage still holds the previous package, which the app keeps running' : 'whether the app still runs the previous package could not be read from its deployment storage'}. See the log above, fix the package and deploy again.`,
    );
  }
  ctx.log.info(
    `Flex deployment ${record.id} succeeded; the platform restarts ${name} onto release ${pkg.releaseId}.`,
  );
  return record.id;
}

/** Flex: the optional release store, the settings Flex refuses removed, One Deploy followed to its end. */
export async function publishFlex(input: PublishInput): Promise<Published> {
  const { ctx, pkg, plan, progress, runUrl } = input;
  const { log, inputs, target } = ctx;
  const findings: Finding[] = [];
  const name = target.ref.appName;

  // runpack's own copy of the release (for rollback), and the last verified release (the stable blob).
  let store: ReleaseBlobStore | undefined;
  let previousSha256: string | undefined;
  const releaseBlob = releaseBlobName(name, pkg.sha256);
  if (inputs.storageAccount) {
    store = await log.group('Release store', async () => {
      const account = await findAccount(ctx);
      const s = await openStore(ctx, input.session, account, plan, { preferKey: false });
      const stable = await s.getBlob(plan.container, plan.stableBlob);
      previousSha256 = stable?.metadata.sha256?.toLowerCase();
      log.info(
        `Account ${account.name}, container ${plan.container}; last verified release: ${previousSha256 ? previousSha256.slice(0, 12) : 'none'}.`,
      );
      await uploadReleaseBlob(
        s,
        plan.container,
        releaseBlob,
        pkg,
        runReleaseMetadata(pkg, { commit: inputs.commit, runUrl, now: ctx.clock.now() }),
        log,
        ctx.signal,
      );
      return s;
    });
    if (previousSha256) progress?.({ previousReleaseId: previousSha256.slice(0, 12) });
  } else {
    log.info(
      'No storage-account: runpack keeps no copy of this release, so a failed deploy cannot be rolled back automatically.',
    );
  }

  const storageAuthorization = () => input.session.authorization(input.storageScope);
  const verify = await flexVerifyInput(ctx, storageAuthorization, pkg.zipPath, pkg.zipBytes);
  // The same package already deployed and verified: nothing to publish.
  if (
    !inputs.force &&
    !ctx.config?.plan.changed &&
    Object.keys(plan.extra).length === 0 &&
    previousSha256 === pkg.sha256
  ) {
    if ((await deployedMd5(input)) === verify.flex!.md5) {
      const quick = await log.group('Check the live release', () =>
        verifyDeploy(ctx, pkg, { ...verify, quick: true }),
      );
      if (quick.ok) {
        log.info(`Release ${pkg.releaseId} is already live and verified; nothing to publish.`);
        return { noop: { levels: quick.levels }, previousReleaseId: pkg.releaseId, findings };
      }
    }
  }

  // Settings Flex refuses (force) and the deploy's configuration, in one write before the package.
  if (Object.keys(plan.extra).length || ctx.config?.plan.changed)
    await log.group('App settings', async () => {
      const u = await ctx.settings.update(plan.extra);
      log.info(
        u.changed
          ? `Settings written (${Object.keys(u.before).length} read, every other setting kept).`
          : 'No settings change.',
      );
    });

  const kudu = flexKudu(ctx);
  const before = await deployedMd5(input);
  progress?.({ switching: true });
  await log.group('Publish (One Deploy)', () =>
    oneDeploy(ctx, kudu, pkg, async () => {
      const now = await deployedMd5(input);
      const unchanged = before !== null && now === before;
      if (unchanged) progress?.({ switching: false });
      return unchanged;
    }),
  );

  return {
    verify,
    settingChanged: false,
    previousReleaseId: previousSha256?.slice(0, 12),
    findings,
    kudu,
    recordVerified: store
      ? async () => {
          const blob = await store!.getBlob(plan.container, releaseBlob);
          if (blob?.etag)
            await store!.addMetadataIfMatch(
              plan.container,
              releaseBlob,
              { [VERIFIED_KEY]: new Date(ctx.clock.now()).toISOString() },
              blob.etag,
            );
          // The stable blob names the last verified release: what the next deploy's rollback publishes again.
          await store!.copyBlob(plan.container, releaseBlob, plan.stableBlob);
        }
      : undefined,
    previous: {
      releaseId: previousSha256?.slice(0, 12),
      restore: () => restoreFlexRelease(input, store, previousSha256, kudu),
    },
  };
}

/** The automatic rollback on Flex: publish the last verified release from runpack's store again. */
async function restoreFlexRelease(
  input: PublishInput,
  store: ReleaseBlobStore | undefined,
  previousSha256: string | undefined,
  kudu: KuduClient,
): Promise<{ pkg: PackageInfo; verify: VerifyInput }> {
  const { ctx, pkg, plan } = input;
  if (!store)
    throw new RunpackError(
      'rollback-none',
      'runpack keeps releases of a Flex app only with storage-account, and none was given, so there is nothing to publish again',
    );
  if (!previousSha256 || previousSha256 === pkg.sha256)
    throw new RunpackError(
      'rollback-none',
      `${plan.container}/${plan.stableBlob} named no earlier verified release before this deploy, so there is nothing to bring back`,
    );
  const blob = releaseBlobName(ctx.target.ref.appName, previousSha256);
  const meta = await store.getBlob(plan.container, blob);
  if (!meta)
    throw new RunpackError(
      'rollback-missing',
      `release ${previousSha256.slice(0, 12)} (${plan.container}/${blob}) no longer exists, so it cannot be brought back`,
    );
  if (!isVerifiedBlob(meta.metadata))
    throw new RunpackError(
      'rollback-unverified',
      `release ${previousSha256.slice(0, 12)} was never verified by runpack (its blob carries no ${VERIFIED_KEY}), so it is not published again blindly`,
    );
  const file = join(dirname(pkg.zipPath), `rollback-${previousSha256.slice(0, 12)}.zip`);
  await store.download(plan.container, blob, file);
  const report = await inspect(file, { functionApp: true, verifyData: false });
  const restored: PackageInfo = {
    ...restoredPackage(pkg, {
      sha256: previousSha256,
      releaseId: previousSha256.slice(0, 12),
      contentSha256: meta.metadata.content_sha256,
      zipBytes: meta.size,
    }),
    zipPath: file,
    functions: report.functions ?? [],
    inspect: report,
  };
  await oneDeploy(ctx, kudu, restored);
  return {
    pkg: restored,
    verify: await flexVerifyInput(
      ctx,
      () => input.session.authorization(input.storageScope),
      file,
      restored.zipBytes,
    ),
  };
}

/** dry-run on Flex: the release store (reads only), One Deploy, and the settings Flex refuses. */
async function planFlexDeploy(input: PublishInput): Promise<DryRunPlan> {
  const { ctx, pkg, plan, settings } = input;
  const { inputs, target } = ctx;
  const facts: DryRunFacts = {
    target: target.ref.appName,
    mode: 'flex',
    releaseId: pkg.releaseId,
    zipBytes: pkg.zipBytes,
    settings: {},
    restart: false,
    flex: {
      containerUrl: target.flex!.containerUrl,
      authentication: target.flex!.authentication,
      remoteBuild: inputs.remoteBuild,
    },
  };
  for (const k of mergeSettings(settings, plan.extra).changedKeys)
    facts.settings[k] = [settings[k], plan.extra[k]];
  if (inputs.storageAccount) {
    try {
      const account = await findAccount(ctx);
      const store = await openStore(ctx, input.session, account, plan, {
        preferKey: false,
        createContainer: false,
      });
      const releaseBlob = releaseBlobName(target.ref.appName, pkg.sha256);
      Object.assign(facts, {
        account: account.name,
        container: plan.container,
        releaseBlob,
        stableBlob: plan.stableBlob,
        releaseExists: (await store.getBlob(plan.container, releaseBlob)) !== null,
      });
    } catch (err) {
      throw new RunpackError('storage-not-found', describeError(err));
    }
  }
  return { lines: renderPlan(facts) };
}

export const flexPublisher: Publisher = { plan: planFlexDeploy, publish: publishFlex };
