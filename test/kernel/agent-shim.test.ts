// The macvlan L3 shim on a real kernel: created on the NIC in bridge mode with the gateway address,
// reachable from a pod's macvlan on the same NIC (the parent's own address is not: the reason the
// shim exists), kept in sync, removed when the network goes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privileged } from '../helpers/privileged.js';
import { NetnsLab } from '../agent/helpers/netns.js';
import { testCidr, testNetwork } from '../agent/helpers/network.js';
import { IpHostNetwork } from '../../src/agent/hostnet.js';
import { desiredShims, reconcileShims } from '../../src/agent/shim.js';

describe.skipIf(!privileged.ok)(`agent macvlan shim in a netns ${privileged.reason}`, () => {
  const lab = new NetnsLab('mnags');
  let host: string;
  let pod: string;
  let hostNet: IpHostNetwork;
  let shim: string;

  type Link = { ifname: string; link?: string; operstate?: string; flags?: string[]; linkinfo?: { info_kind?: string; info_data?: { mode?: string } }; addr_info?: Array<{ local: string; prefixlen: number; scope: string }> };
  const shims = async () =>
    (await lab.json<Link>(host, ['-d', 'addr', 'show']))
      .filter((l) => l.ifname.startsWith('mnshim'))
      .map((l) => ({ name: l.ifname, parent: l.link, kind: l.linkinfo?.info_kind, mode: l.linkinfo?.info_data?.mode, up: l.flags?.includes('UP'), addrs: (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`) }));

  beforeAll(async () => {
    host = await lab.netns('h');
    pod = await lab.netns('p');
    const fab = await lab.netns('f');
    await lab.veth(host, 'eth1', fab, 'p1');
    await lab.veth(host, 'eth2', fab, 'p2');
    await lab.ip(host, ['addr add 10.0.1.1/24 dev eth1', 'addr add 10.0.2.1/24 dev eth2']);
    hostNet = new IpHostNetwork({ name: host });
    const [eth1] = await lab.json<{ ifindex: number }>(host, ['link', 'show', 'eth1']);
    shim = `mnshim${eth1?.ifindex}`;
  });
  afterAll(() => lab.cleanup());

  it('without a shim, a pod macvlan cannot reach its parent NIC (why the shim exists)', async () => {
    await lab.ip(host, ['link add link eth1 name mnagpod0 type macvlan mode bridge', `link set mnagpod0 netns ${pod}`]);
    await lab.ip(pod, ['link set mnagpod0 name net1-0', 'addr add 192.168.0.2/24 dev net1-0', 'link set net1-0 up', 'route add 10.0.1.0/24 dev net1-0']);
    expect(await lab.ping(pod, '10.0.1.1')).toBe(false);
  });

  it('creates one bridge-mode macvlan per NIC holding the gateway with the pod block prefix', async () => {
    const res = await reconcileShims(hostNet, desiredShims([{ network: testNetwork(), cidr: testCidr(['h1', 'h2']) }], 'h1'));
    expect(res.missingParents).toEqual([]);
    const got = await shims();
    expect(got.find((s) => s.name === shim)).toEqual({ name: shim, parent: 'eth1', kind: 'macvlan', mode: 'bridge', up: true, addrs: ['192.168.0.1/24'] });
    expect(got.map((s) => [s.parent, s.addrs])).toEqual([['eth1', ['192.168.0.1/24']], ['eth2', ['192.168.64.1/24']]]);
    expect((await reconcileShims(hostNet, desiredShims([{ network: testNetwork(), cidr: testCidr(['h1', 'h2']) }], 'h1'))).ops).toEqual([]);
  });

  it('with the shim, the pod macvlan on the same NIC reaches its gateway', async () => {
    expect(await lab.ping(pod, '192.168.0.1')).toBe(true);
  });

  it('follows a re-plan and removes the shims when the network goes', async () => {
    await reconcileShims(hostNet, desiredShims([{ network: testNetwork(), cidr: testCidr(['h0', 'h1']) }], 'h1'));
    expect((await shims()).map((s) => s.addrs)).toEqual([['192.168.1.1/24'], ['192.168.65.1/24']]);
    await reconcileShims(hostNet, new Map());
    expect(await shims()).toEqual([]);
    const links = (await lab.json<{ ifname: string }>(host, ['link', 'show'])).map((l) => l.ifname);
    expect(links).toEqual(expect.arrayContaining(['eth1', 'eth2']));
  });
});
