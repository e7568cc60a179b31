import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findReturned, NicLending, NicLentError, restoreOps, type LentNic } from '../../src/agent/lending.js';
import { AgentCore, AgentError } from '../../src/agent/core.js';
import type { DiscoveredNic } from '../../src/lib/agent/discovery.js';
import { FakeHostNetwork } from '../fakes/hostnet.js';
import { FakeIpam } from '../fakes/ipam.js';
import { StaticState, testCidr, testNetwork } from './helpers/network.js';

const nic = (name: string, net: number, extra: Partial<DiscoveredNic> = {}): DiscoveredNic => ({
  ifindex: 10 + net, interfaceName: name, netAddress: `10.0.${net}.0/24`, hostIP: `10.0.${net}.1`, vendor: '', product: '', pciAddress: '', numaNode: -1, speed: 0, mtu: 9000, state: 'up', ...extra,
});
const ETH1 = nic('eth1', 1, { hostIPv6: 'fd00:1::1', netAddressV6: 'fd00:1::/64' });
const ETH2 = nic('eth2', 2);
const holder = (c = 'c1') => ({ network: 'hd', containerID: c, ifName: 'net1', podUID: `uid-${c}` });

describe('NicLending', () => {
  let dir: string;
  let hostNet: FakeHostNetwork;
  let t = 1_000_000;
  const logs: Array<Record<string, unknown>> = [];
  const open = (extra: Partial<Parameters<typeof NicLending.open>[0]> = {}) => NicLending.open({ path: join(dir, 'lent-nics.json'), hostNet, now: () => t, log: (e) => logs.push(e), fsync: false, netnsExists: () => true, ...extra });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mn-lend-'));
    hostNet = new FakeHostNetwork();
    logs.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a lent NIC stays lent across a reopen (restart), to its holder only', async () => {
    const a = await open();
    await a.lend(holder(), [{ nic: ETH1, podInterface: 'net1-0' }], { pod: { namespace: 'ml', name: 'train-0' }, netns: '/run/netns/p1' });
    const b = await open();
    expect(b.lentTo('eth1')).toMatchObject({ holder: holder(), pod: { namespace: 'ml', name: 'train-0' }, addresses: ['10.0.1.1/24', 'fd00:1::1/64'], podInterface: 'net1-0', lentAt: t });
    expect(b.outstanding().map((n) => n.interfaceName)).toEqual(['eth1']);
    await expect(b.lend(holder('c2'), [{ nic: ETH1, podInterface: 'net1-0' }])).rejects.toThrow(NicLentError);
    await expect(b.lend(holder('c2'), [{ nic: ETH1, podInterface: 'net1-0' }])).rejects.toThrow('NIC eth1 is lent to pod ml/train-0 (container c1 net1-0)');
    await b.lend(holder(), [{ nic: ETH1, podInterface: 'net1-0' }]); // a repeated ADD
    expect(b.list()).toHaveLength(1);
  });

  it('two concurrent lends of one NIC: exactly one wins', async () => {
    const l = await open();
    const r = await Promise.allSettled([l.lend(holder('c1'), [{ nic: ETH2, podInterface: 'net1-0' }]), l.lend(holder('c2'), [{ nic: ETH2, podInterface: 'net1-0' }])]);
    expect(r.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((await open()).list().map((x) => x.holder.containerID)).toEqual(['c1']);
  });

  it('giveBack after host-device DEL: renamed back, down, no address → addresses, MTU and up restored; record dropped', async () => {
    const l = await open();
    await l.lend(holder(), [{ nic: ETH1, podInterface: 'net1-0' }]);
    hostNet.addLink('eth1', [], { up: false, alias: 'eth1', mtu: 1500 });
    expect(await l.giveBack(holder())).toBe(1);
    expect(hostNet.links_.find((x) => x.name === 'eth1')).toMatchObject({ up: true, mtu: 9000, addresses: ['10.0.1.1/24', 'fd00:1::1/64'] });
    expect(hostNet.batches.at(-1)).toEqual([
      { op: 'link-mtu', name: 'eth1', mtu: 9000 },
      { op: 'addr-add', dev: 'eth1', address: '10.0.1.1/24' },
      { op: 'addr-add', dev: 'eth1', address: 'fd00:1::1/64', nodad: true },
      { op: 'link-up', name: 'eth1' },
    ]);
    expect((await open()).list()).toEqual([]);
    expect(await l.giveBack(holder())).toBe(0);
  });

  it('an ADD rolled back before the NIC moved: nothing to restore, the record goes', async () => {
    const l = await open();
    await l.lend(holder(), [{ nic: ETH2, podInterface: 'net1-0' }]);
    hostNet.addLink('eth2', ['10.0.2.1/24'], { mtu: 9000 });
    await l.giveBack(holder());
    expect(hostNet.batches).toEqual([]);
    expect(l.list()).toEqual([]);
  });

  it('released but not back (a veth destroyed with its pod): no longer outstanding, waits, restored when it appears', async () => {
    const l = await open();
    await l.lend(holder(), [{ nic: ETH2, podInterface: 'net1-0' }]);
    await l.giveBack(holder());
    expect(l.outstanding()).toEqual([]);
    expect(l.lentTo('eth2')).toBeUndefined();
    expect(await l.reclaim()).toEqual({ restored: [], waiting: ['eth2'] });
    expect(logs.filter((e) => e.msg === 'released NIC is not back in the host namespace; it is restored when it appears')).toHaveLength(1);
    hostNet.addLink('eth2', [], { up: false });
    expect(await l.reclaim()).toEqual({ restored: ['eth2'], waiting: [] });
    expect(hostNet.links_[0]).toMatchObject({ name: 'eth2', up: true, addresses: ['10.0.2.1/24'] });
  });

  it('the kernel returned a physical NIC under its pod name (netns gone, no DEL): found by alias after the grace period, renamed back', async () => {
    const l = await open({ graceMs: 60_000 });
    await l.lend(holder(), [{ nic: ETH2, podInterface: 'net1-0' }]);
    hostNet.addLink('net1-0', ['192.168.0.5/24'], { up: false, alias: 'eth2' });
    expect(await l.reclaim()).toEqual({ restored: [], waiting: [] }); // within the grace period: an ADD may be in flight
    t += 60_001;
    expect(await l.reclaim()).toEqual({ restored: ['eth2'], waiting: [] });
    expect(hostNet.links_.map((x) => [x.name, x.up, x.addresses])).toEqual([['eth2', true, ['192.168.0.5/24', '10.0.2.1/24']]]);
    expect(hostNet.batches[0]?.slice(0, 2)).toEqual([{ op: 'link-down', name: 'net1-0' }, { op: 'link-rename', name: 'net1-0', to: 'eth2' }]);
  });

  it('a lent NIC whose pod netns is gone and which did not come back is released (lost) and logged', async () => {
    let exists = true;
    const l = await open({ netnsExists: (p) => p === '/run/netns' || exists });
    await l.lend(holder(), [{ nic: ETH2, podInterface: 'net1-0' }], { netns: '/run/netns/p9' });
    expect(await l.reclaim()).toEqual({ restored: [], waiting: [] });
    expect(l.outstanding()).toHaveLength(1);
    exists = false;
    expect(await l.reclaim()).toEqual({ restored: [], waiting: ['eth2'] });
    expect(l.outstanding()).toEqual([]);
    expect(logs.find((e) => e.msg === 'lent NIC lost with its pod')).toMatchObject({ nic: 'eth2', netns: '/run/netns/p9' });
  });

  it.each([
    ['/proc/4242/ns/net', 'a /proc/<pid> path: the pod\'s process is in a PID namespace the agent does not share'],
    ['/var/run/docker/netns/0a1b2c', 'a directory the agent does not mount'],
  ])('a lent NIC whose netns path %s the agent cannot see stays lent (unknown is not gone), %s', async (path) => {
    // The agent sees /run/netns (its host mount) and nothing of the pod's path.
    const l = await open({ netnsExists: (p) => p === '/run/netns' || p === '/var/run/netns' });
    await l.lend(holder(), [{ nic: ETH2, podInterface: 'net1-0' }], { netns: path });
    for (const dt of [0, 1_000, 120_000]) {
      t += dt;
      expect(await l.reclaim()).toEqual({ restored: [], waiting: [] });
    }
    expect(l.outstanding().map((n) => n.interfaceName)).toEqual(['eth2']);
    expect(logs.filter((e) => e.msg === 'lent NIC lost with its pod')).toEqual([]);
    await expect(l.lend(holder('c2'), [{ nic: ETH2, podInterface: 'net1-0' }])).rejects.toThrow(NicLentError);
    // Its DEL still gives it back.
    expect(await l.giveBack(holder())).toBe(1);
    expect(l.outstanding()).toEqual([]);
  });

  it('a malformed record refuses to open, saying how to recover', async () => {
    writeFileSync(join(dir, 'lent-nics.json'), '{"kind":"LentNics","lent":[{"nic":{}}]}');
    await expect(open()).rejects.toThrow(/is not valid JSON of kind LentNics; move it aside/);
  });

  it('findReturned / restoreOps: by name, else alias; never by ifindex alone; nothing to do for an intact NIC', () => {
    const rec: LentNic = { nic: ETH2, addresses: ['10.0.2.1/24'], holder: holder(), podInterface: 'net1-0', lentAt: 0 };
    expect(findReturned(rec, [{ name: 'veth9', ifindex: ETH2.ifindex, up: true, addresses: [] }])).toBeUndefined();
    expect(findReturned(rec, [{ name: 'dev12', ifindex: 99, up: false, addresses: [], alias: 'eth2' }])?.name).toBe('dev12');
    expect(restoreOps(rec, { name: 'eth2', ifindex: 12, up: true, addresses: ['10.0.2.1/24'], mtu: 9000 })).toEqual([]);
  });
});

describe('AgentCore with host-device: NICs are lent', () => {
  /**
   * An AgentCore with NIC lending over two host-device NICs: `mnet` on multi-nic-ipam, or with
   * `singleNic` the network `hl` whose IPAM (host-local) is passed through to each selected NIC.
   */
  const setup = async ({ singleNic = false, ...extra }: { gcGraceMs?: number; singleNic?: boolean } = {}) => {
    const dir = mkdtempSync(join(tmpdir(), singleNic ? 'mn-lendhl-' : 'mn-lendcore-'));
    const net = testNetwork(singleNic ? { name: 'hl', vlanMode: '' } : { name: 'mnet' });
    net.spec.plugin = { cniVersion: '1.0.0', type: 'host-device' };
    if (singleNic) {
      net.spec.ipam = JSON.stringify({ type: 'host-local' });
      net.spec.multiNICIPAM = false;
    }
    const state = new StaticState([singleNic ? { network: net } : { network: net, cidr: testCidr(['h1']) }], {});
    const hostNet = new FakeHostNetwork();
    const lending = await NicLending.open({ path: join(dir, 'lent.json'), hostNet, fsync: false });
    const ipam = new FakeIpam();
    const nics = [nic('eth1', 1), nic('eth2', 2)];
    const core = new AgentCore({ hostName: 'h1', state, ipam, nics: () => nics, lending, ...extra });
    return { core, lending, ipam, hostNet, nics, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  };
  const pod = (c: string) => ({ namespace: 'default', name: `p-${c}`, uid: `u-${c}`, containerID: c, ifName: 'net1' });

  it('a lent NIC is not offered to another pod; an all-NIC pod is refused naming who holds it; release gives it back', async () => {
    const s = await setup();
    try {
      const a = await s.core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('c1'), args: { masters: ['eth2'] } });
      expect(a.nics.map((n) => n.master)).toEqual(['eth2']);
      expect(s.lending.lentTo('eth2')?.holder.containerID).toBe('c1');
      const err = await s.core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('c2'), args: { masters: ['eth2'] } }).catch((e: AgentError) => e);
      expect(err).toBeInstanceOf(AgentError);
      expect((err as AgentError).code).toBe('NoMatchingNic');
      const all = await s.core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('c3') }).catch((e: AgentError) => e);
      expect((all as AgentError).code).toBe('NotReady');
      expect((all as AgentError).message).toContain('NIC eth2 (10.0.2.0/24: lent to pod default/p-c1 (container c1 net1-0)) of host h1 is missing (1 of 2 present)');
      const one = await s.core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('c4'), args: { nics: 1 } });
      expect(one.nics.map((n) => n.master)).toEqual(['eth1']);
      // DEL of c1: host-device moved eth2 back (down, no address); release restores it.
      s.hostNet.addLink('eth2', [], { up: false, alias: 'eth2', mtu: 9000 });
      await s.core.release({ apiVersion: 'v1', network: 'mnet', pod: { uid: 'u-c1', containerID: 'c1', ifName: 'net1' } });
      expect(s.lending.lentTo('eth2')).toBeUndefined();
      expect(s.hostNet.links_.find((l) => l.name === 'eth2')).toMatchObject({ up: true, addresses: ['10.0.2.1/24'] });
      // c4 still holds eth1.
      expect(s.lending.lentTo('eth1')?.holder.containerID).toBe('c4');
    } finally {
      s.cleanup();
    }
  });

  it('single-NIC IPAM (host-local passed through) with host-device: the selected NICs are lent too', async () => {
    const { core, hostNet, lending, cleanup } = await setup({ singleNic: true });
    try {
      const a = await core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod('c1'), args: { nics: 1 } });
      expect(a.nics.map((n) => n.master)).toEqual(['eth1']);
      const b = await core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod('c2'), args: { nics: 1 } });
      expect(b.nics.map((n) => n.master)).toEqual(['eth2']);
      expect(await core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod('c3') }).catch((e: AgentError) => e.code)).toBe('NotReady');
      hostNet.addLink('eth1', [], { up: false, alias: 'eth1' });
      await core.release({ apiVersion: 'v1', network: 'hl', pod: { uid: 'u-c1', containerID: 'c1', ifName: 'net1' } });
      expect(lending.list().map((l) => l.nic.interfaceName)).toEqual(['eth2']);
      expect(hostNet.links_[0]).toMatchObject({ name: 'eth1', up: true, addresses: ['10.0.1.1/24'] });
    } finally {
      cleanup();
    }
  });

  it('CNI GC gives back the NICs of the attachments it releases (multi-nic IPAM), and keeps those of the kept ones', async () => {
    const s = await setup({ gcGraceMs: 0 });
    try {
      await s.core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('c1'), args: { masters: ['eth1'] } });
      await s.core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('c2'), args: { masters: ['eth2'] } });
      expect(s.lending.outstanding().map((n) => n.interfaceName)).toEqual(['eth1', 'eth2']);
      // The runtime lost c1 without a DEL; host-device's link is back in the host (down, bare).
      s.hostNet.addLink('eth1', [], { up: false, alias: 'eth1', mtu: 9000 });
      const r = await s.core.gc({ apiVersion: 'v1', network: 'mnet', keep: [{ containerID: 'c2', ifName: 'net1' }] });
      expect(r.released).toBe(1);
      expect(s.lending.lentTo('eth1')).toBeUndefined();
      expect(s.hostNet.links_.find((l) => l.name === 'eth1')).toMatchObject({ up: true, addresses: ['10.0.1.1/24'] });
      expect(s.lending.lentTo('eth2')?.holder.containerID).toBe('c2');
    } finally {
      s.cleanup();
    }
  });

  it('CNI GC gives back the NICs of the single-NIC IPAM selections it drops', async () => {
    const { core, lending, cleanup } = await setup({ singleNic: true, gcGraceMs: 0 });
    try {
      await core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod('c1'), args: { nics: 1 } });
      await core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod('c2'), args: { nics: 1 } });
      expect(lending.outstanding().map((n) => n.interfaceName)).toEqual(['eth1', 'eth2']);
      await core.gc({ apiVersion: 'v1', network: 'hl', keep: [{ containerID: 'c1', ifName: 'net1' }] });
      expect(lending.lentTo('eth2')).toBeUndefined();
      expect(lending.lentTo('eth1')?.holder.containerID).toBe('c1');
      // eth2 is free again: another pod gets it.
      expect((await core.allocate({ apiVersion: 'v1', network: 'hl', pod: pod('c3'), args: { nics: 1 } })).nics.map((n) => n.master)).toEqual(['eth2']);
    } finally {
      cleanup();
    }
  });

  it('a failed address allocation gives the NICs back (nothing stays lent)', async () => {
    const s = await setup();
    try {
      for (const n of s.nics) s.hostNet.addLink(n.interfaceName, [`${n.hostIP}/24`], { mtu: 9000 }); // never moved
      s.ipam.failNextAllocate = new Error('disk full');
      await expect(s.core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('c1') })).rejects.toThrow('disk full');
      expect(s.lending.list()).toEqual([]);
    } finally {
      s.cleanup();
    }
  });
});
