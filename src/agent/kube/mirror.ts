// IPPool mirroring: the IPAM journal is the truth, IPPool resources its published copy. The pod ADD
// path never waits on the API: `observeIpam` wraps the Ipam port so a successful allocate/release
// only marks the touched pools dirty (a Set insert); a timer flushes dirty pools in one batch
// (coalescing bursts: 100 ADDs into one pool are one write), and a periodic resync compares every
// pool with the server (restarts, lost writes, pools that left the CIDR). Between resyncs a flush
// writes from what it last saw of each pool (its resourceVersion and a digest of its spec, labels
// and status), never re-reading it: a pool of 10,000 allocations is ~2 MB of JSON, and a GET of it
// per flush was most of the agent's garbage under a burst of ADDs. A 409 or 404 reads it again.
import { createHash } from 'node:crypto';
import { DirtySet, HOSTNAME_LABEL, renderIPPool } from '../../lib/cluster/ippool.js';
import { canonical } from '../../lib/cluster/claim.js';
import type { IPPool, MultiNicNetwork } from '../../lib/crds/types.gen.js';
import type { Allocation, Ipam, PoolSpec } from '../../lib/ipam/types.js';
import { R } from '../../lib/k8s/resources.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeApi } from '../../kube/api.js';
import { ownerRefs } from './claim.js';
import type { K } from './kinds.js';
import type { ObjectMeta } from '../../lib/k8s/meta.js';
import { isHealthHolder } from '../../lib/diagnostics/health.js';

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
/** Longest pause the pacing after a slow write adds before the next flush (retryDelay). */
const MAX_PACE_MS = 5_000;

/** What the agent last saw of one IPPool on the server: its metadata and digests, never its allocations. */
interface KnownPool {
  metadata: ObjectMeta;
  spec: string;
  labels: string;
  status: string;
}

const digest = (v: unknown): string => createHash('sha256').update(canonical(v)).digest('base64');

/** `spec`: the digest of the spec when the caller has it (the spec it just wrote). */
function knownOf(p: K<IPPool>, spec = digest(p.spec)): KnownPool {
  return { metadata: p.metadata, spec, labels: digest(p.metadata.labels ?? {}), status: digest(p.status ?? {}) };
}

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
  /** Per pool, as the last write or read left it on the server (dropped on a 409 or 404, refreshed by each resync). */
  private readonly known = new Map<string, KnownPool>();
  /** How long the last write round took (ms): the next flush waits at least twice that (retryDelay). */
  private lastWriteMs = 0;
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
    // At least twice as long as the last write took: a pool of thousands of allocations is MBs of
    // JSON to render, send and parse per write, and back-to-back writes during a burst of ADDs made
    // that garbage faster than V8 returned it; the mirror now spends at most a third of the time writing.
    // Capped: one write slowed by a struggling API must not hold the next one back for long.
    const base = Math.max(this.o.flushMs ?? 200, Math.min(2 * this.lastWriteMs, MAX_PACE_MS));
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
    const t0 = performance.now();
    try {
      await this.writeNow(only, prune);
    } finally {
      this.lastWriteMs = performance.now() - t0;
    }
  }

  private async writeNow(only: Set<string> | undefined, prune: boolean): Promise<void> {
    this.stats.flushes++;
    const pools = this.o.pools();
    // The health check's test address is never published (it lives for one test attachment).
    const held = this.o.ipam.list().filter((a) => !isHealthHolder(a));
    const byPool = new Map<string, Allocation[]>();
    for (const a of held) {
      const list = byPool.get(a.pool);
      if (list) list.push(a);
      else byPool.set(a.pool, [a]);
    }
    const failed: string[] = [];
    for (const { spec, network } of pools) {
      if (only && !only.has(spec.name)) continue;
      try {
        await this.put(spec, byPool.get(spec.name) ?? [], network, prune);
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
        this.known.delete(name);
        await this.o.api.delete(R.IPPool, name);
      }
      for (const name of this.known.keys()) if (!want.has(name)) this.known.delete(name);
    }
  }

  /**
   * Makes the server's IPPool `spec.name` hold `allocs`: from what this mirror last saw of it, or
   * read first when it knows nothing, when `verify` (the resync) or after a 409/404.
   */
  private async put(spec: PoolSpec, allocs: Allocation[], network: MultiNicNetwork, verify: boolean): Promise<void> {
    const want = renderIPPool(spec, allocs, { ownerReferences: ownerRefs(network) });
    const wantSpec = digest(want.spec);
    if (verify) this.known.delete(spec.name);
    for (let attempt = 0; attempt < 5; attempt++) {
      let cur = this.known.get(spec.name);
      if (!cur) {
        const got = await this.o.api.get<K<IPPool>>(R.IPPool, spec.name);
        cur = got && knownOf(got);
        if (cur) this.known.set(spec.name, cur);
      }
      try {
        const labels = { ...(cur?.metadata.labels ?? {}), ...want.metadata.labels };
        if (!cur || cur.spec !== wantSpec || cur.labels !== digest(labels)) {
          this.stats.writes++;
          const written = !cur
            ? await this.o.api.create<K<IPPool>>(R.IPPool, want as K<IPPool>)
            : await this.o.api.replace<K<IPPool>>(R.IPPool, { apiVersion: want.apiVersion, kind: want.kind, metadata: { ...cur.metadata, labels }, spec: want.spec } as K<IPPool>);
          // The spec as sent (its digest is at hand): digesting the answer would be another pass over every allocation.
          cur = knownOf(written, wantSpec);
          this.known.set(spec.name, cur);
        }
        // Usage goes to the status subresource (`kubectl get ippools` shows it), in its own write.
        const status = { ...want.status, observedGeneration: cur.metadata.generation ?? 0 };
        if (cur.status !== digest(status)) {
          this.stats.writes++;
          const patched = await this.o.api.patch<K<IPPool>>(R.IPPool, spec.name, { status }, { type: 'merge', subresource: 'status' });
          // A status write leaves the spec as it was: only the metadata (resourceVersion) and status move.
          this.known.set(spec.name, { ...cur, metadata: patched.metadata, status: digest(patched.status ?? {}) });
        }
        return;
      } catch (e) {
        this.known.delete(spec.name);
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
