// Leak GC and IPPool mirroring against the real stand-in, with the in-memory IPAM (the same pure
// allocator as the durable store) behind the Ipam port.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeakGc } from '../../../src/agent/kube/gc.js';
import { IPPoolMirror, observeIpam } from '../../../src/agent/kube/mirror.js';
import type { KubeAgent } from '../../../src/agent/kube/index.js';
import type { IPPool, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import type { AllocateItem, PoolSpec } from '../../../src/lib/ipam/types.js';
import type { KubeObject } from '../../../src/lib/k8s/meta.js';
import { R } from '../../../src/lib/k8s/resources.js';
import { FakeIpam } from '../../fakes/ipam.js';
import { AgentCore } from '../../../src/agent/core.js';
import type { DiscoveredNic } from '../../../src/lib/agent/discovery.js';
import { StaticState, testCidr, testNetwork } from '../helpers/network.js';
import { agentFor, createNetwork, createNode, eventually, hostNics, seedNetwork, testCluster, type TestCluster } from './helpers.js';

let c: TestCluster;
const agents: KubeAgent[] = [];
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await c.close();
});

const pool: PoolSpec = { name: 'multi-nic-sample-192.168.0.0-24', network: 'multi-nic-sample', hostName: 'a', interfaceName: 'eth1', podCIDR: '192.168.0.0/24', vlanCIDR: '192.168.0.0/18', excludes: [], reserved: [] };
const item = (pod: string, uid: string, ns = 'default', containerID = `c-${uid}`): AllocateItem => ({ pool, key: { podUID: uid, containerID, interface: 'net1-0' }, podName: pod, namespace: ns });
function createPod(name: string, phase: string, annotations?: Record<string, string>): KubeObject {
  c.server.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', ...(annotations ? { annotations } : {}) }, spec: { nodeName: 'a', containers: [{ name: 'c', image: 'x' }] } } as never);
  return c.server.store.patch('v1', 'Pod', name, 'default', 'merge', { status: { phase } }, 'status');
}

describe('LeakGc', () => {
  it('releases a deleted pod’s address only after the grace, never for a Pending pod, and spares a pod the cache missed', async () => {
    const ipam = new FakeIpam();
    const gone = createPod('gone', 'Running');
    const pending = createPod('pending', 'Pending');
    const fresh = createPod('fresh', 'Running');
    await ipam.allocate([item('gone', gone.metadata!.uid!), item('pending', pending.metadata!.uid!), item('fresh', fresh.metadata!.uid!)]);
    c.server.store.delete('v1', 'Pod', 'gone', 'default');
    c.server.store.delete('v1', 'Pod', 'pending', 'default');
    c.server.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pending', namespace: 'default' }, spec: { nodeName: 'a', containers: [{ name: 'c', image: 'x' }] } } as never);
    // 'pending' was re-created with a new UID but is Pending: the old allocation is still a leak
    // (uid mismatch), while a Pending pod's own allocation is never touched (checked below).
    let now = 0;
    // A cache that has never seen 'fresh' (informer lag): the direct GET must spare it.
    const cache = new Map<string, KubeObject>();
    const notified: string[][] = [];
    const gc = new LeakGc({ api: c.api, ipam, cachedPod: (ns, n) => cache.get(`${ns}/${n}`), cacheReady: () => true, graceMs: 60_000, now: () => now, onReleased: (r) => notified.push(r.map((a) => a.podName).sort()) });
    const r0 = await gc.round();
    expect(r0.suspects).toBe(3);
    expect(r0.released).toEqual([]);
    now = 59_999;
    expect((await gc.round()).released).toEqual([]);
    now = 60_000;
    const r1 = await gc.round();
    expect(r1.released.map((a) => a.podName).sort()).toEqual(['gone', 'pending']);
    expect(r1.spared).toBe(1);
    expect(ipam.list().map((a) => a.podName)).toEqual(['fresh']);
    expect(notified).toEqual([['gone', 'pending']]);
  });

  it('never releases for a Pending pod, however long; reconciles Running pods with the Multus network-status', async () => {
    const ipam = new FakeIpam();
    const pend = createPod('p', 'Pending');
    const run = createPod('r', 'Running', { 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: 'default/multi-nic-sample', interface: 'net1-0', ips: ['192.168.0.1'] }]) });
    await ipam.allocate([item('p', pend.metadata!.uid!)]);
    const [held] = await ipam.allocate([item('r', run.metadata!.uid!)]);
    // An earlier sandbox of r whose DEL never came: same pod UID, another container, an address Multus does not list.
    const [stale] = await ipam.allocate([item('r', run.metadata!.uid!, 'default', 'old-sandbox')]);
    expect(held!.address).toBe('192.168.0.2');
    expect(stale!.address).toBe('192.168.0.3');
    // Make Multus list the address r really got.
    c.server.store.patch('v1', 'Pod', 'r', 'default', 'merge', { metadata: { annotations: { 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: 'default/multi-nic-sample', interface: 'net1-0', ips: [held!.address] }]) } } });
    let now = 0;
    const gc = new LeakGc({ api: c.api, ipam, cachedPod: (ns, n) => c.server.store.get('v1', 'Pod', n, ns), cacheReady: () => true, graceMs: 1000, now: () => now });
    for (now = 0; now <= 10_000; now += 1000) await gc.round();
    expect(ipam.list().map((a) => `${a.podName}/${a.containerID}`).sort()).toEqual(['p/c-' + pend.metadata!.uid!, 'r/c-' + run.metadata!.uid!]);
  });
});

describe('CNI GC with the pod cross-check (--kube)', () => {
  it('a GC whose list misses live pods releases only the pods the cache shows gone or finished', async () => {
    createNode(c, 'a');
    const a = await agentFor(c, 'a');
    agents.push(a);
    const nics: DiscoveredNic[] = [1, 2].map((n) => ({ ifindex: n, interfaceName: `eth${n}`, netAddress: `10.0.${n}.0/24`, hostIP: `10.0.${n}.1`, vendor: '', product: '', pciAddress: '', numaNode: -1, speed: 0, mtu: 1500, state: 'up' }));
    const ipam = new FakeIpam();
    const core = new AgentCore({ hostName: 'a', state: new StaticState([{ network: testNetwork(), cidr: testCidr(['a']) }]), ipam, nics: () => nics, gcGraceMs: 0, liveReason: (x) => a.liveReason(x) });
    const pods = { run: createPod('run', 'Running'), pend: createPod('pend', 'Pending'), done: createPod('done', 'Succeeded'), gone: createPod('gone', 'Running') };
    for (const [name, p] of Object.entries(pods)) await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: { namespace: 'default', name, uid: p.metadata!.uid!, containerID: `c-${name}`, ifName: 'net1' } });
    c.server.store.delete('v1', 'Pod', 'gone', 'default');
    await eventually(() => expect(a.informers.pods.list().map((p) => p.metadata?.name).sort()).toEqual(['done', 'pend', 'run']));
    expect(await core.gc({ apiVersion: 'v1', network: 'mnet', keep: [] })).toEqual({ apiVersion: 'v1', released: 4, spared: 4 });
    expect([...new Set(ipam.list().map((x) => x.podName))].sort()).toEqual(['pend', 'run']);
    expect(a.liveReason(ipam.list().find((x) => x.podName === 'run')!)).toBe(`pod default/run (uid ${pods.run.metadata!.uid}) is Running on this node`);
  });
});

describe('IPPool mirror', () => {
  it('mirrors allocations asynchronously, coalescing a burst into few writes, with upstream fields + our keys', async () => {
    const ipam = new FakeIpam();
    let notified = 0;
    const mirror = new IPPoolMirror({ api: c.api, hostName: 'a', ipam, pools: () => [{ spec: pool, network: seedNetwork() as MultiNicNetwork }], flushMs: 30, resyncMs: 60_000 });
    const wrapped = observeIpam(ipam, (p) => {
      notified++;
      mirror.mark(p);
    });
    mirror.start();
    await mirror.flush();
    const before = mirror.stats.writes;
    await Promise.all(Array.from({ length: 100 }, (_, i) => wrapped.allocate([item(`p${i}`, `u${i}`)])));
    expect(notified).toBe(100);
    await eventually(() => expect((c.server.store.get('multinic.fms.io/v1', 'IPPool', pool.name) as unknown as IPPool).spec.allocations).toHaveLength(100));
    expect(mirror.stats.writes - before).toBeLessThanOrEqual(5);
    const p = c.server.store.get('multinic.fms.io/v1', 'IPPool', pool.name) as unknown as IPPool;
    expect(p.metadata.labels).toMatchObject({ hostname: 'a', netname: 'multi-nic-sample' });
    expect(p.spec).toMatchObject({ podCIDR: '192.168.0.0/24', vlanCIDR: '192.168.0.0/18', netAttachDef: 'multi-nic-sample', hostName: 'a', interfaceName: 'eth1', excludes: [] });
    expect(p.spec.allocations[0]).toEqual({ pod: 'p0', namespace: 'default', index: 1, address: '192.168.0.1', podUID: 'u0', containerID: 'c-u0', interface: 'net1-0' });
    // Usage in the status subresource: a /24 holds 254 addresses.
    await eventually(() => expect((c.server.store.get('multinic.fms.io/v1', 'IPPool', pool.name) as unknown as IPPool).status).toMatchObject({ used: 100, capacity: 254 }));
    await wrapped.release({ podUID: 'u0', containerID: 'c-u0' });
    await eventually(() => expect((c.server.store.get('multinic.fms.io/v1', 'IPPool', pool.name) as unknown as IPPool).spec.allocations).toHaveLength(99));
    await eventually(() => expect((c.server.store.get('multinic.fms.io/v1', 'IPPool', pool.name) as unknown as IPPool).status?.used).toBe(99));
    await mirror.stop();
  });

  it('writes from what it last saw (no GET of the pool per flush); a pool edited or deleted behind its back is set right by the 409 or the resync', async () => {
    const ipam = new FakeIpam();
    let gets = 0;
    const api = new Proxy(c.api, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'get') return (...a: unknown[]) => (gets++, (v as (...x: unknown[]) => unknown).apply(target, a));
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
    const mirror = new IPPoolMirror({ api, hostName: 'a', ipam, pools: () => [{ spec: pool, network: seedNetwork() as MultiNicNetwork }], flushMs: 1, resyncMs: 60_000 });
    const wrapped = observeIpam(ipam, (p) => mirror.mark(p));
    mirror.start();
    await mirror.resync();
    const stored = () => c.server.store.get('multinic.fms.io/v1', 'IPPool', pool.name) as unknown as IPPool | undefined;
    const pods = () => stored()?.spec.allocations.map((x) => x.pod);
    await wrapped.allocate([item('p0', 'u0')]);
    await mirror.flush();
    const afterFirst = gets;
    for (let i = 1; i < 6; i++) {
      await wrapped.allocate([item(`p${i}`, `u${i}`)]);
      await mirror.flush();
    }
    expect(pods()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
    expect(stored()?.status?.used).toBe(6);
    expect(gets).toBe(afterFirst);
    // Someone else rewrites the pool: the next write meets a 409, reads it again and puts ours back.
    const cur = await c.api.get<IPPool & KubeObject>(R.IPPool, pool.name);
    await c.api.replace(R.IPPool, { ...cur!, spec: { ...cur!.spec, allocations: [] } });
    expect(pods()).toEqual([]);
    const conflicts = mirror.stats.conflicts;
    await wrapped.allocate([item('p6', 'u6')]);
    await mirror.flush();
    expect(pods()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    expect(mirror.stats.conflicts).toBe(conflicts + 1);
    expect(gets).toBe(afterFirst + 1);
    // Deleted behind its back with nothing to write: the resync reads the server and creates it again.
    await c.api.delete(R.IPPool, pool.name);
    await mirror.flush();
    expect(stored()).toBeUndefined();
    await mirror.resync();
    expect(pods()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    await eventually(() => expect(stored()?.status?.used).toBe(7));
    await mirror.stop();
  });

  it('the allocate path does not wait on the API: ADDs complete while the API server is stalled', async () => {
    const ipam = new FakeIpam();
    const mirror = new IPPoolMirror({ api: c.api, hostName: 'a', ipam, pools: () => [{ spec: pool, network: seedNetwork() as MultiNicNetwork }], flushMs: 1, resyncMs: 60_000 });
    const wrapped = observeIpam(ipam, (p) => mirror.mark(p));
    const stall = c.server.faults.delay({ path: /ippools/, ms: 1500, times: 100 });
    await wrapped.allocate([item('p0', 'u0')]);
    // The mirror's write is now stuck in the stalled API server...
    await eventually(() => expect(stall.hits).toBeGreaterThan(0));
    // ...and ADDs still complete, durable in the IPAM, before anything reached the API.
    for (let i = 1; i < 20; i++) await wrapped.allocate([item(`p${i}`, `u${i}`)]);
    expect(ipam.list()).toHaveLength(20);
    expect(c.server.store.get('multinic.fms.io/v1', 'IPPool', pool.name)).toBeUndefined();
    stall.cancel();
    await eventually(() => expect((c.server.store.get('multinic.fms.io/v1', 'IPPool', pool.name) as unknown as IPPool | undefined)?.spec.allocations).toHaveLength(20));
    await mirror.stop();
  });

  it('a KubeAgent mirrors its pools from the CIDR and removes pools that left it', async () => {
    createNode(c, 'a');
    createNetwork(c, seedNetwork({ namespaces: ['default'] }));
    const a = await agentFor(c, 'a');
    agents.push(a);
    const ipam = a.attachIpam(new FakeIpam());
    await a.setNics(hostNics(0));
    await eventually(() => expect(a.state.network('multi-nic-sample')?.cidr).toBeDefined());
    const names = () => c.server.store.list('multinic.fms.io/v1', 'IPPool').map((p) => p.metadata?.name).sort();
    await eventually(() => expect(names()).toEqual(['multi-nic-sample-192.168.0.0-24', 'multi-nic-sample-192.168.64.0-24']));
    await ipam.allocate([{ ...item('x', 'ux'), pool: { ...pool, name: 'multi-nic-sample-192.168.64.0-24', podCIDR: '192.168.64.0/24', vlanCIDR: '192.168.64.0/18', interfaceName: 'eth2' } }]);
    await eventually(() => expect((c.server.store.get('multinic.fms.io/v1', 'IPPool', 'multi-nic-sample-192.168.64.0-24') as unknown as IPPool).spec.allocations.map((x) => x.pod)).toEqual(['x']));
    // eth2 goes away: our entry leaves the CIDR and its pool is removed on the next resync.
    await a.setNics(hostNics(0, [1]));
    await eventually(() => expect(a.state.network('multi-nic-sample')?.cidr?.spec.cidr).toHaveLength(1));
    await a.ipamMirror!.resync();
    expect(names()).toEqual(['multi-nic-sample-192.168.0.0-24']);
    expect(await c.api.get(R.IPPool, 'multi-nic-sample-192.168.64.0-24')).toBeUndefined();
    // Deleting the network takes its CIDR and IPPools with it (ownerReferences, Kubernetes GC).
    c.server.store.delete('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample');
    await eventually(() => {
      expect(c.server.store.get('multinic.fms.io/v1', 'CIDR', 'multi-nic-sample')).toBeUndefined();
      expect(names()).toEqual([]);
    });
  });
});
