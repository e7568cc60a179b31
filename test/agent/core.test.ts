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
  const logs: Array<Record<string, unknown>> = [];
  const core = new AgentCore({ hostName: 'h1', state, ipam, nics: () => nics, log: (e) => logs.push(e) });
  return { state, ipam, core, logs };
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

describe('attachments without a pod UID (podman, ctr --cni, cnitool send no K8S_POD_*)', () => {
  const bare = (containerID = 'c1') => ({ containerID, ifName: 'net1' });

  it('ADD without uid, namespace or name is keyed on the container; a repeated ADD gets the same addresses', async () => {
    const { core, ipam } = setup();
    const a = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: bare() });
    expect(a.nics.map((n) => n.address)).toEqual(['192.168.0.2/24', '192.168.64.2/24']);
    expect((await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: bare() })).nics.map((n) => n.address)).toEqual(['192.168.0.2/24', '192.168.64.2/24']);
    expect((await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: bare('c2') })).nics.map((n) => n.address)).toEqual(['192.168.0.3/24', '192.168.64.3/24']);
    expect(ipam.list().map((x) => `${x.podUID}/${x.containerID}/${x.interface}`).sort()).toEqual(['/c1/net1-0', '/c1/net1-1', '/c2/net1-0', '/c2/net1-1']);
  });

  it('lookup and release without a uid find the container\'s addresses, also when the ADD had a uid', async () => {
    const { core, ipam } = setup();
    await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: bare('c1') });
    await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('uid-9', 'c9') });
    expect((await core.lookup({ apiVersion: 'v1', network: 'mnet', pod: bare('c9') })).nics.map((n) => n.address)).toEqual(['192.168.0.3/24', '192.168.64.3/24']);
    expect(await core.release({ apiVersion: 'v1', network: 'mnet', pod: bare('c9') })).toEqual({ apiVersion: 'v1', released: 2 });
    expect(await core.release({ apiVersion: 'v1', network: 'mnet', pod: bare('c1') })).toEqual({ apiVersion: 'v1', released: 2 });
    expect(ipam.list()).toEqual([]);
    // Idempotent, and a container never seen is not an error.
    expect(await core.release({ apiVersion: 'v1', network: 'mnet', pod: bare('c1') })).toEqual({ apiVersion: 'v1', released: 0 });
    expect(await code(core.lookup({ apiVersion: 'v1', network: 'mnet', pod: bare('c1') }))).toMatch(/^NotFound\/404/);
  });
});

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

  it('a NIC of the CIDR that is gone from the host is not offered; a pod asking for every NIC is refused (retry), not given fewer', async () => {
    const { core, ipam, logs } = setup(testNetwork(), [H1_NICS[1]!]);
    expect(await code(core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() }))).toBe(
      'NotReady/503: network "mnet": the pod asks for every NIC, but NIC eth1 (10.0.1.0/24: not up with an address in the host namespace) of host h1 is missing (1 of 2 present); not attaching fewer',
    );
    expect(logs).toEqual([{ level: 'warn', msg: 'refused a pod asking for every NIC: NICs missing', network: 'mnet', pod: 'default/p', missing: ['eth1'], present: ['eth2'] }]);
    expect(ipam.list()).toEqual([]);
    const counted = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod(), args: { nics: 1 } });
    expect(counted.nics.map((n) => n.master)).toEqual(['eth2']);
    const named = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('uid-2', 'c2'), args: { masters: ['eth2'] } });
    expect(named.nics.map((n) => n.master)).toEqual(['eth2']);
  });

  it('the all-NICs refusal names every missing NIC and hints the opt-outs; the partial-attach annotation opts the network out', async () => {
    const { core } = setup(testNetwork({ strategy: 'topology' }), []);
    expect(await code(core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() }))).toMatch(/^NotReady\/503: host h1 has no NIC of network "mnet" up/);
    const one = setup(testNetwork({ strategy: 'topology' }), [H1_NICS[0]!]);
    const err = await one.core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() }).catch((e: AgentError) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).message).toContain('NIC eth2 (10.0.2.0/24');
    expect((err as AgentError).hint).toBe('the runtime retries until the NIC is back (check `ip link` on the host); to attach the NICs present instead, give the pod cni-args {"nics": 1} or annotate the MultiNicNetwork multinic.fms.io/partial-attach=allow');
    const net = testNetwork();
    net.metadata.annotations = { 'multinic.fms.io/partial-attach': 'allow' };
    const allowed = setup(net, [H1_NICS[1]!]);
    expect((await allowed.core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() })).nics.map((n) => n.master)).toEqual(['eth2']);
  });

  it.each<[string, unknown, RegExp]>([
    ['not an object', 'x', /^InvalidRequest\/400: request must be a JSON object/],
    ['wrong apiVersion', { apiVersion: 'v2', network: 'mnet', pod: pod() }, /^InvalidRequest\/400: apiVersion must be "v1"/],
    ['pod uid not a string', { apiVersion: 'v1', network: 'mnet', pod: { ...pod(), uid: 7 } }, /^InvalidRequest\/400: pod.uid must be a non-empty string/],
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

  it('a network refused for its subnet → NotReady with the reason, nothing allocated', async () => {
    const { core, state, ipam } = setup();
    state.nets[0]!.refused = 'MultiNicNetwork "mnet": subnet 192.168.0.0/16 overlaps subnet 192.168.0.0/17 of MultiNicNetwork "other", which was created first';
    expect(await code(core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod() }))).toBe('NotReady/503: MultiNicNetwork "mnet": subnet 192.168.0.0/16 overlaps subnet 192.168.0.0/17 of MultiNicNetwork "other", which was created first');
    expect(ipam.list()).toEqual([]);
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

describe('AgentCore after a plugin or vlanMode change', () => {
  // The CIDR's config is frozen at creation: a network update replaces the network object only.
  it('ipvlan → macvlan L3 on the same CIDR: the shim gateway is reserved from then on, and a pod holding it keeps its pool NotReady, named', async () => {
    const cidr = testCidr(['h1', 'h2']);
    const state = new StaticState([{ network: testNetwork({ plugin: 'ipvlan' }), cidr }]);
    const ipam = new FakeIpam();
    const core = new AgentCore({ hostName: 'h1', state, ipam, nics: () => H1_NICS });
    const before = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: { ...pod('u-old'), name: 'old' }, args: { masters: ['eth1'] } });
    expect(before.nics.map((n) => n.address)).toEqual(['192.168.0.1/18']);

    state.nets = [{ network: testNetwork(), cidr }];
    const eth2 = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('u-new'), args: { masters: ['eth2'] } });
    expect(eth2.vlanMode).toBe('l3');
    expect(eth2.plugin.type).toBe('macvlan');
    expect(eth2.nics.map((n) => [n.address, n.gateway])).toEqual([['192.168.64.2/24', '192.168.64.1']]);
    expect(core.gatewayConflicts(state.nets[0]!).map((c) => [c.interfaceName, c.gateway, c.holder.podName])).toEqual([['eth1', '192.168.0.1', 'old']]);
    expect(await code(core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('u-2'), args: { masters: ['eth1'] } }))).toBe(
      'NotReady/503: network "mnet" on h1/eth1: the shim gateway 192.168.0.1 (macvlan vlanMode l3) is held by pod default/old (uid u-old, net1-0), attached before the network\'s mode changed; the host leaves the gateway to it and this NIC\'s pool takes no new pods until that pod is gone',
    );
    expect(ipam.list().map((a) => a.podUID)).toEqual(['u-old', 'u-new']);

    // Once that pod is gone the pool works, and never hands out the gateway.
    await core.release({ apiVersion: 'v1', network: 'mnet', pod: pod('u-old') });
    expect(core.gatewayConflicts(state.nets[0]!)).toEqual([]);
    const after = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('u-3'), args: { masters: ['eth1'] } });
    expect(after.nics.map((n) => [n.address, n.gateway])).toEqual([['192.168.0.2/24', '192.168.0.1']]);
  });

  it('macvlan L3 → ipvlan: the gateway is an ordinary address again and the answer carries the new mode', async () => {
    const cidr = testCidr(['h1', 'h2']);
    const state = new StaticState([{ network: testNetwork(), cidr }]);
    const core = new AgentCore({ hostName: 'h1', state, ipam: new FakeIpam(), nics: () => H1_NICS });
    expect((await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('a'), args: { masters: ['eth1'] } })).nics[0]?.address).toBe('192.168.0.2/24');
    state.nets = [{ network: testNetwork({ plugin: 'ipvlan' }), cidr }];
    const r = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('b'), args: { masters: ['eth1'] } });
    expect([r.plugin.type, r.nics[0]?.address, r.nics[0]?.gateway, r.nics[0]?.routes]).toEqual(['ipvlan', '192.168.0.3/18', undefined, []]);
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

/** A single-NIC IPAM network (host-local passed through to each NIC), no CIDR. */
function passThroughNetwork(masterNets: string[] = ['10.0.1.0/24', '10.0.2.0/24'], strategy: 'none' | 'perfOpt' = 'none') {
  const net = testNetwork({ name: 'hl', strategy });
  net.spec.ipam = JSON.stringify({ type: 'host-local', ranges: [[{ subnet: '172.31.0.0/16' }]] });
  net.spec.multiNICIPAM = false;
  net.spec.masterNets = masterNets;
  return net;
}

describe('AgentCore single-NIC IPAM pass-through', () => {
  const setupHl = (net = passThroughNetwork(), nics = H1_NICS, now = () => 0) => {
    const state = new StaticState([{ network: net }]);
    const ipam = new FakeIpam();
    return { ipam, core: new AgentCore({ hostName: 'h1', state, ipam, nics: () => nics, now }) };
  };

  it('selects NICs on masterNets without a CIDR and answers them without addresses', async () => {
    const { core, ipam } = setupHl();
    const r = await core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod() });
    expect(r).toEqual({
      apiVersion: 'v1',
      network: 'hl',
      plugin: { type: 'macvlan', cniVersion: '1.0.0', args: { mode: 'bridge' } },
      vlanMode: '',
      nics: [
        { index: 0, podInterface: 'net1-0', master: 'eth1', netAddress: '10.0.1.0/24', address: '', routes: [], vlanCIDR: '', podCIDR: '', pool: '', mtu: 1500, pciAddress: '0000:3b:00.0' },
        { index: 1, podInterface: 'net1-1', master: 'eth2', netAddress: '10.0.2.0/24', address: '', routes: [], vlanCIDR: '', podCIDR: '', pool: '', mtu: 1500, pciAddress: '0000:5e:00.0' },
      ],
    });
    expect(ipam.list()).toEqual([]);
    expect(await core.lookup({ apiVersion: 'v1', network: 'hl', pod: pod() })).toEqual(r);
  });

  it('masterNets order and containment pick the NICs; empty masterNets means every NIC network', async () => {
    const extra = [...H1_NICS, nic('eth0', '10.0.1.9'), nic('eth3', '10.9.0.1')];
    const wide = setupHl(passThroughNetwork(['10.0.2.0/24', '10.0.0.0/16']), extra);
    const r = await wide.core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod() });
    expect(r.nics.map((n) => [n.podInterface, n.master, n.netAddress])).toEqual([['net1-0', 'eth2', '10.0.2.0/24'], ['net1-1', 'eth0', '10.0.1.0/24']]);
    const all = setupHl(passThroughNetwork([]), extra);
    const a = await all.core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod() });
    expect(a.nics.map((n) => n.master)).toEqual(['eth0', 'eth2', 'eth3']);
  });

  it('a repeated ADD answers the same NICs; args and policies apply; release forgets the selection', async () => {
    const { core } = setupHl();
    const a = await core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod(), args: { masters: ['eth2'] } });
    expect(a.nics.map((n) => n.master)).toEqual(['eth2']);
    expect((await core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod() })).nics).toEqual(a.nics);
    expect(await core.release({ apiVersion: 'v1', network: 'hl', pod: pod() })).toEqual({ apiVersion: 'v1', released: 0 });
    expect(await code(core.lookup({ apiVersion: 'v1', network: 'hl', pod: pod() }))).toMatch(/^NotFound\/404: no NICs selected in network "hl"/);
    expect(await code(core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod('u3'), args: { masters: ['eth9'] } }))).toMatch(/^NoMatchingNic\/422/);
    const perf = setupHl(passThroughNetwork(undefined, 'perfOpt'));
    expect((await perf.core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod(), args: { nics: 1 } })).nics.map((n) => n.master)).toEqual(['eth2']);
    // perfOpt counts selections: with equal speeds the less used NIC wins.
    const even = setupHl(passThroughNetwork(undefined, 'perfOpt'), [nic('eth1', '10.0.1.1', { speed: 100000 }), nic('eth2', '10.0.2.1', { speed: 100000 })]);
    const first = (await even.core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod('p1'), args: { nics: 1 } })).nics[0]?.master;
    const second = (await even.core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod('p2'), args: { nics: 1 } })).nics[0]?.master;
    expect(new Set([first, second])).toEqual(new Set(['eth1', 'eth2']));
  });

  it('no NIC up on masterNets → NotReady naming what the host has', async () => {
    const { core } = setupHl(passThroughNetwork(['10.7.0.0/24']));
    expect(await code(core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod() }))).toBe('NotReady/503: host h1 has no secondary NIC up on masterNets 10.7.0.0/24 for network "hl" (found eth1 10.0.1.0/24, eth2 10.0.2.0/24)');
  });
});

describe('AgentCore.gc (CNI GC)', () => {
  it('releases what the runtime does not list, keeps listed and recent holders, other networks untouched', async () => {
    let t = 0;
    const state = new StaticState([{ network: testNetwork(), cidr: testCidr(['h1']) }, { network: testNetwork({ name: 'other' }), cidr: testCidr(['h1'], 'other') }, { network: passThroughNetwork() }]);
    const ipam = new FakeIpam();
    const core = new AgentCore({ hostName: 'h1', state, ipam, nics: () => H1_NICS, now: () => t, gcGraceMs: 1000 });
    for (const c of ['c1', 'c2', 'c3']) await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod(`u-${c}`, c) });
    await core.allocate({ apiVersion: 'v1', network: 'other', pod: pod('u-o', 'c9') });
    await core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod('u-h', 'c8') });
    t = 5000;
    await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('u-c4', 'c4') }); // in flight: within grace
    const r = await core.gc({ apiVersion: 'v1', network: 'mnet', keep: [{ containerID: 'c2', ifName: 'net1' }] });
    expect(r).toEqual({ apiVersion: 'v1', released: 4 });
    expect(ipam.list().map((a) => `${a.network}/${a.containerID}/${a.interface}`).sort()).toEqual(['mnet/c2/net1-0', 'mnet/c2/net1-1', 'mnet/c4/net1-0', 'mnet/c4/net1-1', 'other/c9/net1-0', 'other/c9/net1-1']);
    // A repeated ADD of a collected container gets fresh addresses (the holder index forgot it).
    const again = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('u-c1', 'c1') });
    expect(again.nics).toHaveLength(2);
    expect(ipam.list()).toHaveLength(8);
    // Single-NIC IPAM selections are collected too.
    expect(await core.gc({ apiVersion: 'v1', network: 'hl', keep: [] })).toEqual({ apiVersion: 'v1', released: 0 });
    expect(await code(core.lookup({ apiVersion: 'v1', network: 'hl', pod: pod('u-h', 'c8') }))).toMatch(/^NotFound/);
  });

  it('a request without a keep list (absent, null, not a list) is refused and releases nothing: 60 allocations stay', async () => {
    const { core, ipam } = setup();
    for (let i = 0; i < 30; i++) await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod(`u-${i}`, `c-${i}`) });
    expect(ipam.list()).toHaveLength(60);
    for (const keep of [undefined, null, {}, 'c-1']) {
      expect(await code(core.gc({ apiVersion: 'v1', network: 'mnet', ...(keep === undefined ? {} : { keep }) }))).toBe("InvalidRequest/400: keep must be a list of {containerID, ifName} (the runtime's valid attachments; [] keeps none)");
    }
    expect(ipam.list()).toHaveLength(60);
  });

  it('never releases an allocation whose pod the agent knows to be live, whatever the runtime lists', async () => {
    const state = new StaticState([{ network: testNetwork(), cidr: testCidr(['h1']) }]);
    const ipam = new FakeIpam();
    const logs: Array<Record<string, unknown>> = [];
    const live = new Set(['u-live']);
    const core = new AgentCore({ hostName: 'h1', state, ipam, nics: () => H1_NICS, gcGraceMs: 0, now: () => 1000, liveReason: (a) => (live.has(a.podUID) ? `pod ${a.namespace}/${a.podName} is Running` : undefined), log: (e) => logs.push(e) });
    await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('u-live', 'c-live') });
    await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('u-gone', 'c-gone') });
    expect(await core.gc({ apiVersion: 'v1', network: 'mnet', keep: [] })).toEqual({ apiVersion: 'v1', released: 2, spared: 2 });
    expect(ipam.list().map((a) => `${a.containerID}/${a.interface}`).sort()).toEqual(['c-live/net1-0', 'c-live/net1-1']);
    expect(logs).toEqual([{ level: 'warn', msg: 'CNI GC: kept the addresses of a live pod the runtime did not list', network: 'mnet', pod: 'default/p', containerID: 'c-live', ifName: 'net1', why: 'pod default/p is Running' }]);
    // Once the pod is gone, the next GC collects it; the held addresses are usable again through the core.
    live.clear();
    expect(await core.gc({ apiVersion: 'v1', network: 'mnet', keep: [] })).toEqual({ apiVersion: 'v1', released: 2 });
    expect(ipam.list()).toEqual([]);
  });

  it('validates the request', async () => {
    const { core } = setup();
    expect(await code(core.gc({ apiVersion: 'v1', network: 'mnet' }))).toBe("InvalidRequest/400: keep must be a list of {containerID, ifName} (the runtime's valid attachments; [] keeps none)");
    expect(await code(core.gc({ apiVersion: 'v1', network: 'mnet', keep: [{ containerID: 'c1' }] }))).toBe('InvalidRequest/400: keep[0].ifName must be a non-empty string');
  });
});
