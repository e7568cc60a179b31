// The storage layer: objects, the global resourceVersion counter, a bounded event history and the
// open watches. One counter for everything, like etcd's revision: every write gets the next number,
// so resourceVersions are comparable across types (clients must treat them as opaque; we may not).
// Semantics (what a write means) live in api.ts; this only records and fans out.
import type { KubeObject } from '../../lib/k8s/meta.js';
import { etcdTooLarge, gone } from './errors.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  type: EventType;
  /** Storage key of the type (`group/plural`). */
  key: string;
  namespace: string;
  object: KubeObject;
  /** The object before this write (MODIFIED, DELETED): lets selector watches see objects leave. */
  prev?: KubeObject;
}

export interface WatchSpec {
  key: string;
  /** Only this namespace; undefined = all. */
  namespace?: string;
  match: (obj: KubeObject) => boolean;
  send: (type: EventType, obj: KubeObject) => void;
  /** Called when the store drops the watch (dropWatches fault, server close). */
  onClose: () => void;
}

const nsName = (ns: string, name: string): string => `${ns}/${name}`;
const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The first index of sorted `keys` whose key is above `k` (`after`) or at least `k` (not `after`). */
function lowerBound(keys: readonly string[], k: string, after: boolean): number {
  let lo = 0;
  for (let hi = keys.length; lo < hi; ) {
    const mid = (lo + hi) >>> 1;
    const v = keys[mid]!;
    if (v < k || (after && v === k)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** etcd's default --max-request-bytes: the largest value a write may store. */
export const ETCD_MAX_REQUEST_BYTES = 1572864;

/** What one type's writes cost, as etcd would see them (for tests and benches to assert on). */
export interface WriteStats {
  creates: number;
  updates: number;
  deletes: number;
  /** Writes refused as larger than the object limit (etcd's "request is too large"). */
  refused: number;
  /** Bytes of the stored JSON of every create and update. */
  bytes: number;
  /** The largest stored object, in bytes of JSON. */
  largest: number;
}

/** The objects of a list page and the storage key of its last item (for the continue token). */
export interface ListPage {
  items: KubeObject[];
  /** namespace/name of the last item returned; undefined when the page is empty. */
  lastKey?: string;
  /**
   * Objects after this page (0 when it is the last). Exact for a list without `match`; with one,
   * 1 when at least one more matches (the continue token needs no more, and kube-apiserver gives
   * no remainingItemCount for a selected list).
   */
  remaining: number;
}

export class Store {
  private rv = 0;
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoredEvent[] = [];
  /** The newest resourceVersion whose event is no longer in history (0: nothing dropped yet). */
  private compactedRv = 0;
  private readonly watches = new Set<WatchSpec>();
  private readonly stats = new Map<string, WriteStats>();
  /** UID → ref (storage key, namespace/name) of every stored object. */
  private readonly byUid = new Map<string, string>();
  /** Owner UID → refs of the stored objects that name it in ownerReferences (the GC's dependents). */
  private readonly owned = new Map<string, Set<string>>();
  /**
   * Refs the background controllers must look at: objects being deleted, and objects with an owner
   * reference to a UID not stored (written so, or their owner deleted since). Everything else needs
   * nothing, so a GC pass costs what changed, not every object (32,768 owned CIDRClaims).
   */
  private readonly attention = new Set<string>();
  /** Per type, its live keys sorted (see sortedKeys). */
  private readonly sorted = new Map<string, string[]>();
  /** Past snapshots paged lists read (see snapshotAt), oldest first, at most 4. */
  private readonly snapshots = new Map<string, { map: Map<string, KubeObject>; sorted: string[] }>();

  /**
   * @param historyLimit events kept for watch resumption and paged lists; older resourceVersions get 410.
   * @param maxObjectBytes a create or update storing more JSON than this is refused as etcd does.
   *   CRs are stored as JSON, so their JSON size is what etcd measures (core kinds go as protobuf,
   *   a little smaller: the limit is conservative for them).
   */
  constructor(
    private readonly historyLimit = 2000,
    private readonly maxObjectBytes = ETCD_MAX_REQUEST_BYTES,
  ) {}

  /** Write counters of a type (`group/plural`), zero when it was never written. */
  writeStats(key: string): WriteStats {
    return { ...(this.stats.get(key) ?? emptyStats()) };
  }

  /** Write counters of every type written so far, by storage key. */
  allWriteStats(): Record<string, WriteStats> {
    return Object.fromEntries([...this.stats].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, { ...v }]));
  }

  /** Zeroes every counter (a bench or test measuring one phase). */
  resetWriteStats(): void {
    this.stats.clear();
  }

  /** The oldest resourceVersion a paged list or a watch may still start from. */
  get oldestResourceVersion(): number {
    return this.compactedRv;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /** The stored object (a copy) or undefined. */
  get(key: string, namespace: string, name: string): KubeObject | undefined {
    const o = this.data.get(key)?.get(nsName(namespace, name));
    return o ? structuredClone(o) : undefined;
  }

  /**
   * The stored object itself, not a copy (a CRD's whole schema, on every create of its kind): for
   * checks that only read it, which must not modify it.
   */
  peekOne(key: string, namespace: string, name: string): Readonly<KubeObject> | undefined {
    return this.data.get(key)?.get(nsName(namespace, name));
  }

  /** The stored object with this uid, not a copy (must not be modified), or undefined. */
  peekUid(uid: string): Readonly<KubeObject> | undefined {
    const ref = this.byUid.get(uid);
    return ref === undefined ? undefined : this.resolve(ref)?.object;
  }

  /**
   * Copies of the objects of a type, optionally in one namespace and passing `match` (which sees
   * the stored object and must not modify it), sorted by namespace/name like etcd keys.
   */
  list(key: string, namespace?: string, match?: (o: Readonly<KubeObject>) => boolean): KubeObject[] {
    return this.page(key, { namespace, match }).items;
  }

  /**
   * One page of a list, as etcd serves a range: the objects as they were at resourceVersion `at`
   * (default: now), in key order, after `after` (a namespace/name key), at most `limit` of them.
   * The past is rebuilt by undoing the history after `at`, once per (type, `at`): a paged list is
   * one consistent snapshot, as a real continue token gives; `at` older than the history window is
   * 410 Expired. A page costs what it returns, not the rest of the list (binary search of `after`
   * and of the namespace in the sorted keys): a paged list of 32,768 objects scanned, and cloned
   * up to, the whole remainder for every page of 500. `copy: false` returns the stored objects
   * themselves, for a caller that only serialises them (the HTTP list), which must not modify them.
   */
  page(key: string, o: { namespace?: string | undefined; match?: ((o: Readonly<KubeObject>) => boolean) | undefined; at?: number; after?: string; limit?: number; copy?: boolean }): ListPage {
    let m: Map<string, KubeObject> = this.data.get(key) ?? new Map();
    let sorted: string[];
    if (o.at !== undefined && o.at < this.rv) {
      if (o.at < this.compactedRv) {
        throw gone('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the response to get an inconsistent list.');
      }
      ({ map: m, sorted } = this.snapshotAt(key, o.at, m));
    } else {
      // Key order as etcd ranges: the live map's sorted keys are kept between lists (a paged list
      // of 32,768 objects sorted them once per page of 500).
      sorted = this.sortedKeys(key, m);
    }
    let start = 0;
    let end = sorted.length;
    if (o.namespace !== undefined) {
      // `ns/…` keys are contiguous in key order, below `ns0` ('0' follows '/').
      start = lowerBound(sorted, `${o.namespace}/`, false);
      end = lowerBound(sorted, `${o.namespace}0`, false);
    }
    if (o.after !== undefined) start = Math.max(start, lowerBound(sorted, o.after, true));
    const items: KubeObject[] = [];
    let lastKey: string | undefined;
    let remaining = 0;
    for (let i = start; i < end; i++) {
      const k = sorted[i]!;
      const obj = m.get(k);
      if (!obj || (o.match && !o.match(obj))) continue;
      if (o.limit !== undefined && items.length >= o.limit) {
        // Without a selector every key left in the range is an item; with one, that one more
        // matches is all a continue token needs (kube-apiserver counts no selected remainder).
        remaining = o.match ? 1 : end - i;
        break;
      }
      items.push(o.copy === false ? obj : structuredClone(obj));
      lastKey = k;
    }
    return { items, remaining, ...(lastKey === undefined ? {} : { lastKey }) };
  }

  /**
   * The objects of a type as they were at `at` (≥ the compacted revision), with their keys in key
   * order: the live map with the history after `at` undone. Kept for the last few (type, `at`)
   * pairs, as every page of one paged list reads the same snapshot, and a past snapshot never
   * changes.
   */
  private snapshotAt(key: string, at: number, live: Map<string, KubeObject>): { map: Map<string, KubeObject>; sorted: string[] } {
    const id = `${key}\n${at}`;
    const hit = this.snapshots.get(id);
    if (hit) return hit;
    const m = new Map(live);
    for (let i = this.history.length - 1; i >= 0; i--) {
      const ev = this.history[i];
      if (!ev || ev.rv <= at) break;
      if (ev.key !== key) continue;
      const k = nsName(ev.namespace, ev.object.metadata?.name ?? '');
      if (ev.type === 'ADDED') m.delete(k);
      else if (ev.prev) m.set(k, ev.prev);
    }
    const snap = { map: m, sorted: [...m.keys()].sort(byKey) };
    this.snapshots.set(id, snap);
    while (this.snapshots.size > 4) this.snapshots.delete(this.snapshots.keys().next().value as string);
    return snap;
  }

  /** The live keys of a type in key order, cached until an object of it is added or removed. */
  private sortedKeys(key: string, m: Map<string, KubeObject>): string[] {
    let s = this.sorted.get(key);
    if (!s) this.sorted.set(key, (s = [...m.keys()].sort(byKey)));
    return s;
  }

  /**
   * Records a write: refuses (413, etcd's "request is too large") an object whose JSON is over
   * the object limit, else assigns the next resourceVersion, stores (or removes, for DELETED) the object,
   * appends to history and notifies watches synchronously. Returns the stored copy.
   */
  write(key: string, type: EventType, obj: KubeObject): KubeObject {
    const meta = obj.metadata ?? {};
    const ns = meta.namespace ?? '';
    const name = meta.name ?? '';
    let m = this.data.get(key);
    if (!m) {
      m = new Map();
      this.data.set(key, m);
    }
    const prev = m.get(nsName(ns, name));
    const stored = structuredClone(obj);
    stored.metadata = { ...stored.metadata, resourceVersion: String(this.rv + 1) };
    let st = this.stats.get(key);
    if (!st) {
      st = emptyStats();
      this.stats.set(key, st);
    }
    if (type === 'DELETED') st.deletes++;
    else {
      const bytes = Buffer.byteLength(JSON.stringify(stored));
      if (bytes > this.maxObjectBytes) {
        st.refused++;
        throw etcdTooLarge();
      }
      if (type === 'ADDED') st.creates++;
      else st.updates++;
      st.bytes += bytes;
      st.largest = Math.max(st.largest, bytes);
    }
    this.rv++;
    if (type === 'DELETED' || !prev) this.sorted.delete(key);
    if (type === 'DELETED') m.delete(nsName(ns, name));
    else m.set(nsName(ns, name), stored);
    this.reindex(`${key}\n${nsName(ns, name)}`, prev, type === 'DELETED' ? undefined : stored);
    const ev: StoredEvent = { rv: this.rv, type, key, namespace: ns, object: stored };
    if (prev) ev.prev = prev;
    this.history.push(ev);
    while (this.history.length > this.historyLimit) this.compactedRv = this.history.shift()?.rv ?? this.compactedRv;
    for (const w of [...this.watches]) this.deliver(w, ev);
    return structuredClone(stored);
  }

  /**
   * The stored objects themselves, not copies: for the background controllers' scans only, which
   * must not modify them (they write through write()).
   */
  *peek(): Generator<{ key: string; object: Readonly<KubeObject> }> {
    for (const [key, m] of this.data) for (const o of [...m.values()]) yield { key, object: o };
  }

  /** Stored objects being deleted or with an owner that is not stored: what a GC pass looks at (not copies). */
  needsAttention(): Array<{ key: string; object: Readonly<KubeObject> }> {
    const out: Array<{ key: string; object: Readonly<KubeObject> }> = [];
    for (const ref of [...this.attention]) {
      const at = this.resolve(ref);
      if (at && (at.object.metadata?.deletionTimestamp || (at.object.metadata?.ownerReferences ?? []).some((r) => !this.byUid.has(r.uid)))) out.push(at);
      else this.attention.delete(ref);
    }
    return out;
  }

  /** Whether an object with this UID is stored. */
  hasUid(uid: string): boolean {
    return this.byUid.has(uid);
  }

  /** The stored objects naming `uid` as an owner (not copies), from the index. */
  dependentsOf(uid: string): Array<{ key: string; object: Readonly<KubeObject> }> {
    return [...(this.owned.get(uid) ?? [])].map((ref) => this.resolve(ref)).filter((x) => x !== undefined);
  }

  private resolve(ref: string): { key: string; object: Readonly<KubeObject> } | undefined {
    const i = ref.indexOf('\n');
    const key = ref.slice(0, i);
    const object = this.data.get(key)?.get(ref.slice(i + 1));
    return object ? { key, object } : undefined;
  }

  /** Keeps byUid, owned and attention true to one object's write (next undefined: removed). */
  private reindex(ref: string, prev: Readonly<KubeObject> | undefined, next: Readonly<KubeObject> | undefined): void {
    const pm = prev?.metadata;
    if (pm?.uid && this.byUid.get(pm.uid) === ref && next?.metadata?.uid !== pm.uid) this.byUid.delete(pm.uid);
    for (const r of pm?.ownerReferences ?? []) {
      const set = this.owned.get(r.uid);
      set?.delete(ref);
      if (set?.size === 0) this.owned.delete(r.uid);
    }
    if (!next) {
      this.attention.delete(ref);
      // Its dependents lost an owner: the GC decides what becomes of them.
      if (pm?.uid && !this.byUid.has(pm.uid)) for (const d of this.owned.get(pm.uid) ?? []) this.attention.add(d);
      return;
    }
    const nm = next.metadata ?? {};
    if (nm.uid) this.byUid.set(nm.uid, ref);
    for (const r of nm.ownerReferences ?? []) {
      let set = this.owned.get(r.uid);
      if (!set) this.owned.set(r.uid, (set = new Set()));
      set.add(ref);
    }
    if (nm.deletionTimestamp || (nm.ownerReferences ?? []).some((r) => !this.byUid.has(r.uid))) this.attention.add(ref);
  }

  /** Drops a type's objects (a CRD's resource going away) and ends its watches. No events. */
  dropKey(key: string): void {
    this.sorted.delete(key);
    for (const [k, o] of this.data.get(key) ?? []) this.reindex(`${key}\n${k}`, o, undefined);
    this.data.delete(key);
    for (const w of [...this.watches]) {
      if (w.key !== key) continue;
      this.watches.delete(w);
      w.onClose();
    }
  }

  private deliver(w: WatchSpec, ev: StoredEvent): void {
    if (ev.key !== w.key || (w.namespace !== undefined && ev.namespace !== w.namespace)) return;
    const now = w.match(ev.object);
    const before = ev.prev !== undefined && w.match(ev.prev);
    // Selector watches see an object enter (ADDED) and leave (DELETED) the selection, as the
    // kube-apiserver watch cache reports them.
    if (ev.type === 'ADDED') {
      if (now) w.send('ADDED', structuredClone(ev.object));
    } else if (ev.type === 'DELETED') {
      if (now || before) w.send('DELETED', structuredClone(ev.object));
    } else if (now && before) w.send('MODIFIED', structuredClone(ev.object));
    else if (now) w.send('ADDED', structuredClone(ev.object));
    else if (before) w.send('DELETED', structuredClone(ev.object));
  }

  /**
   * Opens a watch that first replays the history after `fromRv` and then follows live writes.
   * Throws 410 (reason Expired, what client-go and client-node re-list on) when `fromRv` is older
   * than the history window. Returns a function that cancels the watch.
   */
  watch(spec: WatchSpec, fromRv: number): () => void {
    if (fromRv < this.compactedRv) throw gone(`too old resource version: ${fromRv} (${this.compactedRv + 1})`);
    for (const ev of this.history) if (ev.rv > fromRv) this.deliver(spec, ev);
    this.watches.add(spec);
    return () => {
      this.watches.delete(spec);
    };
  }

  /** Closes every open watch now (fault injection, shutdown). Returns how many were open. */
  dropWatches(): number {
    const all = [...this.watches];
    this.watches.clear();
    for (const w of all) w.onClose();
    return all.length;
  }

  /** Forgets the history (as an etcd compaction would): every older watch resumption gets 410. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
    this.snapshots.clear();
  }

  get openWatches(): number {
    return this.watches.size;
  }
}

function emptyStats(): WriteStats {
  return { creates: 0, updates: 0, deletes: 0, refused: 0, bytes: 0, largest: 0 };
}
