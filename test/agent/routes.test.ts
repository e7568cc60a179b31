import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { desiredRoutes, RouteReconciler } from '../../src/agent/routes.js';
import { FakeHostNetwork } from '../fakes/hostnet.js';
import { routeOpsToBatch } from '../../src/lib/agent/route-diff.js';
import { testCidr } from './helpers/network.js';

const RT = '255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n100\tadmin-vpn\n';

describe('RouteReconciler (fake host network)', () => {
  let dir: string;
  let rtPath: string;
  let host: FakeHostNetwork;
  const make = () => new RouteReconciler({ hostNet: host, rtTablesPath: rtPath, ownershipPath: join(dir, 'owned.json') });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnag-rt-'));
    rtPath = join(dir, 'rt_tables');
    writeFileSync(rtPath, RT);
    host = new FakeHostNetwork();
    host.addLink('eth1', ['10.0.1.1/24']);
    host.addLink('eth2', ['10.0.2.1/24']);
    host.tables.set(100, [{ dst: '10.99.0.0/16', gateway: '10.0.1.254', dev: 'eth1' }]);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('installs table, rule and routes to the other hosts; a second run changes nothing', async () => {
    const want = [desiredRoutes(testCidr(['h1', 'h2', 'h3']), 'h1')];
    const r = make();
    const first = await r.reconcile(want);
    expect(first.tables).toEqual({ mnet: 101 });
    expect(readFileSync(rtPath, 'utf8')).toBe(`${RT}101\tmnet\n`);
    expect(host.tables.get(101)).toEqual([
      { dst: '192.168.1.0/24', gateway: '10.0.1.2', dev: 'eth1', flags: [] },
      { dst: '192.168.2.0/24', gateway: '10.0.1.3', dev: 'eth1', flags: [] },
      { dst: '192.168.65.0/24', gateway: '10.0.2.2', dev: 'eth2', flags: [] },
      { dst: '192.168.66.0/24', gateway: '10.0.2.3', dev: 'eth2', flags: [] },
    ]);
    expect(host.rules_.filter((x) => x.table === '101')).toEqual([{ priority: 32765, src: '192.168.0.0', srclen: 16, table: '101' }]);
    const second = await r.reconcile(want);
    expect(second.ops).toEqual([]);
    // A fresh reconciler (agent restart) also sees nothing to do.
    expect((await make().reconcile(want)).ops).toEqual([]);
    expect(host.tables.get(100)).toEqual([{ dst: '10.99.0.0/16', gateway: '10.0.1.254', dev: 'eth1' }]);
  });

  it('a host leaving the CIDR removes exactly its routes', async () => {
    const r = make();
    await r.reconcile([desiredRoutes(testCidr(['h1', 'h2', 'h3']), 'h1')]);
    const res = await r.reconcile([desiredRoutes(testCidr(['h1', 'h2']), 'h1')]);
    expect(res.ops.map((o) => o.op)).toEqual(['route-del', 'route-del']);
    expect(host.tables.get(101)?.map((x) => x.dst)).toEqual(['192.168.1.0/24', '192.168.65.0/24']);
  });

  it('routes of a NIC that is gone are left out instead of failing the batch', async () => {
    const want = desiredRoutes(testCidr(['h1', 'h2']), 'h1', new Set(['eth1']));
    expect(want.routes.map((x) => x.dev)).toEqual(['eth1']);
  });

  it('a network that went away (even across a restart) is cleaned up: routes, rule, rt_tables line', async () => {
    await make().reconcile([desiredRoutes(testCidr(['h1', 'h2']), 'h1')]);
    const res = await make().reconcile([]);
    expect(res.removed).toEqual(['mnet']);
    expect(host.tables.get(101)).toEqual([]);
    expect(host.rules_.some((x) => x.table === '101')).toBe(false);
    expect(readFileSync(rtPath, 'utf8')).toBe(RT);
    expect((await make().reconcile([])).ops).toEqual([]);
  });

  it('a failed batch rejects; the next reconcile converges', async () => {
    const r = make();
    host.failAtOp = 2;
    await expect(r.reconcile([desiredRoutes(testCidr(['h1', 'h2']), 'h1')])).rejects.toThrow(/injected failure/);
    const again = await r.reconcile([desiredRoutes(testCidr(['h1', 'h2']), 'h1')]);
    expect(again.ops.length).toBeGreaterThan(0);
    expect((await r.reconcile([desiredRoutes(testCidr(['h1', 'h2']), 'h1')])).ops).toEqual([]);
  });
});

describe('desiredRoutes: CIDR values that are not an address or an interface name never reach ip -batch', () => {
  it.each([
    ['a hostIP carrying a second batch command', (c: ReturnType<typeof testCidr>) => ((c.spec.cidr[0]!.hosts[1]!).hostIP = '10.0.1.2\nnetns exec x touch /tmp/pwned')],
    ['a hostIP with a trailing newline', (c: ReturnType<typeof testCidr>) => ((c.spec.cidr[0]!.hosts[1]!).hostIP = '10.0.1.2\n')],
    ['a local interfaceName with a space', (c: ReturnType<typeof testCidr>) => ((c.spec.cidr[0]!.hosts[0]!).interfaceName = 'eth1 table 254')],
  ])('%s: that entry is dropped, the others stay', (_n, poison) => {
    const c = testCidr(['h1', 'h2']);
    poison(c);
    expect(desiredRoutes(c, 'h1').routes).toEqual([{ dst: '192.168.65.0/24', via: '10.0.2.2', dev: 'eth2' }]);
  });

  it('routeOpsToBatch refuses such a route outright (the last gate before ip)', () => {
    expect(() => routeOpsToBatch([{ op: 'route-replace', table: 101, dst: '192.168.1.0/24', via: '10.0.1.2\nnetns exec x id', dev: 'eth1' }])).toThrow(/refusing route/);
  });
});

describe('RouteReconciler names', () => {
  it('a purely numeric network name is skipped and reported; the others still converge', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnag-rt-'));
    const rtPath = join(dir, 'rt_tables');
    writeFileSync(rtPath, RT);
    const host = new FakeHostNetwork();
    host.addLink('eth1', ['10.0.1.1/24']);
    host.addLink('eth2', ['10.0.2.1/24']);
    const r = await new RouteReconciler({ hostNet: host, rtTablesPath: rtPath }).reconcile([desiredRoutes(testCidr(['h1', 'h2'], '123'), 'h1'), desiredRoutes(testCidr(['h1', 'h2'], '1net'), 'h1')]);
    expect([r.skipped, r.tables]).toEqual([['123'], { '1net': 101 }]);
    expect(host.tables.get(101)).toHaveLength(2);
    rmSync(dir, { recursive: true, force: true });
  });
});
