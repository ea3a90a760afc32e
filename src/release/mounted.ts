/**
 * What Kudu stores and the worker mounts, read through a Kudu session: the package packagename.txt names, the
 * release stamp in the mounted wwwroot, whether a stored zip is this run's, and the one wait for a release's
 * stamp to appear in the mount (used by verification, the check after a swap and the operator commands).
 */
import { KuduError, type KuduClient } from '../azure/kudu.js';
import { STAMP_PATH, type ReleaseStamp } from '../package/types.js';
import {
  compareStamp,
  FAILURE_MARKER,
  PACKAGE_NAME_FILE,
  SITE_PACKAGES,
  WWWROOT,
  type StampCheck,
} from './rfp.js';

/** packagename.txt's content (trimmed), or null when there is none. */
export async function readPackageName(kudu: KuduClient, deadline?: number): Promise<string | null> {
  const file = await kudu.vfsGet(PACKAGE_NAME_FILE, deadline);
  if (!file) return null;
  const name = file.text.trim();
  return name || null;
}

/** The release stamp in the mounted wwwroot, raw text, or null. */
export async function readMountedStamp(kudu: KuduClient, deadline?: number): Promise<string | null> {
  const file = await kudu.vfsGet(`${WWWROOT}/${STAMP_PATH}`, deadline);
  return file ? file.text : null;
}

/** Whether wwwroot shows the worker's failure marker (best effort: an unreadable answer counts as no marker). */
export async function mountFailed(kudu: KuduClient, deadline?: number): Promise<boolean> {
  return (await kudu.vfsGet(`${WWWROOT}/${FAILURE_MARKER}`, deadline).catch(() => null)) !== null;
}

/** Whether data/SitePackages/<name> is this run's zip: the same size, and written since Kudu received the push. */
export async function storedPackageIsOurs(
  kudu: KuduClient,
  name: string,
  zipBytes: number,
  record: { received_time?: string; start_time?: string | null },
  deadline?: number,
): Promise<boolean> {
  const entries = await kudu.vfsList(SITE_PACKAGES, deadline).catch(() => null);
  const entry = entries?.find((e) => e.name === name);
  const since = Date.parse(record.received_time ?? record.start_time ?? '');
  const written = Date.parse(entry?.mtime ?? '');
  return !!entry && entry.size === zipBytes && Number.isFinite(since) && written >= since - 1000;
}

export interface StampWatch {
  /** The last comparison of the mounted stamp with the release's. */
  state: StampCheck;
  /** The worker's failure marker was seen in wwwroot. */
  marker: boolean;
}

export interface StampWatchOptions {
  deadline: number;
  intervalMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** One read only: nothing will change what is mounted (or another release already won). */
  once?: boolean;
  /** Called after each read that did not match (may throw to stop, e.g. when another deployment won). */
  onMiss?: () => Promise<void>;
}

/**
 * Read the mounted stamp until it is the release's, the worker's failure marker appears, or the deadline. A
 * 401/403 from Kudu stops the wait (the session cannot read); other read failures count as "missing" while the
 * site restarts.
 */
export async function watchMountedStamp(
  kudu: KuduClient,
  expected: ReleaseStamp | null,
  o: StampWatchOptions,
): Promise<StampWatch> {
  if (!expected) return { state: 'not-stamped', marker: await mountFailed(kudu, o.deadline) };
  for (;;) {
    const text = await readMountedStamp(kudu, o.deadline).catch((err: unknown) => {
      if (err instanceof KuduError && (err.status === 401 || err.status === 403)) throw err;
      return null;
    });
    const state = compareStamp(expected, text);
    if (state === 'match') return { state, marker: false };
    const marker = await mountFailed(kudu, o.deadline);
    if (o.onMiss) await o.onMiss();
    if (marker || o.once || o.now() + o.intervalMs > o.deadline) return { state, marker };
    await o.sleep(o.intervalMs);
  }
}
