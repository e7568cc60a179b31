// The agent's CIDR claim for one network (docs/design.md §2): GET the CIDR, plan from it with our fresh
// HostInterface, merge only our own entries, and write with the CIDR's resourceVersion. A 409
// (someone else wrote first) or AlreadyExists (someone created it first) re-reads and re-plans
// after a jittered pause; our index therefore never collides with one the server already holds.
import { ClaimCollisionError, claimInventory, mergeOwnClaim } from '../../lib/cluster/claim.js';
import type { CIDR, HostInterface, MultiNicNetwork } from '../../lib/crds/types.gen.js';
import { R } from '../../lib/k8s/resources.js';
import { validateNetwork } from '../../lib/network.js';
import { planNetwork } from '../../lib/plan/index.js';
import { isAlreadyExists, isConflict, type KubeApi } from '../../kube/api.js';
import type { K } from './kinds.js';

export interface ClaimOptions {
  api: KubeApi;
  network: MultiNicNetwork;
  /** This node's HostInterface as published (spec is what counts). */
  own: HostInterface;
  /** Attempts before giving up for this round (default 30). */
  maxAttempts?: number;
  /** Upper bound of the jittered pause between attempts (default 100 ms, doubling to 2 s). */
  jitterMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * The informer's copy of the CIDR: when planning against it changes nothing for us, the claim is
   * confirmed without an API call (every agent re-checks on every CIDR event, so this keeps a
   * rollout of N nodes from costing N^2 GETs). A stale copy only delays us until the next event.
   */
  cached?: CIDR | undefined;
}

export interface ClaimOutcome {
  network: string;
  /** netAddress → hostIndex held by this node after the claim. */
  claimed: Record<string, number>;
  /** True when we wrote the CIDR (created or replaced). */
  wrote: boolean;
  attempts: number;
  conflicts: number;
  /** Host NICs of ours the plan could not place (no free host index...). */
  unplaced: string[];
  cidr: CIDR;
}

/** Raised when a claim cannot complete; `attempts` and the last cause are in the message. */
export class ClaimFailedError extends Error {
  constructor(
    readonly network: string,
    message: string,
  ) {
    super(message);
    this.name = 'ClaimFailedError';
  }
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Claims (or confirms) this node's host entries in the network's CIDR. */
export async function claimCidr(o: ClaimOptions): Promise<ClaimOutcome> {
  const name = o.network.metadata.name ?? '';
  const me = o.own.spec.hostName;
  const validated = validateNetwork({ source: `MultiNicNetwork/${name}`, value: o.network });
  const max = o.maxAttempts ?? 30;
  const sleep = o.sleep ?? defaultSleep;
  let conflicts = 0;
  let lastErr: unknown;
  if (o.cached) {
    const plan = planNetwork({ network: validated, inventory: claimInventory(o.own, o.cached.spec), previous: o.cached });
    try {
      const m = mergeOwnClaim(o.cached.spec, plan.cidr.spec, me);
      const unplaced = plan.unplaced.filter((u) => u.hostName === me).map((u) => `${u.interfaceName} on ${u.netAddress}: ${u.reason}`);
      if (!m.changed) return { network: name, claimed: m.claimed, wrote: false, attempts: 0, conflicts: 0, unplaced, cidr: o.cached };
    } catch (e) {
      if (!(e instanceof ClaimCollisionError)) throw e;
    }
  }
  for (let attempt = 1; attempt <= max; attempt++) {
    const current = await o.api.get<K<CIDR>>(R.CIDR, name);
    const plan = planNetwork({ network: validated, inventory: claimInventory(o.own, current?.spec), previous: current });
    const unplaced = plan.unplaced.filter((u) => u.hostName === me).map((u) => `${u.interfaceName} on ${u.netAddress}: ${u.reason}`);
    let merged;
    try {
      merged = mergeOwnClaim(current?.spec, plan.cidr.spec, me);
    } catch (e) {
      // The plan was made against a copy that changed under a concurrent writer's entry; re-read.
      if (!(e instanceof ClaimCollisionError)) throw e;
      lastErr = e;
      conflicts++;
      await sleep(jitter(attempt, o.jitterMs));
      continue;
    }
    const base = { network: name, claimed: merged.claimed, attempts: attempt, conflicts, unplaced };
    if (!merged.changed && current) return { ...base, wrote: false, cidr: current };
    try {
      if (!current) {
        const created = await o.api.create<K<CIDR>>(R.CIDR, {
          apiVersion: 'multinic.fms.io/v1',
          kind: 'CIDR',
          metadata: { name, ownerReferences: ownerRefs(o.network) },
          spec: merged.spec,
        });
        return { ...base, wrote: true, cidr: created };
      }
      const written = await o.api.replace<K<CIDR>>(R.CIDR, { ...current, spec: merged.spec });
      return { ...base, wrote: true, cidr: written };
    } catch (e) {
      if (!isConflict(e) && !isAlreadyExists(e)) throw e;
      lastErr = e;
      conflicts++;
      await sleep(jitter(attempt, o.jitterMs));
    }
  }
  throw new ClaimFailedError(name, `failed to claim host indexes of ${me} in CIDR "${name}" after ${max} attempts (${conflicts} conflicts): ${(lastErr as Error | undefined)?.message ?? 'unknown'}`);
}

/** A controller ownerReference to the network, so Kubernetes GC removes CIDR and IPPools with it. */
export function ownerRefs(net: MultiNicNetwork): NonNullable<CIDR['metadata']['ownerReferences']> {
  if (!net.metadata.uid) return [];
  return [{ apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', name: net.metadata.name ?? '', uid: net.metadata.uid, controller: true, blockOwnerDeletion: true }];
}

function jitter(attempt: number, base = 100): number {
  const cap = Math.min(2000, base * 2 ** Math.min(attempt - 1, 5));
  return Math.random() * cap;
}
