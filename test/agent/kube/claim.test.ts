// CIDR claims against the real API stand-in: expected blocks for the seed network, racing agents
// under 409 storms, restarts keeping indexes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimCidr } from '../../../src/agent/kube/claim.js';
import type { KubeAgent } from '../../../src/agent/kube/index.js';
import { duplicateClaims } from '../../../src/lib/cluster/claim.js';
import type { HostInterface, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import { agentFor, cidrOf, createNetwork, createNode, eventually, hostNics, seedNetwork, testCluster, type TestCluster } from './helpers.js';

let c: TestCluster;
const agents: KubeAgent[] = [];
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await c.close();
});

const hi = (name: string, i: number): HostInterface => ({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name }, spec: { hostName: name, interfaces: hostNics(i) } });
const summary = (c2: TestCluster, net = 'multi-nic-sample') =>
  cidrOf(c2, net)!.spec.cidr.map((e) => ({ net: e.netAddress, idx: e.interfaceIndex, vlan: e.vlanCIDR, hosts: e.hosts.map((h) => `${h.hostName}:${h.hostIndex}:${h.podCIDR}:${h.interfaceName}:${h.hostIP}`) }));

describe('claimCidr', () => {
  it('creates the CIDR with the seed network blocks (upstream docs example)', async () => {
    const net = createNetwork(c, seedNetwork()) as MultiNicNetwork;
    const a = await claimCidr({ api: c.api, network: net, own: hi('host1', 0) });
    const b = await claimCidr({ api: c.api, network: net, own: hi('host2', 1) });
    expect(a.wrote && b.wrote).toBe(true);
    expect(a.claimed).toEqual({ '10.0.1.0/24': 0, '10.0.2.0/24': 0 });
    expect(b.claimed).toEqual({ '10.0.1.0/24': 1, '10.0.2.0/24': 1 });
    expect(summary(c)).toEqual([
      { net: '10.0.1.0/24', idx: 0, vlan: '192.168.0.0/18', hosts: ['host1:0:192.168.0.0/24:eth1:10.0.1.1', 'host2:1:192.168.1.0/24:eth1:10.0.1.2'] },
      { net: '10.0.2.0/24', idx: 1, vlan: '192.168.64.0/18', hosts: ['host1:0:192.168.64.0/24:eth2:10.0.2.1', 'host2:1:192.168.65.0/24:eth2:10.0.2.2'] },
    ]);
    const cidr = cidrOf(c, 'multi-nic-sample')!;
    expect(cidr.spec.config).toMatchObject({ name: 'multi-nic-sample', subnet: '192.168.0.0/16', hostBlock: 6, interfaceBlock: 2, vlanMode: 'l3', masterNets: ['10.0.1.0/24', '10.0.2.0/24'] });
    expect(cidr.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'MultiNicNetwork', name: 'multi-nic-sample', uid: net.metadata.uid, controller: true });
    // A repeated claim writes nothing.
    const again = await claimCidr({ api: c.api, network: net, own: hi('host2', 1) });
    expect(again.wrote).toBe(false);
    expect(again.claimed).toEqual(b.claimed);
  });

  it('8 concurrent claimers under a 409 storm and racing creates: distinct indexes, nobody lost', async () => {
    const net = createNetwork(c, seedNetwork()) as MultiNicNetwork;
    const storm = c.server.faults.fail({ method: 'PUT', path: /\/cidrs\/multi-nic-sample/, code: 409, times: 25 });
    const names = Array.from({ length: 8 }, (_, i) => `node-${i}`);
    const outs = await Promise.all(names.map(async (n, i) => claimCidr({ api: await c.client(), network: net, own: hi(n, i), jitterMs: 20 })));
    expect(storm.hits).toBe(25);
    expect(outs.reduce((s, o) => s + o.conflicts, 0)).toBeGreaterThanOrEqual(25);
    const spec = cidrOf(c, 'multi-nic-sample')!.spec;
    expect(duplicateClaims(spec)).toEqual([]);
    for (const e of spec.cidr) expect(e.hosts.map((h) => h.hostIndex).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // What each claimer was told it holds is what the CIDR says.
    for (const [i, o] of outs.entries()) {
      for (const e of spec.cidr) expect(e.hosts.find((h) => h.hostName === names[i])?.hostIndex).toBe(o.claimed[e.netAddress]);
    }
  });
});

describe('KubeAgent claims', () => {
  it('3 agents racing with a 409 storm claim distinct indexes; a restarted agent keeps its index', async () => {
    for (const n of ['a', 'b', 'c']) createNode(c, n);
    createNetwork(c, seedNetwork());
    const storm = c.server.faults.fail({ method: 'PUT', path: /\/cidrs\//, code: 409, times: 15 });
    agents.push(...(await Promise.all(['a', 'b', 'c'].map((n) => agentFor(c, n)))));
    await Promise.all(agents.map((a, i) => a.setNics(hostNics(i))));
    await eventually(() => {
      const spec = cidrOf(c, 'multi-nic-sample')!.spec;
      expect(spec.cidr.map((e) => e.hosts.length)).toEqual([3, 3]);
    });
    expect(storm.hits).toBe(15);
    const spec = cidrOf(c, 'multi-nic-sample')!.spec;
    expect(duplicateClaims(spec)).toEqual([]);
    const before = Object.fromEntries(spec.cidr[0]!.hosts.map((h) => [h.hostName, h.hostIndex]));
    expect(Object.values(before).sort()).toEqual([0, 1, 2]);

    // Restart b while a new node d joins: b comes back with the same index, d takes the free one.
    const b = agents.splice(1, 1)[0]!;
    await b.stop();
    createNode(c, 'd');
    const d = await agentFor(c, 'd');
    agents.push(d);
    await d.setNics(hostNics(3));
    const b2 = await agentFor(c, 'b');
    agents.push(b2);
    await b2.setNics(hostNics(1));
    await eventually(() => expect(cidrOf(c, 'multi-nic-sample')!.spec.cidr.map((e) => e.hosts.length)).toEqual([4, 4]));
    const after = cidrOf(c, 'multi-nic-sample')!.spec;
    expect(duplicateClaims(after)).toEqual([]);
    for (const e of after.cidr) {
      const idx = Object.fromEntries(e.hosts.map((h) => [h.hostName, h.hostIndex]));
      expect(idx).toEqual({ ...before, d: 3 });
    }
  });

  it('publishes only its own HostInterface, with our additions, and updates it on change', async () => {
    createNode(c, 'a');
    const a = await agentFor(c, 'a');
    agents.push(a);
    await a.setNics(hostNics(0));
    const get = () => c.server.store.get('multinic.fms.io/v1', 'HostInterface', 'a') as unknown as HostInterface | undefined;
    await eventually(() => expect(get()?.spec.interfaces.map((i) => i.interfaceName)).toEqual(['eth1', 'eth2']));
    expect(get()!.spec.interfaces[0]).toEqual({ interfaceName: 'eth1', netAddress: '10.0.1.0/24', hostIP: '10.0.1.1', vendor: '15b3', product: '101d', numaNode: 0, speed: 100000, mtu: 9000, state: 'up' });
    expect(get()!.status?.agentVersion).toBeTruthy();
    expect(c.server.store.list('multinic.fms.io/v1', 'HostInterface').map((h) => h.metadata?.name)).toEqual(['a']);
    await a.setNics([...hostNics(0), { interfaceName: 'eth3', netAddress: '10.0.3.0/24', hostIP: '10.0.3.1' }]);
    await eventually(() => expect(get()?.spec.interfaces.map((i) => i.interfaceName)).toEqual(['eth1', 'eth2', 'eth3']));
  });
});
