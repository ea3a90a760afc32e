import { describe, expect, it } from '@jest/globals';
import { buildDiagnoseReport, renderDiagnoseMarkdown, renderDiagnoseText } from '../../src/ops/diagnose.js';
import { parseSas } from '../../src/ops/sas.js';
import { createSecretRegistry } from '../../src/report/secrets.js';
import { evidence, NOW, sasUrl } from './evidence.js';

describe('diagnose report', () => {
  const url = sasUrl({ se: '2026-02-01T00:00:00Z' });
  const e = evidence({
    settings: { WEBSITE_RUN_FROM_PACKAGE: url },
    sas: parseSas(url),
    fetch: {
      status: 403,
      as: 'sas',
      errorCode: 'AuthenticationFailed',
      detail: 'Signature not valid in the specified time frame',
    },
  });

  it('is not ok with an error finding and names the cause', () => {
    const r = buildDiagnoseReport(e, NOW);
    expect(r.ok).toBe(false);
    expect(r.cause).toBe('sas-invalid');
    expect(r.mode).toBe('url');
    expect(r.findings.map((f) => f.code)).toEqual(['sas-expired', 'package-sas-expired']);
  });

  it('is ok for a healthy app', () => {
    const r = buildDiagnoseReport(evidence({ settings: { WEBSITE_RUN_FROM_PACKAGE: '1' } }), NOW);
    expect(r).toMatchObject({ ok: true, cause: null, mode: 'local', findings: [] });
    expect(renderDiagnoseText(r)).toContain('No problem found.');
  });

  it('renders a table with evidence and fix, text and markdown, without the signature', () => {
    const secrets = createSecretRegistry();
    const r = buildDiagnoseReport(e, NOW);
    const text = renderDiagnoseText(r, secrets);
    expect(text).toMatch(/^Diagnosis of web: package URL\.\nCause: sas-invalid /);
    expect(text).toMatch(/error\s+sas-invalid\s+package-sas-expired/);
    expect(text).toContain('  evidence: 403 AuthenticationFailed');
    expect(text).toContain('  fix: run runpack deploy again');
    const md = renderDiagnoseMarkdown(r, secrets);
    expect(md).toContain('| error | sas-invalid | `sas-expired` |');
    expect(secrets.redact(JSON.stringify(r))).not.toContain('c2VjcmV0');
  });
});
