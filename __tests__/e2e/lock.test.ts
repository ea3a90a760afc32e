/**
 * One deploy at a time per app and slot (URL mode): a lease on a lock blob. Two deploys started together run one
 * after the other, the second saying who holds the lock, and a cancelled deploy releases it at once.
 */
import { describe, expect, it } from '@jest/globals';
import { type E2E, fetchSite, useE2E } from './helpers/action.js';

let e: E2E;
useE2E((ready) => (e = ready));

const url = () => ({ 'app-name': 'rp-win-web', 'storage-account': e.emu.storage.accountName });

describe('the deploy lock', () => {
  it('makes two concurrent deploys take turns: both verified, the second names the holder, the later one is live', async () => {
    const first = e.run({ ...url(), package: e.app('k1') }, { timeoutMs: 120_000 });
    // Start the second once the first holds the lock.
    await new Promise((r) => setTimeout(r, 50));
    const second = e.run({ ...url(), package: e.app('k2') }, { timeoutMs: 120_000 });
    const [a, b] = await Promise.all([first, second]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const waited = [a, b].filter((r) =>
      /holds the deploy lock \(run https:\/\/github\.com\/octo-org\/octo-app\/actions\/runs\/1234, commit 0123456789ab/.test(
        r.stdout,
      ),
    );
    expect(waited).toHaveLength(1);
    // The one that waited ran last, so its release is what the app serves.
    const last = waited[0];
    const site = await fetchSite(e.emu, 'rp-win-web', '/version.txt');
    expect(site.body.trim()).toMatch(last === b ? /version k2$/ : /version k1$/);
    expect(last.outputs['live-release-id']).toBe(last.outputs['release-id']);
  });

  it('a cancelled deploy releases the lock, so the next one does not wait for the lease to expire', async () => {
    const cancelled = await e.run(
      { ...url(), package: e.app('k3') },
      { timeoutMs: 60_000, signal: { when: /Deploy lock of rp-win-web taken/, name: 'SIGINT' } },
    );
    expect(cancelled.code).toBe(1);
    const started = Date.now();
    const next = await e.run({ ...url(), package: e.app('k4') }, { timeoutMs: 60_000 });
    expect(next.code).toBe(0);
    expect(next.stdout).not.toMatch(/holds the deploy lock/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
