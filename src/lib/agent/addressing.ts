// Per selected NIC: the pool an address comes from, the prefix it is configured with, and the
// routes the pod gets (docs/design.md §3.2). Pure.
import type { CidrEntry, HostInterfaceInfo, MultiNicNetwork } from '../crds/types.gen.js';
import type { PoolSpec } from '../ipam/types.js';
import { containsCidr, formatIp, parseCidr, usableRange } from '../net/ip.js';
import type { IpamConfig, VlanMode } from '../network.js';

/**
 * True for macvlan on an L3 fabric (our "shim" mode, docs/design.md §4): the host keeps a macvlan sibling
 * holding the gateway because a macvlan child cannot reach its parent's own address.
 */
export function usesShim(pluginType: string, vlanMode: VlanMode): boolean {
  return pluginType === 'macvlan' && (vlanMode === 'l3' || vlanMode === 'l3s');
}

/** Upstream IPPool naming: `<network>-<podCIDR address>-<prefix>` with ':' → '-' for IPv6. */
export function poolName(network: string, podCIDR: string): string {
  const [ip, prefix] = podCIDR.split('/');
  return `${network}-${(ip ?? '').replaceAll(':', '-')}-${prefix ?? ''}`;
}

/** The shim gateway of a pod block: its first usable address. */
export function shimGateway(podCIDR: string): string {
  const c = parseCidr(podCIDR);
  return formatIp(c.family, usableRange(c).first);
}

/** How addresses on one host NIC of one network are handed out and configured. */
export interface NicAddressing {
  pool: PoolSpec;
  /** Prefix length the pod address is configured with. */
  prefix: number;
  gateway?: string;
  routes: Array<{ dst: string; gw?: string }>;
  shim: boolean;
}

/**
 * Addressing for `host` (this host's entry) on CIDR `entry`: the vlanCIDR prefix normally (the
 * whole interface block on-link); in shim mode the pod block's prefix, the shim gateway reserved
 * in the pool, and the vlanCIDR routed via it. excludeCIDRs smaller than the pod block become pool
 * excludes.
 */
export function nicAddressing(net: MultiNicNetwork, ipam: IpamConfig, entry: CidrEntry, host: HostInterfaceInfo): NicAddressing {
  const network = net.metadata.name ?? '';
  const pod = parseCidr(host.podCIDR);
  const excludes = ipam.excludeCIDRs.filter((x) => {
    const c = parseCidr(x, { strict: false });
    return containsCidr(pod, c) && c.prefix > pod.prefix;
  });
  const shim = usesShim(net.spec.plugin.type, ipam.vlanMode);
  const gateway = shim ? shimGateway(host.podCIDR) : undefined;
  const pool: PoolSpec = {
    name: host.ippool || poolName(network, host.podCIDR),
    network,
    hostName: host.hostName,
    interfaceName: host.interfaceName,
    podCIDR: host.podCIDR,
    vlanCIDR: entry.vlanCIDR,
    excludes,
    reserved: gateway ? [gateway] : [],
  };
  if (shim) return { pool, prefix: pod.prefix, gateway, routes: [{ dst: entry.vlanCIDR, gw: gateway }], shim };
  return { pool, prefix: parseCidr(entry.vlanCIDR).prefix, routes: [], shim };
}
