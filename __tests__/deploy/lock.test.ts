import { describe, it, expect } from '@jest/globals';
import { describeHolder, lockBlobName } from '../../src/deploy/lock.js';

describe('the deploy lock', () => {
  it('names one lock blob per app and slot', () => {
    expect(lockBlobName('Shop')).toBe('locks/shop.lock');
    expect(lockBlobName('shop', 'Staging')).toBe('locks/shop-staging.lock');
  });
  it('says who holds it from the lock blob metadata, whatever its case', () => {
    expect(
      describeHolder({
        Run_Url: 'https://github.com/o/r/actions/runs/1',
        commit: 'abcdef0123456789',
        since: 't',
      }),
    ).toBe('run https://github.com/o/r/actions/runs/1, commit abcdef012345, since t');
    expect(describeHolder({})).toBe('another deploy (no details recorded)');
  });
});
