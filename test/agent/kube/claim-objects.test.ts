// Claim by create against the real API stand-in: racing agents get distinct indexes with no
// compare-and-swap, agents that see the same hosts do not collide at all, and an existing CIDR's
// entries become claims with the same indexes (migration keeps every host's index).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CIDR_CLAIM_CRD, claimByCreate } from '../../../src/agent/kube/claim-objects.js';
import { claimCidr } from '../../../src/agent/kube/claim.js';
import { duplicateClaims } from '../../../src/lib/cluster/claim.js';
import { cidrFromClaims, claimsFromCidr, type CIDRClaim } from '../../../src/lib/cluster/claim-objects.js';
import type { HostInterface } from '../../../src/lib/crds/types.gen.js';
import { cidrOf, createNetwork, hostNics, seedNetwork, testCluster, type TestCluster } from './helpers.js';

let c: TestCluster;
beforeEach(async () => {
  c = await testCluster();
  c.server.store.create(structuredClone(CIDR_CLAIM_CRD) as never);
});
afterEach(async () => {
  await c.close();
});

const hi = (name: string, i: number): HostInterface => ({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name }, spec: { hostName: name, interfaces: hostNics(i) } });
const stored = (): CIDRClaim[] => c.server.store.list('multinic.fms.io/v1', 'CIDRClaim') as unknown as CIDRClaim[];
const NET = 'multi-nic-sample';

describe('claimByCreate', () => {
  it('agents that see the same hosts claim the plan\'s indexes concurrently with no conflict and no update', async () => {
    const net = createNetwork(c, seedNetwork());
    const hosts = Array.from({ length: 16 }, (_, i) => hi(`host${String(i).padStart(2, '0')}`, i));
    c.server.store.resetWriteStats();
    const outs = await Promise.all(hosts.map(async (own) => claimByCreate({ api: await c.client(), network: net, own, hosts, claims: [] })));
    expect(outs.map((o) => o.claimed['10.0.1.0/24'])).toEqual(hosts.map((_, i) => i));
    expect(outs.reduce((s, o) => s + o.conflicts, 0)).toBe(0);
    const st = c.server.store.writeStats('multinic.fms.io/cidrclaims');
    // 16 hosts x 2 NIC networks, plus the 2 interface claims; nothing is ever rewritten.
    expect(st).toMatchObject({ creates: 34, updates: 0 });
    expect(st.largest).toBeLessThan(1024);
    const view = cidrFromClaims(NET, { name: NET, type: 'ipvlan', subnet: '192.168.0.0/16', masterNets: [], hostBlock: 6, interfaceBlock: 2 }, stored());
    expect(duplicateClaims(view)).toEqual([]);
    expect(view.cidr.map((e) => e.hosts.length)).toEqual([16, 16]);
  });

  it('agents that know nothing of each other race on create: AlreadyExists re-plans, every index distinct, nobody lost', async () => {
    const net = createNetwork(c, seedNetwork());
    const hosts = Array.from({ length: 12 }, (_, i) => hi(`h${i}`, i));
    const outs = await Promise.all(hosts.map(async (own) => claimByCreate({ api: await c.client(), network: net, own, hosts: [], claims: [] })));
    expect(outs.reduce((s, o) => s + o.conflicts, 0)).toBeGreaterThan(0);
    expect(new Set(outs.map((o) => o.claimed['10.0.1.0/24'])).size).toBe(12);
    const view = cidrFromClaims(NET, { name: NET, type: 'ipvlan', subnet: '192.168.0.0/16', masterNets: [], hostBlock: 6, interfaceBlock: 2 }, stored());
    expect(duplicateClaims(view)).toEqual([]);
    expect(view.cidr.flatMap((e) => e.hosts.map((h) => h.hostName)).sort()).toEqual([...hosts.flatMap((h) => [h.spec.hostName, h.spec.hostName])].sort());
    // A repeated claim creates nothing.
    const again = await claimByCreate({ api: c.api, network: net, own: hosts[3]!, hosts, claims: stored() });
    expect(again).toMatchObject({ writes: 0, conflicts: 0, claimed: outs[3]!.claimed });
  });

  it('migration: a host adopts the index an existing CIDR gives it, before anyone else has a claim object', async () => {
    const net = createNetwork(c, seedNetwork());
    for (const [i, n] of ['zeta', 'alpha', 'mid'].entries()) await claimCidr({ api: c.api, network: net, own: hi(n, i) });
    const cidr = cidrOf(c, NET)!;
    const before = cidr.spec.cidr.map((e) => e.hosts.map((h) => `${h.hostName}:${h.hostIndex}`));
    expect(before[0]).toEqual(['zeta:0', 'alpha:1', 'mid:2']);
    // alpha upgrades first: it knows the CIDR (as claims) but no claim object exists yet.
    const a = await claimByCreate({ api: c.api, network: net, own: hi('alpha', 1), hosts: [hi('zeta', 0), hi('mid', 2)], claims: claimsFromCidr(NET, cidr.spec) });
    expect(a.claimed).toEqual({ '10.0.1.0/24': 1, '10.0.2.0/24': 1 });
    expect(stored().map((x) => x.metadata.name).sort()).toEqual([`${NET}.i0`, `${NET}.i0.h1`, `${NET}.i1`, `${NET}.i1.h1`]);
    // A new host planning from the claims only must not take zeta's or mid's index: they come from the CIDR too.
    const n = await claimByCreate({ api: c.api, network: net, own: hi('new', 3), hosts: [], claims: [...claimsFromCidr(NET, cidr.spec), ...stored()] });
    expect(n.claimed).toEqual({ '10.0.1.0/24': 3, '10.0.2.0/24': 3 });
  });
});
