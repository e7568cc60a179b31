// plan == apply: the host indexes `plan` prints are the ones the agents get. Agents claim only
// indexes no CIDRClaim holds (src/agent/kube/claim-objects.ts), so `apply` writes the network's
// CIDR (config, no host entries) and one CIDRClaim per planned host and NIC network from the same
// plan BEFORE the network exists: by the time any agent sees the network, every host known at apply
// time already holds its planned claim, each agent merely confirms its own (no write), and a host
// the plan left out finds no free index, as the plan said. Hosts that come later claim free
// indexes by create (docs/scale.md).
import { isAlreadyExists, isNotFound, type KubeApi } from '../kube/api.js';
import { CLAIMS_ANNOTATION, CLAIMS_ANNOTATION_VALUE, cidrOwnerRef, claimsFromCidr } from '../lib/cluster/claim-objects.js';
import type { CIDR, HostInterface, MultiNicNetwork } from '../lib/crds/types.gen.js';
import { R } from '../lib/k8s/resources.js';
import { MULTI_NIC_IPAM, type ValidatedNetwork } from '../lib/network.js';
import { planNetwork } from '../lib/plan/index.js';

/** What seeding did for one network: wrote the planned CIDR, or left the one already there alone. */
export type SeedOutcome = { network: string; action: 'created'; cidr: CIDR } | { network: string; action: 'kept' | 'skipped' };

/** Claims created at once while seeding (a plan of 4,096 hosts x 8 NICs is 32,768 small creates). */
const SEED_CONCURRENCY = 16;

/**
 * Creates the CIDR of `network` and the CIDRClaims of the plan over `inventory` (what `plan`
 * computes over the cluster), unless a CIDR already exists (agents or an earlier apply wrote it;
 * its claims are kept by every later claim). Networks without multi-nic-ipam have no CIDR, and a
 * plan that places no host is not written ('skipped'). The CIDR is created without an owner (the
 * claims are owned by it): call adoptPlannedCidr once the network exists (or deletePlannedCidr,
 * which takes the claims with it, if creating it failed). The CIDR returned is the plan's.
 */
export async function seedPlannedCidr(kube: KubeApi, network: ValidatedNetwork, inventory: readonly HostInterface[]): Promise<SeedOutcome> {
  if (network.ipam.type !== MULTI_NIC_IPAM) return { network: network.name, action: 'skipped' };
  if (await kube.get<CIDR>(R.CIDR, network.name)) return { network: network.name, action: 'kept' };
  const plan = planNetwork({ network, inventory });
  // No host to place (no agent has published yet): there is nothing to hold to, and the first
  // agent's claim creates the CIDR as before.
  if (!plan.cidr.spec.cidr.some((e) => e.hosts.length > 0)) return { network: network.name, action: 'skipped' };
  const cidr: CIDR = { ...plan.cidr, metadata: { name: network.name, annotations: { [CLAIMS_ANNOTATION]: CLAIMS_ANNOTATION_VALUE } }, spec: { config: plan.cidr.spec.config, cidr: [] } };
  let created: CIDR;
  try {
    created = await kube.create<CIDR>(R.CIDR, cidr);
  } catch (e) {
    // An agent of a network of that name already being created elsewhere got there first: its
    // CIDR stands, exactly as if it had existed when we looked.
    if (isAlreadyExists(e)) return { network: network.name, action: 'kept' };
    throw e;
  }
  const claims = claimsFromCidr(network.name, plan.cidr.spec, undefined, cidrOwnerRef(created));
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(SEED_CONCURRENCY, claims.length) }, async () => {
      while (next < claims.length) {
        const c = claims[next++]!;
        try {
          await kube.create(R.CIDRClaim, c);
        } catch (e) {
          // Held already: only by a claim of an earlier network of that name that Kubernetes has not
          // collected yet (ours are new); its host re-claims once it is gone.
          if (!isAlreadyExists(e)) throw e;
        }
      }
    }),
  );
  return { network: network.name, action: 'created', cidr: { ...created, spec: plan.cidr.spec } };
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
