// A minimal informer on KubeApi: list, then watch from the list's resourceVersion, keeping a local
// cache and calling listeners on every change. Survives what real API servers do to watches:
// streams that end (timeouts, dropped connections) are resumed from the last seen
// resourceVersion (BOOKMARKs advance it); `410 Gone` (the version was compacted away) re-lists and
// emits only the differences; transport errors and 5xx back off exponentially with jitter.
import type { KubeObject } from '../../lib/k8s/meta.js';
import type { ResourceRef } from '../../lib/k8s/resources.js';
import { ApiError, type KubeApi, type WatchEvent } from '../../kube/api.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';
export type ChangeListener<T> = (type: ChangeType, obj: T, old: T | undefined) => void;

export interface InformerOptions {
  api: KubeApi;
  ref: ResourceRef;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Server-side watch timeout (default 300 s; the stream is then resumed). */
  watchTimeoutSeconds?: number;
  /** Backoff after failures: initial and maximum delay (default 200 ms, 10 s). */
  backoffMs?: { initial: number; max: number };
  log?: (event: Record<string, unknown>) => void;
}

/** Exponential backoff with full jitter: a delay in [d/2, d], d doubling per failure up to max. */
export class Backoff {
  private failures = 0;
  constructor(
    private readonly initial: number,
    private readonly max: number,
  ) {}
  next(): number {
    const d = Math.min(this.max, this.initial * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 30);
    return d / 2 + Math.random() * (d / 2);
  }
  reset(): void {
    this.failures = 0;
  }
}

const keyOf = (o: KubeObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly listeners = new Set<ChangeListener<T>>();
  private rv = '';
  private stopped = false;
  private running: Promise<void> | undefined;
  private watch: { stop(): void } | undefined;
  private wake: (() => void) | undefined;
  private hasSynced = false;
  private failing = false;
  private syncWaiters: Array<() => void> = [];
  private readonly backoff: Backoff;
  /** Counters for tests and status: lists (including re-lists), watches started, 410s seen. */
  readonly stats = { lists: 0, watches: 0, gone: 0, errors: 0 };

  constructor(private readonly o: InformerOptions) {
    this.backoff = new Backoff(o.backoffMs?.initial ?? 200, o.backoffMs?.max ?? 10_000);
  }

  /** Starts the list/watch loop (idempotent). */
  start(): this {
    this.running ??= this.loop();
    return this;
  }

  /** Resolves once the first list has filled the cache. */
  synced(): Promise<void> {
    if (this.hasSynced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  get isSynced(): boolean {
    return this.hasSynced;
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get(name: string, namespace = ''): T | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }

  onChange(fn: ChangeListener<T>): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Stops the loop and the open watch; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.stop();
    this.wake?.();
    await this.running;
  }

  private emit(type: ChangeType, obj: T, old: T | undefined): void {
    for (const l of this.listeners) {
      try {
        l(type, obj, old);
      } catch (e) {
        this.o.log?.({ level: 'error', msg: 'informer listener failed', resource: this.o.ref.plural, error: (e as Error).message });
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async relist(): Promise<void> {
    this.stats.lists++;
    const res = await this.o.api.list<T>(this.o.ref, { namespace: this.o.namespace, labelSelector: this.o.labelSelector, fieldSelector: this.o.fieldSelector });
    const seen = new Set<string>();
    for (const item of res.items) {
      const k = keyOf(item);
      seen.add(k);
      const old = this.cache.get(k);
      this.cache.set(k, item);
      if (!old) this.emit('ADDED', item, undefined);
      else if (old.metadata?.resourceVersion !== item.metadata?.resourceVersion) this.emit('MODIFIED', item, old);
    }
    for (const [k, old] of [...this.cache]) {
      if (!seen.has(k)) {
        this.cache.delete(k);
        this.emit('DELETED', old, old);
      }
    }
    this.rv = res.resourceVersion;
    if (!this.hasSynced) {
      this.hasSynced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private apply(e: WatchEvent<T>): 'ok' | 'gone' | 'error' {
    if (e.type === 'ERROR') {
      const st = e.object as unknown as { code?: number; message?: string };
      if (st.code === 410) return 'gone';
      this.o.log?.({ level: 'warn', msg: 'watch error event', resource: this.o.ref.plural, code: st.code, error: st.message });
      return 'error';
    }
    const rv = e.object.metadata?.resourceVersion;
    if (rv) this.rv = rv;
    if (e.type === 'BOOKMARK') return 'ok';
    const k = keyOf(e.object);
    const old = this.cache.get(k);
    if (e.type === 'DELETED') {
      this.cache.delete(k);
      this.emit('DELETED', e.object, old);
    } else {
      this.cache.set(k, e.object);
      this.emit(old ? 'MODIFIED' : 'ADDED', e.object, old);
    }
    return 'ok';
  }

  private async loop(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
          this.backoff.reset();
          this.failing = false;
        }
        let outcome = 'ok' as 'ok' | 'gone' | 'error';
        this.stats.watches++;
        const h = this.o.api.watch<T>(
          this.o.ref,
          { namespace: this.o.namespace, labelSelector: this.o.labelSelector, fieldSelector: this.o.fieldSelector, resourceVersion: this.rv, timeoutSeconds: this.o.watchTimeoutSeconds ?? 300 },
          (e) => {
            if (outcome !== 'ok') return;
            outcome = this.apply(e);
            if (outcome !== 'ok') h.stop();
          },
        );
        this.watch = h;
        if (this.stopped) h.stop();
        const began = Date.now();
        await h.done;
        this.watch = undefined;
        if (outcome === 'gone') {
          this.stats.gone++;
          needList = true;
        } else if (outcome === 'error') {
          this.stats.errors++;
          needList = true;
          await this.sleep(this.backoff.next());
        } else if (Date.now() - began < 1000) {
          // A stream that ends at once (a proxy or server dropping watches) must not spin.
          await this.sleep(this.backoff.next());
        } else {
          this.backoff.reset();
          this.failing = false;
        }
      } catch (e) {
        this.watch = undefined;
        if (this.stopped) break;
        if (e instanceof ApiError && e.code === 410) {
          this.stats.gone++;
          needList = true;
          continue;
        }
        this.stats.errors++;
        // Warn once per streak of failures; the retries of a long outage are debug (the agent logs the outage).
        this.o.log?.({ level: this.failing ? 'debug' : 'warn', msg: 'list/watch failed; retrying', resource: this.o.ref.plural, error: (e as Error).message });
        this.failing = true;
        await this.sleep(this.backoff.next());
      }
    }
  }
}
