/** Entry point of the GitHub Action (bundled to dist/index.js). */
import * as core from '@actions/core';

core.setFailed('runpack: the deploy engine is not built yet.');
