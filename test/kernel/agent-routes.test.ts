// Route reconcile against a real kernel in a throwaway namespace: setup → reconcile → read back
// `ip -json rule` / `ip -json route show table N` → compare. Idempotence, stale removal, foreign
// routes and rt_tables lines untouched, cleanup when the network goes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privileged } from '../helpers/privileged.js';
import { NetnsLab } from '../agent/helpers/netns.js';
import { testCidr } from '../agent/helpers/network.js';
import { IpHostNetwork } from '../../src/agent/hostnet.js';
import { desiredRoutes, RouteReconciler } from '../../src/agent/routes.js';

const RT = '255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n100\tadmin-vpn\n';

describe.skipIf(!privileged.ok)(`agent route reconcile in a netns ${privileged.reason}`, () => {
  const lab = new NetnsLab('mnagr');
  let host: string;
  let dir: string;
  let rtPath: string;
  let rec: RouteReconciler;
  const want = () => [desiredRoutes(testCidr(['h1', 'h2', 'h3']), 'h1')];

  const readBack = async () => ({
    rules: (await lab.json<{ src?: string; srclen?: number; table?: string }>(host, ['rule', 'show'])).filter((r) => r.table === '101' || r.table === 'mnet').map((r) => `${r.src}/${r.srclen} -> ${r.table}`),
    table: (await lab.json<{ dst: string; gateway?: string; dev: string }>(host, ['route', 'show', 'table', '101'])).map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`),
    foreignTable: (await lab.json<{ dst: string }>(host, ['route', 'show', 'table', '100'])).map((r) => r.dst),
    main: (await lab.json<{ dst: string }>(host, ['route', 'show'])).map((r) => r.dst),
    foreignRules: (await lab.json<{ src?: string; table?: string }>(host, ['rule', 'show'])).filter((r) => r.table === 'admin-vpn' || r.table === '100').length,
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnag-rt-'));
    rtPath = join(dir, 'rt_tables');
    writeFileSync(rtPath, RT);
    host = await lab.netns('h');
    const fab = await lab.netns('f');
    await lab.veth(host, 'eth1', fab, 'p1');
    await lab.veth(host, 'eth2', fab, 'p2');
    await lab.ip(host, [
      'addr add 10.0.1.1/24 dev eth1',
      'addr add 10.0.2.1/24 dev eth2',
      // Someone else's routes and rule: must survive everything below.
      'route add 10.99.0.0/16 via 10.0.1.254 table 100',
      'rule add from 10.50.0.0/16 lookup 100',
      'route add 172.20.0.0/16 via 10.0.2.254',
    ]);
    rec = new RouteReconciler({ hostNet: new IpHostNetwork({ name: host }), rtTablesPath: rtPath, ownershipPath: join(dir, 'owned.json') });
  });
  afterAll(async () => {
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs the rule and one route per other host and NIC', async () => {
    const r = await rec.reconcile(want());
    expect(r.tables).toEqual({ mnet: 101 });
    expect(r.ops).toHaveLength(5);
    expect(await readBack()).toEqual({
      rules: ['192.168.0.0/16 -> 101'],
      table: ['192.168.1.0/24 via 10.0.1.2 dev eth1', '192.168.2.0/24 via 10.0.1.3 dev eth1', '192.168.65.0/24 via 10.0.2.2 dev eth2', '192.168.66.0/24 via 10.0.2.3 dev eth2'],
      foreignTable: ['10.99.0.0/16'],
      main: ['10.0.1.0/24', '10.0.2.0/24', '172.20.0.0/16'],
      foreignRules: 1,
    });
    expect(readFileSync(rtPath, 'utf8')).toBe(`${RT}101\tmnet\n`);
  });

  it('a second reconcile makes zero changes', async () => {
    const before = await readBack();
    expect((await rec.reconcile(want())).ops).toEqual([]);
    expect(await readBack()).toEqual(before);
  });

  it('removes a stale route and repairs a changed or missing one, leaving foreign routes', async () => {
    await lab.ip(host, ['route add 192.168.9.0/24 via 10.0.1.9 table 101', 'route replace 192.168.1.0/24 via 10.0.1.7 dev eth1 table 101', 'route del 192.168.66.0/24 table 101', 'rule del from 192.168.0.0/16 lookup 101']);
    const r = await rec.reconcile(want());
    expect(r.ops.map((o) => o.op).sort()).toEqual(['route-del', 'route-replace', 'route-replace', 'rule-add']);
    const back = await readBack();
    expect(back.table).toEqual(['192.168.1.0/24 via 10.0.1.2 dev eth1', '192.168.2.0/24 via 10.0.1.3 dev eth1', '192.168.65.0/24 via 10.0.2.2 dev eth2', '192.168.66.0/24 via 10.0.2.3 dev eth2']);
    expect(back.rules).toEqual(['192.168.0.0/16 -> 101']);
    expect([back.foreignTable, back.foreignRules, back.main.includes('172.20.0.0/16')]).toEqual([['10.99.0.0/16'], 1, true]);
  });

  it('cleans up table, rule and rt_tables line when the network goes (after a restart too)', async () => {
    const restarted = new RouteReconciler({ hostNet: new IpHostNetwork({ name: host }), rtTablesPath: rtPath, ownershipPath: join(dir, 'owned.json') });
    const r = await restarted.reconcile([]);
    expect(r.removed).toEqual(['mnet']);
    expect(await readBack()).toEqual({ rules: [], table: [], foreignTable: ['10.99.0.0/16'], main: ['10.0.1.0/24', '10.0.2.0/24', '172.20.0.0/16'], foreignRules: 1 });
    expect(readFileSync(rtPath, 'utf8')).toBe(RT);
    expect((await restarted.reconcile([])).ops).toEqual([]);
  });
});

describe.skipIf(!privileged.ok)(`agent route reconcile, IPv6 network ${privileged.reason}`, () => {
  const lab = new NetnsLab('mnagr6');
  afterAll(() => lab.cleanup());

  it('installs -6 rule and routes, then converges to zero changes and cleans up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnag-rt6-'));
    const host = await lab.netns('h');
    const peer = await lab.netns('p');
    await lab.veth(host, 'eth1', peer, 'p1');
    await lab.ip(host, ['addr add fd00:1::1/64 dev eth1 nodad']);
    const rec = new RouteReconciler({ hostNet: new IpHostNetwork({ name: host }), rtTablesPath: join(dir, 'rt'), ownershipPath: join(dir, 'owned.json') });
    const want = [{ network: 'v6net', subnet: 'fd10::/48', routes: [{ dst: 'fd10:0:0:1::/64', via: 'fd00:1::2', dev: 'eth1' }] }];
    expect((await rec.reconcile(want)).ops).toHaveLength(2);
    expect((await lab.json<{ src?: string; srclen?: number; table?: string }>(host, ['-6', 'rule', 'show'])).filter((r) => r.table === '100').map((r) => `${r.src}/${r.srclen}`)).toEqual(['fd10::/48']);
    expect((await lab.json<{ dst: string; gateway: string }>(host, ['-6', 'route', 'show', 'table', '100'])).map((r) => `${r.dst} via ${r.gateway}`)).toEqual(['fd10:0:0:1::/64 via fd00:1::2']);
    expect((await rec.reconcile(want)).ops).toEqual([]);
    expect((await rec.reconcile([])).removed).toEqual(['v6net']);
    expect(await lab.json(host, ['-6', 'route', 'show', 'table', '100']).catch(() => [])).toEqual([]);
    expect((await lab.json<{ table?: string }>(host, ['-6', 'rule', 'show'])).some((r) => r.table === '100')).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});
