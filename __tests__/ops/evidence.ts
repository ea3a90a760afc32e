/** Builders of injected evidence for the diagnose rule tests. */
import type { Evidence } from '../../src/ops/types.js';

export const NOW = new Date('2026-03-01T12:00:00Z');
export const STAMP = { runpack: 1 as const, contentSha256: 'c'.repeat(64) };
export const OTHER_STAMP = { runpack: 1 as const, contentSha256: 'd'.repeat(64) };

export function evidence(over: Partial<Evidence> = {}): Evidence {
  return {
    target: {
      app: 'web',
      kind: 'app,linux',
      isLinux: true,
      isFunctionApp: false,
      isFlex: false,
      isConsumption: false,
      linuxFxVersion: 'NODE|20',
      state: 'Running',
    },
    settings: {},
    ...over,
  };
}

export function sasUrl(params: Record<string, string>): string {
  const q = new URLSearchParams({
    sv: '2023-11-03',
    sr: 'b',
    sp: 'r',
    spr: 'https',
    sig: 'c2VjcmV0',
    ...params,
  });
  return `https://acct.blob.core.windows.net/packages/web.zip?${q.toString()}`;
}
