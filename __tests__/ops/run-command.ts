/**
 * Test-only runner: runs one operator command module as a process, the way the runpack CLI dispatches it
 * (one line on stderr for an error, exit 2 for bad usage, 1 for any other failure).
 * Usage: node --import tsx __tests__/ops/run-command.ts <diagnose|releases|rollback> [flags]
 */
import { describeError, UsageError } from '../../src/util/errors.js';

const [name, ...argv] = process.argv.slice(2);
const load: Record<string, () => Promise<(argv: string[]) => Promise<number>>> = {
  diagnose: async () => (await import('../../src/commands/diagnose.js')).runDiagnose,
  releases: async () => (await import('../../src/commands/releases.js')).runReleases,
  rollback: async () => (await import('../../src/commands/rollback.js')).runRollbackCommand,
};
try {
  const command = load[name ?? ''];
  if (!command) throw new UsageError(`unknown command '${name}'`);
  process.exitCode = await (await command())(argv);
} catch (err) {
  process.stderr.write(`runpack ${name}: ${describeError(err)}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
}
