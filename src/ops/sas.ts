/**
 * Pure: what a package URL says about itself: its SAS (kind, times, permissions, stored policy, user delegation
 * key) and the container and blob it names. The signature is never kept or returned.
 */
import type { SasInfo } from './types.js';

/** The SAS of a URL, or undefined when the URL carries none (an identity URL or a public blob). */
export function parseSas(url: string): SasInfo | undefined {
  let q: URLSearchParams;
  try {
    q = new URL(url).searchParams;
  } catch {
    return undefined;
  }
  const signed = q.has('sig');
  if (!signed && !q.has('se') && !q.has('si') && !q.has('sp')) return undefined;
  const get = (k: string) => q.get(k) ?? undefined;
  const kind: SasInfo['kind'] =
    q.has('skoid') || q.has('ske') ? 'user-delegation' : q.has('ss') || q.has('srt') ? 'account' : 'service';
  return {
    kind,
    version: get('sv'),
    resource: get('sr'),
    permissions: get('sp'),
    start: get('st'),
    expiry: get('se'),
    protocol: get('spr'),
    policyId: get('si'),
    keyExpiry: get('ske'),
    keyObjectId: get('skoid'),
    signed,
  };
}

/** Container and blob of a blob URL, for the account's endpoint (path style or `<account>.blob.<suffix>`). */
export function blobPathOf(url: string, blobEndpoint?: string): { container: string; blob: string } | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  let path = u.pathname;
  if (blobEndpoint) {
    try {
      const ep = new URL(blobEndpoint);
      const prefix = ep.pathname.replace(/\/+$/, '');
      if (ep.host.toLowerCase() === u.host.toLowerCase() && prefix && path.startsWith(prefix + '/'))
        path = path.slice(prefix.length);
    } catch {
      // fall through: plain path
    }
  }
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length < 2) return null;
  return { container: parts[0], blob: parts.slice(1).join('/') };
}

/** The URL without its query (no SAS), for messages. */
export function urlWithoutQuery(url: string): string {
  try {
    const u = new URL(url);
    u.search = '';
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.split('?')[0];
  }
}

/** Milliseconds from now until an ISO time, or undefined when the time is absent or unreadable. */
export function msUntil(iso: string | undefined, now: Date): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t - now.getTime();
}
