// Bundles the action (dist/index.js), the CLI (dist/cli.js) and the Azure Pipelines task
// (extension/RunpackDeploy/index.js, CommonJS: the task folder has no package.json). The emulator is never bundled.
import commonjs from '@rollup/plugin-commonjs';
import json from '@rollup/plugin-json';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import typescript from '@rollup/plugin-typescript';

const plugins = (outDir = 'dist') => [
  typescript({ tsconfig: 'tsconfig.build.json', outDir }),
  nodeResolve({ preferBuiltins: true, exportConditions: ['node'] }),
  commonjs(),
  json(),
];

const onwarn = (warning, warn) => {
  // Circular imports inside third-party packages and `this` at module scope are harmless here.
  if (warning.code === 'CIRCULAR_DEPENDENCY' || warning.code === 'THIS_IS_UNDEFINED') return;
  warn(warning);
};

export default [
  {
    input: 'src/main.ts',
    output: { file: 'dist/index.js', format: 'es', inlineDynamicImports: true },
    plugins: plugins(),
    onwarn,
  },
  {
    input: 'src/cli.ts',
    output: {
      file: 'dist/cli.js',
      format: 'es',
      inlineDynamicImports: true,
      banner: '#!/usr/bin/env node',
    },
    plugins: plugins(),
    onwarn,
  },
  {
    input: 'src/task.ts',
    output: { file: 'extension/RunpackDeploy/index.js', format: 'cjs', inlineDynamicImports: true },
    plugins: plugins('extension/RunpackDeploy'),
    onwarn,
  },
];
