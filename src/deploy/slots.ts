/**
 * Deployment slots: before deploying to a slot, compare its run-from-package settings with the side it would
 * swap with, and whether WEBSITE_RUN_FROM_PACKAGE is slot-sticky (slotConfigNames, production only). A swap
 * exchanges the content and every non-sticky setting; sticky settings stay with their slot (API-SPEC §3.3).
 * The failure this guards against: a swap that moves the live app onto a setting or a package the other side
 * cannot mount.
 */
import type { ArmSite, SiteRef } from '../azure/arm.js';
import { RunpackError, UsageError } from '../util/errors.js';
import { ACTION_NAMING, type InputNaming } from '../naming.js';
import type { DeployContext, DeployMode, Finding, PackageInfo, SwapOutcome, TargetInfo } from './types.js';
import { checkMountedRelease } from './verify.js';
import { RFP, classifyRunFromPackage, effectiveRunFromPackage, type RfpState } from '../release/rfp.js';
import { openKudu } from './context.js';

export const RFP_MI_SETTING = 'WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID';

export interface SlotSide {
  /** `production` or the slot name. */
  name: string;
  settings: Record<string, string>;
}

export interface SlotComparison {
  /** The slot being deployed; `mode` is what it will run after this deploy. */
  slot: SlotSide & { mode: Exclude<DeployMode, 'flex'> };
  /** The side it would swap with (production unless swap-to names another slot). */
  other: SlotSide;
  /** slotConfigNames.appSettingNames (production-level). */
  stickyNames: string[];
  isLinux: boolean;
  /** A swap follows this deploy (swap-to): sure breakage becomes an error unless `force`. */
  swapPlanned: boolean;
  force: boolean;
}

const WORDS: Record<RfpState, string> = {
  local: 'a local package (=1)',
  url: 'a package URL',
  unset: 'no run-from-package (files in wwwroot)',
  other: 'an unrecognised run-from-package value',
};

function hasSas(url: string | undefined): boolean {
  return !!url && /[?&]sig=/i.test(url);
}

/**
 * Pure: what a swap between `slot` and `other` would do to the run-from-package setup. Never quotes setting
 * values (URLs may carry a SAS).
 */
export function compareSlotSettings(c: SlotComparison): Finding[] {
  const findings: Finding[] = [];
  const sticky = new Set(c.stickyNames.map((n) => n.toUpperCase()));
  const rfpSticky = sticky.has(RFP) || sticky.has('WEBSITE_RUN_FROM_ZIP');
  const miSticky = sticky.has(RFP_MI_SETTING);
  const s: RfpState = c.slot.mode;
  const otherValue = effectiveRunFromPackage(c.other.settings);
  const o = classifyRunFromPackage(otherValue);
  const slotName = `slot '${c.slot.name}'`;
  const otherName = c.other.name === 'production' ? 'production' : `slot '${c.other.name}'`;
  const blocking = c.swapPlanned && !c.force;
  const breaking = (code: string, message: string): Finding => ({
    severity: blocking ? 'error' : 'warning',
    code,
    message: blocking
      ? `${message} The swap was not started; fix the settings, or set force: true to swap anyway.`
      : message,
  });

  if (rfpSticky) {
    if (s === 'local' && o === 'local') {
      findings.push({
        severity: 'info',
        code: 'slot-setting-sticky',
        message: `${RFP} is slot-sticky and both ${slotName} and ${otherName} run local packages; a swap moves the stored package with the content.`,
      });
    } else if (s === 'url' && o === 'url') {
      findings.push(
        breaking(
          'slot-swap-keeps-package',
          `${RFP} is slot-sticky and ${slotName} and ${otherName} both run from package URLs, so a swap leaves each side on its own URL: ${otherName} would keep its current package, not this release. Make ${RFP} non-sticky (remove it from slotConfigNames) or deploy ${otherName} directly.`,
        ),
      );
    } else {
      const consequence =
        s === 'url' && o === 'local'
          ? `${otherName} would stay at =1 but receive ${slotName}'s content, which holds no local package of this release, so it cannot mount one (FAILED TO INITIALIZE RUN FROM PACKAGE)`
          : s === 'local' && o === 'url'
            ? `${otherName} would keep its package URL and never serve the package pushed to ${slotName}, while ${slotName} would stay at =1 with ${otherName}'s old content`
            : `${otherName} would keep ${WORDS[o]} while receiving content built for ${WORDS[s]}`;
      findings.push(
        breaking(
          'slot-swap-mode-mismatch',
          `${RFP} is slot-sticky but ${slotName} runs ${WORDS[s]} and ${otherName} runs ${WORDS[o]}: after a swap ${consequence}. Use the same mode on both sides, or make the setting non-sticky.`,
        ),
      );
    }
  } else {
    if (s !== o && o !== 'unset') {
      const unsupported = o === 'local' && s === 'url' && !c.isLinux;
      findings.push({
        severity: unsupported && blocking ? 'error' : 'warning',
        code: 'slot-swap-mode-change',
        message: `${RFP} is not slot-sticky, so a swap moves ${slotName}'s ${WORDS[s]} onto ${otherName}, which now runs ${WORDS[o]}${unsupported ? '; on Windows the platform does not support moving an app from a local package to a URL' : ''}. Swapping back restores it.${unsupported && blocking ? ' The swap was not started; set force: true to swap anyway.' : ''}`,
      });
    }
    if (s === 'url') {
      const slotValue = effectiveRunFromPackage(c.slot.settings);
      const identityFetch = c.slot.settings[RFP] === undefined || !hasSas(slotValue);
      const mi = c.slot.settings[RFP_MI_SETTING];
      if (identityFetch && (!mi || /^systemassigned$/i.test(mi))) {
        findings.push({
          severity: 'warning',
          code: 'slot-swap-identity',
          message: `${slotName} fetches its package with its system-assigned identity; after a swap ${otherName} fetches the same URL with its own, different identity — give that identity Storage Blob Data Reader on the package container too, or use a user-assigned identity on both.`,
        });
      } else if (identityFetch && miSticky) {
        findings.push({
          severity: 'warning',
          code: 'slot-swap-identity',
          message: `${RFP_MI_SETTING} is slot-sticky while ${RFP} is not: after a swap ${otherName} fetches ${slotName}'s package URL with its own identity choice; make both settings sticky or neither.`,
        });
      }
    }
  }
  return findings;
}

/** The SiteRef of a swap side: `production` → the production site. */
export function sideRef(ref: SiteRef, name: string): SiteRef {
  return { ...ref, slot: name.toLowerCase() === 'production' ? null : name };
}

function slotOf(ctx: DeployContext): string | null {
  const s = ctx.target.ref.slot ?? null;
  return s && s.toLowerCase() !== 'production' ? s : null;
}

/**
 * Entry point for the engine, before anything changes. `mode` is the mode this deploy will use (when omitted:
 * the `mode` input, or for `auto` the slot's current mode). Returns [] when the target is not a slot.
 */
export async function checkSlots(ctx: DeployContext, mode?: DeployMode): Promise<Finding[]> {
  // The engine logs and records the findings (and stops on errors).
  return evaluateSlots(ctx, mode);
}

const naming = (ctx: DeployContext): InputNaming => ctx.inputs.naming ?? ACTION_NAMING;

async function evaluateSlots(ctx: DeployContext, mode?: DeployMode): Promise<Finding[]> {
  const slot = slotOf(ctx);
  const swapTo = ctx.inputs.swapTo;
  if (!slot) {
    if (swapTo)
      throw new UsageError(
        `${naming(ctx).input('swap-to')} needs ${naming(ctx).ref('slot')}: deploy to a slot (for example ${naming(ctx).value('slot', 'staging')}) and swap it into ${swapTo}.`,
      );
    return [];
  }
  if (swapTo && swapTo.toLowerCase() === slot.toLowerCase())
    throw new UsageError(
      `${naming(ctx).input('swap-to')} names the slot being deployed ('${slot}'); name the other side, e.g. production.`,
    );
  const otherName = swapTo ?? 'production';
  const [slotSettings, otherSettings, names] = await Promise.all([
    ctx.settings.read(),
    ctx.arm.listAppSettings(sideRef(ctx.target.ref, otherName)),
    ctx.arm.getSlotConfigNames(ctx.target.ref),
  ]);
  const current = classifyRunFromPackage(effectiveRunFromPackage(slotSettings));
  const wanted: Exclude<DeployMode, 'flex'> =
    mode && mode !== 'flex'
      ? mode
      : ctx.inputs.mode !== 'auto'
        ? ctx.inputs.mode
        : current === 'local'
          ? 'local'
          : 'url';
  return compareSlotSettings({
    slot: { name: slot, settings: slotSettings, mode: wanted },
    other: {
      name: otherName.toLowerCase() === 'production' ? 'production' : otherName,
      settings: otherSettings,
    },
    stickyNames: names.appSettingNames,
    isLinux: ctx.target.isLinux,
    swapPlanned: Boolean(swapTo),
    force: ctx.inputs.force,
  });
}

/** TargetInfo of the other side of a swap, from its ARM site. */
export function targetFromSite(ref: SiteRef, site: ArmSite, base: TargetInfo): TargetInfo {
  const p = site.properties ?? {};
  const scm = (p.hostNameSslStates ?? []).find((h) => (h.hostType ?? '').toLowerCase() === 'repository');
  const defaultHostName = p.defaultHostName ?? base.defaultHostName;
  return {
    ...base,
    ref,
    id: site.id,
    kind: site.kind ?? base.kind,
    state: p.state ?? base.state,
    defaultHostName,
    scmHostName: scm?.name ?? null,
    appUrl: `https://${defaultHostName}`,
  };
}

/**
 * Entry point for the engine, after the slot is verified: swap it into `to` (ARM slotsswap), then read the
 * release stamp back from the target's mounted wwwroot (when `pkg` is given). The engine then runs its
 * health check against `targetAfterSwap(ctx, to)`'s appUrl.
 */
export async function swapSlots(ctx: DeployContext, to: string, pkg?: PackageInfo): Promise<SwapOutcome> {
  const slot = slotOf(ctx);
  if (!slot)
    throw new UsageError(
      `${naming(ctx).input('swap-to')} needs ${naming(ctx).ref('slot')}: only a slot can be swapped into ${to}.`,
    );
  const findings: Finding[] = [];
  const from = slot;
  const toName = to.toLowerCase() === 'production' ? 'production' : to;
  // The slot now runs what was deployed: compare again with the real settings, and refuse a breaking swap.
  const slotSettings = await ctx.settings.read();
  const mode = classifyRunFromPackage(effectiveRunFromPackage(slotSettings)) === 'local' ? 'local' : 'url';
  const blocking = (await evaluateSlots({ ...ctx, inputs: { ...ctx.inputs, swapTo: toName } }, mode)).filter(
    (f) => f.severity === 'error',
  );
  if (blocking.length) throw new RunpackError(blocking[0].code, blocking[0].message);
  ctx.log.info(`Swapping slot '${from}' of ${ctx.target.ref.appName} into ${toName}…`);
  try {
    await ctx.arm.swapSlot(ctx.target.ref, toName);
  } catch (err) {
    if (err instanceof RunpackError)
      throw new RunpackError(
        'swap-failed',
        `The swap of slot '${from}' into ${toName} failed: ${err.message} Slot '${from}' still runs the new release; production is unchanged.`,
      );
    throw err;
  }
  ctx.log.info(`Swap done: ${toName} now runs the release verified on slot '${from}'.`);
  if (pkg) {
    const target = await targetAfterSwap(ctx, toName);
    const otherCtx: DeployContext = { ...ctx, target };
    const deadline = ctx.phaseDeadline(120_000);
    const { kudu } = await openKudu(otherCtx, deadline);
    findings.push(...(await checkMountedRelease(ctx, kudu, pkg, deadline, 5000)));
  }
  return { from, to: toName, findings };
}

/** The swap target as a TargetInfo (for the engine's health check after a swap). */
export async function targetAfterSwap(ctx: DeployContext, to: string): Promise<TargetInfo> {
  const ref = sideRef(ctx.target.ref, to);
  const site = await ctx.arm.getSite(ref);
  return targetFromSite(ref, site, ctx.target);
}
