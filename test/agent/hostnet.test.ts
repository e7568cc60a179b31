// linkOpToBatch is the one place link names reach `ip -batch`, whose parser reads `#` as a comment,
// quotes as grouping and `\` as an escape: a name a pod chose (host-device returns a NIC under its
// pod name) must never change the command. Names outside the kernel's usual ifname alphabet are
// refused with an error naming the field; ordinary names make the expected line.
import { describe, expect, it } from 'vitest';
import { IpHostNetwork, linkOpToBatch, type LinkOp } from '../../src/agent/hostnet.js';

describe('linkOpToBatch', () => {
  it.each<[string, LinkOp, string]>([
    ['macvlan shim', { op: 'macvlan-add', name: 'mn-eth1', parent: 'eth1' }, 'link add link eth1 name mn-eth1 type macvlan mode bridge'],
    ['rename a returned NIC', { op: 'link-rename', name: 'net1-0', to: 'ens1f0.100' }, 'link set net1-0 name ens1f0.100'],
    ['an @ and _ in a name', { op: 'link-up', name: 'v_x@1' }, 'link set v_x@1 up'],
    ['mtu', { op: 'link-mtu', name: 'eth2', mtu: 9000 }, 'link set eth2 mtu 9000'],
    ['IPv6 address, nodad', { op: 'addr-add', dev: 'eth3', address: 'fd00:3::1/64', nodad: true }, 'addr add fd00:3::1/64 dev eth3 nodad'],
  ])('%s', (_n, op, line) => {
    expect(linkOpToBatch(op)).toBe(line);
  });

  it.each<[string, LinkOp, string]>([
    ['a # (ip -batch comment)', { op: 'link-down', name: 'net#1-0' }, 'name "net#1-0"'],
    ['a double quote', { op: 'link-rename', name: 'net1-0', to: 'a"b' }, 'new name "a\\"b"'],
    ['a single quote', { op: 'link-del', name: "x'y" }, 'name "x\'y"'],
    ['a backslash', { op: 'link-up', name: 'a\\b' }, 'name "a\\\\b"'],
    ['a space (a second argument)', { op: 'link-up', name: 'eth1 down' }, 'name "eth1 down"'],
    ['a newline (a second command)', { op: 'link-del', name: 'x\nlink del eth0' }, 'name "x\\nlink del eth0"'],
    ['more than 15 bytes', { op: 'link-up', name: 'abcdefghijklmnop' }, 'name "abcdefghijklmnop"'],
    ['an empty name', { op: 'link-up', name: '' }, 'name ""'],
    ['a parent with a #', { op: 'macvlan-add', name: 'mn-eth1', parent: 'eth1#' }, 'parent "eth1#"'],
    ['an address device with a quote', { op: 'addr-del', dev: 'e"1', address: '10.0.0.1/24' }, 'device "e\\"1"'],
    ['an address that is not one', { op: 'addr-add', dev: 'eth1', address: '10.0.0.1/24 # x' }, 'address "10.0.0.1/24 # x"'],
    ['an mtu that is not a number', { op: 'link-mtu', name: 'eth1', mtu: Number.NaN }, 'mtu NaN'],
  ])('refuses %s', (_n, op, named) => {
    expect(() => linkOpToBatch(op)).toThrow(`refusing ${op.op}: ${named} `);
  });

  it('IpHostNetwork.apply refuses a bad name before running ip at all', async () => {
    // A netns path that does not exist: any ip run would fail with another message.
    const net = new IpHostNetwork({ path: '/nonexistent/netns' });
    await expect(net.apply([{ op: 'link-up', name: 'eth1' }, { op: 'link-del', name: 'x#y' }])).rejects.toThrow(/^refusing link-del: name "x#y" is not an interface name ip -batch can take safely/);
  });
});
