import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MonitorNews, readSysfsFacts } from '../../src/agent/discovery.js';

// A fixture sysfs tree shaped like the kernel's: class/net/<if>/device is a relative symlink into
// devices/; a physical NIC, a virtio NIC (device → .../virtio0 under its PCI function), a veth.
describe('readSysfsFacts (fixture sysfs tree)', () => {
  let root: string;
  const put = (p: string, text: string) => {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), text);
  };
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'mnag-sysfs-'));
    const mlx = 'devices/pci0000:00/0000:00:02.0/0000:3b:00.0';
    put(`${mlx}/vendor`, '0x15b3\n');
    put(`${mlx}/device`, '0x1019\n');
    put(`${mlx}/numa_node`, '1\n');
    put('class/net/ens1f0/speed', '100000\n');
    symlinkSync(`../../../${mlx}`, join(root, 'class/net/ens1f0/device'));
    const vio = 'devices/pci0000:00/0000:00:03.0';
    put(`${vio}/vendor`, '0x1af4\n');
    put(`${vio}/device`, '0x1041\n');
    put(`${vio}/numa_node`, '-1\n');
    put(`${vio}/virtio0/vendor`, '0x0001\n');
    put('class/net/eth1/speed', '-1\n');
    symlinkSync(`../../../${vio}/virtio0`, join(root, 'class/net/eth1/device'));
    put('class/net/veth0/mtu', '1500\n');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each([
    ['a PCI NIC', 'ens1f0', { speed: 100000, pciAddress: '0000:3b:00.0', vendor: '15b3', product: '1019', numaNode: 1 }],
    ['a virtio NIC: identity from its PCI function', 'eth1', { speed: 0, pciAddress: '0000:00:03.0', vendor: '1af4', product: '1041', numaNode: -1 }],
    ['a virtual link: speed only', 'veth0', { speed: 0 }],
    ['a link sysfs does not know', 'nope', { speed: 0 }],
  ])('%s', async (_name, ifname, want) => {
    expect(await readSysfsFacts(root, ifname)).toEqual(want);
  });
});

// `ip monitor link address` output as the kernel prints it (captured: a macvlan pod attached to
// eth1 and detached, then eth1's MTU changed, an address added, a link deleted).
describe('MonitorNews', () => {
  const eth1 = '2: eth1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \n    link/ether be:b1:a6:a1:3e:3c brd ff:ff:ff:ff:ff:ff link-netns mnx-f\n';

  it('a link message printed as the last one for that link is not news; the first, a changed one, an address and a deletion are', () => {
    const n = new MonitorNews();
    expect(n.feed(eth1)).toBe(true);
    expect(n.feed(eth1)).toBe(false);
    expect(n.feed(eth1 + eth1)).toBe(false);
    expect(n.feed(eth1.replace('mtu 1500', 'mtu 9000'))).toBe(true);
    expect(n.feed(eth1.replace('mtu 1500', 'mtu 9000'))).toBe(false);
    expect(n.feed(eth1.replace('be:b1', 'be:b2').replace('mtu 1500', 'mtu 9000'))).toBe(true);
    expect(n.feed('2: eth1    inet 10.0.1.5/24 scope global eth1\n       valid_lft forever preferred_lft forever\n')).toBe(true);
    expect(n.feed('Deleted 2: eth1@if2: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \n    link/ether be:b1:a6:a1:3e:3c brd ff:ff:ff:ff:ff:ff\n')).toBe(true);
    // After a deletion, the index is a new link: its first message is news again.
    expect(n.feed(eth1)).toBe(true);
  });

  it('keeps a line split across chunks, and another link in the same chunk is its own news', () => {
    const n = new MonitorNews();
    expect(n.feed(eth1)).toBe(true);
    const eth2 = eth1.replaceAll('eth1', 'eth2').replace('2: ', '3: ');
    expect(n.feed(eth2.slice(0, 20))).toBe(false);
    expect(n.feed(eth2.slice(20) + eth1)).toBe(true);
    expect(n.feed(eth1 + eth2)).toBe(false);
  });
});
