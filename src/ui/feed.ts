// The TUI's cluster data: the objects `status` reads (src/cluster/snapshot.ts), kept current by one
// list+watch informer per resource, so updates arrive as the API server sends them and an idle
// cluster costs nothing (no polling). No Ink here: the command starts the feed before it imports
// Ink, so the first lists run while Ink loads. DRA (docs/dra.md): ResourceClaims and our driver's
// ResourceSlices are watched too where the API serves resource.k8s.io/v1 (404: none, not watched;
// 403: said once to every subscriber, the rest goes on).
import { Informer } from '../agent/kube/informer.js';
import { gatherSnapshot, isAgentDaemonSet } from '../cluster/snapshot.js';
import { forbiddenMessage, isNotFound, type KubeApi } from '../kube/api.js';
import { DRIVER, type ResourceClaim, type ResourceSlice } from '../lib/dra/types.js';
import { cidrViews, type CIDRClaim } from '../lib/cluster/claim-objects.js';
import type { CIDR, HostInterface, IPPool, MultiNicNetwork } from '../lib/crds/types.gen.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { R, type ResourceRef } from '../lib/k8s/resources.js';
import type { ClusterData } from '../lib/ui/model.js';

/** Coalesces bursts of watch events (an apply touches many objects) into one update. */
const SETTLE_MS = 100;

export interface FeedListener {
  data(d: ClusterData, at: number): void;
  error(message: string): void;
}

export class ClusterFeed {
  private readonly networks: Informer<MultiNicNetwork & KubeObject>;
  private readonly cidrs: Informer<CIDR & KubeObject>;
  private readonly claims: Informer<CIDRClaim & KubeObject>;
  private readonly ippools: Informer<IPPool & KubeObject>;
  private readonly his: Informer<HostInterface & KubeObject>;
  private readonly nodes: Informer<KubeObject>;
  private readonly daemonSets: Informer<KubeObject>;
  private readonly pods: Informer<KubeObject> | undefined;
  private readonly all: Array<Informer<KubeObject>>;
  private draClaims: Informer<ResourceClaim & KubeObject> | undefined;
  private draSlices: Informer<ResourceSlice & KubeObject> | undefined;
  /** Settled once the DRA resources were probed and their informers (if any) started. */
  private draProbed = false;
  /** Said once, to every subscriber (e.g. DRA objects this user may not list). */
  private readonly notices: string[] = [];
  private readonly listeners = new Set<FeedListener>();
  private timer: NodeJS.Timeout | undefined;
  private latest: { data: ClusterData; at: number } | undefined;
  private stopped = false;

  /**
   * Starts listing and watching at once. `pods: false` leaves pods out (`status --watch` shows none;
   * a large cluster's pods are most of its objects). `dra: false` leaves ResourceClaims and
   * ResourceSlices out.
   */
  constructor(
    private readonly kube: KubeApi,
    opts: { pods?: boolean; dra?: boolean } = {},
  ) {
    const log = (e: Record<string, unknown>): void => {
      if (e.level !== 'info' && !this.stopped) for (const l of this.listeners) l.error(`${String(e.resource)}: ${String(e.error ?? e.msg)}`);
    };
    this.networks = new Informer({ api: kube, ref: R.MultiNicNetwork, log });
    this.cidrs = new Informer({ api: kube, ref: R.CIDR, log });
    this.claims = new Informer({ api: kube, ref: R.CIDRClaim, log });
    this.ippools = new Informer({ api: kube, ref: R.IPPool, log });
    this.his = new Informer({ api: kube, ref: R.HostInterface, log });
    this.nodes = new Informer({ api: kube, ref: R.Node, log });
    this.daemonSets = new Informer({ api: kube, ref: R.DaemonSet, log });
    this.pods = opts.pods === false ? undefined : new Informer({ api: kube, ref: R.Pod, log });
    this.all = [this.networks, this.cidrs, this.claims, this.ippools, this.his, this.nodes, this.daemonSets, ...(this.pods ? [this.pods] : [])] as Array<Informer<KubeObject>>;
    for (const i of this.all) {
      i.onChange(() => this.schedule());
      i.start();
    }
    const dra = opts.dra === false ? Promise.resolve() : this.startDra(log);
    // An empty resource emits no change: publish once every cache is filled, whatever it holds.
    void Promise.all([...this.all.map((i) => i.synced()), dra]).then(() => this.publish());
  }

  /**
   * Lists each DRA resource once to learn whether it is served and readable; watches those that
   * are. Any other failure (the API unreachable) leaves it to the informer, which retries.
   */
  private async startDra(log: (e: Record<string, unknown>) => void): Promise<void> {
    const served = async (ref: ResourceRef, fieldSelector?: string): Promise<boolean> => {
      try {
        await this.kube.list(ref, fieldSelector ? { fieldSelector } : {});
        return true;
      } catch (e) {
        if (isNotFound(e)) return false;
        const denied = forbiddenMessage(e);
        if (denied !== undefined) {
          this.notice(`${ref.plural}: ${denied} (NICs held by ResourceClaims are not shown)`);
          return false;
        }
        return true;
      }
    };
    const sliceSelector = `spec.driver=${DRIVER}`;
    const [claims, slices] = await Promise.all([served(R.ResourceClaim), served(R.ResourceSlice, sliceSelector)]);
    if (this.stopped) return;
    if (claims) this.draClaims = new Informer({ api: this.kube, ref: R.ResourceClaim, log });
    if (slices) this.draSlices = new Informer({ api: this.kube, ref: R.ResourceSlice, fieldSelector: sliceSelector, log });
    const started = [this.draClaims, this.draSlices].filter((i) => i !== undefined) as unknown as Array<Informer<KubeObject>>;
    this.all.push(...started);
    for (const i of started) {
      i.onChange(() => this.schedule());
      i.start();
    }
    this.draProbed = true;
    await Promise.all(started.map((i) => i.synced()));
  }

  private notice(message: string): void {
    this.notices.push(message);
    for (const l of this.listeners) l.error(message);
  }

  /** Calls `l` with every update (at once with the latest one, if any); returns the unsubscriber. */
  subscribe(l: FeedListener): () => void {
    this.listeners.add(l);
    for (const n of this.notices) l.error(n);
    if (this.latest) l.data(this.latest.data, this.latest.at);
    return () => this.listeners.delete(l);
  }

  /** Re-reads everything through status's own gatherer (the `r` key). */
  async refresh(): Promise<void> {
    try {
      const [snapshot, pods] = await Promise.all([gatherSnapshot(this.kube, { dra: this.draProbed && this.draClaims !== undefined }), this.pods ? this.kube.list(R.Pod) : { items: [] }]);
      this.emit({ snapshot, pods: pods.items });
    } catch (e) {
      for (const l of this.listeners) l.error((e as Error).message);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all(this.all.map((i) => i.stop()));
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.publish();
    }, SETTLE_MS);
  }

  private publish(): void {
    if (this.stopped || !this.draProbed || !this.all.every((i) => i.isSynced)) return;
    this.emit({
      snapshot: {
        ...(this.draClaims ? { draClaims: this.draClaims.list(), draSlices: this.draSlices?.list() ?? [] } : {}),
        networks: this.networks.list(),
        // Each CIDR with its claims (docs/scale.md), as status reads it.
        cidrs: cidrViews(this.cidrs.list(), this.claims.list()),
        ippools: this.ippools.list(),
        hostInterfaces: this.his.list(),
        nodes: this.nodes.list(),
        daemonSets: this.daemonSets.list().filter(isAgentDaemonSet),
      },
      pods: this.pods?.list() ?? [],
    });
  }

  private emit(data: ClusterData): void {
    this.latest = { data, at: Date.now() };
    for (const l of this.listeners) l.data(data, this.latest.at);
  }
}
