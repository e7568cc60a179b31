import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CIDR, HostInterface } from '../../../src/lib/crds/types.gen.js';
import { parseInventory } from '../../../src/lib/inventory.js';
import { parseManifests } from '../../../src/lib/manifest.js';
import { validateNetwork } from '../../../src/lib/network.js';
import { ippoolName, listPools, planNetwork, type PlanResult } from '../../../src/lib/plan/index.js';
import { routesForHost } from '../../../src/lib/routes.js';
import { fleet, host, network, type NetOpts } from './fixtures.js';

const example = (file: string): string => readFileSync(new URL(`../../../examples/${file}`, import.meta.url), 'utf8');

/** host -> netAddress -> podCIDR, the shape most rows assert. */
function grid(r: PlanResult): Record<string, Record<string, string>> {
  const g: Record<string, Record<string, string>> = {};
  for (const e of r.cidr.spec.cidr) for (const h of e.hosts) (g[h.hostName] ??= {})[e.netAddress] = h.podCIDR;
  return g;
}
const vlans = (r: PlanResult): Record<string, string> => Object.fromEntries(r.cidr.spec.cidr.map((e) => [e.netAddress, `${e.interfaceIndex} ${e.vlanCIDR}`]));

describe('planNetwork: the seed documentation worked example', () => {
  const net = validateNetwork(parseManifests(example('network.yaml'), 'network.yaml')[0]!);
  const inv = parseInventory(parseManifests(example('hosts.yaml'), 'hosts.yaml'));
  const r = planNetwork({ network: net, inventory: inv });

  it('gives host1 192.168.0.0/24 and 192.168.64.0/24, host2 192.168.1.0/24 and 192.168.65.0/24', () => {
    expect(grid(r)).toEqual({
      host1: { '10.0.1.0/24': '192.168.0.0/24', '10.0.2.0/24': '192.168.64.0/24' },
      host2: { '10.0.1.0/24': '192.168.1.0/24', '10.0.2.0/24': '192.168.65.0/24' },
    });
    expect(vlans(r)).toEqual({ '10.0.1.0/24': '0 192.168.0.0/18', '10.0.2.0/24': '1 192.168.64.0/18' });
  });
  it('routes 192.168.1.0/24 via 10.0.1.2 dev eth1 on host1', () => {
    expect(routesForHost(r.cidr, 'host1')).toEqual([
      { dst: '192.168.1.0/24', via: '10.0.1.2', dev: 'eth1', table: 'multi-nic-sample' },
      { dst: '192.168.65.0/24', via: '10.0.2.2', dev: 'eth2', table: 'multi-nic-sample' },
    ]);
  });
  it('writes the upstream CIDR shape with IPPool names and 254 usable addresses per /24', () => {
    expect(r.cidr.spec.config).toEqual({ name: 'multi-nic-sample', type: 'ipvlan', subnet: '192.168.0.0/16', masterNets: ['10.0.1.0/24', '10.0.2.0/24'], hostBlock: 6, interfaceBlock: 2, excludeCIDRs: [], vlanMode: 'l3' });
    expect(r.cidr.spec.cidr[0]!.hosts[0]).toEqual({ hostIndex: 0, hostName: 'host1', interfaceName: 'eth1', hostIP: '10.0.1.1', podCIDR: '192.168.0.0/24', ippool: 'multi-nic-sample-192.168.0.0-24' });
    expect(r.pools.map((p) => [p.name, p.capacity])).toEqual([
      ['multi-nic-sample-192.168.0.0-24', 254n],
      ['multi-nic-sample-192.168.64.0-24', 254n],
      ['multi-nic-sample-192.168.1.0-24', 254n],
      ['multi-nic-sample-192.168.65.0-24', 254n],
    ]);
    expect(r.unplaced).toEqual([]);
    expect(r.warnings).toEqual([]);
  });
});

interface Row {
  name: string;
  net: NetOpts;
  hosts: HostInterface[];
  previous?: CIDR;
  grid?: Record<string, Record<string, string>>;
  vlans?: Record<string, string>;
  unplaced?: string[];
  warnings?: string[];
  pools?: Array<[string, string[], bigint]>;
}

const two = [host('b', [['eth1', '10.0.1.0/24', '10.0.1.2'], ['eth2', '10.0.2.0/24', '10.0.2.2']]), host('a', [['eth1', '10.0.1.0/24', '10.0.1.1'], ['eth2', '10.0.2.0/24', '10.0.2.1']])];

const rows: Row[] = [
  {
    name: 'fresh plans assign host indexes by host name, not inventory order',
    net: {},
    hosts: two,
    grid: { a: { '10.0.1.0/24': '192.168.0.0/24', '10.0.2.0/24': '192.168.64.0/24' }, b: { '10.0.1.0/24': '192.168.1.0/24', '10.0.2.0/24': '192.168.65.0/24' } },
  },
  {
    name: 'interface index follows masterNets order',
    net: { masterNets: ['10.0.2.0/24', '10.0.1.0/24'] },
    hosts: two,
    vlans: { '10.0.2.0/24': '0 192.168.0.0/18', '10.0.1.0/24': '1 192.168.64.0/18' },
  },
  {
    name: 'empty masterNets: NIC networks sorted by address (numerically, not as text)',
    net: { interfaceBlock: 2 },
    hosts: [host('a', [['e1', '10.0.10.0/24', '10.0.10.1'], ['e2', '10.0.9.0/24', '10.0.9.1'], ['e3', '9.0.0.0/24', '9.0.0.1']])],
    vlans: { '9.0.0.0/24': '0 192.168.0.0/18', '10.0.9.0/24': '1 192.168.64.0/18', '10.0.10.0/24': '2 192.168.128.0/18' },
  },
  {
    name: 'a masterNets entry wider than the NIC networks covers them (examples/network-masternets.yaml)',
    net: { masterNets: ['10.0.0.0/16', '10.1.0.0/16'] },
    hosts: [host('a', [['eth1', '10.0.1.0/24', '10.0.1.1'], ['eth2', '10.1.1.0/24', '10.1.1.1']]), host('b', [['eth1', '10.0.2.0/24', '10.0.2.1'], ['eth2', '10.1.2.0/24', '10.1.2.1']])],
    grid: { a: { '10.0.0.0/16': '192.168.0.0/24', '10.1.0.0/16': '192.168.64.0/24' }, b: { '10.0.0.0/16': '192.168.1.0/24', '10.1.0.0/16': '192.168.65.0/24' } },
  },
  {
    name: 'an interface block inside a large exclude is skipped (tabu)',
    net: { excludeCIDRs: ['192.168.0.0/18'] },
    hosts: two,
    vlans: { '10.0.1.0/24': '1 192.168.64.0/18', '10.0.2.0/24': '2 192.168.128.0/18' },
  },
  {
    name: 'a host block inside an exclude is skipped; an exclude equal to a pod block removes that index',
    net: { excludeCIDRs: ['192.168.0.0/23', '192.168.66.0/24'] },
    hosts: fleet(3, ['10.0.1.0/24', '10.0.2.0/24']),
    grid: {
      h000: { '10.0.1.0/24': '192.168.2.0/24', '10.0.2.0/24': '192.168.64.0/24' },
      h001: { '10.0.1.0/24': '192.168.3.0/24', '10.0.2.0/24': '192.168.65.0/24' },
      h002: { '10.0.1.0/24': '192.168.4.0/24', '10.0.2.0/24': '192.168.67.0/24' },
    },
  },
  {
    name: 'smaller excludes become pool excludes and lower capacity (overlaps counted once, network address not double-counted)',
    net: { excludeCIDRs: ['192.168.0.0/30', '192.168.0.2/31', '192.168.0.64/26', '192.168.1.7'] },
    hosts: fleet(2, ['10.0.1.0/24']),
    pools: [
      ['net-192.168.0.0-24', ['192.168.0.0/30', '192.168.0.2/31', '192.168.0.64/26'], 254n - 3n - 64n],
      ['net-192.168.1.0-24', ['192.168.1.7/32'], 253n],
    ],
  },
  {
    name: 'more hosts than 2^hostBlock: the ones that fit are planned, the rest named',
    net: { subnet: '192.168.0.0/16', interfaceBlock: 0, hostBlock: 1 },
    hosts: fleet(3, ['10.0.1.0/24']),
    grid: { h000: { '10.0.1.0/24': '192.168.0.0/17' }, h001: { '10.0.1.0/24': '192.168.128.0/17' } },
    unplaced: ['h002 eth0 10.0.1.0/24'],
  },
  {
    name: 'excludes count against the host budget',
    net: { subnet: '192.168.0.0/16', interfaceBlock: 0, hostBlock: 2, excludeCIDRs: ['192.168.64.0/18'] },
    hosts: fleet(4, ['10.0.1.0/24']),
    grid: { h000: { '10.0.1.0/24': '192.168.0.0/18' }, h001: { '10.0.1.0/24': '192.168.128.0/18' }, h002: { '10.0.1.0/24': '192.168.192.0/18' } },
    unplaced: ['h003 eth0 10.0.1.0/24'],
  },
  {
    name: 'host-subnet mode (empty subnet): pod blocks carved from each NIC network, host addresses excluded',
    net: { subnet: '', hostBlock: 2 },
    hosts: fleet(2, ['10.0.1.0/24', '10.0.2.0/24']),
    vlans: { '10.0.1.0/24': '0 10.0.1.0/24', '10.0.2.0/24': '1 10.0.2.0/24' },
    grid: { h000: { '10.0.1.0/24': '10.0.1.0/26', '10.0.2.0/24': '10.0.2.0/26' }, h001: { '10.0.1.0/24': '10.0.1.64/26', '10.0.2.0/24': '10.0.2.64/26' } },
    // The hosts' own NIC addresses (.1, .2) lie in h000's blocks: never handed to pods.
    pools: [
      ['net-10.0.1.0-26', ['10.0.1.1/32', '10.0.1.2/32'], 60n],
      ['net-10.0.2.0-26', ['10.0.2.1/32', '10.0.2.2/32'], 60n],
      ['net-10.0.1.64-26', [], 62n],
      ['net-10.0.2.64-26', [], 62n],
    ],
  },
  {
    name: 'host-subnet mode with hostBlock 0: hosts share the NIC network, pools still distinct, host addresses excluded, warned',
    net: { subnet: '', hostBlock: 0 },
    hosts: fleet(2, ['10.0.1.0/24']),
    grid: { h000: { '10.0.1.0/24': '10.0.1.0/24' }, h001: { '10.0.1.0/24': '10.0.1.0/24' } },
    pools: [
      ['net-10.0.1.0-24-h000', ['10.0.1.1/32', '10.0.1.2/32'], 252n],
      ['net-10.0.1.0-24-h001', ['10.0.1.1/32', '10.0.1.2/32'], 252n],
    ],
    warnings: ['SharedPodBlock'],
  },
  {
    name: 'IPv6: blocks by bigint math, RFC 5952 text, pool names with "-" for ":"',
    net: { subnet: 'fd00:10::/48', interfaceBlock: 4, hostBlock: 12 },
    hosts: [
      host('a', [['eth1', '10.0.1.0/24', '10.0.1.1', { netAddressV6: 'fd00:1::/64', hostIPv6: 'fd00:1::1' }]]),
      host('b', [['eth1', '10.0.1.0/24', '10.0.1.2', { netAddressV6: 'fd00:1::/64', hostIPv6: 'fd00:1::2' }]]),
    ],
    vlans: { 'fd00:1::/64': '0 fd00:10::/52' },
    grid: { a: { 'fd00:1::/64': 'fd00:10::/64' }, b: { 'fd00:1::/64': 'fd00:10:0:1::/64' } },
    pools: [
      ['net-fd00-10---64', [], 2n ** 64n - 1n],
      ['net-fd00-10-0-1---64', [], 2n ** 64n - 1n],
    ],
  },
  {
    name: 'an IPv6 network over an inventory with IPv4 NICs only: empty plan, warned',
    net: { subnet: 'fd00:10::/48', interfaceBlock: 4, hostBlock: 12 },
    hosts: two,
    grid: {},
    warnings: ['NoNicNetworks'],
  },
  {
    name: 'a host with two NICs on one network uses the lowest interface name',
    net: {},
    hosts: [host('a', [['eth9', '10.0.1.0/24', '10.0.1.9'], ['eth1', '10.0.1.0/24', '10.0.1.1']])],
    grid: { a: { '10.0.1.0/24': '192.168.0.0/24' } },
  },
  {
    name: 'a NIC without a host address gets no block and is warned about',
    net: {},
    hosts: [host('a', [['eth1', '10.0.1.0/24', '10.0.1.1']]), { ...host('b', []), spec: { hostName: 'b', interfaces: [{ interfaceName: 'eth1', netAddress: '10.0.1.0/24' }] } }],
    grid: { a: { '10.0.1.0/24': '192.168.0.0/24' } },
    warnings: ['NicWithoutAddress'],
  },
];

describe('planNetwork: table', () => {
  it.each(rows)('$name', (row) => {
    const r = planNetwork({ network: network(row.net), inventory: row.hosts, previous: row.previous });
    if (row.grid) expect(grid(r)).toEqual(row.grid);
    if (row.vlans) expect(vlans(r)).toEqual(row.vlans);
    expect(r.unplaced.map((u) => `${u.hostName} ${u.interfaceName} ${u.netAddress}`)).toEqual(row.unplaced ?? []);
    expect(r.warnings.map((w) => w.code)).toEqual(row.warnings ?? []);
    if (row.pools) expect(r.pools.map((p) => [p.name, p.excludes, p.capacity])).toEqual(row.pools);
    // The pool listing is a function of the CIDR alone (what the agent calls).
    expect(listPools(r.cidr)).toEqual(r.pools);
  });
});

describe('planNetwork: re-planning from a previous CIDR', () => {
  const nets = ['10.0.1.0/24', '10.0.2.0/24'];
  const first = planNetwork({ network: network(), inventory: fleet(4, nets) });
  const index = (r: PlanResult): Record<string, number[]> => {
    const o: Record<string, number[]> = {};
    for (const e of r.cidr.spec.cidr) for (const h of e.hosts) (o[h.hostName] ??= []).push(h.hostIndex);
    return o;
  };

  it('keeps every host index, new hosts take the lowest free index, departed hosts free theirs', () => {
    // h001 leaves, h004 and h005 join: h004 takes h001's index 1, h005 the next free (4).
    const inv = [...fleet(4, nets).filter((h) => h.spec.hostName !== 'h001'), ...fleet(2, nets, 4)];
    const r = planNetwork({ network: network(), inventory: inv, previous: first.cidr });
    expect(index(r)).toEqual({ h000: [0, 0], h002: [2, 2], h003: [3, 3], h004: [1, 1], h005: [4, 4] });
  });
  it('re-planning with the same inventory reproduces the previous CIDR exactly', () => {
    const r = planNetwork({ network: network(), inventory: fleet(4, nets).reverse(), previous: first.cidr });
    expect(r.cidr).toEqual(first.cidr);
  });
  it('keeps a name-order-breaking previous assignment (indexes are not recomputed from names)', () => {
    const prev = structuredClone(first.cidr);
    for (const e of prev.spec.cidr) for (const h of e.hosts) h.hostIndex = 3 - h.hostIndex;
    const r = planNetwork({ network: network(), inventory: fleet(4, nets), previous: prev });
    expect(index(r)).toEqual({ h000: [3, 3], h001: [2, 2], h002: [1, 1], h003: [0, 0] });
    expect(grid(r).h000).toEqual({ '10.0.1.0/24': '192.168.3.0/24', '10.0.2.0/24': '192.168.67.0/24' });
  });
  it('keeps interface indexes of existing NIC networks when masterNets is reordered or grows', () => {
    const r = planNetwork({ network: network({ masterNets: ['10.0.3.0/24', '10.0.2.0/24', '10.0.1.0/24'] }), inventory: fleet(2, [...nets, '10.0.3.0/24']), previous: first.cidr });
    expect(vlans(r)).toEqual({ '10.0.1.0/24': '0 192.168.0.0/18', '10.0.2.0/24': '1 192.168.64.0/18', '10.0.3.0/24': '2 192.168.128.0/18' });
  });
  it('moves a host whose block became excluded and says so', () => {
    const r = planNetwork({ network: network({ excludeCIDRs: ['192.168.2.0/24'] }), inventory: fleet(4, nets), previous: first.cidr });
    expect(index(r)).toEqual({ h000: [0, 0], h001: [1, 1], h002: [4, 2], h003: [3, 3] });
    expect(r.warnings.map((w) => w.code)).toEqual(['HostReindexed']);
  });
  it('warns when the previous plan used another subnet or block sizes', () => {
    const r = planNetwork({ network: network({ hostBlock: 5 }), inventory: fleet(4, nets), previous: first.cidr });
    expect(r.warnings.map((w) => w.code)).toEqual(['ConfigChanged']);
    expect(index(r)).toEqual(index(first));
  });
});

describe('ippoolName', () => {
  it.each([
    ['IPv4 as upstream', 'multi-nic-sample', '192.168.0.0/26', undefined, 'multi-nic-sample-192.168.0.0-26'],
    ['IPv6 colons become dashes', 'n', 'fd00:10:0:1::/64', undefined, 'n-fd00-10-0-1---64'],
    ['a shared block names its host', 'n', '10.0.1.0/24', 'host-a', 'n-10.0.1.0-24-host-a'],
  ])('%s', (_name, net, pod, shared, want) => {
    const got = ippoolName(net, pod, shared);
    expect(got).toBe(want);
    expect(got).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });
});
