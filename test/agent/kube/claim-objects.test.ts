// Claim by create against the real API stand-in serving deploy/crds/cidrclaims.yaml: racing agents
// get distinct indexes with no compare-and-swap, agents that see the same hosts do not collide at
// all, an existing CIDR's entries become claims with the same indexes (migration keeps every host's
// index), a NIC that leaves frees its claim, and claims go with their CIDR (Kubernetes GC).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClaimByCreateError, claimByCreate, listClaims } from '../../../src/agent/kube/claim-objects.js';
import { claimCidr } from '../../../src/agent/kube/claim.js';
import { duplicateClaims } from '../../../src/lib/cluster/claim.js';
import { CLAIM_HOST_LABEL, CLAIM_NETWORK_LABEL, cidrFromClaims, cidrOwnerRef, claimsFromCidr, type CIDRClaim } from '../../../src/lib/cluster/claim-objects.js';
import type { CIDR, HostInterface } from '../../../src/lib/crds/types.gen.js';
import { ApiError } from '../../../src/kube/api.js';
import { cidrOf, createNetwork, eventually, hostNics, R, seedNetwork, testCluster, type TestCluster } from './helpers.js';

let c: TestCluster;
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await c.close();
});

const hi = (name: string, i: number, nets?: number[]): HostInterface => ({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name }, spec: { hostName: name, interfaces: hostNics(i, nets) } });
const stored = (): CIDRClaim[] => c.server.store.list('multinic.fms.io/v1', 'CIDRClaim') as unknown as CIDRClaim[];
const NET = 'multi-nic-sample';
const CONFIG = { name: NET, type: 'ipvlan', subnet: '192.168.0.0/16', masterNets: [], hostBlock: 6, interfaceBlock: 2 };

describe('the CIDRClaim resource on the stand-in', () => {
  it('is served from deploy/crds: created, read by name and label, refused a second time with AlreadyExists, never larger than 1 KiB', async () => {
    const net = createNetwork(c, seedNetwork());
    const out = await claimByCreate({ api: c.api, network: net, own: hi('host-a', 0), hosts: [], claims: [] });
    expect(out).toMatchObject({ claimed: { '10.0.1.0/24': 0, '10.0.2.0/24': 0 }, writes: 4, conflicts: 0 });
    const got = await c.api.get<CIDRClaim & { metadata: { name: string } }>(R.CIDRClaim, `${NET}.i1.h0`);
    expect(got?.spec).toEqual({ network: NET, netAddress: '10.0.2.0/24', interfaceIndex: 1, vlanCIDR: '192.168.64.0/18', hostIndex: 0, hostName: 'host-a', interfaceName: 'eth2', hostIP: '10.0.2.1', podCIDR: '192.168.64.0/24', ippool: 'multi-nic-sample-192.168.64.0-24' });
    expect(got?.metadata.labels).toEqual({ [CLAIM_NETWORK_LABEL]: NET, [CLAIM_HOST_LABEL]: 'host-a' });
    expect((await listClaims(c.api, NET)).map((x) => x.metadata.name).sort()).toEqual([`${NET}.i0`, `${NET}.i0.h0`, `${NET}.i1`, `${NET}.i1.h0`]);
    expect(await listClaims(c.api, 'other')).toEqual([]);
    // The claim itself: a second object of that name is refused, whatever it says.
    const again = await c.api.create(R.CIDRClaim, { ...got!, metadata: { name: `${NET}.i1.h0` }, spec: { ...got!.spec, hostName: 'host-b' } }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ApiError);
    expect(again).toMatchObject({ code: 409, reason: 'AlreadyExists' });
    // The schema is structural: a claim without its indexes is invalid.
    const bad = await c.api.create(R.CIDRClaim, { apiVersion: 'multinic.fms.io/v1', kind: 'CIDRClaim', metadata: { name: 'x.i0' }, spec: { network: 'x' } }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 422 });
    expect(c.server.store.writeStats('multinic.fms.io/cidrclaims').largest).toBeLessThan(1024);
  });

  it('claims owned by the CIDR are removed with it (Kubernetes GC), so deleting a network removes its claims', async () => {
    const net = createNetwork(c, seedNetwork());
    const cidr = (await c.api.create<CIDR & { metadata: { name: string } }>(R.CIDR, { apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', metadata: { name: NET }, spec: { config: CONFIG, cidr: [] } }));
    await claimByCreate({ api: c.api, network: net, own: hi('host-a', 0), hosts: [], claims: [], owner: cidrOwnerRef(cidr) });
    expect(stored().every((x) => x.metadata.ownerReferences?.[0]?.uid === cidr.metadata.uid)).toBe(true);
    await c.api.delete(R.CIDR, NET);
    await eventually(() => expect(stored()).toEqual([]));
  });
});

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
    const view = cidrFromClaims(NET, CONFIG, stored());
    expect(duplicateClaims(view)).toEqual([]);
    expect(view.cidr.map((e) => e.hosts.length)).toEqual([16, 16]);
  });

  it('agents that know nothing of each other race on create: AlreadyExists re-plans, every index distinct, nobody lost', async () => {
    const net = createNetwork(c, seedNetwork());
    const hosts = Array.from({ length: 12 }, (_, i) => hi(`h${i}`, i));
    const outs = await Promise.all(hosts.map(async (own) => claimByCreate({ api: await c.client(), network: net, own, hosts: [], claims: [] })));
    expect(outs.reduce((s, o) => s + o.conflicts, 0)).toBeGreaterThan(0);
    expect(new Set(outs.map((o) => o.claimed['10.0.1.0/24'])).size).toBe(12);
    const view = cidrFromClaims(NET, CONFIG, stored());
    expect(duplicateClaims(view)).toEqual([]);
    expect(view.cidr.flatMap((e) => e.hosts.map((h) => h.hostName)).sort()).toEqual([...hosts.flatMap((h) => [h.spec.hostName, h.spec.hostName])].sort());
    // A repeated claim creates nothing.
    const again = await claimByCreate({ api: c.api, network: net, own: hosts[3]!, hosts, claims: stored() });
    expect(again).toMatchObject({ writes: 0, conflicts: 0, claimed: outs[3]!.claimed });
  });

  it('a round whose informer has not shown our earlier claims yet (a dropped watch, a slow event) keeps the index we hold: readBack reads our own claims before the first write', async () => {
    const hosts = [hi('a', 0), hi('b', 1), hi('c', 2)];
    const round = async (name: string, readBack: boolean) => {
      const net = createNetwork(c, seedNetwork({}, name));
      const first = await claimByCreate({ api: c.api, network: net, own: hosts[2]!, hosts, claims: [] });
      expect(first.claimed).toEqual({ '10.0.1.0/24': 2, '10.0.2.0/24': 2 });
      // The next round plans from an informer that shows neither our claims nor the other hosts: the
      // plan gives c index 0.
      const stale = await claimByCreate({ api: c.api, network: net, own: hosts[2]!, hosts: [], claims: [], readBack });
      const view = cidrFromClaims(name, CONFIG, stored().filter((x) => x.spec.network === name));
      return { stale, view };
    };
    // Without the read-back, c now holds two indexes on each NIC network.
    expect(duplicateClaims((await round('net-without', false)).view)).not.toEqual([]);
    // With it (what the agent passes once it has claimed this network before): the index it held, nothing written.
    const { stale, view } = await round('net-with', true);
    expect(duplicateClaims(view)).toEqual([]);
    expect(view.cidr.map((e) => e.hosts.map((h) => `${h.hostName}:${h.hostIndex}`))).toEqual([['c:2'], ['c:2']]);
    expect(stale).toMatchObject({ claimed: { '10.0.1.0/24': 2, '10.0.2.0/24': 2 }, writes: 0, deleted: 0 });
  });

  it('two agents starting together never swap an index: the informer showing our claim on one NIC network and not yet on the other moves nothing', async () => {
    // The race a CI run caught in the kernel e2e: h2 claimed index 0 on both NIC networks before it
    // saw h1; its next round saw h1 (who ranks first) and its own claim on 10.0.1.0/24 only. Planning
    // from that gave h2 index 1 on 10.0.2.0/24; it created it and deleted its index 0 there, which h1
    // then took: h2's block on that NIC moved.
    const net = createNetwork(c, seedNetwork());
    const [h1, h2] = [hi('h1', 0), hi('h2', 1)];
    const first = await claimByCreate({ api: c.api, network: net, own: h2, hosts: [h2], claims: [] });
    expect(first.claimed).toEqual({ '10.0.1.0/24': 0, '10.0.2.0/24': 0 });
    const lagging = stored().filter((x) => x.metadata.name !== `${NET}.i1.h0`);
    const next = await claimByCreate({ api: c.api, network: net, own: h2, hosts: [h1, h2], claims: lagging, readBack: true });
    expect(next).toMatchObject({ claimed: { '10.0.1.0/24': 0, '10.0.2.0/24': 0 }, writes: 0, deleted: 0 });
    // h1 then takes the next free index on both, and nobody moved.
    const other = await claimByCreate({ api: c.api, network: net, own: h1, hosts: [h1, h2], claims: stored() });
    expect(other.claimed).toEqual({ '10.0.1.0/24': 1, '10.0.2.0/24': 1 });
    const view = cidrFromClaims(NET, CONFIG, stored());
    expect(view.cidr.map((e) => e.hosts.map((h) => `${h.hostName}:${h.hostIndex}`))).toEqual([['h2:0', 'h1:1'], ['h2:0', 'h1:1']]);
    expect(c.server.store.writeStats('multinic.fms.io/cidrclaims').deletes).toBe(0);
  });

  it('a claim we deleted that the informer still shows is not taken for held: the round reads ours back and creates it again', async () => {
    const net = createNetwork(c, seedNetwork());
    const a = hi('a', 0);
    await claimByCreate({ api: c.api, network: net, own: a, hosts: [a], claims: [] });
    const before = stored();
    // Our claim on 10.0.2.0/24 is gone from the API (the NIC left and the agent freed it) while the
    // informer still has it; the NIC on 10.0.1.0/24 changed address, so the round writes.
    await c.api.delete(R.CIDRClaim, `${NET}.i1.h0`);
    const moved: HostInterface = { ...a, spec: { ...a.spec, interfaces: a.spec.interfaces.map((i) => (i.netAddress === '10.0.1.0/24' ? { ...i, hostIP: '10.0.1.77' } : i)) } };
    const out = await claimByCreate({ api: c.api, network: net, own: moved, hosts: [moved], claims: before, readBack: true });
    expect(out).toMatchObject({ claimed: { '10.0.1.0/24': 0, '10.0.2.0/24': 0 }, updates: 1, writes: 1 });
    expect(stored().map((x) => x.metadata.name).sort()).toEqual([`${NET}.i0`, `${NET}.i0.h0`, `${NET}.i1`, `${NET}.i1.h0`]);
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

  it('a NIC network that leaves the host frees its claim; the other NIC keeps its index', async () => {
    const net = createNetwork(c, seedNetwork());
    await claimByCreate({ api: c.api, network: net, own: hi('b', 1), hosts: [], claims: [] });
    const first = await claimByCreate({ api: c.api, network: net, own: hi('a', 0), hosts: [], claims: stored() });
    expect(first.claimed).toEqual({ '10.0.1.0/24': 1, '10.0.2.0/24': 1 });
    const out = await claimByCreate({ api: c.api, network: net, own: hi('a', 0, [1]), hosts: [], claims: stored() });
    expect(out).toMatchObject({ claimed: { '10.0.1.0/24': 1 }, writes: 0, deleted: 1 });
    expect(stored().filter((x) => x.spec.hostName === 'a').map((x) => x.metadata.name)).toEqual([`${NET}.i0.h1`]);
  });

  it('a NIC whose address changed rewrites only its own claim, keeping the index', async () => {
    const net = createNetwork(c, seedNetwork());
    await claimByCreate({ api: c.api, network: net, own: hi('a', 0), hosts: [], claims: [] });
    const moved = hi('a', 0);
    moved.spec.interfaces[0]!.hostIP = '10.0.1.77';
    c.server.store.resetWriteStats();
    const out = await claimByCreate({ api: c.api, network: net, own: moved, hosts: [], claims: stored() });
    expect(out).toMatchObject({ claimed: { '10.0.1.0/24': 0, '10.0.2.0/24': 0 }, writes: 0, updates: 1, conflicts: 0 });
    expect(stored().find((x) => x.metadata.name === `${NET}.i0.h0`)?.spec.hostIP).toBe('10.0.1.77');
    expect(c.server.store.writeStats('multinic.fms.io/cidrclaims')).toMatchObject({ creates: 0, updates: 1 });
  });

  it('a host that does not fit gets no claim and says why; the error names the network when it cannot finish', async () => {
    const net = createNetwork(c, seedNetwork({ ipam: JSON.stringify({ type: 'multi-nic-ipam', hostBlock: 1, interfaceBlock: 2, vlanMode: 'l3' }) }));
    const hosts = [hi('a', 0), hi('b', 1), hi('c', 2)];
    const outs = [];
    for (const own of hosts) outs.push(await claimByCreate({ api: c.api, network: net, own, hosts, claims: stored() }));
    expect(outs.map((o) => Object.keys(o.claimed).length)).toEqual([2, 2, 0]);
    expect(outs[2]!.unplaced.join('\n')).toMatch(/eth1 on 10\.0\.1\.0\/24: .*host/i);
    expect(stored().some((x) => x.spec.hostName === 'c')).toBe(false);
    await expect(claimByCreate({ api: c.api, network: net, own: hi('d', 3), hosts: [], claims: [], maxAttempts: 0 })).rejects.toThrow(ClaimByCreateError);
  });
});
