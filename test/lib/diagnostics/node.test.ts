// The pure side of the node prober: a captured kernel snapshot of a healthy host h1 (macvlan L3,
// two NICs, shims, routes to h2 and h3) is compared with what the CIDR wants; then one fault at a
// time, each named in the diagnostics and in the conditions exactly where it is.
import { describe, expect, it } from 'vitest';
import { buildNodeDiagnostics, MAX_LISTED_ALLOCATIONS, neededBinaries, type ProbeSnapshot } from '../../../src/lib/diagnostics/node.js';
import { networkProblemsOnHost, nodeConditions } from '../../../src/lib/diagnostics/conditions.js';
import type { IpAddrLink } from '../../../src/lib/agent/discovery.js';
import type { Allocation } from '../../../src/lib/ipam/types.js';
import { testCidr, testNetwork } from '../../agent/helpers/network.js';

const link = (ifindex: number, ifname: string, addrs: string[], opts: { up?: boolean; carrier?: boolean; kind?: string } = {}): IpAddrLink => ({
  ifindex,
  ifname,
  flags: ['BROADCAST', 'MULTICAST', ...(opts.up === false ? [] : ['UP']), ...(opts.carrier === false || opts.up === false ? [] : ['LOWER_UP'])],
  mtu: 9000,
  operstate: opts.up === false ? 'DOWN' : 'UP',
  ...(opts.kind ? { linkinfo: { info_kind: opts.kind } } : {}),
  addr_info: addrs.map((a) => ({ family: a.includes(':') ? 'inet6' : 'inet', local: a.split('/')[0], prefixlen: Number(a.split('/')[1]), scope: 'global' })),
});

const alloc = (address: string, containerID: string, iface = 'net1-0', pool = 'mnet-192.168.0.0-24'): Allocation => ({ pool, network: 'mnet', address, index: 2, podUID: `uid-${containerID}`, containerID, interface: iface, podName: `pod-${containerID}`, namespace: 'default' });

function healthy(): ProbeSnapshot {
  return {
    hostName: 'h1',
    agentVersion: '0.1.0',
    observedAt: '2026-01-01T00:00:00.000Z',
    networks: [{ network: testNetwork(), cidr: testCidr(['h1', 'h2', 'h3']) }],
    links: [link(1, 'lo', []), link(3, 'eth1', ['10.0.1.1/24']), link(4, 'eth2', ['10.0.2.1/24']), link(7, 'mnshim3', ['192.168.0.1/24'], { kind: 'macvlan' }), link(8, 'mnshim4', ['192.168.64.1/24'], { kind: 'macvlan' })],
    rules: [{ priority: 0, table: 'local' }, { priority: 32765, src: '192.168.0.0', srclen: 16, table: '101' }, { priority: 32766, table: 'main' }],
    routes: [
      { dst: '192.168.1.0/24', gateway: '10.0.1.2', dev: 'eth1', table: '101' },
      { dst: '192.168.2.0/24', gateway: '10.0.1.3', dev: 'eth1', table: '101' },
      { dst: '192.168.65.0/24', gateway: '10.0.2.2', dev: 'eth2', table: '101' },
      { dst: '192.168.66.0/24', gateway: '10.0.2.3', dev: 'eth2', table: '101' },
      { dst: '10.0.1.0/24', dev: 'eth1' },
      { type: 'local', dst: '10.0.1.1', dev: 'eth1', table: 'local' },
    ],
    tableIds: { mnet: 101 },
    sysctls: { 'net/ipv4/ip_forward': '1', 'net/ipv6/conf/all/forwarding': '0', 'net/ipv4/conf/all/rp_filter': '2', 'net/ipv4/conf/eth1/rp_filter': '0', 'net/ipv4/conf/eth2/rp_filter': '0' },
    discovered: ['eth1', 'eth2'],
    binaries: [
      { name: 'macvlan', path: '/opt/cni/bin/macvlan', present: true, executable: true },
      { name: 'multi-nic', path: '/opt/cni/bin/multi-nic', present: true, executable: true, supportedVersions: ['0.3.0', '1.0.0'] },
    ],
    kernelSupport: { macvlan: true },
    journal: { allocations: 1, sizeBytes: 512 },
    allocations: [alloc('192.168.0.2', 'c1')],
    pods: new Map([['c1', { links: [{ ifname: 'lo', addrs: ['127.0.0.1/8'] }, { ifname: 'net1-0', addrs: ['192.168.0.2/24'] }], routes: [{ dst: '192.168.0.0/24', dev: 'net1-0' }, { dst: '192.168.0.0/18', dev: 'net1-0', gateway: '192.168.0.1' }] }]]),
    repairs: [],
    errors: [],
  };
}

const failing = (s: ProbeSnapshot) => nodeConditions(buildNodeDiagnostics(s), undefined, s.observedAt).filter((c) => c.status === 'False').map((c) => [c.type, c.reason, c.message]);

describe('buildNodeDiagnostics', () => {
  it('a healthy host: nothing missing, every condition True', () => {
    const d = buildNodeDiagnostics(healthy());
    expect(d.networks).toEqual([
      {
        network: 'mnet', table: '101', vlanMode: 'l3', desiredRoutes: 4, missingRoutes: [], foreignRoutes: [], rulePresent: true,
        shims: [
          { nic: 'eth1', link: 'mnshim3', up: true, gateway: '192.168.0.1', hasGateway: true },
          { nic: 'eth2', link: 'mnshim4', up: true, gateway: '192.168.64.1', hasGateway: true },
        ],
      },
    ]);
    expect(d.sysctls).toEqual({ ipv4Forward: 1, ipv6Forward: 0, rpFilterAll: 2, rpFilter: { eth1: 0, eth2: 0 }, forwardingNeeded: true });
    expect(d.nics.map((n) => [n.name, n.operState, n.adminUp, n.carrier, n.mtu, n.addresses, n.networks, n.netAddress])).toEqual([
      ['eth1', 'up', true, true, 9000, ['10.0.1.1/24'], ['mnet'], '10.0.1.0/24'],
      ['eth2', 'up', true, true, 9000, ['10.0.2.1/24'], ['mnet'], '10.0.2.0/24'],
    ]);
    expect(d.binaries.map((b) => [b.name, b.present, b.neededBy, b.kernelSupport])).toEqual([
      ['macvlan', true, ['mnet'], true],
      ['multi-nic', true, ['mnet'], undefined],
    ]);
    expect(d.journal).toEqual({ ok: true, allocations: 1, sizeBytes: 512 });
    expect(d.allocations.map((a) => [a.pod, a.podInterface, a.address, a.state])).toEqual([['default/pod-c1', 'net1-0', '192.168.0.2', 'present']]);
    expect(d.errors).toBeUndefined();
    expect(failing(healthy())).toEqual([]);
    expect(networkProblemsOnHost(d, 'mnet')).toEqual([]);
  });

  const faults: Array<[string, (s: ProbeSnapshot) => void, (d: ReturnType<typeof buildNodeDiagnostics>) => unknown, unknown, string[]]> = [
    ['a route deleted', (s) => (s.routes = s.routes.filter((r) => r.dst !== '192.168.2.0/24')), (d) => d.networks[0]?.missingRoutes, [{ dst: '192.168.2.0/24', via: '10.0.1.3', dev: 'eth1' }], ['RoutesHealthy', 'Ready']],
    [
      'a route moved to another gateway: missing as wanted, foreign as it is',
      (s) => (s.routes = [{ ...s.routes[0], gateway: '10.0.1.9' }, ...s.routes.slice(1)]),
      (d) => [d.networks[0]?.missingRoutes, d.networks[0]?.foreignRoutes],
      [[{ dst: '192.168.1.0/24', via: '10.0.1.2', dev: 'eth1' }], [{ dst: '192.168.1.0/24', via: '10.0.1.9', dev: 'eth1' }]],
      ['RoutesHealthy', 'Ready'],
    ],
    ['a foreign route in our table (not a failure)', (s) => (s.routes = [...s.routes, { dst: '10.99.0.0/16', gateway: '10.0.1.254', dev: 'eth1', table: '101' }]), (d) => d.networks[0]?.foreignRoutes, [{ dst: '10.99.0.0/16', via: '10.0.1.254', dev: 'eth1' }], []],
    ['the policy rule deleted', (s) => (s.rules = s.rules.filter((r) => r.table !== '101')), (d) => d.networks[0]?.rulePresent, false, ['RoutesHealthy', 'Ready']],
    ['a rule shown by table name', (s) => (s.rules = s.rules.map((r) => (r.table === '101' ? { ...r, table: 'mnet' } : r))), (d) => d.networks[0]?.rulePresent, true, []],
    [
      'a NIC set down: its routes flushed, the NIC named with its networks',
      (s) => {
        s.links = s.links.map((l) => (l.ifname === 'eth2' ? link(4, 'eth2', ['10.0.2.1/24'], { up: false }) : l));
        s.routes = s.routes.filter((r) => r.dev !== 'eth2');
        s.discovered = ['eth1'];
      },
      (d) => [d.nics.find((n) => n.name === 'eth2')?.operState, d.nics.find((n) => n.name === 'eth2')?.adminUp, d.networks[0]?.missingRoutes.map((r) => r.dst)],
      ['down', false, ['192.168.65.0/24', '192.168.66.0/24']],
      ['RoutesHealthy', 'NicsHealthy', 'Ready'],
    ],
    [
      'a NIC lent whole to a pod (host-device): gone from the host by design, its routes not wanted meanwhile',
      (s) => {
        s.links = s.links.filter((l) => l.ifname !== 'eth2');
        s.routes = s.routes.filter((r) => r.dev !== 'eth2');
        s.discovered = ['eth1'];
        s.lent = { eth2: 'default/gpu-0' };
      },
      (d) => [d.nics.find((n) => n.name === 'eth2')?.lentTo, d.networks[0]?.desiredRoutes, d.networks[0]?.missingRoutes],
      ['default/gpu-0', 2, []],
      [],
    ],
    [
      'a NIC set down and then dropped from the CIDR (discovery no longer reports it): still reported down, on its network',
      (s) => {
        s.links = s.links.map((l) => (l.ifname === 'eth2' ? link(4, 'eth2', ['10.0.2.1/24'], { up: false }) : l));
        s.routes = s.routes.filter((r) => r.dev !== 'eth2');
        s.discovered = ['eth1'];
        const cidr = structuredClone(s.networks[0]!.cidr!);
        cidr.spec.cidr[1]!.hosts = cidr.spec.cidr[1]!.hosts.filter((h) => h.hostName !== 'h1');
        s.networks = [{ network: s.networks[0]!.network, cidr }];
      },
      (d) => [d.nics.find((n) => n.name === 'eth2')?.operState, d.nics.find((n) => n.name === 'eth2')?.networks, d.networks[0]?.missingRoutes],
      ['down', ['mnet'], []],
      ['NicsHealthy', 'Ready'],
    ],
    ['a planned NIC gone from the kernel', (s) => (s.links = s.links.filter((l) => l.ifname !== 'eth2')), (d) => d.nics.find((n) => n.name === 'eth2')?.operState, 'notpresent', ['RoutesHealthy', 'NicsHealthy', 'Ready']],
    ['a shim without its gateway', (s) => (s.links = s.links.map((l) => (l.ifname === 'mnshim4' ? link(8, 'mnshim4', [], { kind: 'macvlan' }) : l))), (d) => d.networks[0]?.shims?.[1]?.hasGateway, false, ['RoutesHealthy', 'Ready']],
    ['ip_forward off on an L3 host', (s) => (s.sysctls = { ...s.sysctls, 'net/ipv4/ip_forward': '0' }), (d) => d.sysctls.ipv4Forward, 0, ['ForwardingReady', 'Ready']],
    ['the multi-nic executable missing', (s) => (s.binaries = s.binaries.filter((b) => b.name !== 'multi-nic')), (d) => d.binaries.find((b) => b.name === 'multi-nic')?.present, false, ['CniInstalled', 'Ready']],
    ['a multi-nic of another version', (s) => (s.binaries = s.binaries.map((b) => (b.name === 'multi-nic' ? { ...b, version: '0.0.9' } : b))), (d) => d.binaries.find((b) => b.name === 'multi-nic')?.version, '0.0.9', ['CniInstalled', 'Ready']],
    ['a kernel without macvlan', (s) => (s.kernelSupport = { macvlan: false }), (d) => d.binaries.find((b) => b.name === 'macvlan')?.kernelSupport, false, ['CniInstalled', 'Ready']],
    [
      'an address held twice',
      (s) => (s.allocations = [...s.allocations, alloc('192.168.0.2', 'c2')]),
      (d) => d.journal.duplicates,
      [{ pool: 'mnet-192.168.0.0-24', address: '192.168.0.2', holders: ['default/pod-c1 c1 net1-0', 'default/pod-c2 c2 net1-0'] }],
      ['IpamHealthy', 'Ready'],
    ],
    ['a damaged journal tail', (s) => (s.journal = { ...s.journal, discardedBytes: 40, discardedReason: 'checksum mismatch' }), (d) => [d.journal.ok, d.journal.damaged, d.journal.message], [false, 1, '40 damaged bytes cut off the journal at load: checksum mismatch'], ['IpamHealthy', 'Ready']],
    ['a pod netns gone', (s) => (s.pods = new Map([['c1', 'gone']])), (d) => d.allocations[0]?.state, 'netns-gone', ['PodInterfacesHealthy', 'Ready']],
    ['a pod interface gone', (s) => (s.pods = new Map([['c1', { links: [{ ifname: 'lo', addrs: [] }], routes: [] }]])), (d) => d.allocations[0]?.state, 'interface-missing', ['PodInterfacesHealthy', 'Ready']],
    ['a pod address gone', (s) => (s.pods = new Map([['c1', { links: [{ ifname: 'net1-0', addrs: ['192.168.0.9/24'] }], routes: [] }]])), (d) => d.allocations[0]?.state, 'address-missing', ['PodInterfacesHealthy', 'Ready']],
    [
      'a route deleted inside the pod',
      (s) => (s.pods = new Map([['c1', { links: [{ ifname: 'net1-0', addrs: ['192.168.0.2/24'] }], routes: [{ dst: '192.168.0.0/24', dev: 'net1-0' }] }]])),
      (d) => [d.allocations[0]?.state, d.allocations[0]?.detail],
      ['route-missing', 'route 192.168.0.0/18 dev net1-0 missing in the pod'],
      ['PodInterfacesHealthy', 'Ready'],
    ],
    ['a pod whose netns this agent never saw (not a failure)', (s) => (s.pods = new Map()), (d) => d.allocations[0]?.state, 'unknown', []],
    ['no table id yet: every route missing, said why', (s) => (s.tableIds = {}), (d) => [d.networks[0]?.table, d.networks[0]?.missingRoutes.length, d.errors], ['', 4, ['network "mnet": no routing table id in rt_tables yet (the agent has not reconciled it)']], ['RoutesHealthy', 'Ready']],
  ];

  it.each(faults)('%s', (_name, mutate, pick, want, conds) => {
    const s = healthy();
    mutate(s);
    expect(pick(buildNodeDiagnostics(s))).toEqual(want);
    expect(failing(s).map(([t]) => t)).toEqual(conds);
  });

  it(`a node with more than ${MAX_LISTED_ALLOCATIONS} allocations lists every broken one first, then present ones up to the cap, and counts them all`, () => {
    const s = healthy();
    const n = MAX_LISTED_ALLOCATIONS + 100;
    // 192.168.0.2 .. on pool /24s of one NIC network (addresses only need to be distinct here).
    s.allocations = Array.from({ length: n }, (_, i) => alloc(`192.168.${Math.floor(i / 250)}.${(i % 250) + 2}`, `c${i}`));
    const view = (a: Allocation) => ({ links: [{ ifname: 'net1-0', addrs: [`${a.address}/24`] }], routes: [{ dst: `${a.address.split('.').slice(0, 3).join('.')}.0/24`, dev: 'net1-0' }, { dst: '192.168.0.0/18', dev: 'net1-0', gateway: '192.168.0.1' }] });
    // The last three (by address) are broken: a capped list sorted by address alone would drop them.
    const broken = new Set(s.allocations.slice(-3).map((a) => a.containerID));
    s.pods = new Map(s.allocations.map((a) => [a.containerID, broken.has(a.containerID) ? ('gone' as const) : view(a)] as const));
    const d = buildNodeDiagnostics(s);
    expect(d.allocations).toHaveLength(MAX_LISTED_ALLOCATIONS);
    expect(d.allocationCount).toBe(n);
    expect(d.allocationStates).toEqual({ present: n - 3, 'netns-gone': 3 });
    expect(d.allocations.filter((a) => a.state === 'netns-gone').map((a) => a.containerID)).toEqual([`c${n - 3}`, `c${n - 2}`, `c${n - 1}`]);
    // Still sorted by network, pool, address, so the object diffs cleanly.
    const order = d.allocations.map((a) => a.address.split('.').map(Number).reduce((x, y) => x * 256 + y, 0));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const pods = nodeConditions(d, undefined, s.observedAt).find((c) => c.type === 'PodInterfacesHealthy');
    expect(pods).toMatchObject({ status: 'False', reason: 'PodInterfaceBroken' });
    // Nothing broken: the message counts every present interface, listed or not.
    s.pods = new Map(s.allocations.map((a) => [a.containerID, view(a)] as const));
    const ok = buildNodeDiagnostics(s);
    expect(nodeConditions(ok, undefined, s.observedAt).find((c) => c.type === 'PodInterfacesHealthy')).toMatchObject({ status: 'True', message: `${n} pod interface(s) checked` });
    // At or under the cap the list is whole and carries no counts.
    s.allocations = s.allocations.slice(0, MAX_LISTED_ALLOCATIONS);
    expect(buildNodeDiagnostics(s)).not.toHaveProperty('allocationCount');
  });

  it('a NIC down: the conditions and status say which NIC and which networks', () => {
    const s = healthy();
    s.links = s.links.map((l) => (l.ifname === 'eth2' ? link(4, 'eth2', ['10.0.2.1/24'], { up: false }) : l));
    s.routes = s.routes.filter((r) => r.dev !== 'eth2');
    const d = buildNodeDiagnostics(s);
    const nics = nodeConditions(d, undefined, s.observedAt).find((c) => c.type === 'NicsHealthy');
    expect(nics).toMatchObject({ status: 'False', reason: 'NicDown', message: 'eth2 is administratively down (carries mnet)' });
    expect(networkProblemsOnHost(d, 'mnet')).toEqual([
      'NIC eth2 is down in the kernel (diagnostics at 2026-01-01T00:00:00.000Z)',
      'kernel lacks 2 of 4 route(s) in table 101 (e.g. 192.168.65.0/24 via 10.0.2.2 dev eth2) (diagnostics at 2026-01-01T00:00:00.000Z)',
    ]);
    expect(networkProblemsOnHost(d, 'other')).toEqual([]);
  });

  it('keeps lastTransitionTime of unchanged conditions, moves it on a change', () => {
    const s = healthy();
    const first = nodeConditions(buildNodeDiagnostics(s), undefined, 't0');
    s.routes = s.routes.slice(1);
    const second = nodeConditions(buildNodeDiagnostics(s), first, 't1');
    const at = (l: typeof first, t: string) => l.find((c) => c.type === t)?.lastTransitionTime;
    expect([at(second, 'NicsHealthy'), at(second, 'RoutesHealthy'), at(second, 'Ready')]).toEqual(['t0', 't1', 't1']);
  });

  it('needs multi-nic, each main plugin and a single-NIC IPAM type; refuses a plugin name that is not a file name', () => {
    const hl = testNetwork({ name: 'hl' });
    hl.spec.ipam = JSON.stringify({ type: 'host-local', ranges: [] });
    const bad = testNetwork({ name: 'bad' });
    bad.spec.plugin.type = '../../bin/sh' as never;
    expect(neededBinaries([{ network: testNetwork() }, { network: hl }, { network: bad }])).toEqual({
      binaries: [
        { name: 'host-local', neededBy: ['hl'] },
        { name: 'macvlan', neededBy: ['hl', 'mnet'] },
        { name: 'multi-nic', neededBy: ['bad', 'hl', 'mnet'] },
      ],
      invalid: ['network "bad": plugin name "../../bin/sh" is not a CNI executable name (letters, digits, \'.\', \'_\', \'-\')'],
    });
  });
});
