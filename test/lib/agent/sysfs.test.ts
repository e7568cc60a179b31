import { describe, expect, it } from 'vitest';
import { isPciAddress, parseHexId, parseNumaNode, parseSpeed, pciFromDevicePath } from '../../../src/lib/agent/sysfs.js';

describe('sysfs attribute parsers', () => {
  it.each([
    ['0x15b3\n', '15b3'],
    ['0x1D0F', '1d0f'],
    ['0x8\n', '0008'],
    ['15b3', undefined],
    [undefined, undefined],
  ])('hex id %j → %j', (text, want) => expect(parseHexId(text)).toBe(want));

  it.each([
    ['1\n', 1],
    ['-1\n', -1],
    ['', -1],
    [undefined, -1],
  ])('numa_node %j → %j', (text, want) => expect(parseNumaNode(text)).toBe(want));

  it.each([
    ['100000\n', 100000],
    ['-1\n', 0],
    ['4294967295\n', 0],
    [undefined, 0],
  ])('speed %j → %j', (text, want) => expect(parseSpeed(text)).toBe(want));

  it.each([
    ['/sys/devices/pci0000:00/0000:00:02.0/0000:3b:00.0', '0000:3b:00.0'],
    ['/sys/devices/pci0000:00/0000:00:03.0/virtio0', '0000:00:03.0'],
    ['/sys/devices/virtual/net/veth0', undefined],
    ['/sys/devices/platform/vif-0', undefined],
  ])('device path %s → %j', (path, want) => expect(pciFromDevicePath(path)).toBe(want));

  it('recognises PCI addresses', () => {
    expect([isPciAddress('0000:3b:00.0'), isPciAddress('3b:00.0'), isPciAddress('0000:3b:00.8')]).toEqual([true, false, false]);
  });
});
