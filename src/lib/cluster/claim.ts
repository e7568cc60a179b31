// CIDR claims without a controller (docs/design.md §2): every agent plans the whole network from the CIDR it
// just read, then writes back ONLY its own host entries with the CIDR's resourceVersion (compare-
// and-swap). Other agents' entries are copied verbatim from what the server holds, so a claim never
// moves anyone else's index; a stale read loses the CAS (409) and is re-planned. Pure.
import type { CIDRSpec, CidrEntry, HostInterface, HostInterfaceInfo } from '../crds/types.gen.js';

/** A planned index is already held by another host in the CIDR we are writing over. */
export class ClaimCollisionError extends Error {
  constructor(
    readonly netAddress: string,
    readonly hostIndex: number,
    readonly holder: string,
  ) {
    super(`host index ${hostIndex} on ${netAddress} is already held by ${holder}`);
    this.name = 'ClaimCollisionError';
  }
}

export interface ClaimResult {
  spec: CIDRSpec;
  /** False when the server copy already says exactly what we would write (no PUT needed). */
  changed: boolean;
  /** This host's entries after the merge: netAddress → hostIndex. */
  claimed: Record<string, number>;
}

const byIndex = (a: HostInterfaceInfo, b: HostInterfaceInfo): number => a.hostIndex - b.hostIndex || (a.hostName < b.hostName ? -1 : 1);

/**
 * Merges this host's entries of `planned` into `current` (the server copy; undefined when no CIDR
 * exists yet). Contract:
 * - every other host's entry in `current` is kept byte-for-byte (we never write what others own);
 * - our entry on a NIC network is inserted or updated to the plan; our entries on networks the plan
 *   no longer gives us (the NIC went away) are removed, and an entry left with no host is dropped,
 *   freeing its interface index (upstream UpdateEntries);
 * - a new NIC network entry takes the plan's interfaceIndex and vlanCIDR unless `current` already
 *   has an entry for it;
 * - `config` is frozen at creation (upstream): `current.config` wins when present;
 * - throws ClaimCollisionError when our planned index is held by another host, or a new entry's
 *   interface index is held by another network (the plan was made from a different read).
 */
export function mergeOwnClaim(current: CIDRSpec | undefined, planned: CIDRSpec, hostName: string): ClaimResult {
  const base: CIDRSpec = current ?? { config: planned.config, cidr: [] };
  const mine = new Map<string, { entry: CidrEntry; host: HostInterfaceInfo }>();
  for (const entry of planned.cidr) {
    const host = entry.hosts.find((h) => h.hostName === hostName);
    if (host) mine.set(entry.netAddress, { entry, host });
  }

  const out: CidrEntry[] = [];
  const seen = new Set<string>();
  for (const entry of base.cidr) {
    seen.add(entry.netAddress);
    const others = entry.hosts.filter((h) => h.hostName !== hostName);
    const plan = mine.get(entry.netAddress);
    if (plan) {
      const holder = others.find((h) => h.hostIndex === plan.host.hostIndex);
      if (holder) throw new ClaimCollisionError(entry.netAddress, plan.host.hostIndex, holder.hostName);
      out.push({ ...entry, hosts: [...others, { ...plan.host, hostName }].sort(byIndex) });
    } else if (others.length > 0) {
      out.push(others.length === entry.hosts.length ? entry : { ...entry, hosts: others });
    }
  }
  for (const [net, plan] of mine) {
    if (seen.has(net)) continue;
    const clash = out.find((e) => e.interfaceIndex === plan.entry.interfaceIndex);
    if (clash) throw new ClaimCollisionError(net, plan.entry.interfaceIndex, `interface entry ${clash.netAddress}`);
    out.push({ netAddress: net, interfaceIndex: plan.entry.interfaceIndex, vlanCIDR: plan.entry.vlanCIDR, hosts: [{ ...plan.host, hostName }] });
  }
  out.sort((a, b) => a.interfaceIndex - b.interfaceIndex);

  const spec: CIDRSpec = { config: base.config, cidr: out };
  const claimed: Record<string, number> = {};
  for (const e of out) for (const h of e.hosts) if (h.hostName === hostName) claimed[e.netAddress] = h.hostIndex;
  return { spec, changed: current === undefined || !sameSpec(current, spec), claimed };
}

/**
 * Removes every host entry of `departed` nodes (Node object deleted) and drops entries left empty,
 * freeing their indexes. Only the leader calls this: a node cannot remove itself once it is gone.
 */
export function removeHosts(spec: CIDRSpec, departed: ReadonlySet<string>): { spec: CIDRSpec; removed: string[] } {
  const removed = new Set<string>();
  const cidr: CidrEntry[] = [];
  for (const entry of spec.cidr) {
    const keep = entry.hosts.filter((h) => {
      if (!departed.has(h.hostName)) return true;
      removed.add(h.hostName);
      return false;
    });
    if (keep.length > 0) cidr.push(keep.length === entry.hosts.length ? entry : { ...entry, hosts: keep });
  }
  return { spec: { config: spec.config, cidr }, removed: [...removed].sort() };
}

/** Hosts named in a CIDR spec, sorted. */
export function cidrHosts(spec: CIDRSpec): string[] {
  return [...new Set(spec.cidr.flatMap((e) => e.hosts.map((h) => h.hostName)))].sort();
}

/**
 * Every (network address, host index) and (interface index) held more than once: must be empty for
 * any CIDR the agents ever write. Used by tests and by `status` to flag a corrupted CIDR.
 */
export function duplicateClaims(spec: CIDRSpec): string[] {
  const problems: string[] = [];
  const ifIdx = new Map<number, string>();
  for (const e of spec.cidr) {
    const prev = ifIdx.get(e.interfaceIndex);
    if (prev !== undefined) problems.push(`interface index ${e.interfaceIndex} held by ${prev} and ${e.netAddress}`);
    ifIdx.set(e.interfaceIndex, e.netAddress);
    const hostIdx = new Map<number, string>();
    const names = new Set<string>();
    for (const h of e.hosts) {
      const p = hostIdx.get(h.hostIndex);
      if (p !== undefined) problems.push(`${e.netAddress}: host index ${h.hostIndex} held by ${p} and ${h.hostName}`);
      hostIdx.set(h.hostIndex, h.hostName);
      if (names.has(h.hostName)) problems.push(`${e.netAddress}: ${h.hostName} listed twice`);
      names.add(h.hostName);
    }
  }
  return problems;
}

/** Structural equality of two CIDR specs (key order independent). */
export function sameSpec(a: CIDRSpec, b: CIDRSpec): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with sorted keys: a stable fingerprint of plain data. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => {
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      const o = val as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
    }
    return val;
  });
}

/**
 * A short fingerprint of what a host needs to install its routes: the CIDR's entries. Agents report
 * routes against it and the leader compares, so a report for an older CIDR never counts as current.
 * FNV-1a 32-bit, hex: collision resistance is not needed, only change detection.
 */
export function cidrFingerprint(spec: CIDRSpec): string {
  const text = canonical(spec.cidr);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * The inventory an agent plans its claim from: its own fresh HostInterface, and for every other
 * host already in the CIDR exactly the NICs the CIDR records for it (so the planner keeps their
 * indexes even when their HostInterface is not in our cache yet or has changed since: only they
 * may move their own entries). Other hosts not yet in the CIDR are left out: they claim their own,
 * and our pick only has to avoid what is already held.
 */
export function claimInventory(own: HostInterface, current: CIDRSpec | undefined): HostInterface[] {
  const me = own.spec.hostName;
  const others = new Map<string, HostInterface>();
  for (const e of current?.cidr ?? []) {
    for (const h of e.hosts) {
      if (h.hostName === me) continue;
      let hi = others.get(h.hostName);
      if (!hi) {
        hi = { apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: h.hostName }, spec: { hostName: h.hostName, interfaces: [] } };
        others.set(h.hostName, hi);
      }
      hi.spec.interfaces.push({ interfaceName: h.interfaceName, netAddress: e.netAddress, hostIP: h.hostIP });
    }
  }
  return [own, ...[...others.values()].sort((a, b) => (a.spec.hostName < b.spec.hostName ? -1 : 1))];
}
