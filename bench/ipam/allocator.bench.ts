// Cost of picking the next address in big pools, against a baseline run side by side: the naive
// allocator (probe every address after the cursor against a Set of allocated ones), which is what
// "next free after the cursor" costs without an index. Run: bash bench/ipam/run.sh allocator [rounds]
import { PoolAllocator, compilePool } from '../../src/lib/ipam/allocator.js';
import type { PoolSpec } from '../../src/lib/ipam/types.js';

const spec = (podCIDR: string): PoolSpec => ({ name: 'b', network: 'b', hostName: 'h', interfaceName: 'eth1', podCIDR, vlanCIDR: podCIDR, excludes: [], reserved: [] });

/** Naive: a Set of allocated addresses, probe one by one from the cursor, wrapping once. */
class Naive {
  readonly used = new Set<bigint>();
  cursor: bigint | undefined;
  constructor(
    readonly first: bigint,
    readonly last: bigint,
  ) {}
  next(): bigint {
    const start = this.cursor !== undefined && this.cursor < this.last ? this.cursor + 1n : this.first;
    for (let a = start; a <= this.last; a++) if (!this.used.has(a)) return a;
    for (let a = this.first; a < start; a++) if (!this.used.has(a)) return a;
    throw new Error('exhausted');
  }
}

/**
 * Scenario: a pool filled to `fill` addresses, then `ops` rounds of "release a random held address,
 * allocate the next" (pod churn in a busy pool). Returns ops/s.
 */
function churn(kind: 'index' | 'naive', podCIDR: string, fill: number, ops: number): number {
  const pool = compilePool(spec(podCIDR));
  const a = new PoolAllocator(pool);
  const n = new Naive(pool.first, pool.last);
  const held: bigint[] = [];
  for (let i = 0; i < fill; i++) {
    const x = a.next();
    a.take(x, 'h');
    n.used.add(x);
    n.cursor = x;
    held.push(x);
  }
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) {
    const k = Math.floor(rnd() * held.length);
    const victim = held[k] as bigint;
    let x: bigint;
    if (kind === 'index') {
      a.release(victim);
      x = a.next();
      a.take(x, 'h');
    } else {
      n.used.delete(victim);
      x = n.next();
      n.used.add(x);
      n.cursor = x;
    }
    held[k] = x;
  }
  return ops / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const scenarios: Array<[string, string, number, number]> = [
  ['IPv4 /24, 250 of 254 held', '10.0.0.0/24', 250, 50_000],
  ['IPv4 /16, 65,000 of 65,534 held', '10.0.0.0/16', 65_000, 2_000],
  ['IPv6 /64, 20,000 held', 'fd00::/64', 20_000, 20_000],
];
const ROUNDS = Number(process.argv[2] ?? 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(`IPAM allocator bench: pod churn (release one, allocate next) in a full pool; index vs naive probe, alternating, median of ${ROUNDS}`);
for (const [name, cidr, fill, ops] of scenarios) {
  churn('naive', cidr, fill, ops); // warm-up for the JIT, both kinds
  churn('index', cidr, fill, ops);
  const naive: number[] = [];
  const index: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    naive.push(churn('naive', cidr, fill, ops));
    index.push(churn('index', cidr, fill, ops));
  }
  const [n, i] = [median(naive), median(index)];
  console.log(`${name.padEnd(34)} naive ${n.toFixed(0).padStart(9)} ops/s  index ${i.toFixed(0).padStart(9)} ops/s  ratio ${(i / n).toFixed(1)}x`);
}
