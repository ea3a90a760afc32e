/**
 * Pure: the deploy plan from the inputs and the target's current state. Refuses what cannot work, with the
 * reason and a way out; picks the mode and the package access; names the blobs and the settings to change.
 */
import { RunpackError } from '../util/errors.js';
import { ACTION_NAMING } from '../naming.js';
import type { DeployInputs, DeployMode, Finding, PackageAccess, TargetInfo } from './types.js';
import { stableBlobName } from '../release/releases.js';
import {
  effectiveRunFromPackage,
  flexRefusalMessage,
  flexUnsupportedSettings,
  FLEX_UNSUPPORTED_SETTINGS,
  modeOfValue,
  RFP_LEGACY,
  RFP_MI,
} from '../release/rfp.js';

export interface Plan {
  mode: DeployMode;
  /** url mode only. */
  access?: PackageAccess;
  /** url mode: principal whose blob role is checked. */
  identityPrincipalId?: string;
  container: string;
  /** `<app>[-<slot>].zip` */
  stableBlob: string;
  /** Stored access policy id (sas). */
  policyId: string;
  /** The WEBSITE_RUN_FROM_PACKAGE value before this deploy. */
  previousValue?: string;
  /** Settings to add besides WEBSITE_RUN_FROM_PACKAGE. */
  extra: Record<string, string | null>;
  findings: Finding[];
}

const JAVA = /^(JAVA|TOMCAT|JBOSSEAP|WILDFLY)\|/i;
const PYTHON = /^PYTHON\|/i;

function isTrue(v: string | undefined): boolean {
  return v !== undefined && /^(true|1)$/i.test(v.trim());
}

export function planDeploy(inputs: DeployInputs, target: TargetInfo, settings: Record<string, string>): Plan {
  const name = target.ref.slot ? `${target.ref.appName}/${target.ref.slot}` : target.ref.appName;
  const findings: Finding[] = [];

  const n = inputs.naming ?? ACTION_NAMING;
  if (target.isFlex) return planFlex(inputs, target, settings, name);
  if (inputs.remoteBuild)
    throw new RunpackError(
      'remote-build-unsupported',
      `${n.input('remote-build')} is for Flex Consumption apps; ${name} runs its package as it is (run-from-package builds nothing on the platform), so build in the pipeline and leave ${n.input('remote-build')} off.`,
    );
  if (/container/i.test(target.kind))
    throw new RunpackError(
      'container-app',
      `${name} runs a custom container (kind ${target.kind}), which does not use run-from-package; deploy a new image instead.`,
    );
  if (!target.isFunctionApp && target.isLinux) {
    if (JAVA.test(target.linuxFxVersion))
      throw new RunpackError(
        'runtime-unsupported',
        `${name} is a Java web app (${target.linuxFxVersion}); run-from-package does not support Java web apps because the runtime writes to the app folder, deploy with OneDeploy (az webapp deploy) instead.`,
      );
    if (PYTHON.test(target.linuxFxVersion))
      throw new RunpackError(
        'runtime-unsupported',
        `${name} is a Python web app on Linux (${target.linuxFxVersion}); run-from-package does not support it, deploy with build automation (SCM_DO_BUILD_DURING_DEPLOYMENT=true, az webapp deploy) instead.`,
      );
  }

  // Settings that fight run-from-package.
  const fighting = ['SCM_DO_BUILD_DURING_DEPLOYMENT', 'ENABLE_ORYX_BUILD'].filter((k) => isTrue(settings[k]));
  if (fighting.length) {
    const list = fighting.map((k) => `${k}=${settings[k]}`).join(', ');
    if (!inputs.force)
      throw new RunpackError(
        'conflicting-setting',
        `${name} has ${list}, which asks for a build on the server; run-from-package skips it, so the app would run an unbuilt package. Build in the workflow and remove ${fighting.join(' and ')}, or set force: true to deploy anyway.`,
      );
    findings.push({
      severity: 'warning',
      code: 'conflicting-setting',
      message: `${list} is ignored under run-from-package (force: true).`,
    });
  }

  const previousValue = effectiveRunFromPackage(settings);
  const currentMode = modeOfValue(previousValue);
  const linuxConsumption = target.isFunctionApp && target.isLinux && target.isConsumption;

  let mode: DeployMode;
  if (inputs.mode === 'auto') mode = linuxConsumption ? 'url' : (currentMode ?? 'url');
  else mode = inputs.mode;
  if (mode === 'local' && linuxConsumption)
    throw new RunpackError(
      'mode-unsupported',
      `${name} is a Linux Consumption function app, which runs packages only from a URL; use mode: url (or auto) with storage-account.`,
    );
  const remove: string[] = [];
  if (settings[RFP_LEGACY] !== undefined) remove.push(RFP_LEGACY);
  const extra: Record<string, string | null> = {};
  for (const k of remove) extra[k] = null;

  const plan: Plan = {
    mode,
    container: inputs.container,
    stableBlob: stableBlobName(target.ref.appName, target.ref.slot),
    policyId: `runpack-${target.ref.appName}${target.ref.slot ? `-${target.ref.slot}` : ''}`
      .toLowerCase()
      .slice(0, 64),
    previousValue,
    extra,
    findings,
  };

  if (mode === 'local') return plan;

  if (!inputs.storageAccount)
    throw new RunpackError(
      'usage',
      `${(inputs.naming ?? ACTION_NAMING).input('storage-account')} is required for url mode (deploying ${name}); name the storage account for the package blobs, or use ${(inputs.naming ?? ACTION_NAMING).value('mode', 'local')}.`,
    );
  if (linuxConsumption) extra.WEBSITE_MOUNT_ENABLED = '1';

  const system = target.identity.systemPrincipalId;
  const users = target.identity.userAssigned;
  const hasIdentity = Boolean(system) || users.length > 0;
  let access: PackageAccess;
  if (inputs.packageAccess === 'identity') {
    if (!hasIdentity)
      throw new RunpackError(
        'identity-missing',
        `${name} has no managed identity, so package-access: identity cannot work; turn on its system-assigned identity (az webapp identity assign) and give it Storage Blob Data Reader, or use package-access: sas.`,
      );
    access = 'identity';
  } else if (inputs.packageAccess === 'sas') access = 'sas';
  else access = hasIdentity ? 'identity' : 'sas';
  plan.access = access;

  if (access === 'identity') {
    const configured = settings[RFP_MI];
    if (system && (!configured || /^systemassigned$/i.test(configured))) {
      plan.identityPrincipalId = system;
    } else {
      const chosen =
        users.find((u) => configured && u.resourceId.toLowerCase() === configured.toLowerCase()) ??
        (system ? undefined : users[0]);
      if (chosen) {
        plan.identityPrincipalId = chosen.principalId;
        extra[RFP_MI] = chosen.resourceId;
        if (!system && users.length > 1 && !configured)
          findings.push({
            severity: 'warning',
            code: 'identity-choice',
            message: `${name} has ${users.length} user-assigned identities; using ${chosen.resourceId}. Set ${RFP_MI} on the app to choose another.`,
          });
      } else if (system) {
        // The configured identity is no longer on the app: fall back to the system identity.
        plan.identityPrincipalId = system;
        extra[RFP_MI] = null;
        findings.push({
          severity: 'warning',
          code: 'identity-missing',
          message: `${RFP_MI} names an identity the app no longer has; switching the package fetch to the system-assigned identity.`,
        });
      }
    }
  } else if (settings[RFP_MI] !== undefined) {
    extra[RFP_MI] = null;
  }
  return plan;
}

/**
 * Pure: the plan for a Flex Consumption app. Its package goes to its deployment storage through One Deploy; what
 * Flex cannot do is refused before anything is uploaded: a mode other than auto, slots, an app without deployment
 * storage, settings Flex does not support (removed in the deploy's settings write with force).
 */
function planFlex(
  inputs: DeployInputs,
  target: TargetInfo,
  settings: Record<string, string>,
  name: string,
): Plan {
  const n = inputs.naming ?? ACTION_NAMING;
  if (inputs.mode !== 'auto') throw new RunpackError('mode-unsupported', flexRefusalMessage(name));
  if (target.ref.slot || inputs.swapTo)
    throw new RunpackError(
      'slots-unsupported',
      `${name} runs on the Flex Consumption plan, which has no deployment slots; ${n.input(target.ref.slot ? 'slot' : 'swap-to')} cannot be used there (a second app serves as staging on Flex).`,
    );
  if (!target.flex)
    throw new RunpackError(
      'flex-storage-missing',
      `${name} runs on the Flex Consumption plan but its functionAppConfig names no deployment storage; set one (az functionapp deployment config set --deployment-storage-name …) and deploy again.`,
    );
  // Inputs of run-from-package that a Flex deploy would not use: refused rather than ignored.
  const unused = ['package-access', 'sas-expiry-days', 'keep-releases', 'restart'].filter((k) =>
    inputs.given?.has(k),
  );
  if (unused.length)
    throw new RunpackError(
      'input-unsupported',
      `${name} runs on the Flex Consumption plan, where ${unused.map((k) => n.ref(k)).join(', ')} ${unused.length === 1 ? 'has' : 'have'} no effect: the package goes to the app's deployment storage (no package URL or SAS, no pruning) and One Deploy restarts the app itself; remove ${unused.length === 1 ? 'it' : 'them'}.`,
    );
  if (inputs.publishProfile)
    throw new RunpackError(
      'publish-profile-unsupported',
      `${name} runs on the Flex Consumption plan, whose deployments take the Entra login (a bearer token on One Deploy); remove ${n.input('publish-profile')} and log in with a service principal or OIDC.`,
    );
  if (inputs.rollbackSettings)
    throw new RunpackError(
      'rollback-settings-unsupported',
      `${n.input('rollback-settings')} is not available for Flex Consumption apps (their SCM site keeps no files, so runpack has nowhere on the app to record a release's settings); leave it off — the settings stay as they are on a rollback.`,
    );
  const findings: Finding[] = [];
  const extra: Record<string, string | null> = {};
  const unsupported = flexUnsupportedSettings(settings);
  if (unsupported.length) {
    const why = unsupported.map((k) => `${k} (${FLEX_UNSUPPORTED_SETTINGS[k.toUpperCase()]})`).join('; ');
    if (!inputs.force)
      throw new RunpackError(
        'flex-setting',
        `${name} runs on the Flex Consumption plan, which does not support ${why}; remove ${unsupported.length === 1 ? 'it' : 'them'} (az functionapp config appsettings delete --setting-names ${unsupported.join(' ')}), or set ${n.value('force', 'true')} to have runpack remove ${unsupported.length === 1 ? 'it' : 'them'} in the deploy's settings write.`,
      );
    for (const k of unsupported) extra[k] = null;
    findings.push({
      severity: 'warning',
      code: 'flex-setting-removed',
      message: `Removing ${unsupported.join(', ')} from ${name}: Flex Consumption does not support ${unsupported.length === 1 ? 'it' : 'them'} (${n.value('force', 'true')}).`,
    });
  }
  return {
    mode: 'flex',
    container: inputs.container,
    stableBlob: stableBlobName(target.ref.appName, null),
    policyId: `runpack-${target.ref.appName}`.toLowerCase().slice(0, 64),
    previousValue: effectiveRunFromPackage(settings),
    extra,
    findings,
  };
}

/** Pure: the blob name a run-from-package URL points at inside `containerUrl` (no trailing slash), or null. */
export function blobInContainer(value: string | undefined, containerUrl: string): string | null {
  if (!value || !/^http/i.test(value)) return null;
  const bare = value.split('?')[0];
  const prefix = `${containerUrl.replace(/\/+$/, '')}/`;
  if (!bare.toLowerCase().startsWith(prefix.toLowerCase())) return null;
  return decodeURIComponent(bare.slice(prefix.length));
}

/**
 * Pure: the stable blob for this target. After a slot swap the other side runs the blob named after this slot
 * (URL settings move with the swap), so overwriting it would change what the other side mounts at its next
 * restart. Then the target's own current blob is reused when no one else runs it, else an alternate name.
 */
export function chooseStableBlob(
  preferred: string,
  ownCurrent: string | null,
  usedByOthers: ReadonlySet<string>,
): string {
  const used = new Set([...usedByOthers].map((b) => b.toLowerCase()));
  if (!used.has(preferred.toLowerCase())) return preferred;
  if (ownCurrent && !ownCurrent.startsWith('releases/') && !used.has(ownCurrent.toLowerCase()))
    return ownCurrent;
  const base = preferred.replace(/\.zip$/i, '');
  // -a … -z, then -26, -27, …: the first name nobody runs (the set is finite, so this ends).
  for (let i = 0; ; i++) {
    const name = `${base}-${i < 26 ? String.fromCharCode(97 + i) : i}.zip`;
    if (!used.has(name.toLowerCase())) return name;
  }
}
