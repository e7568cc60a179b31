// In-memory Ipam for unit tests of the agent server and the CNI path (docs/conventions.md §4): the same pure
// allocator and state as the durable store, no disk. Extra knobs let tests inject failures and
// inspect calls; a failed call changes nothing, like the real store.
import { IpamState, type AllocationConflict, type PoolSyncReport, type ReleaseSelector } from '../../src/lib/ipam/state.js';
import type { AllocateItem, Allocation, Ipam, PoolSpec } from '../../src/lib/ipam/types.js';

export class FakeIpam implements Ipam {
  readonly state = new IpamState();
  /** Every call, in order, for assertions. */
  readonly calls: Array<{ op: 'allocate'; items: AllocateItem[] } | { op: 'release'; sel: ReleaseSelector }> = [];
  /** When set, the next allocate() rejects with it (once) and changes nothing. */
  failNextAllocate: Error | undefined;
  /** When set, the next release() rejects with it (once) and changes nothing. */
  failNextRelease: Error | undefined;

  async allocate(items: AllocateItem[]): Promise<Allocation[]> {
    this.calls.push({ op: 'allocate', items });
    await Promise.resolve();
    const fail = this.failNextAllocate;
    if (fail) {
      this.failNextAllocate = undefined;
      throw fail;
    }
    return this.state.allocate(items).allocations;
  }

  async release(sel: ReleaseSelector): Promise<Allocation[]> {
    this.calls.push({ op: 'release', sel });
    await Promise.resolve();
    const fail = this.failNextRelease;
    if (fail) {
      this.failNextRelease = undefined;
      throw fail;
    }
    return this.state.release(sel);
  }

  list(pool?: string): Allocation[] {
    return this.state.list(pool);
  }

  async adopt(allocations: Allocation[]): Promise<{ adopted: Allocation[]; conflicts: AllocationConflict[] }> {
    await Promise.resolve();
    return this.state.adopt(allocations);
  }

  setPools(pools: PoolSpec[]): PoolSyncReport {
    return this.state.setPools(pools);
  }
}
