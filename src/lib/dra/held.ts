// Which NICs ResourceClaims hold, per node: the claim's allocation results of our driver (pool =
// node, device = a device of that node's ResourceSlice) and the pods it is reserved for. `doctor`'s
// node-claims check reads it. Pure.
import { DRIVER, type ResourceClaim, type ResourceSlice } from './types.js';

export interface HeldNic {
  node: string;
  device: string;
  /** The interface of the device in the node's slice now; undefined: the slice no longer lists it. */
  interfaceName?: string;
  /** The slice's `state` attribute of the device (up, down, unknown). */
  state?: string;
  claim: string;
  pods: string[];
}

/** Every NIC of our driver held by an allocated claim that is reserved for at least one pod. */
export function heldNics(claims: readonly ResourceClaim[], slices: readonly ResourceSlice[], driver = DRIVER): HeldNic[] {
  const byNode = new Map(slices.filter((s) => s.spec.driver === driver && s.spec.nodeName).map((s) => [s.spec.nodeName!, s]));
  const out: HeldNic[] = [];
  for (const c of claims) {
    const pods = (c.status?.reservedFor ?? []).filter((r) => r.resource === 'pods').map((r) => `${c.metadata.namespace ?? ''}/${r.name}`);
    if (!pods.length) continue;
    for (const r of c.status?.allocation?.devices?.results ?? []) {
      if (r.driver !== driver) continue;
      const dev = byNode.get(r.pool)?.spec.devices?.find((d) => d.name === r.device);
      out.push({
        node: r.pool,
        device: r.device,
        ...(dev ? { interfaceName: dev.attributes?.interfaceName?.string ?? r.device } : {}),
        ...(dev?.attributes?.state?.string ? { state: dev.attributes.state.string } : {}),
        claim: `${c.metadata.namespace ?? ''}/${c.metadata.name ?? ''}`,
        pods,
      });
    }
  }
  return out.sort((a, b) => a.node.localeCompare(b.node) || a.device.localeCompare(b.device));
}
