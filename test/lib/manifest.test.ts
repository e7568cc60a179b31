import { describe, expect, it } from 'vitest';
import { countWrittenKeys, describeObject, flattenLists, ManifestError, parseManifests } from '../../src/lib/manifest.js';

describe('parseManifests', () => {
  it.each([
    ['one YAML document', 'a: 1\n', [['f#1', { a: 1 }]]],
    ['several documents, empty ones skipped but counted', 'a: 1\n---\n---\nb: 2\n', [['f#1', { a: 1 }], ['f#3', { b: 2 }]]],
    ['JSON', '{"kind": "X", "n": [1, 2]}', [['f#1', { kind: 'X', n: [1, 2] }]]],
    ['an empty file', '', []],
    ['comments only', '# nothing\n', []],
    ['JSON null', 'null', []],
    ['a JSON array, leading BOM and space', '\uFEFF \n[{"a": {"b": "x\\":"}}, 2]', [['f#1', [{ a: { b: 'x":' } }, 2]]]],
    ['JSON with escaped quotes and backslashes, no key twice', '{"k\\"": "v\\\\", "w": "\\\\\\":\\\\", "x": ["\\\\"]}', [['f#1', { 'k"': 'v\\', w: '\\":\\', x: ['\\'] }]]],
    ['JSON followed by a YAML document', '{"a": 1}\n---\nb: 2\n', [['f#1', { a: 1 }], ['f#2', { b: 2 }]]],
  ])('%s', (_n, text, want) => {
    expect(parseManifests(text, 'f').map((d) => [d.source, d.value])).toEqual(want);
  });
  it.each([
    ['bad indentation', 'a: 1\n b: 2\n', /f#1: not valid YAML or JSON at line 1, column \d+: /],
    ['unterminated JSON', '{"a": 1', /f#1: not valid YAML or JSON/],
    ['duplicate keys', 'a: 1\na: 2\n', /f#1: .*line 2/],
    ['duplicate keys in JSON', '{\n"a": {"x": 1},\n"b": {"y": 2, "y": 3}\n}', /f#1: .*line 3/],
    ['duplicate keys in JSON after escaped quotes and backslashes', '{"k\\"": "v\\\\", "w": "\\\\\\"\\\\", "w": 1}', /f#1: .*line 1/],
    ['error in the second document', 'a: 1\n---\n[1, 2\n', /f#2: not valid YAML/],
  ])('rejects %s naming document and line', (_n, text, msg) => {
    expect(() => parseManifests(text, 'f')).toThrow(ManifestError);
    expect(() => parseManifests(text, 'f')).toThrow(msg);
  });
});

describe('flattenLists', () => {
  it('replaces Lists and typed Lists by their items, labelled', () => {
    const docs = parseManifests('kind: List\nitems: [{kind: A}, {kind: B}]\n---\nkind: C\n---\nkind: FooList\nitems: [{kind: D}]\n', 'x');
    expect(flattenLists(docs).map((d) => `${d.source} ${describeObject(d.value)}`)).toEqual(['x#1.items[0] A', 'x#1.items[1] B', 'x#2 C', 'x#3.items[0] D']);
  });
});

describe('parseManifests JSON fast path', () => {
  it.each([
    ['plain', '{"a": 1, "b": {"c": [1, {"d": "e"}]}}', 4],
    ['a value with a colon after its quote', '{"a": "x", "b": ["y" , "z"]}', 2],
    ['escaped quotes and backslashes', '{"k\\"": "v\\\\", "w": "\\\\\\":\\\\", "x": ["\\\\"]}', 3],
    ['whitespace before the colon', '{"a"\n\t :1, "b" \r\n: {"c"  :  2}}', 3],
    ['keys only in strings', '["a\\": 1", "b"]', 0],
  ])('counts the keys written in JSON text: %s', (_n, text, n) => {
    expect(countWrittenKeys(text)).toBe(n);
  });

  it('gives what the YAML parser gives for JSON text', async () => {
    const { parseAllDocuments } = await import('yaml');
    const texts = [
      '{"kind": "List", "items": [{"n": 1.5e3, "s": "a\\u00e9\\n", "t": true, "z": null, "e": [], "o": {}}]}',
      JSON.stringify({ apiVersion: 'v1', items: [{ spec: { interfaces: [{ netAddress: '10.0.0.0/24', mtu: 9000 }] } }] }, null, 2),
    ];
    for (const t of texts) expect(parseManifests(t, 'f')[0]?.value).toEqual(parseAllDocuments(t)[0]?.toJS());
  });
});
