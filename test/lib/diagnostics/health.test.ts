// The pure parts of the continuous per-NIC health check: which peers each NIC probes (from the
// CIDRs), what a round publishes (capped lists, kept counts), the conditions it turns into, and the
// scratch namespace names an agent sweeps.
import { describe, expect, it } from 'vitest';
import type { CIDR, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import { nodeConditions } from '../../../src/lib/diagnostics/conditions.js';
import { MAX_LISTED_PEERS, healthConditions, healthNetnsName, healthNetnsPid, healthTargets, isHealthHolder, nicHealth, type HealthReport } from '../../../src/lib/diagnostics/health.js';
import type { NodeDiagnostics } from '../../../src/lib/diagnostics/types.js';

const net = (name: string): MultiNicNetwork => ({ apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', metadata: { name }, spec: { subnet: '192.168.0.0/16', ipam: '{"type":"multi-nic-ipam"}', multiNICIPAM: true, plugin: { cniVersion: '0.3.0', type: 'macvlan' } } }) as MultiNicNetwork;
const host = (h: number, nic: string, ip: string) => ({ hostIndex: h, hostName: `host${h}`, interfaceName: nic, hostIP: ip, podCIDR: `192.168.${h}.0/24`, ippool: '' });
const cidr = (name: string, entries: Array<{ net: string; idx: number; hosts: ReturnType<typeof host>[] }>): CIDR =>
  ({ apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', metadata: { name }, spec: { config: {}, cidr: entries.map((e) => ({ netAddress: e.net, interfaceIndex: e.idx, vlanCIDR: '192.168.0.0/18', hosts: e.hosts })) } }) as unknown as CIDR;

const report = (nics: HealthReport['nics']): HealthReport => ({ observedAt: '2026-12-03T10:00:00.000Z', durationMs: 80, intervalSeconds: 60, nics });

describe('healthTargets', () => {
  it('per NIC of this host: its networks, and every other host on the same NIC network once', () => {
    const a = { network: net('a'), cidr: cidr('a', [{ net: '10.0.1.0/24', idx: 0, hosts: [host(1, 'eth1', '10.0.1.1'), host(3, 'eth1', '10.0.1.3'), host(2, 'eth1', '10.0.1.2')] }, { net: '10.0.2.0/24', idx: 1, hosts: [host(1, 'eth2', '10.0.2.1'), host(2, 'eth2', '10.0.2.2')] }]) };
    // A second network over the same NIC network: the NIC is tested for both, its peers probed once.
    const b = { network: net('b'), cidr: cidr('b', [{ net: '10.0.1.0/24', idx: 0, hosts: [host(1, 'eth1', '10.0.1.1'), host(2, 'eth1', '10.0.1.2')] }]) };
    const unplanned = { network: net('c') };
    expect(healthTargets([b, a, unplanned], 'host1')).toEqual([
      { nic: 'eth1', hostIP: '10.0.1.1', netAddress: '10.0.1.0/24', networks: ['a', 'b'], peers: [{ host: 'host2', ip: '10.0.1.2' }, { host: 'host3', ip: '10.0.1.3' }] },
      { nic: 'eth2', hostIP: '10.0.2.1', netAddress: '10.0.2.0/24', networks: ['a'], peers: [{ host: 'host2', ip: '10.0.2.2' }] },
    ]);
    expect(healthTargets([a], 'host9')).toEqual([]);
  });
});

describe('nicHealth', () => {
  it('counts every peer and lists the first MAX_LISTED_PEERS unreachable; not probed is neither', () => {
    const probes = Array.from({ length: 4000 }, (_, i) => ({ peer: { host: `h${String(i).padStart(4, '0')}`, ip: `10.0.${i >> 8}.${i & 255}` }, ok: i % 2 === 0 ? true : i < 3000 ? false : undefined }));
    const n = nicHealth('eth1', [{ network: 'a', outcome: 'failed', message: 'x'.repeat(5000) }], probes);
    expect(n.peers).toBe(4000);
    expect(n.reachable).toBe(2000);
    expect(n.unreachableCount).toBe(1500);
    expect(n.notProbed).toBe(500);
    expect(n.unreachable).toHaveLength(MAX_LISTED_PEERS);
    expect(n.unreachable[0]).toBe('h0001 10.0.0.1');
    expect(n.allocability[0]!.message!.length).toBeLessThanOrEqual(300);
    // 8 NICs of a 4,096-host cluster, every peer down and every message at its cap: a few KB.
    expect(Buffer.byteLength(JSON.stringify(report(Array(8).fill(n))))).toBeLessThan(16 * 1024);
  });
});

describe('healthConditions', () => {
  const ok = (nic: string, peers = 2) => ({ nic, allocability: [{ network: 'a', outcome: 'ok' as const }], peers, reachable: peers, unreachable: [], unreachableCount: 0 });
  it('all well: both True', () => {
    expect(healthConditions(report([ok('eth1'), ok('eth2')]), undefined, 'T0').map((c) => [c.type, c.status, c.reason, c.message])).toEqual([
      ['NICAllocatable', 'True', 'AttachmentsWork', '2 test attachment(s) created and deleted'],
      ['NICReachable', 'True', 'PeersReachable', '4 peer address(es) reachable over 2 NIC(s)'],
    ]);
  });

  it('a failing NIC and unreachable peers: both False, naming the NIC, the step and the peers', () => {
    const bad = { ...ok('eth2'), allocability: [{ network: 'a', outcome: 'failed' as const, message: 'failed to macvlan ADD: boom' }], reachable: 0, unreachable: ['host2 10.0.2.2', 'host3 10.0.2.3'], unreachableCount: 2 };
    const c = healthConditions(report([ok('eth1'), bad]), undefined, 'T0');
    expect(c[0]).toMatchObject({ type: 'NICAllocatable', status: 'False', reason: 'AttachmentFailed', message: 'eth2 (a): failed to macvlan ADD: boom' });
    expect(c[1]).toMatchObject({ type: 'NICReachable', status: 'False', reason: 'PeersUnreachable', message: 'eth2: 2/2 peer(s) unreachable (host2 10.0.2.2, host3 10.0.2.3)' });
  });

  it('nothing testable: Unknown with why (lent NIC, no CAP_SYS_ADMIN, no peers)', () => {
    const r = report([{ nic: 'eth1', allocability: [{ network: 'a', outcome: 'skipped', message: 'lent to pod ns/p' }], peers: 0, reachable: 0, unreachable: [], unreachableCount: 0 }]);
    expect(healthConditions(r, undefined, 'T0').map((c) => [c.status, c.reason, c.message])).toEqual([
      ['Unknown', 'NotTested', 'skipped eth1 (a): lent to pod ns/p'],
      ['Unknown', 'NoPeers', 'no other host shares a NIC network with this one'],
    ]);
  });

  it('keeps lastTransitionTime while the status stays, moves it when it changes', () => {
    const first = healthConditions(report([ok('eth1')]), undefined, 'T0');
    const same = healthConditions(report([ok('eth1')]), first, 'T1');
    expect(same.map((c) => c.lastTransitionTime)).toEqual(['T0', 'T0']);
    const broken = healthConditions(report([{ ...ok('eth1'), reachable: 1, unreachable: ['host2 10.0.1.2'], unreachableCount: 1 }]), same, 'T2');
    expect(broken.map((c) => [c.type, c.lastTransitionTime])).toEqual([['NICAllocatable', 'T0'], ['NICReachable', 'T2']]);
  });

  it('nodeConditions adds them after Ready, only when the diagnostics carry a round, and Ready does not depend on them', () => {
    const d = { version: 1, observedAt: 'T', agentVersion: 'v', networks: [], sysctls: { forwardingNeeded: false }, nics: [], binaries: [], journal: { ok: true, allocations: 0 }, allocations: [], repairs: [] } as NodeDiagnostics;
    expect(nodeConditions(d, undefined, 'T').map((c) => c.type).slice(-1)).toEqual(['Ready']);
    const withHealth = nodeConditions({ ...d, health: report([{ ...ok('eth1'), reachable: 0, unreachable: ['host2 10.0.1.2', 'host3 10.0.1.3'], unreachableCount: 2 }]) }, undefined, 'T');
    expect(withHealth.slice(-3).map((c) => [c.type, c.status])).toEqual([['Ready', 'True'], ['NICAllocatable', 'True'], ['NICReachable', 'False']]);
  });
});

describe('scratch namespace names and the test holder', () => {
  it('names carry the agent netns (lab) or "multinic" (a node) and the pid; only those are read back', () => {
    expect(healthNetnsName('op-host1', 42)).toBe('op-host1-health-42');
    expect(healthNetnsName(undefined, 7)).toBe('multinic-health-7');
    expect(healthNetnsName('bad name;rm', 7)).toBe('multinic-health-7');
    expect(healthNetnsPid('op-host1-health-42', 'op-host1')).toBe(42);
    expect(healthNetnsPid('op-host2-health-42', 'op-host1')).toBeUndefined();
    expect(healthNetnsPid('multinic-health-0', undefined)).toBeUndefined();
    expect(healthNetnsPid('multinic-health-12x', undefined)).toBeUndefined();
    expect(healthNetnsPid('op-host1-p3', 'op-host1')).toBeUndefined();
  });

  it('the test address holder is no pod UID', () => {
    expect(isHealthHolder({ podUID: 'multinic-health' })).toBe(true);
    expect(isHealthHolder({ podUID: '5b1c2a8e-0000-4000-8000-000000000000' })).toBe(false);
  });
});
