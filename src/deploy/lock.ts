/**
 * One deploy at a time per app and slot (URL mode): a lease on a lock blob next to the releases
 * (`locks/<app>[-<slot>].lock`). Blob Storage ends a lease on its own after 60 s without a renewal, so a killed
 * runner never blocks the next deploy for long. A deploy that finds the lock taken waits within its budget, saying
 * who holds it (run URL, commit); the holder renews it every 20 s and releases it when it is done.
 * Local mode relies on Kudu's own deployment lock (a push waits for the deployment that holds it).
 */
import type { BlobLease, ReleaseBlobStore } from '../azure/blob.js';
import { RunpackError } from '../util/errors.js';
import type { DeployContext } from './types.js';

export const LEASE_SECONDS = 60;
const RENEW_MS = 20_000;
const POLL_MS = 5_000;

/** Pure: the lock blob of an app (and slot). */
export function lockBlobName(app: string, slot?: string | null): string {
  return `locks/${app.toLowerCase()}${slot ? `-${slot.toLowerCase()}` : ''}.lock`;
}

/** Pure: who holds the lock, from its metadata, for the waiting line. */
export function describeHolder(meta: Record<string, string>): string {
  const get = (k: string) => Object.entries(meta).find(([key]) => key.toLowerCase() === k)?.[1];
  const parts = [
    get('run_url') ? `run ${get('run_url')}` : '',
    get('commit') ? `commit ${get('commit')!.slice(0, 12)}` : '',
    get('since') ? `since ${get('since')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'another deploy (no details recorded)';
}

export interface DeployLock {
  release(): Promise<void>;
}

/** Takes the lock, waiting for another holder within the deploy's budget; renews it until released. */
export async function acquireDeployLock(
  ctx: DeployContext,
  store: ReleaseBlobStore,
  container: string,
  holder: { runUrl?: string; commit?: string },
): Promise<DeployLock> {
  const { target, log, clock } = ctx;
  const name = lockBlobName(target.ref.appName, target.ref.slot);
  const who = target.ref.slot ? `${target.ref.appName}/${target.ref.slot}` : target.ref.appName;
  const meta: Record<string, string> = { since: new Date(clock.now()).toISOString() };
  if (holder.runUrl) meta.run_url = holder.runUrl.replace(/[^\x20-\x7e]/g, '');
  if (holder.commit) meta.commit = holder.commit.replace(/[^\x20-\x7e]/g, '');
  let said = '';
  let lease: BlobLease | undefined;
  for (;;) {
    const got = await store.tryLease(container, name, LEASE_SECONDS, meta);
    if ('lease' in got) {
      lease = got.lease;
      break;
    }
    const by = describeHolder(got.heldBy);
    if (by !== said) {
      log.info(`Another deploy of ${who} holds the deploy lock (${by}); waiting for it.`);
      said = by;
    }
    if (clock.now() + POLL_MS > ctx.deadline)
      throw new RunpackError(
        'lock-timeout',
        `Another deploy of ${who} still held the deploy lock at the end of timeout-minutes (${by}); nothing was changed — run this deploy again when it is done.`,
      );
    await clock.sleep(POLL_MS);
  }
  log.info(`Deploy lock of ${who} taken (${container}/${name}, renewed while the deploy runs).`);
  const held = lease;
  const timer = setInterval(() => void held.renew().catch(() => undefined), RENEW_MS);
  timer.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await held.release().catch(() => undefined);
    },
  };
}
