// Leader election among the agents on a coordination.k8s.io/v1 Lease (decisions in
// src/lib/cluster/lease.ts). One tick every retryMs: read the Lease, decide, write with the read
// resourceVersion (a lost race is a 409 and simply waits for the next tick). The leader steps down
// when it has not renewed for renewDeadlineMs, before its lease can expire for others, so two
// agents never both believe they lead for longer than the clock skew.
import { LEADER_LEASE_NAME, decideLease, releasedLease, type LeaseSpec } from '../../lib/cluster/lease.js';
import type { KubeObject } from '../../lib/k8s/meta.js';
import { R } from '../../lib/k8s/resources.js';
import { isAlreadyExists, isConflict, type KubeApi } from '../../kube/api.js';

export interface LeaderOptions {
  api: KubeApi;
  namespace: string;
  identity: string;
  name?: string;
  /** leaseDurationSeconds written to the Lease (default 15). */
  durationSeconds?: number;
  /** Time between attempts (default duration / 5). */
  retryMs?: number;
  /** Step down when the last successful renew is older than this (default 2/3 of the duration). */
  renewDeadlineMs?: number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  log?: (event: Record<string, unknown>) => void;
  now?: () => Date;
}

interface LeaseObject extends KubeObject {
  spec?: LeaseSpec;
}

export class LeaderElector {
  private leading = false;
  private lastRenew = 0;
  /** The last round failed: further failures of the streak are logged at debug. */
  private failing = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking: Promise<void> = Promise.resolve();
  readonly name: string;
  private readonly duration: number;
  private readonly retryMs: number;
  private readonly deadlineMs: number;
  private readonly now: () => Date;

  constructor(private readonly o: LeaderOptions) {
    this.name = o.name ?? LEADER_LEASE_NAME;
    this.duration = o.durationSeconds ?? 15;
    this.retryMs = o.retryMs ?? (this.duration * 1000) / 5;
    this.deadlineMs = o.renewDeadlineMs ?? (this.duration * 1000 * 2) / 3;
    this.now = o.now ?? (() => new Date());
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): this {
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.retryMs);
      });
    };
    loop();
    return this;
  }

  /** One election round (exported for tests and for a prompt first attempt). */
  async tick(): Promise<void> {
    const now = this.now();
    // A hung API call must not keep us "leading" past the deadline: bound the whole round by it.
    let timer: NodeJS.Timeout | undefined;
    const live = { ok: true };
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        live.ok = false;
        reject(new Error(`lease round took longer than ${this.deadlineMs} ms`));
      }, this.deadlineMs);
    });
    try {
      await Promise.race([this.round(now, live), limit]);
      this.failing = false;
    } catch (e) {
      if (!isConflict(e) && !isAlreadyExists(e)) {
        this.o.log?.({ level: this.failing ? 'debug' : 'warn', msg: 'leader lease update failed', error: (e as Error).message });
        this.failing = true;
      }
      if (this.leading && this.now().getTime() - this.lastRenew > this.deadlineMs) this.setLeading(false, 'renew deadline passed');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads, decides, writes. A round abandoned by the deadline (`live.ok` false) changes nothing locally. */
  private async round(now: Date, live: { ok: boolean }): Promise<void> {
    const lease = await this.o.api.get<LeaseObject>(R.Lease, this.name, this.o.namespace);
    const d = decideLease(lease?.spec, lease !== undefined, this.o.identity, this.duration, now);
    if (!live.ok) return;
    if (d.action === 'wait') {
      this.setLeading(false, `lease held by ${d.holder}`);
      return;
    }
    if (d.action === 'create') {
      await this.o.api.create<LeaseObject>(R.Lease, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.name, namespace: this.o.namespace }, spec: d.spec });
    } else {
      await this.o.api.replace<LeaseObject>(R.Lease, { ...lease, metadata: { ...lease?.metadata, name: this.name, namespace: this.o.namespace }, spec: d.spec });
    }
    if (!live.ok) return;
    this.lastRenew = now.getTime();
    if (d.action === 'takeover') this.o.log?.({ level: 'info', msg: 'took over the leader lease', from: d.from || '(released)' });
    this.setLeading(true, d.action);
  }

  private setLeading(v: boolean, why: string): void {
    if (v === this.leading) return;
    this.leading = v;
    this.o.log?.({ level: 'info', msg: v ? 'became leader' : 'stopped leading', identity: this.o.identity, why });
    if (v) this.o.onStartedLeading?.();
    else this.o.onStoppedLeading?.();
  }

  /**
   * Stops electing. With `release`, a leader empties the holder so another agent takes over at once
   * instead of after the lease expires (clean shutdown); a crash simply stops renewing.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking.catch(() => undefined);
    if (this.leading && opts.release) {
      try {
        const lease = await this.o.api.get<LeaseObject>(R.Lease, this.name, this.o.namespace);
        if (lease?.spec?.holderIdentity === this.o.identity) await this.o.api.replace<LeaseObject>(R.Lease, { ...lease, spec: releasedLease(lease.spec, this.now()) });
      } catch {
        // expiry hands the lease over anyway
      }
    }
    this.setLeading(false, 'stopped');
  }
}
