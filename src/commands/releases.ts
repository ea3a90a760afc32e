/**
 * `runpack releases --app-name <app> [--keep-releases <n>] [options]`: the app's releases newest first, which one is
 * live and which ones slots run. With --keep-releases, deletes older releases (never the live one, one a slot runs, or
 * one a stable blob holds), each delete conditional on the listed ETag; --dry-run only shows what would go.
 */
import { defaultIO, depsFor, helpText, writeJson, writeSummary, type CommandIO } from '../ops/command.js';
import { loadReleaseState, loadStoredState, reportOf, type ReleaseState } from '../ops/release-ops.js';
import { buildReleasesReport, renderReleasesMarkdown, renderReleasesText } from '../ops/releases.js';
import { pruneReleases, selectReleasesToDelete, type PruneResult } from '../release/retention.js';
import { openSession, parseOpsFlags } from '../ops/session.js';
import { RunpackError, UsageError } from '../util/errors.js';

export const RELEASES_HELP = helpText(
  'runpack releases --app-name <app> [--keep-releases <n> [--dry-run]] [options]',
  "List the app's (or slot's) release blobs newest first: id, sha256, commit, time, size, which one is live\n" +
    'and which ones slots run. With --keep-releases, delete all but the newest n (never the live release, one a slot\n' +
    'runs, or one a stable blob holds).',
  [
    [
      '--keep-releases <n>',
      'Retention: keep the newest n releases (at least 1) and delete the rest (alias --keep).',
    ],
    ['--dry-run', 'With --keep-releases: show what would be deleted, delete nothing.'],
  ],
);

export async function runReleases(argv: string[], io: CommandIO = defaultIO()): Promise<number> {
  const flags = parseOpsFlags(argv, 'releases', ['keep-releases', 'keep'], io.env);
  if (flags.help) {
    io.stdout.write(RELEASES_HELP);
    return 0;
  }
  // --keep-releases matches the action input; --keep is accepted as its short alias.
  const keepRaw = flags.extra.get('keep-releases') ?? flags.extra.get('keep');
  let keep: number | undefined;
  if (keepRaw !== undefined) {
    if (!/^\d+$/.test(keepRaw) || Number(keepRaw) < 1)
      throw new UsageError(
        `Flag '--keep-releases' must be a whole number of releases, at least 1, not '${keepRaw}'.`,
      );
    keep = Number(keepRaw);
  }
  if (flags.dryRun && keep === undefined)
    throw new UsageError(
      "Flag '--dry-run' only applies with '--keep-releases <n>' (listing releases writes nothing).",
    );
  const session = await openSession(flags.inputs, depsFor(io, flags.secrets));
  let state: ReleaseState;
  try {
    state = await loadReleaseState(session, flags.given.has('container'));
  } catch (err) {
    if (!(err instanceof RunpackError) || err.code !== 'storage-account-missing') throw err;
    // Local mode without release blobs: the packages Kudu keeps are the releases.
    if (keep !== undefined)
      throw new UsageError(
        "Flag '--keep-releases' applies to release blobs; in local mode Kudu keeps SCM_MAX_ZIP_PACKAGE_COUNT packages itself.",
      );
    const stored = await loadStoredState(session, session.ctx.phaseDeadline(5 * 60_000));
    const self = session.target.ref.slot ?? 'production';
    const report = buildReleasesReport({
      app: session.target.ref.appName,
      ...(session.target.ref.slot ? { slot: session.target.ref.slot } : {}),
      container: 'data/SitePackages (Kudu)',
      releases: stored.releases,
      live: stored.live,
      sides: { [self]: stored.live },
      stableSha256: {},
    });
    if (flags.json) writeJson(io, flags.secrets, report);
    else io.stdout.write(renderReleasesText(report));
    writeSummary(io, renderReleasesMarkdown(report));
    return 0;
  }
  const report = reportOf(session, state);
  let pruned: PruneResult | undefined;
  if (keep !== undefined) {
    const self = session.target.ref.slot ?? 'production';
    const toDelete = selectReleasesToDelete(state.releases, {
      keep,
      live: state.live,
      slotReferenced: Object.entries(state.sides)
        .filter(([name]) => name !== self)
        .map(([, sha]) => sha),
      stable: Object.values(state.stableSha256),
    });
    if (state.live === null && !flags.dryRun)
      session.log.warn(
        'The live release is unknown; only releases outside the newest kept ones are deleted.',
      );
    pruned = await session.log.group(flags.dryRun ? 'Retention (dry run)' : 'Retention', () =>
      pruneReleases(state.store, state.container, toDelete, { dryRun: flags.dryRun, log: session.log }),
    );
  }
  if (flags.json) {
    writeJson(io, flags.secrets, { ...report, ...(pruned ? { retention: pruned } : {}) });
  } else {
    io.stdout.write(renderReleasesText(report));
    if (pruned)
      io.stdout.write(
        `${pruned.dryRun ? 'Would delete' : 'Deleted'} ${pruned.deleted.length} release(s)${pruned.deleted.length ? `: ${pruned.deleted.map((s) => s.slice(0, 12)).join(', ')}` : ''}${pruned.skipped.length ? `; left ${pruned.skipped.length} that changed meanwhile` : ''}.\n`,
      );
  }
  writeSummary(io, renderReleasesMarkdown(report));
  return 0;
}
