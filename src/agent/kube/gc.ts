// Leak GC on one node (decisions in src/lib/cluster/gc.ts): each round judges every allocation
// against the pod informer's cache (this node's pods); allocations that have looked leaked for the
// whole grace period are confirmed by a direct GET of the pod, never by the cache alone, and then
// released through the Ipam port (which is what a CNI DEL would have done).
import { LeakClock, heldKey, leakReason, type PodFact } from '../../lib/cluster/gc.js';
import type { Allocation, Ipam } from '../../lib/ipam/types.js';
import type { KubeObject } from '../../lib/k8s/meta.js';
import { R } from '../../lib/k8s/resources.js';
import type { KubeApi } from '../../kube/api.js';
import type { EventRecorder } from './events.js';
import { isHealthHolder } from '../../lib/diagnostics/health.js';

export interface LeakGcOptions {
  api: KubeApi;
  ipam: Pick<Ipam, 'list' | 'release'>;
  /** The cached pod by namespace/name (undefined: not in the cache). */
  cachedPod: (namespace: string, name: string) => KubeObject | undefined;
  /** False until the pod cache has listed once: no suspects are raised before that. */
  cacheReady: () => boolean;
  graceMs?: number;
  events?: EventRecorder;
  log?: (event: Record<string, unknown>) => void;
  now?: () => number;
  /** Called after a round released something (the agent core drops its holder index). */
  onReleased?: (released: Allocation[]) => void;
}

export interface GcRound {
  suspects: number;
  released: Allocation[];
  /** Due suspects the direct GET cleared (the cache was stale). */
  spared: number;
}

/** Pod facts GC needs, from a Pod object. */
export function podFact(p: KubeObject): PodFact {
  const status = (p as { status?: { phase?: string } }).status;
  return {
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    uid: p.metadata?.uid ?? '',
    phase: status?.phase,
    deleting: Boolean(p.metadata?.deletionTimestamp),
    annotations: p.metadata?.annotations,
  };
}

export class LeakGc {
  private readonly clock: LeakClock;
  private readonly now: () => number;
  readonly stats = { rounds: 0, released: 0 };

  constructor(private readonly o: LeakGcOptions) {
    this.clock = new LeakClock(o.graceMs);
    this.now = o.now ?? Date.now;
  }

  /** One GC round; safe to call concurrently with allocations (release is keyed and idempotent). */
  async round(): Promise<GcRound> {
    this.stats.rounds++;
    if (!this.o.cacheReady()) return { suspects: 0, released: [], spared: 0 };
    const byKey = new Map<string, Allocation>();
    for (const a of this.o.ipam.list()) {
      if (isHealthHolder(a)) continue; // the health check's test address: released by its round
      const p = this.o.cachedPod(a.namespace, a.podName);
      if (leakReason(a, p ? podFact(p) : undefined) !== undefined) byKey.set(heldKey(a), a);
    }
    const due = this.clock.observe(this.now(), byKey.keys());
    const released: Allocation[] = [];
    let spared = 0;
    for (const k of due) {
      const a = byKey.get(k);
      if (!a) continue;
      const live = await this.o.api.get(R.Pod, a.podName, a.namespace);
      const why = leakReason(a, live ? podFact(live) : undefined);
      if (why === undefined) {
        spared++;
        this.clock.forget(k);
        continue;
      }
      const out = await this.o.ipam.release({ podUID: a.podUID, containerID: a.containerID, ifPrefix: a.interface, network: a.network });
      this.clock.forget(k);
      released.push(...out);
      this.stats.released += out.length;
      for (const r of out) {
        this.o.log?.({ level: 'info', msg: 'released leaked address', pool: r.pool, address: r.address, pod: `${r.namespace}/${r.podName}`, why });
        this.o.events?.record({ apiVersion: 'multinic.fms.io/v1', kind: 'IPPool', name: r.pool }, 'LeakReleased', `released ${r.address} of ${r.namespace}/${r.podName} (${r.interface}): ${why}`, 'Normal');
      }
    }
    if (released.length) this.o.onReleased?.(released);
    return { suspects: byKey.size, released, spared };
  }
}
