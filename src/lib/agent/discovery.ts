// Which host links are secondary NICs, from `ip -json -d addr`, `ip -json route show default` and
// sysfs facts gathered by src/agent/discovery.ts. Pure: captured output in, InterfaceInfo[] out.
import type { InterfaceInfo } from '../crds/types.gen.js';
import { formatCidr, networkOf, parseIp } from '../net/ip.js';

/** Host-side macvlan shims the agent creates (src/agent/shim.ts) are named with this prefix. */
export const SHIM_PREFIX = 'mnshim';

/** One entry of `ip -json -d addr show` (the fields we read). */
export interface IpAddrLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu?: number;
  operstate?: string;
  link_type?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number; scope?: string; dynamic?: boolean; tentative?: boolean }>;
}

/** One entry of `ip -json route show default`. */
export interface IpRoute {
  dst?: string;
  dev?: string;
  gateway?: string;
}

/** What sysfs says about one netdev (src/agent/discovery.ts reads it). */
export interface SysfsNicFacts {
  pciAddress?: string;
  vendor?: string;
  product?: string;
  numaNode?: number;
  speed?: number;
}

export interface DiscoveryOptions {
  /** Link kinds that are never NICs (bridges, overlays, tunnels...). */
  skipKinds?: readonly string[];
  /** Name prefixes that are never NICs (container runtimes, CNI overlays, our shims, pod leftovers). */
  skipPrefixes?: readonly string[];
}

export const DEFAULT_SKIP_KINDS: readonly string[] = [
  'bridge', 'vxlan', 'geneve', 'tun', 'tap', 'wireguard', 'ipip', 'gre', 'gretap', 'sit', 'ip6tnl', 'dummy', 'openvswitch', 'vrf', 'nlmon', 'ifb',
];
export const DEFAULT_SKIP_PREFIXES: readonly string[] = [SHIM_PREFIX, 'docker', 'cni', 'flannel', 'cali', 'cilium', 'kube-', 'vxlan', 'tunl', 'weave', 'virbr', 'lxc'];

/**
 * Pod interfaces that came back to the host when a pod's namespace went away without a DEL
 * (upstream skipped `net1*` for the same reason): Multus names `netN`, ours `netN-i`.
 */
const POD_LEFTOVER = /^net\d+(-\d+)?$/;

export interface DiscoveredNic extends InterfaceInfo {
  ifindex: number;
}

/**
 * Secondary NICs: admin-up and not lower-layer-down, an IPv4 global address, not loopback, not the
 * default-route interface nor on its network, not a skipped kind or name. Virtual links without PCI
 * data still count (cloud NICs, veth in the lab). Sorted by name.
 */
export function secondaryNics(
  links: IpAddrLink[],
  defaultRoutes: IpRoute[],
  sysfs: Record<string, SysfsNicFacts>,
  opts: DiscoveryOptions = {},
): DiscoveredNic[] {
  const skipKinds = opts.skipKinds ?? DEFAULT_SKIP_KINDS;
  const skipPrefixes = opts.skipPrefixes ?? DEFAULT_SKIP_PREFIXES;
  const defaultDevs = new Set(defaultRoutes.filter((r) => r.dst === undefined || r.dst === 'default').map((r) => r.dev).filter(Boolean));
  const defaultNets = new Set<string>();
  for (const l of links) if (defaultDevs.has(l.ifname)) for (const a of ipv4(l)) defaultNets.add(a.net);

  const out: DiscoveredNic[] = [];
  for (const l of links) {
    const flags = l.flags ?? [];
    if (flags.includes('LOOPBACK') || l.link_type === 'loopback') continue;
    if (!flags.includes('UP')) continue;
    if (l.operstate === 'DOWN' || l.operstate === 'LOWERLAYERDOWN' || l.operstate === 'NOTPRESENT') continue;
    if (defaultDevs.has(l.ifname)) continue;
    if (POD_LEFTOVER.test(l.ifname) || skipPrefixes.some((p) => l.ifname.startsWith(p))) continue;
    if (l.linkinfo?.info_kind && skipKinds.includes(l.linkinfo.info_kind)) continue;
    const v4 = ipv4(l)[0];
    if (!v4 || defaultNets.has(v4.net)) continue;
    const v6 = ipv6Global(l)[0];
    const fs = sysfs[l.ifname] ?? {};
    const nic: DiscoveredNic = {
      ifindex: l.ifindex,
      interfaceName: l.ifname,
      netAddress: v4.net,
      hostIP: v4.ip,
      vendor: fs.vendor ?? '',
      product: fs.product ?? '',
      pciAddress: fs.pciAddress ?? '',
      numaNode: fs.numaNode ?? -1,
      speed: fs.speed ?? 0,
      state: linkState(l.operstate),
    };
    if (l.mtu !== undefined) nic.mtu = l.mtu;
    if (v6) {
      nic.hostIPv6 = v6.ip;
      nic.netAddressV6 = v6.net;
    }
    out.push(nic);
  }
  return out.sort((a, b) => (a.interfaceName < b.interfaceName ? -1 : a.interfaceName > b.interfaceName ? 1 : 0));
}

function ipv4(l: IpAddrLink): Array<{ ip: string; net: string }> {
  return (l.addr_info ?? [])
    .filter((a) => a.family === 'inet' && a.local && a.prefixlen !== undefined && (a.scope ?? 'global') === 'global')
    .map((a) => addrNet(a.local as string, a.prefixlen as number));
}

function ipv6Global(l: IpAddrLink): Array<{ ip: string; net: string }> {
  return (l.addr_info ?? [])
    .filter((a) => a.family === 'inet6' && a.local && a.prefixlen !== undefined && a.scope === 'global' && !a.tentative)
    .map((a) => addrNet(a.local as string, a.prefixlen as number));
}

function addrNet(ip: string, prefix: number): { ip: string; net: string } {
  const p = parseIp(ip);
  return { ip, net: formatCidr(networkOf(p.family, p.addr, prefix)) };
}

/** `operstate` → HostInterface state. UNKNOWN (e.g. some virtual links that carry traffic) stays unknown. */
export function linkState(operstate: string | undefined): 'up' | 'down' | 'unknown' {
  if (operstate === 'UP') return 'up';
  if (operstate === 'DOWN' || operstate === 'LOWERLAYERDOWN' || operstate === 'NOTPRESENT') return 'down';
  return 'unknown';
}

/** True when two discoveries differ in anything HostInterface reports (order-insensitive). */
export function nicsChanged(a: InterfaceInfo[], b: InterfaceInfo[]): boolean {
  const key = (l: InterfaceInfo[]) => JSON.stringify([...l].map((n) => ({ ...n, ifindex: undefined })).sort((x, y) => (x.interfaceName < y.interfaceName ? -1 : 1)));
  return key(a) !== key(b);
}
