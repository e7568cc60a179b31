// Continuous per-NIC health (docs/metrics.md#continuous-health): what each agent proves every
// --health-interval, as plain data. Allocability: a test attachment created and deleted on each NIC
// through the network's real delegate (macvlan, ipvlan, sriov, host-device) in a scratch network
// namespace of the agent, with an address reserved from the NIC's pool in the IPAM journal like a
// pod's. Connectivity: every other host's address on the same NIC network answers a TCP connection
// from this NIC's address (to the peer agent's metrics port; a refusal is an answer too). This module
// picks the targets, caps what is published and turns a round into HostInterface conditions. Pure.
import type { CIDR, MultiNicNetwork } from '../crds/types.gen.js';
import type { NodeCondition } from './conditions.js';

/** Holder of the test address in the IPAM journal (never a pod UID: pod UIDs are UUIDs). */
export const HEALTH_POD_UID = 'multinic-health';
/** The container ID prefix of the test attachment (`<prefix><nic>`). */
export const HEALTH_CONTAINER_PREFIX = 'multinic-health-';
/** The test interface inside the scratch namespace. */
export const HEALTH_IFNAME = 'mnhc0';
/** Infix of the scratch network namespace (`<agent netns name or "multinic">-health-<pid>`). */
export const HEALTH_NETNS_INFIX = '-health-';
/** Unreachable peers listed per NIC (the count is kept): a 4,096-host cluster stays small. */
export const MAX_LISTED_PEERS = 10;
/** Characters of a failure message kept per NIC. */
export const MAX_HEALTH_MESSAGE = 300;

/** Whether an allocation is the health check's test address (not a pod's). */
export const isHealthHolder = (a: { podUID: string }): boolean => a.podUID === HEALTH_POD_UID;

const netnsBase = (own: string | undefined): string => (own && /^[A-Za-z0-9._-]{1,200}$/.test(own) ? own : 'multinic');

/**
 * The scratch namespace of the agent with process id `pid` whose own netns is named `own` (none on
 * a real node; the lab's host namespaces are named, so `lab down` removes these with them).
 */
export function healthNetnsName(own: string | undefined, pid: number): string {
  return `${netnsBase(own)}${HEALTH_NETNS_INFIX}${pid}`;
}

/** The process id in a scratch namespace name of an agent whose own netns is `own`, if `name` is one. */
export function healthNetnsPid(name: string, own: string | undefined): number | undefined {
  const prefix = `${netnsBase(own)}${HEALTH_NETNS_INFIX}`;
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  return /^[1-9]\d{0,9}$/.test(rest) ? Number(rest) : undefined;
}

export interface PeerTarget {
  host: string;
  ip: string;
}

/** What one NIC of this host is tested with. */
export interface NicTarget {
  nic: string;
  /** This host's address on the NIC (the source of its probes). */
  hostIP: string;
  netAddress: string;
  /** Networks with a block on this NIC (sorted); each gets a test attachment. */
  networks: string[];
  /** Other hosts on the same NIC network, by address (sorted by host, deduplicated). */
  peers: PeerTarget[];
}

/** Per NIC of `host`: its networks and the other hosts on the same NIC network, from the CIDRs. */
export function healthTargets(networks: ReadonlyArray<{ network: MultiNicNetwork; cidr?: CIDR }>, host: string): NicTarget[] {
  const byNic = new Map<string, { hostIP: string; netAddress: string; networks: Set<string>; peers: Map<string, string> }>();
  for (const n of networks) {
    if (!n.cidr) continue;
    const name = n.network.metadata.name ?? '';
    for (const entry of n.cidr.spec.cidr) {
      const mine = entry.hosts.find((h) => h.hostName === host);
      if (!mine) continue;
      const t = byNic.get(mine.interfaceName) ?? { hostIP: mine.hostIP, netAddress: entry.netAddress, networks: new Set<string>(), peers: new Map<string, string>() };
      t.networks.add(name);
      for (const h of entry.hosts) if (h.hostName !== host && h.hostIP && h.hostIP !== mine.hostIP) t.peers.set(h.hostIP, h.hostName);
      byNic.set(mine.interfaceName, t);
    }
  }
  return [...byNic]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([nic, t]) => ({
      nic,
      hostIP: t.hostIP,
      netAddress: t.netAddress,
      networks: [...t.networks].sort(),
      peers: [...t.peers].map(([ip, h]) => ({ host: h, ip })).sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.ip < b.ip ? -1 : 1)),
    }));
}

/** The allocability of one NIC for one network. */
export interface AllocabilityResult {
  network: string;
  /** ok: created and deleted; failed: a step failed (message says which); skipped: not tested (message says why). */
  outcome: 'ok' | 'failed' | 'skipped';
  message?: string;
}

/** One NIC's round, as published in status.diagnostics.health (lists capped, counts kept). */
export interface NicHealth {
  nic: string;
  allocability: AllocabilityResult[];
  /** Peers on this NIC network. */
  peers: number;
  /** Peers that answered over this NIC. */
  reachable: number;
  /** Peers not probed this round (the round's time budget ran out). */
  notProbed?: number;
  /** `host ip` of unreachable peers, the first MAX_LISTED_PEERS. */
  unreachable: string[];
  unreachableCount: number;
}

export interface HealthReport {
  /** RFC 3339 time the round started. */
  observedAt: string;
  durationMs: number;
  intervalSeconds: number;
  nics: NicHealth[];
  /** Why a whole part could not run (e.g. no CAP_SYS_ADMIN for the scratch namespace). */
  errors?: string[];
}

export const capMessage = (m: string): string => (m.length > MAX_HEALTH_MESSAGE ? `${m.slice(0, MAX_HEALTH_MESSAGE - 1)}…` : m);

/** A NIC's published entry from its raw results (unreachable peers capped). */
export function nicHealth(nic: string, allocability: AllocabilityResult[], probes: { peer: PeerTarget; ok: boolean | undefined }[]): NicHealth {
  const bad = probes.filter((p) => p.ok === false);
  const notProbed = probes.filter((p) => p.ok === undefined).length;
  return {
    nic,
    allocability: allocability.map((a) => ({ ...a, ...(a.message !== undefined ? { message: capMessage(a.message) } : {}) })),
    peers: probes.length,
    reachable: probes.filter((p) => p.ok === true).length,
    ...(notProbed ? { notProbed } : {}),
    unreachable: bad.slice(0, MAX_LISTED_PEERS).map((p) => `${p.peer.host} ${p.peer.ip}`),
    unreachableCount: bad.length,
  };
}

export const HEALTH_CONDITION_TYPES = ['NICAllocatable', 'NICReachable'] as const;

const list = (items: string[], max = 3) => (items.length > max ? `${items.slice(0, max).join('; ')} (+${items.length - max} more)` : items.join('; '));

/**
 * NICAllocatable and NICReachable from a round. False names the failing NICs (and peers); Unknown
 * when nothing could be tested (every NIC skipped, no peers). `previous` keeps lastTransitionTime.
 */
export function healthConditions(r: HealthReport, previous: readonly NodeCondition[] | undefined, now: string): NodeCondition[] {
  const prev = new Map((previous ?? []).map((c) => [c.type, c]));
  const out: Array<Omit<NodeCondition, 'lastTransitionTime'>> = [];
  const tested = r.nics.flatMap((n) => n.allocability.filter((a) => a.outcome !== 'skipped').map((a) => ({ nic: n.nic, ...a })));
  const failed = tested.filter((a) => a.outcome === 'failed');
  const skipped = r.nics.flatMap((n) => n.allocability.filter((a) => a.outcome === 'skipped').map((a) => `${n.nic} (${a.network}): ${a.message ?? 'skipped'}`));
  if (failed.length) out.push({ type: 'NICAllocatable', status: 'False', reason: 'AttachmentFailed', message: list(failed.map((a) => `${a.nic} (${a.network}): ${a.message ?? 'failed'}`)) });
  else if (tested.length) out.push({ type: 'NICAllocatable', status: 'True', reason: 'AttachmentsWork', message: `${tested.length} test attachment(s) created and deleted${skipped.length ? `; skipped ${list(skipped)}` : ''}` });
  else out.push({ type: 'NICAllocatable', status: 'Unknown', reason: 'NotTested', message: skipped.length ? `skipped ${list(skipped)}` : r.errors?.length ? list(r.errors) : 'no NIC carries a network' });
  const withPeers = r.nics.filter((n) => n.peers > 0);
  const unreachable = withPeers.filter((n) => n.unreachableCount > 0);
  if (unreachable.length) {
    out.push({ type: 'NICReachable', status: 'False', reason: 'PeersUnreachable', message: list(unreachable.map((n) => `${n.nic}: ${n.unreachableCount}/${n.peers} peer(s) unreachable (${n.unreachable.slice(0, 3).join(', ')}${n.unreachableCount > 3 ? ', …' : ''})`)) });
  } else if (withPeers.some((n) => n.reachable > 0)) {
    const notProbed = withPeers.reduce((s, n) => s + (n.notProbed ?? 0), 0);
    out.push({ type: 'NICReachable', status: 'True', reason: 'PeersReachable', message: `${withPeers.reduce((s, n) => s + n.reachable, 0)} peer address(es) reachable over ${withPeers.length} NIC(s)${notProbed ? `; ${notProbed} not probed within the round's time budget` : ''}` });
  } else {
    out.push({ type: 'NICReachable', status: 'Unknown', reason: withPeers.length ? 'NotProbed' : 'NoPeers', message: withPeers.length ? 'no peer was probed within the round\'s time budget' : 'no other host shares a NIC network with this one' });
  }
  return out.map((c) => {
    const p = prev.get(c.type);
    return { ...c, lastTransitionTime: p && p.status === c.status && p.lastTransitionTime ? p.lastTransitionTime : now };
  });
}
