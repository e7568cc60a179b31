// Which reconcile operations are repairs (something the agent had installed went missing), and the
// repair log's counts and cap.
import { describe, expect, it } from 'vitest';
import { appendRepairs, routeRepairs, shimRepairs, type WantedRoutes } from '../../../src/lib/diagnostics/conditions.js';

const want = (routes: WantedRoutes['routes'], subnet = '192.168.0.0/16'): WantedRoutes[] => [{ network: 'mnet', subnet, routes }];
const r1 = { dst: '192.168.1.0/24', via: '10.0.1.2', dev: 'eth1' };
const r2 = { dst: '192.168.2.0/24', via: '10.0.1.3', dev: 'eth1' };

describe('routeRepairs', () => {
  it('a route or rule wanted unchanged before and now, put back: a repair', () => {
    const ops = [{ op: 'route-replace' as const, table: 101, dst: '192.168.1.0/24', via: '10.0.1.2', dev: 'eth1' }, { op: 'rule-add' as const, src: '192.168.0.0/16', table: 101 }];
    expect(routeRepairs(want([r1, r2]), want([r1, r2]), ops, { mnet: 101 })).toEqual([
      { network: 'mnet', kind: 'route', what: '192.168.1.0/24 via 10.0.1.2 dev eth1 table mnet' },
      { network: 'mnet', kind: 'rule', what: 'from 192.168.0.0/16 lookup mnet' },
    ]);
  });

  it('a new host, a changed gateway, the first reconcile, a removal: not repairs', () => {
    const add = [{ op: 'route-replace' as const, table: 101, dst: '192.168.2.0/24', via: '10.0.1.3', dev: 'eth1' }];
    expect(routeRepairs(want([r1]), want([r1, r2]), add, { mnet: 101 })).toEqual([]);
    expect(routeRepairs(want([r1, { ...r2, via: '10.0.1.9' }]), want([r1, r2]), add, { mnet: 101 })).toEqual([]);
    expect(routeRepairs(undefined, want([r1, r2]), add, { mnet: 101 })).toEqual([]);
    expect(routeRepairs(want([r1, r2]), want([r1]), [{ op: 'route-del', table: 101, dst: '192.168.2.0/24' }], { mnet: 101 })).toEqual([]);
  });
});

describe('shimRepairs', () => {
  it('a shim recreated or re-addressed while wanted unchanged', () => {
    const shims = new Map([['eth1', ['192.168.0.1/24']]]);
    const ops = [{ op: 'macvlan-add', name: 'mnshim3', parent: 'eth1' }, { op: 'addr-add', dev: 'mnshim3', address: '192.168.0.1/24' }, { op: 'link-up', name: 'mnshim3' }];
    expect(shimRepairs(shims, shims, ops, () => 'eth1', () => ['mnet']).map((r) => r.what)).toEqual(['shim mnshim3 on eth1 recreated', '192.168.0.1/24 on mnshim3 (eth1)', 'shim mnshim3 on eth1 set up']);
    expect(shimRepairs(new Map(), shims, ops, () => 'eth1', () => ['mnet'])).toEqual([]);
  });
});

describe('appendRepairs', () => {
  it('counts repeats of the same thing and keeps the newest records', () => {
    const r = { network: 'mnet', kind: 'route' as const, what: 'x' };
    let log = { records: [], counts: {} } as Parameters<typeof appendRepairs>[0];
    log = appendRepairs(log, [r], 't1', 2);
    log = appendRepairs(log, [r, { ...r, what: 'y' }], 't2', 2);
    expect(log.records).toEqual([
      { at: 't2', network: 'mnet', kind: 'route', what: 'x', count: 2 },
      { at: 't2', network: 'mnet', kind: 'route', what: 'y', count: 1 },
    ]);
    log = appendRepairs(log, [r], 't3', 2);
    expect(log.records.map((x) => [x.what, x.count])).toEqual([['y', 1], ['x', 3]]);
  });
});
