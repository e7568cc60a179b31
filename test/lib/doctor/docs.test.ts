// docs/troubleshooting.md is generated from the registry: the committed page is current, names
// every check, and every upstream row maps to checks that exist or says why it does not apply.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderTroubleshooting } from '../../../src/lib/doctor/docs.js';
import { CHECKS } from '../../../src/lib/doctor/registry.js';
import { UPSTREAM_HEALTH_CODES, UPSTREAM_SYMPTOMS } from '../../../src/lib/doctor/upstream.js';

const root = new URL('../../../', import.meta.url).pathname;

describe('docs/troubleshooting.md', () => {
  it('is what the registry renders (make generate rewrites it)', () => {
    expect(readFileSync(`${root}docs/troubleshooting.md`, 'utf8')).toBe(renderTroubleshooting());
  });

  it('documents every check with an anchor', () => {
    const page = renderTroubleshooting();
    for (const c of CHECKS) expect(page).toContain(`<a id="${c.id}"></a>\`${c.id}\``);
  });

  it('maps every upstream row to checks, or names why it does not apply', () => {
    for (const r of [...UPSTREAM_SYMPTOMS, ...UPSTREAM_HEALTH_CODES]) expect(r.checks.length > 0 || !!r.notApplicable, r.symptom).toBe(true);
    // The 18 rows of its table plus the 3 fixes its summary table names.
    expect(UPSTREAM_SYMPTOMS).toHaveLength(21);
  });

  it('refuses an upstream row naming a check that does not exist', () => {
    expect(() => renderTroubleshooting(CHECKS.filter((c) => c.id !== 'multus'))).toThrow('names unknown check multus');
  });
});
