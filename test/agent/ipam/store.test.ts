import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { JournalCorruptError, decodeJournal } from '../../../src/agent/ipam/journal.js';
import { IpamStoreLockedError, IpamStoreUnavailableError, openIpamStore, type IpamStoreOptions } from '../../../src/agent/ipam/store.js';
import { PoolExhaustedError } from '../../../src/lib/ipam/allocator.js';
import type { AllocateItem, Allocation, PoolSpec } from '../../../src/lib/ipam/types.js';

const root = await mkdtemp(join(tmpdir(), 'mnipam-store-'));
afterAll(() => rm(root, { recursive: true, force: true }));
let n = 0;
let dir = '';
beforeEach(() => {
  dir = join(root, `s${++n}`);
});

const poolA: PoolSpec = {
  name: 'net-a-10.0.0.0-24',
  network: 'net-a',
  hostName: 'host-a',
  interfaceName: 'eth1',
  podCIDR: '10.0.0.0/24',
  vlanCIDR: '10.0.0.0/18',
  excludes: [],
  reserved: ['10.0.0.1'],
};
const poolB: PoolSpec = { ...poolA, name: 'net-a-10.0.64.0-24', interfaceName: 'eth2', podCIDR: '10.0.64.0/24', vlanCIDR: '10.0.64.0/18', reserved: ['10.0.64.1'] };
const tiny: PoolSpec = { ...poolA, name: 'tiny', podCIDR: '10.9.0.0/30', vlanCIDR: '10.9.0.0/24', reserved: [] };

function item(pool: PoolSpec, uid: string, iface = 'net1-0'): AllocateItem {
  return { pool, key: { podUID: uid, containerID: `c-${uid}`, interface: iface }, podName: `pod-${uid}`, namespace: 'default' };
}
const pod = (uid: string): AllocateItem[] => [item(poolA, uid, 'net1-0'), item(poolB, uid, 'net1-1')];
const open = (o: Partial<IpamStoreOptions> = {}) => openIpamStore({ dir, ...o });
const addrs = (as: Allocation[]) => as.map((a) => a.address);

function assertNoDuplicates(list: Allocation[]): void {
  const seen = new Map<string, string>();
  for (const a of list) {
    const k = `${a.pool}/${a.address}`;
    expect(seen.get(k), `${k} held twice`).toBeUndefined();
    seen.set(k, a.podUID);
  }
}

describe('IpamStore durability', () => {
  it('keeps allocations, releases and the cursor across close and reopen', async () => {
    const s = await open();
    for (const u of ['u1', 'u2', 'u3']) await s.allocate(pod(u));
    expect(await s.release({ podUID: 'u2', containerID: 'c-u2', ifPrefix: 'net1' })).toHaveLength(2);
    const before = s.list();
    await s.close();

    const s2 = await open();
    expect(s2.list()).toEqual(before);
    expect(s2.stats().recovery).toEqual({ snapshotSeq: 0, replayed: 4, discardedBytes: 0 });
    // The cursor survived: u2's freed 10.0.0.3 is not handed out next.
    expect(addrs(await s2.allocate(pod('u4')))).toEqual(['10.0.0.5', '10.0.64.5']);
    await s2.close();
  });

  it('a repeated allocate for the same key returns the same addresses, also after a restart, without a new record', async () => {
    const s = await open();
    const first = await s.allocate(pod('u1'));
    expect(await s.allocate(pod('u1'))).toEqual(first);
    expect(s.stats().recordsWritten).toBe(1);
    await s.close();
    const s2 = await open();
    expect(await s2.allocate(pod('u1'))).toEqual(first);
    expect(s2.stats().recordsWritten).toBe(0);
    await s2.close();
  });

  it('release is idempotent and writes nothing when nothing is held', async () => {
    const s = await open();
    await s.allocate(pod('u1'));
    expect(await s.release({ podUID: 'u1', containerID: 'c-u1' })).toHaveLength(2);
    expect(await s.release({ podUID: 'u1', containerID: 'c-u1' })).toEqual([]);
    expect(await s.release({ podUID: 'nobody', containerID: 'x' })).toEqual([]);
    expect(s.stats().recordsWritten).toBe(2);
    await s.close();
  });

  it('a failed batch (pool exhausted) is all or nothing and writes no record', async () => {
    const s = await open();
    await s.allocate([item(tiny, 't1'), item(tiny, 't2')]);
    await expect(s.allocate([item(poolA, 'u1'), item(tiny, 'u1', 'net1-1')])).rejects.toThrow(PoolExhaustedError);
    expect(s.list(poolA.name)).toEqual([]);
    expect(s.stats().recordsWritten).toBe(1);
    await s.close();
  });
});

describe('IpamStore recovery', () => {
  async function threeRecords(): Promise<{ before: Allocation[]; lastStart: number; size: number }> {
    const s = await open({ fsync: false });
    await s.allocate(pod('u1'));
    await s.allocate(pod('u2'));
    const before = s.list();
    await s.allocate([item(poolA, 'u3')]);
    await s.close();
    const buf = await readFile(join(dir, 'journal'));
    const d = decodeJournal(buf, 'journal');
    expect(d.records).toHaveLength(3);
    const last = JSON.stringify(d.records[2]);
    return { before, lastStart: buf.length - 8 - Buffer.byteLength(last), size: buf.length };
  }

  it('recovers every earlier record when the file is cut at any byte of the last record', async () => {
    const { before, lastStart, size } = await threeRecords();
    const src = dir;
    const journal = await readFile(join(src, 'journal'));
    for (let cut = lastStart; cut < size; cut++) {
      dir = `${src}-cut${cut}`;
      await mkdir(dir);
      await writeFile(join(dir, 'journal'), journal.subarray(0, cut));
      const s = await open({ fsync: false });
      expect(s.list(), `cut at ${cut}`).toEqual(before);
      expect(s.stats().recovery.discardedBytes).toBe(cut - lastStart);
      expect((await stat(join(dir, 'journal'))).size).toBe(lastStart);
      // Appending after recovery lands after the last good record and reads back (sampled: it
      // does not depend on where the cut was, and each check costs two more opens).
      if ((cut - lastStart) % 16 === 0 || cut === size - 1) {
        await s.allocate(pod('u9'));
        await s.close();
        const s2 = await open({ fsync: false });
        expect(s2.list().filter((a) => a.podUID === 'u9')).toHaveLength(2);
        expect(s2.stats().recovery.discardedBytes).toBe(0);
        await s2.close();
      } else await s.close();
      await rm(dir, { recursive: true });
    }
  }, 120_000);

  it('a cut anywhere recovers exactly the state after the last whole record', async () => {
    const s = await open({ fsync: false });
    const states: Allocation[][] = [[]];
    const ends: number[] = [0];
    for (let i = 0; i < 40; i++) {
      if (i % 5 === 4) await s.release({ podUID: `u${i - 2}`, containerID: `c-u${i - 2}` });
      else await s.allocate(i % 2 ? pod(`u${i}`) : [item(poolA, `u${i}`)]);
      states.push(s.list());
      ends.push(s.stats().journalBytes);
    }
    await s.close();
    const journal = await readFile(join(dir, 'journal'));
    expect(journal.length).toBe(ends[ends.length - 1]);
    const src = dir;
    // 60 cut points spread over the whole file, always including both ends.
    const cuts = Array.from({ length: 60 }, (_, k) => Math.round((k * journal.length) / 59));
    for (const cut of cuts) {
      dir = `${src}-any${cut}`;
      await mkdir(dir);
      await writeFile(join(dir, 'journal'), journal.subarray(0, cut));
      const whole = ends.filter((e) => e <= cut).length - 1;
      const r = await open({ fsync: false });
      expect(r.list(), `cut at byte ${cut}`).toEqual(states[whole]);
      expect(r.stats().recovery.replayed).toBe(whole);
      await r.close();
      await rm(dir, { recursive: true });
    }
  });

  it('discards a last record with a corrupted CRC', async () => {
    const { before, lastStart } = await threeRecords();
    const buf = await readFile(join(dir, 'journal'));
    buf.writeUInt8(buf.readUInt8(lastStart + 5) ^ 0xff, lastStart + 5); // a CRC byte
    await writeFile(join(dir, 'journal'), buf);
    const s = await open();
    expect(s.list()).toEqual(before);
    expect(s.stats().recovery).toMatchObject({ discardedReason: 'checksum mismatch', discardedBytes: buf.length - lastStart });
    await s.close();
  });

  it('refuses to open when a corrupt record is followed by acknowledged ones, and frees the lock', async () => {
    await threeRecords();
    const buf = await readFile(join(dir, 'journal'));
    buf.writeUInt8(buf.readUInt8(12) ^ 0xff, 12); // inside the first payload
    await writeFile(join(dir, 'journal'), buf);
    const err = await open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JournalCorruptError);
    expect((err as JournalCorruptError).message).toMatch(/journal is corrupt at byte 0/);
    expect((err as JournalCorruptError).hint).toMatch(/move .*journal aside/);
    // Honest: nothing rebuilds from the IPPools (the restarted agent rewrites them from its empty journal).
    expect((err as JournalCorruptError).hint).toMatch(/^save this node's IPPools first .*the restarted agent rewrites them/);
    expect((err as JournalCorruptError).hint).not.toMatch(/rebuild/);
    // Nothing was cut, and the lock is not left behind.
    expect((await readFile(join(dir, 'journal'))).equals(buf)).toBe(true);
    await rm(join(dir, 'journal'));
    const s = await open();
    expect(s.list()).toEqual([]);
    await s.close();
  });

  it('refuses a damaged snapshot', async () => {
    const s = await open();
    await s.allocate(pod('u1'));
    await s.compact();
    await s.close();
    const snap = await readFile(join(dir, 'snapshot'));
    await writeFile(join(dir, 'snapshot'), snap.subarray(0, snap.length - 2));
    await expect(open()).rejects.toThrow(/snapshot is corrupt at byte 0: record cut short/);
  });
});

describe('IpamStore compaction', () => {
  it('compact() writes a snapshot, empties the journal, and reopen sees everything', async () => {
    const s = await open();
    for (let i = 0; i < 20; i++) await s.allocate(pod(`u${i}`));
    await s.release({ podUID: 'u3', containerID: 'c-u3' });
    await s.compact();
    expect(s.stats()).toMatchObject({ journalBytes: 0, compactions: 1 });
    expect((await stat(join(dir, 'journal'))).size).toBe(0);
    await s.allocate(pod('late'));
    const before = s.list();
    await s.close();

    const s2 = await open();
    expect(s2.list()).toEqual(before);
    expect(s2.stats().recovery).toMatchObject({ snapshotSeq: 21, replayed: 1 });
    // Cursor from the snapshot + the replayed record: next after 'late' (10.0.0.22), not u3's freed .5.
    expect(addrs(await s2.allocate(pod('next')))).toEqual(['10.0.0.23', '10.0.64.23']);
    await s2.close();
  });

  it('compacts automatically past the threshold and loses nothing', async () => {
    const s = await open({ fsync: false, compactBytes: 2048 });
    for (let i = 0; i < 150; i++) {
      await s.allocate(pod(`u${i}`));
      if (i % 3 === 0) await s.release({ podUID: `u${i}`, containerID: `c-u${i}` });
    }
    const st = s.stats();
    expect(st.compactions).toBeGreaterThan(5);
    expect(st.journalBytes).toBeLessThan(2048 + 1024);
    const before = s.list();
    expect(before).toHaveLength(200);
    await s.close();
    const s2 = await open({ fsync: false });
    expect(s2.list()).toEqual(before);
    await s2.close();
  });

  it('a crash after the snapshot rename but before the journal is emptied replays nothing twice', async () => {
    const s = await open();
    for (let i = 0; i < 5; i++) await s.allocate(pod(`u${i}`));
    await s.release({ podUID: 'u1', containerID: 'c-u1' });
    const journal = await readFile(join(dir, 'journal'));
    await s.compact();
    const before = s.list();
    await s.close();
    await writeFile(join(dir, 'journal'), journal); // the truncate never reached the disk
    const s2 = await open();
    expect(s2.list()).toEqual(before);
    expect(s2.stats().recovery).toMatchObject({ snapshotSeq: 6, replayed: 0 });
    await s2.close();
  });
});

describe('IpamStore concurrency', () => {
  it('200 concurrent allocations over 2 pools: no duplicate, all durable, syncs shared', async () => {
    const s = await open();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => s.allocate(pod(`p${i}`))));
    const all = results.flat();
    expect(all).toHaveLength(400);
    assertNoDuplicates(all);
    expect(new Set(all.map((a) => a.address)).size).toBe(400);
    const st = s.stats();
    expect(st.recordsWritten).toBe(200);
    expect(st.commits).toBeLessThan(200); // group commit: requests shared syncs
    const before = s.list();
    await s.close();
    const s2 = await open();
    expect(s2.list()).toEqual(before);
    await s2.close();
  });

  it('concurrent requests for one key all get the same address', async () => {
    const s = await open();
    const results = await Promise.all(Array.from({ length: 20 }, () => s.allocate(pod('same'))));
    for (const r of results) expect(r).toEqual(results[0]);
    expect(s.list()).toHaveLength(2);
    await s.close();
  });

  it('concurrent allocations into a nearly full pool: exactly the free ones succeed', async () => {
    const s = await open();
    const settled = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => s.allocate([item(tiny, `t${i}`)])));
    expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    for (const r of settled) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(PoolExhaustedError);
    await s.close();
  });
});

describe('IpamStore ownership and lifecycle', () => {
  it('one store per directory: a second open fails until the first closes', async () => {
    const s = await open();
    await expect(open()).rejects.toThrow(IpamStoreLockedError);
    await s.close();
    const s2 = await open();
    await s2.close();
  });

  it('takes over a lock left by a dead process', async () => {
    const s = await open();
    await s.close();
    await writeFile(join(dir, 'lock'), '999999999\n');
    const s2 = await open();
    expect((await readFile(join(dir, 'lock'), 'utf8')).split(' ')[0]).toBe(String(process.pid));
    await s2.close();
  });

  it('refuses a lock held by another live process', async () => {
    const s = await open();
    await s.close();
    const stat = await readFile(`/proc/${process.ppid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    await writeFile(join(dir, 'lock'), `${process.ppid} ${start}\n`);
    await expect(open()).rejects.toThrow(new RegExp(`in use by process ${process.ppid}`));
    await writeFile(join(dir, 'lock'), `${process.ppid}\n`); // written by a lock without start times
    await expect(open()).rejects.toThrow(IpamStoreLockedError);
  });

  it('takes over a lock whose pid now belongs to a process started at another time (new container)', async () => {
    const s = await open();
    await s.close();
    await writeFile(join(dir, 'lock'), `${process.ppid} 1\n`);
    const s2 = await open();
    expect((await readFile(join(dir, 'lock'), 'utf8')).split(' ')[0]).toBe(String(process.pid));
    await s2.close();
  });

  it('calls after close reject with a NotReady error', async () => {
    const s = await open();
    await s.close();
    await s.close();
    const err = await s.allocate(pod('u1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpamStoreUnavailableError);
    expect((err as IpamStoreUnavailableError).code).toBe('NotReady');
  });

  it('adopt() makes allocations from IPPool resources durable', async () => {
    const s = await open();
    s.setPools([poolA, poolB]);
    const fromCluster: Allocation[] = [
      { pool: poolA.name, network: 'net-a', podUID: 'k1', containerID: 'c', interface: 'net1-0', address: '10.0.0.40', index: 40, podName: 'k1', namespace: 'default' },
    ];
    expect((await s.adopt(fromCluster)).adopted).toHaveLength(1);
    expect(s.stats().recordsWritten).toBe(1);
    await s.close();
    const s2 = await open();
    expect(s2.list()).toEqual(fromCluster);
    expect(addrs(await s2.allocate(pod('u1')))).toEqual(['10.0.0.2', '10.0.64.2']);
    await s2.close();
  });

  it('setPools reports orphaned allocations, which stay held across a restart', async () => {
    const s = await open();
    await s.allocate(pod('u1'));
    const report = s.setPools([poolA]);
    expect(report.orphaned.map((a) => a.address)).toEqual(['10.0.64.2']);
    await s.close();
    const s2 = await open();
    expect(s2.setPools([poolA]).orphaned.map((a) => a.address)).toEqual(['10.0.64.2']);
    expect(s2.stats().pools.find((p) => p.name === poolB.name)).toMatchObject({ known: false, allocated: 1, cursor: '10.0.64.2' });
    await s2.close();
  });
});
