// The StatusReport's readiness per kind of network: multi-nic-ipam networks wait for their CIDR;
// single-NIC IPAM networks have none and are ready once a ready node has a NIC on masterNets.
import { describe, expect, it } from 'vitest';
import { buildStatusReport, type ClusterSnapshot } from '../../src/lib/status.js';
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
