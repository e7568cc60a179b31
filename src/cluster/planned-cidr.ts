// plan == apply: the host indexes `plan` prints are the ones the agents get. Agents race for
// indexes only among hosts a CIDR does not name yet (src/agent/kube/claim.ts keeps every entry it
// finds), so `apply` writes the network's CIDR from the same plan BEFORE the network exists: by the
// time any agent sees the network, every host known at apply time already holds its planned
// entry, and each agent merely confirms its own (no write). Hosts that come later claim free
// indexes by compare-and-swap as before.
import { isAlreadyExists, isNotFound, type KubeApi } from '../kube/api.js';
import type { CIDR, HostInterface, MultiNicNetwork } from '../lib/crds/types.gen.js';
import { R } from '../lib/k8s/resources.js';
import { MULTI_NIC_IPAM, type ValidatedNetwork } from '../lib/network.js';
import { planNetwork } from '../lib/plan/index.js';

/** What seeding did for one network: wrote the planned CIDR, or left the one already there alone. */
export type SeedOutcome = { network: string; action: 'created'; cidr: CIDR } | { network: string; action: 'kept' | 'skipped' };

/**
 * Creates the CIDR of `network` from the plan over `inventory` (what `plan` computes over the
 * cluster: previous = the CIDR already there, if any), unless a CIDR already exists (agents or an
 * earlier apply wrote it; its entries are kept by every later claim). Networks without
 * multi-nic-ipam have no CIDR, and a plan that places no host is not written ('skipped'). The CIDR is created without an owner: call
 * adoptPlannedCidr once the network exists (or deletePlannedCidr if creating it failed).
 */
export async function seedPlannedCidr(kube: KubeApi, network: ValidatedNetwork, inventory: readonly HostInterface[]): Promise<SeedOutcome> {
  if (network.ipam.type !== MULTI_NIC_IPAM) return { network: network.name, action: 'skipped' };
  if (await kube.get<CIDR>(R.CIDR, network.name)) return { network: network.name, action: 'kept' };
  const plan = planNetwork({ network, inventory });
  // No host to place (no agent has published yet): there is nothing to hold to, and the first
  // agent's claim creates the CIDR as before.
  if (!plan.cidr.spec.cidr.some((e) => e.hosts.length > 0)) return { network: network.name, action: 'skipped' };
  const cidr: CIDR = { ...plan.cidr, metadata: { name: network.name } };
  try {
    return { network: network.name, action: 'created', cidr: await kube.create<CIDR>(R.CIDR, cidr) };
  } catch (e) {
    // An agent of a network of that name already being created elsewhere got there first: its
    // CIDR stands, exactly as if it had existed when we looked.
    if (isAlreadyExists(e)) return { network: network.name, action: 'kept' };
    throw e;
  }
}

/**
 * Gives a seeded CIDR its controller ownerReference to the network (so Kubernetes GC removes it
 * with the network, as for a CIDR an agent created). A merge patch: agents' concurrent CAS writes
 * are unaffected (theirs carry a resourceVersion and are retried on 409).
 */
export async function adoptPlannedCidr(kube: KubeApi, network: MultiNicNetwork): Promise<void> {
  const name = network.metadata.name ?? '';
  const uid = network.metadata.uid;
  if (!uid) return;
  await kube.patch(R.CIDR, name, { metadata: { ownerReferences: [{ apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', name, uid, controller: true, blockOwnerDeletion: true }] } });
}

/** Undoes seedPlannedCidr when the network itself could not be written. */
export async function deletePlannedCidr(kube: KubeApi, name: string): Promise<void> {
  try {
    await kube.delete(R.CIDR, name);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
