import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSysfsFacts } from '../../src/agent/discovery.js';

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
