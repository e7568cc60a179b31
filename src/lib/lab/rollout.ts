// The lab's DaemonSet controller decisions (pure): which agents a RollingUpdate restarts next,
// and the status it reports. Semantics follow the Kubernetes DaemonSet controller without surge
// (https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/): a pod is outdated when
// its template revision is not the DaemonSet's; an outdated pod that is unavailable anyway is
// replaced at once, an available one only while fewer than maxUnavailable pods are unavailable.
import { createHash } from 'node:crypto';

/** One host's agent as the controller sees it. */
export interface HostAgentState {
  host: string;
  /** Template revision the running agent was started from (undefined: no agent process). */
  revision?: string;
  /** The agent answers /readyz with 200. */
  ready: boolean;
}

/** The DaemonSet's update strategy, as read from spec.updateStrategy. */
export interface UpdateStrategy {
  type: 'RollingUpdate' | 'OnDelete';
  maxUnavailable: number;
}

/** Sorted-key JSON, so equal templates hash equally whatever the key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The revision of a pod template (the controller's controller-revision-hash): 10 hex digits. */
export function templateRevision(template: unknown): string {
  return createHash('sha256').update(canonical(template ?? {})).digest('hex').slice(0, 10);
}

/**
 * spec.updateStrategy read as the controller does: RollingUpdate by default, maxUnavailable an
 * integer or a percentage of the desired pods rounded up, default 1, at least 1 (no surge here).
 * Throws on a value the API would refuse, naming it.
 */
export function updateStrategyOf(spec: unknown, desired: number): UpdateStrategy {
  const us = (spec as { updateStrategy?: { type?: unknown; rollingUpdate?: { maxUnavailable?: unknown } } } | undefined)?.updateStrategy;
  const type = us?.type ?? 'RollingUpdate';
  if (type !== 'RollingUpdate' && type !== 'OnDelete') throw new Error(`spec.updateStrategy.type "${String(type)}" is neither RollingUpdate nor OnDelete`);
  const raw = us?.rollingUpdate?.maxUnavailable ?? 1;
  let n: number;
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0) n = raw;
  else if (typeof raw === 'string' && /^\d{1,3}%$/.test(raw)) n = Math.ceil((Number(raw.slice(0, -1)) * desired) / 100);
  else if (typeof raw === 'string' && /^\d+$/.test(raw)) n = Number(raw);
  else throw new Error(`spec.updateStrategy.rollingUpdate.maxUnavailable ${JSON.stringify(raw)} is neither a non-negative integer nor a percentage`);
  return { type, maxUnavailable: Math.max(1, n) };
}

/**
 * The hosts whose agent is replaced now to move toward `target` (node name order). Hosts without
 * an agent are not in it (the caller starts those at the target revision anyway). OnDelete
 * replaces nothing: only an agent that exits comes back at the new revision.
 */
export function rolloutStep(hosts: readonly HostAgentState[], target: string, strategy: UpdateStrategy): string[] {
  if (strategy.type === 'OnDelete') return [];
  const sorted = [...hosts].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  let unavailable = sorted.filter((h) => !h.ready).length;
  const out: string[] = [];
  for (const h of sorted) {
    if (h.revision === undefined || h.revision === target) continue;
    if (!h.ready) out.push(h.host);
    else if (unavailable < strategy.maxUnavailable) {
      out.push(h.host);
      unavailable++;
    }
  }
  return out;
}

/** The status fields of an apps/v1 DaemonSet the controller writes (what `kubectl rollout status` reads). */
export interface DaemonSetStatus {
  currentNumberScheduled: number;
  desiredNumberScheduled: number;
  numberAvailable: number;
  numberMisscheduled: number;
  numberReady: number;
  numberUnavailable: number;
  observedGeneration: number;
  updatedNumberScheduled: number;
}

export function daemonSetStatus(hosts: readonly HostAgentState[], target: string, generation: number): DaemonSetStatus {
  const scheduled = hosts.filter((h) => h.revision !== undefined);
  const ready = hosts.filter((h) => h.revision !== undefined && h.ready).length;
  return {
    currentNumberScheduled: scheduled.length,
    desiredNumberScheduled: hosts.length,
    numberAvailable: ready,
    numberMisscheduled: 0,
    numberReady: ready,
    numberUnavailable: hosts.length - ready,
    observedGeneration: generation,
    updatedNumberScheduled: hosts.filter((h) => h.revision === target).length,
  };
}

/**
 * `kubectl rollout status daemonset/NAME`'s line for a DaemonSet object (its wording, from
 * kubectl's DaemonSetStatusViewer), and whether the rollout is done.
 */
export function rolloutMessage(ds: { metadata?: { name?: string; generation?: number }; spec?: unknown; status?: unknown }): { done: boolean; message: string } {
  const name = ds.metadata?.name ?? '';
  const st = (ds.status ?? {}) as Partial<DaemonSetStatus>;
  const type = (ds.spec as { updateStrategy?: { type?: string } } | undefined)?.updateStrategy?.type ?? 'RollingUpdate';
  if (type !== 'RollingUpdate') return { done: true, message: `rollout status is only available for RollingUpdate strategy type (daemon set "${name}" is ${type})` };
  if ((ds.metadata?.generation ?? 0) > (st.observedGeneration ?? 0)) return { done: false, message: `Waiting for daemon set spec update to be observed...` };
  const desired = st.desiredNumberScheduled ?? 0;
  const updated = st.updatedNumberScheduled ?? 0;
  const available = st.numberAvailable ?? 0;
  if (updated < desired) return { done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${updated} out of ${desired} new pods have been updated...` };
  if (available < desired) return { done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${available} of ${desired} updated pods are available...` };
  return { done: true, message: `daemon set "${name}" successfully rolled out` };
}
