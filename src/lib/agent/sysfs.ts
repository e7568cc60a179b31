// Parsers for the sysfs attribute files of a netdev and its PCI device. Pure: file text in, value
// out; src/agent/discovery.ts does the reading (its sysfs root is an option for fixture trees).

/** `vendor`/`device` files: "0x15b3\n" → "15b3". */
export function parseHexId(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*0x([0-9a-fA-F]{1,4})\s*$/.exec(text);
  return m ? (m[1] as string).toLowerCase().padStart(4, '0') : undefined;
}

/** `numa_node`: -1 means the platform has no NUMA information. */
export function parseNumaNode(text: string | undefined): number {
  const n = Number.parseInt((text ?? '').trim(), 10);
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

/** `speed` in Mb/s; reading it fails (EINVAL) or says -1 when the link is down or virtual: 0. */
export function parseSpeed(text: string | undefined): number {
  const n = Number.parseInt((text ?? '').trim(), 10);
  return Number.isInteger(n) && n > 0 && n < 0xffffffff ? n : 0;
}

const PCI = /^[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

/** True for a PCI address such as 0000:3b:00.0. */
export function isPciAddress(s: string): boolean {
  return PCI.test(s);
}

/**
 * The PCI address from the resolved `/sys/class/net/<if>/device` path: its last component, or for
 * virtio NICs (device → .../0000:00:03.0/virtio0) the one above it. Undefined for non-PCI devices.
 */
export function pciFromDevicePath(resolved: string): string | undefined {
  const parts = resolved.split('/').filter(Boolean);
  const last = parts[parts.length - 1];
  const parent = parts[parts.length - 2];
  if (last && isPciAddress(last)) return last.toLowerCase();
  if (last && /^virtio\d+$/.test(last) && parent && isPciAddress(parent)) return parent.toLowerCase();
  return undefined;
}
