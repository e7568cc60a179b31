import { describe, expect, it } from 'vitest';
import { diffTable, normDst, routeOpsToBatch, type DesiredTable, type IpRule, type IpTableRoute } from '../../../src/lib/agent/route-diff.js';

const want: DesiredTable = {
  name: 'multi-nic-sample',
  id: 100,
  subnet: '192.168.0.0/16',
  routes: [
    { dst: '192.168.1.0/24', via: '10.0.1.2', dev: 'eth1' },
    { dst: '192.168.65.0/24', via: '10.0.2.2', dev: 'eth2' },
  ],
};
const names = { 'multi-nic-sample': 100, other: 120 };
// As `ip -json rule` prints them: the stock rules, a foreign one, and ours by name.
const stockRules: IpRule[] = [
  { priority: 0, src: 'all', table: 'local' },
  { priority: 32766, src: 'all', table: 'main' },
  { priority: 32767, src: 'all', table: 'default' },
  { priority: 1000, src: '10.50.0.0', srclen: 16, table: 'other' },
];
const ourRule: IpRule = { priority: 32765, src: '192.168.0.0', srclen: 16, table: 'multi-nic-sample' };
const converged: IpTableRoute[] = [
  { dst: '192.168.1.0/24', gateway: '10.0.1.2', dev: 'eth1', flags: [] },
  { dst: '192.168.65.0/24', gateway: '10.0.2.2', dev: 'eth2', flags: [] },
];

describe('diffTable', () => {
  it('empty host: one rule and every route', () => {
    expect(diffTable(100, want, [], stockRules, names)).toEqual([
      { op: 'rule-add', src: '192.168.0.0/16', table: 100 },
      { op: 'route-replace', table: 100, dst: '192.168.1.0/24', via: '10.0.1.2', dev: 'eth1' },
      { op: 'route-replace', table: 100, dst: '192.168.65.0/24', via: '10.0.2.2', dev: 'eth2' },
    ]);
  });

  it('converged host: nothing to do (idempotent)', () => {
    expect(diffTable(100, want, converged, [...stockRules, ourRule], names)).toEqual([]);
    // The rule printed with a numeric table is ours too.
    expect(diffTable(100, want, converged, [...stockRules, { ...ourRule, table: '100' }], names)).toEqual([]);
  });

  it('stale, changed and duplicate entries are fixed; foreign rules untouched', () => {
    const actual: IpTableRoute[] = [
      { dst: '192.168.1.0/24', gateway: '10.0.1.9', dev: 'eth1' },
      { dst: '192.168.7.0/24', gateway: '10.0.1.7', dev: 'eth1' },
      { dst: '10.0.0.5', gateway: '10.0.1.1', dev: 'eth1' },
    ];
    const rules = [...stockRules, ourRule, { ...ourRule, priority: 32764 }, { priority: 32763, src: '172.30.0.0', srclen: 16, table: 100 }];
    expect(diffTable(100, want, actual, rules, names)).toEqual([
      { op: 'rule-del', src: '192.168.0.0/16', table: 100, priority: 32764 },
      { op: 'rule-del', src: '172.30.0.0/16', table: 100, priority: 32763 },
      { op: 'route-replace', table: 100, dst: '192.168.1.0/24', via: '10.0.1.2', dev: 'eth1' },
      { op: 'route-del', table: 100, dst: '192.168.7.0/24' },
      { op: 'route-del', table: 100, dst: '10.0.0.5/32' },
      { op: 'route-replace', table: 100, dst: '192.168.65.0/24', via: '10.0.2.2', dev: 'eth2' },
    ]);
  });

  it('network gone: every route and rule of the table removed, nothing else', () => {
    expect(diffTable(100, undefined, converged, [...stockRules, ourRule], names)).toEqual([
      { op: 'rule-del', src: '192.168.0.0/16', table: 100, priority: 32765 },
      { op: 'route-del', table: 100, dst: '192.168.1.0/24' },
      { op: 'route-del', table: 100, dst: '192.168.65.0/24' },
    ]);
  });

  it('host-subnet mode (no subnet): routes without a rule', () => {
    expect(diffTable(100, { ...want, subnet: '' }, converged, stockRules, names)).toEqual([]);
  });

  it('renders ip -batch lines: deletions first, rules added after their routes', () => {
    const ops = diffTable(100, want, [{ dst: '192.168.9.0/24', gateway: '10.0.1.3', dev: 'eth1' }], stockRules, names);
    expect(routeOpsToBatch(ops)).toEqual([
      'route del 192.168.9.0/24 table 100',
      'route replace 192.168.1.0/24 via 10.0.1.2 dev eth1 table 100',
      'route replace 192.168.65.0/24 via 10.0.2.2 dev eth2 table 100',
      'rule add from 192.168.0.0/16 lookup 100',
    ]);
    expect(routeOpsToBatch([{ op: 'rule-del', src: 'fd00::/48', table: 7, priority: 5 }])).toEqual(['rule del priority 5 from fd00::/48 lookup 7']);
  });

  it.each([
    ['default', '0.0.0.0/0'],
    ['10.0.0.5', '10.0.0.5/32'],
    ['fd00::1', 'fd00::1/128'],
    ['192.168.1.0/24', '192.168.1.0/24'],
  ])('normDst(%s) = %s', (input, out) => expect(normDst(input)).toBe(out));
});
