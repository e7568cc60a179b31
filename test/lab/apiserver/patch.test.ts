// The three patch formats, table-driven: RFC 7386 merge patch, RFC 6902 JSON patch, and the
// strategic merge patch kubectl's three-way apply sends for built-ins.
import { describe, expect, it } from 'vitest';
import { jsonPatch, mergePatch, strategicMergePatch } from '../../../src/lab/apiserver/patch.js';
import { ApiError } from '../../../src/lab/apiserver/errors.js';

describe('mergePatch (RFC 7386)', () => {
  it.each([
    ['replaces a scalar', { a: 'b' }, { a: 'c' }, { a: 'c' }],
    ['adds a key', { a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    ['null deletes', { a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    ['merges nested objects', { a: { b: 1, c: 2 } }, { a: { c: 3 } }, { a: { b: 1, c: 3 } }],
    ['replaces arrays whole', { a: [1, 2] }, { a: [3] }, { a: [3] }],
    ['non-object patch replaces', { a: 1 }, ['x'], ['x']],
    ['nested null on missing key is a no-op', { a: 1 }, { b: { c: null } }, { a: 1, b: {} }],
  ])('%s', (_name, target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });

  it('does not modify its inputs', () => {
    const target = { a: { b: 1 } };
    mergePatch(target, { a: { b: 2 } });
    expect(target).toEqual({ a: { b: 1 } });
  });
});

describe('jsonPatch (RFC 6902)', () => {
  const doc = { a: { b: 1 }, list: ['x', 'y'] };
  it.each([
    ['add to object', [{ op: 'add', path: '/a/c', value: 2 }], { a: { b: 1, c: 2 }, list: ['x', 'y'] }],
    ['add at array index', [{ op: 'add', path: '/list/1', value: 'z' }], { a: { b: 1 }, list: ['x', 'z', 'y'] }],
    ['append with -', [{ op: 'add', path: '/list/-', value: 'z' }], { a: { b: 1 }, list: ['x', 'y', 'z'] }],
    ['remove', [{ op: 'remove', path: '/list/0' }], { a: { b: 1 }, list: ['y'] }],
    ['replace', [{ op: 'replace', path: '/a/b', value: 5 }], { a: { b: 5 }, list: ['x', 'y'] }],
    ['move', [{ op: 'move', from: '/a/b', path: '/c' }], { a: {}, list: ['x', 'y'], c: 1 }],
    ['copy', [{ op: 'copy', from: '/a', path: '/d' }], { a: { b: 1 }, list: ['x', 'y'], d: { b: 1 } }],
    ['passing test', [{ op: 'test', path: '/a', value: { b: 1 } }], doc],
    ['escaped pointer', [{ op: 'add', path: '/a/x~1y~0z', value: 1 }], { a: { b: 1, 'x/y~z': 1 }, list: ['x', 'y'] }],
  ])('%s', (_name, ops, expected) => {
    expect(jsonPatch(doc, ops)).toEqual(expected);
  });

  it.each([
    ['failing test', [{ op: 'test', path: '/a/b', value: 2 }], 422],
    ['remove of a missing key', [{ op: 'remove', path: '/nope' }], 422],
    ['replace of a missing key', [{ op: 'replace', path: '/nope', value: 1 }], 422],
    ['index out of bounds', [{ op: 'add', path: '/list/5', value: 1 }], 422],
    ['unknown op', [{ op: 'frobnicate', path: '/a' }], 400],
    ['not an array', { op: 'add' }, 400],
  ])('rejects %s with %i', (_name, ops, code) => {
    try {
      jsonPatch(doc, ops);
      expect.unreachable('the patch should fail');
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).code).toBe(code);
    }
  });
});

describe('strategicMergePatch', () => {
  const pod = {
    metadata: { finalizers: ['a'] },
    spec: {
      containers: [
        { name: 'main', image: 'm:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 80 }] },
        { name: 'side', image: 's:1' },
      ],
      tolerations: [{ key: 'x' }],
    },
  };
  it('merges containers by name and env by name', () => {
    const out = strategicMergePatch(pod, { spec: { containers: [{ name: 'main', env: [{ name: 'B', value: '3' }] }] } }) as typeof pod;
    expect(out.spec.containers.map((c) => c.name)).toEqual(['main', 'side']);
    expect(out.spec.containers[0]?.env).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: '3' }]);
    expect(out.spec.containers[0]?.image).toBe('m:1');
  });
  it('deletes a named item with $patch: delete and orders by $setElementOrder', () => {
    const out = strategicMergePatch(pod, {
      spec: { '$setElementOrder/containers': [{ name: 'new' }, { name: 'main' }], containers: [{ name: 'side', $patch: 'delete' }, { name: 'new', image: 'n:1' }] },
    }) as typeof pod;
    expect(out.spec.containers.map((c) => c.name)).toEqual(['new', 'main']);
    expect(out.spec.containers[0]).toEqual({ name: 'new', image: 'n:1' });
  });
  it('replaces lists without a merge key and unions finalizers', () => {
    const out = strategicMergePatch(pod, { metadata: { finalizers: ['b', 'a'] }, spec: { tolerations: [{ key: 'y' }] } }) as typeof pod;
    expect(out.spec.tolerations).toEqual([{ key: 'y' }]);
    expect(out.metadata.finalizers).toEqual(['a', 'b']);
  });
  it('honours $deleteFromPrimitiveList, $retainKeys and null deletion', () => {
    const out = strategicMergePatch(
      { metadata: { finalizers: ['a', 'b'] }, spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } }, x: 1 } },
      { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] }, spec: { x: null, strategy: { $retainKeys: ['type'], type: 'OnDelete' } } },
    );
    expect(out).toEqual({ metadata: { finalizers: ['b'] }, spec: { strategy: { type: 'OnDelete' } } });
  });
  it('replaces a whole object with $patch: replace', () => {
    expect(strategicMergePatch({ spec: { a: 1, b: 2 } }, { spec: { $patch: 'replace', c: 3 } })).toEqual({ spec: { c: 3 } });
  });
});
