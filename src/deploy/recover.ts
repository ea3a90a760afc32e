/**
 * After the switch: a verified release is recorded as verified (where a later rollback looks for it); a release
 * that fails verification is replaced by the previous verified one through its publisher, restarted and verified
 * (on-failure: rollback), or left live and said so (on-failure: keep).
 */
import { randomUUID } from 'node:crypto';
import { describeError, RunpackError } from '../util/errors.js';
import { restartAndVerify } from './after-mount.js';
import type { KuduClient } from '../azure/kudu.js';
import { writeConfigRecord } from '../release/config.js';
import { rollbackConfig } from './config.js';
import { openKudu } from './context.js';
import { beyondDeadline } from './budget.js';
import type { Published } from './publish/types.js';
import { bestEffort, recordFindings, type DeployResult, type RollbackOutcome } from './result.js';
import type { DeployContext, DeployMode, PackageInfo } from './types.js';

/** How long the automatic rollback may take, beyond the whole deploy's deadline if need be. */
export const ROLLBACK_BUDGET_MS = 3 * 60_000;

/**
 * on-failure: rollback — after a failed verification, make the previous verified release live again (the
 * publisher's own way), restart and verify it; the step still fails, with both facts. on-failure: keep leaves the
 * failed release live and says so.
 */
export async function rollbackPhase(
  ctx: DeployContext,
  pkg: PackageInfo,
  mode: DeployMode,
  published: Published,
  result: DeployResult,
): Promise<void> {
  const { log } = ctx;
  if (ctx.inputs.onFailure === 'keep') {
    recordFindings(
      result,
      [
        {
          severity: 'warning',
          code: 'rollback-kept',
          message: `on-failure: keep: release ${pkg.releaseId} stays live although it did not verify${published.previous?.releaseId ? `; release ${published.previous.releaseId} ran before it` : ''}.`,
        },
      ],
      log,
    );
    return;
  }
  // The runner could not see the app: nothing says this release is bad, so it is not replaced blindly.
  if (result.cause?.cause === 'runner-network') {
    recordFindings(
      result,
      [
        {
          severity: 'warning',
          code: 'rollback-skipped',
          message: `Not rolled back: the runner could not reach the app, which says nothing about release ${pkg.releaseId}; it stays live unverified. Fix the runner's network, then run 'runpack diagnose' or deploy again.`,
        },
      ],
      log,
    );
    return;
  }
  const until = Math.max(ctx.deadline, ctx.clock.now() + ROLLBACK_BUDGET_MS);
  const rctx: DeployContext = {
    ...ctx,
    deadline: until,
    phaseDeadline: (ms) => Math.min(until, ctx.clock.now() + ms),
  };
  const outcome: RollbackOutcome = { from: pkg.releaseId, verified: false, levels: [] };
  result.rollback = outcome;
  await beyondDeadline(until, async () => {
    const previous = published.previous;
    let restored: Awaited<ReturnType<NonNullable<typeof previous>['restore']>>;
    try {
      if (!previous) throw new RunpackError('rollback-none', 'the publisher knows no earlier release');
      restored = await log.group(`Roll back to ${previous.releaseId ?? 'the previous release'}`, () =>
        previous.restore(),
      );
    } catch (err) {
      outcome.reason = describeError(err).replace(/\.$/, '');
      log.error(`Not rolled back: ${outcome.reason}.`);
      return;
    }
    outcome.to = restored.pkg.releaseId;
    const releaseId = restored.pkg.releaseId;
    // A rollback that writes settings restarts the app with that write (URL mode): no second restart then.
    let settingChanged = false;
    if (ctx.inputs.rollbackSettings || ctx.config?.plan.changed)
      await log.group(`Settings of release ${releaseId}`, async () => {
        const done = await rollbackConfig(
          {
            ...rctx,
            kudu: kuduFor(rctx, published),
            deadline: rctx.phaseDeadline(60_000),
            failure: 'warning',
          },
          releaseId,
          ctx.inputs.rollbackSettings,
          ctx.config,
        );
        if (done.note) recordFindings(result, [done.note], log);
        settingChanged = done.settingsWritten;
      });
    try {
      const after = await restartAndVerify(rctx, restored.pkg, {
        verify: restored.verify,
        mode,
        // restart: false is kept: the previous release is what the app still has mounted.
        restart: ctx.inputs.restart,
        settingChanged,
        label: 'rollback',
      });
      outcome.levels = after.verify.levels;
      outcome.cause = after.verify.cause;
      outcome.verified = after.verify.ok;
      if (!after.verify.ok)
        outcome.reason = after.verify.cause
          ? `${after.verify.cause.evidence}`
          : 'verification of the restored release failed';
    } catch (err) {
      outcome.reason = describeError(err).replace(/\.$/, '');
    }
    if (outcome.verified) log.info(`Rolled back: release ${outcome.to} is live again and verified.`);
    else
      log.error(
        `ROLLBACK NOT VERIFIED: release ${outcome.to} is live again but did not verify: ${outcome.reason}.`,
      );
  });
}

/** The publisher's Kudu session, or one opened on first use (once). */
function kuduFor(ctx: DeployContext, published: Published): () => Promise<KuduClient> {
  let session: Promise<KuduClient> | undefined = published.kudu ? Promise.resolve(published.kudu) : undefined;
  return () => (session ??= openKudu(ctx, ctx.phaseDeadline(60_000)).then((s) => s.kudu));
}

/**
 * After a verified deploy: mark the release verified, and record the configuration it carried (a warning when
 * either fails; the deploy stays verified).
 */
export async function recordPhase(
  ctx: DeployContext,
  published: Published,
  result: DeployResult,
): Promise<void> {
  const { log } = ctx;
  const config = ctx.config;
  // A Flex app's SCM site keeps no files: its configuration is not recorded (rollback-settings is refused there).
  if (config && result.releaseId && !ctx.target.isFlex) {
    const releaseId = result.releaseId;
    await bestEffort(
      result,
      log,
      'record-failed',
      (why) =>
        `Could not record the configuration of release ${releaseId} (${why.replace(/\.$/, '')}); a rollback with rollback-settings will not bring it back.`,
      async () => {
        await writeConfigRecord(
          await kuduFor(ctx, published)(),
          releaseId,
          config.wanted,
          ctx.phaseDeadline(60_000),
        );
        log.info(
          `Configuration of release ${releaseId} recorded (a rollback with rollback-settings brings it back).`,
        );
      },
    );
  }
  const record = published.recordVerified;
  if (!record) return;
  await bestEffort(
    result,
    log,
    'record-failed',
    (why) =>
      `Could not record release ${result.releaseId} as verified (${why.replace(/\.$/, '')}); an automatic rollback will not bring it back later.`,
    async () => {
      await record();
      log.info(`Release ${result.releaseId} recorded as verified (a later rollback may bring it back).`);
    },
  );
}

/** Pure: a deploy's result in the records people read (history, annotation). */
function deployOutcome(result: DeployResult): string {
  return result.ok
    ? 'verified'
    : result.rollback?.verified
      ? `failed; rolled back to ${result.rollback.to}`
      : 'failed';
}

/** Pure: the instrumentation key of the app's Application Insights, from its settings (connection string first). */
export function insightsKey(settings: Record<string, string>): string | undefined {
  const cs = settings.APPLICATIONINSIGHTS_CONNECTION_STRING;
  const fromCs = cs ? /(?:^|;)\s*InstrumentationKey=([^;]+)/i.exec(cs)?.[1]?.trim() : undefined;
  return fromCs || settings.APPINSIGHTS_INSTRUMENTATIONKEY?.trim() || undefined;
}

/** Pure: the release annotation of a deploy (Category Deployment: what Application Insights shows on its charts). */
export function releaseAnnotation(
  result: DeployResult,
  o: { id: string; commit?: string; runUrl?: string; now: Date },
): Record<string, unknown> {
  return {
    Id: o.id,
    AnnotationName: `runpack ${result.releaseId} ${result.ok ? 'verified' : 'failed'}`,
    EventTime: o.now.toISOString(),
    Category: 'Deployment',
    Properties: JSON.stringify({
      Label: result.ok ? 'Success' : 'Error',
      ReleaseId: result.releaseId,
      Result: deployOutcome(result),
      App: result.slot ? `${result.app}/${result.slot}` : result.app,
      ...(o.commit ? { Commit: o.commit } : {}),
      ...(o.runUrl ? { RunUrl: o.runUrl } : {}),
      Deployer: 'runpack',
    }),
  };
}

/**
 * A release annotation in the app's Application Insights, when its settings name one (best effort: a warning when
 * it cannot be written; nothing at all when the app has no Application Insights).
 */
export async function annotationPhase(
  ctx: DeployContext,
  result: DeployResult,
  key: string,
  o: { runUrl?: string },
): Promise<void> {
  const find = ctx.arm.findInsightsComponent;
  const add = ctx.arm.addAnnotation;
  if (!find || !add) return;
  await bestEffort(
    result,
    ctx.log,
    'annotation-failed',
    (why) => `Could not add a release annotation to Application Insights (${why.replace(/\.$/, '')}).`,
    async () => {
      const component = await find.call(ctx.arm, ctx.target.ref.subscriptionId, key);
      if (!component) {
        ctx.log.info(
          "The app's Application Insights (from its instrumentation key) is not in this subscription, or the login cannot read it: no release annotation.",
        );
        return;
      }
      await add.call(
        ctx.arm,
        component.id,
        releaseAnnotation(result, {
          id: randomUUID(),
          commit: ctx.inputs.commit,
          runUrl: o.runUrl,
          now: new Date(ctx.clock.now()),
        }),
      );
      result.annotation = component.name;
      ctx.log.info(`Release annotation added to Application Insights ${component.name}.`);
    },
  );
}

/** Pure: the deployment record of a URL-mode deploy (Kudu's history): id, status and the JSON message. */
export function deploymentRecord(
  result: DeployResult,
  o: { commit?: string; runUrl?: string; author?: string; now: Date },
): { id: string; status: 3 | 4; message: string; author?: string; deployer: string; active: boolean } {
  const stamp = o.now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const outcome = deployOutcome(result);
  return {
    id: `runpack-${result.releaseId}-${stamp}`,
    status: result.ok ? 4 : 3,
    active: result.ok,
    deployer: 'runpack',
    ...(o.author ? { author: o.author } : {}),
    message: JSON.stringify({
      type: 'deployment',
      releaseId: result.releaseId,
      ...(o.commit ? { commitId: o.commit } : {}),
      ...(o.runUrl ? { runUrl: o.runUrl } : {}),
      result: outcome,
      ...(result.cause ? { cause: result.cause.cause } : {}),
      mode: result.mode,
    }),
  };
}

/**
 * URL mode: record the deploy in the app's deployment history (local mode has Kudu's own record of the push).
 * Best effort: a history that cannot be written is a warning, never a failed deploy.
 */
export async function historyPhase(
  ctx: DeployContext,
  result: DeployResult,
  o: { runUrl?: string; author?: string },
): Promise<void> {
  if (!ctx.target.scmHostName) return;
  await bestEffort(
    result,
    ctx.log,
    'history-failed',
    (why) => `Could not add the deploy to the app's deployment history (${why.replace(/\.$/, '')}).`,
    async () => {
      const { kudu } = await openKudu(ctx, ctx.phaseDeadline(60_000));
      const record = deploymentRecord(result, {
        commit: ctx.inputs.commit,
        runUrl: o.runUrl,
        author: o.author,
        now: new Date(ctx.clock.now()),
      });
      await kudu.putDeployment(record.id, record, ctx.phaseDeadline(60_000));
      result.deploymentRecord = record.id;
      ctx.log.info(
        `Deployment history of the app: record ${record.id} (${result.ok ? 'Success' : 'Failed'}).`,
      );
    },
  );
}
