// Records Kubernetes Events for the agent's failures, aggregated as Kubernetes' event recorder does: a
// lasting failure is ONE Event whose count and lastTimestamp grow (`kubectl get events` shows
// "x12 over 11m"), not a new Event a minute. Fire-and-forget: recording never blocks or fails the
// work it reports on. API writes per (object, reason) are at most one per dedupeMs: repeats in
// between are counted and written with the next update. A write that fails is retried with the
// next occurrence, so an outage loses no count.
import { renderEvent, type EventReason, type EventSubject } from '../../lib/cluster/events.js';
import { R } from '../../lib/k8s/resources.js';
import { ApiError, type KubeApi } from '../../kube/api.js';

export interface EventRecorderOptions {
  api: KubeApi;
  host: string;
  /** Namespace for events about cluster-scoped objects (the agent's). */
  namespace: string;
  /** At most one API write per (object, reason) this often (default 60 s). */
  dedupeMs?: number;
  /** A series older than this starts a new Event (default 1 h, kube-apiserver's default event TTL). */
  seriesTtlMs?: number;
  log?: (event: Record<string, unknown>) => void;
  /** True while a failure to record is expected (the API is known to be down): logged at debug. */
  quiet?: () => boolean;
  now?: () => number;
}

/** One Event as it grows: what is written, and what is counted but not yet written. */
interface Series {
  subject: EventSubject;
  reason: EventReason;
  type: 'Normal' | 'Warning';
  message: string;
  /** Event name and namespace once created. */
  name?: string;
  namespace?: string;
  firstAt: number;
  firstTimestamp: string;
  count: number;
  written: number;
  lastWriteAt: number;
  writing?: Promise<void>;
  timer?: NodeJS.Timeout;
}

export class EventRecorder {
  private readonly series = new Map<string, Series>();
  private seq = 0;
  private pending = new Set<Promise<unknown>>();

  constructor(private readonly o: EventRecorderOptions) {}

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  record(subject: EventSubject, reason: EventReason, message: string, type: 'Normal' | 'Warning' = 'Warning'): void {
    const key = `${subject.kind}/${subject.namespace ?? ''}/${subject.name}/${reason}`;
    const now = this.now();
    let s = this.series.get(key);
    if (s && now - s.firstAt >= (this.o.seriesTtlMs ?? 3_600_000)) {
      if (s.timer) clearTimeout(s.timer);
      s = undefined;
    }
    if (!s) {
      s = { subject, reason, type, message, firstAt: now, firstTimestamp: new Date(now).toISOString(), count: 0, written: 0, lastWriteAt: -Infinity };
      this.series.set(key, s);
    }
    s.count++;
    s.message = message;
    s.type = type;
    this.schedule(s);
  }

  /** Writes now if the series may be written, else once its dedupe window ends. */
  private schedule(s: Series): void {
    if (s.writing || s.timer) return; // the running write or the timer picks the new count up
    const wait = s.lastWriteAt + (this.o.dedupeMs ?? 60_000) - this.now();
    if (wait > 0) {
      s.timer = setTimeout(() => {
        s.timer = undefined;
        this.write(s);
      }, wait);
      s.timer.unref();
      return;
    }
    this.write(s);
  }

  private write(s: Series): void {
    if (s.count === s.written) return;
    const count = s.count;
    const nowMs = this.now();
    const p = this.send(s, count, new Date(nowMs))
      .then(() => {
        s.written = count;
        s.lastWriteAt = nowMs;
      })
      .catch((e: Error) => this.o.log?.({ level: this.o.quiet?.() ? 'debug' : 'warn', msg: 'could not record event', reason: s.reason, error: e.message }))
      .finally(() => {
        s.writing = undefined;
        this.pending.delete(p);
        // Counted meanwhile: write again when allowed. A failed write waits for the next occurrence.
        if (s.written === count && s.count > s.written) this.schedule(s);
      });
    s.writing = p;
    this.pending.add(p);
  }

  /** Creates the Event, or updates its count, lastTimestamp and message; recreates it when it expired. */
  private async send(s: Series, count: number, at: Date): Promise<void> {
    if (s.name && s.namespace) {
      try {
        await this.o.api.patch(R.Event, s.name, { count, lastTimestamp: at.toISOString(), message: s.message.slice(0, 1024), type: s.type }, { namespace: s.namespace, type: 'merge' });
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
    }
    const ev = renderEvent({ subject: s.subject, reason: s.reason, message: s.message, type: s.type, host: this.o.host, namespace: this.o.namespace, now: at, seq: this.seq++ });
    const created = await this.o.api.create(R.Event, { ...ev, count, firstTimestamp: s.firstTimestamp });
    s.name = created.metadata?.name ?? ev.metadata?.name;
    s.namespace = created.metadata?.namespace ?? ev.metadata?.namespace;
  }

  /** Writes what is counted but not yet written, and waits for writes in flight (tests, shutdown). */
  async drain(): Promise<void> {
    for (;;) {
      for (const s of this.series.values()) {
        if (!s.timer) continue;
        clearTimeout(s.timer);
        s.timer = undefined;
        if (!s.writing) this.write(s);
      }
      if (this.pending.size === 0) return;
      await Promise.all([...this.pending]);
    }
  }
}
