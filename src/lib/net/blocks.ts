// Block arithmetic of the address plan (docs/design.md §3.2): candidate blocks by index, the "tabu" rule
// for excludeCIDRs, and the lowest-free-index search. Pure; every search is linear in the indexes
// it hands out (large excludes are jumped over, never walked).
import { containsAddr, familyBits, lastAddress, subnetAt, type Cidr } from './ip.js';

/** Number of indexes `bits` more prefix bits give, capped at 2^53 so it stays a safe integer. */
export function indexCount(bits: number): number {
  return bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits;
}

/**
 * The exclude that makes `block` tabu: one at least as large as the block (prefix <= block prefix)
 * whose range holds the block's network address. Undefined when the block may be used.
 */
export function tabuBy(block: Cidr, excludes: readonly Cidr[]): Cidr | undefined {
  for (const e of excludes) {
    if (e.prefix <= block.prefix && containsAddr(e, block.family, block.base)) return e;
  }
  return undefined;
}

/**
 * The lowest index >= `from` whose block (`parent` split by `bits`) is neither in `used` nor tabu,
 * or -1 when none is left below 2^bits. Tabu runs are skipped in one step.
 */
export function lowestFreeIndex(parent: Cidr, bits: number, from: number, used: ReadonlySet<number>, excludes: readonly Cidr[]): number {
  const max = indexCount(bits);
  let i = from;
  if (excludes.length === 0) {
    // Nothing is tabu: no block to compute (a planner calls this once per host per NIC network).
    while (i < max && used.has(i)) i++;
    return i < max ? i : -1;
  }
  const shift = BigInt(familyBits(parent.family) - parent.prefix - bits);
  while (i < max) {
    if (used.has(i)) {
      i++;
      continue;
    }
    const ex = tabuBy(subnetAt(parent, bits, i), excludes);
    if (!ex) return i;
    const next = (lastAddress(ex) + 1n - parent.base) >> shift;
    i = next > BigInt(max) ? max : Math.max(Number(next), i + 1);
  }
  return -1;
}

/** How many of the 2^interfaceBlock interface blocks are usable, counting at most up to `enough`. */
export function interfaceIndexCapacity(subnet: Cidr, interfaceBlock: number, excludes: readonly Cidr[], enough: number): number {
  let n = 0;
  let i = 0;
  const none = new Set<number>();
  while (n < enough) {
    i = lowestFreeIndex(subnet, interfaceBlock, i, none, excludes);
    if (i < 0) break;
    n++;
    i++;
  }
  return n;
}
