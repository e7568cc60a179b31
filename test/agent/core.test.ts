import { describe, expect, it } from 'vitest';
import { AgentCore, AgentError } from '../../src/agent/core.js';
import type { DiscoveredNic } from '../../src/lib/agent/discovery.js';
import { FakeIpam } from '../fakes/ipam.js';
import { StaticState, testCidr, testNetwork } from './helpers/network.js';

const nic = (name: string, ip: string, extra: Partial<DiscoveredNic> = {}): DiscoveredNic => ({
  ifindex: 0, interfaceName: name, netAddress: ip.replace(/\.\d+$/, '.0/24'), hostIP: ip, vendor: '15b3', product: '1019', pciAddress: '', numaNode: -1, speed: 0, mtu: 1500, state: 'up', ...extra,
});
const H1_NICS = [nic('eth1', '10.0.1.1', { pciAddress: '0000:3b:00.0', speed: 100000 }), nic('eth2', '10.0.2.1', { pciAddress: '0000:5e:00.0', speed: 200000 })];
const pod = (uid = 'uid-1', containerID = 'c1') => ({ namespace: 'default', name: 'p', uid, containerID, ifName: 'net1' });

function setup(net = testNetwork(), nics = H1_NICS) {
  const state = new StaticState([{ network: net, cidr: testCidr(['h1', 'h2']) }], { hs: { apiVersion: 'multinic.fms.io/v1', kind: 'DeviceClass', metadata: { name: 'hs' }, spec: { ids: [{ vendor: '15b3', products: ['1019'] }] } } });
  const ipam = new FakeIpam();
  const core = new AgentCore({ hostName: 'h1', state, ipam, nics: () => nics });
  return { state, ipam, core };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AgentError) return `${e.code}/${e.status}: ${e.message}`;
    throw e;
  }
  return 'resolved';
}

describe('AgentCore.allocate', () => {
  it('macvlan L3: one address per NIC from this host pod blocks, pod-block prefix, shim gateway route', async () => {
    const { core } = setup();
    const res = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() });
    expect(res).toEqual({
      apiVersion: 'v1',
      network: 'mnet',
      plugin: { type: 'macvlan', cniVersion: '1.0.0', args: { mode: 'bridge' } },
      vlanMode: 'l3',
      nics: [
        { index: 0, podInterface: 'net1-0', master: 'eth1', netAddress: '10.0.1.0/24', address: '192.168.0.2/24', gateway: '192.168.0.1', routes: [{ dst: '192.168.0.0/18', gw: '192.168.0.1' }], vlanCIDR: '192.168.0.0/18', podCIDR: '192.168.0.0/24', pool: 'mnet-192.168.0.0-24', mtu: 1500, pciAddress: '0000:3b:00.0' },
        { index: 1, podInterface: 'net1-1', master: 'eth2', netAddress: '10.0.2.0/24', address: '192.168.64.2/24', gateway: '192.168.64.1', routes: [{ dst: '192.168.64.0/18', gw: '192.168.64.1' }], vlanCIDR: '192.168.64.0/18', podCIDR: '192.168.64.0/24', pool: 'mnet-192.168.64.0-24', mtu: 1500, pciAddress: '0000:5e:00.0' },
      ],
    });
  });

  it('ipvlan: vlanCIDR prefix and no routes', async () => {
    const { core } = setup(testNetwork({ plugin: 'ipvlan' }));
    const res = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod(), args: { nics: 1 } });
    expect(res.nics.map((n) => [n.address, n.gateway, n.routes])).toEqual([['192.168.0.1/18', undefined, []]]);
  });

  it('a repeated ADD for the same key returns the same addresses; another container gets new ones', async () => {
    const { core, ipam } = setup();
    const a = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() });
    const b = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod(), args: { masters: ['eth2'] } });
    expect(b.nics.map((n) => n.address)).toEqual(a.nics.map((n) => n.address));
    const c = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('uid-1', 'c2') });
    expect(c.nics.map((n) => n.address)).toEqual(['192.168.0.3/24', '192.168.64.3/24']);
    expect(ipam.list()).toHaveLength(4);
  });

  it('policies reach the selector: masters, devClass, perfOpt (speed from discovery)', async () => {
    const { core } = setup(testNetwork({ strategy: 'perfOpt', target: '150G' }));
    const r = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() });
    expect(r.nics.map((n) => [n.podInterface, n.master])).toEqual([['net1-0', 'eth2']]);
    const m = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('u2'), args: { masters: ['eth2', 'eth1'] } });
    expect(m.nics.map((n) => [n.podInterface, n.master])).toEqual([['net1-0', 'eth2'], ['net1-1', 'eth1']]);
  });

  it('device-plugin IDs select NICs by PCI address', async () => {
    const { core } = setup();
    const r = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod(), resourceName: 'x/y', deviceIDs: ['0000:5e:00.0'] });
    expect(r.nics.map((n) => n.master)).toEqual(['eth2']);
  });

  it('a NIC of the CIDR that is gone from the host is not offered', async () => {
    const { core } = setup(testNetwork(), [H1_NICS[1]!]);
    const r = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() });
    expect(r.nics.map((n) => n.master)).toEqual(['eth2']);
  });

  it.each<[string, unknown, RegExp]>([
    ['not an object', 'x', /^InvalidRequest\/400: request must be a JSON object/],
    ['wrong apiVersion', { apiVersion: 'v2', network: 'mnet', pod: pod() }, /^InvalidRequest\/400: apiVersion must be "v1"/],
    ['missing pod uid', { apiVersion: 'v1', network: 'mnet', pod: { ...pod(), uid: '' } }, /^InvalidRequest\/400: pod.uid must be a non-empty string/],
    ['bad ifName', { apiVersion: 'v1', network: 'mnet', pod: { ...pod(), ifName: 'a/b' } }, /^InvalidRequest\/400: pod.ifName "a\/b"/],
    ['nics not a number', { apiVersion: 'v1', network: 'mnet', pod: pod(), args: { nics: 'two' } }, /^InvalidRequest\/400: args.nics/],
    ['masters not a list', { apiVersion: 'v1', network: 'mnet', pod: pod(), args: { masters: [1] } }, /^InvalidRequest\/400: args.masters/],
    ['unknown network', { apiVersion: 'v1', network: 'nope', pod: pod() }, /^UnknownNetwork\/404: network "nope" is not known/],
    ['masters naming an absent NIC', { apiVersion: 'v1', network: 'mnet', pod: pod(), args: { masters: ['eth7'] } }, /^NoMatchingNic\/422: network "mnet": no NIC matches masters \[eth7\]/],
    ['nics larger than the pool', { apiVersion: 'v1', network: 'mnet', pod: pod(), args: { nics: 3 } }, /^NoMatchingNic\/422: .*nics: 3/],
  ])('%s → error, nothing allocated', async (_name, body, want) => {
    const { core, ipam } = setup();
    expect(await code(core.allocate(body))).toMatch(want);
    expect(ipam.list()).toEqual([]);
  });

  it('unknown DeviceClass → UnknownDeviceClass', async () => {
    const { core } = setup(testNetwork({ strategy: 'devClass' }));
    expect(await code(core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod(), args: { class: 'gold' } }))).toMatch(/^UnknownDeviceClass\/422: .*"gold" does not exist \(known: hs\)/);
  });

  it('a network without CIDR → NotReady (503)', async () => {
    const { core, state } = setup();
    state.nets[0]!.cidr = undefined;
    expect(await code(core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() }))).toMatch(/^NotReady\/503: network "mnet" has no CIDR yet/);
  });

  it('an exhausted pool → PoolExhausted and nothing held (all or nothing)', async () => {
    const { core, ipam } = setup();
    // 192.168.0.0/24: 254 usable minus the gateway = 253 per pool.
    for (let i = 0; i < 253; i++) await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod(`u${i}`), args: { masters: ['eth1'] } });
    const before = ipam.list().length;
    expect(await code(core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('last') }))).toMatch(/^PoolExhausted\/409: network "mnet": IP pool "mnet-192.168.0.0-24"/);
    expect(ipam.list()).toHaveLength(before);
    expect(ipam.list().some((a) => a.address === '192.168.0.1')).toBe(false);
  });
});

describe('AgentCore.release and lookup', () => {
  it('release frees every NIC of the key, idempotently; lookup answers what is held', async () => {
    const { core, ipam } = setup();
    const a = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() });
    await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('other') });
    expect(await core.lookup({ apiVersion: 'v1', network: 'mnet', pod: { uid: 'uid-1', containerID: 'c1', ifName: 'net1' } })).toEqual(a);
    expect(await core.release({ apiVersion: 'v1', network: 'mnet', pod: { uid: 'uid-1', containerID: 'c1', ifName: 'net1' } })).toEqual({ apiVersion: 'v1', released: 2 });
    expect(await core.release({ apiVersion: 'v1', network: 'mnet', pod: { uid: 'uid-1', containerID: 'c1', ifName: 'net1' } })).toEqual({ apiVersion: 'v1', released: 0 });
    expect(ipam.list().map((x) => x.podUID)).toEqual(['other', 'other']);
    expect(await code(core.lookup({ apiVersion: 'v1', network: 'mnet', pod: { uid: 'uid-1', containerID: 'c1', ifName: 'net1' } }))).toMatch(/^NotFound\/404/);
  });

  it('release of net1 does not touch net10', async () => {
    const { core, ipam } = setup();
    await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: { ...pod(), ifName: 'net10' } });
    expect((await core.release({ apiVersion: 'v1', network: 'mnet', pod: { uid: 'uid-1', containerID: 'c1', ifName: 'net1' } })).released).toBe(0);
    expect(ipam.list()).toHaveLength(2);
  });
});

describe('AgentCore holder index', () => {
  it('an allocation released behind the core (GC) is re-allocated by a repeated ADD, and lookup sees it gone', async () => {
    const { core, ipam } = setup();
    await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() });
    await ipam.release({ podUID: 'uid-1', containerID: 'c1' });
    expect(ipam.list()).toEqual([]);
    expect(await code(core.lookup({ apiVersion: 'v1', network: 'mnet', pod: { uid: 'uid-1', containerID: 'c1', ifName: 'net1' } }))).toMatch(/^NotFound/);
    const again = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() });
    expect(again.nics).toHaveLength(2);
    expect(ipam.list().map((a) => a.interface)).toEqual(['net1-0', 'net1-1']);
  });

  it('is rebuilt from the IPAM after invalidate (allocations made before the core started)', async () => {
    const { core, ipam, state } = setup();
    const first = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() });
    const fresh = new AgentCore({ hostName: 'h1', state, ipam, nics: () => H1_NICS });
    const again = await fresh.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod(), args: { masters: ['eth2'] } });
    expect(again.nics.map((n) => n.address)).toEqual(first.nics.map((n) => n.address));
    fresh.invalidate();
    expect((await fresh.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() })).nics).toEqual(first.nics);
  });
});

describe('AgentCore topology facts', () => {
  it('topology asks the state for the pod GPU NUMA nodes and prefers NICs there', async () => {
    const nics = [nic('eth1', '10.0.1.1', { numaNode: 0 }), nic('eth2', '10.0.2.1', { numaNode: 1 })];
    const { core, state } = setup(testNetwork({ strategy: 'topology' }), nics);
    state.facts = { gpuNumaNodes: [1, 1], deviceIDs: [] };
    const r = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod(), args: { nics: 1 } });
    expect(r.nics.map((n) => n.master)).toEqual(['eth2']);
    state.facts = { gpuNumaNodes: [0], deviceIDs: [] };
    const r2 = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('u2'), args: { nics: 1 } });
    expect(r2.nics.map((n) => n.master)).toEqual(['eth1']);
  });

  it('device IDs from the kubelet (via the NAD resourceName) select NICs when the CNI passes none', async () => {
    const { core, state } = setup();
    state.facts = { gpuNumaNodes: [], deviceIDs: ['0000:5e:00.0'] };
    const r = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod(), resourceName: 'openshift.io/mlnx' });
    expect(r.nics.map((n) => n.master)).toEqual(['eth2']);
  });
});
