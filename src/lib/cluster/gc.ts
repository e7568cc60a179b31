// Leak GC decisions: an allocation is a leak when the pod that holds it is gone (no pod by
// that namespace/name, or one with another UID), terminated, or running with a Multus
// network-status that no longer lists the address; it is released only after it has looked leaked
// for a whole grace period AND a direct GET of the pod confirms it. Never for a Pending pod: its
// ADD may still be running (or the kubelet will retry it). Pure.
import { networkAddresses, readNetworkStatus as networkStatus } from '../multus.js';

export { networkStatus };

export const DEFAULT_GC_GRACE_MS = 60_000;

/** What GC needs of a pod (from the informer cache or a direct GET). */
export interface PodFact {
  namespace: string;
  name: string;
  uid: string;
  phase?: string;
  /** Set while the pod is being deleted: its sandbox (and our addresses) may still be in use. */
  deleting?: boolean;
  annotations?: Record<string, string>;
}

/** An allocation as GC sees it (a subset of the Ipam port's Allocation). */
export interface HeldAddress {
  podUID: string;
  containerID: string;
  interface: string;
  podName: string;
  namespace: string;
  network: string;
  address: string;
}

/**
 * Why `a` looks leaked given the pod now found by its namespace/name (undefined: no such pod), or
 * undefined when it must be kept. Pending and deleting pods always keep their addresses.
 */
export function leakReason(a: HeldAddress, pod: PodFact | undefined): string | undefined {
  // No pod name and no UID: a runtime outside Kubernetes (podman, ctr --cni, cnitool) attached it;
  // no pod will ever vouch for it, so only its DEL or the runtime's CNI GC releases it.
  if (a.podName === '' && a.podUID === '') return undefined;
  if (!pod) return `pod ${a.namespace}/${a.podName} no longer exists`;
  if (pod.uid !== a.podUID) return `pod ${a.namespace}/${a.podName} was replaced (uid ${pod.uid}, allocation for ${a.podUID})`;
  if (pod.phase === 'Pending' || pod.phase === undefined || pod.deleting) return undefined;
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return `pod ${a.namespace}/${a.podName} is ${pod.phase}`;
  if (pod.phase !== 'Running') return undefined;
  const ns = networkStatus(pod.annotations);
  if (!ns) return undefined;
  // Either form Multus writes: one merged entry per attachment (v4.0.2) or one per interface.
  const mine = networkAddresses(ns, a.network);
  // Multus lists the network with the addresses it got; an address of ours missing there belongs to an
  // earlier sandbox of the same pod whose DEL never reached us.
  if (mine.length === 0) return undefined;
  const listed = new Set(mine.map((m) => m.address));
  if (!listed.has(a.address)) return `address ${a.address} is not in pod ${a.namespace}/${a.podName}'s network-status for ${a.network}`;
  return undefined;
}

/** An allocation's identity for tracking across GC rounds. */
export const heldKey = (a: HeldAddress): string => `${a.network}|${a.podUID}|${a.containerID}|${a.interface}`;

/**
 * When each allocation was first seen leaked. `observe` replaces the suspect set with this round's
 * (an allocation that stops looking leaked is forgotten, so its clock restarts) and returns the
 * suspects whose grace has run out: only those may be confirmed and released.
 */
export class LeakClock {
  private readonly since = new Map<string, number>();
  constructor(readonly graceMs: number = DEFAULT_GC_GRACE_MS) {}

  observe(nowMs: number, suspects: Iterable<string>): string[] {
    const seen = new Set<string>();
    const due: string[] = [];
    for (const k of suspects) {
      seen.add(k);
      const t = this.since.get(k) ?? nowMs;
      this.since.set(k, t);
      if (nowMs - t >= this.graceMs) due.push(k);
    }
    for (const k of [...this.since.keys()]) if (!seen.has(k)) this.since.delete(k);
    return due.sort();
  }

  forget(key: string): void {
    this.since.delete(key);
  }

  get size(): number {
    return this.since.size;
  }
}
