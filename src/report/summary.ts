/**
 * The job summary (Markdown) and the CLI's text report, from the engine's result. Secrets never get here: the
 * result holds no SAS (package-url is the bare blob URL) and every string passes the secret redaction.
 */
import type { DeployResult } from '../deploy/engine.js';
import { CAUSE_TITLES } from '../deploy/classify.js';
import { LEVEL_TITLES } from '../deploy/verify.js';
import { describeInstance, shortInstance } from '../deploy/instances.js';
import { formatDuration } from './log.js';
import type { SecretRegistry } from './secrets.js';
import type { Finding as AuditFinding } from '../audit/index.js';

const ICON = { pass: '✅', fail: '❌', skipped: '➖' } as const;

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function size(bytes?: number): string {
  if (bytes === undefined) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1048576) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** One target's entry in the `results` output. */
export function resultEntry(r: DeployResult): Record<string, string | boolean | null> {
  return {
    app: r.app,
    slot: r.slot ?? null,
    ok: r.ok,
    verified: r.verified,
    'release-id': r.releaseId ?? null,
    mode: r.mode ?? null,
    'app-url': r.appUrl ?? null,
    'package-url': r.mode === 'url' ? (r.packageUrl ?? null) : null,
    'error-code': r.ok ? null : (r.errorCode ?? null),
    'rolled-back': r.rollback?.verified === true,
    'live-release-id': r.liveReleaseId ?? null,
  };
}

/** The outputs the action sets (strings). A fleet sets the shared ones and `results` per target. */
export function outputsOf(r: DeployResult): Record<string, string> {
  const members = r.fleet ?? [r];
  const deleted = members.flatMap((m) => m.retention?.deleted ?? []);
  const causes = members.map((m) => m.cause?.cause).filter(Boolean);
  return {
    'release-id': r.releaseId ?? '',
    'package-sha256': r.sha256 ?? '',
    'package-url': !r.fleet && r.mode === 'url' ? (r.packageUrl ?? '') : '',
    'previous-release-id': r.fleet ? '' : (r.previousReleaseId ?? ''),
    'rolled-back': members.some((m) => m.rollback?.verified) ? 'true' : 'false',
    'live-release-id': r.fleet ? '' : (r.liveReleaseId ?? ''),
    mode: r.mode ?? '',
    'app-url': r.fleet ? '' : (r.appUrl ?? ''),
    verified: r.verified && !r.dryRun ? 'true' : 'false',
    results: JSON.stringify(members.map(resultEntry)),
    deleted: deleted.join(','),
    cause: causes[0] ?? '',
  };
}

const auditRow = (f: AuditFinding, prefix: string) =>
  `| ${esc(prefix ? `${prefix}/${f.file}` : f.file)} | ${f.line} | \`${f.rule}\` | ${f.severity} | ${esc(f.message)} | ${esc(f.fix)} |`;

/** The sections every deploy shows after the release table: plan, audit, retention, swap. */
function extraSections(r: DeployResult, lines: string[]): void {
  if (r.plan?.length) {
    lines.push('', '### Plan (dry run: nothing written)', '');
    for (const l of r.plan) lines.push(`- ${esc(l)}`);
  }
  for (const m of r.fleet ?? []) {
    if (!m.plan?.length) continue;
    lines.push(
      '',
      `### Plan for ${esc(m.slot ? `${m.app}/${m.slot}` : m.app)} (dry run: nothing written)`,
      '',
    );
    for (const l of m.plan) lines.push(`- ${esc(l)}`);
  }
  if (r.audit) {
    const a = r.audit;
    lines.push(
      '',
      `### Audit of \`${a.pathPrefix || '.'}\``,
      '',
      a.findings.length
        ? `${a.findings.length} write(s) into the read-only package mount in ${a.filesScanned} scanned file(s)${a.strict ? ' (audit: strict)' : ''}.`
        : `No writes into the app root found in ${a.filesScanned} scanned file(s).`,
    );
    if (a.findings.length) {
      lines.push('', '| File | Line | Rule | Severity | Problem | Fix |', '|---|---|---|---|---|---|');
      for (const f of a.findings) lines.push(auditRow(f, a.pathPrefix));
    }
  }
  if (r.swap) {
    lines.push(
      '',
      '### Swap',
      '',
      `${esc(r.swap.from)} → ${esc(r.swap.to)}: ${r.swap.verified ? '✅ swapped-in side verified' : '❌ swapped-in side not verified'}`,
    );
  }
  if (r.retention && !r.fleet) {
    const t = r.retention;
    lines.push('', '### Retention', '');
    lines.push(
      t.deleted.length
        ? `${t.dryRun ? 'Would delete' : 'Deleted'} ${t.deleted.length} old release(s): ${t.deleted.map((d) => `\`${d}\``).join(', ')}; ${t.kept} left.`
        : `Nothing to delete; ${t.kept} release(s) kept.`,
    );
    if (t.skipped.length) lines.push('', `Left alone (changed since listed): ${t.skipped.join(', ')}.`);
  }
}

function fleetTable(r: DeployResult, lines: string[]): void {
  lines.push(
    '',
    '### Targets',
    '',
    '| Target | Result | Release | Verified | Mode | App URL | Deleted | Detail |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const m of r.fleet ?? []) {
    const name = m.slot ? `${m.app}/${m.slot}` : m.app;
    lines.push(
      `| ${esc(name)} | ${m.ok ? '✅ ok' : '❌ failed'} | ${m.releaseId ? `\`${m.releaseId}\`` : ''} | ${m.verified ? 'yes' : 'no'} | ${m.mode ?? ''} | ${esc(m.appUrl ?? '')} | ${(m.retention?.deleted ?? []).join(', ')} | ${esc(m.ok ? (m.noop ? 'already live' : m.swap ? `swapped into ${m.swap.to}` : 'deployed') : (m.error ?? m.errorCode ?? ''))} |`,
    );
  }
}

export function renderSummary(r: DeployResult, secrets: SecretRegistry): string {
  const target = `${r.app}${r.slot ? ` / ${r.slot}` : ''}`;
  const status = r.dryRun
    ? r.ok
      ? `📝 Dry run for **${target}**: release \`${r.releaseId}\` planned, nothing written.`
      : `❌ Dry run for **${target}** found a problem: ${esc(r.error ?? 'unknown error')}`
    : r.fleet
      ? r.ok
        ? `✅ All ${r.fleet.length} targets run release \`${r.releaseId}\`, verified.`
        : `❌ Fleet deploy failed: ${esc(r.error ?? 'unknown error')}`
      : r.ok
        ? r.noop
          ? `✅ Release \`${r.releaseId}\` was already live and verified on **${target}**; nothing changed.`
          : `✅ **${target}** runs release \`${r.releaseId}\`, verified.`
        : `❌ Deploy to **${target}** failed: ${esc(r.error ?? 'unknown error')}`;
  const lines = ['## runpack deploy', '', status, '', '### Release', '', '| | |', '|---|---|'];
  const row = (k: string, v: string | undefined) => {
    if (v) lines.push(`| ${k} | ${esc(v)} |`);
  };
  row('Release id', r.releaseId && `\`${r.releaseId}\``);
  row('sha256', r.sha256 && `\`${r.sha256}\``);
  row('Size', size(r.zipBytes));
  row('Files', r.files !== undefined ? String(r.files) : undefined);
  row('Mode', r.mode);
  row('Package access', r.access);
  row('Package URL', r.mode === 'url' ? r.packageUrl : undefined);
  row(
    'Previous release',
    r.previousReleaseId ? `\`${r.previousReleaseId}\`` : r.releaseId ? 'none known' : undefined,
  );
  row('App URL', r.appUrl);
  row('Commit', r.commit && `\`${r.commit.slice(0, 12)}\``);
  row('Run', r.runUrl);
  row('Deployment history', r.deploymentRecord && `\`${r.deploymentRecord}\``);
  row('Release annotation', r.annotation && `Application Insights ${r.annotation}`);
  row('Login', r.auth);
  if (r.fleet) fleetTable(r, lines);
  extraSections(r, lines);
  if (r.configuration?.length) {
    lines.push('', `### Configuration${r.dryRun ? ' (planned)' : ''}`, '');
    for (const c of r.configuration) lines.push(`- ${esc(c)}`);
  }
  if (r.levels.length) {
    lines.push('', '### Verification', '', '| Level | Result | Detail |', '|---|---|---|');
    for (const l of r.levels)
      lines.push(`| ${LEVEL_TITLES[l.level]} | ${ICON[l.status]} ${l.status} | ${esc(l.detail)} |`);
  }
  if (r.instances?.length) {
    lines.push('', '### Instances', '', '| Instance | Result | What it runs |', '|---|---|---|');
    for (const i of r.instances)
      lines.push(
        `| \`${shortInstance(i.id)}\` | ${i.gone ? '➖ left' : i.ok ? '✅ verified' : '❌ failed'} | ${esc(describeInstance(i))} |`,
      );
  }
  if (r.rollback) rollbackSection(r, lines);
  if (r.cause) {
    lines.push(
      '',
      `**Likely cause:** ${CAUSE_TITLES[r.cause.cause]}: ${esc(r.cause.evidence)}.`,
      '',
      `**Fix:** ${esc(r.cause.fix)}.`,
    );
  }
  const notes = r.findings.filter((f) => f.severity !== 'info');
  if (notes.length) {
    lines.push('', '### Findings', '');
    for (const f of notes)
      lines.push(`- ${f.severity === 'error' ? '❌' : '⚠️'} \`${f.code}\`: ${esc(f.message)}`);
  }
  if (r.phases.length) {
    lines.push('', '### Phases', '', '| Phase | Time | |', '|---|---|---|');
    for (const p of r.phases)
      lines.push(`| ${esc(p.name)} | ${formatDuration(p.ms)} | ${p.ok ? '✅' : '❌'} |`);
  }
  return secrets.redact(lines.join('\n') + '\n');
}

/** The failed release and the restored one, with the rollback's own verification. */
function rollbackSection(r: DeployResult, lines: string[]): void {
  const rb = r.rollback!;
  lines.push('', '### Rollback (on-failure: rollback)', '', '| | |', '|---|---|');
  lines.push(`| Failed release | \`${rb.from}\` |`);
  lines.push(
    `| Restored release | ${rb.to ? `\`${rb.to}\` ${rb.verified ? '✅ live and verified' : '❌ live, NOT verified'}` : `none: ${esc(rb.reason ?? '')}`} |`,
  );
  if (rb.to && !rb.verified && rb.reason) lines.push(`| Why | ${esc(rb.reason)} |`);
  for (const l of rb.levels) lines.push(`| ${LEVEL_TITLES[l.level]} | ${ICON[l.status]} ${esc(l.detail)} |`);
}

export function renderText(r: DeployResult, secrets: SecretRegistry): string {
  const lines: string[] = [];
  const target = `${r.app}${r.slot ? `/${r.slot}` : ''}`;
  lines.push(
    r.dryRun && r.ok
      ? `DRY RUN: ${target}, release ${r.releaseId}; nothing written.`
      : r.fleet && r.ok
        ? `OK: ${r.fleet.length} targets run release ${r.releaseId}, verified.`
        : r.ok
          ? r.noop
            ? `OK: release ${r.releaseId} was already live and verified on ${target}; nothing changed.`
            : `OK: ${target} runs release ${r.releaseId}, verified.`
          : `FAILED: ${r.error ?? 'unknown error'}`,
  );
  for (const [k, v] of Object.entries(outputsOf(r))) if (v && k !== 'results') lines.push(`  ${k}: ${v}`);
  for (const m of r.fleet ?? [])
    lines.push(
      `  ${m.slot ? `${m.app}/${m.slot}` : m.app}: ${m.ok ? `ok, release ${m.releaseId}, verified` : `FAILED (${m.errorCode ?? 'error'}): ${m.error ?? ''}`}`,
    );
  for (const l of r.plan ?? []) lines.push(`  plan: ${l}`);
  for (const c of r.configuration ?? []) lines.push(`  configuration: ${c}`);
  for (const f of r.audit?.findings ?? [])
    lines.push(
      `  audit ${f.severity}: ${r.audit?.pathPrefix ? `${r.audit.pathPrefix}/` : ''}${f.file}:${f.line} ${f.rule}`,
    );
  if (r.swap)
    lines.push(`  swap: ${r.swap.from} → ${r.swap.to}, ${r.swap.verified ? 'verified' : 'not verified'}`);
  for (const l of r.levels) lines.push(`  ${LEVEL_TITLES[l.level]}: ${l.status} (${l.detail})`);
  for (const i of r.instances ?? [])
    lines.push(
      `  instance ${shortInstance(i.id)}: ${i.gone ? 'left' : i.ok ? 'verified' : 'FAILED'} (${describeInstance(i)})`,
    );
  if (r.cause) lines.push(`  likely cause: ${CAUSE_TITLES[r.cause.cause]}`, `  fix: ${r.cause.fix}`);
  if (r.rollback)
    lines.push(
      `  rollback: ${r.rollback.to ? `release ${r.rollback.to} ${r.rollback.verified ? 'live again and verified' : 'live again, NOT verified'}` : `none (${r.rollback.reason ?? ''})`}`,
    );
  for (const f of r.findings.filter((x) => x.severity !== 'info'))
    lines.push(`  ${f.severity}: ${f.message}`);
  lines.push(`  phases: ${r.phases.map((p) => `${p.name} ${formatDuration(p.ms)}`).join(', ')}`);
  return secrets.redact(lines.join('\n') + '\n');
}
