import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';

const root = new URL('../..', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');

/** Kebab-case strings in rules.ts that are not finding codes (causes, problem codes it reads, fetch kinds). */
const NOT_CODES = new Set([
  'caller-token',
  'corrupt-archive',
  'entry-point-missing',
  'functions-host-missing',
  'nested-root',
  'sas-invalid',
  'stale-content',
  'mount-blocked',
  'read-only',
  'user-delegation',
]);

describe('docs/operations.md', () => {
  const docs = read('docs/operations.md');

  it('documents every finding code diagnose can report', () => {
    const codes = new Set(
      [...read('src/ops/rules.ts').matchAll(/'([a-z]+(?:-[a-z0-9]+)+)'/g)]
        .map((m) => m[1])
        .filter((c) => !NOT_CODES.has(c)),
    );
    for (const m of read('src/deploy/slots.ts').matchAll(/code: '([a-z-]+)'|breaking\(\s*'([a-z-]+)'/g))
      codes.add(m[1] ?? m[2]);
    expect(codes.size).toBeGreaterThan(50);
    const missing = [...codes].filter((c) => !docs.includes(`\`${c}\``));
    expect(missing).toEqual([]);
  });

  it('documents every flag of the three commands', () => {
    for (const flag of [
      '--app-name',
      '--resource-group',
      '--subscription-id',
      '--slot',
      '--storage-account',
      '--container',
      '--release',
      '--resource-manager-endpoint',
      '--client-id',
      '--tenant-id',
      '--creds',
      '--json',
      '--dry-run',
      '--help',
      '--keep-releases',
      '--health-path',
      '--timeout-minutes',
    ])
      expect(docs).toContain(`\`${flag}`);
  });
});
