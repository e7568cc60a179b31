// The StatusReport's readiness per kind of network: multi-nic-ipam networks wait for their CIDR;
// single-NIC IPAM networks have none and are ready once a ready node has a NIC on masterNets.
import { describe, expect, it } from 'vitest';
import { buildStatusReport, type ClusterSnapshot, type ReportPools } from '../../src/lib/status.js';
import { listPools } from '../../src/lib/plan/index.js';
import { cidrFingerprint } from '../../src/lib/cluster/claim.js';
import { ROUTES_ANNOTATION } from '../../src/lib/cluster/status.js';
import type { MultiNicNetwork } from '../../src/lib/crds/types.gen.js';

const network = (name: string, ipam: Record<string, unknown>, masterNets: string[]): MultiNicNetwork => ({
  apiVersion: 'multinic.fms.io/v1',
  kind: 'MultiNicNetwork',
  metadata: { name },
  spec: { ipam: JSON.stringify(ipam), multiNICIPAM: ipam.type === 'multi-nic-ipam', masterNets, plugin: { cniVersion: '0.3.0', type: 'macvlan', args: {} } },
  status: { configStatus: 'Success', routeStatus: 'N/A' },
} as MultiNicNetwork);

function snapshot(networks: MultiNicNetwork[], nodeNets: string[]): ClusterSnapshot {
  return {
    networks,
    cidrs: [],
    ippools: [],
    hostInterfaces: [{ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: 'h1' }, spec: { hostName: 'h1', interfaces: nodeNets.map((n, i) => ({ interfaceName: `eth${i + 1}`, netAddress: n })) } }],
    nodes: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'h1' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }],
    daemonSets: [],
  };
}

describe('buildStatusReport', () => {
  it('a multi-nic-ipam network without a CIDR is not ready; a single-NIC IPAM one needs none', () => {
    const r = buildStatusReport(snapshot([network('blocks', { type: 'multi-nic-ipam', hostBlock: 6 }, ['10.0.1.0/24']), network('hl', { type: 'host-local' }, ['10.0.0.0/16'])], ['10.0.1.0/24', '10.0.2.0/24']), undefined);
    expect(r.networks.map((n) => [n.name, n.ipam, n.ready, n.problems])).toEqual([
      ['blocks', 'multi-nic-ipam', false, ['no CIDR yet: no agent has claimed blocks (are the agents running? kubectl multinic status)']],
      ['hl', 'host-local', true, []],
    ]);
  });

  it('a single-NIC IPAM network whose masterNets no ready node has is not ready, and says why', () => {
    const r = buildStatusReport(snapshot([network('hl', { type: 'whereabouts' }, ['10.9.0.0/24'])], ['10.0.1.0/24']), 'hl');
    expect(r.networks[0]?.problems).toEqual(['no ready node has a NIC on masterNets 10.9.0.0/24: pods cannot attach (kubectl multinic status shows each node\'s NICs)']);
    const any = buildStatusReport(snapshot([network('hl', { type: 'whereabouts' }, [])], ['10.0.1.0/24']), 'hl');
    expect(any.networks[0]?.ready).toBe(true);
  });

  it('a network refused for an overlapping subnet says so, not "no CIDR yet"', () => {
    const refused = network('late', { type: 'multi-nic-ipam', hostBlock: 6 }, ['10.0.1.0/24']);
    const message = 'Refused late: subnet 192.168.0.0/17 overlaps subnet 192.168.0.0/16 of MultiNicNetwork "early", which was created first';
    refused.status = { configStatus: 'Failed', routeStatus: 'N/A', message, conditions: [{ type: 'ConfigReady', status: 'False', reason: 'SubnetOverlap', message, lastTransitionTime: '2026-01-01T00:00:00Z' }] };
    const r = buildStatusReport(snapshot([refused], ['10.0.1.0/24']), 'late');
    expect(r.networks[0]?.problems).toEqual([`configStatus is Failed: ${message}`]);
  });
});

describe('buildStatusReport with DRA claims', () => {
  it('a NIC a ResourceClaim holds names the claim and its pods; other NICs, claims of other drivers and unreserved claims say nothing', () => {
    const s = snapshot([], ['10.0.1.0/24', '10.0.2.0/24']);
    s.draSlices = [{ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: 'h1-multinic.fms.io' }, spec: { driver: 'multinic.fms.io', nodeName: 'h1', pool: { name: 'h1', generation: 1, resourceSliceCount: 1 }, devices: [{ name: 'eth1', attributes: { interfaceName: { string: 'eth1' } } }, { name: 'eth2', attributes: { interfaceName: { string: 'eth2' } } }] } }] as never;
    const claim = (name: string, driver: string, device: string, pods: string[]) => ({
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name, namespace: 'ml' }, spec: {},
      status: { allocation: { devices: { results: [{ request: 'nics', driver, pool: 'h1', device }] } }, reservedFor: pods.map((p) => ({ resource: 'pods', name: p, uid: p })) },
    });
    s.draClaims = [claim('trainer-nics', 'multinic.fms.io', 'eth2', ['trainer-0']), claim('gpu', 'gpu.example.com', 'eth1', ['trainer-0']), claim('idle', 'multinic.fms.io', 'eth1', [])] as never;
    const r = buildStatusReport(s);
    expect(r.nodes[0]?.nics.map((n) => [n.name, n.claim, n.claimedBy])).toEqual([
      ['eth1', undefined, undefined],
      ['eth2', 'ml/trainer-nics', ['ml/trainer-0']],
    ]);
  });
});

describe('capacity: one definition (poolCapacity) in status, plan and the IPPool status', () => {
  it('a macvlan L3 /24 offers 253 everywhere: the shim gateway is reserved', async () => {
    const { healthy } = await import('./doctor/fixtures.js');
    const s = healthy();
    const r = buildStatusReport(s, 'net-a');
    const pools = new Map(s.ippools.map((p) => [p.metadata.name, p.status?.capacity]));
    const rows = r.networks[0]!.hosts.flatMap((h) => h.nics.map((n) => [n.pool, n.capacity, pools.get(n.pool)]));
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.slice(1)).toEqual(['253', 253]);
  });
});

describe('buildStatusReport with kernel truth (HostInterface diagnostics)', () => {
  const cidrOf = (): import('../../src/lib/crds/types.gen.js').CIDR => ({
    apiVersion: 'multinic.fms.io/v1',
    kind: 'CIDR',
    metadata: { name: 'blocks' },
    spec: {
      config: { name: 'blocks', type: 'macvlan', subnet: '192.168.0.0/16', masterNets: ['10.0.1.0/24'], hostBlock: 6, interfaceBlock: 2, vlanMode: 'l3' },
      cidr: [{ netAddress: '10.0.1.0/24', interfaceIndex: 0, vlanCIDR: '192.168.0.0/18', hosts: [{ hostIndex: 0, hostName: 'h1', interfaceName: 'eth1', hostIP: '10.0.1.1', podCIDR: '192.168.0.0/24' }] }],
    },
  });
  const diag = (over: { missing?: boolean; down?: boolean }) => ({
    version: 1, observedAt: '2026-01-01T00:00:00Z', agentVersion: '0.1.0',
    networks: [{ network: 'blocks', table: '101', vlanMode: 'l3', desiredRoutes: 1, missingRoutes: over.missing ? [{ dst: '192.168.1.0/24', via: '10.0.1.2', dev: 'eth1' }] : [], foreignRoutes: [], rulePresent: true }],
    sysctls: { forwardingNeeded: true, ipv4Forward: 1 },
    nics: [{ name: 'eth1', operState: over.down ? 'down' : 'up', adminUp: !over.down, carrier: !over.down, mtu: 1500, addresses: [], networks: ['blocks'] }],
    binaries: [], journal: { ok: true, allocations: 0 }, allocations: [], repairs: [],
  });
  function snap(d: ReturnType<typeof diag> | undefined): ClusterSnapshot {
    const s = snapshot([network('blocks', { type: 'multi-nic-ipam', hostBlock: 6, vlanMode: 'l3' }, ['10.0.1.0/24'])], ['10.0.1.0/24']);
    s.networks[0]!.status = { configStatus: 'Success', routeStatus: 'Success', hosts: [{ hostName: 'h1', ready: true, routes: 1 }] };
    s.cidrs = [cidrOf()];
    if (d) s.hostInterfaces[0]!.status = { diagnostics: d };
    return s;
  }

  it('a host whose agent reported routes ok but whose kernel lacks one is not ready, with the reason', () => {
    expect(buildStatusReport(snap(undefined)).networks[0]?.ready).toBe(true);
    expect(buildStatusReport(snap(diag({}))).networks[0]?.ready).toBe(true);
    const r = buildStatusReport(snap(diag({ missing: true })));
    expect(r.ready).toBe(false);
    expect(r.networks[0]?.hosts[0]).toMatchObject({ hostName: 'h1', ready: false, kernel: ['kernel lacks 1 of 1 route(s) in table 101 (e.g. 192.168.1.0/24 via 10.0.1.2 dev eth1) (diagnostics at 2026-01-01T00:00:00Z)'] });
    expect(r.networks[0]?.problems).toEqual(['h1: kernel lacks 1 of 1 route(s) in table 101 (e.g. 192.168.1.0/24 via 10.0.1.2 dev eth1) (diagnostics at 2026-01-01T00:00:00Z)']);
  });

  it('a NIC carrying the network down makes the host not ready', () => {
    const r = buildStatusReport(snap(diag({ down: true })));
    expect(r.networks[0]?.problems).toEqual(['h1: NIC eth1 is down in the kernel (diagnostics at 2026-01-01T00:00:00Z)']);
  });
});

describe('buildStatusReport over a status that lists only the hosts that are not ready', () => {
  const hostsOf = ['h1', 'h2', 'h3'];
  const cidr: import('../../src/lib/crds/types.gen.js').CIDR = {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'CIDR',
    metadata: { name: 'blocks' },
    spec: {
      config: { name: 'blocks', type: 'macvlan', subnet: '192.168.0.0/16', masterNets: ['10.0.1.0/24'], hostBlock: 6, interfaceBlock: 2, vlanMode: 'l3' },
      cidr: [{ netAddress: '10.0.1.0/24', interfaceIndex: 0, vlanCIDR: '192.168.0.0/18', hosts: hostsOf.map((h, i) => ({ hostIndex: i, hostName: h, interfaceName: 'eth1', hostIP: `10.0.1.${i + 1}`, podCIDR: `192.168.${i}.0/24` })) }],
    },
  };
  it('a listed host is what the status says; an unlisted one is judged from its own route report for the current CIDR', () => {
    const s = snapshot([network('blocks', { type: 'multi-nic-ipam', hostBlock: 6, vlanMode: 'l3' }, ['10.0.1.0/24'])], ['10.0.1.0/24']);
    s.cidrs = [cidr];
    const fp = cidrFingerprint(cidr.spec);
    const report = (r: object) => ({ [ROUTES_ANNOTATION]: JSON.stringify({ blocks: r }) });
    s.hostInterfaces = hostsOf.map((h) => ({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: h }, spec: { hostName: h, interfaces: [{ interfaceName: 'eth1', netAddress: '10.0.1.0/24' }] } }));
    // h1: listed as failed (although its annotation says ok: the leader's word wins); h2 reported ok
    // for the current CIDR; h3 reported for an older CIDR.
    s.hostInterfaces[0]!.metadata.annotations = report({ cidr: fp, routes: 2, ok: true });
    s.hostInterfaces[1]!.metadata.annotations = report({ cidr: fp, routes: 2, ok: true });
    s.hostInterfaces[2]!.metadata.annotations = report({ cidr: '00000000', routes: 2, ok: true });
    s.networks[0]!.status = { configStatus: 'WaitForConfig', routeStatus: 'Failed', readyHosts: 1, notReadyHosts: 2, hosts: [{ hostName: 'h1', ready: false, routes: 0, message: 'RTNETLINK answers: File exists' }] };
    const n = buildStatusReport(s).networks[0]!;
    expect(n.hosts.map((h) => [h.hostName, h.ready, h.message ?? ''])).toEqual([
      ['h1', false, 'RTNETLINK answers: File exists'],
      ['h2', true, ''],
      ['h3', false, 'routes installed for an older CIDR; update pending'],
    ]);
    expect(n.problems).toContain('h3: routes not reported (routes installed for an older CIDR; update pending)');
  });

  it('poolsOut gets each reported network\'s pools with the CIDR view they came from (the status table reuses them)', () => {
    const s = snapshot([network('blocks', { type: 'multi-nic-ipam', hostBlock: 6, vlanMode: 'l3' }, ['10.0.1.0/24']), network('hl', { type: 'host-local' }, ['10.0.1.0/24'])], ['10.0.1.0/24']);
    s.cidrs = [cidr];
    const out: ReportPools = new Map();
    const r = buildStatusReport(s, undefined, out);
    expect([...out.keys()]).toEqual(['blocks']);
    expect(out.get('blocks')?.cidr).toBe(cidr);
    expect(out.get('blocks')?.pools).toEqual(listPools(cidr));
    expect(out.get('blocks')?.pools.map((p) => [p.hostName, p.podCIDR])).toEqual(hostsOf.map((h, i) => [h, `192.168.${i}.0/24`]));
    expect(r.networks[0]?.hosts.flatMap((h) => h.nics.map((x) => x.pool))).toEqual(out.get('blocks')?.pools.map((p) => p.name));
    const only = new Map() as ReportPools;
    buildStatusReport(s, 'hl', only);
    expect(only.size).toBe(0);
  });
});
