// Checks of the NIC pool an inventory offers a network: the warnings `plan` prints on
// stderr and the agent/doctor can reuse. Pure; O(hosts x NICs) with maps, lists of names capped so
// a 4096-host pool still gives readable lines.
import type { HostInterface } from './crds/types.gen.js';
import { nicsOf, type Nic } from './inventory.js';
import { compareCidr, containsCidr, formatCidr, type Cidr } from './net/ip.js';
import type { ValidatedNetwork } from './network.js';
import type { PlanWarning, PlanWarningCode } from './plan/planner.js';

const MAX_NAMES = 5;

function names(list: readonly string[]): string {
  const sorted = [...list].sort();
  return sorted.length > MAX_NAMES ? `${sorted.slice(0, MAX_NAMES).join(', ')} and ${sorted.length - MAX_NAMES} more` : sorted.join(', ');
}

/** The pool's NIC networks: masterNets, or every NIC network found (sorted), as the planner uses them. */
function poolNets(net: ValidatedNetwork, nics: readonly Nic[]): Cidr[] {
  if (net.masterNets.length > 0) return net.masterNets;
  const m = new Map<string, Cidr>();
  for (const n of nics) m.set(n.key, n.net);
  return [...m.values()].sort(compareCidr);
}

const who = (n: Nic): string => `${n.hostName}/${n.interfaceName}`;

/**
 * Warnings about the NIC pool of `net` over `hosts`, sorted by code then message. `nics` is
 * `nicsOf(hosts, net.family)` when the caller has it already.
 */
export function checkPool(net: ValidatedNetwork, hosts: readonly HostInterface[], nics: readonly Nic[] = nicsOf(hosts, net.family)): PlanWarning[] {
  const out: PlanWarning[] = [];
  const warn = (code: PlanWarningCode, message: string): void => {
    out.push({ code, network: net.name, message });
  };
  const pool = poolNets(net, nics);
  const poolByKey = new Map(pool.map((c) => [formatCidr(c), c] as const));
  // Thousands of NICs share a few networks: resolve each network's pool entry once.
  const entries = new Map<string, string | undefined>();
  const entryOf = (n: Nic): string | undefined => {
    if (entries.has(n.key)) return entries.get(n.key);
    let e: string | undefined = n.key;
    if (!poolByKey.has(e)) {
      const c = pool.find((p) => containsCidr(p, n.net));
      e = c ? formatCidr(c) : undefined;
    }
    entries.set(n.key, e);
    return e;
  };

  const perEntry = new Map<string, Nic[]>();
  const hostsIn = new Set<string>();
  const uncovered = new Map<string, Nic[]>();
  // A list only once an address is seen twice: one per NIC would be garbage for 32k NICs.
  const ips = new Map<string, Nic | Nic[]>();
  for (const n of nics) {
    if (n.hostIP) {
      const l = ips.get(n.hostIP);
      if (l === undefined) ips.set(n.hostIP, n);
      else if (Array.isArray(l)) l.push(n);
      else ips.set(n.hostIP, [l, n]);
    }
    const e = entryOf(n);
    if (!e) {
      const l = uncovered.get(n.key);
      if (l) l.push(n);
      else uncovered.set(n.key, [n]);
      continue;
    }
    hostsIn.add(n.hostName);
    const l = perEntry.get(e);
    if (l) l.push(n);
    else perEntry.set(e, [n]);
  }

  for (const [k, list] of uncovered) {
    warn('UncoveredNic', `NIC network ${k} (${names(list.map(who))}) is not covered by any masterNets entry: pods get no interface on it; add it to spec.masterNets if it belongs to the pool`);
  }
  for (const [ip, l] of ips) {
    if (Array.isArray(l)) warn('DuplicateHostIP', `host address ${ip} is used by ${l.length} NICs: ${names(l.map(who))}; routes to their pod blocks would be ambiguous`);
  }

  const multiHost = hostsIn.size > 1;
  for (const c of pool) {
    const k = formatCidr(c);
    const list = perEntry.get(k) ?? [];
    const byHost = new Map<string, string | string[]>();
    for (const n of list) {
      const l = byHost.get(n.hostName);
      if (l === undefined) byHost.set(n.hostName, n.interfaceName);
      else if (Array.isArray(l)) l.push(n.interfaceName);
      else byHost.set(n.hostName, [l, n.interfaceName]);
    }
    for (const [h, ifs] of byHost) {
      if (Array.isArray(ifs)) warn('DuplicateNicOnNetwork', `${h} has ${ifs.length} NICs on ${k} (${names(ifs)}): only ${[...ifs].sort()[0]} gets a pod block; put the others on their own network or bond them`);
    }
    // byHost's hosts are a subset of hostsIn: equal sizes mean none is missing.
    const missing = byHost.size === hostsIn.size ? [] : [...hostsIn].filter((h) => !byHost.has(h));
    if (missing.length > 0 && byHost.size > 0) {
      warn('HostMissingNetwork', `${missing.length} host(s) have no NIC on ${k}: ${names(missing)}; pods there get fewer interfaces`);
    } else if (byHost.size === 0 && hostsIn.size > 0) {
      warn('HostMissingNetwork', `no host has a NIC on ${k} (in masterNets): no pod gets an interface on it`);
    }
    if (multiHost && byHost.size === 1) {
      warn('SingleHostNetwork', `NIC network ${k} is seen on one host only (${[...byHost.keys()][0]}): pods there cannot reach any other host over it`);
    }
    mismatch(list, (n) => n.mtu, 'MtuMismatch', `MTU differs within NIC network ${k}`, 'set one MTU on every NIC of the network', warn);
    mismatch(list, (n) => n.speed, 'SpeedMismatch', `link speed (Mb/s) differs within NIC network ${k}`, 'traffic over this network runs at the slowest link; check cabling or port settings', warn);
  }
  return out.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
}

function mismatch(list: readonly Nic[], get: (n: Nic) => number | undefined, code: PlanWarningCode, what: string, fix: string, warn: (c: PlanWarningCode, m: string) => void): void {
  // Most networks agree: look for a second value before building the per-value lists.
  let first: number | undefined;
  let differs = false;
  for (const n of list) {
    const v = get(n);
    if (v === undefined) continue;
    if (first === undefined) first = v;
    else if (v !== first) {
      differs = true;
      break;
    }
  }
  if (!differs) return;
  const by = new Map<number, string[]>();
  for (const n of list) {
    const v = get(n);
    if (v === undefined) continue;
    const l = by.get(v);
    if (l) l.push(n.hostName);
    else by.set(v, [n.hostName]);
  }
  if (by.size < 2) return;
  const parts = [...by.entries()].sort((a, b) => a[0] - b[0]).map(([v, hs]) => `${v} on ${names(hs)}`);
  warn(code, `${what}: ${parts.join('; ')}; ${fix}`);
}
