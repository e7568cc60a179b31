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
  linkinfo?: { info_kind?: string; info_slave_kind?: string };
  /** The bridge, bond or VRF this link is enslaved to (`ip` prints the master's name). */
  master?: string;
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
  /**
   * Keep a link that is a NIC but for being down (admin down, or operstate DOWN/LOWERLAYERDOWN), with
   * `state: 'down'`: the agent keeps reporting a NIC someone set down (so the host keeps its blocks and
   * doctor names it) and uses only the up ones. It still needs its IPv4 address (which `ip link set
   * down` keeps).
   */
  keepDown?: boolean;
}

export const DEFAULT_SKIP_KINDS: readonly string[] = [
  'bridge', 'vxlan', 'geneve', 'tun', 'tap', 'wireguard', 'ipip', 'gre', 'gretap', 'sit', 'ip6tnl', 'dummy', 'openvswitch', 'vrf', 'nlmon', 'ifb',
];
/**
 * `veth` is what ptp, bridge and most primary CNIs name a pod's host-side veth (veth1a2b3c4d); `lxc`
 * is Cilium's, `cali` Calico's, `podman`/`docker`/`cni` the runtimes' bridges.
 */
export const DEFAULT_SKIP_PREFIXES: readonly string[] = [SHIM_PREFIX, 'veth', 'docker', 'podman', 'cni', 'flannel', 'cali', 'cilium', 'kube-', 'vxlan', 'tunl', 'weave', 'virbr', 'lxc'];

/**
 * Pod interfaces that came back to the host when a pod's namespace went away without a DEL
 * (upstream skipped `net1*` for the same reason): Multus names `netN`, ours `netN-i`.
 */
const POD_LEFTOVER = /^net\d+(-\d+)?$/;

export interface DiscoveredNic extends InterfaceInfo {
  ifindex: number;
}

/**
 * Why a link is not a secondary NIC, or undefined when it is one. The rule (docs/nics.md):
 * admin-up and not lower-layer-down; not loopback; not the default-route interface nor on its
 * network; not a skipped kind (bridges, overlays, tunnels) or name (runtimes, CNIs, our shims, pod
 * interfaces left on the host); not a port of a bridge or bond; an IPv4 global address; and a veth
 * only with an address shorter than /32 (a pod's host-side veth from ptp and similar primary CNIs
 * holds only the pod's /32 gateway address; veths with a real subnet are NICs in test beds).
 * Physical and virtual NICs without PCI data (cloud NICs, which may hold a /32) count alike.
 */
export function notNicReason(l: IpAddrLink, ctx: { defaultDevs: ReadonlySet<string | undefined>; defaultNets: ReadonlySet<string>; skipKinds: readonly string[]; skipPrefixes: readonly string[]; keepDown?: boolean }): string | undefined {
  const flags = l.flags ?? [];
  if (flags.includes('LOOPBACK') || l.link_type === 'loopback') return 'loopback';
  if (!ctx.keepDown && !flags.includes('UP')) return 'admin down';
  if (l.operstate === 'NOTPRESENT' || (!ctx.keepDown && (l.operstate === 'DOWN' || l.operstate === 'LOWERLAYERDOWN'))) return `operstate ${l.operstate}`;
  if (ctx.defaultDevs.has(l.ifname)) return 'default-route interface';
  if (POD_LEFTOVER.test(l.ifname)) return 'pod interface name (netN, netN-i)';
  const prefix = ctx.skipPrefixes.find((p) => l.ifname.startsWith(p));
  if (prefix) return `name starts with ${prefix}`;
  const kind = l.linkinfo?.info_kind;
  if (kind && ctx.skipKinds.includes(kind)) return `kind ${kind}`;
  // A bridge or bond port carries traffic for its master, never on its own; a NIC in a VRF still counts.
  const slave = l.linkinfo?.info_slave_kind;
  if (l.master && slave !== 'vrf') return `${slave ?? 'port'} port of ${l.master}`;
  const v4 = ipv4(l);
  if (v4.length === 0) return 'no IPv4 global address';
  if (ctx.defaultNets.has((v4[0] as { net: string }).net)) return 'on the default-route network';
  if (kind === 'veth' && v4.every((a) => a.net.endsWith('/32'))) return 'veth with only /32 addresses (a pod\'s host-side veth)';
  return undefined;
}

/** Secondary NICs (see notNicReason), sorted by name; sysfs facts merged. */
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
    if (notNicReason(l, { defaultDevs, defaultNets, skipKinds, skipPrefixes, keepDown: opts.keepDown ?? false }) !== undefined) continue;
    const v4 = ipv4(l)[0] as { ip: string; net: string };
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
      state: (l.flags ?? []).includes('UP') ? linkState(l.operstate) : 'down',
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
  return nicChanges(a, b).length > 0;
}

/**
 * What differs between two discoveries, one line per NIC and field, sorted: `+eth3` (appeared),
 * `-eth3` (gone), `eth1 state unknown→up`. ifindex is not reported (a NIC keeps its identity by name).
 */
export function nicChanges(a: InterfaceInfo[], b: InterfaceInfo[]): string[] {
  const byName = (l: InterfaceInfo[]) => new Map(l.map((n) => [n.interfaceName, n]));
  const before = byName(a);
  const after = byName(b);
  const show = (v: unknown) => (v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const out: string[] = [];
  for (const [name, n] of after) {
    const o = before.get(name);
    if (!o) {
      out.push(`+${name}`);
      continue;
    }
    const fields = new Set([...Object.keys(o), ...Object.keys(n)]);
    for (const f of [...fields].sort()) {
      if (f === 'ifindex') continue;
      const x = show((o as unknown as Record<string, unknown>)[f]);
      const y = show((n as unknown as Record<string, unknown>)[f]);
      if (x !== y) out.push(`${name} ${f} ${x}→${y}`);
    }
  }
  for (const name of before.keys()) if (!after.has(name)) out.push(`-${name}`);
  return out.sort();
}
