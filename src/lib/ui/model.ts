// What the TUI shows, derived from the same ClusterSnapshot and StatusReport `kubectl multinic status`
// builds (src/lib/status.ts), plus the kernel truth agents publish (src/lib/diagnostics/types.ts)
// and the pods' Multus network-status. Pure: rows and cells are plain data the views only lay out.
import type { HostInterface, IPPool } from '../crds/types.gen.js';
import { diagnosticsOf as doctorDiagnosticsOf } from '../doctor/util.js';
import type { KubeObject } from '../k8s/meta.js';
import { readNetworkStatus } from '../multus.js';
import { shimGateway, usesShim } from '../agent/addressing.js';
import type { VlanMode } from '../network.js';
import { parseRouteReports } from '../cluster/status.js';
import { type ClusterSnapshot, type NetworkStatusReport, type NicStatus, type StatusReport, buildStatusReport } from '../status.js';

/** ok / warn / fail, or none when there is nothing to judge (no block). */
export type Health = 'ok' | 'warn' | 'fail' | 'none';

/** Everything the TUI holds of the cluster: the status snapshot plus pods (for the Pods view). */
export interface ClusterData {
  snapshot: ClusterSnapshot;
  pods: KubeObject[];
}

/** The report `status` would print for this data (same function, so the same numbers and verdicts). */
export function statusOf(d: ClusterData): StatusReport {
  return buildStatusReport(d.snapshot);
}

/** A pool at or above this share of its capacity is a warning. */
export const POOL_WARN_SHARE = 0.9;

/** The kernel-truth block of a HostInterface, read as the doctor reads it (one reader). */
export const diagnosticsOf = doctorDiagnosticsOf;

const worst = (a: Health, b: Health): Health => {
  const rank = { none: 0, ok: 1, warn: 2, fail: 3 } as const;
  return rank[b] > rank[a] ? b : a;
};

export interface NetworkRow {
  name: string;
  /** Plugin and vlan mode, e.g. "macvlan l3". */
  mode: string;
  ready: boolean;
  hostsReady: number;
  hosts: number;
  used: number;
  /** Sum of pool capacities (bigint text sums can exceed 2^53 on IPv6; shown as text). */
  capacity: string;
  /** Route health over the grid: the worst cell and a short word. */
  routes: { health: Health; text: string };
  /** The most telling problem (the first the status report lists), or ''. */
  problem: string;
  health: Health;
}

export function networkRows(d: ClusterData, report: StatusReport = statusOf(d)): NetworkRow[] {
  return report.networks.map((n) => {
    const grid = gridOf(d, n.name, report);
    let used = 0;
    let cap = 0n;
    for (const h of n.hosts) for (const x of h.nics) {
      used += x.used;
      cap += BigInt(x.capacity);
    }
    const cells = grid?.rows.flatMap((r) => r.cells) ?? [];
    const failing = cells.filter((c) => c.health === 'fail').length;
    const warning = cells.filter((c) => c.health === 'warn').length;
    const routeHealth: Health = n.routeStatus === 'N/A' ? 'none' : failing ? 'fail' : warning || !n.ready ? 'warn' : 'ok';
    const routeText = n.routeStatus === 'N/A' ? 'n/a' : failing ? `${failing} failing` : warning ? `${warning} warning` : n.routeStatus === 'Success' ? 'ok' : n.routeStatus;
    const health = worst(n.ready ? 'ok' : 'warn', routeHealth === 'none' ? 'ok' : routeHealth);
    return {
      name: n.name,
      mode: `${n.plugin}${n.vlanMode ? ` ${n.vlanMode}` : ''}`,
      ready: n.ready,
      hostsReady: n.hosts.filter((h) => h.ready).length,
      hosts: n.hosts.length,
      used,
      capacity: cap.toString(),
      routes: { health: routeHealth, text: routeText },
      problem: n.problems[0] ?? '',
      health,
    };
  });
}

export interface GridColumn {
  interfaceIndex: number;
  netAddress: string;
}

export interface GridCell {
  host: string;
  interfaceIndex: number;
  netAddress: string;
  /** Host NIC name, '' when the host has no block on this NIC network. */
  nic: string;
  podCIDR: string;
  used: number;
  capacity: string;
  /** Short route state word: ok, pending, down, "2 missing", n/a. */
  route: string;
  health: Health;
  /** Why it is not ok, one line each (empty when ok). */
  reasons: string[];
}

export interface GridRow {
  host: string;
  cells: GridCell[];
  health: Health;
}

export interface Grid {
  network: string;
  columns: GridColumn[];
  rows: GridRow[];
}

/** Hosts x NIC networks of one network; undefined when the network is unknown. */
export function gridOf(d: ClusterData, network: string, report: StatusReport = statusOf(d)): Grid | undefined {
  const n = report.networks.find((x) => x.name === network);
  if (!n) return undefined;
  const cidr = d.snapshot.cidrs.find((c) => c.metadata.name === network);
  const columns: GridColumn[] = (cidr?.spec.cidr ?? []).map((e) => ({ interfaceIndex: e.interfaceIndex, netAddress: e.netAddress })).sort((a, b) => a.interfaceIndex - b.interfaceIndex);
  const his = new Map(d.snapshot.hostInterfaces.map((h) => [h.metadata.name ?? h.spec.hostName, h]));
  const nodes = new Map(report.nodes.map((x) => [x.name, x]));
  const rows = n.hosts.map((h) => {
    const cells = columns.map((col) => {
      const nic = h.nics.find((x) => x.interfaceIndex === col.interfaceIndex);
      if (!nic) return missingBlock(h.hostName, col, his.get(h.hostName));
      return judgeCell(n, h.hostName, h.ready, nic, his.get(h.hostName), nodes.get(h.hostName)?.ready ?? false);
    });
    return { host: h.hostName, cells, health: cells.reduce<Health>((a, c) => worst(a, c.health), 'none') };
  });
  return { network, columns, rows };
}

/**
 * A host with blocks on other NIC networks but none on this one. The agents claim a block on every
 * NIC network a host has a NIC on, so the host lost (or never had) that NIC: when it lost it, its
 * pods get fewer NICs than their peers. Failing, since GPU pools are uniform by design (the plan
 * warns about hosts lacking a NIC network); kernel truth, when published, says whether the link is down.
 */
function missingBlock(host: string, col: GridColumn, hi: HostInterface | undefined): GridCell {
  const base = { host, interfaceIndex: col.interfaceIndex, netAddress: col.netAddress, nic: '', podCIDR: '', used: 0, capacity: '0' };
  const down = diagnosticsOf(hi)?.nics.find((n) => n.netAddress === col.netAddress);
  if (down) return { ...base, nic: down.name, route: 'down', health: 'fail', reasons: [`${down.name} on ${host}: link ${down.adminUp ? down.operState : 'admin down'}, so no block on ${col.netAddress}`] };
  if (hi?.spec.interfaces.some((i) => i.netAddress === col.netAddress)) return { ...base, route: 'no block', health: 'warn', reasons: [`${host} has a NIC on ${col.netAddress} but no block in the CIDR yet`] };
  return { ...base, route: 'no NIC', health: 'fail', reasons: [`${host} has no NIC on ${col.netAddress} (link down or removed): its pods get fewer NICs`] };
}

/**
 * One host x NIC: the block and pool use from the status report; the route and link state from the
 * agent's kernel-truth diagnostics when it publishes them, else from what status knows (the host's
 * route report, and whether the agent still discovers the NIC: discovery drops a NIC whose link
 * is down, so a block whose NIC vanished from the HostInterface is failing).
 */
function judgeCell(n: NetworkStatusReport, host: string, hostReady: boolean, nic: NicStatus, hi: HostInterface | undefined, nodeReady: boolean): GridCell {
  const reasons: string[] = [];
  let health: Health = 'ok';
  let route = n.routeStatus === 'N/A' ? 'n/a' : hostReady ? 'ok' : 'pending';
  const fail = (why: string, word: string): void => {
    health = 'fail';
    route = word;
    reasons.push(why);
  };
  const warn = (why: string, word?: string): void => {
    health = worst(health, 'warn');
    if (word && health !== 'fail') route = word;
    reasons.push(why);
  };
  const name = nic.interfaceName;
  if (!nodeReady) fail(`node ${host} is not Ready`, 'node');
  const spec = hi?.spec.interfaces.find((i) => i.interfaceName === name);
  const diag = diagnosticsOf(hi);
  const dn = diag?.nics.find((x) => x.name === name);
  if (hi && !spec && !dn) fail(`${name} is no longer discovered on ${host} (link down or removed)`, 'down');
  else if (spec?.state === 'down') fail(`${name} link is down on ${host}`, 'down');
  if (dn && (!dn.adminUp || (dn.operState !== 'up' && dn.operState !== 'unknown') || !dn.carrier)) {
    fail(`${name} on ${host}: link ${dn.adminUp ? dn.operState : 'admin down'}${dn.carrier ? '' : ', no carrier'} (agent saw it at ${diag?.observedAt})`, 'down');
  }
  const dnet = diag?.networks.find((x) => x.network === n.name);
  if (dnet) {
    // Kernel truth is per NIC; the host-level readiness may be down for another NIC of the host.
    if (route === 'pending') route = 'ok';
    const missing = dnet.missingRoutes.filter((r) => !r.dev || r.dev === name);
    if (missing.length) fail(`${missing.length} route${missing.length === 1 ? '' : 's'} missing in table ${dnet.table}: ${missing.map((r) => `${r.dst}${r.via ? ` via ${r.via}` : ''}`).join(', ')}`, `${missing.length} missing`);
    if (!dnet.rulePresent) fail(`policy rule for table ${dnet.table} missing on ${host}`, 'no rule');
    const shim = dnet.shims?.find((s) => s.nic === name);
    if (shim && (!shim.up || !shim.hasGateway)) fail(`shim ${shim.link} ${shim.up ? 'lacks its gateway' : 'is down'} (${shim.gateway})`, 'shim');
    const foreign = dnet.foreignRoutes.filter((r) => r.dev === name);
    if (foreign.length) warn(`${foreign.length} foreign route${foreign.length === 1 ? '' : 's'} in table ${dnet.table}`);
  } else if (!hostReady && n.routeStatus !== 'N/A') warn(`routes not reported by ${host}'s agent`, 'pending');
  const cap = Number(nic.capacity);
  if (cap > 0 && nic.used / cap >= POOL_WARN_SHARE) warn(`pool ${nic.pool} ${nic.used}/${nic.capacity} used`);
  return { host, interfaceIndex: nic.interfaceIndex, netAddress: nic.netAddress, nic: name, podCIDR: nic.podCIDR, used: nic.used, capacity: nic.capacity, route, health, reasons };
}

export interface CellDetail {
  cell: GridCell;
  hostIP: string;
  pool: string;
  gateway?: string;
  /** Routes this host should have in the network's table for this NIC network (one per other host). */
  routesDesired: number;
  /** Present routes: desired minus missing (kernel truth), or what the host's report says; undefined when unknown. */
  routesPresent?: number;
  /** Where routesPresent comes from. */
  routesSource: 'kernel' | 'report' | 'none';
  missing: string[];
  allocations: Array<{ pod: string; address: string; interface?: string }>;
}

export function cellDetail(d: ClusterData, network: string, host: string, interfaceIndex: number, report: StatusReport = statusOf(d)): CellDetail | undefined {
  const grid = gridOf(d, network, report);
  const cell = grid?.rows.find((r) => r.host === host)?.cells.find((c) => c.interfaceIndex === interfaceIndex);
  const n = report.networks.find((x) => x.name === network);
  const nic = n?.hosts.find((h) => h.hostName === host)?.nics.find((x) => x.interfaceIndex === interfaceIndex);
  if (!cell || !n) return undefined;
  if (!nic) return { cell, hostIP: '-', pool: '-', routesDesired: 0, routesSource: 'none', missing: [], allocations: [] };
  const cidr = d.snapshot.cidrs.find((c) => c.metadata.name === network);
  const peers = cidr?.spec.cidr.find((e) => e.interfaceIndex === interfaceIndex)?.hosts.filter((h) => h.hostName !== host).length ?? 0;
  const routesDesired = n.routeStatus === 'N/A' ? 0 : peers;
  const hi = d.snapshot.hostInterfaces.find((h) => (h.metadata.name ?? h.spec.hostName) === host);
  const dnet = diagnosticsOf(hi)?.networks.find((x) => x.network === network);
  const missing = (dnet?.missingRoutes ?? []).filter((r) => !r.dev || r.dev === nic.interfaceName).map((r) => `${r.dst}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`);
  let routesPresent: number | undefined;
  let routesSource: CellDetail['routesSource'] = 'none';
  if (dnet) {
    routesPresent = Math.max(0, routesDesired - missing.length);
    routesSource = 'kernel';
  } else {
    const rep = parseRouteReports(hi)[network];
    if (rep) {
      // The report counts the host's routes over every NIC network: share them out evenly.
      const nicNets = cidr?.spec.cidr.filter((e) => e.hosts.some((h) => h.hostName === host)).length ?? 1;
      routesPresent = rep.ok ? routesDesired : Math.min(routesDesired, Math.floor(rep.routes / Math.max(1, nicNets)));
      routesSource = 'report';
    }
  }
  const pool: IPPool | undefined = d.snapshot.ippools.find((p) => p.metadata.name === nic.pool);
  const shim = usesShim(n.plugin, n.vlanMode as VlanMode);
  let gateway: string | undefined;
  if (shim) {
    try {
      gateway = shimGateway(nic.podCIDR);
    } catch {
      gateway = undefined;
    }
  }
  return {
    cell,
    hostIP: nic.hostIP,
    pool: nic.pool,
    ...(gateway ? { gateway } : {}),
    routesDesired,
    ...(routesPresent !== undefined ? { routesPresent } : {}),
    routesSource,
    missing,
    allocations: (pool?.spec.allocations ?? [])
      .map((a) => ({ pod: `${a.namespace}/${a.pod}`, address: a.address, ...(a.interface ? { interface: a.interface } : {}) }))
      .sort((a, b) => a.pod.localeCompare(b.pod) || a.address.localeCompare(b.address)),
  };
}

export interface NodeNicRow {
  name: string;
  vendorProduct: string;
  numa: string;
  speed: string;
  mtu: string;
  link: string;
  health: Health;
  /** DRA: the pods and claim holding the NIC, as status prints it (`ns/pod (claim ns/name)`). */
  claimedBy?: string;
}

export interface NodeRow {
  name: string;
  ready: boolean;
  agent: string;
  agentVersion: string;
  /** The agent's last heartbeat (HostInterface status.lastSeen) or kernel probe time. */
  lastSeen: string;
  health: Health;
  nics: NodeNicRow[];
}

export function nodeRows(d: ClusterData, report: StatusReport = statusOf(d)): NodeRow[] {
  const his = new Map(d.snapshot.hostInterfaces.map((h) => [h.metadata.name ?? h.spec.hostName, h]));
  return report.nodes.map((n) => {
    const hi = his.get(n.name);
    const diag = diagnosticsOf(hi);
    const nics: NodeNicRow[] = n.nics.map((x) => {
      const dn = diag?.nics.find((y) => y.name === x.name);
      const link = dn ? (dn.adminUp ? dn.operState : 'admin down') : (x.state ?? '-');
      return {
        name: x.name,
        vendorProduct: x.vendor ? `${x.vendor}:${x.product ?? '?'}` : '-',
        numa: x.numaNode === undefined || x.numaNode < 0 ? '-' : String(x.numaNode),
        speed: x.speed ? `${x.speed / 1000}G` : '-',
        mtu: String(dn?.mtu ?? x.mtu ?? '-'),
        link,
        health: link === 'up' || link === 'unknown' ? 'ok' : link === '-' ? 'none' : 'fail',
        ...(x.claim ? { claimedBy: `${(x.claimedBy ?? []).join(',') || '-'} (claim ${x.claim})` } : {}),
      };
    });
    const agent = n.published ? (diag?.errors?.length ? `probe errors: ${diag.errors.join('; ')}` : 'published') : 'missing';
    const health = worst(!n.ready || !n.published ? 'fail' : diag?.errors?.length ? 'warn' : 'ok', nics.reduce<Health>((a, c) => worst(a, c.health), 'none'));
    return {
      name: n.name,
      ready: n.ready,
      agent,
      agentVersion: diag?.agentVersion ?? hi?.status?.agentVersion ?? '-',
      lastSeen: diag?.observedAt ?? hi?.status?.lastSeen ?? '-',
      health,
      nics,
    };
  });
}

export interface PodInterfaceRow {
  network: string;
  interface: string;
  addresses: string[];
  /** host/NIC the address's pool sits on, from the IPPool allocations ('' when not ours or unknown). */
  hostNic: string;
}

export interface PodRow {
  /** namespace/name */
  name: string;
  node: string;
  phase: string;
  interfaces: PodInterfaceRow[];
}

/** Pods with an interface on one of our networks (from their Multus network-status annotation). */
export function podRows(d: ClusterData): PodRow[] {
  const ours = new Set(d.snapshot.networks.map((n) => n.metadata.name ?? ''));
  const byAddress = new Map<string, string>();
  for (const p of d.snapshot.ippools) {
    for (const a of p.spec.allocations) byAddress.set(`${a.namespace}/${a.pod}@${a.address}`, `${p.spec.hostName}/${p.spec.interfaceName}`);
  }
  const rows: PodRow[] = [];
  for (const pod of d.pods) {
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const entries = (readNetworkStatus(pod.metadata?.annotations) ?? []).filter((e) => ours.has(e.name.split('/').pop() ?? ''));
    if (!entries.length) continue;
    rows.push({
      name: `${ns}/${name}`,
      node: String((pod.spec as { nodeName?: unknown } | undefined)?.nodeName ?? ''),
      phase: String((pod.status as { phase?: unknown } | undefined)?.phase ?? ''),
      interfaces: entries.map((e) => ({
        network: e.name.split('/').pop() ?? e.name,
        interface: e.interface ?? '',
        addresses: e.ips ?? [],
        hostNic: (e.ips ?? []).map((ip) => byAddress.get(`${ns}/${name}@${ip}`)).find(Boolean) ?? '',
      })),
    });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}
