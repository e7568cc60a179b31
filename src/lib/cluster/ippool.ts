// IPPool resources mirrored from the agent's durable IPAM store (docs/design.md §2: the journal is the
// truth for allocations, the IPPool is its published copy for `status`, `kubectl get` and upstream
// tools). Upstream shape plus our key fields (podUID, containerID, interface). Pure.
import type { Allocation as PoolAllocation, IPPool } from '../crds/types.gen.js';
import type { Allocation, PoolSpec } from '../ipam/types.js';
import { parseCidr, type Cidr } from '../net/ip.js';
import { parseExcludeText, poolCapacity } from '../plan/pools.js';
import type { ObjectMeta } from '../k8s/meta.js';

export const HOSTNAME_LABEL = 'hostname';
export const NETNAME_LABEL = 'netname';

/** Label values are at most 63 characters (upstream bug 9.2.19): longer names get no label. */
const labelValue = (v: string): string | undefined => (v.length <= 63 && /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(v) ? v : undefined);

/** Labels selecting a host's (and a network's) pools. */
export function ippoolLabels(hostName: string, network: string): Record<string, string> {
  const out: Record<string, string> = {};
  const h = labelValue(hostName);
  const n = labelValue(network);
  if (h !== undefined) out[HOSTNAME_LABEL] = h;
  if (n !== undefined) out[NETNAME_LABEL] = n;
  return out;
}

/** The IPPool for `pool` holding `allocs` (sorted by index, then key) and usage in status. */
export function renderIPPool(pool: PoolSpec, allocs: readonly Allocation[], meta: Partial<ObjectMeta> = {}): IPPool {
  const allocations: PoolAllocation[] = [...allocs]
    .filter((a) => a.pool === pool.name)
    .sort((a, b) => a.index - b.index || (a.podUID + a.interface < b.podUID + b.interface ? -1 : 1))
    .map((a) => ({
      pod: a.podName,
      namespace: a.namespace,
      index: a.index,
      address: a.address,
      podUID: a.podUID,
      containerID: a.containerID,
      interface: a.interface,
    }));
  // The same capacity plan and status show (poolCapacity), capped to a safe integer for the CRD.
  const excludes = pool.excludes.map(parseExcludeText).filter((c): c is Cidr => c !== undefined);
  const cap = poolCapacity(parseCidr(pool.podCIDR, { strict: false }), excludes, pool.reserved);
  const capacity = Number(cap > 2n ** 30n ? 2n ** 30n : cap);
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'IPPool',
    metadata: { ...meta, name: pool.name, labels: { ...(meta.labels ?? {}), ...ippoolLabels(pool.hostName, pool.network) } },
    spec: {
      podCIDR: pool.podCIDR,
      vlanCIDR: pool.vlanCIDR,
      netAttachDef: pool.network,
      hostName: pool.hostName,
      interfaceName: pool.interfaceName,
      excludes: [...pool.excludes],
      allocations,
    },
    status: { used: allocations.length, capacity: Math.max(capacity, 0) },
  };
}

/**
 * Coalesces dirty pool names: `mark` records that a pool changed; `take` hands out everything marked
 * since the last take, at most once per pool (a burst of 100 allocations in one pool is one write).
 */
export class DirtySet {
  private readonly names = new Set<string>();
  mark(name: string): void {
    this.names.add(name);
  }
  take(): string[] {
    const out = [...this.names].sort();
    this.names.clear();
    return out;
  }
  get size(): number {
    return this.names.size;
  }
}
