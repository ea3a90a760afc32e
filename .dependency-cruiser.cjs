/**
 * The layers of src/ (npm run lint fails on a violation): front ends (main.ts, cli.ts + commands/, task.ts) on
 * top; ops/ (operator commands) above deploy/ (the engine, with the run summary of report/summary.ts over it);
 * both above release/ (naming, listing, pruning of releases); all above the building blocks azure/, package/,
 * audit/, report/'s logger and secret registry; util/ at the bottom. No import cycles, nothing from the emulator, and no import against
 * the layers (type-only imports count too).
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make the order of initialisation fragile and hide who owns what.',
      severity: 'error',
      from: { path: '^(src|emulator/src)/' },
      to: { circular: true },
    },
    {
      name: 'no-emulator-in-product',
      comment: 'The emulator is a separate house: runpack reaches it only through public Azure APIs.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^emulator/' },
    },
    {
      name: 'emulator-is-a-separate-house',
      comment: 'The emulator stands in for Azure; it shares no code with the product it tests.',
      severity: 'error',
      from: { path: '^emulator/src/' },
      to: { path: '^src/' },
    },
    {
      name: 'front-ends-are-entry-points',
      comment: 'main.ts, cli.ts, task.ts and commands/ are front ends: nothing in the product imports them.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli\\.ts|commands/)' },
      to: { path: '^src/(main\\.ts|cli\\.ts|task\\.ts|commands/)' },
    },
    {
      name: 'deploy-not-ops',
      comment: 'The engine (deploy/) sits below the operator commands (ops/).',
      severity: 'error',
      from: { path: '^src/deploy/' },
      to: { path: '^src/ops/' },
    },
    {
      name: 'building-blocks-import-nothing-above',
      comment:
        'azure/, package/, audit/, the logger and the secret registry of report/, and util/ know nothing of releases, the engine, the commands or the inputs.',
      severity: 'error',
      from: { path: '^src/(azure|package|audit|util)/|^src/report/(log|secrets)\\.ts$' },
      to: { path: '^src/(release|deploy|ops|azdo|commands)/|^src/(inputs|main|cli|task)\\.ts$' },
    },
    {
      name: 'release-below-deploy-and-ops',
      comment:
        'release/ (naming, listing, pruning of releases) serves the engine and the operator commands alike.',
      severity: 'error',
      from: { path: '^src/release/' },
      to: { path: '^src/(deploy|ops|azdo|commands)/|^src/(inputs|main|cli|task)\\.ts$' },
    },
    {
      name: 'util-at-the-bottom',
      severity: 'error',
      from: { path: '^src/util/' },
      to: { path: '^src/(?!util/)' },
    },
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
  },
};
