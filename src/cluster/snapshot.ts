// Gathers a ClusterSnapshot (src/lib/status.ts) from the API: one list per resource, in parallel;
// and the DoctorSnapshot (src/lib/doctor/types.ts) on top of it, after asking every agent in scope
// to probe its node now (the on-demand probe of docs/design.md §3.5).
import type { KubeApi } from '../kube/api.js';
import { forbiddenMessage, isNotFound } from '../kube/api.js';
import type { HostInterface, IPPool, MultiNicNetwork } from '../lib/crds/types.gen.js';
import { listCidrViews } from './cidr-view.js';
import { PROBE_REQUEST_ANNOTATION } from '../lib/diagnostics/types.js';
import type { DoctorSnapshot, ProbeOutcome } from '../lib/doctor/types.js';
import { UserError } from '../lib/errors.js';
import { AGENT_NAME } from '../lib/install/render.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { MULTINIC_GROUP, R } from '../lib/k8s/resources.js';
import type { ClusterSnapshot } from '../lib/status.js';
import { DRIVER, type ResourceClaim, type ResourceSlice } from '../lib/dra/types.js';

/** Fails with an actionable error when our CRDs are not installed. */
export async function requireInstalled(kube: KubeApi): Promise<void> {
  const crd = await kube.get(R.CustomResourceDefinition, 'multinicnetworks.multinic.fms.io');
  if (!crd) {
    throw new UserError(`kubectl-multinic is not installed in the cluster at ${kube.server} (no multinicnetworks CRD)`, {
      hint: 'install it first: kubectl multinic install',
    });
  }
}

/** The agent DaemonSet selects pods labelled app.kubernetes.io/name=multinic-agent (src/lib/install). */
export function isAgentDaemonSet(ds: { [k: string]: unknown }): boolean {
  const sel = (ds.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels;
  return sel?.['app.kubernetes.io/name'] === AGENT_NAME;
}

/**
 * What status and the TUI show. `dra` also lists every ResourceClaim and our ResourceSlices (status
 * names the claim holding each NIC); apply's wait loop and the watch feed re-gather often and leave them out.
 */
export async function gatherSnapshot(kube: KubeApi, o: { dra?: boolean } = {}): Promise<ClusterSnapshot> {
  const { allDaemonSets: _all, ...snap } = await gatherBase(kube, o.dra ?? false);
  return snap;
}

async function gatherBase(kube: KubeApi, dra: boolean): Promise<ClusterSnapshot & { allDaemonSets: KubeObject[] }> {
  const [networks, cidrs, ippools, hostInterfaces, nodes, daemonSets, draState] = await Promise.all([
    kube.list<MultiNicNetwork>(R.MultiNicNetwork),
    listCidrViews(kube),
    kube.list<IPPool>(R.IPPool),
    kube.list<HostInterface>(R.HostInterface),
    kube.list(R.Node),
    optionalList(kube.list(R.DaemonSet)),
    // DRA (docs/dra.md).
    dra ? gatherDra(kube) : undefined,
  ]);
  return {
    ...(draState ? { draClaims: draState.draClaims, draSlices: draState.draSlices } : {}),
    ...(draState?.draUnreadable ? { draUnreadable: draState.draUnreadable } : {}),
    networks: networks.items,
    cidrs,
    ippools: ippools.items,
    hostInterfaces: hostInterfaces.items,
    nodes: nodes.items,
    daemonSets: daemonSets.filter(isAgentDaemonSet),
    allDaemonSets: daemonSets,
  };
}

/**
 * Every ResourceClaim and our driver's ResourceSlices (the claims' view of the NICs,
 * src/lib/dra/held.ts): none on a cluster without resource.k8s.io/v1; a user who may not list them
 * gets none, and `draUnreadable` says which the API refused and why.
 */
export async function gatherDra(kube: KubeApi): Promise<Required<Pick<ClusterSnapshot, 'draClaims' | 'draSlices'>> & Pick<ClusterSnapshot, 'draUnreadable'>> {
  const draUnreadable: string[] = [];
  const [draClaims, draSlices] = await Promise.all([
    optionalList(kube.list<ResourceClaim>(R.ResourceClaim), (m) => draUnreadable.push(`resourceclaims: ${m}`)),
    optionalList(kube.list<ResourceSlice>(R.ResourceSlice, { fieldSelector: `spec.driver=${DRIVER}` }), (m) => draUnreadable.push(`resourceslices: ${m}`)),
  ]);
  return { draClaims, draSlices, ...(draUnreadable.length > 0 ? { draUnreadable } : {}) };
}

export interface DoctorGatherOptions {
  cliVersion: string;
  /** Probe only this node's agent (doctor --node). */
  node?: string;
  /** doctor pod NS/NAME. */
  target?: { namespace: string; name: string };
  /** How long to wait for the agents' answers; 0 asks nobody. */
  probeTimeoutMs: number;
}

/**
 * The items of a list the cluster may not serve: none when its API is not there (404: no
 * DaemonSets API, no Multus CRD, no resource.k8s.io/v1). With `forbidden`, a 403 is told to it and
 * counts as none too; without, it is an error like any other.
 */
async function optionalList<T>(list: Promise<{ items: T[] }>, forbidden?: (message: string) => void): Promise<T[]> {
  try {
    return (await list).items;
  } catch (e) {
    if (isNotFound(e)) return [];
    const denied = forbiddenMessage(e);
    if (forbidden && denied !== undefined) {
      forbidden(denied);
      return [];
    }
    throw e;
  }
}

const nonceOf = (hi: HostInterface): string | undefined => (hi.status as { diagnostics?: { nonce?: unknown } } | undefined)?.diagnostics?.nonce as string | undefined;

/**
 * Asks the agent of each HostInterface in scope to probe now (a fresh nonce in
 * PROBE_REQUEST_ANNOTATION) and waits until each answers with that nonce in status.diagnostics, or
 * the timeout passes. Returns the outcomes and the HostInterfaces as last read.
 */
export async function probeAgents(kube: KubeApi, his: HostInterface[], timeoutMs: number, node?: string): Promise<{ probes: ProbeOutcome[]; hostInterfaces: HostInterface[] }> {
  const inScope = his.filter((h) => !node || (h.metadata.name ?? h.spec.hostName) === node);
  if (timeoutMs <= 0 || inScope.length === 0) return { probes: [], hostInterfaces: his };
  const nonce = `${Date.now().toString(36)}-${process.getBuiltinModule('node:crypto').randomBytes(6).toString('hex')}`;
  const probes = await Promise.all(
    inScope.map(async (h): Promise<ProbeOutcome> => {
      const name = h.metadata.name ?? h.spec.hostName;
      try {
        await kube.patch(R.HostInterface, name, { metadata: { annotations: { [PROBE_REQUEST_ANNOTATION]: nonce } } });
        return { node: name, nonce, answered: false };
      } catch (e) {
        return { node: name, nonce, answered: false, error: (e as Error).message };
      }
    }),
  );
  const deadline = Date.now() + timeoutMs;
  let current = his;
  for (;;) {
    const byName = new Map(current.map((h) => [h.metadata.name ?? h.spec.hostName, h]));
    for (const p of probes) if (!p.error && nonceOf(byName.get(p.node) as HostInterface) === nonce) p.answered = true;
    if (probes.every((p) => p.answered || p.error) || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 200));
    current = (await kube.list<HostInterface>(R.HostInterface)).items;
  }
  return { probes, hostInterfaces: current };
}

/** Everything doctor, ipam check and ipam show look at, after the on-demand probe. */
export async function gatherDoctorSnapshot(kube: KubeApi, o: DoctorGatherOptions): Promise<DoctorSnapshot> {
  const first = await kube.list<HostInterface>(R.HostInterface);
  const [probed, base, crds, nads, namespaces, pods, events] = await Promise.all([
    probeAgents(kube, first.items, o.probeTimeoutMs, o.node),
    gatherBase(kube, true),
    kube.list(R.CustomResourceDefinition),
    optionalList(kube.list(R.NetworkAttachmentDefinition)),
    kube.list(R.Namespace),
    kube.list(R.Pod),
    o.target ? kube.list(R.Event, { namespace: o.target.namespace, fieldSelector: `involvedObject.name=${o.target.name}` }) : Promise.resolve({ items: [] as KubeObject[], resourceVersion: '' }),
  ]);
  return {
    ...base,
    hostInterfaces: probed.hostInterfaces,
    now: new Date().toISOString(),
    cliVersion: o.cliVersion,
    crds: crds.items.filter((c) => (c.spec as { group?: string } | undefined)?.group === MULTINIC_GROUP),
    nads,
    namespaces: namespaces.items.map((n) => ({ name: n.metadata?.name ?? '', phase: (n.status as { phase?: string } | undefined)?.phase })),
    pods: pods.items,
    events: events.items.filter((e) => (e as { involvedObject?: { kind?: string } }).involvedObject?.kind === 'Pod'),
    probes: probed.probes,
    ...(o.target ? { target: o.target } : {}),
  };
}
