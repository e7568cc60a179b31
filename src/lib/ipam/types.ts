// The IPAM port the agent's API handlers use (docs/conventions.md §4: a narrow interface named by its role).
// Implemented durably by src/agent/ipam (journal + pure allocator); tests use test/fakes.

/** One pool: a host's pod block on one NIC for one network. */
export interface PoolSpec {
  /** IPPool name: `<network>-<podCIDR ip>-<prefix>` (upstream naming). */
  name: string;
  network: string;
  hostName: string;
  interfaceName: string;
  podCIDR: string;
  vlanCIDR: string;
  /** CIDRs inside podCIDR never handed out (excludeCIDRs smaller than the block). */
  excludes: string[];
  /** Single addresses never handed out (e.g. the macvlan L3 shim gateway). */
  reserved: string[];
}

/** The key of an allocation: pod UID + container ID + pod interface (net1-0), never the pod name. */
export interface AllocationKey {
  podUID: string;
  containerID: string;
  /** Pod interface name, e.g. net1-0. */
  interface: string;
}

export interface Allocation extends AllocationKey {
  pool: string;
  network: string;
  /** Address without prefix. */
  address: string;
  /** Offset of the address from the pod block's network address (upstream `index`). */
  index: number;
  podName: string;
  namespace: string;
}

export interface AllocateItem {
  pool: PoolSpec;
  key: AllocationKey;
  podName: string;
  namespace: string;
}

export interface Ipam {
  /**
   * Allocates one address per item, all or nothing, durable (fsynced) before it resolves. An item
   * whose key already holds an address in that pool gets the same address (repeated ADD).
   */
  allocate(items: AllocateItem[]): Promise<Allocation[]>;
  /**
   * Releases every allocation matching podUID+containerID (and `network` when given) whose interface
   * is `ifPrefix` or `<ifPrefix>-<i>` (so `net1` never releases `net10-0`; a prefix ending in `-` is
   * matched as a plain prefix); idempotent: nothing held resolves to [].
   */
  release(sel: { podUID: string; containerID: string; ifPrefix?: string; network?: string }): Promise<Allocation[]>;
  /** Allocations held, optionally only one pool's. */
  list(pool?: string): Allocation[];
}
