// The node's NICs as a ResourceSlice: the pure builder (device names, attributes, networks), the
// sysfs facts only DRA reads (PCIe root, RDMA) on a fixture tree shaped like the kernel's, and the
// KubeAgent publishing, updating (generation bump) and losing the slice with its Node on the stand-in,
// and the requests a round makes (counted at the stand-in): none when nothing changed.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readDraFacts, SLICE_REVALIDATE_MS, SlicePublisher } from '../../../src/agent/dra/slices.js';
import { deviceName, networkDeviceClass, networksAttr, networksOfNic, nodeSlice } from '../../../src/lib/dra/slices.js';
import type { ResourceSlice } from '../../../src/lib/dra/types.js';
import type { KubeAgent } from '../../../src/agent/kube/index.js';
import { agentFor, createNetwork, createNode, eventually, hostNics, seedNetwork, testCluster, type TestCluster } from '../kube/helpers.js';

describe('slice builder', () => {
  it('keeps DNS-label interface names and maps the others to distinct labels', () => {
    expect(deviceName('eth1')).toBe('eth1');
    expect(deviceName('ens1f0np0')).toBe('ens1f0np0');
    const a = deviceName('eth_1');
    const b = deviceName('eth-1');
    expect(a).toMatch(/^eth-1-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(deviceName('ens1f0.100')).toMatch(/^ens1f0-100-[0-9a-f]{8}$/);
  });

  it('publishes what discovery and sysfs know, and leaves out what they do not', () => {
    const s = nodeSlice({
      node: 'host-a', nodeUid: 'uid-a', generation: 3,
      nics: [
        { interfaceName: 'eth2', netAddress: '10.0.2.0/24', mtu: 1500, state: 'up', numaNode: -1, speed: 0 },
        { interfaceName: 'ens1f0', netAddress: '10.0.1.0/24', pciAddress: '0000:3b:00.0', vendor: '15b3', product: '101d', speed: 100000, mtu: 9000, state: 'up', numaNode: 1, pcieRoot: 'pci0000:3a', rdma: true },
      ],
      networksOf: (n) => (n.interfaceName === 'ens1f0' ? ['net-b', 'net-a'] : []),
    });
    expect(s.metadata).toEqual({ name: 'host-a-multinic.fms.io', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'host-a', uid: 'uid-a', controller: true }] });
    expect(s.spec.pool).toEqual({ name: 'host-a', generation: 3, resourceSliceCount: 1 });
    expect(s.spec.nodeName).toBe('host-a');
    expect(s.spec.devices?.map((d) => d.name)).toEqual(['ens1f0', 'eth2']);
    expect(s.spec.devices?.[0]?.attributes).toEqual({
      interfaceName: { string: 'ens1f0' }, netAddress: { string: '10.0.1.0/24' }, pciAddress: { string: '0000:3b:00.0' }, vendor: { string: '15b3' }, product: { string: '101d' },
      speed: { int: 100000 }, mtu: { int: 9000 }, state: { string: 'up' }, rdma: { bool: true }, networks: { string: 'net-a,net-b' },
      'resource.kubernetes.io/numaNode': { int: 1 }, 'resource.kubernetes.io/pcieRoot': { string: 'pci0000:3a' },
    });
    // A veth: no PCI, no speed, no NUMA node, no RDMA answer.
    expect(s.spec.devices?.[1]?.attributes).toEqual({ interfaceName: { string: 'eth2' }, netAddress: { string: '10.0.2.0/24' }, mtu: { int: 1500 }, state: { string: 'up' }, networks: { string: '' } });
  });

  it('keeps whole network names within the 64-character attribute limit and says which it dropped', () => {
    const long = Array.from({ length: 5 }, (_, i) => `network-number-${i}`);
    const r = networksAttr(long);
    expect(r.value.length).toBeLessThanOrEqual(64);
    expect(r.value.split(',')).toEqual(long.slice(0, 3));
    expect(r.dropped).toEqual(long.slice(3));
  });

  it('says which networks a NIC serves: its CIDR blocks first, masterNets while it has none', () => {
    const within = (inner: string, outer: string) => outer === '10.0.0.0/16' && inner.startsWith('10.0.');
    const nets = [{ name: 'all', masterNets: [] }, { name: 'only-1', masterNets: ['10.0.1.0/24'] }, { name: 'wide', masterNets: ['10.0.0.0/16'] }, { name: 'claimed', masterNets: [] }, { name: 'gone', masterNets: [], deleting: true }];
    const cidr = { spec: { cidr: [{ netAddress: '10.0.2.0/24', hosts: [{ hostName: 'host-a', interfaceName: 'eth2' }] }] } };
    const of = (n: string) => (n === 'claimed' ? cidr : undefined);
    expect(networksOfNic({ interfaceName: 'eth1', netAddress: '10.0.1.0/24' }, 'host-a', nets, of, within)).toEqual(['all', 'only-1', 'wide']);
    expect(networksOfNic({ interfaceName: 'eth2', netAddress: '10.0.2.0/24' }, 'host-a', nets, of, within)).toEqual(['all', 'claimed', 'wide']);
  });

  it('renders a DeviceClass per network whose CEL selects the NICs serving it', () => {
    expect(networkDeviceClass('net-a')).toEqual({
      apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'net-a.multinic.fms.io' },
      spec: { selectors: [{ cel: { expression: 'device.driver == "multinic.fms.io" && ("," + device.attributes["multinic.fms.io"].networks + ",").contains(",net-a,")' } }] },
    });
  });
});

describe('sysfs facts for DRA', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'r1-sysfs-'));
    const mk = (p: string) => mkdirSync(join(root, p), { recursive: true });
    const mlx = 'devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0';
    mk(`${mlx}/infiniband/mlx5_0`);
    mk('class/net/ens1f0');
    symlinkSync(`../../../${mlx}`, join(root, 'class/net/ens1f0/device'));
    const plain = 'devices/pci0000:00/0000:00:03.0';
    mk(plain);
    mk('class/net/eth1');
    symlinkSync(`../../../${plain}`, join(root, 'class/net/eth1/device'));
    mk('class/net/veth0');
    writeFileSync(join(root, 'class/net/veth0/mtu'), '1500\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reads the PCIe root and RDMA of PCI NICs and nothing for a veth', async () => {
    expect(await readDraFacts(root, 'ens1f0')).toEqual({ pcieRoot: 'pci0000:3a', rdma: true });
    expect(await readDraFacts(root, 'eth1')).toEqual({ pcieRoot: 'pci0000:00', rdma: false });
    expect(await readDraFacts(root, 'veth0')).toEqual({});
  });
});

describe('the agent publishes its ResourceSlice', () => {
  let c: TestCluster;
  let agent: KubeAgent | undefined;
  beforeEach(async () => {
    c = await testCluster();
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await c.close();
  });
  const live = () => c.server.store.get('resource.k8s.io/v1', 'ResourceSlice', 'host-a-multinic.fms.io') as unknown as ResourceSlice | undefined;

  it('creates it with the networks each NIC serves, bumps the pool generation only on change, and loses it with the Node', async () => {
    createNode(c, 'host-a');
    createNetwork(c, seedNetwork({ masterNets: ['10.0.1.0/24', '10.0.2.0/24'] }));
    agent = await agentFor(c, 'host-a', { dra: { sysfsRoot: join(tmpdir(), 'r1-no-sysfs') } });
    await agent.setNics(hostNics(0));
    const net = seedNetwork().metadata.name ?? '';
    const first = await eventually(() => {
      const s = live();
      expect(s?.spec.devices?.map((d) => `${d.name}:${d.attributes?.networks?.string}`)).toEqual([`eth1:${net}`, `eth2:${net}`]);
      return s as ResourceSlice;
    });
    expect(first.spec.pool.generation).toBe(1);
    expect(first.spec.devices?.[0]?.attributes?.['resource.kubernetes.io/numaNode']).toEqual({ int: 0 });
    expect(first.spec.devices?.[0]?.attributes?.speed).toEqual({ int: 100000 });
    expect(first.metadata.ownerReferences?.[0]?.kind).toBe('Node');
    // Another round with the same NICs writes nothing.
    await agent.setNics(hostNics(0));
    expect(live()?.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    // A NIC goes: new generation, one device.
    await agent.setNics(hostNics(0, [1]));
    await eventually(() => {
      expect(live()?.spec.devices?.map((d) => d.name)).toEqual(['eth1']);
      expect(live()?.spec.pool.generation).toBe(2);
    });
    await agent.stop();
    agent = undefined;
    c.server.store.delete('v1', 'Node', 'host-a');
    await eventually(() => expect(live()).toBeUndefined());
  });

  it('an unchanged round makes no request for the Node or the slice; a change is one PUT', async () => {
    createNode(c, 'host-a');
    createNetwork(c, seedNetwork({ masterNets: ['10.0.1.0/24', '10.0.2.0/24'] }));
    agent = await agentFor(c, 'host-a', { dra: { sysfsRoot: join(tmpdir(), 'r1-no-sysfs') } });
    await agent.setNics(hostNics(0));
    const first = await eventually(() => {
      expect(live()?.spec.devices?.map((d) => d.name)).toEqual(['eth1', 'eth2']);
      return live() as ResourceSlice;
    });
    // Counted at the stand-in from here: GETs of the Node by name, and every request on resourceslices.
    const nodeGets = c.server.faults.delay({ method: 'GET', path: /^\/api\/v1\/nodes\/host-a(\?|$)/, ms: 0, times: Infinity });
    const sliceGets = c.server.faults.delay({ method: 'GET', path: /\/resourceslices/, ms: 0, times: Infinity });
    const sliceWrites = c.server.faults.delay({ method: 'PUT', path: /\/resourceslices\/host-a-multinic\.fms\.io/, ms: 0, times: Infinity });
    const sliceOther = c.server.faults.delay({ path: /\/resourceslices/, ms: 0, times: Infinity });
    for (let i = 0; i < 3; i++) await agent.setNics(hostNics(0));
    expect({ nodeGets: nodeGets.hits, sliceGets: sliceGets.hits, sliceWrites: sliceWrites.hits, sliceOther: sliceOther.hits }).toEqual({ nodeGets: 0, sliceGets: 0, sliceWrites: 0, sliceOther: 0 });
    expect(live()?.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    // A NIC goes: one PUT over the slice as last written (no read first), generation 2.
    await agent.setNics(hostNics(0, [1]));
    await eventually(() => expect(live()?.spec.devices?.map((d) => d.name)).toEqual(['eth1']));
    expect(live()?.spec.pool.generation).toBe(2);
    expect({ nodeGets: nodeGets.hits, sliceGets: sliceGets.hits, sliceWrites: sliceWrites.hits, sliceOther: sliceOther.hits }).toEqual({ nodeGets: 0, sliceGets: 0, sliceWrites: 1, sliceOther: 0 });
  });

  it('reads the slice again after a conflict, and after revalidateMs (a slice deleted behind its back comes back)', async () => {
    createNode(c, 'host-a');
    let t = 1_000_000;
    const pub = new SlicePublisher({ api: await c.client(), nodeName: 'host-a', sysfsRoot: join(tmpdir(), 'r1-no-sysfs'), node: () => c.server.store.get('v1', 'Node', 'host-a'), now: () => t });
    const nics = hostNics(0);
    const nets = () => ['net-a'];
    expect(await pub.sync(nics, nets)).toBe(true);
    expect(live()?.metadata.ownerReferences?.[0]?.uid).toBe(c.server.store.get('v1', 'Node', 'host-a')?.metadata?.uid);
    const gets = c.server.faults.delay({ method: 'GET', path: /\/resourceslices/, ms: 0, times: Infinity });
    const puts = c.server.faults.delay({ method: 'PUT', path: /\/resourceslices/, ms: 0, times: Infinity });
    // Someone else writes the slice: our next change meets a 409, reads it and writes over the new version.
    const other = live() as ResourceSlice;
    c.server.store.update({ ...other, metadata: { ...other.metadata, labels: { touched: 'yes' } } } as never);
    expect(await pub.sync(hostNics(0, [1]), nets)).toBe(true);
    expect({ gets: gets.hits, puts: puts.hits }).toEqual({ gets: 1, puts: 2 });
    expect(live()?.spec.devices?.map((d) => d.name)).toEqual(['eth1']);
    expect(live()?.spec.pool.generation).toBe(2);
    // Deleted behind its back: trusted (no request) until revalidateMs has passed, then published again.
    c.server.store.delete('resource.k8s.io/v1', 'ResourceSlice', 'host-a-multinic.fms.io');
    t += SLICE_REVALIDATE_MS - 1;
    expect(await pub.sync(hostNics(0, [1]), nets)).toBe(false);
    expect({ gets: gets.hits, puts: puts.hits }).toEqual({ gets: 1, puts: 2 });
    t += 1;
    expect(await pub.sync(hostNics(0, [1]), nets)).toBe(true);
    expect(gets.hits).toBe(2);
    expect(live()?.spec.devices?.map((d) => d.name)).toEqual(['eth1']);
    expect(pub.nicOf('eth1')).toBe('eth1');
  });
});
