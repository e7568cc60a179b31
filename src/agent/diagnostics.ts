// When the node is probed and where the result goes: every `intervalMs` (always published, so a
// reader can tell a live agent from a dead one by observedAt), soon after a repair or a change the
// agent noticed (published only when something besides observedAt changed), and at once on an
// on-demand request carrying a nonce (published with that nonce, which later blocks keep: they were
// read after the request too). Probes and publishes run one at a time, in order.
// Routine kicks (a link event that changed no NIC: every pod attached to a NIC makes one) are
// spaced: a probe spawns processes (src/agent/probe.ts), and under pod churn they added to the
// probe each pod's ADD and DEL asks for (a change: its allocations are published with it).
import { nodeConditions, type NodeCondition } from '../lib/diagnostics/conditions.js';
import type { NodeDiagnostics } from '../lib/diagnostics/types.js';
import { canonical } from '../lib/cluster/claim.js';
import type { NodeProber } from './probe.js';
import type { HealthReport } from '../lib/diagnostics/health.js';

/** Where diagnostics are published (the HostInterface status in --kube mode). */
export interface DiagnosticsSink {
  publish(d: NodeDiagnostics, conditions: NodeCondition[]): Promise<void>;
  /** Conditions last published (keeps lastTransitionTime across agent restarts). */
  previousConditions(): NodeCondition[] | undefined;
  /** Calls `cb` with the nonce of every new on-demand request; returns the unsubscribe function. */
  onRequest(cb: (nonce: string) => void): () => void;
  stop?(): void;
}

export interface DiagnosticsLoopOptions {
  prober: NodeProber;
  sink?: DiagnosticsSink;
  /** The newest continuous health round (src/agent/health.ts), published inside the diagnostics. */
  health?: () => HealthReport | undefined;
  /** Periodic probe (default 30 s). */
  intervalMs?: number;
  /** Delay of a kicked probe, collapsing bursts (default 100 ms). */
  kickDelayMs?: number;
  /** Least time from the start of one probe to a probe a routine kick asks for (default 2 s). */
  kickMinIntervalMs?: number;
  /** Called after every probe (tests, the agent's state endpoint). */
  onProbe?: (d: NodeDiagnostics, conditions: NodeCondition[], why: 'periodic' | 'kick' | 'request') => void;
  log?: (event: Record<string, unknown>) => void;
}

/** Equal but for when the kernel was read and which request it answers: what decides a kicked write. */
export function sameDiagnostics(a: NodeDiagnostics | undefined, b: NodeDiagnostics): boolean {
  if (!a) return false;
  // A health round that found the same is no change either (its time and duration aside).
  const strip = (d: NodeDiagnostics) => ({ ...d, observedAt: '', nonce: '', ...(d.health ? { health: { ...d.health, observedAt: '', durationMs: 0 } } : {}) });
  return canonical(strip(a)) === canonical(strip(b));
}

export class DiagnosticsLoop {
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private kickTimer: NodeJS.Timeout | undefined;
  /** When the pending kick's probe is due (Date.now() time), and when the last probe began. */
  private kickAt = 0;
  private lastProbeAt = Number.NEGATIVE_INFINITY;
  private unsub: (() => void) | undefined;
  private stopped = false;
  private lastPublished: NodeDiagnostics | undefined;
  private lastDiag: NodeDiagnostics | undefined;
  private conditions: NodeCondition[] | undefined;
  /** The last request answered: later blocks carry it too (read after it arrived, they answer it as well). */
  private answered: string | undefined;

  constructor(private readonly o: DiagnosticsLoopOptions) {}

  start(): this {
    this.unsub = this.o.sink?.onRequest((nonce) => void this.request(nonce));
    const t = setInterval(() => void this.run('periodic'), this.o.intervalMs ?? 30_000);
    t.unref();
    this.timer = t;
    void this.run('periodic');
    return this;
  }

  /** The newest diagnostics and conditions (undefined before the first probe). */
  get last(): { diagnostics: NodeDiagnostics; conditions: NodeCondition[] } | undefined {
    return this.lastDiag && this.conditions ? { diagnostics: this.lastDiag, conditions: this.conditions } : undefined;
  }

  /**
   * A probe soon; published only when the result changed. `change` (a pod's ADD, DEL or GC, a
   * reconcile, a repair, a release, a health round): after kickDelayMs. `routine` (a link event
   * that changed no NIC): after kickDelayMs and no sooner than kickMinIntervalMs after the last
   * probe began. Kicks while one is pending join it, and a change brings a pending routine probe
   * forward.
   */
  kick(why: 'change' | 'routine' = 'change'): void {
    if (this.stopped) return;
    const now = Date.now();
    const delay = this.o.kickDelayMs ?? 100;
    const wait = why === 'change' ? delay : Math.max(delay, this.lastProbeAt + (this.o.kickMinIntervalMs ?? 2000) - now);
    if (this.kickTimer) {
      if (now + wait >= this.kickAt) return;
      clearTimeout(this.kickTimer);
    }
    this.kickAt = now + wait;
    this.kickTimer = setTimeout(() => {
      this.kickTimer = undefined;
      void this.run('kick');
    }, wait);
  }

  /** Probes now for an on-demand request and publishes with its nonce. */
  request(nonce: string): Promise<NodeDiagnostics | undefined> {
    return this.run('request', nonce);
  }

  /** Probes now and publishes (periodic semantics); resolves with the result. */
  probeNow(): Promise<NodeDiagnostics | undefined> {
    return this.run('periodic');
  }

  private run(why: 'periodic' | 'kick' | 'request', nonce?: string): Promise<NodeDiagnostics | undefined> {
    const next = this.chain.then(async () => {
      if (this.stopped) return undefined;
      this.lastProbeAt = Date.now();
      let d: NodeDiagnostics;
      if (nonce) this.answered = nonce;
      const carried = nonce ?? this.answered;
      try {
        d = await this.o.prober.probe({ fresh: true, ...(carried ? { nonce: carried } : {}) });
        const health = this.o.health?.();
        if (health) d = { ...d, health };
      } catch (e) {
        this.o.log?.({ level: 'error', msg: 'node probe failed', error: (e as Error).message });
        return undefined;
      }
      const conditions = nodeConditions(d, this.conditions ?? this.o.sink?.previousConditions(), d.observedAt);
      this.lastDiag = d;
      this.conditions = conditions;
      this.o.onProbe?.(d, conditions, why);
      if (this.o.sink && (why !== 'kick' || !sameDiagnostics(this.lastPublished, d))) {
        try {
          await this.o.sink.publish(d, conditions);
          this.lastPublished = d;
        } catch (e) {
          this.o.log?.({ level: 'warn', msg: 'diagnostics publish failed; will retry', error: (e as Error).message });
        }
      }
      return d;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.kickTimer);
    this.unsub?.();
    this.o.sink?.stop?.();
    await this.chain;
  }
}
