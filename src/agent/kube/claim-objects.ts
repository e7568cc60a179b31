// Claim by create (docs/scale.md, src/lib/cluster/claim-objects.ts): plan from the claims this agent
// knows plus every HostInterface it knows (so agents that see the same hosts plan the same indexes
// and do not collide), then CREATE our own CIDRClaim objects. AlreadyExists on one of ours means
// another host took that index first: read it, add it to what we know and re-plan. Nothing is ever
// replaced, so there is no compare-and-swap on a shared object and no object grows with the cluster.
import { canonical, claimInventory } from '../../lib/cluster/claim.js';
import { CLAIM_HOST_LABEL, CLAIM_NETWORK_LABEL, cidrFromClaims, interfaceClaimName, isLabelValue, claimsFromCidr, sameHolder, type CIDRClaim } from '../../lib/cluster/claim-objects.js';
import type { CIDR, CIDRSpec, HostInterface, MultiNicNetwork } from '../../lib/crds/types.gen.js';
import type { OwnerReference } from '../../lib/k8s/meta.js';
import { R } from '../../lib/k8s/resources.js';
import { validateNetwork } from '../../lib/network.js';
import { planNetwork } from '../../lib/plan/index.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeApi } from '../../kube/api.js';
import type { K } from './kinds.js';

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
  /** The network's frozen config (its CIDR's spec.config); default: planned from the network now. */
  config?: CIDRSpec['config'];
  /** ownerReferences of the claims we create (cidrOwnerRef of the network's CIDR). */
  owner?: readonly OwnerReference[];
  maxAttempts?: number;
  /**
   * This process wrote, or tried to write, the network's claims before, so `claims` may lag our own
   * writes (the informer shows a create late, or a delete late): before the round's first write, our
   * own claims are read from the API and the round plans from them.
   */
  readBack?: boolean;
}

export interface ClaimByCreateOutcome {
  network: string;
  /** netAddress → hostIndex held by this node after the claim. */
  claimed: Record<string, number>;
  /** Objects created (the only writes besides deletes). */
  writes: number;
  /** Our own claims rewritten because our NIC's address or name changed (never another host's). */
  updates: number;
  /** Our claims deleted because the plan no longer gives us that NIC network (the NIC went away). */
  deleted: number;
  /** Creates answered AlreadyExists by another host's claim (re-planned). */
  conflicts: number;
  /** Creates answered AlreadyExists by an interface claim saying the same thing (no re-plan). */
  shared: number;
  attempts: number;
  /** Host NICs of ours the plan could not place (no free host index...). */
  unplaced: string[];
  /** The network's view after the claim (config + every claim we know). */
  view: CIDRSpec;
}

/** Raised when a claim by create cannot complete; the attempts and conflicts are in the message. */
export class ClaimByCreateError extends Error {
  constructor(
    readonly network: string,
    message: string,
  ) {
    super(message);
    this.name = 'ClaimByCreateError';
  }
}

/** Creates (or confirms) this host's claims in the network; returns what it holds. */
export async function claimByCreate(o: ClaimByCreateOptions): Promise<ClaimByCreateOutcome> {
  const name = o.network.metadata.name ?? '';
  const me = o.own.spec.hostName;
  const validated = validateNetwork({ source: `MultiNicNetwork/${name}`, value: o.network });
  const known = new Map(o.claims.filter((c) => c.spec.network === name).map((c) => [c.metadata.name ?? '', c] as const));
  const out: ClaimByCreateOutcome = { network: name, claimed: {}, writes: 0, updates: 0, deleted: 0, conflicts: 0, shared: 0, attempts: 0, unplaced: [], view: { config: o.config ?? planNetwork({ network: validated, inventory: [] }).cidr.spec.config, cidr: [] } };
  const config = out.view.config;
  const max = o.maxAttempts ?? 50;
  // Read our own stored claims from the API once, before the first write (readBack). The informer
  // lags our own writes: planning from it, a host that just created its claim on a NIC network may
  // not see it and create a second index there, or may see a claim it just deleted and create none.
  // Our host claims in `known` are replaced by what the API holds; true when that changed anything.
  let fresh = !o.readBack;
  const refresh = async (): Promise<boolean> => {
    if (fresh) return false;
    fresh = true;
    const stored = new Map((await ownClaims(o.api, name, me)).map((c) => [c.metadata.name ?? '', c] as const));
    let changed = false;
    for (const [n, c] of [...known]) {
      if (c.spec.hostName !== me || c.spec.hostIndex === undefined || !c.metadata.resourceVersion || stored.has(n)) continue;
      known.delete(n);
      changed = true;
    }
    for (const [n, c] of stored) {
      if (known.get(n)?.metadata.resourceVersion === c.metadata.resourceVersion) continue;
      known.set(n, c);
      changed = true;
      // A host claim counts only under its interface claim (cidrFromClaims): read that one too if the informer lacks it.
      const iface = interfaceClaimName(name, c.spec.interfaceIndex);
      if (known.get(iface)?.metadata.resourceVersion) continue;
      const got = await o.api.get<K<CIDRClaim>>(R.CIDRClaim, iface);
      if (got) known.set(iface, got);
    }
    return changed;
  };
  while (out.attempts < max) {
    out.attempts++;
    const previous: CIDR = { apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', metadata: { name }, spec: cidrFromClaims(name, config, [...known.values()]) };
    const holders = claimInventory(o.own, previous.spec);
    const listed = new Set(holders.map((h) => h.spec.hostName));
    const inventory = [...holders, ...o.hosts.filter((h) => !listed.has(h.spec.hostName))];
    // Only our own entries: every host is still planned, so the indexes are the full plan's.
    const plan = planNetwork({ network: validated, inventory, previous, only: me });
    const wanted = claimsFromCidr(name, plan.cidr.spec, me, o.owner ?? []);
    let replan = false;
    for (const want of wanted) {
      const wantName = want.metadata.name ?? '';
      const have = known.get(wantName);
      // A claim known only from a legacy CIDR entry (no resourceVersion: never stored) is ours to
      // create with the same index: that is the migration, and it keeps every host's index.
      if (have && sameHolder(have, want) && have.metadata.resourceVersion) {
        // Ours, but our NIC changed (a new address or name): rewrite our own object. The index is
        // held throughout; the compare-and-swap is on an object only this host writes.
        if (canonical(have.spec) === canonical(want.spec)) continue;
        if (await refresh()) {
          replan = true;
          break;
        }
        known.set(wantName, await o.api.replace<K<CIDRClaim>>(R.CIDRClaim, { ...(have as K<CIDRClaim>), spec: want.spec }));
        out.updates++;
        continue;
      }
      if (have?.metadata.resourceVersion && !sameHolder(have, want)) {
        replan = true; // the plan gave us an index a stored claim holds: only when what we know is inconsistent
        break;
      }
      if (await refresh()) {
        replan = true;
        break;
      }
      try {
        known.set(wantName, await o.api.create<K<CIDRClaim>>(R.CIDRClaim, want as K<CIDRClaim>));
        out.writes++;
      } catch (e) {
        // AlreadyExists: the index is taken. A Conflict on create (storage contention) is read the same way.
        if (!isAlreadyExists(e) && !isConflict(e)) throw e;
        const taken = await o.api.get<K<CIDRClaim>>(R.CIDRClaim, wantName);
        if (taken) known.set(wantName, taken);
        else known.delete(wantName); // deleted meanwhile (a departed host): free again
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
    // Our stored host claims the plan no longer has (that NIC network left this host): free them.
    const keep = new Set(wanted.map((w) => w.metadata.name));
    // Only a caller that wrote (or tried to write) this network's claims before reads them back: a
    // freshly synced informer already holds everything this host stored, so 4,096 agents' first
    // rounds stay list-free, and a round that writes nothing lists nothing.
    const stale = [...known].filter(([n, c]) => c.spec.hostName === me && c.spec.hostIndex !== undefined && !keep.has(n) && c.metadata.resourceVersion);
    if (stale.length && (await refresh())) continue;
    for (const [n] of stale) {
      try {
        await o.api.delete(R.CIDRClaim, n);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      known.delete(n);
      out.deleted++;
    }
    for (const e of plan.cidr.spec.cidr) for (const h of e.hosts) if (h.hostName === me) out.claimed[e.netAddress] = h.hostIndex;
    out.unplaced = plan.unplaced.filter((u) => u.hostName === me).map((u) => `${u.interfaceName} on ${u.netAddress}: ${u.reason}`);
    out.view = cidrFromClaims(name, config, [...known.values()].filter((c) => c.metadata.resourceVersion));
    return out;
  }
  throw new ClaimByCreateError(name, `failed to claim host indexes of ${me} in network "${name}" after ${max} attempts (${out.conflicts} conflicts)`);
}

/** This host's stored claims of one network, from the API (both labels; names too long for a label filtered on the spec). */
async function ownClaims(api: KubeApi, network: string, host: string): Promise<CIDRClaim[]> {
  if (!isLabelValue(network) || !isLabelValue(host)) return (await listClaims(api, network)).filter((c) => c.spec.hostName === host);
  const l = await api.list<K<CIDRClaim>>(R.CIDRClaim, { labelSelector: `${CLAIM_NETWORK_LABEL}=${network},${CLAIM_HOST_LABEL}=${host}` });
  return l.items.filter((c) => c.spec.network === network && c.spec.hostName === host);
}

/**
 * The stored claims of one network (selected by its label; a name too long for a label is
 * filtered on spec.network instead), or of every network.
 */
export async function listClaims(api: KubeApi, network?: string): Promise<CIDRClaim[]> {
  const byLabel = network !== undefined && isLabelValue(network);
  const l = await api.list<K<CIDRClaim>>(R.CIDRClaim, byLabel ? { labelSelector: `${CLAIM_NETWORK_LABEL}=${network}` } : {});
  return network === undefined ? l.items : l.items.filter((c) => c.spec.network === network);
}
