// What a ResourceClaim means for this node's driver: the NICs allocated to it here, in claim order,
// and the pods it is reserved for. Pure; the kubelet plugin (src/agent/dra/plugin.ts) calls it at
// NodePrepareResources and records the answer durably.
import { DRIVER, type ResourceClaim } from './types.js';

/** One of our devices in a claim's allocation. `interfaceName` is the NIC (device names are DNS labels). */
export interface ClaimedNic {
  request: string;
  pool: string;
  device: string;
  interfaceName: string;
}

/** What Prepare records for a claim: which NICs, for which pods. */
export interface PreparedClaim {
  uid: string;
  namespace: string;
  name: string;
  nics: ClaimedNic[];
  /** status.reservedFor pods at Prepare time (the kubelet prepares a claim for the pods it starts). */
  pods: Array<{ name: string; uid: string }>;
  preparedAt: string;
}

export class ClaimNotPreparableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClaimNotPreparableError';
  }
}

/**
 * The claim's NICs of our driver on `node`, in allocation order. `nicOf` maps a device name of this
 * node's slice to its interface name (undefined: no such NIC here now). Throws ClaimNotPreparableError
 * with what is wrong and what to do: unallocated, allocated on another node, or a NIC gone.
 */
export function claimedNics(claim: ResourceClaim, node: string, nicOf: (device: string) => string | undefined, driver = DRIVER): ClaimedNic[] {
  const id = `ResourceClaim ${claim.metadata.namespace ?? ''}/${claim.metadata.name ?? ''}`;
  const results = claim.status?.allocation?.devices?.results;
  if (!results) throw new ClaimNotPreparableError(`${id} is not allocated: the scheduler allocates a claim before the kubelet prepares it (kubectl get resourceclaim shows its state)`);
  const ours = results.filter((r) => r.driver === driver);
  const out: ClaimedNic[] = [];
  for (const r of ours) {
    if (r.pool !== node) throw new ClaimNotPreparableError(`${id}: device ${r.device} is allocated from pool "${r.pool}", not this node "${node}" (each ${driver} pool is one node's NICs)`);
    const interfaceName = nicOf(r.device);
    if (!interfaceName) throw new ClaimNotPreparableError(`${id}: device ${r.device} is not a NIC of node ${node} now (its ResourceSlice no longer lists it); delete the pod so its claim is allocated again`);
    out.push({ request: r.request, pool: r.pool, device: r.device, interfaceName });
  }
  return out;
}

/** The pods a claim is reserved for (status.reservedFor entries of resource "pods"). */
export function reservedPods(claim: ResourceClaim): Array<{ name: string; uid: string }> {
  return (claim.status?.reservedFor ?? []).filter((r) => r.resource === 'pods' && !r.apiGroup).map((r) => ({ name: r.name, uid: r.uid }));
}
