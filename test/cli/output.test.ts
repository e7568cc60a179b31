// renderData (src/cli/output.ts): -o json and -o yaml print keys sorted with apiVersion, kind and
// metadata first, whether the object needed a copy to get there or was already in that order (then
// it is printed as it is), and an object held twice prints in full twice (no YAML anchors).
import { describe, expect, it } from 'vitest';
import { renderData } from '../../src/cli/output.js';

describe('renderData', () => {
  it('sorts keys, apiVersion, kind and metadata first, at every depth; arrays keep their order', async () => {
    const v = { spec: { z: 1, a: [{ y: 2, b: 3 }, 'x'] }, metadata: { name: 'n', annotations: { k: 'v' } }, kind: 'K', apiVersion: 'v1', b: null };
    expect(await renderData(v, 'json')).toBe(`${JSON.stringify({ apiVersion: 'v1', kind: 'K', metadata: { annotations: { k: 'v' }, name: 'n' }, b: null, spec: { a: [{ b: 3, y: 2 }, 'x'], z: 1 } }, null, 2)}\n`);
  });

  it('prints an object already in order as it is, and one whose nested object is not, sorted', async () => {
    const sorted = { apiVersion: 'v1', kind: 'List', items: [{ a: 1, b: { c: 2, d: 3 } }] };
    expect(await renderData(sorted, 'json')).toBe(`${JSON.stringify(sorted, null, 2)}\n`);
    const inner = { apiVersion: 'v1', kind: 'List', items: [{ a: 1, b: { d: 3, c: 2 } }] };
    expect(await renderData(inner, 'json')).toBe(`${JSON.stringify(sorted, null, 2)}\n`);
    // The input is never reordered in place.
    expect(Object.keys(inner.items[0]!.b)).toEqual(['d', 'c']);
  });

  it('prints an object held twice in full both times in YAML', async () => {
    const env = { name: 'NODE_NAME', value: 'x' };
    const text = await renderData({ a: [env], b: [env] }, 'yaml');
    expect(text).toBe('a:\n  - name: NODE_NAME\n    value: x\nb:\n  - name: NODE_NAME\n    value: x\n');
  });
});
