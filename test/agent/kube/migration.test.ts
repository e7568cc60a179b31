// Upgrade from the one-CIDR compare-and-swap to claims by create (docs/scale.md): a cluster whose
// agents claimed with the earlier release (claimCidr, every host entry in the CIDR object) gets the
// new agents. Every host keeps its blocks, host by host, including a host whose agent is down (the
// leader migrates its entry); the CIDR keeps its entries until every agent claims by create, then
// becomes the bounded summary (config, interface entries, status counts) with an Event; a host
// joining afterwards takes a free index and moves nobody. Real agents against the real stand-in.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeAgent } from '../../../src/agent/kube/index.js';
import { claimCidr } from '../../../src/agent/kube/claim.js';
import { duplicateClaims } from '../../../src/lib/cluster/claim.js';
import { CLAIMS_ANNOTATION } from '../../../src/lib/cluster/claim-objects.js';
import type { CIDRSpec, HostInterface, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import type { KubeObject } from '../../../src/lib/k8s/meta.js';
import { AGENT_NS, agentFor, cidrObjectOf, cidrOf, claimsIn, createNetwork, createNode, eventually, hostNics, seedNetwork, testCluster, type TestCluster } from './helpers.js';

let c: TestCluster;
const agents: KubeAgent[] = [];
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await c.close();
});

const NET = 'multi-nic-sample';
const hi = (name: string, i: number): HostInterface => ({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name }, spec: { hostName: name, interfaces: hostNics(i) } });
/** host → NIC network → "index podCIDR": what every host must keep. */
const byHost = (spec: CIDRSpec): Record<string, Record<string, string>> => {
  const out: Record<string, Record<string, string>> = {};
  for (const e of spec.cidr) for (const h of e.hosts) (out[h.hostName] ??= {})[e.netAddress] = `${h.hostIndex} ${h.podCIDR}`;
  return out;
};

/** The earlier release's cluster: HostInterfaces published, every host claimed by CAS on the one CIDR. */
async function oldCluster(names: string[]): Promise<MultiNicNetwork> {
  const net = createNetwork(c, seedNetwork({ namespaces: ['default'] }));
  // Claim order differs from name order, so indexes are not what a fresh plan would give.
  for (const [i, n] of names.entries()) {
    createNode(c, n);
    c.server.store.create(hi(n, i) as never);
    await claimCidr({ api: c.api, network: net, own: hi(n, i) });
  }
  return net;
}

describe('migration from the one-CIDR design', () => {
  it('an old-style cluster upgraded keeps every host\'s blocks; the CIDR becomes a summary once every agent claims by create', async () => {
    const names = ['zeta', 'alpha', 'mid', 'down'];
    await oldCluster(names);
    const before = byHost(cidrObjectOf(c, NET)!.spec);
    expect(Object.keys(before)).toHaveLength(4);
    expect(before.zeta!['10.0.1.0/24']).toMatch(/^0 /);
    // New agents on three hosts; "down" keeps its earlier agent's HostInterface (not upgraded yet).
    for (const [i, n] of names.slice(0, 3).entries()) {
      const a = await agentFor(c, n);
      agents.push(a);
      await a.setNics(hostNics(i));
    }
    // Every entry becomes a claim with its index, "down"'s too (the leader migrates it).
    await eventually(() => expect(claimsIn(c).filter((x) => x.spec.hostIndex !== undefined)).toHaveLength(8), 15_000);
    expect(byHost(cidrOf(c, NET)!.spec)).toEqual(before);
    for (const a of agents) expect(a.last.claims[NET]?.conflicts ?? 0).toBe(0);
    // "down" does not claim by create yet: the CIDR keeps its entries (its agent would re-claim from an emptied one).
    await new Promise((r) => setTimeout(r, 1000));
    expect(byHost(cidrObjectOf(c, NET)!.spec)).toEqual(before);
    expect(cidrObjectOf(c, NET)!.status).toMatchObject({ hosts: 4, hostClaims: 8, unmigrated: 0 });

    // "down" upgraded: the host entries leave the CIDR, which keeps config and interface entries.
    const d = await agentFor(c, 'down');
    agents.push(d);
    await d.setNics(hostNics(3));
    await eventually(() => expect(cidrObjectOf(c, NET)!.spec.cidr.map((e) => e.hosts.length)).toEqual([0, 0]), 15_000);
    const obj = cidrObjectOf(c, NET)!;
    expect(obj.metadata?.annotations?.[CLAIMS_ANNOTATION]).toBe('cidrclaims');
    expect(obj.spec.cidr.map((e) => `${e.interfaceIndex} ${e.netAddress} ${e.vlanCIDR}`)).toEqual(['0 10.0.1.0/24 192.168.0.0/18', '1 10.0.2.0/24 192.168.64.0/18']);
    expect(byHost(cidrOf(c, NET)!.spec)).toEqual(before);
    for (const a of agents) expect(byHost(a.state.network(NET)!.cidr!.spec)).toEqual(before);
    await eventually(async () => {
      for (const a of agents) await a.events.drain();
      const evs = c.server.store.list('v1', 'Event', AGENT_NS) as Array<KubeObject & { reason?: string; message?: string }>;
      expect(evs.find((e) => e.reason === 'CIDRMigrated')?.message).toBe(`the 8 host entries of CIDR "${NET}" are CIDRClaims now (every host kept its index); the CIDR keeps its config and a summary`);
    });

    // A host joining afterwards takes a free index and moves nobody.
    createNode(c, 'late');
    const late = await agentFor(c, 'late');
    agents.push(late);
    await late.setNics(hostNics(4));
    await eventually(() => expect(Object.keys(byHost(cidrOf(c, NET)!.spec))).toHaveLength(5));
    const after = byHost(cidrOf(c, NET)!.spec);
    for (const n of names) expect(after[n]).toEqual(before[n]);
    expect(after.late!['10.0.1.0/24']).toMatch(/^4 /);
    expect(duplicateClaims(cidrOf(c, NET)!.spec)).toEqual([]);
    expect(cidrObjectOf(c, NET)!.spec.cidr.every((e) => e.hosts.length === 0)).toBe(true);
  });

  it('a legacy entry an old agent writes after the migration is migrated when its index is free, and reported (not served) when a claim holds it', async () => {
    await oldCluster(['a', 'b']);
    const a = await agentFor(c, 'a');
    agents.push(a);
    await a.setNics(hostNics(0));
    await eventually(() => expect(claimsIn(c).filter((x) => x.spec.hostIndex !== undefined)).toHaveLength(4), 15_000);
    // An old agent on "b" still writes by CAS: a stale entry for a host "x" on index 0, a's.
    const obj = cidrObjectOf(c, NET)!;
    const spec = structuredClone(obj.spec);
    spec.cidr[0]!.hosts.push({ ...spec.cidr[0]!.hosts[0]!, hostName: 'x', hostIP: '10.0.1.99' });
    c.server.store.update({ ...obj, spec } as never);
    await eventually(() => expect(cidrObjectOf(c, NET)!.status?.shadowed).toEqual(['x@10.0.1.0/24#0']), 10_000);
    expect(cidrOf(c, NET)!.spec.cidr[0]!.hosts.map((h) => h.hostName)).toEqual(['a', 'b']);
    expect(a.state.network(NET)!.cidr!.spec.cidr[0]!.hosts.map((h) => h.hostName)).toEqual(['a', 'b']);
  });
});
