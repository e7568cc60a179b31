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
  /** Matching objects after this page (0 when it is the last). */
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
   * Copies of the objects of a type, optionally in one namespace and passing `match` (which sees
   * the stored object and must not modify it), sorted by namespace/name like etcd keys.
   */
  list(key: string, namespace?: string, match?: (o: Readonly<KubeObject>) => boolean): KubeObject[] {
    return this.page(key, { namespace, match }).items;
  }

  /**
   * One page of a list, as etcd serves a range: the objects as they were at resourceVersion `at`
   * (default: now), in key order, after `after` (a namespace/name key), at most `limit` of them.
   * The past is rebuilt by undoing the history after `at`, so a paged list is one consistent
   * snapshot, as a real continue token gives; `at` older than the history window is 410 Expired.
   */
  page(key: string, o: { namespace?: string | undefined; match?: ((o: Readonly<KubeObject>) => boolean) | undefined; at?: number; after?: string; limit?: number }): ListPage {
    let m: Map<string, KubeObject> = this.data.get(key) ?? new Map();
    if (o.at !== undefined && o.at < this.rv) {
      if (o.at < this.compactedRv) {
        throw gone('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the response to get an inconsistent list.');
      }
      m = new Map(m);
      for (let i = this.history.length - 1; i >= 0; i--) {
        const ev = this.history[i];
        if (!ev || ev.rv <= o.at) break;
        if (ev.key !== key) continue;
        const k = nsName(ev.namespace, ev.object.metadata?.name ?? '');
        if (ev.type === 'ADDED') m.delete(k);
        else if (ev.prev) m.set(k, ev.prev);
      }
    }
    const keys = [...m.keys()]
      .filter((k) => (o.namespace === undefined || k.startsWith(`${o.namespace}/`)) && (o.after === undefined || k > o.after))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const items: KubeObject[] = [];
    let lastKey: string | undefined;
    let remaining = 0;
    for (const k of keys) {
      const obj = m.get(k);
      if (!obj || (o.match && !o.match(obj))) continue;
      if (o.limit !== undefined && items.length >= o.limit) {
        remaining++;
        continue;
      }
      items.push(structuredClone(obj));
      lastKey = k;
    }
    return { items, remaining, ...(lastKey === undefined ? {} : { lastKey }) };
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
    if (type === 'DELETED') m.delete(nsName(ns, name));
    else m.set(nsName(ns, name), stored);
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

  /** Drops a type's objects (a CRD's resource going away) and ends its watches. No events. */
  dropKey(key: string): void {
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
  }

  get openWatches(): number {
    return this.watches.size;
  }
}

function emptyStats(): WriteStats {
  return { creates: 0, updates: 0, deletes: 0, refused: 0, bytes: 0, largest: 0 };
}
