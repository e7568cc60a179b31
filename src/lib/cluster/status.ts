// MultiNicNetwork status (upstream.md §2.9 plus our conditions and per-host readiness), computed by
// the leader from what the agents published. Hosts report their route installs in an annotation
// on their own HostInterface (each agent writes only its own object, so reports never contend);
// a report names the CIDR fingerprint it was made for, and only reports for the current CIDR
// count. Pure.
import type { CIDRSpec, Condition, HostInterface, HostReadiness, MultiNicNetwork, MultiNicNetworkStatus } from '../crds/types.gen.js';
import { canonical, cidrFingerprint, cidrHosts } from './claim.js';
import { MULTI_NIC_IPAM, ipamConfigOf } from '../network.js';

/** HostInterface annotation holding this host's route reports, JSON: Record<network, RouteReport>. */
export const ROUTES_ANNOTATION = 'multinic.fms.io/routes';

/**
 * HostInterface annotation holding this host's failed claims, JSON: Record<network, message> (e.g.
 * no free host index). The leader folds them into the network's status, whichever agent leads.
 */
export const CLAIM_ERRORS_ANNOTATION = 'multinic.fms.io/claim-errors';

/** Claim failures reported on HostInterfaces, by network: "<host>: <message>" joined with "; ". */
export function claimErrors(his: readonly HostInterface[]): Map<string, string> {
  const out = new Map<string, string[]>();
  for (const hi of [...his].sort((a, b) => (a.spec.hostName < b.spec.hostName ? -1 : 1))) {
    const text = hi.metadata.annotations?.[CLAIM_ERRORS_ANNOTATION];
    if (!text) continue;
    try {
      const v = JSON.parse(text) as unknown;
      if (!v || typeof v !== 'object' || Array.isArray(v)) continue;
      for (const [net, msg] of Object.entries(v as Record<string, unknown>)) {
        if (typeof msg === 'string' && msg) out.set(net, [...(out.get(net) ?? []), `${hi.spec.hostName}: ${msg}`]);
      }
    } catch {
      // unreadable: the host rewrites it on its next round
    }
  }
  return new Map([...out].map(([k, v]) => [k, v.join('; ')]));
}

/** One host's report for one network: what it installed for which CIDR. */
export interface RouteReport {
  /** cidrFingerprint() of the CIDR the routes were computed from. */
  cidr: string;
  /** Host routes installed in the network's table. */
  routes: number;
  ok: boolean;
  message?: string;
}

/** Decodes the annotation; an unreadable value counts as no reports (the host rewrites it). */
export function parseRouteReports(hi: HostInterface | undefined): Record<string, RouteReport> {
  const text = hi?.metadata.annotations?.[ROUTES_ANNOTATION];
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
    const out: Record<string, RouteReport> = {};
    for (const [k, r] of Object.entries(v as Record<string, unknown>)) {
      if (r && typeof r === 'object' && typeof (r as RouteReport).cidr === 'string') out[k] = r as RouteReport;
    }
    return out;
  } catch {
    return {};
  }
}

/** The annotation value with `network`'s report replaced (undefined removes it). Sorted keys. */
export function withRouteReport(reports: Record<string, RouteReport>, network: string, report: RouteReport | undefined): string {
  const next = { ...reports };
  if (report) next[network] = report;
  else delete next[network];
  return canonical(next);
}


/** Upstream IsL3Mode: multiNICIPAM true and vlanMode l3/l3s. */
export function isL3(net: MultiNicNetwork): boolean {
  if (!net.spec.multiNICIPAM) return false;
  const v = ipamConfigOf(net)?.vlanMode;
  return v === 'l3' || v === 'l3s';
}

export function usesMultiNicIpam(net: MultiNicNetwork): boolean {
  return ipamConfigOf(net)?.type === MULTI_NIC_IPAM;
}

export interface StatusInput {
  network: MultiNicNetwork;
  /** The network's CIDR spec; undefined when none is claimed yet (or the network does not use multi-nic-ipam). */
  cidr: CIDRSpec | undefined;
  hostInterfaces: readonly HostInterface[];
  /** Agents alive (nodes whose agent holds a fresh HostInterface). */
  agents: number;
  /** NAD generation failure, if any (e.g. "namespace x: forbidden"). */
  nadError?: string;
  /** The network could not be planned (bad ipam, no free block...). */
  planError?: string;
  /** The network is refused: its subnet overlaps an earlier network's (subnetOverlapRefusals). */
  overlapError?: string;
  now: Date;
}

/** At most this many not-ready hosts are listed in a network's status.hosts (notReadyHosts counts them all). */
export const MAX_LISTED_HOSTS = 100;
/** A listed host's message is cut to this many characters. */
export const MAX_HOST_MESSAGE = 256;

/**
 * One host's readiness for a network: what its agent reported on its HostInterface for the CIDR
 * whose cidrFingerprint() is `fp`. A not-ready host carries `routes` only when its agent reported a
 * route install failure for the current CIDR. computeStatus judges every host with it, and the
 * CLI judges the hosts the status does not list with it (src/lib/status.ts), so they agree.
 */
export function hostReadiness(hostName: string, hi: HostInterface | undefined, network: string, fp: string): HostReadiness {
  const r = parseRouteReports(hi)[network];
  if (!hi) return { hostName, ready: false, message: 'no HostInterface: agent not running on this node' };
  if (!r || r.cidr !== fp) return { hostName, ready: false, message: r ? 'routes installed for an older CIDR; update pending' : 'routes not reported yet' };
  if (!r.ok) return { hostName, ready: false, routes: r.routes, message: r.message ?? 'route install failed' };
  return { hostName, ready: true, routes: r.routes };
}

const STATUS_MESSAGES = {
  Failed: 'some route cannot be applied, need attention',
  Unknown: 'some daemon cannot be connected',
  WaitForRoutes: 'waiting for route update',
} as const;

/**
 * The status the network should have now. Hosts are counted (readyHosts, notReadyHosts) and only the
 * not-ready ones listed, at most MAX_LISTED_HOSTS, so the object stays small at thousands of hosts
 * (test/lib/cluster/object-size.test.ts). `previous` supplies lastTransitionTime of unchanged
 * conditions and lastSyncTime when nothing else changed, so an unchanged status is byte-identical
 * (the caller skips the write, like upstream NetStatusUpdated).
 */
export function computeStatus(input: StatusInput, previous: MultiNicNetworkStatus | undefined): MultiNicNetworkStatus {
  const { network: net, cidr, hostInterfaces } = input;
  const his = new Map(hostInterfaces.map((h) => [h.metadata.name ?? h.spec.hostName, h]));
  const l3 = isL3(net);
  const ipamNet = usesMultiNicIpam(net);
  const name = net.metadata.name ?? '';

  const computeResults = (cidr?.cidr ?? []).map((e) => ({ netAddress: e.netAddress, numOfHosts: e.hosts.length }));
  const discovery = {
    existDaemon: input.agents,
    infoAvailable: hostInterfaces.filter((h) => h.spec.interfaces.length > 0).length,
    cidrProcessed: Math.max(0, ...(cidr?.cidr ?? []).map((e) => e.hosts.length)),
  };

  const fp = cidr ? cidrFingerprint(cidr) : '';
  const hosts: HostReadiness[] = [];
  let failed = 0;
  let waiting = 0;
  for (const host of cidr ? cidrHosts(cidr) : []) {
    const h = hostReadiness(host, his.get(host), name, fp);
    if (!h.ready && h.routes !== undefined) failed++;
    else if (!h.ready) waiting++;
    hosts.push(h);
  }
  const notReady = hosts.filter((h) => !h.ready);
  // Route failures first (they need someone), then hosts still waiting; by name within each.
  const listed = [...notReady.filter((h) => h.routes !== undefined), ...notReady.filter((h) => h.routes === undefined)]
    .slice(0, MAX_LISTED_HOSTS)
    .map((h) => (h.message && h.message.length > MAX_HOST_MESSAGE ? { ...h, message: `${h.message.slice(0, MAX_HOST_MESSAGE - 1)}…` } : h));

  let routeStatus: NonNullable<MultiNicNetworkStatus['routeStatus']>;
  let configStatus: NonNullable<MultiNicNetworkStatus['configStatus']>;
  let message = '';
  if (!l3) routeStatus = 'N/A';
  else if (failed > 0 || input.overlapError) routeStatus = 'Failed';
  else if (!cidr || hosts.length === 0 || waiting > 0) routeStatus = 'WaitForRoutes';
  else routeStatus = 'Success';
  if (routeStatus === 'Failed' || routeStatus === 'WaitForRoutes') message = STATUS_MESSAGES[routeStatus];

  if (input.overlapError) {
    configStatus = 'Failed';
    message = `Refused ${name}: ${input.overlapError}`;
  } else if (input.nadError || input.planError) {
    configStatus = 'Failed';
    message = input.nadError ? `Failed to create ${name}: ${input.nadError}` : `Failed to plan ${name}: ${input.planError}`;
  } else if (!ipamNet) configStatus = 'Success';
  else if (l3) configStatus = routeStatus === 'Success' ? 'Success' : 'WaitForConfig';
  // L2 multi-nic-ipam: upstream never reached Success (bug 9.2.8); ours does once every host is ready.
  else configStatus = cidr && hosts.length > 0 && hosts.every((h) => h.ready) ? 'Success' : 'WaitForConfig';

  const prevConds = new Map((previous?.conditions ?? []).map((c) => [c.type, c]));
  const cond = (type: string, ok: boolean | 'unknown', reason: string, msg: string): Condition => {
    const status = ok === 'unknown' ? 'Unknown' : ok ? 'True' : 'False';
    const prev = prevConds.get(type);
    const since = prev && prev.status === status ? prev.lastTransitionTime : input.now.toISOString();
    return { type, status, reason, message: msg, lastTransitionTime: since, observedGeneration: net.metadata.generation };
  };
  const readyHosts = hosts.length - notReady.length;
  const conditions: Condition[] = [
    cond(
      'ConfigReady',
      configStatus === 'Success' ? true : configStatus === 'Failed' ? false : 'unknown',
      input.overlapError ? 'SubnetOverlap' : configStatus,
      configStatus === 'Failed' ? message : configStatus === 'Success' ? 'NetworkAttachmentDefinitions and address plan in place' : 'waiting for hosts',
    ),
    cond(
      'RoutesReady',
      routeStatus === 'N/A' || routeStatus === 'Success' ? true : routeStatus === 'Failed' ? false : 'unknown',
      routeStatus === 'N/A' ? 'NotL3' : routeStatus,
      routeStatus === 'N/A' ? 'no host routes needed (not an L3 network)' : `${readyHosts}/${hosts.length} hosts installed routes for the current CIDR`,
    ),
    cond(
      'Ready',
      configStatus === 'Success' && (routeStatus === 'N/A' || routeStatus === 'Success'),
      configStatus === 'Success' && (routeStatus === 'N/A' || routeStatus === 'Success') ? 'Ready' : configStatus === 'Failed' || routeStatus === 'Failed' ? 'Failed' : 'Pending',
      ipamNet ? `${readyHosts}/${hosts.length} hosts ready` : 'NetworkAttachmentDefinitions in place',
    ),
  ];

  const next: MultiNicNetworkStatus = {
    computeResults,
    discovery,
    configStatus,
    routeStatus,
    message,
    observedGeneration: net.metadata.generation,
    conditions,
    readyHosts,
    notReadyHosts: notReady.length,
    hosts: listed,
    lastSyncTime: previous?.lastSyncTime ?? input.now.toISOString(),
  };
  if (!previous || !sameStatus(previous, next)) next.lastSyncTime = input.now.toISOString();
  return next;
}

/** Equal ignoring lastSyncTime: what decides whether the leader writes. */
export function sameStatus(a: MultiNicNetworkStatus, b: MultiNicNetworkStatus): boolean {
  return canonical({ ...a, lastSyncTime: undefined }) === canonical({ ...b, lastSyncTime: undefined });
}

/**
 * ConfigReady reasons that no amount of waiting fixes: the spec itself must change. (A claim failure
 * is not one: it may be an API error the agent retries, and a host that does not fit may leave.)
 */
export const TERMINAL_CONFIG_REASONS: readonly string[] = ['SubnetOverlap'];

/**
 * Why the network's current spec cannot become ready (its ConfigReady condition failed for a reason
 * in TERMINAL_CONFIG_REASONS, observed for this very generation), or undefined.
 */
export function terminalFailure(net: { metadata: { generation?: number }; status?: MultiNicNetworkStatus }): string | undefined {
  const st = net.status;
  if (!st || st.observedGeneration === undefined || st.observedGeneration !== net.metadata.generation) return undefined;
  const c = st.conditions?.find((x) => x.type === 'ConfigReady');
  if (!c || c.status !== 'False' || !TERMINAL_CONFIG_REASONS.includes(c.reason ?? '')) return undefined;
  return c.message || st.message || c.reason;
}
