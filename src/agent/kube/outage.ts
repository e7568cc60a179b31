// The agent's view of whether the Kubernetes API answers, from the outcome of every call it makes
// (trackApi wraps the KubeApi). The node's data path never waits on the API; this only reports an
// outage: once when it starts, every reportMs while it lasts, and when it ends (with its duration),
// when `onRestored` lets the agent post an Event. Every loop keeps retrying on its own backoff.
import type { KubeObject } from '../../lib/k8s/meta.js';
import type { ResourceRef } from '../../lib/k8s/resources.js';
import { ApiError, type KObject, type KubeApi, type ListOptions, type WatchEvent, type WatchHandle } from '../../kube/api.js';

export interface ApiOutageOptions {
  server?: string;
  /** Period of the "still unreachable" log while down (default 60 s). */
  reportMs?: number;
  log?: (event: Record<string, unknown>) => void;
  /** Called when the API answers again after an outage. */
  onRestored?: (o: { since: Date; downMs: number; failures: number }) => void;
  now?: () => number;
}

/** "2m 5s", "45s", "1h 2m". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [h ? `${h}h` : '', m ? `${m}m` : '', s % 60 || (!h && !m) ? `${s % 60}s` : ''].filter(Boolean);
  return parts.join(' ');
}

export class ApiOutage {
  private downSince: number | undefined;
  private lastOk = -Infinity;
  private failures = 0;
  private lastError = '';
  private timer: NodeJS.Timeout | undefined;
  /** The clock calls are timed with (trackApi stamps each call's start with it). */
  readonly now: () => number;
  /** Outages seen so far (status, tests). */
  readonly stats = { outages: 0, failures: 0 };

  constructor(private readonly o: ApiOutageOptions = {}) {
    this.now = o.now ?? Date.now;
  }

  /** True while the last call failed to reach the API. */
  get down(): boolean {
    return this.downSince !== undefined;
  }

  /**
   * A call begun at `startedAt` failed without an answer from the API (transport error, timeout,
   * 401/403). A call begun before the API last answered is stale news (a request that timed out
   * as the API came back) and starts no outage.
   */
  failed(e: unknown, startedAt = this.now()): void {
    if (this.downSince === undefined && startedAt < this.lastOk) return;
    this.failures++;
    this.stats.failures++;
    this.lastError = (e as Error).message ?? String(e);
    if (this.downSince !== undefined) return;
    this.downSince = this.now();
    this.stats.outages++;
    this.o.log?.({ level: 'warn', msg: 'Kubernetes API unreachable: pod ADD/DEL keep being served from the caches and the journal; API writes are retried with backoff', server: this.o.server, error: this.lastError });
    this.timer = setInterval(() => {
      if (this.downSince === undefined) return;
      this.o.log?.({ level: 'warn', msg: 'Kubernetes API still unreachable', server: this.o.server, for: formatDuration(this.now() - this.downSince), failedCalls: this.failures, error: this.lastError });
    }, this.o.reportMs ?? 60_000);
    this.timer.unref();
  }

  /**
   * A call begun at `startedAt` got an answer from the API (any HTTP status). An answer to a call
   * begun before the outage was seen is stale news too (a response already on its way as the
   * connections were reset) and ends none; a watch event is news of now.
   */
  ok(startedAt = this.now()): void {
    this.lastOk = this.now();
    if (this.downSince === undefined || startedAt < this.downSince) return;
    const since = this.downSince;
    const downMs = this.now() - since;
    const failures = this.failures;
    this.downSince = undefined;
    this.failures = 0;
    clearInterval(this.timer);
    this.o.log?.({ level: 'info', msg: 'Kubernetes API reachable again', server: this.o.server, after: formatDuration(downMs), downMs, failedCalls: failures });
    this.o.onRestored?.({ since: new Date(since), downMs, failures });
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** `api` with every call's outcome reported to `outage`; same contract otherwise. */
export function trackApi(api: KubeApi, outage: ApiOutage): KubeApi {
  // An ApiError is an answer (404, 409, 500...): the API is up. Anything else never got one.
  const answered = (e: unknown): boolean => e instanceof ApiError;
  const wrap =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const started = outage.now();
      try {
        const r = await fn(...a);
        outage.ok(started);
        return r;
      } catch (e) {
        if (answered(e)) outage.ok(started);
        else outage.failed(e, started);
        throw e;
      }
    };
  const tracked: KubeApi = {
    server: api.server,
    namespace: api.namespace,
    version: wrap(api.version.bind(api)),
    get: wrap(api.get.bind(api)) as KubeApi['get'],
    list: wrap(api.list.bind(api)) as KubeApi['list'],
    create: wrap(api.create.bind(api)) as KubeApi['create'],
    replace: wrap(api.replace.bind(api)) as KubeApi['replace'],
    patch: wrap(api.patch.bind(api)) as KubeApi['patch'],
    delete: wrap(api.delete.bind(api)),
    podLog: wrap(api.podLog.bind(api)),
    watch: <T extends KObject = KubeObject>(r: ResourceRef, opts: ListOptions & { resourceVersion?: string; timeoutSeconds?: number }, onEvent: (e: WatchEvent<T>) => void): WatchHandle => {
      const started = outage.now();
      const h = api.watch<T>(r, opts, (e) => {
        outage.ok();
        onEvent(e);
      });
      const done = h.done.then(
        () => undefined,
        (e: unknown) => {
          if (answered(e)) outage.ok(started);
          else outage.failed(e, started);
          throw e;
        },
      );
      return { stop: () => h.stop(), done };
    },
  };
  return tracked;
}
