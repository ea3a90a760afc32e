/**
 * Resolves the target through Resource Manager: subscription, resource group, the site or slot, its kind,
 * identity and SCM host (hostNameSslStates Repository, never built from the app name).
 */
import type { ArmClient, ArmSite, SiteRef } from '../azure/arm.js';
import { RunpackError } from '../util/errors.js';
import type { DeployInputs, FlexConfig, TargetInfo } from './types.js';

/** Pure: a Flex app's deployment storage and runtime from functionAppConfig (undefined when it names none). */
export function flexConfigOf(functionAppConfig: unknown): FlexConfig | undefined {
  const c = (functionAppConfig ?? {}) as {
    deployment?: {
      storage?: {
        value?: unknown;
        authentication?: {
          type?: unknown;
          userAssignedIdentityResourceId?: unknown;
          storageAccountConnectionStringName?: unknown;
        };
      };
    };
    runtime?: { name?: unknown; version?: unknown };
  };
  const storage = c.deployment?.storage;
  if (typeof storage?.value !== 'string' || storage.value === '') return undefined;
  const auth = storage.authentication ?? {};
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const runtime = str(c.runtime?.name);
  return {
    containerUrl: storage.value.replace(/\/+$/, ''),
    authentication: str(auth.type) ?? 'SystemAssignedIdentity',
    ...(str(auth.userAssignedIdentityResourceId)
      ? { userAssignedIdentityResourceId: str(auth.userAssignedIdentityResourceId) }
      : {}),
    ...(str(auth.storageAccountConnectionStringName)
      ? { connectionStringSetting: str(auth.storageAccountConnectionStringName) }
      : {}),
    ...(runtime
      ? {
          runtime: {
            name: runtime.toLowerCase(),
            ...(c.runtime?.version != null ? { version: String(c.runtime.version) } : {}),
          },
        }
      : {}),
  };
}

/** Pure: TargetInfo from the site document. */
export function targetFromSite(
  ref: SiteRef,
  site: ArmSite,
  siteConfig?: Record<string, unknown>,
): TargetInfo {
  const p = site.properties ?? {};
  const kind = (site.kind ?? 'app').toLowerCase();
  const tokens = kind.split(',').map((t) => t.trim());
  const sku = String(p.sku ?? '');
  const isFunctionApp = tokens.includes('functionapp');
  const isLinux = p.reserved === true || tokens.includes('linux');
  const scm = (p.hostNameSslStates ?? []).find((h) => (h.hostType ?? '').toLowerCase() === 'repository');
  const defaultHostName = p.defaultHostName ?? '';
  const linuxFx = (siteConfig?.linuxFxVersion as string | undefined) ?? p.siteConfig?.linuxFxVersion ?? '';
  const identity = site.identity ?? {};
  const type = (identity?.type ?? '').toLowerCase();
  return {
    ref,
    id: site.id,
    kind,
    isLinux,
    isFunctionApp,
    isFlex: Boolean(p.functionAppConfig) || /^flexconsumption$/i.test(sku),
    ...(p.functionAppConfig ? { flex: flexConfigOf(p.functionAppConfig) } : {}),
    isConsumption: /^dynamic$/i.test(sku),
    sku,
    state: String(p.state ?? ''),
    location: site.location ?? '',
    defaultHostName,
    scmHostName: scm?.name ?? null,
    appUrl: defaultHostName ? `https://${defaultHostName}` : '',
    linuxFxVersion: String(linuxFx ?? ''),
    identity: {
      systemPrincipalId:
        type.includes('systemassigned') && identity?.principalId ? identity.principalId : null,
      userAssigned: Object.entries(identity?.userAssignedIdentities ?? {}).map(([resourceId, v]) => ({
        resourceId,
        principalId: v.principalId ?? '',
        clientId: v.clientId ?? '',
      })),
    },
  };
}

export async function resolveSubscription(
  arm: ArmClient,
  inputs: DeployInputs,
  fromLogin: string | undefined,
): Promise<string> {
  if (inputs.subscriptionId) return inputs.subscriptionId;
  if (fromLogin) return fromLogin;
  const subs = (await arm.listSubscriptions()).filter((s) => !s.state || /enabled/i.test(s.state));
  if (subs.length === 1) return subs[0].subscriptionId;
  if (subs.length === 0)
    throw new RunpackError(
      'subscription-missing',
      'The login sees no subscription; give its role assignment a subscription or set subscription-id.',
    );
  throw new RunpackError(
    'subscription-ambiguous',
    `The login sees ${subs.length} subscriptions (${subs
      .slice(0, 5)
      .map((s) => s.subscriptionId)
      .join(', ')}${subs.length > 5 ? ', …' : ''}); set subscription-id.`,
  );
}

export async function resolveTarget(
  arm: ArmClient,
  inputs: DeployInputs,
  subscriptionId: string,
): Promise<TargetInfo> {
  let resourceGroup = inputs.resourceGroup;
  if (!resourceGroup) {
    const found = await arm.findSiteResourceGroup(subscriptionId, inputs.appName);
    if (!found)
      throw new RunpackError(
        'app-not-found',
        `No app named ${inputs.appName} in subscription ${subscriptionId}; check app-name and subscription-id, or set resource-group.`,
      );
    resourceGroup = found;
  }
  const ref: SiteRef = { subscriptionId, resourceGroup, appName: inputs.appName, slot: inputs.slot ?? null };
  const site = await arm.getSite(ref);
  let config: Record<string, unknown> | undefined;
  if (site.kind?.includes('linux') || site.properties?.reserved) {
    config = await arm.getSiteConfig(ref).catch(() => undefined);
  }
  return targetFromSite(ref, site, config);
}
