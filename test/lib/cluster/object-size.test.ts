// Issue 18 item 2: no object that grows with the cluster may pass 1 MiB at 4,096 hosts x 8 NICs.
// Each object is built by the code that writes it (renderIPPool, computeStatus, renderEvent,
// compareNetworkRoutes, claimsFromCidr, cidrSummarySpec) from the worst case that code can meet:
// names at their Kubernetes maximum, every host and NIC in the network, every route missing. Sizes
// are bytes of JSON, what etcd stores for a custom resource.
import { describe, expect, it } from 'vitest';
import { claimsFromCidr, cidrSummarySpec } from '../../../src/lib/cluster/claim-objects.js';
import { renderEvent } from '../../../src/lib/cluster/events.js';
import { renderIPPool } from '../../../src/lib/cluster/ippool.js';
import { cidrFingerprint } from '../../../src/lib/cluster/claim.js';
import { computeStatus, MAX_HOST_MESSAGE, MAX_LISTED_HOSTS, ROUTES_ANNOTATION } from '../../../src/lib/cluster/status.js';
import type { CIDR, HostInterface, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import { allocationDiagnostics, compareNetworkRoutes, listedAllocations, MAX_LISTED_ALLOCATIONS, MAX_LISTED_ROUTES } from '../../../src/lib/diagnostics/node.js';
import { healthConditions, MAX_LISTED_PEERS, nicHealth } from '../../../src/lib/diagnostics/health.js';
import type { Allocation } from '../../../src/lib/ipam/types.js';
import { planNetwork } from '../../../src/lib/plan/index.js';
import { validateNetwork } from '../../../src/lib/network.js';

const MiB = 1024 * 1024;
const HOSTS = 4096;
const NICS = 8;
const size = (o: unknown): number => Buffer.byteLength(JSON.stringify(o));
// Node names as long as a DNS subdomain may be (253), padded from the index.
const nodeName = (i: number): string => `${'n'.repeat(244)}-${String(i).padStart(8, '0')}`;

// 172.16.0.0/12: 3 interface bits, 12 host bits (4,096 hosts), /27 pod blocks.
const network = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'MultiNicNetwork',
  metadata: { name: 'scale', uid: 'u', generation: 1 },
  spec: { subnet: '172.16.0.0/12', ipam: JSON.stringify({ type: 'multi-nic-ipam', hostBlock: 12, interfaceBlock: 3, vlanMode: 'l3' }), multiNICIPAM: true, plugin: { cniVersion: '0.3.0', type: 'ipvlan', args: { mode: 'l3' } }, attachPolicy: { strategy: 'none' } },
} as unknown as MultiNicNetwork;

function host(i: number): HostInterface {
  const a = i + 1;
  const interfaces = Array.from({ length: NICS }, (_, n) => ({ interfaceName: `ens${n}f0np0abcde`.slice(0, 15), netAddress: `10.${n}.0.0/16`, hostIP: `10.${n}.${a >> 8}.${a & 255}`, vendor: '15b3', product: '101d', pciAddress: '0000:af:00.0', numaNode: 1, speed: 400000, mtu: 9000, state: 'up' as const }));
  return { apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: nodeName(i) }, spec: { hostName: nodeName(i), interfaces } };
}

const hosts = Array.from({ length: HOSTS }, (_, i) => host(i));
const plan = planNetwork({ network: validateNetwork({ source: 'scale', value: network }), inventory: hosts });
const cidr: CIDR = { ...plan.cidr, metadata: { name: 'scale', uid: 'c' } };

describe(`objects at ${HOSTS} hosts x ${NICS} NICs stay under 1 MiB`, () => {
  it('the plan places every host on every NIC network (the premise)', () => {
    expect(plan.unplaced).toEqual([]);
    expect(cidr.spec.cidr.map((e) => e.hosts.length)).toEqual(Array(NICS).fill(HOSTS));
  });

  it('the one-CIDR design does not fit (why claims exist); the CIDR summary and every CIDRClaim do', () => {
    expect(size(cidr)).toBeGreaterThan(1.5 * MiB);
    const summary = { ...cidr, spec: cidrSummarySpec(cidr.spec), status: { hosts: HOSTS, hostClaims: HOSTS * NICS, unmigrated: 0, shadowed: Array(20).fill(`${nodeName(0)}@10.0.0.0/16#4095`) } };
    expect(size(summary)).toBeLessThan(16 * 1024);
    const claims = claimsFromCidr('scale', cidr.spec, nodeName(HOSTS - 1));
    expect(Math.max(...claims.map(size))).toBeLessThan(1024);
  });

  // Every host failing, with 253-character node names and 300-character messages: listing every host
  // was 1.4 MB. The status counts hosts and lists the not-ready ones up to MAX_LISTED_HOSTS.
  it('MultiNicNetwork status (per-host readiness of every host, every one failing with a message)', () => {
    const fp = cidrFingerprint(cidr.spec);
    const reported = hosts.map((h) => ({ ...h, metadata: { ...h.metadata, annotations: { [ROUTES_ANNOTATION]: JSON.stringify({ scale: { cidr: fp, routes: HOSTS * NICS, ok: false, message: 'x'.repeat(300) } }) } } }));
    const status = computeStatus({ network, cidr: cidr.spec, hostInterfaces: reported, agents: HOSTS, now: new Date(0) }, undefined);
    expect([status.readyHosts, status.notReadyHosts, status.hosts?.length, status.routeStatus]).toEqual([0, HOSTS, MAX_LISTED_HOSTS, 'Failed']);
    expect(status.hosts?.[0]?.message).toHaveLength(MAX_HOST_MESSAGE);
    expect(size({ ...network, status })).toBeLessThan(64 * 1024);
  });

  it('IPPool of the largest pool this network has (a /27 block full), and how many allocations one IPPool holds', () => {
    const alloc = (i: number): Allocation => ({ pool: 'p', network: 'scale', address: `172.16.0.${i}`, index: i, podName: 'p'.repeat(253), namespace: 'n'.repeat(63), podUID: '0'.repeat(36), containerID: 'c'.repeat(64), interface: 'net1-0' });
    const pool = { name: 'p', network: 'scale', hostName: nodeName(0), interfaceName: 'ens0f0np0', podCIDR: '172.16.0.0/27', vlanCIDR: '172.16.0.0/15', excludes: [], reserved: [] };
    expect(size(renderIPPool(pool, Array.from({ length: 30 }, (_, i) => alloc(i + 1))))).toBeLessThan(16 * 1024);
    // A pool grows with the pods of one node, not with the cluster: with worst-case names about 1,990
    // allocations fit, far above a node's pods (kubelet's maxPods, 110 by default).
    const per = size(renderIPPool(pool, [alloc(1), alloc(2)])) - size(renderIPPool(pool, [alloc(1)]));
    expect(Math.floor(MiB / per)).toBeGreaterThan(1000);
  });

  it('an Event (messages are capped at 1 KiB)', () => {
    const ev = renderEvent({ subject: { apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', name: 'n'.repeat(253) }, reason: 'CIDRClaimFailed', message: 'm'.repeat(100_000), host: nodeName(0), namespace: 'multinic-system', now: new Date(0) });
    expect(size(ev)).toBeLessThan(4 * 1024);
  });

  it('HostInterface: 8 NICs, and the diagnostics of one network whose policy table is missing (every route missing)', () => {
    const h = host(0);
    expect(size(h)).toBeLessThan(8 * 1024);
    const diag = compareNetworkRoutes({ network, cidr }, nodeName(0), [], [], {});
    expect(diag.desiredRoutes).toBe((HOSTS - 1) * NICS);
    const withDiag = { ...h, status: { diagnostics: { networks: [diag] } } };
    // The lists are capped (MAX_LISTED_ROUTES), the count kept: uncapped this was 2.3 MB.
    expect(diag.missingRoutes).toHaveLength(MAX_LISTED_ROUTES);
    expect(diag.missingRouteCount).toBe((HOSTS - 1) * NICS);
    expect(size(withDiag)).toBeLessThan(64 * 1024);
  });

  // A node's pods x 8 NICs, each allocation with names at their maximum and a detail: the list is capped
  // (MAX_LISTED_ALLOCATIONS, problems first), the counts kept. Uncapped, 1,000 pods x 8 NICs is about 9 MB.
  it('HostInterface: the allocation diagnostics of 1,000 pods x 8 NICs, every one broken', () => {
    const h = host(0);
    const all = Array.from({ length: 1000 * NICS }, (_, i) => {
      const a: Allocation = { pool: `${'n'.repeat(253)}-10.${i % NICS}.0.0-16`, network: 'n'.repeat(253), address: `172.16.${i >> 8}.${i & 255}`, index: i, podName: 'p'.repeat(253), namespace: 'n'.repeat(63), podUID: '0'.repeat(36), containerID: 'c'.repeat(64), interface: `net1-${i % NICS}` };
      return allocationDiagnostics(a, { links: [], routes: [] }, undefined);
    });
    expect(size(all)).toBeGreaterThan(1.5 * MiB);
    const listed = listedAllocations(all);
    expect(listed.allocations).toHaveLength(MAX_LISTED_ALLOCATIONS);
    expect(listed.allocationCount).toBe(1000 * NICS);
    expect(size({ ...h, status: { diagnostics: { ...listed } } })).toBeLessThan(700 * 1024);
  });

  it('HostInterface: the continuous health round with every peer unreachable on all 8 NICs and every test attachment failing', () => {
    const h = host(0);
    const peers = hosts.slice(1).map((p) => ({ peer: { host: p.metadata.name!, ip: p.spec.interfaces[0]!.hostIP ?? '' }, ok: false }));
    const nics = h.spec.interfaces.map((n) => nicHealth(n.interfaceName, [{ network: 'n'.repeat(253), outcome: 'failed', message: 'm'.repeat(10_000) }], peers));
    const health = { observedAt: '2026-12-03T00:00:00.000Z', durationMs: 20_000, intervalSeconds: 60, nics };
    expect(nics[0]!.unreachableCount).toBe(HOSTS - 1);
    expect(nics[0]!.unreachable).toHaveLength(MAX_LISTED_PEERS);
    const withHealth = { ...h, status: { diagnostics: { health }, conditions: healthConditions(health, undefined, health.observedAt) } };
    expect(size(withHealth)).toBeLessThan(64 * 1024);
  });
});
