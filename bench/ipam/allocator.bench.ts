// Cost of picking the next address in big pools, against a baseline run side by side: the naive
// allocator (probe every address after the cursor against a Set of allocated ones), which is what
// "next free after the cursor" costs without an index. Then the cost of a mass release (node
// drain: every NIC of every pod released one call at a time) through IpamState, against the
// brute-force scan it replaced, side by side. Run: bash bench/ipam/run.sh allocator [rounds]
import { loadavg } from 'node:os';
import { PoolAllocator, compilePool } from '../../src/lib/ipam/allocator.js';
import { IpamState, matchesSelector, type ReleaseSelector } from '../../src/lib/ipam/state.js';
import { parseIp } from '../../src/lib/net/ip.js';
import type { Allocation, AllocationKey, PoolSpec } from '../../src/lib/ipam/types.js';

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
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`IPAM allocator bench: node ${process.version}, load ${load()}`);
console.log(`pod churn (release one, allocate next) in a full pool; index vs naive probe, alternating, median of ${ROUNDS}`);
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

// --- Mass release -------------------------------------------------------------------------------

const keyOf = (k: AllocationKey): string => `${k.podUID}\u0000${k.containerID}\u0000${k.interface}`;
const holderOf = (a: Allocation): string => `pod ${a.namespace}/${a.podName} (uid ${a.podUID}, container ${a.containerID}, ${a.interface})`;
const byPoolThenAddress = (a: Allocation, b: Allocation): number => (a.pool !== b.pool ? (a.pool < b.pool ? -1 : 1) : a.index - b.index);

/**
 * Baseline: IpamState.release as it was before the holder index: per pool a Map key -> allocation
 * and an allocator; a release scans every allocation of every pool against the selector, drops the
 * matches (address freed when this key holds it) and sorts them.
 */
class ScanState {
  readonly pools = new Map<string, { byKey: Map<string, Allocation>; alloc: PoolAllocator }>();
  /** Holds `a` itself (pass IpamState's frozen allocations: the same object shape as before). */
  hold(spec: PoolSpec, a: Allocation): void {
    let e = this.pools.get(spec.name);
    if (!e) this.pools.set(spec.name, (e = { byKey: new Map(), alloc: new PoolAllocator(compilePool(spec)) }));
    e.alloc.take(parseIp(a.address).addr, holderOf(a), false);
    e.byKey.set(keyOf(a), a);
  }
  release(sel: ReleaseSelector): Allocation[] {
    const out: Allocation[] = [];
    for (const e of this.pools.values()) {
      for (const [key, a] of e.byKey) {
        if (!matchesSelector(a, sel)) continue;
        e.byKey.delete(key);
        const addr = parseIp(a.address).addr;
        if (e.alloc.holderOf(addr) === holderOf(a)) e.alloc.release(addr);
        out.push(a);
      }
    }
    return out.sort(byPoolThenAddress);
  }
}

/** `pods` pods x 4 NICs (net1-0, net1-1 on network a; net2-0, net2-1 on b), one /20 per NIC. */
function drainSpecs(): PoolSpec[] {
  return [0, 1, 2, 3].map((i) => ({ ...spec(`10.${50 + i}.0.0/20`), name: `drain-${i}`, network: i % 2 === 0 ? 'a' : 'b' }));
}
const nic = (i: number): string => `net${(i % 2) + 1}-${i >> 1}`;

/**
 * Every NIC of every pod released one call at a time, as the agent's GC does (selector = the
 * allocation's own interface and network), in a random pod order. Returns releases/s; checks that
 * everything was released exactly once.
 */
function drain(kind: 'index' | 'scan', pods: number): number {
  const specs = drainSpecs();
  const st = new IpamState();
  const scan = new ScanState();
  const sels: ReleaseSelector[] = [];
  for (let p = 0; p < pods; p++) {
    const key = (i: number): AllocationKey => ({ podUID: `uid-${p}`, containerID: `containerd://${p}`, interface: nic(i) });
    // Both kinds allocate through IpamState; the scan holds the very same allocation objects.
    const { allocations } = st.allocate(specs.map((s, i) => ({ pool: s, key: key(i), podName: `pod-${p}`, namespace: 'default' })));
    if (kind === 'scan') allocations.forEach((a, i) => scan.hold(specs[i] as PoolSpec, a));
    specs.forEach((s, i) => sels.push({ podUID: `uid-${p}`, containerID: `containerd://${p}`, ifPrefix: nic(i), network: s.network }));
  }
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = sels.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [sels[i], sels[j]] = [sels[j] as ReleaseSelector, sels[i] as ReleaseSelector];
  }
  let released = 0;
  const t0 = process.hrtime.bigint();
  if (kind === 'index') for (const sel of sels) released += st.release(sel).length;
  else for (const sel of sels) released += scan.release(sel).length;
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  if (released !== sels.length) throw new Error(`${kind}: released ${released} of ${sels.length}`);
  return sels.length / sec;
}

console.log(`mass release (node drain): pods x 4 NICs held, each NIC released by its own call in random order; holder index vs brute-force scan, alternating, median of ${ROUNDS}`);
for (const pods of [250, 1000, 2000]) {
  drain('scan', pods); // warm-up, both kinds
  drain('index', pods);
  const scan: number[] = [];
  const index: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    scan.push(drain('scan', pods));
    index.push(drain('index', pods));
  }
  const [s, i] = [median(scan), median(index)];
  const n = pods * 4;
  const ms = (rate: number) => `${((n / rate) * 1e3).toFixed(1).padStart(7)} ms`;
  console.log(
    `${`${n.toLocaleString('en')} allocations (${pods} pods x 4)`.padEnd(34)} scan ${s.toFixed(0).padStart(9)} rel/s ${ms(s)}  index ${i.toFixed(0).padStart(9)} rel/s ${ms(i)}  ratio ${(i / s).toFixed(1)}x`,
  );
}
console.log(`load ${load()} at the end`);
