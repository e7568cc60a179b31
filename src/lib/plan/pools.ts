// IPPool naming and the per-host-per-NIC pools of a CIDR, with the excludes that fall inside each
// pod block and its capacity. Used by `plan` (table), the agent (IPPool objects) and the IPAM
// (exclude ranges). Pure.
import { shimGateway, usesShim } from '../agent/addressing.js';
import type { CIDR, HostInterfaceInfo as CidrHost } from '../crds/types.gen.js';
import { compareCidr, familyBits, formatCidr, lastAddress, networkOf, parseIp, tryParseCidr, usableRange, type Cidr } from '../net/ip.js';

/**
 * The IPPool name of a pod block: `<network>-<block address>-<prefix>` (upstream's naming), with
 * IPv6 ':' turned into '-' so it is a valid Kubernetes name. When several hosts share one block
 * (hostBlock 0) pass `sharedBy` (the host name) so each host keeps its own pool; upstream gave them
 * all the same name and they overwrote each other.
 */
export function ippoolName(network: string, podCIDR: string, sharedBy?: string): string {
  const base = `${network}-${podCIDR.replace('/', '-').replaceAll(':', '-')}`;
  return sharedBy ? `${base}-${sharedBy}` : base;
}

/** One IPPool the plan implies: a host's pod block on one NIC network. */
export interface PlannedPool {
  name: string;
  network: string;
  hostName: string;
  interfaceName: string;
  hostIP: string;
  netAddress: string;
  interfaceIndex: number;
  hostIndex: number;
  vlanCIDR: string;
  podCIDR: string;
  /**
   * excludeCIDRs strictly smaller than the pod block and inside it (the pool's `excludes`); in
   * host-subnet mode also the hosts' own NIC addresses inside it.
   */
  excludes: string[];
  /** Single addresses the agent never hands out: the macvlan L3 shim gateway (first usable address). */
  reserved: string[];
  /** Addresses in the block but the network address (and IPv4 broadcast); see usableRange. */
  usable: bigint;
  /** What pods can get: see poolCapacity. */
  capacity: bigint;
}

/**
 * The one definition of a pool's capacity, used by plan, status, the IPPool's status, doctor and
 * ipam show: the addresses the allocator can hand out. That is the pod block minus its network
 * address (and IPv4 broadcast), minus the pool's excludes, minus reserved single addresses (the L3
 * shim gateway), each address counted once.
 */
export function poolCapacity(pod: Cidr, excludes: readonly Cidr[], reserved: readonly string[]): bigint {
  const { count, first, last } = usableRange(pod);
  const single = reserved.map(parseExcludeText).filter((c): c is Cidr => c !== undefined);
  return count - excludedWithin([...excludes, ...single].sort(compareCidr), first, last);
}

/** Parses an exclude as the planner does: a bare address is a single-address network. */
export function parseExcludeText(text: string): Cidr | undefined {
  if (!text.includes('/')) {
    try {
      const ip = parseIp(text);
      return { family: ip.family, base: ip.addr, prefix: familyBits(ip.family) };
    } catch {
      return undefined;
    }
  }
  return tryParseCidr(text, { strict: false });
}

/**
 * Every pool of a CIDR, sorted by host name then interface index. Excludes are bucketed by pod
 * block, so the cost is O(pools + excludes) whatever the prefix lengths.
 */
export function listPools(cidr: CIDR): PlannedPool[] {
  return poolsOf(cidr, (_e, h) => tryParseCidr(h.podCIDR, { strict: false }));
}

const NONE: readonly Cidr[] = [];

/**
 * listPools with the pod blocks already parsed: `podOf(e, h)` is host `h`'s podCIDR of
 * `cidr.spec.cidr[e]` as a network (the planner has them as numbers; parsing 32k texts back was a
 * fifth of its time).
 */
export function poolsOf(cidr: CIDR, podOf: (entry: number, host: CidrHost) => Cidr | undefined): PlannedPool[] {
  const network = cidr.spec.config.name || cidr.metadata.name || '';
  const excludes = (cidr.spec.config.excludeCIDRs ?? []).map(parseExcludeText).filter((c): c is Cidr => c !== undefined).sort(compareCidr);
  // Only hosts without an ippool name need to know whether their block is shared.
  let sharedCount: Map<string, number> | undefined;
  const shared = (podCIDR: string): boolean => {
    if (!sharedCount) {
      sharedCount = new Map();
      for (const e of cidr.spec.cidr) for (const h of e.hosts) sharedCount.set(h.podCIDR, (sharedCount.get(h.podCIDR) ?? 0) + 1);
    }
    return (sharedCount.get(podCIDR) ?? 0) > 1;
  };
  const byPrefix = new Map<number, Map<bigint, Cidr[]>>();
  const bucketsFor = (prefix: number): Map<bigint, Cidr[]> => {
    let m = byPrefix.get(prefix);
    if (!m) {
      m = new Map();
      for (const ex of excludes) {
        if (ex.prefix <= prefix) continue;
        const key = networkOf(ex.family, ex.base, prefix).base;
        const list = m.get(key);
        if (list) list.push(ex);
        else m.set(key, [ex]);
      }
      byPrefix.set(prefix, m);
    }
    return m;
  };
  // Host-subnet mode: pod blocks lie in the NIC network itself, so the hosts' own NIC addresses
  // must never be handed to pods (upstream meant to, but its GetHostAddressesToExclude is dead code).
  const hostSubnet = cidr.spec.config.subnet === '';
  const shim = usesShim(cidr.spec.config.type, cidr.spec.config.vlanMode ?? '');
  const out: PlannedPool[] = [];
  // Usable addresses depend on the prefix only.
  const counts = new Map<number, bigint>();
  const countOf = (pod: Cidr): bigint => {
    const k = pod.family * 256 + pod.prefix;
    let c = counts.get(k);
    if (c === undefined) counts.set(k, (c = usableRange(pod).count));
    return c;
  };
  for (const [ei, e] of cidr.spec.cidr.entries()) {
    let hostIps: Map<bigint, Cidr[]> | undefined;
    for (const h of e.hosts) {
      const pod = podOf(ei, h);
      if (!pod) continue;
      const buckets = bucketsFor(pod.prefix);
      let inside = buckets.size > 0 ? (buckets.get(pod.base) ?? NONE) : NONE;
      if (hostSubnet) {
        hostIps ??= hostAddressBuckets(e.hosts, pod.prefix);
        const own = hostIps.get(pod.base);
        if (own) inside = [...inside, ...own].sort(compareCidr);
      }
      const count = countOf(pod);
      const reserved = shim ? [shimGateway(h.podCIDR)] : [];
      out.push({
        name: h.ippool || ippoolName(network, h.podCIDR, shared(h.podCIDR) ? h.hostName : undefined),
        network,
        hostName: h.hostName,
        interfaceName: h.interfaceName,
        hostIP: h.hostIP,
        netAddress: e.netAddress,
        interfaceIndex: e.interfaceIndex,
        hostIndex: h.hostIndex,
        vlanCIDR: e.vlanCIDR,
        podCIDR: h.podCIDR,
        excludes: inside.map(formatCidr),
        reserved,
        usable: count,
        capacity: inside.length === 0 && reserved.length === 0 ? count : poolCapacity(pod, inside, reserved),
      });
    }
  }
  return sortPools(out);
}

/**
 * Sorted by host name, then interface index; stable. The distinct host names are sorted once and
 * the pools placed by rank (a counting sort): 32k pools compared by name were a tenth of a
 * 4096-host plan.
 */
function sortPools(pools: readonly PlannedPool[]): PlannedPool[] {
  const rank = new Map<string, number>();
  for (const p of pools) rank.set(p.hostName, 0);
  const names = [...rank.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  names.forEach((n, i) => rank.set(n, i));
  const ranks = new Int32Array(pools.length);
  const start = new Int32Array(names.length + 1);
  pools.forEach((p, i) => {
    const r = rank.get(p.hostName)!;
    ranks[i] = r;
    start[r + 1]!++;
  });
  for (let r = 0; r < names.length; r++) start[r + 1]! += start[r]!;
  const next = start.slice();
  const out = new Array<PlannedPool>(pools.length);
  pools.forEach((p, i) => {
    out[next[ranks[i]!]!++] = p;
  });
  // Within one host (a few pools): insertion sort by interface index, stable.
  for (let r = 0; r < names.length; r++) {
    for (let i = start[r]! + 1; i < start[r + 1]!; i++) {
      const p = out[i]!;
      let j = i - 1;
      while (j >= start[r]! && out[j]!.interfaceIndex > p.interfaceIndex) {
        out[j + 1] = out[j]!;
        j--;
      }
      out[j + 1] = p;
    }
  }
  return out;
}

/** The hosts' NIC addresses as single-address networks, bucketed by the pod block holding them. */
function hostAddressBuckets(hosts: readonly { hostIP: string }[], prefix: number): Map<bigint, Cidr[]> {
  const m = new Map<bigint, Cidr[]>();
  const seen = new Set<bigint>();
  for (const h of hosts) {
    let ip: ReturnType<typeof parseIp>;
    try {
      ip = parseIp(h.hostIP);
    } catch {
      continue;
    }
    if (seen.has(ip.addr)) continue;
    seen.add(ip.addr);
    const key = networkOf(ip.family, ip.addr, prefix).base;
    const c: Cidr = { family: ip.family, base: ip.addr, prefix: familyBits(ip.family) };
    const list = m.get(key);
    if (list) list.push(c);
    else m.set(key, [c]);
  }
  return m;
}

/** Addresses in [first, last] covered by the (sorted) ranges, overlaps counted once. */
function excludedWithin(sorted: readonly Cidr[], first: bigint, last: bigint): bigint {
  let total = 0n;
  let covered = first - 1n;
  for (const c of sorted) {
    const lo = c.base > covered + 1n ? c.base : covered + 1n;
    const hi = lastAddress(c) < last ? lastAddress(c) : last;
    const from = lo > first ? lo : first;
    if (hi >= from) {
      total += hi - from + 1n;
      covered = hi;
    }
  }
  return total > 0n ? total : 0n;
}

