// Building a node's NodeDiagnostics (src/lib/diagnostics/types.ts) from what the agent read back from
// its kernel and disk (src/agent/probe.ts gathers it). Pure: captured `ip -json` output, sysctl
// values, file facts and the agent's own records in, the published block out. The desired side is
// computed here from the CIDR, never taken from what the agent last installed, so a route the kernel
// lost (deleted by hand, flushed with its NIC) shows as missing.
import type { CIDR, MultiNicNetwork, NodeCondition as GeneratedNodeCondition, NodeDiagnosticsStatus } from '../crds/types.gen.js';
import type { NodeCondition } from './conditions.js';
import type { Allocation } from '../ipam/types.js';
import type { IpAddrLink } from '../agent/discovery.js';
import { SHIM_PREFIX } from '../agent/discovery.js';
import { normDst, ruleTableId, type IpRule, type IpTableRoute } from '../agent/route-diff.js';
import { nicAddressing, shimGateway, usesShim } from '../agent/addressing.js';
import { parseIpamConfig, type IpamConfig } from '../network.js';
import { routesForHost } from '../routes.js';
import { MULTI_NIC_IPAM } from '../network.js';
import { containsCidr, formatCidr, parseIp, parseIpWithPrefix, networkOf, tryParseCidr } from '../net/ip.js';
import {
  DIAGNOSTICS_VERSION,
  type AllocationDiagnostics,
  type BinaryDiagnostics,
  type JournalDiagnostics,
  type NetworkRouteDiagnostics,
  type NicDiagnostics,
  type NodeDiagnostics,
  type RepairRecord,
  type RouteEntry,
  type SysctlDiagnostics,
} from './types.js';

/** The CNI executable the agent's DaemonSet installs. */
export const CNI_EXECUTABLE = 'multi-nic';
/** Link types whose kernel support is checked (the delegates that create links of their own name). */
export const KERNEL_LINK_KINDS: readonly string[] = ['macvlan', 'ipvlan'];

/** A CNI plugin name that is safe as one path segment (it comes from a CR: checked before any path). */
export const SAFE_PLUGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface NetworkInput {
  network: MultiNicNetwork;
  cidr?: CIDR;
}

/** A sysctl read as path segments under /proc/sys (interface names may hold dots). */
export type SysctlPath = readonly string[];

export const SYSCTL_IPV4_FORWARD: SysctlPath = ['net', 'ipv4', 'ip_forward'];
export const SYSCTL_IPV6_FORWARD: SysctlPath = ['net', 'ipv6', 'conf', 'all', 'forwarding'];
export const SYSCTL_RP_FILTER_ALL: SysctlPath = ['net', 'ipv4', 'conf', 'all', 'rp_filter'];
export const rpFilterPath = (nic: string): SysctlPath => ['net', 'ipv4', 'conf', nic, 'rp_filter'];
export const sysctlKey = (p: SysctlPath): string => p.join('/');

/** A name the kernel accepts as an interface name and that is one safe path segment. */
export const safeIfName = (n: string): boolean => /^[^\s/:]{1,15}$/.test(n) && n !== '.' && n !== '..';

/** A netns path the agent may hand to nsenter: absolute, no `..`, no control characters, bounded. */
export function validNetnsPath(p: string): boolean {
  return p.startsWith('/') && p.length <= 4096 && !p.split('/').includes('..') && ![...p].some((c) => c.charCodeAt(0) < 32);
}

/** What one pod netns holds (read through the namespace-entry helper), trimmed to what is compared. */
export interface PodNetnsView {
  links: Array<{ ifname: string; addrs: string[] }>;
  routes: Array<{ dst?: string; dev?: string; gateway?: string }>;
}

/** Per container ID: the view of its netns, `gone` when the path no longer exists, absent when unknown. */
export type PodViews = ReadonlyMap<string, PodNetnsView | 'gone' | { error: string }>;

export interface BinaryFacts {
  name: string;
  path: string;
  present: boolean;
  executable: boolean;
  version?: string;
  supportedVersions?: string[];
  error?: string;
}

export interface JournalFacts {
  allocations: number;
  sizeBytes?: number;
  /** Bytes of a damaged tail cut off at open, and why. */
  discardedBytes?: number;
  discardedReason?: string;
  /** Set when the store refuses requests (closed or poisoned by a failed write). */
  unavailable?: string;
}

/** Everything the probe read, as plain data. */
export interface ProbeSnapshot {
  hostName: string;
  agentVersion: string;
  observedAt: string;
  nonce?: string;
  networks: readonly NetworkInput[];
  /** `ip -json -d addr show`. */
  links: readonly IpAddrLink[];
  /** `ip -json rule` (v4 and v6). */
  rules: readonly IpRule[];
  /** `ip -json route show table all` (v4 and v6). */
  routes: readonly IpTableRoute[];
  /** rt_tables name → id. */
  tableIds: Readonly<Record<string, number>>;
  /** sysctlKey(path) → value as read (absent: unreadable). */
  sysctls: Readonly<Record<string, string | undefined>>;
  /** Names of the NICs discovery reports now (up, with an IPv4 address). */
  discovered: readonly string[];
  /** NICs lent whole to a pod (host-device): name → `namespace/name` of the pod (absent from the host by design). */
  lent?: Readonly<Record<string, string>>;
  binaries: readonly BinaryFacts[];
  /** Link kind → supported (absent: could not tell). */
  kernelSupport: Readonly<Record<string, boolean | undefined>>;
  journal: JournalFacts;
  allocations: readonly Allocation[];
  pods: PodViews;
  repairs: readonly RepairRecord[];
  errors: readonly string[];
}

const byStr = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function ipamOf(n: NetworkInput): IpamConfig | undefined {
  try {
    return parseIpamConfig(n.network.metadata.name ?? '', n.network.spec.ipam);
  } catch {
    return undefined;
  }
}

const carries = (n: NetworkInput, host: string) => !!n.cidr && n.cidr.spec.cidr.some((e) => e.hosts.some((h) => h.hostName === host));

/** The multi-nic-ipam networks with a block on `host`, sorted by name. */
export function hostNetworks(networks: readonly NetworkInput[], host: string): NetworkInput[] {
  return networks.filter((n) => ipamOf(n)?.type === MULTI_NIC_IPAM && carries(n, host)).sort((a, b) => byStr(a.network.metadata.name ?? '', b.network.metadata.name ?? ''));
}

/**
 * The CNI executables this host needs, with the networks needing each: multi-nic for every network,
 * each network's main plugin, and a single-NIC IPAM's own type. Names that cannot be one path
 * segment are returned in `invalid` (never looked up on disk).
 */
export function neededBinaries(networks: readonly NetworkInput[]): { binaries: Array<{ name: string; neededBy: string[] }>; invalid: string[] } {
  const need = new Map<string, Set<string>>();
  const invalid: string[] = [];
  const add = (bin: string, net: string) => {
    if (!SAFE_PLUGIN_NAME.test(bin)) {
      invalid.push(`network "${net}": plugin name ${JSON.stringify(bin)} is not a CNI executable name (letters, digits, '.', '_', '-')`);
      return;
    }
    need.set(bin, (need.get(bin) ?? new Set()).add(net));
  };
  for (const n of networks) {
    if (n.network.metadata.deletionTimestamp) continue;
    const name = n.network.metadata.name ?? '';
    add(CNI_EXECUTABLE, name);
    if (n.network.spec.plugin?.type) add(n.network.spec.plugin.type, name);
    const ipam = ipamOf(n);
    if (ipam && ipam.type && ipam.type !== MULTI_NIC_IPAM) add(ipam.type, name);
  }
  return { binaries: [...need].sort(([a], [b]) => byStr(a, b)).map(([name, s]) => ({ name, neededBy: [...s].sort(byStr) })), invalid };
}

/** NICs named for `host` by the networks' CIDRs (they should exist even when discovery dropped them). */
function plannedNics(networks: readonly NetworkInput[], host: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const n of hostNetworks(networks, host)) {
    for (const e of n.cidr?.spec.cidr ?? []) for (const h of e.hosts) if (h.hostName === host) out.set(h.interfaceName, (out.get(h.interfaceName) ?? new Set()).add(n.network.metadata.name ?? ''));
  }
  return out;
}

/**
 * The NICs to report: discovered ∪ planned by a CIDR ∪ lent ∪ links holding an address on one of the
 * networks' NIC networks (so a NIC set down, which discovery drops and the CIDR then forgets, is
 * still reported as down). Only names safe as a path segment.
 */
export function nicsToProbe(networks: readonly NetworkInput[], host: string, discovered: readonly string[], lent: readonly string[] = [], links: readonly IpAddrLink[] = []): string[] {
  const onNets = links.filter((l) => !l.ifname.startsWith(SHIM_PREFIX) && nicNetworksOf(networks, v4Net(l), false).length > 0).map((l) => l.ifname);
  return [...new Set([...discovered, ...plannedNics(networks, host).keys(), ...lent, ...onNets])].filter(safeIfName).sort(byStr);
}

function v4Net(l: IpAddrLink | undefined): string | undefined {
  const v4 = globalAddrs(l).find((a) => !a.includes(':'));
  if (!v4) return undefined;
  const p = parseIpWithPrefix(v4);
  return formatCidr(networkOf(p.family, p.addr, p.prefix));
}

/**
 * Networks a NIC on `netAddress` belongs to: a CIDR entry on that NIC network, or masterNets holding
 * it; with `emptyMeansAll`, a single-NIC IPAM network without masterNets rides on every NIC.
 */
function nicNetworksOf(networks: readonly NetworkInput[], netAddress: string | undefined, emptyMeansAll: boolean): string[] {
  if (!netAddress) return [];
  const a = tryParseCidr(netAddress, { strict: false });
  if (!a) return [];
  const out: string[] = [];
  for (const n of networks) {
    const ipam = ipamOf(n);
    if (!ipam || n.network.metadata.deletionTimestamp) continue;
    const masterNets = n.network.spec.masterNets ?? [];
    const inMaster = masterNets.some((m) => {
      const c = tryParseCidr(m, { strict: false });
      return !!c && c.family === a.family && containsCidr(c, a);
    });
    const inCidr = (n.cidr?.spec.cidr ?? []).some((e) => e.netAddress === netAddress);
    if (ipam.type === MULTI_NIC_IPAM ? inCidr || inMaster : inMaster || (emptyMeansAll && masterNets.length === 0)) out.push(n.network.metadata.name ?? '');
  }
  return out;
}

/** Every sysctl the probe reads for these NICs. */
export function sysctlsToRead(nics: readonly string[]): SysctlPath[] {
  return [SYSCTL_IPV4_FORWARD, SYSCTL_IPV6_FORWARD, SYSCTL_RP_FILTER_ALL, ...nics.map(rpFilterPath)];
}

const num = (v: string | undefined): number | undefined => (v !== undefined && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : undefined);

function routeEntry(r: { dst: string; via?: string; dev?: string }): RouteEntry {
  return { dst: r.dst, ...(r.via ? { via: r.via } : {}), ...(r.dev ? { dev: r.dev } : {}) };
}

/** A route's table as a number (`ip` prints names it knows from its own rt_tables; main has none). */
function routeTable(r: IpTableRoute, names: Readonly<Record<string, number>>): number | undefined {
  const t = r.table;
  if (t === undefined) return 254;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(String(t))) return Number(t);
  return ({ main: 254, local: 255, default: 253 } as Record<string, number>)[String(t)] ?? names[String(t)];
}

/**
 * One network's table and rule against the desired set from its CIDR: routes missing (absent, or
 * present with another gateway or device) and foreign (in the table but not wanted as they are).
 */
export function compareNetworkRoutes(
  input: NetworkInput,
  host: string,
  actualRoutes: readonly IpTableRoute[],
  rules: readonly IpRule[],
  tableIds: Readonly<Record<string, number>>,
  lent: Readonly<Record<string, string>> = {},
): Omit<NetworkRouteDiagnostics, 'shims' | 'vlanMode'> {
  const cidr = input.cidr as CIDR;
  const name = input.network.metadata.name ?? '';
  const tableName = cidr.spec.config.name || cidr.metadata.name || name;
  const id = tableIds[tableName];
  // A NIC lent to a pod is in the pod's namespace: the host cannot route over it meanwhile.
  const want = routesForHost(cidr, host).filter((r) => !(r.dev in lent)).map((r) => ({ dst: normDst(r.dst), via: r.via, dev: r.dev }));
  const parsedSubnet = cidr.spec.config.subnet ? tryParseCidr(cidr.spec.config.subnet, { strict: false }) : undefined;
  const subnet = parsedSubnet ? formatCidr(parsedSubnet) : '';
  if (id === undefined) {
    return { network: name, table: '', desiredRoutes: want.length, ...listed('missing', want.map(routeEntry)), foreignRoutes: [], rulePresent: !subnet };
  }
  const mine = actualRoutes.filter((r) => routeTable(r, tableIds) === id && (r.type === undefined || r.type === 'unicast'));
  const have = mine.map((r) => ({ dst: normDst(r.dst), via: r.gateway, dev: r.dev }));
  // Keyed sets: a 4,096-host network wants ~32,000 routes; comparing every pair would be 10^9 steps.
  const key = (r: { dst: string; via?: string; dev?: string }): string => `${r.dst} ${r.via ?? ''} ${r.dev ?? ''}`;
  const haveKeys = new Set(have.map(key));
  const wantKeys = new Set(want.map(key));
  const missingRoutes = want.filter((w) => !haveKeys.has(key(w))).map(routeEntry);
  const foreignRoutes = have.filter((h) => !wantKeys.has(key(h))).map((h) => routeEntry({ dst: h.dst, ...(h.via ? { via: h.via } : {}), ...(h.dev ? { dev: h.dev } : {}) }));
  const rulePresent = !subnet || rules.some((r) => {
    if (ruleTableId(r, tableIds) !== id || r.src === undefined || r.src === 'all') return false;
    return normDst(r.srclen !== undefined ? `${r.src}/${r.srclen}` : r.src) === subnet;
  });
  const sortR = (l: RouteEntry[]) => l.sort((a, b) => byStr(a.dst, b.dst) || byStr(a.via ?? '', b.via ?? ''));
  return { network: name, table: String(id), desiredRoutes: want.length, ...listed('missing', sortR(missingRoutes)), ...listed('foreign', sortR(foreignRoutes)), rulePresent };
}

/** Routes listed per kind in a node's diagnostics; past it only the count (HostInterfaces stay far under etcd's limit). */
export const MAX_LISTED_ROUTES = 100;

function listed<K extends 'missing' | 'foreign'>(kind: K, routes: RouteEntry[]): K extends 'missing' ? { missingRoutes: RouteEntry[]; missingRouteCount?: number } : { foreignRoutes: RouteEntry[]; foreignRouteCount?: number } {
  const list = routes.slice(0, MAX_LISTED_ROUTES);
  const count = routes.length > MAX_LISTED_ROUTES ? { [`${kind}RouteCount`]: routes.length } : {};
  return { [`${kind}Routes`]: list, ...count } as never;
}

const globalAddrs = (l: IpAddrLink | undefined) =>
  (l?.addr_info ?? []).filter((a) => a.local && a.prefixlen !== undefined && (a.scope ?? 'global') === 'global').map((a) => `${a.local}/${a.prefixlen}`);

/** The macvlan L3 shims one network needs on this host, and whether each is there, up and holding its gateway. */
export function shimDiagnostics(input: NetworkInput, host: string, links: readonly IpAddrLink[], lent: Readonly<Record<string, string>> = {}): NonNullable<NetworkRouteDiagnostics['shims']> {
  const out: NonNullable<NetworkRouteDiagnostics['shims']> = [];
  for (const e of input.cidr?.spec.cidr ?? []) {
    for (const h of e.hosts) {
      if (h.hostName !== host || h.interfaceName in lent) continue;
      const parent = links.find((l) => l.ifname === h.interfaceName);
      const gateway = shimGateway(h.podCIDR);
      const link = parent ? `${SHIM_PREFIX}${parent.ifindex}` : '';
      const shim = link ? links.find((l) => l.ifname === link) : undefined;
      const up = !!shim && (shim.flags ?? []).includes('UP');
      const hasGateway = globalAddrs(shim).some((a) => a.split('/')[0] === gateway);
      out.push({ nic: h.interfaceName, link, up, gateway, hasGateway });
    }
  }
  return out.sort((a, b) => byStr(a.nic, b.nic));
}

/** Link facts of one NIC; a NIC the kernel does not have reports operState `notpresent`. */
export function nicDiagnostics(name: string, links: readonly IpAddrLink[], networks: string[]): NicDiagnostics {
  const l = links.find((x) => x.ifname === name);
  const addresses = globalAddrs(l);
  const v4 = addresses.find((a) => !a.includes(':'));
  let netAddress: string | undefined;
  if (v4) {
    const p = parseIpWithPrefix(v4);
    netAddress = formatCidr(networkOf(p.family, p.addr, p.prefix));
  }
  const flags = l?.flags ?? [];
  return {
    name,
    ...(netAddress ? { netAddress } : {}),
    operState: l ? (l.operstate ?? 'unknown').toLowerCase() : 'notpresent',
    adminUp: flags.includes('UP'),
    carrier: flags.includes('LOWER_UP'),
    mtu: l?.mtu ?? 0,
    addresses,
    networks,
  };
}

/** Journal health and addresses held twice (same network and address, two holders). */
export function journalDiagnostics(facts: JournalFacts, allocations: readonly Allocation[]): JournalDiagnostics {
  const byAddr = new Map<string, Allocation[]>();
  for (const a of allocations) {
    const k = `${a.network}\0${a.address}`;
    byAddr.set(k, [...(byAddr.get(k) ?? []), a]);
  }
  const duplicates = [...byAddr.values()]
    .filter((l) => l.length > 1)
    .map((l) => ({ pool: l[0]!.pool, address: l[0]!.address, holders: l.map((a) => `${a.namespace}/${a.podName} ${a.containerID} ${a.interface}`).sort(byStr) }))
    .sort((a, b) => byStr(a.pool, b.pool) || byStr(a.address, b.address));
  const damaged = facts.discardedBytes ? 1 : 0;
  const messages = [
    ...(facts.unavailable ? [facts.unavailable] : []),
    ...(facts.discardedBytes ? [`${facts.discardedBytes} damaged bytes cut off the journal at load${facts.discardedReason ? `: ${facts.discardedReason}` : ''}`] : []),
    ...(duplicates.length ? [`${duplicates.length} address(es) held twice`] : []),
  ];
  return {
    ok: !facts.unavailable && !damaged && duplicates.length === 0,
    allocations: facts.allocations,
    ...(facts.sizeBytes !== undefined ? { sizeBytes: facts.sizeBytes } : {}),
    ...(damaged ? { damaged } : {}),
    ...(messages.length ? { message: messages.join('; ') } : {}),
    ...(duplicates.length ? { duplicates } : {}),
  };
}

/** What the pod must have for one allocation: its interface, address (with prefix) and routes. */
export interface PodExpectation {
  prefix?: number;
  routes: string[];
}

/** The pod side of every allocation, from the networks' CIDRs (pool → addressing). */
export function podExpectations(networks: readonly NetworkInput[], host: string): Map<string, PodExpectation> {
  const out = new Map<string, PodExpectation>();
  for (const n of hostNetworks(networks, host)) {
    const ipam = ipamOf(n) as IpamConfig;
    for (const e of n.cidr?.spec.cidr ?? []) {
      for (const h of e.hosts) {
        if (h.hostName !== host) continue;
        try {
          const a = nicAddressing(n.network, ipam, e, h);
          out.set(a.pool.name, { prefix: a.prefix, routes: a.routes.map((r) => normDst(r.dst)) });
        } catch {
          // an unparsable block: the allocation is reported without expectations
        }
      }
    }
  }
  return out;
}

/** One allocation against its pod's netns. */
export function allocationDiagnostics(a: Allocation, view: PodNetnsView | 'gone' | { error: string } | undefined, expect: PodExpectation | undefined): AllocationDiagnostics {
  const base = { network: a.network, pool: a.pool, address: a.address, pod: `${a.namespace}/${a.podName}`, ...(a.podUID ? { podUID: a.podUID } : {}), containerID: a.containerID, podInterface: a.interface };
  if (view === undefined) return { ...base, state: 'unknown', detail: 'this agent does not know the pod netns (allocated before it started)' };
  if (view === 'gone') return { ...base, state: 'netns-gone', detail: 'the pod network namespace no longer exists' };
  if ('error' in view) return { ...base, state: 'unknown', detail: view.error };
  const link = view.links.find((l) => l.ifname === a.interface);
  if (!link) return { ...base, state: 'interface-missing', detail: `no ${a.interface} in the pod` };
  const addr = link.addrs.find((x) => x.split('/')[0] === a.address);
  if (!addr) return { ...base, state: 'address-missing', detail: `${a.interface} lacks ${a.address}${expect?.prefix !== undefined ? `/${expect.prefix}` : ''}` };
  const want = [...(expect?.routes ?? [])];
  const p = parseIpWithPrefix(addr);
  const onLink = formatCidr(networkOf(p.family, p.addr, expect?.prefix ?? p.prefix));
  if (!want.includes(onLink)) want.unshift(onLink);
  for (const dst of want) {
    if (!view.routes.some((r) => r.dev === a.interface && safeNorm(r.dst) === dst)) return { ...base, state: 'route-missing', detail: `route ${dst} dev ${a.interface} missing in the pod` };
  }
  return { ...base, state: 'present' };
}

function safeNorm(dst: string | undefined): string | undefined {
  try {
    return normDst(dst);
  } catch {
    return undefined;
  }
}

/** Builds the block the agent publishes. Lists sorted so the object diffs cleanly. */
export function buildNodeDiagnostics(s: ProbeSnapshot): NodeDiagnostics {
  const errors = [...s.errors];
  const nets = hostNetworks(s.networks, s.hostName);
  let forwardingNeeded = false;
  const networks: NetworkRouteDiagnostics[] = nets.map((n) => {
    const ipam = ipamOf(n) as IpamConfig;
    if (ipam.vlanMode === 'l3' || ipam.vlanMode === 'l3s') forwardingNeeded = true;
    const cmp = compareNetworkRoutes(n, s.hostName, s.routes, s.rules, s.tableIds, s.lent);
    if (!cmp.table && cmp.desiredRoutes > 0) errors.push(`network "${cmp.network}": no routing table id in rt_tables yet (the agent has not reconciled it)`);
    const out: NetworkRouteDiagnostics = { ...cmp, vlanMode: ipam.vlanMode };
    if (usesShim(n.network.spec.plugin.type, ipam.vlanMode)) out.shims = shimDiagnostics(n, s.hostName, s.links, s.lent);
    return out;
  });

  const planned = plannedNics(s.networks, s.hostName);
  const nicNames = nicsToProbe(s.networks, s.hostName, s.discovered, Object.keys(s.lent ?? {}), s.links);
  const nics = nicNames.map((name) => {
    const d = nicDiagnostics(name, s.links, []);
    const on = new Set(planned.get(name) ?? []);
    for (const n of nicNetworksOf(s.networks, d.netAddress, true)) on.add(n);
    d.networks = [...on].sort(byStr);
    const lentTo = s.lent?.[name];
    if (lentTo) d.lentTo = lentTo;
    return d;
  });

  const rpFilter: Record<string, number> = {};
  for (const nic of nicNames) {
    const v = num(s.sysctls[sysctlKey(rpFilterPath(nic))]);
    if (v !== undefined) rpFilter[nic] = v;
  }
  const sysctls: SysctlDiagnostics = { forwardingNeeded };
  const v4f = num(s.sysctls[sysctlKey(SYSCTL_IPV4_FORWARD)]);
  const v6f = num(s.sysctls[sysctlKey(SYSCTL_IPV6_FORWARD)]);
  const rpa = num(s.sysctls[sysctlKey(SYSCTL_RP_FILTER_ALL)]);
  if (v4f !== undefined) sysctls.ipv4Forward = v4f;
  if (v6f !== undefined) sysctls.ipv6Forward = v6f;
  if (rpa !== undefined) sysctls.rpFilterAll = rpa;
  if (Object.keys(rpFilter).length) sysctls.rpFilter = rpFilter;

  const need = neededBinaries(s.networks);
  errors.push(...need.invalid);
  const binaries: BinaryDiagnostics[] = need.binaries.map(({ name, neededBy }) => {
    const f = s.binaries.find((b) => b.name === name);
    const out: BinaryDiagnostics = { name, path: f?.path ?? '', present: f?.present ?? false, executable: f?.executable ?? false, neededBy };
    if (f?.version) out.version = f.version;
    if (f?.supportedVersions?.length) out.supportedVersions = [...f.supportedVersions];
    if (f?.error) out.error = f.error;
    if (KERNEL_LINK_KINDS.includes(name) && s.kernelSupport[name] !== undefined) out.kernelSupport = s.kernelSupport[name];
    return out;
  });

  const expect = podExpectations(s.networks, s.hostName);
  const allocations = listedAllocations(s.allocations.map((a) => allocationDiagnostics(a, s.pods.get(a.containerID), expect.get(a.pool))));

  return {
    version: DIAGNOSTICS_VERSION,
    observedAt: s.observedAt,
    ...(s.nonce ? { nonce: s.nonce } : {}),
    agentVersion: s.agentVersion,
    networks,
    sysctls,
    nics,
    binaries,
    journal: journalDiagnostics(s.journal, s.allocations),
    ...allocations,
    repairs: [...s.repairs],
    ...(errors.length ? { errors: [...new Set(errors)].sort(byStr) } : {}),
  };
}

/**
 * The most allocations one node's diagnostics list. An entry is up to about 1.1 KB with names at
 * their Kubernetes maximum, so 500 keep a HostInterface far under etcd's limit on a node with
 * hundreds of pods × 8 NICs (test/lib/cluster/object-size.test.ts); readers that need every
 * allocation of a node with more (ipam release --leaked) add the node's IPPools.
 */
export const MAX_LISTED_ALLOCATIONS = 500;

const STATE_RANK: Record<AllocationDiagnostics['state'], number> = { 'netns-gone': 0, 'interface-missing': 0, 'address-missing': 0, 'route-missing': 0, unknown: 1, present: 2 };
const byAllocation = (a: AllocationDiagnostics, b: AllocationDiagnostics): number => byStr(a.network, b.network) || byStr(a.pool, b.pool) || compareAddr(a.address, b.address);

/** The allocations to list (problems first, then unknown, then present; sorted by network, pool, address), with the counts when capped. */
export function listedAllocations(all: AllocationDiagnostics[]): Pick<NodeDiagnostics, 'allocations' | 'allocationCount' | 'allocationStates'> {
  if (all.length <= MAX_LISTED_ALLOCATIONS) return { allocations: all.sort(byAllocation) };
  const states: Partial<Record<AllocationDiagnostics['state'], number>> = {};
  for (const a of all) states[a.state] = (states[a.state] ?? 0) + 1;
  const kept = all.sort((a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || byAllocation(a, b)).slice(0, MAX_LISTED_ALLOCATIONS).sort(byAllocation);
  return { allocations: kept, allocationCount: all.length, allocationStates: states };
}

function compareAddr(a: string, b: string): number {
  try {
    const x = parseIp(a);
    const y = parseIp(b);
    return x.family - y.family || (x.addr < y.addr ? -1 : x.addr > y.addr ? 1 : 0);
  } catch {
    return byStr(a, b);
  }
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Same type and, for objects, the same keys all the way down (optional ones included). */
type Exact<A, B> = [A] extends [readonly (infer X)[]]
  ? [B] extends [readonly (infer Y)[]] ? Exact<X, Y> : false
  : [A] extends [object]
    ? [B] extends [object]
      ? Same<keyof A, keyof B> extends true
        ? { [K in keyof A & keyof B]-?: Exact<NonNullable<A[K]>, NonNullable<B[K]>> }[keyof A & keyof B] extends true ? true : false
        : false
      : false
    : Same<A, B>;
/**
 * Compile-time proof that the CRD schema (deploy/crds/hostinterfaces.yaml, generated into
 * NodeDiagnosticsStatus) and this contract describe the same object: the API server prunes every
 * field the schema lacks, so a field added to one only would silently vanish on the way.
 */
export const SCHEMA_MATCHES_CONTRACT: Exact<NodeDiagnostics, NodeDiagnosticsStatus> & Exact<NodeCondition, GeneratedNodeCondition> = true;
