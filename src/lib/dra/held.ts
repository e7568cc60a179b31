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

/** A NIC a claim holds, as `plan` lists it beside a network's plan. */
export interface PlanHeldNic {
  host: string;
  nic: string;
  claim: string;
  pods: string[];
}

/**
 * The held NICs that are NICs of a planned network (a pool's host and interface), sorted by host,
 * NIC and claim. A device the node's slice no longer lists is matched by its device name.
 */
export function heldInPlan(held: readonly HeldNic[], pools: ReadonlyArray<{ hostName: string; interfaceName: string }>): PlanHeldNic[] {
  const planned = new Set(pools.map((p) => `${p.hostName}/${p.interfaceName}`));
  return held
    .map((h) => ({ host: h.node, nic: h.interfaceName ?? h.device, claim: h.claim, pods: [...h.pods].sort() }))
    .filter((h) => planned.has(`${h.host}/${h.nic}`))
    .sort((a, b) => a.host.localeCompare(b.host) || a.nic.localeCompare(b.nic) || a.claim.localeCompare(b.claim));
}

/** One host's held NICs for a table cell: `eth2,eth3: ns/pod (claim ns/c)`, claims joined by `; `; `-` for none. */
export function heldCell(held: readonly PlanHeldNic[], host: string): string {
  const byClaim = new Map<string, PlanHeldNic[]>();
  for (const h of held.filter((x) => x.host === host)) byClaim.set(h.claim, [...(byClaim.get(h.claim) ?? []), h]);
  if (byClaim.size === 0) return '-';
  return [...byClaim].map(([claim, nics]) => `${nics.map((n) => n.nic).join(',')}: ${nics[0]!.pods.join(',') || '-'} (claim ${claim})`).join('; ');
}
