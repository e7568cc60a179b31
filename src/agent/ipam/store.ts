// The node's durable IPAM: the pure IpamState (src/lib/ipam/state.ts) plus an
// append-only, checksummed journal and a snapshot in one directory:
//   <dir>/journal    framed records (journal.ts), each one allocate or release batch
//   <dir>/snapshot   one framed record: every allocation and cursor up to a sequence number
//   <dir>/lock       the pid of the process that has the store open
// Contract: allocate()/release() mutate the in-memory state synchronously (so concurrent requests
// are serialised by the event loop and never get one address twice), append one record for the
// whole batch, and resolve only once that record is on disk (fdatasync). Records appended while a
// sync is running share the next sync (group commit). A write or sync failure poisons the store:
// every later call rejects, because memory may now hold what the disk does not; restart recovers.
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { IpamState, type IpamRecord, type IpamSnapshot, type PoolSyncReport, type ReleaseSelector, type AllocationConflict } from '../../lib/ipam/state.js';
import type { AllocateItem, Allocation, Ipam, PoolSpec } from '../../lib/ipam/types.js';
import { JournalCorruptError, decodeJournal, decodeSingle, encodeRecord } from './journal.js';

export interface IpamStoreOptions {
  dir: string;
  /** fdatasync before answering (default true). Off only for tests and benchmarks of the logic. */
  fsync?: boolean;
  /** Clock for record timestamps and stats (ms since epoch). */
  now?: () => number;
  /** Compact automatically once the journal is larger than this (default 4 MiB). */
  compactBytes?: number;
}

export interface IpamStoreStats {
  dir: string;
  allocations: number;
  pools: Array<{ name: string; known: boolean; podCIDR?: string; usable?: string; allocated: number; cursor?: string }>;
  conflicts: AllocationConflict[];
  /** Last sequence number written. */
  seq: number;
  journalBytes: number;
  /** Records appended since open. */
  recordsWritten: number;
  /** Disk syncs of the journal since open; recordsWritten / commits is the group-commit factor. */
  commits: number;
  compactions: number;
  lastCompactionAt?: number;
  lastCompactionError?: string;
  recovery: {
    snapshotSeq: number;
    /** Journal records replayed at open. */
    replayed: number;
    /** Bytes of a torn tail cut off at open, and why. */
    discardedBytes: number;
    discardedReason?: string;
  };
}

/** The store is closed, or poisoned by a failed write; the message says which. */
export class IpamStoreUnavailableError extends Error {
  readonly code = 'NotReady';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IpamStoreUnavailableError';
  }
}

/** Another live process (or this one) has the store open. */
export class IpamStoreLockedError extends Error {
  readonly hint: string;
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`IPAM store ${dir} is in use by process ${pid}`);
    this.name = 'IpamStoreLockedError';
    this.hint = `stop the other agent (pid ${pid}) first; only one agent per node may own its IPAM state`;
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers await it; a rejection nobody awaits must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

const openDirs = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function asRecord(p: unknown, file: string, index: number): { s: number; rec: IpamRecord } {
  const o = p as { s?: unknown; op?: unknown; allocations?: unknown; released?: unknown };
  const ok =
    typeof o === 'object' && o !== null && typeof o.s === 'number' &&
    ((o.op === 'allocate' && Array.isArray(o.allocations)) || (o.op === 'release' && Array.isArray(o.released)));
  if (!ok) throw new JournalCorruptError(file, index, `record #${index + 1} has a valid checksum but an unknown shape (written by a newer agent?)`);
  return { s: o.s as number, rec: o as unknown as IpamRecord };
}

/** The durable Ipam of one node. Create with openIpamStore(). */
export class IpamStore implements Ipam {
  private fh: FileHandle | undefined;
  private seq: number;
  private journalBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The batch being gathered (its sync has not started). */
  private next: Deferred | undefined;
  /** Settles once everything appended so far is durable. */
  private tail: Promise<void> = Promise.resolve();
  /** Serial queue of disk work: syncs and compactions never overlap. */
  private chain: Promise<void> = Promise.resolve();
  private compactWaiters: Deferred[] = [];
  private failed: Error | undefined;
  private closed = false;
  private recordsWritten = 0;
  private commits = 0;
  private compactions = 0;
  private lastCompactionAt: number | undefined;
  private lastCompactionError: string | undefined;

  /** @internal use openIpamStore */
  constructor(
    private readonly state: IpamState,
    private readonly opts: Required<IpamStoreOptions>,
    fh: FileHandle,
    seq: number,
    journalBytes: number,
    private readonly recovery: IpamStoreStats['recovery'],
  ) {
    this.fh = fh;
    this.seq = seq;
    this.journalBytes = journalBytes;
  }

  private get journalPath(): string {
    return join(this.opts.dir, 'journal');
  }

  private usable(): void {
    if (this.closed) throw new IpamStoreUnavailableError(`IPAM store ${this.opts.dir} is closed`);
    if (this.failed) {
      throw new IpamStoreUnavailableError(
        `IPAM store ${this.opts.dir} stopped after a failed journal write (${this.failed.message}); restart the agent to recover from the journal`,
        { cause: this.failed },
      );
    }
  }

  async allocate(items: AllocateItem[]): Promise<Allocation[]> {
    this.usable();
    const { allocations, fresh } = this.state.allocate(items);
    if (fresh.length > 0) await this.append({ op: 'allocate', allocations: fresh });
    else await this.tail;
    return allocations;
  }

  async release(sel: ReleaseSelector): Promise<Allocation[]> {
    this.usable();
    const released = this.state.release(sel);
    if (released.length > 0) {
      await this.append({
        op: 'release',
        released: released.map((a) => ({ pool: a.pool, podUID: a.podUID, containerID: a.containerID, interface: a.interface, address: a.address })),
      });
    } else await this.tail;
    return released;
  }

  /**
   * Takes over allocations recorded elsewhere (IPPool resources) that the store lacks, durably;
   * see IpamState.adopt for what is a conflict. Call after setPools.
   */
  async adopt(allocations: Allocation[]): Promise<{ adopted: Allocation[]; conflicts: AllocationConflict[] }> {
    this.usable();
    const out = this.state.adopt(allocations);
    if (out.adopted.length > 0) await this.append({ op: 'allocate', allocations: out.adopted, adopted: true });
    else await this.tail;
    return out;
  }

  list(pool?: string): Allocation[] {
    return this.state.list(pool);
  }

  /**
   * Declares the pools this node has now (from the CIDR resource). Not journaled: pool specs come
   * from the cluster at every start. Allocations of pools that are gone stay held and are reported.
   */
  setPools(pools: PoolSpec[]): PoolSyncReport {
    this.usable();
    return this.state.setPools(pools);
  }

  /** Writes a snapshot of everything durable so far and empties the journal. */
  async compact(): Promise<void> {
    this.usable();
    const d = deferred();
    this.compactWaiters.push(d);
    void this.schedule();
    await d.promise;
  }

  /** Waits for pending writes, then releases the file and the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    await this.fh?.close();
    this.fh = undefined;
    await rm(join(this.opts.dir, 'lock'), { force: true });
    openDirs.delete(this.opts.dir);
  }

  stats(): IpamStoreStats {
    const s: IpamStoreStats = {
      dir: this.opts.dir,
      allocations: this.state.size,
      pools: this.state.poolStatus().map((p) => {
        const o: IpamStoreStats['pools'][number] = { name: p.name, known: p.known, allocated: p.allocated };
        if (p.podCIDR !== undefined) o.podCIDR = p.podCIDR;
        if (p.usable !== undefined) o.usable = p.usable.toString();
        if (p.cursor !== undefined) o.cursor = p.cursor;
        return o;
      }),
      conflicts: this.state.conflicts(),
      seq: this.seq,
      journalBytes: this.journalBytes,
      recordsWritten: this.recordsWritten,
      commits: this.commits,
      compactions: this.compactions,
      recovery: this.recovery,
    };
    if (this.lastCompactionAt !== undefined) s.lastCompactionAt = this.lastCompactionAt;
    if (this.lastCompactionError !== undefined) s.lastCompactionError = this.lastCompactionError;
    return s;
  }

  private append(rec: IpamRecord): Promise<void> {
    this.seq += 1;
    const buf = encodeRecord({ s: this.seq, t: this.opts.now(), ...rec });
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    return this.schedule();
  }

  /** Joins the batch being gathered, starting one when none is. */
  private schedule(): Promise<void> {
    if (!this.next) {
      const d = deferred();
      this.next = d;
      this.tail = d.promise;
      this.chain = this.chain.then(() => this.flush(d));
    }
    return this.next.promise;
  }

  /** Writes and syncs the gathered batch; compacts when asked or when the journal is too big. Never rejects. */
  private async flush(d: Deferred): Promise<void> {
    this.next = undefined;
    const batch = this.pending;
    const bytes = this.pendingBytes;
    const seq = this.seq;
    this.pending = [];
    this.pendingBytes = 0;
    const waiters = this.compactWaiters;
    this.compactWaiters = [];
    // Taken in the same tick as the batch: the state now is exactly what records <= seq describe.
    const snap = waiters.length > 0 || this.journalBytes + bytes > this.opts.compactBytes ? this.state.snapshot() : undefined;
    try {
      if (this.failed) throw this.failed;
      const fh = this.fh;
      if (!fh) throw new Error('journal is closed');
      if (bytes > 0) {
        await writeAll(fh, batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, bytes));
        if (this.opts.fsync) await fh.datasync();
        this.journalBytes += bytes;
        this.recordsWritten += batch.length;
        this.commits += 1;
      }
      d.resolve();
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.failed ??= new Error(`failed to append to IPAM journal "${this.journalPath}": ${err.message}`, { cause: err });
      d.reject(this.failed);
      for (const w of waiters) w.reject(this.failed);
      return;
    }
    if (!snap) return;
    try {
      await this.writeSnapshot(snap, seq);
      for (const w of waiters) w.resolve();
    } catch (e) {
      this.lastCompactionError = e instanceof Error ? e.message : String(e);
      for (const w of waiters) w.reject(e);
    }
  }

  private async writeSnapshot(snap: IpamSnapshot, seq: number): Promise<void> {
    const dir = this.opts.dir;
    const tmp = join(dir, 'snapshot.tmp');
    const buf = encodeRecord({ kind: 'IpamSnapshot', v: 1, s: seq, t: this.opts.now(), ...snap });
    const fh = await open(tmp, 'w', 0o600);
    try {
      await writeAll(fh, buf);
      if (this.opts.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, 'snapshot'));
    if (this.opts.fsync) await fsyncDir(dir);
    // Records <= seq are now in the snapshot; replay skips them even if this truncate is lost.
    const jfh = this.fh as FileHandle;
    await jfh.truncate(0);
    if (this.opts.fsync) await jfh.sync();
    this.journalBytes = 0;
    this.compactions += 1;
    this.lastCompactionAt = this.opts.now();
    this.lastCompactionError = undefined;
  }
}

/** Start time of a process (field 22 of /proc/PID/stat, clock ticks since boot), if readable. */
async function processStart(pid: number): Promise<string | undefined> {
  const stat = (await readIfExists(`/proc/${pid}/stat`).catch(() => undefined))?.toString('utf8');
  if (!stat) return undefined;
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/**
 * Takes `<dir>/lock`, holding "<pid> <start time>". A lock is stale when its process is gone, or
 * when the pid now belongs to a process started at another time: the data directory is a hostPath
 * that outlives containers, and a new container's pids start again from 1.
 */
async function takeLock(dir: string): Promise<void> {
  if (openDirs.has(dir)) throw new IpamStoreLockedError(dir, process.pid);
  const path = join(dir, 'lock');
  const me = `${process.pid} ${(await processStart(process.pid)) ?? '-'}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, me, { flag: 'wx', mode: 0o600 });
      openDirs.add(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const [pidText, start] = ((await readIfExists(path))?.toString('utf8') ?? '').trim().split(' ');
    const pid = Number.parseInt(pidText ?? '', 10);
    const live =
      Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid) &&
      (start === undefined || start === '-' || (await processStart(pid)) === undefined || (await processStart(pid)) === start);
    if (live) throw new IpamStoreLockedError(dir, pid);
    await rm(path, { force: true });
  }
  throw new IpamStoreLockedError(dir, -1);
}

/**
 * Opens (creating if needed) the IPAM store in `dir`: loads the snapshot, replays the journal,
 * cuts a torn tail off it, and locks the directory. Throws JournalCorruptError when the files
 * cannot be trusted, IpamStoreLockedError when another live process has the store open.
 */
export async function openIpamStore(options: IpamStoreOptions): Promise<IpamStore> {
  const opts: Required<IpamStoreOptions> = {
    dir: resolve(options.dir),
    fsync: options.fsync ?? true,
    now: options.now ?? Date.now,
    compactBytes: options.compactBytes ?? 4 * 1024 * 1024,
  };
  const created = await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  // A new directory's entry must reach the disk too, or a crash can lose the whole store.
  if (created !== undefined && opts.fsync) await fsyncDir(dirname(created));
  await takeLock(opts.dir);
  try {
    const snapPath = join(opts.dir, 'snapshot');
    const journalPath = join(opts.dir, 'journal');
    await rm(join(opts.dir, 'snapshot.tmp'), { force: true });

    let state = new IpamState();
    let snapshotSeq = 0;
    const snapBuf = await readIfExists(snapPath);
    if (snapBuf) {
      const p = decodeSingle(snapBuf, snapPath) as Partial<IpamSnapshot> & { kind?: unknown; s?: unknown };
      if (p.kind !== 'IpamSnapshot' || typeof p.s !== 'number' || !Array.isArray(p.pools) || !Array.isArray(p.allocations)) {
        throw new JournalCorruptError(snapPath, 0, 'not an IPAM snapshot');
      }
      state = IpamState.fromSnapshot({ pools: p.pools, allocations: p.allocations });
      snapshotSeq = p.s;
    }

    const jbuf = (await readIfExists(journalPath)) ?? Buffer.alloc(0);
    const decoded = decodeJournal(jbuf, journalPath);
    let seq = snapshotSeq;
    let replayed = 0;
    decoded.records.forEach((payload, i) => {
      const { s, rec } = asRecord(payload, journalPath, i);
      if (s <= snapshotSeq) return;
      state.apply(rec);
      seq = s;
      replayed += 1;
    });

    const existed = jbuf.length > 0 || (await stat(journalPath).then(() => true, () => false));
    const fh = await open(journalPath, 'a', 0o600);
    try {
      if (decoded.goodBytes < jbuf.length) {
        await fh.truncate(decoded.goodBytes);
        if (opts.fsync) await fh.sync();
      }
      if (!existed && opts.fsync) await fsyncDir(opts.dir);
    } catch (e) {
      await fh.close();
      throw e;
    }
    const recovery: IpamStoreStats['recovery'] = { snapshotSeq, replayed, discardedBytes: jbuf.length - decoded.goodBytes };
    if (decoded.tornReason !== undefined) recovery.discardedReason = decoded.tornReason;
    return new IpamStore(state, opts, fh, seq, decoded.goodBytes, recovery);
  } catch (e) {
    await rm(join(opts.dir, 'lock'), { force: true });
    openDirs.delete(opts.dir);
    throw e;
  }
}
