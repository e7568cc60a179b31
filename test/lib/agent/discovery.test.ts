import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SKIP_KINDS, DEFAULT_SKIP_PREFIXES, linkState, nicChanges, nicsChanged, notNicReason, secondaryNics, type IpAddrLink, type IpRoute } from '../../../src/lib/agent/discovery.js';

// Captured from a namespace holding: lo; eth0 (default route, 172.16.0.2/24); eth1 (10.0.1.5/24 +
// fd00:1::5/64); their veth peers without addresses; br0 (bridge, 10.9.0.1/24); net1-0 (a pod
// interface left on the host, 10.0.3.3/24); mnshim7 (our macvlan shim, 192.168.0.1/24).
const links = JSON.parse(readFileSync(new URL('./fixtures/ip-addr.json', import.meta.url), 'utf8')) as IpAddrLink[];
const routes = JSON.parse(readFileSync(new URL('./fixtures/ip-route-default.json', import.meta.url), 'utf8')) as IpRoute[];

describe('secondaryNics from captured ip -json output', () => {
  it('keeps only the addressed secondary NIC, with sysfs facts merged', () => {
    const nics = secondaryNics(links, routes, { eth1: { pciAddress: '0000:3b:00.0', vendor: '15b3', product: '1019', numaNode: 1, speed: 100000 } });
    expect(nics).toEqual([
      {
        ifindex: 3,
        interfaceName: 'eth1',
        netAddress: '10.0.1.0/24',
        hostIP: '10.0.1.5',
        hostIPv6: 'fd00:1::5',
        netAddressV6: 'fd00:1::/64',
        vendor: '15b3',
        product: '1019',
        pciAddress: '0000:3b:00.0',
        numaNode: 1,
        speed: 100000,
        mtu: 1500,
        state: 'up',
      },
    ]);
  });

  it('a virtual NIC without PCI data still counts, with empty identity and unknown NUMA', () => {
    const [nic] = secondaryNics(links, routes, {});
    expect(nic).toMatchObject({ interfaceName: 'eth1', vendor: '', product: '', pciAddress: '', numaNode: -1, speed: 0 });
  });

  it('without a default route the default-route NIC becomes a candidate too', () => {
    expect(secondaryNics(links, [], {}).map((n) => n.interfaceName)).toEqual(['eth0', 'eth1']);
  });

  it('skips a NIC on the default-route network even under another name', () => {
    const twin: IpAddrLink = { ifindex: 50, ifname: 'eth9', flags: ['UP', 'LOWER_UP'], operstate: 'UP', addr_info: [{ family: 'inet', local: '172.16.0.9', prefixlen: 24, scope: 'global' }] };
    expect(secondaryNics([...links, twin], routes, {}).map((n) => n.interfaceName)).toEqual(['eth1']);
  });

  it.each<[string, Partial<IpAddrLink>]>([
    ['admin down', { flags: ['BROADCAST'], operstate: 'DOWN' }],
    ['no carrier', { flags: ['UP', 'NO-CARRIER'], operstate: 'LOWERLAYERDOWN' }],
    ['no IPv4 address', { addr_info: [{ family: 'inet6', local: 'fd00::1', prefixlen: 64, scope: 'global' }] }],
    ['only a link-scope IPv4 address', { addr_info: [{ family: 'inet', local: '169.254.1.1', prefixlen: 16, scope: 'link' }] }],
    ['a vxlan overlay', { linkinfo: { info_kind: 'vxlan' } }],
    ['a CNI bridge by name', { ifname: 'cni0' }],
    ['a pod leftover named netN-i', { ifname: 'net2-1' }],
    ['our shim', { ifname: 'mnshim12' }],
  ])('skips a link that is %s', (_name, patch) => {
    const base: IpAddrLink = { ifindex: 60, ifname: 'ens5', flags: ['UP', 'LOWER_UP'], operstate: 'UP', addr_info: [{ family: 'inet', local: '10.7.0.2', prefixlen: 24, scope: 'global' }] };
    const got = secondaryNics([{ ...base, ...patch }], [], {}).map((n) => n.interfaceName);
    expect(got).toEqual([]);
    expect(secondaryNics([base], [], {}).map((n) => n.interfaceName)).toEqual(['ens5']);
  });

  it('keepDown (the agent): a NIC set down or without carrier stays, with state down; a removed one and other non-NICs do not', () => {
    const base: IpAddrLink = { ifindex: 60, ifname: 'ens5', flags: ['UP', 'LOWER_UP'], operstate: 'UP', addr_info: [{ family: 'inet', local: '10.7.0.2', prefixlen: 24, scope: 'global' }] };
    const keep = (patch: Partial<IpAddrLink>) => secondaryNics([{ ...base, ...patch }], [], {}, { keepDown: true }).map((n) => [n.interfaceName, n.state]);
    expect(keep({ flags: ['BROADCAST'], operstate: 'DOWN' })).toEqual([['ens5', 'down']]);
    // Admin down with an operstate the driver did not update still reads down.
    expect(keep({ flags: ['BROADCAST'], operstate: 'UNKNOWN' })).toEqual([['ens5', 'down']]);
    expect(keep({ flags: ['UP', 'NO-CARRIER'], operstate: 'LOWERLAYERDOWN' })).toEqual([['ens5', 'down']]);
    expect(keep({})).toEqual([['ens5', 'up']]);
    expect(keep({ operstate: 'NOTPRESENT' })).toEqual([]);
    expect(keep({ flags: ['BROADCAST'], operstate: 'DOWN', addr_info: [] })).toEqual([]);
    expect(keep({ flags: ['BROADCAST'], operstate: 'DOWN', ifname: 'mnshim3' })).toEqual([]);
  });

  // What a primary CNI leaves in the host netns per pod, and what must still count as a NIC.
  const v4 = (local: string, prefixlen: number) => [{ family: 'inet', local, prefixlen, scope: 'global' }];
  const veth = (ifname: string, extra: Partial<IpAddrLink> = {}): IpAddrLink => ({ ifindex: 70, ifname, flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], operstate: 'UP', linkinfo: { info_kind: 'veth' }, ...extra });
  const ctx = { defaultDevs: new Set<string | undefined>(), defaultNets: new Set<string>(), skipKinds: DEFAULT_SKIP_KINDS, skipPrefixes: DEFAULT_SKIP_PREFIXES };
  it.each<[string, IpAddrLink, string | undefined]>([
    ['ptp pod veth (gateway /32 only, kernel name)', veth('veth17be1b88', { addr_info: v4('10.88.0.1', 32) }), 'name starts with veth'],
    ['ptp pod veth renamed (gateway /32 only)', veth('pod7f3a', { addr_info: v4('10.88.0.1', 32) }), "veth with only /32 addresses (a pod's host-side veth)"],
    ['bridge-plugin pod veth (port of cni0, no address)', veth('vethab12', { master: 'cni0', linkinfo: { info_kind: 'veth', info_slave_kind: 'bridge' } }), 'name starts with veth'],
    ['any bridge port, even with an address', veth('port1', { master: 'br0', linkinfo: { info_kind: 'veth', info_slave_kind: 'bridge' }, addr_info: v4('10.6.0.1', 24) }), 'bridge port of br0'],
    ['a bond member', { ifindex: 71, ifname: 'ens1f0', flags: ['UP', 'LOWER_UP', 'SLAVE'], operstate: 'UP', master: 'bond0', linkinfo: { info_slave_kind: 'bond' }, addr_info: v4('10.6.1.1', 24) }, 'bond port of bond0'],
    ['Cilium endpoint veth', veth('lxc12ab', { addr_info: v4('10.0.0.9', 24) }), 'name starts with lxc'],
    ['podman bridge', { ifindex: 72, ifname: 'podman0', flags: ['UP', 'LOWER_UP'], operstate: 'UP', linkinfo: { info_kind: 'bridge' }, addr_info: v4('10.88.0.1', 16) }, 'name starts with podman'],
    ['lab/test-bed NIC: a veth with a /24 (peer in a fabric netns)', veth('eth1', { addr_info: v4('10.0.1.5', 24) }), undefined],
    ['cloud NIC holding a /32 (not a veth)', { ifindex: 73, ifname: 'ens7', flags: ['UP', 'LOWER_UP'], operstate: 'UP', addr_info: v4('10.128.0.7', 32) }, undefined],
    ['a NIC in a VRF', { ifindex: 74, ifname: 'ens8', flags: ['UP', 'LOWER_UP'], operstate: 'UP', master: 'vrf-blue', linkinfo: { info_slave_kind: 'vrf' }, addr_info: v4('10.5.0.7', 24) }, undefined],
  ])('classifies %s', (_name, link, reason) => {
    expect(notNicReason(link, ctx)).toBe(reason);
    expect(secondaryNics([link], [], {}).map((n) => n.interfaceName)).toEqual(reason === undefined ? [link.ifname] : []);
  });

  it('operstate UNKNOWN (some virtual links) is reported as unknown but still a NIC', () => {
    const l: IpAddrLink = { ifindex: 61, ifname: 'ens6', flags: ['UP', 'LOWER_UP'], operstate: 'UNKNOWN', addr_info: [{ family: 'inet', local: '10.8.0.2', prefixlen: 16, scope: 'global' }] };
    expect(secondaryNics([l], [], {})).toMatchObject([{ interfaceName: 'ens6', netAddress: '10.8.0.0/16', state: 'unknown' }]);
    expect([linkState('UP'), linkState('DOWN'), linkState(undefined)]).toEqual(['up', 'down', 'unknown']);
  });

  it('nicsChanged ignores order and ifindex, sees any reported field', () => {
    const a = secondaryNics(links, routes, {});
    expect(nicsChanged(a, [...a].reverse())).toBe(false);
    expect(nicsChanged(a, a.map((n) => ({ ...n, mtu: 9000 })))).toBe(true);
    expect(nicsChanged(a, [])).toBe(true);
  });

  it('nicChanges names each NIC and field that differs, sorted, without ifindex', () => {
    const a = secondaryNics(links, routes, {});
    expect(nicChanges(a, [...a].reverse().map((n) => ({ ...n, ifindex: 99 })))).toEqual([]);
    expect(a.map((n) => [n.mtu, n.state])).toEqual([[1500, 'up']]);
    expect(nicChanges(a, a.map((n) => ({ ...n, mtu: 9000, state: 'down' as const })))).toEqual(['eth1 mtu 1500→9000', 'eth1 state up→down']);
    expect(nicChanges(a, [])).toEqual(['-eth1']);
    expect(nicChanges([], a)).toEqual(['+eth1']);
  });
});
