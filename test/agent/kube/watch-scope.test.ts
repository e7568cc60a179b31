// What each agent watches, counted by the API stand-in (StoreHandle.readStats): its own Node and
// pods by field selector; every Node, Namespace and NAD only while it leads; networks, CIDRs,
// CIDRClaims and HostInterfaces cluster-wide (routes need every host's block, claims plan from
// every host). A change of one node's Node reaches that node's agent and the leader only; a
// CIDRClaim written reaches every agent once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeAgent } from '../../../src/agent/kube/index.js';
import { agentFor, claimsIn, createNetwork, createNode, eventually, hostNics, seedNetwork, testCluster, type TestCluster } from './helpers.js';

let c: TestCluster;
const agents: KubeAgent[] = [];
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await c.close();
});

const NODES = '/nodes';
const NAMESPACES = '/namespaces';
const NADS = 'k8s.cni.cncf.io/network-attachment-definitions';
const CLAIMS = 'multinic.fms.io/cidrclaims';
const stats = (key: string) => c.server.store.readStats(key);

async function start(names: string[]): Promise<KubeAgent[]> {
  for (const n of names) createNode(c, n);
  const out = await Promise.all(names.map((n) => agentFor(c, n)));
  agents.push(...out);
  return out;
}

describe('agent watches at scale', () => {
  it('own Node and pods by selector; every Node, Namespace and NAD only in the leader; a Node change reaches its agent and the leader', async () => {
    c.server.store.resetReadStats();
    const all = await start(['a', 'b', 'c']);
    await eventually(() => expect(all.filter((x) => x.elector.isLeader)).toHaveLength(1));
    await eventually(() => expect(stats(NODES).watches).toBe(4));
    expect(stats(NODES).unselectedWatches).toBe(1);
    await eventually(() => expect([stats(NAMESPACES).watches, stats(NADS).watches]).toEqual([1, 1]));
    expect(stats('/pods')).toMatchObject({ watches: 3, unselectedWatches: 0 });
    const follower = all.find((x) => !x.elector.isLeader)!;
    const name = follower.informers.node.list()[0]?.metadata?.name ?? '';
    expect(follower.informers.node.list().map((n) => n.metadata?.name)).toEqual([name]);
    expect(follower.informers.nodes.isSynced).toBe(false);

    const before = stats(NODES).watchEvents;
    c.server.store.patch('v1', 'Node', name, '', 'merge', { metadata: { labels: { touched: 'yes' } } });
    await eventually(() => expect(follower.informers.node.get(name)?.metadata?.labels?.touched).toBe('yes'));
    await eventually(() => expect(stats(NODES).watchEvents - before).toBe(2));
    // Another node's change does not reach this follower at all.
    const other = ['a', 'b', 'c'].find((n) => n !== name && !all.find((x) => x.informers.node.get(n) && x.elector.isLeader))!;
    c.server.store.patch('v1', 'Node', other, '', 'merge', { metadata: { labels: { touched: 'yes' } } });
    await eventually(() => expect(stats(NODES).watchEvents - before).toBeGreaterThanOrEqual(3));
    expect(follower.informers.node.get(other)).toBeUndefined();

    // The leader leaves: the next one starts its cluster-wide informers and does the cluster work.
    const leader = all.find((x) => x.elector.isLeader)!;
    agents.splice(agents.indexOf(leader), 1);
    await leader.stop({ release: true });
    await eventually(() => expect(agents.filter((x) => x.elector.isLeader)).toHaveLength(1), 10_000);
    await eventually(() => expect(stats(NODES).unselectedWatches).toBe(2));
    createNetwork(c, seedNetwork({ namespaces: ['default'] }));
    await eventually(() => expect(c.server.store.list('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', 'default').map((n) => n.metadata?.name)).toEqual(['multi-nic-sample']));
  });

  it('a claim round: every CIDRClaim written reaches every agent once (cluster-wide, as routes need)', async () => {
    const all = await start(['a', 'b', 'c', 'd']);
    await Promise.all(all.map((x, i) => x.setNics(hostNics(i))));
    c.server.store.resetReadStats();
    c.server.store.resetWriteStats();
    createNetwork(c, seedNetwork({ namespaces: ['default'] }));
    // 2 NIC networks x 4 hosts, plus the 2 interface claims.
    await eventually(() => expect(claimsIn(c).filter((x) => x.spec.network === 'multi-nic-sample')).toHaveLength(10));
    await eventually(() => expect(all.every((x) => x.state.network('multi-nic-sample')?.cidr?.spec.cidr.every((e) => e.hosts.length === 4))).toBe(true));
    const w = c.server.store.writeStats(CLAIMS);
    const writes = w.creates + w.updates + w.deletes;
    expect(writes).toBeGreaterThanOrEqual(10);
    await eventually(() => expect(stats(CLAIMS).watchEvents).toBe(all.length * writes));
  });
});
