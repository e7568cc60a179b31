// The storage layer: objects, the global resourceVersion counter, a bounded event history and the
// open watches. One counter for everything, like etcd's revision: every write gets the next number,
// so resourceVersions are comparable across types (clients must treat them as opaque; we may not).
// Semantics (what a write means) live in api.ts; this only records and fans out.
import type { KubeObject } from '../../lib/k8s/meta.js';
import { gone } from './errors.js';

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

export class Store {
  private rv = 0;
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoredEvent[] = [];
  /** The newest resourceVersion whose event is no longer in history (0: nothing dropped yet). */
  private compactedRv = 0;
  private readonly watches = new Set<WatchSpec>();

  /** @param historyLimit events kept for watch resumption; older resourceVersions get 410. */
  constructor(private readonly historyLimit = 2000) {}

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
    const m = this.data.get(key);
    if (!m) return [];
    return [...m.entries()]
      .filter(([k, o]) => (namespace === undefined || k.startsWith(`${namespace}/`)) && (!match || match(o)))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => structuredClone(o));
  }

  /**
   * Records a write: assigns the next resourceVersion, stores (or removes, for DELETED) the object,
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
    stored.metadata = { ...stored.metadata, resourceVersion: String(++this.rv) };
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
