/**
 * Which releases runpack has seen verified, so that a rollback never brings back a release that was never
 * proven to run. URL mode: `verified_at` metadata on the release blob (a copy to the stable blob carries it).
 * Local mode: Kudu keeps the packages, so runpack keeps a small record next to them in %HOME%/data/runpack
 * (package name, release id, content stamp, when it was verified), written through Kudu's VFS.
 */
import type { KuduClient } from '../azure/kudu.js';

export const VERIFIED_KEY = 'verified_at';
export const LOCAL_RECORD = 'data/runpack/releases.json';
/** Records kept in the local file (the newest). */
const KEEP = 30;

/** Pure: whether release blob metadata says runpack verified it. */
export function isVerifiedBlob(metadata: Record<string, string>): boolean {
  return Object.entries(metadata).some(([k, v]) => k.toLowerCase() === VERIFIED_KEY && v !== '');
}

export interface LocalRelease {
  /** data/SitePackages/<package> */
  package: string;
  releaseId: string;
  sha256: string;
  /** The release stamp's content sha256 (what the mounted wwwroot carries). */
  contentSha256?: string;
  verifiedAt: string;
  commit?: string;
}

/** Pure: the records of a file's text (anything unreadable counts as no record). */
export function parseLocalRecords(text: string | null): LocalRelease[] {
  if (!text) return [];
  try {
    const parsed = JSON.parse(text) as { releases?: unknown };
    const list = Array.isArray(parsed?.releases) ? parsed.releases : [];
    return list.filter(
      (r): r is LocalRelease =>
        !!r &&
        typeof (r as LocalRelease).package === 'string' &&
        typeof (r as LocalRelease).releaseId === 'string' &&
        typeof (r as LocalRelease).verifiedAt === 'string',
    );
  } catch {
    return [];
  }
}

/** Pure: `entry` added (replacing the record of the same package), newest first, at most KEEP. */
export function withLocalRecord(records: LocalRelease[], entry: LocalRelease): LocalRelease[] {
  return [entry, ...records.filter((r) => r.package !== entry.package)].slice(0, KEEP);
}

export async function readLocalRecords(
  kudu: KuduClient,
  deadline?: number,
): Promise<{ records: LocalRelease[]; etag?: string }> {
  const file = await kudu.vfsGet(LOCAL_RECORD, deadline);
  return { records: parseLocalRecords(file?.text ?? null), etag: file?.etag };
}

/** Records a verified local release (read, merge, conditional write; once more if another writer got there first). */
export async function recordLocalVerified(
  kudu: KuduClient,
  entry: LocalRelease,
  deadline?: number,
): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const { records, etag } = await readLocalRecords(kudu, deadline);
    if (!etag) await kudu.vfsMkdir(LOCAL_RECORD.slice(0, LOCAL_RECORD.lastIndexOf('/')), deadline);
    const body = JSON.stringify({ releases: withLocalRecord(records, entry) }, null, 2);
    const written = await kudu.vfsPut(LOCAL_RECORD, body, {
      ifMatch: etag,
      deadline,
      contentType: 'application/json',
    });
    if (written === 'written') return;
  }
  throw new Error(`${LOCAL_RECORD} kept changing while it was written (another deployment)`);
}
