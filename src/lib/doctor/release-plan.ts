// What `kubectl multinic ipam release` asks for, decided over the doctor's snapshot: which
// allocations the addresses (or --leaked) name, each with the node whose agent owns it, and which
// must be refused because their pod is alive per the API (the agent checks its own pod cache again
// before it acts). Allocations come from each node's journal as its agent last published it
// (diagnostics.allocations, fresh after the probe), or from the IPPool mirror for a node without
// diagnostics or with more allocations than they list. Pure.
import type { IPPool } from '../crds/types.gen.js';
import { leakReason, type PodFact } from '../cluster/gc.js';
import type { ReleaseItem } from '../ipam/release.js';
import type { KubeObject } from '../k8s/meta.js';
import { parseIp } from '../net/ip.js';
import type { DoctorSnapshot } from './types.js';
import { allocationKey, allocationsPartial, diagnosticsByNode } from './util.js';

export interface ReleaseCandidate extends ReleaseItem {
  node: string;
  /** namespace/name of the holder. */
  pod: string;
  /** Where the allocation was read: the node's journal (diagnostics) or the IPPool mirror. */
  source: 'journal' | 'ippool';
}

export type PlannedOutcome = 'release' | 'refused';

export interface PlannedRelease extends ReleaseCandidate {
  action: PlannedOutcome;
  /** Why it is leaked (release) or alive (refused). */
  reason: string;
}

export interface ReleasePlanOptions {
  /** Addresses named on the command line (exclusive with leaked). */
  addresses: readonly string[];
  leaked: boolean;
  network?: string;
  node?: string;
  force: boolean;
}

export class ReleasePlanError extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

function podFact(p: KubeObject): PodFact {
  const st = (p as { status?: { phase?: string } }).status;
  return {
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    uid: p.metadata?.uid ?? '',
    ...(st?.phase ? { phase: st.phase } : {}),
    deleting: Boolean(p.metadata?.deletionTimestamp),
    ...(p.metadata?.annotations ? { annotations: p.metadata.annotations } : {}),
  };
}

const split = (nsName: string): [string, string] => {
  const i = nsName.indexOf('/');
  return i < 0 ? ['', nsName] : [nsName.slice(0, i), nsName.slice(i + 1)];
};

/** Every allocation the cluster shows, one per (node, pool, address, holder). */
export function releaseCandidates(s: DoctorSnapshot): ReleaseCandidate[] {
  const out: ReleaseCandidate[] = [];
  const withDiag = new Set<string>();
  // A node whose diagnostics list only some of its allocations (allocationCount): its IPPools add the rest.
  const listed = new Map<string, Set<string>>();
  for (const [node, d] of diagnosticsByNode(s)) {
    if (allocationsPartial(d)) listed.set(node, new Set(d.allocations.map((a) => allocationKey(a.pool, a))));
    else withDiag.add(node);
    for (const a of d.allocations) out.push({ node, network: a.network, pool: a.pool, address: a.address, podUID: a.podUID ?? '', containerID: a.containerID, interface: a.podInterface, pod: a.pod, source: 'journal' });
  }
  for (const p of s.ippools as IPPool[]) {
    const node = p.spec.hostName;
    if (withDiag.has(node)) continue;
    const seen = listed.get(node);
    for (const a of p.spec.allocations) {
      if (seen?.has(allocationKey(p.metadata.name ?? '', a))) continue;
      out.push({ node, network: p.spec.netAttachDef, pool: p.metadata.name ?? '', address: a.address, podUID: a.podUID ?? '', containerID: a.containerID ?? '', interface: a.interface ?? '', pod: `${a.namespace}/${a.pod}`, source: 'ippool' });
    }
  }
  return out.sort((a, b) => (a.node + a.pool + a.address < b.node + b.pool + b.address ? -1 : 1));
}

/** Why the holder looks alive to the API (undefined: the pod is gone, replaced or terminated). */
export function aliveReason(c: ReleaseCandidate, pods: readonly KubeObject[]): { alive: string } | { leaked: string } {
  const [namespace, podName] = split(c.pod);
  const pod = pods.find((p) => p.metadata?.namespace === namespace && p.metadata?.name === podName);
  const held = { podUID: c.podUID, containerID: c.containerID, interface: c.interface, podName, namespace, network: c.network, address: c.address };
  if (podName === '' && c.podUID === '') return { alive: `${c.address} is held outside Kubernetes (no pod: a runtime such as podman attached it), so no pod can vouch that it is gone` };
  const why = leakReason(held, pod ? podFact(pod) : undefined);
  if (why !== undefined) return { leaked: why };
  const phase = (pod as { status?: { phase?: string } } | undefined)?.status?.phase ?? 'without a phase';
  return { alive: `pod ${c.pod} (uid ${c.podUID || '?'}) exists and is ${pod?.metadata?.deletionTimestamp ? 'being deleted' : phase}` };
}

/** Throws ReleasePlanError when the addresses / --leaked given cannot make a request (before the cluster is asked). */
export function checkReleaseInput(o: Pick<ReleasePlanOptions, 'addresses' | 'leaked'>): void {
  if (o.leaked === (o.addresses.length > 0)) {
    throw new ReleasePlanError(o.leaked ? 'give addresses or --leaked, not both' : 'nothing to release: give one or more ADDRESS, or --leaked', 'e.g. kubectl multinic ipam release 192.168.0.5, or kubectl multinic ipam release --leaked --yes');
  }
  for (const a of o.addresses) {
    try {
      parseIp(a);
    } catch {
      throw new ReleasePlanError(`"${a}" is not an IP address`, 'give the address as ipam show -o wide lists it, without a prefix length (e.g. 192.168.0.5)');
    }
  }
}

/** The allocations to ask the agents to release (or to refuse here); throws ReleasePlanError on bad input. */
export function planRelease(s: DoctorSnapshot, o: ReleasePlanOptions): PlannedRelease[] {
  checkReleaseInput(o);
  const all = releaseCandidates(s).filter((c) => (!o.network || c.network === o.network) && (!o.node || c.node === o.node));
  const chosen: ReleaseCandidate[] = [];
  if (o.leaked) {
    chosen.push(...all.filter((c) => 'leaked' in aliveReason(c, s.pods)));
  } else {
    for (const text of o.addresses) {
      const want = parseIp(text);
      const hits = all.filter((c) => {
        try {
          const got = parseIp(c.address);
          return got.family === want.family && got.addr === want.addr;
        } catch {
          return false;
        }
      });
      if (hits.length === 0) {
        throw new ReleasePlanError(`${text} is not allocated${o.network ? ` in network ${o.network}` : ''}${o.node ? ` on node ${o.node}` : ''}`, 'kubectl multinic ipam show -o wide lists every allocation');
      }
      const holders = new Set(hits.map((h) => `${h.network}/${h.node}`));
      if (holders.size > 1) {
        throw new ReleasePlanError(`${text} is allocated in more than one place: ${[...holders].sort().join(', ')}`, 'narrow it with --network and --node');
      }
      for (const h of hits) if (!chosen.includes(h)) chosen.push(h);
    }
  }
  return chosen.map((c) => {
    const v = aliveReason(c, s.pods);
    if ('leaked' in v) return { ...c, action: 'release', reason: v.leaked };
    return o.force ? { ...c, action: 'release', reason: `--force: ${v.alive}` } : { ...c, action: 'refused', reason: `${v.alive}; add --force to release it anyway` };
  });
}
