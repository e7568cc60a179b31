// This node's NICs as a ResourceSlice of driver multinic.fms.io (one pool per node, one slice per
// pool), and the resource.k8s.io DeviceClass that selects a MultiNicNetwork's NICs. Pure.
//
// Attributes (unqualified names are in the driver's domain, `device.attributes["multinic.fms.io"]`
// in CEL): interfaceName, netAddress, pciAddress, vendor, product, speed (Mb/s), mtu, state
// (up/down/unknown), rdma (only for PCI NICs, where sysfs can tell), networks (the MultiNicNetwork
// names the NIC serves, comma-separated; always present, '' for none) and the standard
// resource.kubernetes.io/numaNode and resource.kubernetes.io/pcieRoot. A fact the kernel does not
// give (veths have no PCI device, no speed) is left out, never invented.
import type { InterfaceInfo } from '../crds/types.gen.js';
import type { OwnerReference } from '../k8s/meta.js';
import { DRIVER, type Device, type DeviceAttribute, type DraDeviceClass, type ResourceSlice } from './types.js';

/** The standard attribute names (k8s.io/dynamic-resource-allocation/deviceattribute). */
export const PCIE_ROOT_ATTR = 'resource.kubernetes.io/pcieRoot';
export const NUMA_NODE_ATTR = 'resource.kubernetes.io/numaNode';
/** DRA's limit on a string attribute value. */
export const MAX_STRING_ATTR = 64;

/** A NIC as the slice publisher sees it: discovery's facts plus the sysfs-only ones. */
export interface SliceNic extends InterfaceInfo {
  /** `pci<domain>:<bus>` of the PCIe root complex above the NIC (sysfs device path). */
  pcieRoot?: string;
  /** Whether the NIC has an RDMA device (sysfs `device/infiniband`); undefined when sysfs cannot tell. */
  rdma?: boolean;
}

/**
 * The device name of a NIC: a DNS label (lowercase alphanumerics and '-', at most 63). Interface
 * names that are not one (`eth_1`, `ens1f0.100`, `Mlx`) are mapped, with a short hash of the real
 * name so two NICs never share a device name; the real name is the interfaceName attribute.
 */
export function deviceName(ifname: string): string {
  if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ifname) && ifname.length <= 63) return ifname;
  let h = 0x811c9dc5;
  for (const ch of ifname) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  const base = ifname.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 54) || 'nic';
  return `${base}-${h.toString(16).padStart(8, '0')}`;
}

/** The slice object's name for a node (one per node and driver). */
export const sliceName = (node: string, driver = DRIVER): string => `${node}-${driver}`.slice(0, 253).replace(/[-.]+$/, '');

/** The networks attribute: names joined by ',', as many whole names as fit in 64 characters. */
export function networksAttr(names: readonly string[]): { value: string; dropped: string[] } {
  const sorted = [...new Set(names)].sort();
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const n of sorted) {
    const next = [...kept, n].join(',');
    if (next.length <= MAX_STRING_ATTR) kept.push(n);
    else dropped.push(n);
  }
  return { value: kept.join(','), dropped };
}

export function nicDevice(nic: SliceNic, networks: readonly string[]): Device {
  const a: Record<string, DeviceAttribute> = { interfaceName: { string: nic.interfaceName } };
  const s = (k: string, v: string | undefined) => {
    if (v) a[k] = { string: v.slice(0, MAX_STRING_ATTR) };
  };
  s('netAddress', nic.netAddress);
  s('pciAddress', nic.pciAddress);
  s('vendor', nic.vendor);
  s('product', nic.product);
  if (nic.speed && nic.speed > 0) a.speed = { int: nic.speed };
  if (nic.mtu && nic.mtu > 0) a.mtu = { int: nic.mtu };
  s('state', nic.state);
  if (nic.rdma !== undefined) a.rdma = { bool: nic.rdma };
  a.networks = { string: networksAttr(networks).value };
  if (nic.numaNode !== undefined && nic.numaNode >= 0) a[NUMA_NODE_ATTR] = { int: nic.numaNode };
  s(PCIE_ROOT_ATTR, nic.pcieRoot);
  return { name: deviceName(nic.interfaceName), attributes: a };
}

/**
 * The node's slice: pool named after the node, `generation` given by the caller (bump it on every
 * change: consumers ignore slices of an older pool generation), owned by the Node so it goes with it.
 */
export function nodeSlice(o: { node: string; nodeUid?: string; nics: readonly SliceNic[]; networksOf: (nic: SliceNic) => readonly string[]; generation: number; driver?: string }): ResourceSlice {
  const driver = o.driver ?? DRIVER;
  const owner: OwnerReference[] = o.nodeUid ? [{ apiVersion: 'v1', kind: 'Node', name: o.node, uid: o.nodeUid, controller: true }] : [];
  const devices = [...o.nics].sort((a, b) => a.interfaceName.localeCompare(b.interfaceName)).map((n) => nicDevice(n, o.networksOf(n)));
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: sliceName(o.node, driver), ...(owner.length ? { ownerReferences: owner } : {}) },
    spec: { driver, nodeName: o.node, pool: { name: o.node, generation: o.generation, resourceSliceCount: 1 }, devices },
  };
}

/** Name of the resource.k8s.io DeviceClass of a network: `<network>.multinic.fms.io`. */
export const deviceClassName = (network: string): string => `${network}.${DRIVER}`;

/** The CEL that selects a network's NICs (core CEL only: string concatenation and contains). */
export const networkSelector = (network: string): string =>
  `device.driver == "${DRIVER}" && ("," + device.attributes["${DRIVER}"].networks + ",").contains(",${network},")`;

/** The DeviceClass `apply` renders for a MultiNicNetwork, so a claim can ask for "NICs of network X". */
export function networkDeviceClass(network: string): DraDeviceClass {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'DeviceClass',
    metadata: { name: deviceClassName(network) },
    spec: { selectors: [{ cel: { expression: networkSelector(network) } }] },
  };
}

/**
 * Whether a resource.k8s.io DeviceClass is one `apply` rendered: named `<network>.multinic.fms.io`
 * with exactly that network's selector. A user's class of the same name with other selectors is not.
 */
export function isNetworkDeviceClass(o: { metadata?: { name?: string }; spec?: unknown }): boolean {
  const name = o.metadata?.name ?? '';
  if (!name.endsWith(`.${DRIVER}`)) return false;
  const want = networkDeviceClass(name.slice(0, -DRIVER.length - 1));
  return JSON.stringify(o.spec ?? {}) === JSON.stringify(want.spec);
}

/**
 * The MultiNicNetworks a NIC of `node` serves: a network whose CIDR gave this host a block on the
 * NIC; or, while the network has no CIDR entry for it (single-NIC IPAM, not claimed yet), one whose
 * masterNets are empty or contain the NIC's network.
 */
export function networksOfNic(
  nic: Pick<InterfaceInfo, 'interfaceName' | 'netAddress'>,
  node: string,
  networks: ReadonlyArray<{ name: string; masterNets: readonly string[]; deleting?: boolean }>,
  cidrOf: (network: string) => { spec: { cidr: Array<{ netAddress: string; hosts: Array<{ hostName: string; interfaceName: string }> }> } } | undefined,
  within: (inner: string, outer: string) => boolean,
): string[] {
  const out: string[] = [];
  for (const n of networks) {
    if (n.deleting) continue;
    const cidr = cidrOf(n.name);
    const mine = cidr?.spec.cidr.flatMap((e) => e.hosts.filter((h) => h.hostName === node).map((h) => h.interfaceName)) ?? [];
    if (mine.length) {
      if (mine.includes(nic.interfaceName)) out.push(n.name);
      continue;
    }
    const a = nic.netAddress;
    if (n.masterNets.length === 0 || (a !== undefined && n.masterNets.some((m) => m === a || within(a, m)))) out.push(n.name);
  }
  return out.sort();
}

/** Device name → interface name over the slice's devices. */
export function interfaceOfDevice(slice: ResourceSlice | undefined, device: string): string | undefined {
  return slice?.spec.devices?.find((d) => d.name === device)?.attributes?.interfaceName?.string;
}
