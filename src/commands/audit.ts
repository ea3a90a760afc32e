/** `runpack audit <source-dir> [--json] [--runtime r]`: find writes under the app root that fail on a read-only mount. */
import { UsageError } from '../util/errors.js';

export async function runAudit(argv: string[]): Promise<number> {
  if (argv.length === 0) throw new UsageError("runpack audit: give a source folder, e.g. 'runpack audit ./src'.");
  throw new UsageError('runpack audit: not available in this build.');
}
