/**
 * What follows every change of the mounted package — a deploy, a rollback, the automatic rollback after a
 * failed deploy: restart so the app mounts it, verify it (setting, package URL, mounted stamp, the app answers),
 * then, for function apps, sync the triggers and compare the functions. One ending for the engine and the
 * operator commands.
 */
import { afterMountFunctions } from './functions.js';
import { restartApp } from './restart.js';
import type { DeployContext, Finding, PackageInfo } from './types.js';
import { failureMarkerCheck, verifyDeploy, type VerifyInput, type VerifyOutcome } from './verify.js';

export interface AfterMountInput {
  /** What verification checks. */
  verify: VerifyInput;
  mode: 'url' | 'local' | 'flex';
  /** Restart the app (restart: false skips it, with a warning in URL mode; Flex's One Deploy restarts it). */
  restart: boolean;
  /** The settings write changed the app's settings, which restarts it on its own. */
  settingChanged: boolean;
  /** Names the log groups (`Restart (rollback)`). */
  label?: string;
}

export interface AfterMountOutcome {
  verify: VerifyOutcome;
  /** Logged as they were found: the skipped restart, the functions check. */
  findings: Finding[];
}

export async function restartAndVerify(
  ctx: DeployContext,
  pkg: PackageInfo,
  a: AfterMountInput,
): Promise<AfterMountOutcome> {
  const { log } = ctx;
  const findings: Finding[] = [];
  const named = (phase: string) => (a.label ? `${phase} (${a.label})` : phase);
  const note = (f: Finding) => {
    findings.push(f);
    if (f.severity === 'error') log.error(f.message);
    else if (f.severity === 'warning') log.warn(f.message);
    else log.info(f.message);
  };
  // One restart per deploy. In URL mode a settings write restarts the app on its own (as any settings change
  // does): wait for that one; verification's mounted stamp proves it mounted the new package. Otherwise (the
  // stable URL unchanged, or local mode, whose push asks Kudu not to restart: restart=false) restart so
  // the app mounts what was published.
  // Flex Consumption: One Deploy restarts the app onto the new package itself.
  const restarted =
    a.restart && a.mode !== 'flex'
      ? await log.group(named('Restart'), () =>
          restartApp(
            ctx,
            ctx.phaseDeadline(5 * 60_000),
            failureMarkerCheck(ctx),
            a.mode === 'url' && a.settingChanged,
          ),
        )
      : undefined;
  if (!a.restart && a.mode === 'url')
    note({
      severity: 'warning',
      code: 'restart-skipped',
      message: a.settingChanged
        ? 'restart: false; the settings change restarts the app on its own.'
        : 'restart: false; the app keeps its mounted package until its next restart.',
    });
  let verify = await log.group(named('Verify'), async () => {
    const o = await verifyDeploy(ctx, pkg, {
      ...a.verify,
      confirmed: restarted?.confirmed,
      // URL mode without a restart or a settings write: nothing re-mounts the package.
      noRemount: a.mode === 'url' && !a.restart && !a.settingChanged,
    });
    for (const l of o.levels) {
      const line = `${l.level}: ${l.status} — ${l.detail}`;
      if (l.status === 'fail') log.error(line);
      else log.info(line);
    }
    return o;
  });
  if (ctx.target.isFunctionApp && verify.ok) {
    const fns = await log.group(named('Functions'), () => afterMountFunctions(ctx, pkg));
    for (const f of fns) note(f);
    // A host that does not list the package's functions runs nothing of this release: verification fails
    // (and the automatic rollback brings the previous release back).
    const notLoaded = fns.find((f) => f.severity === 'error' && NOT_LOADED.has(f.code));
    if (notLoaded) verify = functionsNotLoaded(verify, notLoaded);
  }
  return { verify, findings };
}

/** Function findings that mean the host did not load the package. */
const NOT_LOADED = new Set(['functions-mismatch', 'functions-warmup-only']);

/** Pure: a verification outcome failed by the functions check (level (f), cause functions-not-loaded). */
export function functionsNotLoaded(verify: VerifyOutcome, finding: Finding): VerifyOutcome {
  const warmUp = finding.code === 'functions-warmup-only';
  return {
    ...verify,
    ok: false,
    levels: [
      ...verify.levels,
      {
        level: 'functions',
        status: 'fail',
        detail: warmUp
          ? 'the host lists only the WarmUp function'
          : "the host's functions differ from the package's",
      },
    ],
    cause: {
      cause: 'functions-not-loaded',
      evidence: warmUp
        ? "the functions host lists only the platform's WarmUp function: it started but loaded none of the package's functions"
        : "the functions host does not list the package's functions",
      fix: "check that host.json and the functions sit at the package root, that the dependencies are in the package (or remote-build on Flex), and that the package's language is the app's runtime; the host's startup log (Application Insights) names what it could not load",
    },
  };
}
