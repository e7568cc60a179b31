// In-process access to the stand-in for tests and the lab (seeding Nodes, marking pods Running,
// appending pod logs, forcing compaction), addressed by apiVersion/kind like a manifest. Every
// call has the HTTP API's semantics (validation, resourceVersions, events to watchers).
import type { KubeObject } from '../../lib/k8s/meta.js';
import type { Api, DeleteOptions, ListOptions, PatchType, WriteOptions } from './api.js';
import type { WriteStats } from './store.js';
import type { ReadStats } from './traffic.js';

export class StoreHandle {
  constructor(readonly api: Api) {}

  /** The global resourceVersion (the last write's). */
  get resourceVersion(): number {
    return this.api.store.resourceVersion;
  }

  /** Number of open watch streams. */
  get openWatches(): number {
    return this.api.store.openWatches;
  }

  create(obj: KubeObject, opts?: WriteOptions): KubeObject {
    const t = this.api.typeOf(obj.apiVersion ?? '', obj.kind ?? '');
    return this.api.create(t, obj.metadata?.namespace ?? '', obj, opts);
  }

  get(apiVersion: string, kind: string, name: string, namespace = ''): KubeObject | undefined {
    const t = this.api.typeOf(apiVersion, kind);
    try {
      return this.api.get(t, namespace, name);
    } catch (e) {
      if ((e as { code?: number }).code === 404) return undefined;
      throw e;
    }
  }

  list(apiVersion: string, kind: string, namespace?: string, opts?: ListOptions): KubeObject[] {
    return this.api.list(this.api.typeOf(apiVersion, kind), namespace, opts).items;
  }

  /** PUT semantics (409 on a stale metadata.resourceVersion). */
  update(obj: KubeObject, opts?: WriteOptions): KubeObject {
    const t = this.api.typeOf(obj.apiVersion ?? '', obj.kind ?? '');
    return this.api.update(t, obj.metadata?.namespace ?? '', obj.metadata?.name ?? '', obj, opts);
  }

  /** PUT of the status subresource. */
  updateStatus(obj: KubeObject, opts?: WriteOptions): KubeObject {
    const t = this.api.typeOf(obj.apiVersion ?? '', obj.kind ?? '');
    return this.api.update(t, obj.metadata?.namespace ?? '', obj.metadata?.name ?? '', obj, opts, 'status');
  }

  patch(apiVersion: string, kind: string, name: string, namespace: string, type: PatchType, patch: unknown, subresource?: 'status'): KubeObject {
    return this.api.patch(this.api.typeOf(apiVersion, kind), namespace, name, type, patch, {}, subresource);
  }

  delete(apiVersion: string, kind: string, name: string, namespace = '', opts?: DeleteOptions): KubeObject {
    return this.api.delete(this.api.typeOf(apiVersion, kind), namespace, name, opts);
  }

  /** Appends text to a pod container's log (default: its first container). */
  appendPodLog(namespace: string, pod: string, text: string, container?: string): void {
    this.api.appendPodLog(namespace, pod, text, container);
  }

  /** Write counters of one resource by its storage key (`group/plural`, core: `/plural`). */
  writeStats(key: string): WriteStats {
    return this.api.store.writeStats(key);
  }

  /** Write counters of every resource written, by storage key. */
  allWriteStats(): Record<string, WriteStats> {
    return this.api.store.allWriteStats();
  }

  /** Zeroes the write counters (measure one phase). */
  resetWriteStats(): void {
    this.api.store.resetWriteStats();
  }

  /**
   * What clients read over HTTP from one resource by its storage key: list requests (pages), items
   * listed, watches opened (and those without a selector), watch events sent and their bytes.
   */
  readStats(key: string): ReadStats {
    return this.api.traffic.get(key);
  }

  /** Read counters of every resource read, by storage key. */
  allReadStats(): Record<string, ReadStats> {
    return this.api.traffic.all();
  }

  /** Zeroes the read counters (measure one phase). */
  resetReadStats(): void {
    this.api.traffic.reset();
  }

  /** Drops the watch history: resuming any earlier resourceVersion now gets 410. */
  compact(): void {
    this.api.store.compact();
  }

  /** Resolves once background controllers (GC, namespace and CRD cleanup) have caught up. */
  async settle(): Promise<void> {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  }
}
