/** Entry point of the runpack CLI (bundled to dist/cli.js, the package's `runpack` bin). */
import { cli } from './commands/index.js';

// No top-level await: in the single-file bundle the command modules are inlined and initialised after this
// module's body starts, so awaiting here would load a command before its module exists.
void cli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
