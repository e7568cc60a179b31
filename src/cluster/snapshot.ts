// Gathers a ClusterSnapshot (src/lib/status.ts) from the API: one list per resource, in parallel.
import type { KubeApi } from '../kube/api.js';
import { isNotFound } from '../kube/api.js';
import type { CIDR, HostInterface, IPPool, MultiNicNetwork } from '../lib/crds/types.gen.js';
import { UserError } from '../lib/errors.js';
import { AGENT_NAME } from '../lib/install/render.js';
import { R } from '../lib/k8s/resources.js';
import type { ClusterSnapshot } from '../lib/status.js';

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

/** Lists everything `status` and `apply --wait` look at. */
export async function gatherSnapshot(kube: KubeApi): Promise<ClusterSnapshot> {
  const [networks, cidrs, ippools, hostInterfaces, nodes, daemonSets] = await Promise.all([
    kube.list<MultiNicNetwork>(R.MultiNicNetwork),
    kube.list<CIDR>(R.CIDR),
    kube.list<IPPool>(R.IPPool),
    kube.list<HostInterface>(R.HostInterface),
    kube.list(R.Node),
    kube.list(R.DaemonSet).catch((e) => {
      if (isNotFound(e)) return { items: [], resourceVersion: '' };
      throw e;
    }),
  ]);
  return {
    networks: networks.items,
    cidrs: cidrs.items,
    ippools: ippools.items,
    hostInterfaces: hostInterfaces.items,
    nodes: nodes.items,
    daemonSets: daemonSets.items.filter(isAgentDaemonSet),
  };
}
