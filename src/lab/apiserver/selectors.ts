// Label and field selectors with the grammar of k8s.io/apimachinery/pkg/labels and pkg/fields.
// Labels: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists), `!k` (does not exist),
// comma = AND. Fields: `path=v`, `path==v`, `path!=v` only, on the paths a resource type declares
// (kube-apiserver answers 400 "field label not supported" for others, and so do we).
import { badRequest } from './errors.js';

export type LabelRequirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!' };

export interface FieldRequirement {
  path: string;
  op: '=' | '!=';
  value: string;
}

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

function checkKey(key: string, selector: string): string {
  if (!KEY.test(key) || key.length > 316) throw badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${selector}"`);
  return key;
}

function checkValue(v: string, selector: string): string {
  if (!VALUE.test(v) || v.length > 63) throw badRequest(`unable to parse requirement: invalid label value "${v}" in selector "${selector}"`);
  return v;
}

/** Parses a labelSelector query value; throws 400 BadRequest with the offending term. */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  const reqs: LabelRequirement[] = [];
  for (const term of splitTerms(selector)) {
    let m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = (m[3] ?? '').split(',').map((v) => checkValue(v.trim(), selector));
      reqs.push({ key: checkKey(m[1] ?? '', selector), op: m[2] as 'in' | 'notin', values });
      continue;
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (m) {
      const value = checkValue(m[3] ?? '', selector);
      reqs.push({ key: checkKey(m[1] ?? '', selector), op: m[2] === '!=' ? 'notin' : 'in', values: [value] });
      continue;
    }
    m = /^!\s*(\S+)$/.exec(term);
    if (m) {
      reqs.push({ key: checkKey(m[1] ?? '', selector), op: '!' });
      continue;
    }
    if (/^\S+$/.test(term)) {
      reqs.push({ key: checkKey(term, selector), op: 'exists' });
      continue;
    }
    throw badRequest(`unable to parse requirement: found '${term}', expected: in, notin, =, ==, !=, exists or !key (selector "${selector}")`);
  }
  return reqs;
}

export function matchesLabels(reqs: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case '!':
        return !has;
      case 'in':
        return has && r.values.includes(l[r.key] as string);
      case 'notin':
        // As in apimachinery: a missing key satisfies `!=` and `notin`.
        return !has || !r.values.includes(l[r.key] as string);
    }
  });
}

/**
 * Parses a fieldSelector query value. `supported` lists the paths this resource type can be
 * filtered on; anything else is a 400 like kube-apiserver's.
 */
export function parseFieldSelector(selector: string, supported: readonly string[], resource: string): FieldRequirement[] {
  const reqs: FieldRequirement[] = [];
  for (const term of splitTerms(selector)) {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid field selector "${selector}": expected path=value, path==value or path!=value, found '${term}'`);
    const path = m[1] ?? '';
    if (!supported.includes(path)) throw badRequest(`field label not supported: ${path} (resource ${resource} supports: ${supported.join(', ')})`);
    reqs.push({ path, op: m[2] === '!=' ? '!=' : '=', value: m[3] ?? '' });
  }
  return reqs;
}

/** Reads a dotted path (`spec.nodeName`) from an object as a string ('' when absent, like kube). */
export function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : JSON.stringify(cur);
}

export function matchesFields(reqs: readonly FieldRequirement[], obj: unknown): boolean {
  return reqs.every((r) => (fieldValue(obj, r.path) === r.value) === (r.op === '='));
}
