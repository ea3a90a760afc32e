/** Entry point of the runpack CLI (bundled to dist/cli.js, the package's `runpack` bin). */
import { cli } from './commands/index.js';

process.exitCode = await cli(process.argv.slice(2));
