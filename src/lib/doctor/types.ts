// The doctor's data: one gathered DoctorSnapshot in, findings out (docs/design.md §3.5). Every check is a
// small pure function over the snapshot (src/lib/doctor/registry.ts lists them); `doctor`,
// `ipam check` and `ipam show` share the gatherer (src/cluster/snapshot.ts) and these types.
import type { KubeObject } from '../k8s/meta.js';
import type { NamespaceFact } from '../cluster/nad.js';
import type { ClusterSnapshot } from '../status.js';

export type Severity = 'fail' | 'warn' | 'info';

/** Where a finding is: any of network, node, NIC (host interface name) and pod (`namespace/name`). */
export interface Where {
  network?: string;
  node?: string;
  nic?: string;
  pod?: string;
}

/** One thing found wrong (or worth knowing): what was seen, the likely cause, the fix. */
export interface Finding {
  severity: Severity;
  /** The id of the check that made it. */
  check: string;
  where: Where;
  seen: string;
  cause: string;
  /** What to do, with a command where there is one. */
  fix: string;
}

/** The on-demand probe of one node (PROBE_REQUEST_ANNOTATION → status.diagnostics.nonce). */
export interface ProbeOutcome {
  node: string;
  nonce: string;
  /** The agent answered with this nonce before the timeout. */
  answered: boolean;
  /** Why the request could not be written (e.g. forbidden), when it could not. */
  error?: string;
}

/** Everything the checks look at, gathered once at the edge. */
export interface DoctorSnapshot extends ClusterSnapshot {
  /** RFC 3339 time of the gathering (ages are stated against it). */
  now: string;
  cliVersion: string;
  /** CustomResourceDefinitions of our group (multinic.fms.io) found in the cluster. */
  crds: KubeObject[];
  /** Every DaemonSet in the cluster (Multus is looked for among them). */
  allDaemonSets: KubeObject[];
  nads: KubeObject[];
  namespaces: NamespaceFact[];
  pods: KubeObject[];
  /** Events of the pod `doctor pod` looks at (empty otherwise). */
  events: KubeObject[];
  /** Probes made; a node with none was not asked (outside --node, or --timeout 0). */
  probes: ProbeOutcome[];
  /** `doctor pod NS/NAME`: the pod looked at. */
  target?: { namespace: string; name: string };
}

/** Which command runs a check: the cluster-wide doctor, the IPAM consistency part, or `doctor pod`. */
export type CheckGroup = 'cluster' | 'node' | 'network' | 'ipam' | 'pod';

/** One check of the registry (docs/conventions.md §9). `run` is pure and returns nothing when all is well. */
export interface Check {
  id: string;
  title: string;
  group: CheckGroup;
  /** Severity of its findings unless a finding says otherwise. */
  severity: Severity;
  /** For docs/troubleshooting.md: what it looks at, in one or two sentences. */
  explain: string;
  run(s: DoctorSnapshot): Finding[];
}

export interface CheckSummary {
  id: string;
  title: string;
  group: CheckGroup;
  status: 'pass' | 'warn' | 'fail' | 'info';
  findings: number;
}

/** `kubectl multinic doctor -o json` (schemas/doctorreport.json). */
export interface DoctorReport {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'DoctorReport';
  /** No failure (and, with --strict, no warning). */
  healthy: boolean;
  observedAt: string;
  scope: { network?: string; node?: string; pod?: string };
  summary: { checks: number; fail: number; warn: number; info: number; nodes: number; networks: number; probed: number; answered: number };
  checks: CheckSummary[];
  /** Sorted: severity (fail, warn, info), check, where, seen. */
  findings: Finding[];
}
