import { describe, it, expect } from '@jest/globals';
import {
  isVerifiedBlob,
  parseLocalRecords,
  withLocalRecord,
  type LocalRelease,
} from '../../src/release/verified.js';

const rec = (pkg: string, id: string): LocalRelease => ({
  package: pkg,
  releaseId: id,
  sha256: id.padEnd(64, '0'),
  verifiedAt: '2026-12-07T00:00:00.000Z',
});

describe('verified releases', () => {
  it('reads the verified mark on release blob metadata, whatever the case of its key', () => {
    expect(isVerifiedBlob({ sha256: 'x', verified_at: '2026-12-07T00:00:00Z' })).toBe(true);
    expect(isVerifiedBlob({ Verified_At: '2026-12-07T00:00:00Z' })).toBe(true);
    expect(isVerifiedBlob({ sha256: 'x' })).toBe(false);
    expect(isVerifiedBlob({ verified_at: '' })).toBe(false);
  });

  it('keeps the newest record per package, newest first, at most 30', () => {
    let list: LocalRelease[] = [];
    for (let i = 0; i < 35; i++)
      list = withLocalRecord(list, rec(`2026010100${String(i).padStart(4, '0')}.zip`, `id${i}`));
    expect(list).toHaveLength(30);
    expect(list[0].releaseId).toBe('id34');
    const again = withLocalRecord(list, rec(list[5].package, 'replaced'));
    expect(again.filter((r) => r.package === list[5].package)).toEqual([
      expect.objectContaining({ releaseId: 'replaced' }),
    ]);
    expect(again[0].releaseId).toBe('replaced');
  });

  it('treats an unreadable or foreign record file as no record, and skips malformed entries', () => {
    expect(parseLocalRecords(null)).toEqual([]);
    expect(parseLocalRecords('not json')).toEqual([]);
    expect(parseLocalRecords('{"releases": 3}')).toEqual([]);
    const text = JSON.stringify({ releases: [rec('a.zip', 'a'), { package: 'b.zip' }, null] });
    expect(parseLocalRecords(text).map((r) => r.package)).toEqual(['a.zip']);
  });
});
