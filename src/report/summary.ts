/**
 * The job summary (Markdown) and the CLI's text report, from the engine's result. Secrets never get here: the
 * result holds no SAS (package-url is the bare blob URL) and every string passes the secret redaction.
 */
import type { DeployResult } from '../deploy/engine.js';
import { CAUSE_TITLES } from '../deploy/classify.js';
import { LEVEL_TITLES } from '../deploy/verify.js';
import { formatDuration } from './log.js';
import type { SecretRegistry } from './secrets.js';

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

/** The outputs the action sets (strings). */
export function outputsOf(r: DeployResult): Record<string, string> {
  return {
    'release-id': r.releaseId ?? '',
    'package-sha256': r.sha256 ?? '',
    'package-url': r.mode === 'url' ? (r.packageUrl ?? '') : '',
    'previous-release-id': r.previousReleaseId ?? '',
    mode: r.mode ?? '',
    'app-url': r.appUrl ?? '',
    verified: r.verified ? 'true' : 'false',
  };
}

export function renderSummary(r: DeployResult, secrets: SecretRegistry): string {
  const target = `${r.app}${r.slot ? ` / ${r.slot}` : ''}`;
  const status = r.ok
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
  row('Login', r.auth);
  if (r.levels.length) {
    lines.push('', '### Verification', '', '| Level | Result | Detail |', '|---|---|---|');
    for (const l of r.levels)
      lines.push(`| ${LEVEL_TITLES[l.level]} | ${ICON[l.status]} ${l.status} | ${esc(l.detail)} |`);
  }
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

export function renderText(r: DeployResult, secrets: SecretRegistry): string {
  const lines: string[] = [];
  const target = `${r.app}${r.slot ? `/${r.slot}` : ''}`;
  lines.push(
    r.ok
      ? r.noop
        ? `OK: release ${r.releaseId} was already live and verified on ${target}; nothing changed.`
        : `OK: ${target} runs release ${r.releaseId}, verified.`
      : `FAILED: ${r.error ?? 'unknown error'}`,
  );
  for (const [k, v] of Object.entries(outputsOf(r))) if (v) lines.push(`  ${k}: ${v}`);
  for (const l of r.levels) lines.push(`  ${LEVEL_TITLES[l.level]}: ${l.status} (${l.detail})`);
  if (r.cause) lines.push(`  likely cause: ${CAUSE_TITLES[r.cause.cause]}`, `  fix: ${r.cause.fix}`);
  for (const f of r.findings.filter((x) => x.severity !== 'info'))
    lines.push(`  ${f.severity}: ${f.message}`);
  lines.push(`  phases: ${r.phases.map((p) => `${p.name} ${formatDuration(p.ms)}`).join(', ')}`);
  return secrets.redact(lines.join('\n') + '\n');
}
