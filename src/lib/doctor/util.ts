// Small helpers the checks share: reading the diagnostics block defensively, ages, names. Pure.
import type { HostInterface } from '../crds/types.gen.js';
import { DIAGNOSTICS_VERSION, type NodeDiagnostics } from '../diagnostics/types.js';
import type { KubeObject } from '../k8s/meta.js';
import type { Check, DoctorSnapshot, Finding, Severity, Where } from './types.js';

/** A finding of `check` (its default severity unless `severity` is given). */
export function finding(check: Pick<Check, 'id' | 'severity'>, where: Where, seen: string, cause: string, fix: string, severity?: Severity): Finding {
  return { severity: severity ?? check.severity, check: check.id, where, seen, cause, fix };
}

/**
 * One allocation's identity across the node's journal (diagnostics.allocations: podInterface) and
 * its IPPool mirror (spec.allocations: interface): pool, address, holder's pod UID and interface.
 */
export const allocationKey = (pool: string, a: { address: string; podUID?: string; interface?: string; podInterface?: string }): string => `${pool}|${a.address}|${a.podUID ?? ''}|${a.interface ?? a.podInterface ?? ''}`;

/** Where a fix says to read the agent's log on `node`. */
export const agentLog = (node: string): string => `the agent's log on ${node} (kubectl get pods -A -l app.kubernetes.io/name=multinic-agent -o wide, then kubectl logs)`;

/** Whether a node's diagnostics list fewer allocations than it holds (capped: allocationCount). */
export const allocationsPartial = (d: NodeDiagnostics): boolean => d.allocationCount !== undefined && d.allocationCount > d.allocations.length;

/**
 * The diagnostics block of a HostInterface, when it has a usable one: an object with a numeric
 * version this CLI reads (≤ DIAGNOSTICS_VERSION) and an observedAt. Lists an older agent omits are
 * filled in empty, so checks never meet undefined.
 */
export function diagnosticsOf(hi: HostInterface | undefined): NodeDiagnostics | undefined {
  const d = (hi?.status as { diagnostics?: unknown } | undefined)?.diagnostics;
  if (!d || typeof d !== 'object' || Array.isArray(d)) return undefined;
  const o = d as Partial<NodeDiagnostics>;
  if (typeof o.version !== 'number' || o.version > DIAGNOSTICS_VERSION || typeof o.observedAt !== 'string') return undefined;
  return {
    ...o,
    version: o.version,
    observedAt: o.observedAt,
    agentVersion: o.agentVersion ?? '',
    networks: o.networks ?? [],
    sysctls: o.sysctls ?? { forwardingNeeded: false },
    nics: o.nics ?? [],
    binaries: o.binaries ?? [],
    journal: o.journal ?? { ok: true, allocations: 0 },
    allocations: o.allocations ?? [],
    repairs: o.repairs ?? [],
  };
}

/** The raw diagnostics version an agent publishes, for messages (undefined when none). */
export function rawDiagnosticsVersion(hi: HostInterface | undefined): unknown {
  const d = (hi?.status as { diagnostics?: { version?: unknown } } | undefined)?.diagnostics;
  return d && typeof d === 'object' ? d.version : undefined;
}

/** HostInterfaces by node name. */
export function hostInterfacesByNode(s: DoctorSnapshot): Map<string, HostInterface> {
  return new Map(s.hostInterfaces.map((h) => [h.metadata.name ?? h.spec.hostName, h]));
}

/** Every node's usable diagnostics, by node name, sorted. */
export function diagnosticsByNode(s: DoctorSnapshot): Array<[string, NodeDiagnostics]> {
  const out: Array<[string, NodeDiagnostics]> = [];
  for (const hi of s.hostInterfaces) {
    const d = diagnosticsOf(hi);
    if (d) out.push([hi.metadata.name ?? hi.spec.hostName, d]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** "42s", "5m", "3h", "2d" between two RFC 3339 times (`?` when unreadable). */
export function age(from: string | undefined, now: string): string {
  const a = from ? Date.parse(from) : NaN;
  const b = Date.parse(now);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return '?';
  const s = Math.max(0, Math.round((b - a) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** Names for a message, at most `max` then "and N more". */
export function names(list: readonly string[], max = 5): string {
  const sorted = [...new Set(list)].sort();
  return sorted.length > max ? `${sorted.slice(0, max).join(', ')} and ${sorted.length - max} more` : sorted.join(', ');
}

export const nameOf = (o: KubeObject | { metadata?: { name?: string } }): string => o.metadata?.name ?? '';
export const nsName = (o: KubeObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}
export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

/** Kubernetes' toleration matching (v1 ToleratesTaint). */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if ((t.operator ?? 'Equal') === 'Exists') return !t.key || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}

/** A node's NoSchedule/NoExecute taints that none of `tolerations` tolerates (what keeps a DaemonSet pod off it). */
export function untoleratedTaints(node: KubeObject, tolerations: readonly Toleration[]): Taint[] {
  const taints = ((node.spec as { taints?: Taint[] } | undefined)?.taints ?? []).filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  return taints.filter((taint) => !tolerations.some((t) => tolerates(t, taint)));
}

export const taintText = (t: Taint): string => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;

/** The Node's Ready condition is True. */
export const nodeReady = (n: KubeObject): boolean =>
  ((n.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
