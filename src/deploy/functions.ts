/**
 * Function apps: after the package is mounted, sync the triggers through Resource Manager (syncfunctiontriggers
 * answers 400 while the host starts, so 400 is retried within a bound) and compare the functions the host lists
 * with the functions in the package. Without the sync, non-HTTP triggers keep the old metadata (API-SPEC §6.5).
 */
import type { InspectReport } from '../package/types.js';
import { ACTION_NAMING, type InputNaming } from '../naming.js';
import { RunpackError } from '../util/errors.js';
import type { DeployContext, Finding, PackageInfo, TargetInfo } from './types.js';

/** Site kinds are comma-separated tokens (`functionapp,linux,container`): compare tokens, not whole strings. */
export function kindTokens(kind: string | undefined | null): string[] {
  return (kind ?? '')
    .toLowerCase()
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

export function isFunctionAppKind(kind: string | undefined | null): boolean {
  return kindTokens(kind).includes('functionapp');
}

/** `app/fn` (ARM's name) or `fn` → `fn`. */
export function functionName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

export interface FunctionsDiff {
  /** In the package, not listed by the host. */
  missing: string[];
  /** Listed by the host, not in the package (stale triggers, or functions declared in code). */
  unexpected: string[];
  same: boolean;
}

/** Pure: compare function names, case-insensitively (the host's names are case-insensitive). */
export function diffFunctions(expected: string[], listed: string[]): FunctionsDiff {
  const norm = (xs: string[]) => new Map(xs.map((x) => [functionName(x).toLowerCase(), functionName(x)]));
  const e = norm(expected);
  const l = norm(listed);
  const missing = [...e]
    .filter(([k]) => !l.has(k))
    .map(([, v]) => v)
    .sort();
  const unexpected = [...l]
    .filter(([k]) => !e.has(k))
    .map(([, v]) => v)
    .sort();
  return { missing, unexpected, same: missing.length === 0 && unexpected.length === 0 };
}

export function describeFunctionsDiff(diff: FunctionsDiff, where: string): string {
  const parts: string[] = [];
  if (diff.missing.length) parts.push(`missing from the host: ${diff.missing.join(', ')}`);
  if (diff.unexpected.length) parts.push(`listed but not in the package: ${diff.unexpected.join(', ')}`);
  return `The functions host of ${where} does not list the package's functions (${parts.join('; ')}); check each function's function.json and the host's startup log (Application Insights or the Log stream), then deploy again.`;
}

const PYTHON_FIX =
  'run-from-package runs no remote build, so install the dependencies into the package first (pip install -r requirements.txt --target .python_packages/lib/site-packages) or set force: true';

/** Pure: the language of a function app's package, from its entry point (null when it cannot tell). */
export function functionLanguage(inspect: { entryPoint?: string | null }): string | null {
  const e = (inspect.entryPoint ?? '').toLowerCase();
  if (/\.py$/.test(e)) return 'python';
  if (/\.(c|m)?js$/.test(e)) return 'node';
  if (/\.dll$/.test(e)) return 'dotnet-isolated';
  if (/\.ps1$/.test(e)) return 'powershell';
  if (/\.jar$/.test(e)) return 'java';
  return null;
}

/**
 * Pure: what the inspector's findings mean for a function app. Without a remote build the package must carry
 * its dependencies: a Python function app without `.python_packages` cannot import them (the inspector's
 * `dependencies-missing` warning becomes an error unless `force`). On Flex Consumption the same holds for Node's
 * `node_modules`, unless `remote-build` asks the platform to install them; and the package's language must be
 * the runtime functionAppConfig names.
 */
export function functionPackageFindings(
  inspect: Pick<InspectReport, 'runtime' | 'problems'> & { entryPoint?: string | null },
  target: Pick<TargetInfo, 'isFunctionApp'> &
    Partial<Pick<TargetInfo, 'isFlex' | 'flex'>> & { name?: string },
  force: boolean,
  remoteBuild = false,
  n: InputNaming = ACTION_NAMING,
): Finding[] {
  if (!target.isFunctionApp) return [];
  const out: Finding[] = [];
  const app = target.name ?? 'the app';
  if (target.isFlex) {
    const wanted = target.flex?.runtime?.name;
    const language = functionLanguage(inspect);
    if (wanted && language && wanted !== language && !(wanted === 'custom'))
      out.push({
        severity: force ? 'warning' : 'error',
        code: 'runtime-mismatch',
        message: `The package is a ${language} function app (entry point ${inspect.entryPoint}), but ${app} runs ${wanted}${target.flex?.runtime?.version ? ` ${target.flex.runtime.version}` : ''} (functionAppConfig.runtime); the host would load none of its functions. Deploy the ${wanted} build, or change the app's runtime${force ? '' : ` (${n.value('force', 'true')} deploys anyway)`}.`,
      });
  }
  for (const p of inspect.problems) {
    if (p.code !== 'dependencies-missing') continue;
    const python =
      inspect.runtime === 'python' || /python|\.python_packages|requirements\.txt/i.test(p.message);
    if (target.isFlex) {
      out.push(
        remoteBuild
          ? {
              severity: 'info',
              code: 'remote-build',
              message: `The package does not carry its ${python ? 'Python packages' : 'node_modules'}; the platform installs them (${n.value('remote-build', 'true')}).`,
            }
          : {
              severity: force ? 'warning' : 'error',
              code: python ? 'python-packages-missing' : 'node-modules-missing',
              message: python
                ? `This Python function app's package has no .python_packages/lib/site-packages although ${p.path ?? 'requirements.txt'} lists dependencies, and Flex Consumption installs nothing without a remote build; run 'pip install -r requirements.txt --target .python_packages/lib/site-packages' before packaging, or set ${n.value('remote-build', 'true')}.`
                : `This Node function app's package has no complete node_modules although ${p.path ?? 'package.json'} lists dependencies, and Flex Consumption installs nothing without a remote build; run 'npm ci --omit=dev' before packaging, or set ${n.value('remote-build', 'true')}.`,
            },
      );
      continue;
    }
    if (!python) continue;
    out.push({
      severity: force ? 'warning' : 'error',
      code: 'python-packages-missing',
      message: `This Python function app's package has no .python_packages folder although ${p.path ?? 'requirements.txt'} lists dependencies; ${PYTHON_FIX}.`,
    });
  }
  return out;
}

/** Pure: `name: the package's <trigger>, the host's <trigger>` for each function whose trigger type differs. */
export function triggerDifferences(
  wanted: Record<string, string>,
  listed: Map<string, string | undefined> | null,
): string[] {
  if (!listed) return [];
  const byName = new Map([...listed].map(([k, v]) => [k.toLowerCase(), v]));
  return Object.entries(wanted)
    .filter(([fn, type]) => {
      const host = byName.get(fn.toLowerCase());
      return host !== undefined && host.toLowerCase() !== type.toLowerCase();
    })
    .map(([fn, type]) => `${fn}: the package's ${type}, the host's ${byName.get(fn.toLowerCase())}`)
    .sort();
}

/** Pure: the host lists only the platform's WarmUp trigger, which the package does not declare. */
export function warmUpOnly(expected: string[], listed: string[]): boolean {
  const names = listed.map((l) => functionName(l).toLowerCase());
  return (
    names.length === 1 &&
    names[0] === 'warmup' &&
    !expected.some((e) => functionName(e).toLowerCase() === 'warmup')
  );
}

export interface SyncOptions {
  /** Longest total time for the sync (default 3 min, never past the deploy's deadline). */
  budgetMs?: number;
  /** Waits between 400 retries grow from this (default 2 s: 2, 4, 8, … capped at 30 s). */
  firstWaitMs?: number;
  /** How long to wait for the host to list the package's functions (default 2 min). */
  listBudgetMs?: number;
  listIntervalMs?: number;
}

/** Sync triggers through Resource Manager, retrying 400 (host starting) with growing waits. */
export async function syncTriggers(ctx: DeployContext, options: SyncOptions = {}): Promise<void> {
  const deadline = ctx.phaseDeadline(options.budgetMs ?? 180_000);
  const name = ctx.target.ref.slot
    ? `${ctx.target.ref.appName}/${ctx.target.ref.slot}`
    : ctx.target.ref.appName;
  let wait = options.firstWaitMs ?? 2000;
  for (let attempt = 1; ; attempt++) {
    const res = await ctx.arm.syncFunctionTriggers(ctx.target.ref);
    if (res.status >= 200 && res.status < 300) {
      ctx.log.info(`Synced function triggers of ${name}${attempt > 1 ? ` (attempt ${attempt})` : ''}.`);
      return;
    }
    const detail = res.text().replace(/\s+/g, ' ').trim().slice(0, 200);
    if (res.status !== 400)
      throw new RunpackError(
        'trigger-sync-failed',
        `Resource Manager answered ${res.status} to the trigger sync of ${name}${detail ? ` (${detail})` : ''}; non-HTTP triggers keep their old metadata until a sync succeeds — run 'az functionapp function sync' or deploy again.`,
      );
    if (ctx.clock.now() + wait > deadline)
      throw new RunpackError(
        'trigger-sync-failed',
        `The functions host of ${name} kept answering 400 to the trigger sync for ${Math.round((options.budgetMs ?? 180_000) / 1000)} s (it did not start${detail ? `: ${detail}` : ''}); check the host's startup log, fix the package and deploy again.`,
      );
    ctx.log.info(
      `The functions host of ${name} is still starting (trigger sync answered 400); retrying in ${Math.round(wait / 1000)} s.`,
    );
    await ctx.clock.sleep(wait);
    wait = Math.min(wait * 2, 30_000);
  }
}

/**
 * Entry point for the engine, after the package is mounted (and the app restarted) on a function app:
 * sync triggers, then confirm the host lists the package's functions. Returns findings (errors fail the step).
 */
export async function afterMountFunctions(
  ctx: DeployContext,
  pkg: PackageInfo,
  options: SyncOptions = {},
): Promise<Finding[]> {
  if (!ctx.target.isFunctionApp) return [];
  const findings: Finding[] = [];
  const name = ctx.target.ref.slot
    ? `${ctx.target.ref.appName}/${ctx.target.ref.slot}`
    : ctx.target.ref.appName;
  try {
    await syncTriggers(ctx, options);
  } catch (err) {
    if (!(err instanceof RunpackError)) throw err;
    findings.push({ severity: 'error', code: 'trigger-sync-failed', message: err.message });
    return findings;
  }

  const expected = pkg.functions.length ? pkg.functions : (pkg.inspect.functions ?? []);
  const deadline = ctx.phaseDeadline(options.listBudgetMs ?? 120_000);
  const interval = options.listIntervalMs ?? 5000;
  let listed: string[] = [];
  /** Each listed function's trigger, from the same read (when the client reads them). */
  let triggers: Map<string, string | undefined> | null = null;
  let diff: FunctionsDiff = diffFunctions(expected, listed);
  for (;;) {
    if (ctx.arm.listFunctionTriggers) {
      triggers = await ctx.arm.listFunctionTriggers(ctx.target.ref);
      listed = [...triggers.keys()];
    } else listed = await ctx.arm.listFunctions(ctx.target.ref);
    diff = diffFunctions(expected, listed);
    // The host indexes after start: wait while it lists fewer functions than the package has. A host that lists
    // only the platform's WarmUp function has started without loading the package: waiting does not help.
    if (diff.same || (expected.length === 0 && listed.length > 0) || warmUpOnly(expected, listed)) break;
    if (ctx.clock.now() + interval > deadline) break;
    await ctx.clock.sleep(interval);
  }
  if (warmUpOnly(expected, listed)) {
    findings.push({
      severity: 'error',
      code: 'functions-warmup-only',
      message: `The functions host of ${name} lists only the platform's WarmUp function: it started but loaded none of the package's functions${expected.length ? ` (${expected.map(functionName).sort().join(', ')})` : ''}. The content is not what the host can index — functions not at the package root, dependencies missing, or a language other than the app's runtime; check the host's startup log (Application Insights), fix the package and deploy again.`,
    });
    return findings;
  }
  if (expected.length === 0) {
    findings.push({
      severity: listed.length ? 'info' : 'warning',
      code: listed.length ? 'functions-declared-in-code' : 'functions-none',
      message: listed.length
        ? `The package declares its functions in code; the host of ${name} lists ${listed.map(functionName).sort().join(', ')}.`
        : `Neither the package nor the host of ${name} lists any function; check that host.json is at the package root and the functions are built.`,
    });
    return findings;
  }
  if (diff.same) {
    // The same names, and each one's trigger as the package declares it (stale trigger metadata shows here).
    const wanted = pkg.inspect.functionTriggers ?? {};
    const listedTriggers = Object.keys(wanted).length ? triggers : null;
    const differ = triggerDifferences(wanted, listedTriggers);
    if (differ.length) {
      findings.push({
        severity: 'error',
        code: 'functions-mismatch',
        message: `The functions host of ${name} lists the package's functions with other triggers (${differ.join('; ')}): it runs stale trigger metadata; sync the triggers (az functionapp function sync, or restart the app) and deploy again.`,
      });
      return findings;
    }
    ctx.log.info(
      `The functions host of ${name} lists the package's ${expected.length} function(s): ${expected.map(functionName).sort().join(', ')}${listedTriggers ? ', with their triggers' : ''}.`,
    );
    return findings;
  }
  findings.push({
    severity: 'error',
    code: 'functions-mismatch',
    message: describeFunctionsDiff(diff, name),
  });
  return findings;
}
