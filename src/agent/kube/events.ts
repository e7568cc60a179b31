// Records Kubernetes Events for the agent's failures. Fire-and-forget: recording never blocks or
// fails the work it reports on, and the same (object, reason) is recorded at most once per
// dedupeMs so a retry loop does not flood the API.
import { renderEvent, type EventReason, type EventSubject } from '../../lib/cluster/events.js';
import { R } from '../../lib/k8s/resources.js';
import type { KubeApi } from '../../kube/api.js';

export interface EventRecorderOptions {
  api: KubeApi;
  host: string;
  /** Namespace for events about cluster-scoped objects (the agent's). */
  namespace: string;
  dedupeMs?: number;
  log?: (event: Record<string, unknown>) => void;
  /** True while a failure to record is expected (the API is known to be down): logged at debug. */
  quiet?: () => boolean;
}

export class EventRecorder {
  private readonly last = new Map<string, number>();
  private seq = 0;
  private pending = new Set<Promise<unknown>>();

  constructor(private readonly o: EventRecorderOptions) {}

  record(subject: EventSubject, reason: EventReason, message: string, type: 'Normal' | 'Warning' = 'Warning'): void {
    const key = `${subject.kind}/${subject.namespace ?? ''}/${subject.name}/${reason}`;
    const now = Date.now();
    const prev = this.last.get(key);
    if (prev !== undefined && now - prev < (this.o.dedupeMs ?? 60_000)) return;
    this.last.set(key, now);
    const ev = renderEvent({ subject, reason, message, type, host: this.o.host, namespace: this.o.namespace, now: new Date(now), seq: this.seq++ });
    const p = this.o.api
      .create(R.Event, ev)
      .catch((e: Error) => this.o.log?.({ level: this.o.quiet?.() ? 'debug' : 'warn', msg: 'could not record event', reason, error: e.message }))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Waits for events in flight (tests, shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}
