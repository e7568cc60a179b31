// The whole node's IPAM state as plain data plus one PoolAllocator per known pool. Pure: the
// durable store (src/agent/ipam/store.ts) journals the records this produces and replays them at
// start; the test fake (test/fakes/ipam.ts) uses it without a disk.
//
// Records carry results (the addresses handed out), not requests, so replay never re-runs the
// allocator: a journal replays to the same state even when pool specs changed in between.
import { formatIp, parseIp } from '../net/ip.js';
import { PoolAllocator, compilePool } from './allocator.js';
import type { AllocateItem, Allocation, AllocationKey, PoolSpec } from './types.js';

/** One durable state change. `allocate` lists only fresh allocations (repeats change nothing). */
export type IpamRecord =
  | {
      op: 'allocate';
      allocations: Allocation[];
      /** Taken over from elsewhere (adopt()): replay does not move the cursor. */
      adopted?: boolean;
    }
  | { op: 'release'; released: Array<AllocationKey & { pool: string; address: string }> };

/** Everything needed to rebuild the state: allocations and each pool's cursor. */
export interface IpamSnapshot {
  pools: Array<{ name: string; cursor?: string }>;
  allocations: Allocation[];
}

/** An allocation that is held but that its pool's current spec cannot hold. */
export interface AllocationConflict {
  allocation: Allocation;
  reason: string;
}

/** What setPools found: allocations whose pool is gone, or that the new spec cannot hold. */
export interface PoolSyncReport {
  /** Pools no longer in the set that still hold allocations: kept, and held, until released. */
  orphaned: Allocation[];
  conflicts: AllocationConflict[];
}

export interface PoolStatus {
  name: string;
  /** Whether a spec is known (false: only allocations from the journal, pool not in the current set). */
  known: boolean;
  podCIDR?: string;
  usable?: bigint;
  allocated: number;
  cursor?: string;
  conflicts: AllocationConflict[];
}

export interface ReleaseSelector {
  podUID: string;
  containerID: string;
  /**
   * The CNI ifName (`net1`) selects `net1` and `net1-<i>`, never `net10-0`; a value ending in `-`
   * is a plain prefix.
   */
  ifPrefix?: string;
  network?: string;
}

interface PoolEntry {
  name: string;
  spec?: PoolSpec;
  alloc?: PoolAllocator;
  /** Cursor text while no spec is known. */
  cursor?: string;
  byKey: Map<string, Allocation>;
  /** Key -> reason, for allocations the allocator could not take. */
  conflicts: Map<string, string>;
}

/** Where a held allocation lives, as the holder index records it. */
interface HeldAt {
  entry: PoolEntry;
  key: string;
}

const keyOf = (k: AllocationKey): string => `${k.podUID}\u0000${k.containerID}\u0000${k.interface}`;
/** podUID + containerID: the part of a key every ReleaseSelector names. */
const holderKeyOf = (k: { podUID: string; containerID: string }): string => `${k.podUID}\u0000${k.containerID}`;
const holderOf = (a: AllocationKey & { podName?: string; namespace?: string }): string =>
  a.podName ? `pod ${a.namespace}/${a.podName} (uid ${a.podUID}, container ${a.containerID}, ${a.interface})` : `uid ${a.podUID}, container ${a.containerID}, ${a.interface}`;

export function matchesSelector(a: Allocation, sel: ReleaseSelector): boolean {
  if (a.podUID !== sel.podUID || a.containerID !== sel.containerID) return false;
  if (sel.network !== undefined && a.network !== sel.network) return false;
  const p = sel.ifPrefix;
  if (p === undefined || p === '') return true;
  if (p.endsWith('-')) return a.interface.startsWith(p);
  return a.interface === p || a.interface.startsWith(`${p}-`);
}

function sameSpec(a: PoolSpec, b: PoolSpec): boolean {
  return (
    a.podCIDR === b.podCIDR &&
    a.vlanCIDR === b.vlanCIDR &&
    a.network === b.network &&
    a.excludes.length === b.excludes.length &&
    a.excludes.every((x, i) => x === b.excludes[i]) &&
    a.reserved.length === b.reserved.length &&
    a.reserved.every((x, i) => x === b.reserved[i])
  );
}

/** By pool, then address: within a pool `index` orders like the address (offset from one base). */
function compareAllocations(a: Allocation, b: Allocation): number {
  if (a.pool !== b.pool) return a.pool < b.pool ? -1 : 1;
  if (a.index !== b.index) return a.index - b.index;
  if (a.address === b.address) return 0;
  const x = parseIp(a.address).addr;
  const y = parseIp(b.address).addr;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Allocations per pool with their allocators. Every method is synchronous and either completes or
 * changes nothing, so a caller that journals the returned record before answering serialises
 * concurrent requests simply by not awaiting between the call and the append.
 */
export class IpamState {
  private readonly pools = new Map<string, PoolEntry>();
  /**
   * Every held allocation by holder (podUID + containerID), so release() looks at a pod's few
   * allocations instead of the whole node's. Changed only with `byKey`, by put() and remove();
   * within one pool a holder's allocations keep their `byKey` order.
   */
  private readonly byHolder = new Map<string, Map<Allocation, HeldAt>>();

  /**
   * Allocates one address per item, all or nothing. A key already holding an address in the item's
   * pool gets it again. Returns every item's allocation (in item order) and the fresh ones, which
   * the caller must journal. Throws PoolExhaustedError / InvalidPoolError and then changes nothing
   * but the registration of new pool specs.
   */
  allocate(items: readonly AllocateItem[]): { allocations: Allocation[]; fresh: Allocation[] } {
    const allocations: Allocation[] = [];
    const fresh: Allocation[] = [];
    const undo: Array<() => void> = [];
    try {
      for (const item of items) {
        const entry = this.ensurePool(item.pool);
        const key = keyOf(item.key);
        const held = entry.byKey.get(key);
        if (held) {
          allocations.push(held);
          continue;
        }
        const alloc = entry.alloc as PoolAllocator;
        const addr = alloc.next();
        const prevCursor = alloc.cursor;
        const a: Allocation = Object.freeze({
          podUID: item.key.podUID,
          containerID: item.key.containerID,
          interface: item.key.interface,
          pool: item.pool.name,
          network: item.pool.network,
          address: formatIp(alloc.pool.family, addr),
          index: Number(addr - alloc.pool.cidr.base),
          podName: item.podName,
          namespace: item.namespace,
        });
        alloc.take(addr, holderOf(a));
        this.put(entry, key, a);
        undo.push(() => {
          this.remove(entry, key);
          alloc.release(addr);
          alloc.cursor = prevCursor;
        });
        allocations.push(a);
        fresh.push(a);
      }
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
    return { allocations, fresh };
  }

  /**
   * Takes over allocations known elsewhere (the IPPool resources, after the journal was lost or
   * moved aside) that this state lacks. A key already held is skipped; an allocation whose pool is
   * unknown (call setPools first), whose address the pool cannot hold, or whose address another key
   * holds is a conflict and is not taken. The cursor does not move. The caller journals `adopted`.
   */
  adopt(allocations: readonly Allocation[]): { adopted: Allocation[]; conflicts: AllocationConflict[] } {
    const adopted: Allocation[] = [];
    const conflicts: AllocationConflict[] = [];
    for (const a of allocations) {
      const entry = this.pools.get(a.pool);
      const key = keyOf(a);
      if (entry?.byKey.has(key)) continue;
      if (!entry?.alloc) {
        conflicts.push({ allocation: a, reason: `pool "${a.pool}" is not one of this node's pools` });
        continue;
      }
      try {
        const ip = parseIp(a.address);
        if (ip.family !== entry.alloc.pool.family) throw new Error(`IPv${ip.family} address in an IPv${entry.alloc.pool.family} pool`);
        entry.alloc.take(ip.addr, holderOf(a), false);
        const held: Allocation = Object.freeze({ ...a, index: Number(ip.addr - entry.alloc.pool.cidr.base) });
        this.put(entry, key, held);
        adopted.push(held);
      } catch (e) {
        conflicts.push({ allocation: a, reason: e instanceof Error ? e.message : String(e) });
      }
    }
    return { adopted, conflicts };
  }

  /** Releases every allocation the selector matches; idempotent (nothing held: returns []). */
  release(sel: ReleaseSelector): Allocation[] {
    const out: Allocation[] = [];
    const held = this.byHolder.get(holderKeyOf(sel));
    if (!held) return out;
    // drop() deletes the current entry of `held` (and `held` itself once empty): Map iteration allows it.
    for (const [a, { entry, key }] of held) {
      if (!matchesSelector(a, sel)) continue;
      this.drop(entry, key, a);
      out.push(a);
    }
    return out.sort(compareAllocations);
  }

  /** Applies a journaled record (replay). Conflicts are kept and reported, never dropped. */
  apply(record: IpamRecord): void {
    if (record.op === 'allocate') {
      for (const a of record.allocations) this.hold(a, record.adopted !== true);
    } else {
      for (const r of record.released) {
        const entry = this.pools.get(r.pool);
        const key = keyOf(r);
        const a = entry?.byKey.get(key);
        if (entry && a && a.address === r.address) this.drop(entry, key, a);
      }
    }
  }

  /**
   * Declares the pools that exist now. Specs are checked first (InvalidPoolError changes nothing).
   * A pool whose spec changed is rebuilt around its allocations; a pool that is gone but holds
   * allocations is kept as orphaned (addresses stay held) and reported.
   */
  setPools(specs: readonly PoolSpec[]): PoolSyncReport {
    for (const s of specs) compilePool(s);
    const names = new Set(specs.map((s) => s.name));
    for (const s of specs) this.ensurePool(s);
    const orphaned: Allocation[] = [];
    for (const [name, entry] of this.pools) {
      if (names.has(name)) continue;
      if (entry.byKey.size === 0) {
        this.pools.delete(name);
        continue;
      }
      if (entry.alloc) {
        const c = entry.alloc.cursor;
        entry.cursor = c === undefined ? undefined : formatIp(entry.alloc.pool.family, c);
      }
      entry.spec = undefined;
      entry.alloc = undefined;
      entry.conflicts.clear();
      orphaned.push(...entry.byKey.values());
    }
    return { orphaned: orphaned.sort(compareAllocations), conflicts: this.conflicts() };
  }

  /** Allocations held (frozen objects), optionally only one pool's; sorted by pool, then address. */
  list(pool?: string): Allocation[] {
    const out: Allocation[] = [];
    if (pool !== undefined) {
      const entry = this.pools.get(pool);
      if (entry) out.push(...entry.byKey.values());
    } else {
      for (const entry of this.pools.values()) out.push(...entry.byKey.values());
    }
    return out.sort(compareAllocations);
  }

  conflicts(): AllocationConflict[] {
    const out: AllocationConflict[] = [];
    for (const entry of this.pools.values()) {
      for (const [key, reason] of entry.conflicts) {
        const a = entry.byKey.get(key);
        if (a) out.push({ allocation: a, reason });
      }
    }
    return out.sort((x, y) => compareAllocations(x.allocation, y.allocation));
  }

  poolStatus(): PoolStatus[] {
    return [...this.pools.values()]
      .map((e) => {
        const cursor = e.alloc ? (e.alloc.cursor === undefined ? undefined : formatIp(e.alloc.pool.family, e.alloc.cursor)) : e.cursor;
        const st: PoolStatus = {
          name: e.name,
          known: e.spec !== undefined,
          allocated: e.byKey.size,
          conflicts: [...e.conflicts].flatMap(([k, reason]) => {
            const a = e.byKey.get(k);
            return a ? [{ allocation: a, reason }] : [];
          }),
        };
        if (e.spec) st.podCIDR = e.spec.podCIDR;
        if (e.alloc) st.usable = e.alloc.pool.usable;
        if (cursor !== undefined) st.cursor = cursor;
        return st;
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get size(): number {
    let n = 0;
    for (const e of this.pools.values()) n += e.byKey.size;
    return n;
  }

  snapshot(): IpamSnapshot {
    const pools = this.poolStatus().map((p) => (p.cursor === undefined ? { name: p.name } : { name: p.name, cursor: p.cursor }));
    return { pools, allocations: this.list() };
  }

  static fromSnapshot(snap: IpamSnapshot): IpamState {
    const st = new IpamState();
    for (const a of snap.allocations) st.hold(a, false);
    for (const p of snap.pools) {
      const entry = st.entry(p.name);
      entry.cursor = p.cursor;
    }
    return st;
  }

  private entry(name: string): PoolEntry {
    let e = this.pools.get(name);
    if (!e) {
      e = { name, byKey: new Map(), conflicts: new Map() };
      this.pools.set(name, e);
    }
    return e;
  }

  /** Records `a` as held; `advance` moves the cursor to it (replaying a fresh allocation). */
  private hold(record: Allocation, advance: boolean): void {
    const a = Object.freeze({ ...record });
    const entry = this.entry(a.pool);
    const key = keyOf(a);
    const prev = entry.byKey.get(key);
    if (prev) this.drop(entry, key, prev);
    this.put(entry, key, a);
    if (entry.alloc) this.takeInto(entry, key, a, advance);
    else if (advance) entry.cursor = a.address;
  }

  private takeInto(entry: PoolEntry, key: string, a: Allocation, advance: boolean): void {
    const alloc = entry.alloc as PoolAllocator;
    try {
      const ip = parseIp(a.address);
      if (ip.family !== alloc.pool.family) throw new Error(`IPv${ip.family} address in an IPv${alloc.pool.family} pool`);
      alloc.take(ip.addr, holderOf(a), advance);
      entry.conflicts.delete(key);
    } catch (e) {
      entry.conflicts.set(key, e instanceof Error ? e.message : String(e));
    }
  }

  /** Records `a` under `key`, which must not be held in `entry` (callers drop or skip a held key first). */
  private put(entry: PoolEntry, key: string, a: Allocation): void {
    entry.byKey.set(key, a);
    const h = holderKeyOf(a);
    let held = this.byHolder.get(h);
    if (!held) {
      held = new Map();
      this.byHolder.set(h, held);
    }
    held.set(a, { entry, key });
  }

  /** Forgets what `key` holds in `entry` (not the address: see drop()). */
  private remove(entry: PoolEntry, key: string): void {
    const a = entry.byKey.get(key);
    if (!a) return;
    entry.byKey.delete(key);
    const h = holderKeyOf(a);
    const held = this.byHolder.get(h);
    if (held?.delete(a) && held.size === 0) this.byHolder.delete(h);
  }

  private drop(entry: PoolEntry, key: string, a: Allocation): void {
    this.remove(entry, key);
    if (entry.conflicts.delete(key)) return;
    if (entry.alloc) {
      const addr = parseIp(a.address).addr;
      if (entry.alloc.holderOf(addr) === holderOf(a)) entry.alloc.release(addr);
    }
  }

  /** The entry for `spec`, (re)building its allocator when the spec is new or changed. */
  private ensurePool(spec: PoolSpec): PoolEntry {
    const entry = this.entry(spec.name);
    if (entry.alloc && entry.spec && sameSpec(entry.spec, spec)) return entry;
    const pool = compilePool(spec);
    let cursor: bigint | undefined;
    const cursorText = entry.alloc ? undefined : entry.cursor;
    if (entry.alloc) cursor = entry.alloc.cursor;
    else if (cursorText !== undefined) {
      try {
        const ip = parseIp(cursorText);
        if (ip.family === pool.family) cursor = ip.addr;
      } catch {
        cursor = undefined;
      }
    }
    if (cursor !== undefined && (cursor < pool.cidr.base || cursor > pool.last)) cursor = undefined;
    entry.spec = spec;
    entry.alloc = new PoolAllocator(pool, cursor);
    entry.cursor = undefined;
    entry.conflicts.clear();
    // Oldest first, so that of two allocations claiming one address the earlier one keeps it.
    for (const [key, a] of entry.byKey) this.takeInto(entry, key, a, false);
    return entry;
  }
}
