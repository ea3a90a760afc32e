/**
 * Publish profiles (the `publish-profile` input): the XML that Resource Manager's `publishxml` returns and the
 * portal's "Download publish profile" saves. runpack only needs the Kudu host and the `$app` credentials from it.
 *
 * Shape (API-SPEC §3.6): `<publishData><publishProfile publishMethod="ZipDeploy" publishUrl="host:443"
 * userName="$app" userPWD="…" destinationAppUrl="https://app…" …/>…</publishData>`. The publishUrl has no scheme.
 */
import { UsageError } from '../util/errors.js';

export interface PublishProfile {
  /** The profile used (`… - Zip Deploy` preferred, else the MSDeploy one, which names the same SCM host). */
  profileName: string;
  publishMethod: string;
  /** Kudu base URL, `https://<scm-host>` (port 443 dropped). */
  scmUrl: string;
  /** Host part of scmUrl (with a port when it is not 443). */
  scmHost: string;
  /** `$app` or `$app__slot`. */
  userName: string;
  /** Secret: mask it before anything can print it. */
  password: string;
  /** App name taken from userName (`$app__slot` → `app`). */
  appName: string;
  /** Slot name taken from userName (`$app__slot` → `slot`), null for production. */
  slotName: string | null;
  /** `destinationAppUrl` when present. */
  siteUrl: string | null;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXml(value: string): string {
  return value.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name] ?? whole;
  });
}

/** Attributes of every `<publishProfile …>` element, names as written, values XML-decoded. */
export function publishProfileElements(xml: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  const elementRe = /<publishProfile\b([^>]*)>/gi;
  let m: RegExpExecArray | null;
  while ((m = elementRe.exec(xml)) !== null) {
    const attrs: Record<string, string> = {};
    const attrRe = /([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
    let a: RegExpExecArray | null;
    while ((a = attrRe.exec(m[1])) !== null) attrs[a[1]] = decodeXml(a[2] ?? a[3] ?? '');
    out.push(attrs);
  }
  return out;
}

/** `$app__slot` → { app, slot }; `$app` → { app, slot: null }. Windows FTP names (`app\$app`) lose their prefix. */
export function splitPublishingUserName(userName: string): { appName: string; slotName: string | null } {
  const bare = userName.slice(userName.lastIndexOf('\\') + 1).replace(/^\$/, '');
  const sep = bare.indexOf('__');
  if (sep < 0) return { appName: bare, slotName: null };
  return { appName: bare.slice(0, sep), slotName: bare.slice(sep + 2) };
}

/** `host:443`, `https://host`, `https://host:443/` or `host` → `https://host` (other ports kept). */
export function normalizeScmUrl(publishUrl: string): URL | null {
  const raw = publishUrl.trim();
  if (!raw) return null;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  if (!url.hostname) return null;
  url.username = '';
  url.password = '';
  url.pathname = '/';
  url.search = '';
  url.hash = '';
  return url;
}

const HOW_TO_GET =
  "download it again from the app's Overview page (Download publish profile) or with 'az webapp deployment list-publishing-profiles --xml'";

/**
 * Parse a publish profile and pick the Kudu credentials. Throws a UsageError (never quoting the password)
 * when the XML has no usable profile.
 */
export function parsePublishProfile(xml: string): PublishProfile {
  if (!/<publishData\b/i.test(xml) && !/<publishProfile\b/i.test(xml)) {
    throw new UsageError(
      `The publish-profile input is not a publish profile (no <publishData> element); pass the whole XML file's content, ${HOW_TO_GET}.`,
    );
  }
  const elements = publishProfileElements(xml);
  const method = (e: Record<string, string>): string => (e.publishMethod ?? '').toLowerCase();
  const chosen =
    elements.find((e) => method(e) === 'zipdeploy') ?? elements.find((e) => method(e) === 'msdeploy') ?? null;
  if (!chosen) {
    throw new UsageError(
      `The publish-profile input has no ZipDeploy or MSDeploy profile (found: ${elements.map((e) => e.publishMethod ?? '?').join(', ') || 'none'}); ${HOW_TO_GET}.`,
    );
  }
  const name = chosen.profileName ?? chosen.publishMethod ?? 'profile';
  const url = normalizeScmUrl(chosen.publishUrl ?? '');
  if (!url) {
    throw new UsageError(
      `The publish-profile's '${name}' entry has no valid publishUrl (expected 'host:443'); ${HOW_TO_GET}.`,
    );
  }
  const userName = chosen.userName ?? '';
  const password = chosen.userPWD ?? '';
  if (!userName || !password) {
    throw new UsageError(
      `The publish-profile's '${name}' entry has no ${userName ? 'userPWD' : 'userName'}; ${HOW_TO_GET}.`,
    );
  }
  const { appName, slotName } = splitPublishingUserName(userName);
  const scmUrl = url.origin;
  return {
    profileName: name,
    publishMethod: chosen.publishMethod ?? '',
    scmUrl,
    scmHost: url.host,
    userName,
    password,
    appName,
    slotName,
    siteUrl: chosen.destinationAppUrl ? chosen.destinationAppUrl : null,
  };
}

/**
 * Check that a profile belongs to the app (and slot) being deployed. Returns a one-line problem, or null.
 * A profile for another app or slot would push the package to the wrong place.
 */
export function profileMismatch(
  profile: PublishProfile,
  appName: string,
  slot: string | null,
): string | null {
  const wantSlot = slot && slot.toLowerCase() !== 'production' ? slot.toLowerCase() : null;
  const haveSlot = profile.slotName ? profile.slotName.toLowerCase() : null;
  if (profile.appName.toLowerCase() === appName.toLowerCase() && haveSlot === wantSlot) return null;
  const have = `app '${profile.appName}'${haveSlot ? ` slot '${profile.slotName}'` : ' (production)'}`;
  const want = `app '${appName}'${wantSlot ? ` slot '${slot}'` : ' (production)'}`;
  return `The publish-profile input is for ${have} but this deploy targets ${want}; use the profile of the target (for a slot, download the slot's own profile).`;
}
