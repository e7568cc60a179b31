import { describe, expect, it } from 'vitest';
import { desiredShims, diffShims, reconcileShims, shimName } from '../../src/agent/shim.js';
import { FakeHostNetwork } from '../fakes/hostnet.js';
import { testCidr, testNetwork } from './helpers/network.js';

describe('macvlan L3 shims', () => {
  it('wants one gateway per NIC for macvlan l3 only', () => {
    const cidr = testCidr(['h1', 'h2']);
    expect([...desiredShims([{ network: testNetwork(), cidr }], 'h2')]).toEqual([
      ['eth1', ['192.168.1.1/24']],
      ['eth2', ['192.168.65.1/24']],
    ]);
    expect(desiredShims([{ network: testNetwork({ plugin: 'ipvlan' }), cidr }], 'h2').size).toBe(0);
    expect(desiredShims([{ network: testNetwork({ vlanMode: 'l2' }), cidr }], 'h2').size).toBe(0);
    expect(desiredShims([{ network: testNetwork() }], 'h2').size).toBe(0);
  });

  it('creates, keeps in sync and removes shims; converged → no ops', async () => {
    const host = new FakeHostNetwork();
    const eth1 = host.addLink('eth1', ['10.0.1.1/24']);
    host.addLink('eth2', ['10.0.2.1/24']);
    host.addLink('mnshimx', []); // not ours: not a number after the prefix
    const want = desiredShims([{ network: testNetwork(), cidr: testCidr(['h1', 'h2']) }], 'h1');
    await reconcileShims(host, want);
    const shim1 = host.links_.find((l) => l.name === shimName(eth1.ifindex));
    expect(shim1).toMatchObject({ kind: 'macvlan', parent: 'eth1', up: true, addresses: ['192.168.0.1/24'] });
    expect((await reconcileShims(host, want)).ops).toEqual([]);

    // Host index changed (re-plan): the address moves.
    const moved = desiredShims([{ network: testNetwork(), cidr: testCidr(['h0', 'h1']) }], 'h1');
    const res = await reconcileShims(host, moved);
    expect(res.ops.filter((o) => o.op.startsWith('addr'))).toEqual([
      { op: 'addr-del', dev: shimName(eth1.ifindex), address: '192.168.0.1/24' },
      { op: 'addr-add', dev: shimName(eth1.ifindex), address: '192.168.1.1/24' },
      expect.objectContaining({ op: 'addr-del' }),
      expect.objectContaining({ op: 'addr-add' }),
    ]);

    // Network gone: our shims go, the foreign link stays.
    await reconcileShims(host, new Map());
    expect(host.links_.map((l) => l.name)).toEqual(['eth1', 'eth2', 'mnshimx']);
  });

  it('leaves off a gateway a pod holds (network changed into macvlan L3 under it), keeping the others', async () => {
    const host = new FakeHostNetwork();
    const eth1 = host.addLink('eth1', ['10.0.1.1/24']);
    const eth2 = host.addLink('eth2', ['10.0.2.1/24']);
    const nets = [{ network: testNetwork(), cidr: testCidr(['h1', 'h2']) }];
    expect([...desiredShims(nets, 'h1', new Set(['192.168.0.1']))]).toEqual([['eth2', ['192.168.64.1/24']]]);
    await reconcileShims(host, desiredShims(nets, 'h1', new Set(['192.168.0.1'])));
    expect(host.links_.filter((l) => l.kind === 'macvlan').map((l) => [l.name, l.addresses])).toEqual([[shimName(eth2.ifindex), ['192.168.64.1/24']]]);
    // The pod is gone: the gateway is the host's.
    await reconcileShims(host, desiredShims(nets, 'h1'));
    expect(host.links_.find((l) => l.name === shimName(eth1.ifindex))?.addresses).toEqual(['192.168.0.1/24']);
  });

  it('a parent that is absent is reported, not created', () => {
    const res = diffShims([{ name: 'eth1', ifindex: 3, up: true, addresses: [] }], new Map([['eth9', ['192.168.0.1/24']]]));
    expect(res).toEqual({ ops: [], missingParents: ['eth9'] });
  });

  it('a failure part-way removes the shims this pass created and says so', async () => {
    const host = new FakeHostNetwork();
    host.addLink('eth1', ['10.0.1.1/24']);
    host.addLink('eth2', ['10.0.2.1/24']);
    host.failAtOp = 3; // macvlan-add eth1, addr-add, link-up, [macvlan-add eth2 fails]
    const want = desiredShims([{ network: testNetwork(), cidr: testCidr(['h1', 'h2']) }], 'h1');
    await expect(reconcileShims(host, want)).rejects.toThrow(/failed to reconcile macvlan shims: injected failure.*rolled back: removed mnshim100/);
    expect(host.links_.map((l) => l.name)).toEqual(['eth1', 'eth2']);
  });
});
