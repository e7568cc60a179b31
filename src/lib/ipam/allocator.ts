// The pure address allocator of one pool (docs/conventions.md §5): a compiled PoolSpec, an occupancy index and a
// round-robin cursor. No I/O; the durable store (src/agent/ipam) and the test fake drive it.
//
// Upstream allocated "next after the highest" and lost the second-to-last address of every block
// (usable = 2^bits - 3) and keyed its anti-reuse offset by pod name (reference §3.4, §4.5). Here:
// usable = block minus network (and broadcast for IPv4) minus excludes minus reserved; the next
// address is the lowest free one after the cursor (the last address handed out), wrapping to the
// lowest free one, so a freed address is not reused until the pool has gone round once.
import { ExitCode, UserError } from '../errors.js';
import {
  AddressParseError,
  type Cidr,
  type Family,
  containsCidr,
  formatCidr,
  formatIp,
  lastAddress,
  parseCidr,
  parseIp,
  usableRange,
} from '../net/ip.js';
import type { PoolSpec } from './types.js';

/** No free address is left in the pool. Maps to the agent error code `PoolExhausted`. */
export class PoolExhaustedError extends UserError {
  readonly code = 'PoolExhausted';
  constructor(
    readonly pool: string,
    readonly podCIDR: string,
    /** Usable addresses of the pool (block minus network/broadcast, excludes and reserved). */
    readonly usable: bigint,
  ) {
    super(
      usable === 0n
        ? `IP pool "${pool}" (${podCIDR}) has no usable addresses: the block holds only its network/broadcast, excluded or reserved addresses`
        : `IP pool "${pool}" (${podCIDR}) is exhausted: all ${usable} usable addresses are allocated`,
      {
      hint:
        'find addresses still held for deleted pods with kubectl multinic ipam check (the agent releases them after its --gc-grace), or give hosts bigger pod ' +
        'blocks (a smaller hostBlock in the MultiNicNetwork ipam config)',
      exitCode: ExitCode.Problems,
      },
    );
    this.name = 'PoolExhaustedError';
  }
}

/** The address is held by another allocation. */
export class AlreadyAllocatedError extends UserError {
  readonly code = 'InvalidRequest';
  constructor(
    readonly pool: string,
    readonly address: string,
    /** Who holds it, as the caller described the holder. */
    readonly holder: string,
  ) {
    super(`address ${address} in IP pool "${pool}" is already allocated to ${holder}`);
    this.name = 'AlreadyAllocatedError';
  }
}

/** The address cannot be handed out from this pool: outside the block, network/broadcast, excluded or reserved. */
export class NotInRangeError extends UserError {
  readonly code = 'InvalidRequest';
  constructor(
    readonly pool: string,
    readonly address: string,
    readonly podCIDR: string,
    readonly reason: string,
  ) {
    super(`address ${address} is not allocatable in IP pool "${pool}" (${podCIDR}): ${reason}`);
    this.name = 'NotInRangeError';
  }
}

/** A PoolSpec that cannot describe a pool (bad CIDR text, block outside its vlanCIDR, ...). */
export class InvalidPoolError extends UserError {
  readonly code = 'InvalidRequest';
  constructor(
    readonly pool: string,
    reason: string,
  ) {
    super(`IP pool "${pool}" is invalid: ${reason}`, {
      hint: 'the pool comes from the CIDR resource of its network; re-run `kubectl multinic plan` and apply it',
    });
    this.name = 'InvalidPoolError';
  }
}

/** A PoolSpec parsed and checked once; addresses are absolute bigints. */
export interface CompiledPool {
  readonly spec: PoolSpec;
  readonly family: Family;
  readonly cidr: Cidr;
  /** Last address of the block (broadcast for IPv4). */
  readonly end: bigint;
  /** First and last address that may ever be handed out (network/broadcast removed). */
  readonly first: bigint;
  readonly last: bigint;
  /** Excluded and reserved addresses inside [first, last], sorted, merged, inclusive ranges. */
  readonly blocked: ReadonlyArray<readonly [bigint, bigint]>;
  /** Addresses that can be handed out: last - first + 1 minus the blocked ones. */
  readonly usable: bigint;
}

function parseExclude(pool: string, text: string): Cidr {
  try {
    if (text.includes('/')) return parseCidr(text, { strict: false });
    const ip = parseIp(text);
    return { family: ip.family, base: ip.addr, prefix: ip.family === 4 ? 32 : 128 };
  } catch (e) {
    if (e instanceof AddressParseError) throw new InvalidPoolError(pool, `exclude ${e.message}`);
    throw e;
  }
}

/**
 * Parses and checks a PoolSpec. Excludes are clipped to the block and those outside it ignored
 * (a network's excludeCIDRs may be passed whole); a missing prefix means one address. Reserved
 * addresses must lie inside the block.
 */
export function compilePool(spec: PoolSpec): CompiledPool {
  let cidr: Cidr;
  try {
    cidr = parseCidr(spec.podCIDR);
  } catch (e) {
    throw new InvalidPoolError(spec.name, `podCIDR ${e instanceof Error ? e.message : String(e)}`);
  }
  if (spec.vlanCIDR) {
    let vlan: Cidr;
    try {
      vlan = parseCidr(spec.vlanCIDR, { strict: false });
    } catch (e) {
      throw new InvalidPoolError(spec.name, `vlanCIDR ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!containsCidr(vlan, cidr)) {
      throw new InvalidPoolError(spec.name, `podCIDR ${spec.podCIDR} is not inside vlanCIDR ${spec.vlanCIDR}`);
    }
  }
  const range = usableRange(cidr);
  const ranges: Array<[bigint, bigint]> = [];
  for (const ex of spec.excludes) {
    const c = parseExclude(spec.name, ex);
    if (c.family !== cidr.family) {
      throw new InvalidPoolError(spec.name, `exclude ${ex} is IPv${c.family} but the pool is IPv${cidr.family}`);
    }
    const lo = c.base > range.first ? c.base : range.first;
    const end = lastAddress(c);
    const hi = end < range.last ? end : range.last;
    if (lo <= hi) ranges.push([lo, hi]);
  }
  for (const r of spec.reserved) {
    let ip: { family: Family; addr: bigint };
    try {
      ip = parseIp(r);
    } catch (e) {
      throw new InvalidPoolError(spec.name, `reserved ${e instanceof Error ? e.message : String(e)}`);
    }
    if (ip.family !== cidr.family || ip.addr < cidr.base || ip.addr > lastAddress(cidr)) {
      throw new InvalidPoolError(spec.name, `reserved address ${r} is outside the pod block ${spec.podCIDR}`);
    }
    if (ip.addr >= range.first && ip.addr <= range.last) ranges.push([ip.addr, ip.addr]);
  }
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const blocked: Array<[bigint, bigint]> = [];
  for (const r of ranges) {
    const prev = blocked[blocked.length - 1];
    if (prev && r[0] <= prev[1] + 1n) {
      if (r[1] > prev[1]) prev[1] = r[1];
    } else blocked.push([r[0], r[1]]);
  }
  let blockedCount = 0n;
  for (const [lo, hi] of blocked) blockedCount += hi - lo + 1n;
  return { spec, family: cidr.family, cidr, end: lastAddress(cidr), first: range.first, last: range.last, blocked, usable: range.count - blockedCount };
}

/** Index of the blocked range containing `addr`, or -1 (binary search). */
function blockedAt(blocked: ReadonlyArray<readonly [bigint, bigint]>, addr: bigint): number {
  let lo = 0;
  let hi = blocked.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = blocked[mid] as readonly [bigint, bigint];
    if (addr < r[0]) hi = mid - 1;
    else if (addr > r[1]) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Which addresses are taken (allocated or blocked); finds the lowest clear one in a range. */
interface Occupancy {
  set(addr: bigint): void;
  clear(addr: bigint): void;
  /** Lowest address in [from, to] that is neither blocked nor allocated. */
  nextClear(from: bigint, to: bigint): bigint | undefined;
}

/**
 * A bitmap over the block, blocked addresses pre-set: finding the next free address skips 32
 * taken addresses per step. Used for blocks up to BITMAP_MAX addresses (every IPv4 pod block in
 * practice: a /8 is 2 MiB).
 */
class BitmapOccupancy implements Occupancy {
  private readonly words: Uint32Array;
  constructor(private readonly pool: CompiledPool) {
    const size = Number(pool.end - pool.cidr.base + 1n);
    this.words = new Uint32Array(Math.ceil(size / 32));
    for (const [lo, hi] of pool.blocked) {
      for (let a = lo; a <= hi; a++) this.set(a);
    }
  }
  set(addr: bigint): void {
    const i = Number(addr - this.pool.cidr.base);
    this.words[i >>> 5] = (this.words[i >>> 5] as number) | (1 << (i & 31));
  }
  clear(addr: bigint): void {
    const i = Number(addr - this.pool.cidr.base);
    this.words[i >>> 5] = (this.words[i >>> 5] as number) & ~(1 << (i & 31));
  }
  nextClear(from: bigint, to: bigint): bigint | undefined {
    if (from > to) return undefined;
    const base = this.pool.cidr.base;
    let i = Number(from - base);
    const end = Number(to - base);
    while (i <= end) {
      const w = this.words[i >>> 5] as number;
      if (w === 0xffffffff) {
        i = (i | 31) + 1;
        continue;
      }
      if ((w & (1 << (i & 31))) === 0) return base + BigInt(i);
      i++;
    }
    return undefined;
  }
}

/**
 * A set of allocated addresses plus the sorted blocked ranges, probed from the cursor: for blocks
 * too large for a bitmap (IPv6 /64). Probing skips blocked ranges in one step and walks allocated
 * addresses one by one, so a step costs at most the number of allocations, never the block size.
 */
class SparseOccupancy implements Occupancy {
  /** `used` is the allocator's holder map itself: one bigint-keyed structure, not two. */
  constructor(
    private readonly pool: CompiledPool,
    private readonly used: ReadonlyMap<bigint, unknown>,
  ) {}
  set(): void {}
  clear(): void {}
  nextClear(from: bigint, to: bigint): bigint | undefined {
    let a = from;
    while (a <= to) {
      const b = blockedAt(this.pool.blocked, a);
      if (b >= 0) {
        a = (this.pool.blocked[b] as readonly [bigint, bigint])[1] + 1n;
        continue;
      }
      if (!this.used.has(a)) return a;
      a++;
    }
    return undefined;
  }
}

/** Blocks with at most this many addresses use a bitmap (2^24 addresses = 2 MiB). */
export const BITMAP_MAX = 1n << 24n;

/**
 * One pool's occupancy and cursor. Mutable but pure (no I/O). `holder` strings only label errors.
 * Not safe for interleaved async use: callers mutate it synchronously (the store serialises).
 */
export class PoolAllocator {
  private readonly occ: Occupancy;
  private readonly holders = new Map<bigint, string>();
  private cursorAddr: bigint | undefined;

  constructor(
    readonly pool: CompiledPool,
    cursor?: bigint,
  ) {
    this.occ = pool.end - pool.cidr.base + 1n <= BITMAP_MAX ? new BitmapOccupancy(pool) : new SparseOccupancy(pool, this.holders);
    this.cursorAddr = cursor;
  }

  /** The last address handed out (round-robin position), if any. */
  get cursor(): bigint | undefined {
    return this.cursorAddr;
  }
  set cursor(addr: bigint | undefined) {
    this.cursorAddr = addr;
  }

  get allocated(): number {
    return this.holders.size;
  }

  get free(): bigint {
    return this.pool.usable - BigInt(this.holders.size);
  }

  holderOf(addr: bigint): string | undefined {
    return this.holders.get(addr);
  }

  /** Why `addr` can never be handed out from this pool, or undefined when it can. */
  whyNotAllocatable(addr: bigint): string | undefined {
    const { cidr, end, first, last } = this.pool;
    if (addr < cidr.base || addr > end) return 'outside the pod block';
    if (addr < first) return 'it is the network address';
    if (addr > last) return 'it is the broadcast address';
    if (blockedAt(this.pool.blocked, addr) >= 0) return 'it is excluded or reserved';
    return undefined;
  }

  /**
   * The next address to hand out, without taking it: the lowest free address after the cursor,
   * else the lowest free address of the pool. Throws PoolExhaustedError.
   */
  next(): bigint {
    const { first, last } = this.pool;
    if (this.free > 0n) {
      const c = this.cursorAddr;
      const start = c !== undefined && c >= first && c < last ? c + 1n : first;
      const found = this.occ.nextClear(start, last) ?? (start > first ? this.occ.nextClear(first, start - 1n) : undefined);
      if (found !== undefined) return found;
    }
    throw new PoolExhaustedError(this.pool.spec.name, this.pool.spec.podCIDR, this.pool.usable);
  }

  /**
   * Marks `addr` allocated to `holder`; with `advance` the cursor moves to it (a fresh allocation,
   * or replaying one). Throws NotInRangeError or AlreadyAllocatedError and then changes nothing.
   */
  take(addr: bigint, holder: string, advance = true): void {
    const why = this.whyNotAllocatable(addr);
    if (why) throw new NotInRangeError(this.pool.spec.name, formatIp(this.pool.family, addr), formatCidr(this.pool.cidr), why);
    const current = this.holders.get(addr);
    if (current !== undefined && current !== holder) {
      throw new AlreadyAllocatedError(this.pool.spec.name, formatIp(this.pool.family, addr), current);
    }
    this.holders.set(addr, holder);
    this.occ.set(addr);
    if (advance) this.cursorAddr = addr;
  }

  /** Frees `addr`; false when it was not allocated. The cursor does not move. */
  release(addr: bigint): boolean {
    if (!this.holders.delete(addr)) return false;
    this.occ.clear(addr);
    return true;
  }
}

/**
 * The pure allocator as one function over a snapshot: the address the pool hands out next given
 * the addresses allocated now and the cursor (the last address handed out). Throws
 * PoolExhaustedError, InvalidPoolError, or NotInRangeError for an allocated address the pool
 * cannot hold.
 */
export function nextAddress(spec: PoolSpec, allocated: readonly string[], cursor?: string): string {
  const pool = compilePool(spec);
  const parse = (text: string): bigint => {
    try {
      const ip = parseIp(text);
      if (ip.family === pool.family) return ip.addr;
    } catch {
      // reported below
    }
    throw new NotInRangeError(spec.name, text, spec.podCIDR, 'not an IPv' + pool.family + ' address');
  };
  const a = new PoolAllocator(pool, cursor === undefined ? undefined : parse(cursor));
  for (const addr of allocated) a.take(parse(addr), addr, false);
  return formatIp(pool.family, a.next());
}
