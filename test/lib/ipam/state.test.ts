import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PoolExhaustedError } from '../../../src/lib/ipam/allocator.js';
import { IpamState, type IpamRecord } from '../../../src/lib/ipam/state.js';
import type { AllocateItem, PoolSpec } from '../../../src/lib/ipam/types.js';

const poolA: PoolSpec = {
  name: 'net-a-10.0.0.0-29',
  network: 'net-a',
  hostName: 'host-a',
  interfaceName: 'eth1',
  podCIDR: '10.0.0.0/29',
  vlanCIDR: '10.0.0.0/24',
  excludes: [],
  reserved: [],
};
const poolB: PoolSpec = { ...poolA, name: 'net-a-10.0.1.0-30', interfaceName: 'eth2', podCIDR: '10.0.1.0/30', vlanCIDR: '10.0.1.0/24' };

function item(pool: PoolSpec, uid: string, iface = 'net1-0', container = `c-${uid}`): AllocateItem {
  return { pool, key: { podUID: uid, containerID: container, interface: iface }, podName: `pod-${uid}`, namespace: 'default' };
}

describe('IpamState.allocate', () => {
  it('same container twice gets the same address and produces no new record', () => {
    const st = new IpamState();
    const first = st.allocate([item(poolA, 'u1')]);
    const again = st.allocate([item(poolA, 'u1')]);
    expect(again.allocations).toEqual(first.allocations);
    expect(first.fresh).toHaveLength(1);
    expect(again.fresh).toHaveLength(0);
    expect(st.list()).toHaveLength(1);
  });

  it('same pod UID with a new container ID (sandbox re-created) is a new key', () => {
    const st = new IpamState();
    const [a] = st.allocate([item(poolA, 'u1', 'net1-0', 'c1')]).allocations;
    const [b] = st.allocate([item(poolA, 'u1', 'net1-0', 'c2')]).allocations;
    expect(a?.address).toBe('10.0.0.1');
    expect(b?.address).toBe('10.0.0.2');
  });

  it('is all or nothing: an exhausted second pool leaves the first untouched, cursor included', () => {
    const st = new IpamState();
    st.allocate([item(poolB, 'x1'), item(poolB, 'x2')]);
    expect(() => st.allocate([item(poolA, 'u1', 'net1-0'), item(poolB, 'u1', 'net1-1')])).toThrow(PoolExhaustedError);
    expect(st.list(poolA.name)).toEqual([]);
    // Had the failed batch moved the cursor, this would be 10.0.0.2.
    expect(st.allocate([item(poolA, 'u2')]).allocations[0]?.address).toBe('10.0.0.1');
  });

  it('fills a pod with one address per pool in item order, with upstream-style index', () => {
    const st = new IpamState();
    const { allocations } = st.allocate([item(poolA, 'u1', 'net1-0'), item(poolB, 'u1', 'net1-1')]);
    expect(allocations.map((a) => [a.pool, a.interface, a.address, a.index])).toEqual([
      [poolA.name, 'net1-0', '10.0.0.1', 1],
      [poolB.name, 'net1-1', '10.0.1.1', 1],
    ]);
  });

  it('round-robin: a released address comes back only after the pool has gone round', () => {
    const st = new IpamState();
    for (const u of ['u1', 'u2', 'u3']) st.allocate([item(poolA, u)]);
    st.release({ podUID: 'u2', containerID: 'c-u2' });
    const got = ['u4', 'u5', 'u6', 'u7'].map((u) => st.allocate([item(poolA, u)]).allocations[0]?.address);
    expect(got).toEqual(['10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.2']);
  });
});

describe('IpamState.release', () => {
  it('is idempotent and matches net1 and net1-<i> but never net10-<i>', () => {
    const st = new IpamState();
    st.allocate([item(poolA, 'u1', 'net1-0', 'c'), item(poolB, 'u1', 'net1-1', 'c'), item(poolA, 'u1', 'net10-0', 'c')]);
    const released = st.release({ podUID: 'u1', containerID: 'c', ifPrefix: 'net1' });
    expect(released.map((a) => a.interface).sort()).toEqual(['net1-0', 'net1-1']);
    expect(st.release({ podUID: 'u1', containerID: 'c', ifPrefix: 'net1' })).toEqual([]);
    expect(st.list().map((a) => a.interface)).toEqual(['net10-0']);
  });

  it('filters by network and container', () => {
    const st = new IpamState();
    const other: PoolSpec = { ...poolB, name: 'net-b-pool', network: 'net-b' };
    st.allocate([item(poolA, 'u1', 'net1-0', 'c'), item(other, 'u1', 'net2-0', 'c')]);
    expect(st.release({ podUID: 'u1', containerID: 'other' })).toEqual([]);
    expect(st.release({ podUID: 'u1', containerID: 'c', network: 'net-b' }).map((a) => a.pool)).toEqual(['net-b-pool']);
    expect(st.list().map((a) => a.pool)).toEqual([poolA.name]);
  });
});

describe('IpamState replay and snapshot', () => {
  function workload(st: IpamState, records: IpamRecord[]): void {
    for (const u of ['u1', 'u2', 'u3', 'u4']) {
      const { fresh } = st.allocate([item(poolA, u, 'net1-0'), item(poolB, u, 'net1-1')].slice(0, u === 'u3' || u === 'u4' ? 1 : 2));
      if (fresh.length) records.push({ op: 'allocate', allocations: fresh });
    }
    const released = st.release({ podUID: 'u2', containerID: 'c-u2' });
    records.push({ op: 'release', released });
  }

  it('replaying the records rebuilds the same allocations and the same next address', () => {
    const st = new IpamState();
    const records: IpamRecord[] = [];
    workload(st, records);
    const replayed = new IpamState();
    for (const r of records) replayed.apply(r);
    expect(replayed.list()).toEqual(st.list());
    const next = (s: IpamState) => s.allocate([item(poolA, 'n1'), item(poolB, 'n1', 'net1-1')]).allocations.map((a) => a.address);
    expect(next(replayed)).toEqual(next(st));
  });

  it('a snapshot keeps the cursor, so a restart does not reuse a just-freed address', () => {
    const st = new IpamState();
    workload(st, []);
    const restored = IpamState.fromSnapshot(JSON.parse(JSON.stringify(st.snapshot())));
    expect(restored.list()).toEqual(st.list());
    // u2 held 10.0.0.2 and was released; the cursor is at .4, so .5 comes next, not .2.
    expect(restored.allocate([item(poolA, 'n1')]).allocations[0]?.address).toBe('10.0.0.5');
  });
});

describe('IpamState.setPools', () => {
  it('reports allocations of a removed pool as orphaned and keeps them held', () => {
    const st = new IpamState();
    st.allocate([item(poolA, 'u1'), item(poolB, 'u1', 'net1-1')]);
    const report = st.setPools([poolA]);
    expect(report.orphaned.map((a) => [a.pool, a.address])).toEqual([[poolB.name, '10.0.1.1']]);
    expect(st.list()).toHaveLength(2);
    // The pool coming back keeps its allocation: 10.0.1.1 is not handed out again.
    st.setPools([poolA, poolB]);
    expect(st.allocate([item(poolB, 'u9')]).allocations[0]?.address).toBe('10.0.1.2');
  });

  it('reports allocations the new spec cannot hold and never hands their addresses out', () => {
    const st = new IpamState();
    st.allocate([item(poolA, 'u1'), item(poolA, 'u2')]);
    const report = st.setPools([{ ...poolA, reserved: ['10.0.0.1'] }]);
    expect(report.conflicts.map((c) => [c.allocation.address, c.reason])).toEqual([['10.0.0.1', expect.stringMatching(/excluded or reserved/)]]);
    const got = ['u3', 'u4', 'u5', 'u6'].map((u) => st.allocate([item({ ...poolA, reserved: ['10.0.0.1'] }, u)]).allocations[0]?.address);
    expect(got).toEqual(['10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    // Releasing the conflicting allocation is still possible.
    expect(st.release({ podUID: 'u1', containerID: 'c-u1' })).toHaveLength(1);
    expect(st.conflicts()).toEqual([]);
  });

  it('rejects an invalid spec without changing anything', () => {
    const st = new IpamState();
    st.allocate([item(poolA, 'u1')]);
    expect(() => st.setPools([{ ...poolB, podCIDR: '10.0.1.1/30' }])).toThrow(/host bits/);
    expect(st.setPools([poolA]).orphaned).toEqual([]);
  });
});

describe('IpamState.adopt (rebuilding from IPPool resources)', () => {
  it('takes what it lacks, skips what it holds, reports what collides, and leaves the cursor', () => {
    const source = new IpamState();
    const held = source.allocate([item(poolA, 'u1'), item(poolA, 'u2'), item(poolA, 'u3')].slice(0, 3)).allocations;
    const st = new IpamState();
    st.setPools([poolA]);
    const [mine] = st.allocate([item(poolA, 'u1')]).allocations; // same key, same address as in the source
    expect(mine?.address).toBe('10.0.0.1');
    const foreign = { ...(held[0] as (typeof held)[number]), podUID: 'intruder', containerID: 'x' }; // 10.0.0.1 again
    const unknownPool = { ...(held[1] as (typeof held)[number]), pool: 'nope' };
    const out = st.adopt([...held, foreign, unknownPool]);
    expect(out.adopted.map((a) => a.address)).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(out.conflicts.map((c) => c.reason)).toEqual([
      expect.stringMatching(/10\.0\.0\.1 .* already allocated to pod default\/pod-u1/),
      expect.stringMatching(/pool "nope" is not one of this node's pools/),
    ]);
    // Cursor still at .1 (adopted addresses do not move it): next free after it is .4.
    expect(st.allocate([item(poolA, 'u9')]).allocations[0]?.address).toBe('10.0.0.4');
    // A replayed adopt record does not move the cursor either.
    const replayed = new IpamState();
    replayed.apply({ op: 'allocate', allocations: [mine as (typeof held)[number]] });
    replayed.apply({ op: 'allocate', allocations: out.adopted, adopted: true });
    expect(replayed.allocate([item(poolA, 'u9')]).allocations[0]?.address).toBe('10.0.0.4');
  });
});

describe('IpamState property: any sequence of operations', () => {
  it('never holds one address twice, stays in range, and is exhausted only when full', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), uid: fc.integer({ min: 0, max: 12 }), both: fc.boolean() }),
      fc.record({ kind: fc.constant('release' as const), uid: fc.integer({ min: 0, max: 12 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const st = new IpamState();
        const records: IpamRecord[] = [];
        for (const o of ops) {
          const uid = `u${o.uid}`;
          if (o.kind === 'alloc') {
            const items = o.both ? [item(poolA, uid, 'net1-0', 'c'), item(poolB, uid, 'net1-1', 'c')] : [item(poolA, uid, 'net1-0', 'c')];
            const before = st.list();
            try {
              const { fresh } = st.allocate(items);
              if (fresh.length) records.push({ op: 'allocate', allocations: fresh });
            } catch (e) {
              expect(e).toBeInstanceOf(PoolExhaustedError);
              expect(st.list()).toEqual(before);
              const full = (p: PoolSpec, usable: number) => st.list(p.name).length === usable;
              expect(full(poolA, 6) || (o.both && full(poolB, 2))).toBe(true);
            }
          } else {
            records.push({ op: 'release', released: st.release({ podUID: uid, containerID: 'c' }) });
          }
          const held = st.list();
          const addrs = held.map((a) => `${a.pool}/${a.address}`);
          expect(new Set(addrs).size).toBe(addrs.length);
          for (const a of held) {
            expect(a.index).toBeGreaterThanOrEqual(1);
            expect(a.index).toBeLessThanOrEqual(a.pool === poolA.name ? 6 : 2);
          }
        }
        const replayed = new IpamState();
        for (const r of records) replayed.apply(r);
        expect(replayed.list()).toEqual(st.list());
      }),
      { numRuns: 300 },
    );
  });
});
