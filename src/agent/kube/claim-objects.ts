// Claim by create (see src/lib/cluster/claim-objects.ts): plan from the claims this agent knows
// plus every HostInterface it knows (so agents that see the same hosts plan the same indexes and
// do not collide), then CREATE our own claim objects. AlreadyExists on one of ours means another
// host took that index first: read it, add it to what we know and re-plan. Nothing is ever
// replaced, so there is no compare-and-swap on a shared object and no object grows with the cluster.
// Not wired into KubeAgent yet: the CIDR readers (routes, pools, status, doctor) still read the
// CIDR; bench/claims measures this against claimCidr.
import { claimInventory } from '../../lib/cluster/claim.js';
import { cidrFromClaims, claimsFromCidr, type CIDRClaim } from '../../lib/cluster/claim-objects.js';
import type { CIDR, HostInterface, MultiNicNetwork } from '../../lib/crds/types.gen.js';
import { MULTINIC_GROUP, type ResourceRef } from '../../lib/k8s/resources.js';
import { validateNetwork } from '../../lib/network.js';
import { planNetwork } from '../../lib/plan/index.js';
import { isAlreadyExists, type KubeApi } from '../../kube/api.js';

export const CIDR_CLAIM: ResourceRef = { group: MULTINIC_GROUP, version: 'v1', kind: 'CIDRClaim', plural: 'cidrclaims', namespaced: false };

/**
 * The CIDRClaim CRD for tests and bench/claims (not in deploy/crds yet, so `install` does not
 * create it): cluster-scoped, spec kept as given.
 */
export const CIDR_CLAIM_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'cidrclaims.multinic.fms.io' },
  spec: {
    group: MULTINIC_GROUP,
    scope: 'Cluster',
    names: { plural: 'cidrclaims', singular: 'cidrclaim', kind: 'CIDRClaim', listKind: 'CIDRClaimList' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } } }],
  },
};

export interface ClaimByCreateOptions {
  api: KubeApi;
  network: MultiNicNetwork;
  own: HostInterface;
  /** Other hosts' HostInterfaces as the informer has them (ranks fresh hosts as the plan does). */
  hosts: readonly HostInterface[];
  /**
   * The network's claims as the informer has them; on upgrade also claimsFromCidr(the old CIDR)
   * (unstored: no resourceVersion), so the indexes the CIDR gave are kept and ours are adopted.
   */
  claims: readonly CIDRClaim[];
  maxAttempts?: number;
}

export interface ClaimByCreateOutcome {
  claimed: Record<string, number>;
  /** Objects created (the only writes). */
  writes: number;
  /** Creates answered AlreadyExists by another host's claim (re-planned). */
  conflicts: number;
  /** Creates answered AlreadyExists by an interface claim saying the same thing (no re-plan). */
  shared: number;
  attempts: number;
}

/** Creates (or confirms) this host's claims in the network; returns what it holds. */
export async function claimByCreate(o: ClaimByCreateOptions): Promise<ClaimByCreateOutcome> {
  const name = o.network.metadata.name ?? '';
  const me = o.own.spec.hostName;
  const validated = validateNetwork({ source: `MultiNicNetwork/${name}`, value: o.network });
  const known = new Map(o.claims.filter((c) => c.spec.network === name).map((c) => [c.metadata.name, c] as const));
  const out: ClaimByCreateOutcome = { claimed: {}, writes: 0, conflicts: 0, shared: 0, attempts: 0 };
  const max = o.maxAttempts ?? 50;
  while (out.attempts < max) {
    out.attempts++;
    const config = planNetwork({ network: validated, inventory: [o.own] }).cidr.spec.config;
    const previous: CIDR = { apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', metadata: { name }, spec: cidrFromClaims(name, config, [...known.values()]) };
    const holders = claimInventory(o.own, previous.spec);
    const listed = new Set(holders.map((h) => h.spec.hostName));
    const inventory = [...holders, ...o.hosts.filter((h) => !listed.has(h.spec.hostName))];
    const plan = planNetwork({ network: validated, inventory, previous });
    let replan = false;
    for (const want of claimsFromCidr(name, plan.cidr.spec, me)) {
      const have = known.get(want.metadata.name);
      // A claim known only from a legacy CIDR entry (no resourceVersion: never stored) is ours to
      // create with the same index: that is the migration, and it keeps every host's index.
      if (have && sameHolder(have, want) && have.metadata.resourceVersion) continue;
      if (have && !sameHolder(have, want)) {
        replan = true; // the plan gave us an index a claim we know holds: cannot happen unless stale
        break;
      }
      try {
        known.set(want.metadata.name, await o.api.create<CIDRClaim>(CIDR_CLAIM, want));
        out.writes++;
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        const taken = await o.api.get<CIDRClaim>(CIDR_CLAIM, want.metadata.name);
        if (taken) known.set(want.metadata.name, taken);
        if (taken && sameHolder(taken, want)) {
          out.shared++;
          continue;
        }
        out.conflicts++;
        replan = true;
        break;
      }
    }
    if (replan) continue;
    for (const e of plan.cidr.spec.cidr) for (const h of e.hosts) if (h.hostName === me) out.claimed[e.netAddress] = h.hostIndex;
    return out;
  }
  throw new Error(`failed to claim host indexes of ${me} in network "${name}" after ${max} attempts (${out.conflicts} conflicts)`);
}

/** The same index held for the same purpose: the same NIC network, and for a host claim the same host. */
function sameHolder(a: CIDRClaim, b: CIDRClaim): boolean {
  return a.spec.netAddress === b.spec.netAddress && a.spec.interfaceIndex === b.spec.interfaceIndex && a.spec.hostIndex === b.spec.hostIndex && a.spec.hostName === b.spec.hostName;
}
