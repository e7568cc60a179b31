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
    const net = createNetwork(c, seedNetwork());
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
    const net = createNetwork(c, seedNetwork());
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
    // Claims by create: the storm hits the creates of the claims (docs/scale.md).
    const storm = c.server.faults.fail({ method: 'POST', path: /\/cidrclaims/, code: 409, times: 15 });
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

  it('500s, dropped watches and 409s at once: 3 agents still converge, nothing lost, no index twice', async () => {
    for (const n of ['a', 'b', 'c']) createNode(c, n);
    agents.push(...(await Promise.all(['a', 'b', 'c'].map((n) => agentFor(c, n)))));
    const f500 = c.server.faults.fail({ path: /multinic\.fms\.io/, code: 500, times: 20 });
    const f409 = c.server.faults.fail({ method: 'POST', path: /\/cidrclaims/, code: 409, times: 10 });
    const drops = setInterval(() => c.server.faults.dropWatches(), 150);
    try {
      createNetwork(c, seedNetwork({}, 'net-1'));
      createNetwork(c, seedNetwork({ subnet: '172.20.0.0/16' }, 'net-2'));
      await Promise.all(agents.map((a, i) => a.setNics(hostNics(i)).catch(() => undefined)));
      // Under dropped watches an agent may briefly hold a second index on a NIC network (its informer had
      // not shown a claim it made); its next round frees one. What must hold is where it settles.
      await eventually(() => {
        for (const n of ['net-1', 'net-2']) {
          const spec = cidrOf(c, n)!.spec;
          expect(duplicateClaims(spec)).toEqual([]);
          expect(spec.cidr.map((e) => e.hosts.length)).toEqual([3, 3]);
        }
      }, 20_000);
    } finally {
      clearInterval(drops);
    }
    expect(f500.hits).toBe(20);
    expect(f409.hits).toBe(10);
    for (const n of ['net-1', 'net-2']) {
      const spec = cidrOf(c, n)!.spec;
      expect(duplicateClaims(spec)).toEqual([]);
      for (const e of spec.cidr) expect(e.hosts.map((h) => h.hostIndex).sort()).toEqual([0, 1, 2]);
    }
    // The agents' caches caught up with the server despite the dropped watches.
    for (const a of agents) await eventually(() => expect(a.state.networks().map((n) => n.cidr?.spec.cidr[0]?.hosts.length)).toEqual([3, 3]));
  });

  it('a host that does not fit (hostBlock 1: two hosts) gets an Event and fails the network status', async () => {
    for (const n of ['a', 'b', 'c']) createNode(c, n);
    createNetwork(c, seedNetwork({ ipam: JSON.stringify({ type: 'multi-nic-ipam', hostBlock: 1, interfaceBlock: 2, vlanMode: 'l3' }), namespaces: ['default'] }));
    const [a, b, c3] = await Promise.all(['a', 'b', 'c'].map((n) => agentFor(c, n)));
    agents.push(a!, b!, c3!);
    await a!.setNics(hostNics(0));
    await b!.setNics(hostNics(1));
    await c3!.setNics(hostNics(2));
    expect(cidrOf(c, 'multi-nic-sample')!.spec.cidr.map((e) => e.hosts.map((h) => h.hostName))).toEqual([['a', 'b'], ['a', 'b']]);
    const net = () => c.server.store.get('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample') as unknown as MultiNicNetwork;
    await eventually(() => expect(net().status?.configStatus).toBe('Failed'));
    expect(net().status?.message).toMatch(/^Failed to plan multi-nic-sample: c: eth1 on 10\.0\.1\.0\/24: all 2 host indexes of hostBlock 1/);
    await c3!.events.drain();
    const ev = c.server.store.list('v1', 'Event', 'multinic-system').find((e) => (e as { reason?: string }).reason === 'CIDRClaimFailed') as { message?: string; involvedObject?: { name?: string } } | undefined;
    expect(ev?.involvedObject?.name).toBe('multi-nic-sample');
    expect(ev?.message).toMatch(/raise hostBlock/);
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

describe('claimCidr with the informer copy', () => {
  it('confirms an existing claim from the cached CIDR without any API call; claims through the API otherwise', async () => {
    const net = createNetwork(c, seedNetwork());
    const first = await claimCidr({ api: c.api, network: net, own: hi('host1', 0) });
    const gets = c.server.faults.delay({ method: 'GET', path: /\/cidrs\//, ms: 0, times: Infinity });
    const again = await claimCidr({ api: c.api, network: net, own: hi('host1', 0), cached: first.cidr });
    expect(again).toMatchObject({ wrote: false, attempts: 0, claimed: first.claimed });
    expect(gets.hits).toBe(0);
    // host2 is not in the cached copy: it goes to the API and claims.
    const second = await claimCidr({ api: c.api, network: net, own: hi('host2', 1), cached: first.cidr });
    expect(second.wrote).toBe(true);
    expect(gets.hits).toBe(1);
  });
});
