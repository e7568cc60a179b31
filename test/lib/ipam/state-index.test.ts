// IpamState keeps its allocations in two places: per pool by key (byKey) and, for release(), by
// holder (podUID + containerID). These tests check that the holder index and a brute-force scan
// of everything held agree, after any sequence of allocate, release, adopt, setPools, compaction
// (snapshot) and restart (restore from snapshot + journal replay).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PoolExhaustedError } from '../../../src/lib/ipam/allocator.js';
import { IpamState, matchesSelector, type IpamRecord, type IpamSnapshot, type ReleaseSelector } from '../../../src/lib/ipam/state.js';
import type { AllocateItem, Allocation, PoolSpec } from '../../../src/lib/ipam/types.js';

const spec = (name: string, network: string, podCIDR: string, extra: Partial<PoolSpec> = {}): PoolSpec => ({
  name,
  network,
  hostName: 'h',
  interfaceName: 'eth1',
  podCIDR,
  vlanCIDR: podCIDR,
  excludes: [],
  reserved: [],
  ...extra,
});
const poolA = spec('a', 'net-a', '10.0.0.0/29'); // 6 usable
const poolB = spec('b', 'net-a', '10.0.1.0/30'); // 2 usable
const poolC = spec('c', 'net-b', '10.0.2.0/29');
const pools = [poolA, poolB, poolC];
/** setPools variants: all, a pool gone (orphans), a spec that cannot hold .1/.2 (conflicts), nothing. */
const poolSets: PoolSpec[][] = [
  pools,
  [poolA, poolC],
  [{ ...poolA, reserved: ['10.0.0.1'], excludes: ['10.0.0.2/32'] }, poolB, poolC],
  [poolB],
  [],
];
const uids = ['u0', 'u1', 'u2', 'u3'];
const cids = ['c', 'd'];
const ifaces = ['net1', 'net1-0', 'net1-1', 'net10-0', 'net2-0'];
const prefixes = [undefined, '', 'net1', 'net1-', 'net10', 'net1-0', 'net', 'net2'];
const networks = [undefined, 'net-a', 'net-b', 'nope'];

const item = (pool: PoolSpec, uid: string, cid: string, iface: string): AllocateItem => ({
  pool,
  key: { podUID: uid, containerID: cid, interface: iface },
  podName: `pod-${uid}`,
  namespace: 'default',
});

/** The brute-force answer: scan everything held. */
const scan = (st: IpamState, sel: ReleaseSelector): Allocation[] => st.list().filter((a) => matchesSelector(a, sel));

/**
 * Rebuilds the holder index from the per-pool maps by brute force and compares it with the live
 * one (private fields, read with bracket access): same holders, same allocations (by identity)
 * pointing at their own pool entry and key, no empty holder left behind, and within one pool the
 * holder's allocations in byKey order (release() relies on it for allocations that sort equal).
 */
function expectIndexMatchesScan(st: IpamState): void {
  const byPools = st['pools'];
  const byHolder = st['byHolder'];
  const expected = new Map<string, Allocation[]>();
  for (const entry of byPools.values()) {
    for (const a of entry.byKey.values()) {
      const h = `${a.podUID}\u0000${a.containerID}`;
      expected.set(h, [...(expected.get(h) ?? []), a]);
    }
  }
  expect([...byHolder.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [h, want] of expected) {
    const held = byHolder.get(h);
    expect(held?.size).toBe(want.length);
    for (const a of want) {
      const at = held?.get(a);
      expect(at, `${h} ${a.pool} ${a.interface} indexed`).toBeDefined();
      expect(at?.entry).toBe(byPools.get(a.pool));
      expect(at?.entry.byKey.get(at.key)).toBe(a);
    }
    const order = (xs: Iterable<Allocation>) => [...xs].map((a) => `${a.pool}/${a.interface}`);
    for (const entry of byPools.values()) {
      const inPool = (a: Allocation) => a.pool === entry.name;
      expect(order([...(held?.keys() ?? [])].filter(inPool))).toEqual(order(want.filter(inPool)));
    }
  }
}

type Op =
  | { kind: 'alloc'; uid: number; cid: number; items: Array<{ pool: number; iface: number }> }
  | { kind: 'release'; uid: number; cid: number; prefix: number; network: number }
  | { kind: 'adopt'; list: Array<{ uid: number; cid: number; iface: number; pool: number; offset: number }> }
  | { kind: 'apply'; op: 'allocate' | 'adopted' | 'release'; list: Array<{ uid: number; cid: number; iface: number; pool: number; offset: number }> }
  | { kind: 'setPools'; set: number }
  | { kind: 'compact' }
  | { kind: 'restart' };

const uidArb = fc.integer({ min: 0, max: uids.length - 1 });
const cidArb = fc.integer({ min: 0, max: cids.length - 1 });
/** An allocation described from outside; `offset` 0 is the network address, 7+ broadcast or outside a /29. */
const foreignArb = fc.record({
  uid: uidArb,
  cid: cidArb,
  iface: fc.integer({ min: 0, max: ifaces.length - 1 }),
  pool: fc.integer({ min: 0, max: pools.length }), // pools.length: a pool this node does not have
  offset: fc.integer({ min: 0, max: 9 }),
});
const foreign = (x: { uid: number; cid: number; iface: number; pool: number; offset: number }): Allocation => {
  const p = pools[x.pool];
  return {
    podUID: uids[x.uid] as string,
    containerID: cids[x.cid] as string,
    interface: ifaces[x.iface] as string,
    pool: p?.name ?? 'nope',
    network: p?.network ?? 'net-a',
    address: `10.0.${p ? Number(p.podCIDR.split('.')[2]) : 9}.${x.offset}`,
    index: x.offset,
    podName: `pod-${x.uid}`,
    namespace: 'default',
  };
};
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      uid: uidArb,
      cid: cidArb,
      items: fc.array(fc.record({ pool: fc.integer({ min: 0, max: pools.length - 1 }), iface: fc.integer({ min: 0, max: ifaces.length - 1 }) }), { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      uid: uidArb,
      cid: cidArb,
      prefix: fc.integer({ min: 0, max: prefixes.length - 1 }),
      network: fc.integer({ min: 0, max: networks.length - 1 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('adopt' as const), list: fc.array(foreignArb, { maxLength: 4 }) }) },
  // A record from elsewhere (another agent's journal, an edited one): may hold an address twice.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('apply' as const), op: fc.constantFrom('allocate' as const, 'adopted' as const, 'release' as const), list: fc.array(foreignArb, { maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('setPools' as const), set: fc.integer({ min: 0, max: poolSets.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
);

/** What a replayed store does at start: snapshot, then the journal, then the pools of the day. */
function restore(snap: IpamSnapshot | undefined, journal: readonly IpamRecord[], specs: readonly PoolSpec[]): IpamState {
  const st = snap ? IpamState.fromSnapshot(JSON.parse(JSON.stringify(snap)) as IpamSnapshot) : new IpamState();
  for (const r of journal) st.apply(JSON.parse(JSON.stringify(r)) as IpamRecord);
  st.setPools(specs);
  return st;
}

const sorted = (xs: Allocation[]) => xs.map((a) => `${a.pool}/${a.podUID}/${a.containerID}/${a.interface}/${a.address}`).sort();

describe('IpamState holder index', () => {
  it('agrees with a brute-force scan after any sequence of operations, restarts included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: poolSets.length - 1 }), fc.array(opArb, { maxLength: 60 }), (firstSet, ops) => {
        let specs = poolSets[firstSet] as PoolSpec[];
        let st = new IpamState();
        st.setPools(specs);
        let snap: IpamSnapshot | undefined;
        let journal: IpamRecord[] = [];
        for (const o of ops) {
          switch (o.kind) {
            case 'alloc': {
              const uid = uids[o.uid] as string;
              const cid = cids[o.cid] as string;
              const items = o.items.map((i) => item(pools[i.pool] as PoolSpec, uid, cid, ifaces[i.iface] as string));
              const before = st.list();
              try {
                const { fresh } = st.allocate(items);
                if (fresh.length) journal.push({ op: 'allocate', allocations: fresh });
              } catch (e) {
                expect(e).toBeInstanceOf(PoolExhaustedError);
                expect(st.list()).toEqual(before);
              }
              // allocate() registers its pools' specs, as the agent's setPools would.
              break;
            }
            case 'release': {
              const sel: ReleaseSelector = { podUID: uids[o.uid] as string, containerID: cids[o.cid] as string };
              const prefix = prefixes[o.prefix];
              const network = networks[o.network];
              if (prefix !== undefined) sel.ifPrefix = prefix;
              if (network !== undefined) sel.network = network;
              const before = st.list();
              const want = scan(st, sel);
              const got = st.release(sel);
              // Same allocations (the held objects themselves), in the same order.
              expect(got.length).toBe(want.length);
              got.forEach((a, i) => expect(a).toBe(want[i]));
              expect(st.list()).toEqual(before.filter((a) => !want.includes(a)));
              if (got.length) journal.push({ op: 'release', released: got.map((a) => ({ pool: a.pool, podUID: a.podUID, containerID: a.containerID, interface: a.interface, address: a.address })) });
              break;
            }
            case 'adopt': {
              const { adopted } = st.adopt(o.list.map(foreign));
              if (adopted.length) journal.push({ op: 'allocate', allocations: adopted, adopted: true });
              break;
            }
            case 'apply': {
              const list = o.list.map(foreign);
              const rec: IpamRecord = o.op === 'release' ? { op: 'release', released: list } : { op: 'allocate', allocations: list, adopted: o.op === 'adopted' };
              st.apply(rec);
              journal.push(rec);
              break;
            }
            case 'setPools':
              specs = poolSets[o.set] as PoolSpec[];
              st.setPools(specs);
              break;
            case 'compact':
              snap = st.snapshot();
              journal = [];
              break;
            case 'restart': {
              const before = sorted(st.list());
              st = restore(snap, journal, specs);
              expect(sorted(st.list())).toEqual(before);
              break;
            }
          }
          expectIndexMatchesScan(st);
        }
        // Drain: every possible holder, no filter; each answer is what a scan finds, and nothing is left.
        for (const podUID of uids) {
          for (const containerID of cids) {
            const sel = { podUID, containerID };
            const want = scan(st, sel);
            expect(st.release(sel)).toEqual(want);
            expectIndexMatchesScan(st);
          }
        }
        expect(st.list()).toEqual([]);
        expect(st['byHolder'].size).toBe(0);
      }),
      { numRuns: 400 },
    );
  });

  it('mass release one key at a time (4 NICs x 500 pods) answers like a scan and leaves the index empty', () => {
    // NIC i is net<1|2>-<i/2>: net1-* on network net-a, net2-* on net-b, two pools each.
    const big = [0, 1, 2, 3].map((i) => spec(`big-${i}`, i % 2 === 0 ? 'net-a' : 'net-b', `10.${10 + i}.0.0/22`));
    const st = new IpamState();
    for (let p = 0; p < 500; p++) st.allocate(big.map((s, i) => item(s, `p${p}`, `c${p}`, `net${(i % 2) + 1}-${i >> 1}`)));
    expect(st.size).toBe(2000);
    const snapBefore = IpamState.fromSnapshot(st.snapshot());
    // Released the way the agent does: per pod and network (CNI DEL), with `net1-` style prefixes.
    for (let p = 0; p < 500; p++) {
      for (const [network, ifPrefix] of [['net-a', 'net1-'], ['net-b', 'net2-']] as const) {
        const sel = { podUID: `p${p}`, containerID: `c${p}`, ifPrefix, network };
        const want = scan(st, sel);
        expect(want).toHaveLength(2);
        expect(st.release(sel)).toEqual(want);
      }
    }
    expect(st.size).toBe(0);
    expect(st['byHolder'].size).toBe(0);
    // The restored copy releases the same way (index rebuilt by fromSnapshot).
    for (let p = 0; p < 500; p++) {
      for (const a of scan(snapBefore, { podUID: `p${p}`, containerID: `c${p}` })) {
        expect(snapBefore.release({ podUID: a.podUID, containerID: a.containerID, ifPrefix: a.interface, network: a.network })).toEqual([a]);
      }
    }
    expect(snapBefore.size).toBe(0);
    expectIndexMatchesScan(snapBefore);
  });

  it('allocations of one holder that sort equal (a replayed conflict) come back in the order they were recorded', () => {
    const rec = (iface: string): Allocation => ({ podUID: 'u', containerID: 'c', interface: iface, pool: poolA.name, network: 'net-a', address: '10.0.0.1', index: 1, podName: 'p', namespace: 'default' });
    for (const order of [['net1-0', 'net1-1', 'net1-2'], ['net1-2', 'net1-0', 'net1-1']]) {
      const st = new IpamState();
      st.setPools([poolA]);
      for (const i of order) st.apply({ op: 'allocate', allocations: [rec(i)] });
      expect(st.conflicts()).toHaveLength(2);
      expect(st.release({ podUID: 'u', containerID: 'c', ifPrefix: 'net1' }).map((a) => a.interface)).toEqual(order);
      expect(st.list()).toEqual([]);
      expectIndexMatchesScan(st);
    }
    // Re-recording a held key (replay of the same key) moves it last, in byKey and in the index.
    const st = new IpamState();
    for (const i of ['net1-0', 'net1-1', 'net1-0']) st.apply({ op: 'allocate', allocations: [rec(i)] });
    expectIndexMatchesScan(st);
    expect(st.release({ podUID: 'u', containerID: 'c' }).map((a) => a.interface)).toEqual(['net1-1', 'net1-0']);
  });

  it('a failed all-or-nothing allocate leaves no trace in the index', () => {
    const st = new IpamState();
    st.allocate([item(poolB, 'x', 'c', 'net1-0'), item(poolB, 'y', 'c', 'net1-0')]);
    expect(() => st.allocate([item(poolA, 'u', 'c', 'net1-0'), item(poolC, 'u', 'c', 'net2-0'), item(poolB, 'u', 'c', 'net1-1')])).toThrow(PoolExhaustedError);
    expectIndexMatchesScan(st);
    expect(st['byHolder'].has('u\u0000c')).toBe(false);
    expect(st.release({ podUID: 'u', containerID: 'c' })).toEqual([]);
  });
});
