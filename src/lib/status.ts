// The StatusReport (`kubectl multinic status -o json`, and what `apply --wait` waits on), built from
// a snapshot of the cluster's objects. Pure: the snapshot is gathered at the edge.
import type { CIDR, HostInterface, IPPool, MultiNicNetwork } from './crds/types.gen.js';
import type { KubeObject } from './k8s/meta.js';
import { heldNics } from './dra/held.js';
import type { ResourceClaim, ResourceSlice } from './dra/types.js';
import { listPools, type PlannedPool } from './plan/index.js';
import { containsCidr, tryParseCidr } from './net/ip.js';
import { MULTI_NIC_IPAM, ipamConfigOf } from './network.js';
import { cidrFingerprint } from './cluster/claim.js';
import { hostReadiness, terminalFailure } from './cluster/status.js';
import { networkProblemsOnHost } from './diagnostics/conditions.js';

/** True when network `inner` lies inside `outer` (both CIDR text; unparsable → false). */
function cidrWithin(inner: string, outer: string): boolean {
  const i = tryParseCidr(inner, { strict: false });
  const o = tryParseCidr(outer, { strict: false });
  return !!i && !!o && i.family === o.family && containsCidr(o, i);
}

export interface ClusterSnapshot {
  networks: MultiNicNetwork[];
  cidrs: CIDR[];
  ippools: IPPool[];
  hostInterfaces: HostInterface[];
  nodes: KubeObject[];
  /** Agent DaemonSets (usually one). */
  daemonSets: KubeObject[];
  /** resource.k8s.io/v1 ResourceClaims and our driver's ResourceSlices (absent or empty: the cluster serves no DRA). */
  draClaims?: ResourceClaim[];
  draSlices?: ResourceSlice[];
  /** DRA lists the API refused to this user (403), each with the API's message: claims could not be shown or checked. */
  draUnreadable?: string[];
}

export interface NicStatus {
  interfaceIndex: number;
  netAddress: string;
  interfaceName: string;
  hostIP: string;
  podCIDR: string;
  pool: string;
  /** Addresses allocated in the pool (from its IPPool). */
  used: number;
  /** Usable addresses of the pod block minus excludes. */
  capacity: string;
}

export interface NetworkHostStatus {
  hostName: string;
  /** Routes reported installed for the current CIDR (L3), or nothing to install (L2). */
  ready: boolean;
  routes?: number;
  message?: string;
  /** What this host's diagnostics show wrong for the network (kernel truth: routes missing, NIC down); absent when nothing. */
  kernel?: string[];
  nics: NicStatus[];
}

export interface NetworkStatusReport {
  name: string;
  subnet: string;
  plugin: string;
  vlanMode: string;
  /** spec.ipam's type: multi-nic-ipam (blocks per host and NIC), or a single-NIC IPAM passed through to each NIC. */
  ipam: string;
  configStatus: string;
  routeStatus: string;
  message: string;
  ready: boolean;
  /** Why the network is not ready, one line each (empty when ready). */
  problems: string[];
  /** Set when its current spec cannot become ready however long one waits (e.g. an overlapping subnet). */
  terminal?: string;
  hosts: NetworkHostStatus[];
}

export interface NodeNic {
  name: string;
  netAddress?: string;
  hostIP?: string;
  vendor?: string;
  product?: string;
  pciAddress?: string;
  numaNode?: number;
  speed?: number;
  mtu?: number;
  state?: string;
  /** DRA: the ResourceClaim (namespace/name) holding this NIC and the pods it is reserved for. */
  claim?: string;
  claimedBy?: string[];
}

export interface NodeStatus {
  name: string;
  /** The Node's Ready condition. */
  ready: boolean;
  /** The agent on the node published its HostInterface. */
  published: boolean;
  nics: NodeNic[];
}

export interface StatusReport {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'StatusReport';
  ready: boolean;
  /** `daemonSet` (namespace/name) is absent when the agent is not installed. */
  agents: { daemonSet?: string; desired: number; ready: number };
  nodes: NodeStatus[];
  networks: NetworkStatusReport[];
}

const nodeReady = (n: KubeObject): boolean =>
  ((n.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The network's ipam type and vlanMode as shown ('' where spec.ipam does not parse). */
function ipamOf(net: MultiNicNetwork): { type: string; vlanMode: string } {
  const c = ipamConfigOf(net);
  return { type: c?.type ?? '', vlanMode: c?.vlanMode ?? '' };
}

const claimOf = (h: { claim: string; pods: string[] } | undefined): { claim?: string; claimedBy?: string[] } => (h ? { claim: h.claim, claimedBy: h.pods } : {});

const byName = <T extends { metadata: { name?: string } }>(a: T, b: T): number => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');

/** A network's pools as the report read them, from that CIDR view (buildStatusReport's `poolsOut`). */
export type ReportPools = Map<string, { cidr: CIDR; pools: PlannedPool[] }>;

/**
 * Builds the report; `only` restricts it to one network (unknown → empty networks list). `poolsOut`
 * receives each reported network's pools with the CIDR view they came from, so the status table
 * does not list 32,768 pools a second time at 4,096 x 8.
 */
export function buildStatusReport(s: ClusterSnapshot, only?: string, poolsOut?: ReportPools): StatusReport {
  const ds = s.daemonSets[0];
  const dsStatus = (ds?.status ?? {}) as { desiredNumberScheduled?: number; numberReady?: number };
  const agents = {
    ...(ds ? { daemonSet: `${ds.metadata?.namespace}/${ds.metadata?.name}` } : {}),
    desired: dsStatus.desiredNumberScheduled ?? 0,
    ready: dsStatus.numberReady ?? 0,
  };
  const hifs = new Map(s.hostInterfaces.map((h) => [h.metadata.name ?? h.spec.hostName, h]));
  const held = new Map(heldNics(s.draClaims ?? [], s.draSlices ?? []).filter((h) => h.interfaceName).map((h) => [`${h.node}/${h.interfaceName}`, h]));
  const nodes: NodeStatus[] = s.nodes
    .map((n) => {
      const name = n.metadata?.name ?? '';
      const hi = hifs.get(name);
      return {
        name,
        ready: nodeReady(n),
        published: !!hi,
        nics: (hi?.spec.interfaces ?? []).map((i) => ({
          name: i.interfaceName,
          netAddress: i.netAddress,
          hostIP: i.hostIP,
          vendor: i.vendor,
          product: i.product,
          pciAddress: i.pciAddress,
          numaNode: i.numaNode,
          speed: i.speed,
          mtu: i.mtu,
          state: i.state,
          ...claimOf(held.get(`${name}/${i.interfaceName}`)),
        })),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  const pools = new Map(s.ippools.map((p) => [p.metadata.name ?? '', p]));
  const cidrs = new Map(s.cidrs.map((c) => [c.metadata.name ?? '', c]));
  const networks = [...s.networks]
    .sort(byName)
    .filter((n) => !only || n.metadata.name === only)
    .map((net) => networkReport(net, cidrs.get(net.metadata.name ?? ''), pools, nodes, hifs, poolsOut));
  const problems = networks.some((n) => !n.ready) || (agents.daemonSet !== undefined && agents.ready < agents.desired) || (!only && agents.daemonSet === undefined);
  return { apiVersion: 'multinic.fms.io/v1', kind: 'StatusReport', ready: !problems, agents, nodes, networks };
}

function networkReport(net: MultiNicNetwork, cidr: CIDR | undefined, pools: Map<string, IPPool>, nodes: NodeStatus[], hifs: Map<string, HostInterface>, poolsOut?: ReportPools): NetworkStatusReport {
  const name = net.metadata.name ?? '';
  const st = net.status ?? {};
  const problems: string[] = [];
  const hostReady = new Map((st.hosts ?? []).map((h) => [h.hostName, h]));
  const fp = cidr ? cidrFingerprint(cidr.spec) : '';
  const hosts = new Map<string, NetworkHostStatus>();
  const ipam = ipamOf(net);
  // A single-NIC IPAM network has no CIDR: the agents only select NICs on masterNets, and each NIC's
  // delegate gets its addresses from that IPAM. Ready once some ready node has such a NIC.
  const passThrough = ipam.type !== MULTI_NIC_IPAM;
  if (passThrough) {
    const masterNets = net.spec.masterNets ?? [];
    const onNets = (a?: string) => a !== undefined && (masterNets.length === 0 || masterNets.some((m) => m === a || cidrWithin(a, m)));
    if (!nodes.some((n) => n.ready && n.published && n.nics.some((i) => onNets(i.netAddress)))) {
      problems.push(`no ready node has a NIC ${masterNets.length ? `on masterNets ${masterNets.join(', ')}` : 'published'}: pods cannot attach (kubectl multinic status shows each node's NICs)`);
    }
  } else if (!cidr && !st.conditions?.some((c) => c.type === 'ConfigReady' && c.reason === 'SubnetOverlap')) {
    // (A network refused for its subnet has no CIDR by design: its configStatus message says why.)
    problems.push('no CIDR yet: no agent has claimed blocks (are the agents running? kubectl multinic status)');
  }
  const planned = cidr ? listPools(cidr) : [];
  if (cidr) poolsOut?.set(name, { cidr, pools: planned });
  for (const p of planned) {
    const ippool = pools.get(p.name);
    let h = hosts.get(p.hostName);
    if (!h) {
      // The status lists only hosts that are not ready (a status of an earlier release lists every
      // host); an unlisted host is judged from its own route report, as the leader judges it.
      const r = hostReady.get(p.hostName) ?? hostReadiness(p.hostName, hifs.get(p.hostName), name, fp);
      h = { hostName: p.hostName, ready: r.ready, ...(r.routes !== undefined ? { routes: r.routes } : {}), ...(r.message ? { message: r.message } : {}), nics: [] };
      hosts.set(p.hostName, h);
    }
    h.nics.push({
      interfaceIndex: p.interfaceIndex,
      netAddress: p.netAddress,
      interfaceName: p.interfaceName,
      hostIP: p.hostIP,
      podCIDR: p.podCIDR,
      pool: p.name,
      used: ippool?.spec.allocations.length ?? 0,
      capacity: p.capacity.toString(),
    });
  }
  const netAddrs = new Set(cidr?.spec.cidr.map((e) => e.netAddress) ?? []);
  for (const n of nodes) {
    if (!n.published || !n.ready) continue;
    const inPool = n.nics.some((i) => i.netAddress && netAddrs.has(i.netAddress));
    if (cidr && inPool && !hosts.has(n.name)) problems.push(`${n.name} has NICs in the pool but no blocks in the CIDR yet`);
  }
  const configStatus = st.configStatus ?? 'WaitForConfig';
  const routeStatus = st.routeStatus ?? 'Unknown';
  const terminal = terminalFailure(net);
  if (configStatus !== 'Success') problems.push(`configStatus is ${configStatus}${st.message ? `: ${st.message}` : ''}`);
  if (routeStatus !== 'Success' && routeStatus !== 'N/A') problems.push(`routeStatus is ${routeStatus}${st.message ? `: ${st.message}` : ''}`);
  for (const h of hosts.values()) if (!h.ready && routeStatus !== 'N/A') problems.push(`${h.hostName}: routes not reported${h.message ? ` (${h.message})` : ''}`);
  // Kernel truth beats what the agent last reported: a route deleted or a NIC down since then.
  for (const h of hosts.values()) {
    const found = networkProblemsOnHost(hifs.get(h.hostName)?.status?.diagnostics, name);
    if (found.length === 0) continue;
    h.ready = false;
    h.kernel = found;
    for (const p of found) problems.push(`${h.hostName}: ${p}`);
  }
  return {
    name,
    subnet: net.spec.subnet ?? '',
    plugin: net.spec.plugin.type,
    vlanMode: ipam.vlanMode,
    ipam: ipam.type,
    configStatus,
    routeStatus,
    message: st.message ?? '',
    ready: problems.length === 0,
    problems,
    ...(terminal ? { terminal } : {}),
    hosts: [...hosts.values()].sort((a, b) => a.hostName.localeCompare(b.hostName)).map((h) => ({ ...h, nics: h.nics.sort((a, b) => a.interfaceIndex - b.interfaceIndex) })),
  };
}
