// IPPool mirroring: the IPAM journal is the truth, IPPool resources its published copy. The pod ADD
// path never waits on the API: `observeIpam` wraps the Ipam port so a successful allocate/release
// only marks the touched pools dirty (a Set insert); a timer flushes dirty pools in one batch
// (coalescing bursts: 100 ADDs into one pool are one write), and a periodic resync compares every
// pool with the server (restarts, lost writes, pools that left the CIDR).
import { DirtySet, HOSTNAME_LABEL, renderIPPool } from '../../lib/cluster/ippool.js';
import { canonical } from '../../lib/cluster/claim.js';
import type { IPPool, MultiNicNetwork } from '../../lib/crds/types.gen.js';
import type { Allocation, Ipam, PoolSpec } from '../../lib/ipam/types.js';
import { R } from '../../lib/k8s/resources.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeApi } from '../../kube/api.js';
import { ownerRefs } from './claim.js';
import type { K } from './kinds.js';

/**
 * Wraps an Ipam so every change calls `onChange(pools)` after it is durable, and every failure
 * calls `onError`. Same contract as the wrapped port otherwise; extra methods (close, setPools)
 * pass through.
 */
export function observeIpam<T extends Ipam>(ipam: T, onChange: (pools: string[]) => void, onError?: (e: unknown) => void): T {
  const allocate: Ipam['allocate'] = async (items) => {
    try {
      const out = await ipam.allocate(items);
      onChange([...new Set(out.map((a) => a.pool))]);
      return out;
    } catch (e) {
      onError?.(e);
      throw e;
    }
  };
  const release: Ipam['release'] = async (sel) => {
    const out = await ipam.release(sel);
    if (out.length) onChange([...new Set(out.map((a) => a.pool))]);
    return out;
  };
  return new Proxy(ipam, {
    get(target, prop, receiver) {
      if (prop === 'allocate') return allocate;
      if (prop === 'release') return release;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export interface MirrorOptions {
  api: KubeApi;
  hostName: string;
  ipam: Pick<Ipam, 'list'>;
  /** This host's pools now (from the networks' CIDRs), with the network each belongs to. */
  pools: () => Array<{ spec: PoolSpec; network: MultiNicNetwork }>;
  /** Delay before flushing dirty pools (default 200 ms): the batching window. */
  flushMs?: number;
  /** Full comparison with the server (default 30 s). */
  resyncMs?: number;
  log?: (event: Record<string, unknown>) => void;
}

/** Longest pause between retries of failed pool writes (the API may be down for minutes). */
const MAX_RETRY_MS = 30_000;

export class IPPoolMirror {
  private readonly dirty = new DirtySet();
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** A flush queued behind a running write: later flushes join it (it takes the dirty set when it starts). */
  private queued: Promise<void> | undefined;
  /** Consecutive rounds with a failed write: the retry backs off exponentially, capped. */
  private failures = 0;
  private stopped = false;
  /** Writes issued (create + replace + delete), for tests and the bench. */
  readonly stats = { writes: 0, flushes: 0, conflicts: 0 };

  constructor(private readonly o: MirrorOptions) {}

  start(): this {
    const loop = () => {
      if (this.stopped) return;
      // A failed resync (the API down) is logged by serial(); it must not reject here, where no
      // one awaits it: that unhandled rejection was what took agents down after a few minutes
      // without the API (the first resync whose final list failed).
      void this.resync()
        .catch(() => undefined)
        .finally(() => {
          if (!this.stopped) this.resyncTimer = setTimeout(loop, this.o.resyncMs ?? 30_000);
        });
    };
    loop();
    return this;
  }

  /** Marks pools changed; a flush follows within flushMs (later while writes fail). Never blocks. */
  mark(pools: readonly string[]): void {
    for (const p of pools) this.dirty.mark(p);
    this.schedule(this.retryDelay());
  }

  private retryDelay(): number {
    const base = this.o.flushMs ?? 200;
    if (this.failures === 0) return base;
    const d = Math.min(MAX_RETRY_MS, base * 2 ** Math.min(this.failures, 20));
    return d / 2 + Math.random() * (d / 2);
  }

  private schedule(ms: number): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => undefined);
    }, ms);
  }

  /** Writes every dirty pool now (serialised with other flushes). */
  flush(): Promise<void> {
    if (this.queued) return this.queued;
    const p = this.serial(async () => {
      this.queued = undefined;
      const names = this.dirty.take();
      if (names.length) await this.write(new Set(names), false);
    });
    this.queued = p;
    return p;
  }

  /** Compares all of this host's pools with the server and fixes differences; deletes departed pools. */
  resync(): Promise<void> {
    return this.serial(() => this.write(undefined, true));
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch((e: Error) => this.o.log?.({ level: this.failures > 1 ? 'debug' : 'warn', msg: 'IPPool mirror failed; will retry', error: e.message }));
    return next;
  }

  private async write(only: Set<string> | undefined, prune: boolean): Promise<void> {
    this.stats.flushes++;
    const pools = this.o.pools();
    const held = this.o.ipam.list();
    const byPool = new Map<string, Allocation[]>();
    for (const a of held) byPool.set(a.pool, [...(byPool.get(a.pool) ?? []), a]);
    const failed: string[] = [];
    for (const { spec, network } of pools) {
      if (only && !only.has(spec.name)) continue;
      try {
        await this.put(spec, byPool.get(spec.name) ?? [], network);
      } catch (e) {
        failed.push(spec.name);
        // The first failure of a streak is a warning; while the API stays down, debug (the agent logs the outage itself).
        this.o.log?.({ level: this.failures === 0 ? 'warn' : 'debug', msg: 'IPPool write failed; will retry', pool: spec.name, error: (e as Error).message });
      }
    }
    for (const f of failed) this.dirty.mark(f);
    if (failed.length) {
      this.failures++;
      this.schedule(this.retryDelay());
    } else if (pools.some((p) => !only || only.has(p.spec.name))) this.failures = 0;
    if (prune) {
      const want = new Set(pools.map((p) => p.spec.name));
      const have = await this.o.api.list<K<IPPool>>(R.IPPool, { labelSelector: `${HOSTNAME_LABEL}=${this.o.hostName}` });
      for (const p of have.items) {
        const name = p.metadata.name ?? '';
        if (want.has(name) || p.spec.hostName !== this.o.hostName) continue;
        this.stats.writes++;
        await this.o.api.delete(R.IPPool, name);
      }
    }
  }

  private async put(spec: PoolSpec, allocs: Allocation[], network: MultiNicNetwork): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      let cur = await this.o.api.get<K<IPPool>>(R.IPPool, spec.name);
      const want = renderIPPool(spec, allocs, { ownerReferences: ownerRefs(network) });
      try {
        const labels = { ...(cur?.metadata.labels ?? {}), ...want.metadata.labels };
        if (!cur || canonical(cur.spec) !== canonical(want.spec) || canonical(cur.metadata.labels ?? {}) !== canonical(labels)) {
          this.stats.writes++;
          cur = !cur
            ? await this.o.api.create<K<IPPool>>(R.IPPool, want as K<IPPool>)
            : await this.o.api.replace<K<IPPool>>(R.IPPool, { ...cur, metadata: { ...cur.metadata, labels }, spec: want.spec });
        }
        // Usage goes to the status subresource (`kubectl get ippools` shows it), in its own write.
        const status = { ...want.status, observedGeneration: cur.metadata.generation ?? 0 };
        if (canonical(cur.status ?? {}) !== canonical(status)) {
          this.stats.writes++;
          await this.o.api.patch<K<IPPool>>(R.IPPool, spec.name, { status }, { type: 'merge', subresource: 'status' });
        }
        return;
      } catch (e) {
        if (!isConflict(e) && !isAlreadyExists(e) && !isNotFound(e)) throw e;
        this.stats.conflicts++;
      }
    }
    throw new Error(`failed to update IPPool "${spec.name}": kept conflicting after 5 attempts`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.resyncTimer);
    const names = this.dirty.take();
    if (names.length) await this.serial(() => this.write(new Set(names), false)).catch(() => undefined);
    await this.chain.catch(() => undefined);
  }
}
