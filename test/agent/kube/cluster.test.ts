// The leader's work against the real stand-in: one leader, takeover when it dies, NADs in every
// target namespace (and later ones, and removed when a namespace leaves the list), status with
// per-host route readiness, and departed nodes leaving the CIDR.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaderElector, type KubeAgent } from '../../../src/agent/kube/index.js';
import type { KubeObject } from '../../../src/lib/k8s/meta.js';
import type { MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import { AGENT_NS, agentFor, cidrObjectOf, cidrOf, createNetwork, createNode, eventually, hostNics, seedNetwork, testCluster, type TestCluster } from './helpers.js';

let c: TestCluster;
const agents: KubeAgent[] = [];
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await c.close();
});

const nads = (name = 'multi-nic-sample') =>
  c.server.store
    .list('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition')
    .filter((n) => n.metadata?.name === name)
    .map((n) => n.metadata?.namespace)
    .sort();
const network = (name = 'multi-nic-sample') => c.server.store.get('multinic.fms.io/v1', 'MultiNicNetwork', name) as unknown as MultiNicNetwork;
const lease = () => c.server.store.get('coordination.k8s.io/v1', 'Lease', 'multinic-agent-leader', AGENT_NS) as (KubeObject & { spec: { holderIdentity?: string; leaseTransitions?: number } }) | undefined;
/** Whether the agent's view of the network holds the host on both NIC networks (its claims arrive one by one). */
const holds = (a: KubeAgent, name: string, host = 'a'): boolean => {
  const entries = a.state.network(name)?.cidr?.spec.cidr ?? [];
  return entries.length === 2 && entries.every((e) => e.hosts.some((h) => h.hostName === host));
};

async function start(names: string[]): Promise<KubeAgent[]> {
  for (const n of names) createNode(c, n);
  const out = await Promise.all(names.map((n) => agentFor(c, n)));
  agents.push(...out);
  return out;
}

describe('leader election', () => {
  it('exactly one leader; when it dies (stops renewing) another takes over and keeps working', async () => {
    const all = await start(['a', 'b', 'c']);
    await eventually(() => expect(all.filter((a) => a.elector.isLeader)).toHaveLength(1));
    const leader = all.find((a) => a.elector.isLeader)!;
    const holder = lease()!.spec.holderIdentity;
    // Crash: no release, the lease has to expire (2 s).
    agents.splice(agents.indexOf(leader), 1);
    await leader.stop({ release: false });
    const rest = all.filter((a) => a !== leader);
    await eventually(() => expect(rest.filter((a) => a.elector.isLeader)).toHaveLength(1), 10_000);
    expect(lease()!.spec.holderIdentity).not.toBe(holder);
    expect(lease()!.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
    // The new leader does the cluster work: a network created now gets its NADs.
    createNetwork(c, seedNetwork());
    await eventually(() => expect(nads()).toEqual(['default', 'kube-node-lease', 'kube-public', 'kube-system', AGENT_NS].sort()));
  });

  it('a clean shutdown hands the lease over at once', async () => {
    const all = await start(['a', 'b']);
    await eventually(() => expect(all.filter((a) => a.elector.isLeader)).toHaveLength(1));
    const leader = all.find((a) => a.elector.isLeader)!;
    agents.splice(agents.indexOf(leader), 1);
    const held = lease()!.spec as { renewTime: string; leaseDurationSeconds: number };
    await leader.stop({ release: true });
    expect((lease()!.spec as { holderIdentity: string }).holderIdentity).toBe('');
    // Without the release the other agent would wait until the lease expired (last renew + 2 s).
    const heldUntil = Date.parse(held.renewTime) + held.leaseDurationSeconds * 1000;
    await eventually(() => expect(all.find((a) => a !== leader)!.elector.isLeader).toBe(true));
    const now = lease()!.spec as { acquireTime: string };
    expect(Date.parse(now.acquireTime)).toBeLessThan(heldUntil);
  });
});

describe('LeaderElector', () => {
  it('a leader whose API calls hang steps down before its lease can expire for others, and leads again after', async () => {
    const expiryAtStepDown: number[] = [];
    const el = new LeaderElector({
      api: c.api,
      namespace: AGENT_NS,
      identity: 'solo',
      durationSeconds: 3,
      retryMs: 100,
      onStoppedLeading: () => {
        const l = lease()!.spec as { renewTime: string; leaseDurationSeconds: number };
        expiryAtStepDown.push(Date.parse(l.renewTime) + l.leaseDurationSeconds * 1000 - Date.now());
      },
    }).start();
    try {
      await eventually(() => expect(el.isLeader).toBe(true));
      const hang = c.server.faults.delay({ path: /\/leases\//, ms: 5000, times: Infinity });
      await eventually(() => expect(el.isLeader).toBe(false), 10_000);
      // The lease it last wrote was still valid when it let go: nobody else could have led yet.
      expect(expiryAtStepDown).toHaveLength(1);
      expect(expiryAtStepDown[0]).toBeGreaterThan(0);
      hang.cancel();
      await eventually(() => expect(el.isLeader).toBe(true), 10_000);
    } finally {
      await el.stop();
    }
  });
});

describe('NADs', () => {
  it('in every namespace, in one created later, removed when a namespace leaves the list, upstream config', async () => {
    await start(['a']);
    createNetwork(c, seedNetwork());
    const initial = ['default', 'kube-node-lease', 'kube-public', 'kube-system', AGENT_NS].sort();
    await eventually(() => expect(nads()).toEqual(initial));
    c.server.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-later' } });
    await eventually(() => expect(nads()).toEqual([...initial, 'team-later'].sort()));

    const nad = c.server.store.get('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', 'multi-nic-sample', 'team-later')!;
    expect(nad.metadata?.labels).toEqual({ 'multi-nic-cni-generated': 'true' });
    expect(nad.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'MultiNicNetwork', name: 'multi-nic-sample', uid: network().metadata.uid, controller: true });
    const conf = JSON.parse((nad as { spec: { config: string } }).spec.config);
    expect(conf).toMatchObject({ cniVersion: '0.3.0', name: 'multi-nic-sample', type: 'multi-nic', multiNICIPAM: true, subnet: '192.168.0.0/16', plugin: { type: 'ipvlan', mode: 'l3' } });

    // Narrow the list: NADs leave the other namespaces; a user NAD of the same name stays.
    c.server.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'user-ns' } });
    c.server.store.create({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'multi-nic-sample', namespace: 'user-ns' }, spec: { config: '{}' } } as never);
    const cur = network();
    c.server.store.update({ ...cur, spec: { ...cur.spec, namespaces: ['team-later', 'default'] } } as never);
    await eventually(() => expect(nads()).toEqual(['default', 'team-later', 'user-ns']));
    // Deleting the network removes its NADs through ownerReferences.
    c.server.store.delete('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample');
    await eventually(() => expect(nads()).toEqual(['user-ns']));
  });

  it('macvlan l3 networks get multi-nic NADs too', async () => {
    await start(['a']);
    createNetwork(c, seedNetwork({ plugin: { cniVersion: '0.3.0', type: 'macvlan', args: { mode: 'bridge' } }, namespaces: ['default'] }, 'mac-l3'));
    await eventually(() => expect(nads('mac-l3')).toEqual(['default']));
    const nad = c.server.store.get('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', 'mac-l3', 'default') as { spec: { config: string } };
    expect(JSON.parse(nad.spec.config)).toMatchObject({ type: 'multi-nic', plugin: { type: 'macvlan', mode: 'bridge' }, ipam: { vlanMode: 'l3' } });
  });
});

describe('status and departed nodes', () => {
  it('routeStatus Success only once every host reported routes for the current CIDR; a deleted node leaves the CIDR', async () => {
    const [a, b] = await start(['a', 'b']);
    createNetwork(c, seedNetwork({ namespaces: ['default'] }));
    await Promise.all([a!.setNics(hostNics(0)), b!.setNics(hostNics(1))]);
    await eventually(() => expect(cidrOf(c, 'multi-nic-sample')!.spec.cidr.map((e) => e.hosts.length)).toEqual([2, 2]));
    await eventually(() => expect(network().status?.routeStatus).toBe('WaitForRoutes'));
    expect(network().status?.configStatus).toBe('WaitForConfig');

    await eventually(() => expect(a!.state.network('multi-nic-sample')?.cidr?.spec.cidr[0]?.hosts).toHaveLength(2));
    await a!.reportRoutes({});
    // Ready hosts are counted, only the not-ready ones listed.
    await eventually(() => expect([network().status?.readyHosts, network().status?.hosts?.map((h) => `${h.hostName}:${h.ready}`)]).toEqual([1, ['b:false']]));
    expect(network().status?.routeStatus).toBe('WaitForRoutes');
    await eventually(() => expect(b!.state.network('multi-nic-sample')?.cidr?.spec.cidr[0]?.hosts).toHaveLength(2));
    await b!.reportRoutes({});
    await eventually(() => expect(network().status?.routeStatus).toBe('Success'));
    const st = network().status!;
    expect(st).toMatchObject({ configStatus: 'Success', message: '', computeResults: [{ netAddress: '10.0.1.0/24', numOfHosts: 2 }, { netAddress: '10.0.2.0/24', numOfHosts: 2 }], discovery: { existDaemon: 2, infoAvailable: 2, cidrProcessed: 2 } });
    expect([st.readyHosts, st.notReadyHosts, st.hosts]).toEqual([2, 0, []]);
    expect(st.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');

    // Node b is deleted (its agent is gone too): the leader removes it and frees its index.
    agents.splice(agents.indexOf(b!), 1);
    await b!.stop({ release: false });
    c.server.store.delete('v1', 'Node', 'b');
    await eventually(() => expect(cidrOf(c, 'multi-nic-sample')!.spec.cidr.map((e) => e.hosts.map((h) => h.hostName))).toEqual([['a'], ['a']]), 10_000);
    await eventually(() => expect(c.server.store.get('multinic.fms.io/v1', 'HostInterface', 'b')).toBeUndefined());
    // a's routes were for the old CIDR: not Success until it reports again.
    await eventually(() => expect(network().status?.routeStatus).toBe('WaitForRoutes'));
    await eventually(() => expect(a!.state.network('multi-nic-sample')?.cidr?.spec.cidr[0]?.hosts).toHaveLength(1));
    await a!.reportRoutes({});
    await eventually(() => expect(network().status?.routeStatus).toBe('Success'));
    // A new node takes the freed index.
    createNode(c, 'e');
    const e = await agentFor(c, 'e');
    agents.push(e);
    await e.setNics(hostNics(4));
    await eventually(() => expect(cidrOf(c, 'multi-nic-sample')!.spec.cidr[0]!.hosts.map((h) => `${h.hostName}:${h.hostIndex}`)).toEqual(['a:0', 'e:1']));
  });

  it('an agent whose Node does not exist waits (no HostInterface, no claim, no churn with the leader), then joins when the Node appears', async () => {
    const [a] = await start(['a']);
    createNetwork(c, seedNetwork({ namespaces: ['default'] }));
    await a!.setNics(hostNics(0));
    await eventually(() => expect(cidrOf(c, 'multi-nic-sample')!.spec.cidr[0]!.hosts.map((h) => h.hostName)).toEqual(['a']));
    const ghost = await agentFor(c, 'ghost'); // --node names no Node object
    agents.push(ghost);
    await ghost.setNics(hostNics(1));
    expect(ghost.waitingForNode).toBe(true);
    // The leader's summary of the CIDR settles first (its interface entries, then its status).
    await eventually(() => expect(cidrObjectOf(c, 'multi-nic-sample')?.status).toMatchObject({ hosts: 1, hostClaims: 2 }));
    c.server.store.resetWriteStats();
    await new Promise((r) => setTimeout(r, 1500)); // several leader rounds
    expect(c.server.store.get('multinic.fms.io/v1', 'HostInterface', 'ghost')).toBeUndefined();
    // No claim, and nothing rewritten for the waiting agent.
    for (const key of ['multinic.fms.io/cidrs', 'multinic.fms.io/cidrclaims']) expect(c.server.store.writeStats(key), key).toMatchObject({ creates: 0, updates: 0, deletes: 0 });
    createNode(c, 'ghost');
    await eventually(() => expect(cidrOf(c, 'multi-nic-sample')!.spec.cidr[0]!.hosts.map((h) => h.hostName).sort()).toEqual(['a', 'ghost']));
    expect(ghost.waitingForNode).toBe(false);
    expect(c.server.store.get('multinic.fms.io/v1', 'HostInterface', 'ghost')).toBeDefined();
  });

  it('of two networks with overlapping subnets (created without our CLI) the later one gets no CIDR and a status naming the other; fixed, it is planned', async () => {
    const [a, b] = await start(['a', 'b']);
    const old = createNetwork(c, seedNetwork({ namespaces: ['default'] }, 'zz-old'));
    await Promise.all([a!.setNics(hostNics(0)), b!.setNics(hostNics(1))]);
    await eventually(() => expect(cidrOf(c, 'zz-old')!.spec.cidr.map((e) => e.hosts.length)).toEqual([2, 2]));
    // A later creation second, so the tie-break by name (which would favour "aa-new") plays no part.
    await eventually(() => expect(new Date().toISOString().slice(0, 19) > (old.metadata.creationTimestamp ?? '').slice(0, 19)).toBe(true));
    createNetwork(c, seedNetwork({ namespaces: ['default'], subnet: '192.168.128.0/17' }, 'aa-new'));

    await eventually(() => expect(network('aa-new').status?.configStatus).toBe('Failed'));
    const st = network('aa-new').status!;
    expect(st.message).toBe('Refused aa-new: subnet 192.168.128.0/17 overlaps subnet 192.168.0.0/16 of MultiNicNetwork "zz-old", which was created first: this network is refused (no address plan, no routes, no pod attachments) until one of the two subnets changes');
    expect(st.conditions?.find((x) => x.type === 'ConfigReady')).toMatchObject({ status: 'False', reason: 'SubnetOverlap' });
    expect(st.routeStatus).toBe('Failed');
    // No agent claimed blocks for it; both agents see it refused, the first network served.
    await Promise.all([a!.syncNode(), b!.syncNode()]);
    expect(cidrOf(c, 'aa-new')).toBeUndefined();
    for (const x of [a!, b!]) {
      expect(x.state.network('aa-new')?.refused).toMatch(/^MultiNicNetwork "aa-new": subnet 192\.168\.128\.0\/17 overlaps subnet 192\.168\.0\.0\/16 of MultiNicNetwork "zz-old"/);
      expect(x.state.network('zz-old')).toMatchObject({ cidr: expect.any(Object) });
      expect(x.state.network('zz-old')?.refused).toBeUndefined();
    }
    expect(network('zz-old').status?.configStatus).not.toBe('Failed');
    await eventually(async () => {
      for (const x of [a!, b!]) await x.events.drain();
      const evs = c.server.store.list('v1', 'Event', AGENT_NS) as Array<KubeObject & { reason?: string; involvedObject?: { name?: string } }>;
      expect(evs.some((ev) => ev.reason === 'SubnetOverlap' && ev.involvedObject?.name === 'aa-new')).toBe(true);
    });

    // Its subnet changed to one of its own: planned like any network.
    const live = network('aa-new');
    c.server.store.update({ ...live, spec: { ...live.spec, subnet: '172.30.0.0/16' } } as unknown as KubeObject);
    await eventually(() => expect(cidrOf(c, 'aa-new')?.spec.cidr.map((e) => e.hosts.length)).toEqual([2, 2]));
    await eventually(() => expect(network('aa-new').status?.configStatus).not.toBe('Failed'));
    expect(a!.state.network('aa-new')?.refused).toBeUndefined();
  });

  it('a failed route install is Failed with the host message, and an Event', async () => {
    const [a] = await start(['a']);
    createNetwork(c, seedNetwork({ namespaces: ['default'] }));
    await a!.setNics(hostNics(0));
    await eventually(() => expect(holds(a!, 'multi-nic-sample')).toBe(true));
    await a!.reportRoutes({ error: 'RTNETLINK answers: Network is unreachable' });
    await eventually(() => expect(network().status?.routeStatus).toBe('Failed'));
    expect(network().status?.hosts).toEqual([{ hostName: 'a', ready: false, routes: 0, message: 'RTNETLINK answers: Network is unreachable' }]);
    await a!.events.drain();
    const evs = c.server.store.list('v1', 'Event', AGENT_NS) as Array<KubeObject & { reason?: string; message?: string }>;
    expect(evs.find((ev) => ev.reason === 'RoutesFailed')?.message).toBe('a: RTNETLINK answers: Network is unreachable');
  });

  it("one network's route fault fails that network only, not every network on the host", async () => {
    const [a] = await start(['a']);
    createNetwork(c, seedNetwork({ namespaces: ['default'], subnet: '192.168.0.0/16' }, 'net-ok'));
    createNetwork(c, seedNetwork({ namespaces: ['default'], subnet: '172.30.0.0/16' }, '4242'));
    await a!.setNics(hostNics(0));
    await eventually(() => expect(holds(a!, 'net-ok') && holds(a!, '4242')).toBe(true));
    const msg = 'no policy table for network 4242: a purely numeric name cannot be a routing table name';
    await a!.reportRoutes({ networkErrors: { '4242': msg } });
    await eventually(() => expect(network('4242').status?.routeStatus).toBe('Failed'));
    expect(network('4242').status?.hosts).toEqual([{ hostName: 'a', ready: false, routes: 0, message: msg }]);
    await eventually(() => expect(network('net-ok').status?.routeStatus).not.toBe('Failed'));
    await eventually(() => expect([network('net-ok').status?.readyHosts, network('net-ok').status?.hosts]).toEqual([1, []]));
  });
});
