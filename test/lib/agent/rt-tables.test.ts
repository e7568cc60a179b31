import { describe, expect, it } from 'vitest';
import { ensureTables, parseRtTables, removeTables, validTableName } from '../../../src/lib/agent/rt-tables.js';

// Debian's stock file plus an admin's entries (one at 100, one in hex) and a comment.
const STOCK = `#
# reserved values
#
255\tlocal
254\tmain
253\tdefault
0\tunspec
#
# local
#
#1\tinr.ruhep
`;
const ADMIN = `${STOCK}100\tvpn\n0x65 storage  # added by hand\n200 backup\n`;

describe('rt_tables', () => {
  it('parses decimal and hex ids, skipping comments', () => {
    expect(parseRtTables(ADMIN)).toEqual([
      { id: 255, name: 'local' },
      { id: 254, name: 'main' },
      { id: 253, name: 'default' },
      { id: 0, name: 'unspec' },
      { id: 100, name: 'vpn' },
      { id: 101, name: 'storage' },
      { id: 200, name: 'backup' },
    ]);
  });

  it.each<[string, string, string[], Record<string, number>]>([
    ['stock file: first table gets 100 (upstream found no id here)', STOCK, ['net-a'], { 'net-a': 100 }],
    ['skips ids other users hold', ADMIN, ['net-a', 'net-b'], { 'net-a': 102, 'net-b': 103 }],
    ['a contiguous block from 100 (upstream: "No available ID")', `${STOCK}100 a\n101 b\n102 c\n`, ['x'], { x: 103 }],
    ['an existing name keeps its id', `${ADMIN}150\tnet-a\n`, ['net-a', 'net-b'], { 'net-a': 150, 'net-b': 102 }],
    ['jumps over the reserved 253-255', `${Array.from({ length: 153 }, (_, i) => `${100 + i} t${i}`).join('\n')}\n`, ['x'], { x: 256 }],
  ])('%s', (_name, text, names, ids) => {
    const r = ensureTables(text, names);
    expect(r.ids).toEqual(ids);
    // Every earlier byte is kept; only our lines are appended.
    expect(r.text.startsWith(text)).toBe(true);
    expect(parseRtTables(r.text).filter((e) => names.includes(e.name))).toEqual(Object.entries(ids).map(([name, id]) => ({ id, name })));
  });

  it('returns the same text when nothing is added', () => {
    const once = ensureTables(ADMIN, ['net-a']).text;
    const twice = ensureTables(once, ['net-a']);
    expect(twice.text).toBe(once);
    expect(twice.added).toEqual([]);
  });

  it('appends after a file without a final newline', () => {
    expect(ensureTables('254 main', ['n']).text).toBe('254 main\n100\tn\n');
  });

  it('removes exactly our lines and keeps the rest byte for byte', () => {
    const withOurs = ensureTables(ADMIN, ['net-a', 'net-b']).text;
    expect(removeTables(withOurs, [{ id: 102, name: 'net-a' }, { id: 103, name: 'net-b' }])).toBe(ADMIN);
    // Another user's line with our name but another id is not ours.
    expect(removeTables(`${ADMIN}150 net-a\n`, [{ id: 102, name: 'net-a' }])).toBe(`${ADMIN}150 net-a\n`);
  });

  it('refuses names ip could not use', () => {
    expect(() => ensureTables(STOCK, ['main'])).toThrow(/cannot be a routing table name/);
    expect(() => ensureTables(STOCK, ['123'])).toThrow(/cannot be a routing table name/);
    expect([validTableName('multi-nic-sample'), validTableName('1net'), validTableName('a b'), validTableName('0x10')]).toEqual([true, true, false, false]);
  });
});
