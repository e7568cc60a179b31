// The agent on the Kubernetes API: informers feeding KubeAgentState; the node loop that
// publishes this node's HostInterface and claims its host indexes in every network by creating
// CIDRClaims (docs/scale.md; the CIDR view assembles them); IPPool
// mirroring; leak GC; and, while this agent holds the Lease, the cluster loop (NADs, status,
// departed nodes). Nothing here is on the pod ADD path: the CNI is served from caches and the
// local journal, and API writes happen behind it.
import { randomBytes } from 'node:crypto';
import { canonical, cidrFingerprint } from '../../lib/cluster/claim.js';
import { DEFAULT_GC_GRACE_MS, leakReason } from '../../lib/cluster/gc.js';
import { GENERATED_LABEL } from '../../lib/cluster/nad.js';
import { CLAIM_ERRORS_ANNOTATION, ROUTES_ANNOTATION, usesMultiNicIpam, type RouteReport } from '../../lib/cluster/status.js';
import { nicAddressing } from '../../lib/agent/addressing.js';
import { CLAIMS_ANNOTATION, CLAIMS_ANNOTATION_VALUE, cidrOwnerRef, cidrView, claimsFromCidr, claimsOf, type CIDRClaim } from '../../lib/cluster/claim-objects.js';
import type { CIDR, DeviceClass, HostInterface, InterfaceInfo, MultiNicNetwork } from '../../lib/crds/types.gen.js';
import { validateNetwork } from '../../lib/network.js';
import { planNetwork } from '../../lib/plan/index.js';
import type { Allocation, Ipam, PoolSpec } from '../../lib/ipam/types.js';
import { PoolExhaustedError } from '../../lib/ipam/allocator.js';
import type { KubeObject } from '../../lib/k8s/meta.js';
import { R } from '../../lib/k8s/resources.js';
import { isAlreadyExists, isNotFound, type KubeApi } from '../../kube/api.js';
import { desiredRoutes } from '../routes.js';
import { ipamOfState, type PodFactsPaths } from '../state.js';
import { ownerRefs, type ClaimOutcome } from './claim.js';
import { ClaimByCreateError, claimByCreate } from './claim-objects.js';
import { CidrViewCache } from './cidr-view.js';
import { ClusterReconciler, type ClusterRound } from './cluster.js';
import { EventRecorder } from './events.js';
import { LeakGc, podFact } from './gc.js';
import { Informer } from './informer.js';
import { LeaderElector } from './leader.js';
import { IPPoolMirror, observeIpam } from './mirror.js';
import { ApiOutage, formatDuration, trackApi } from './outage.js';
import { KubeAgentState } from './state.js';
import type { K } from './kinds.js';
import { AGENT_VERSION } from '../version.js';
import { KubeDiagnosticsSink } from './diagnostics.js';
import { ReleaseHandler } from './release.js';
import { SlicePublisher } from '../dra/slices.js';
import { networksOfNic } from '../../lib/dra/slices.js';
import { containsCidr, parseCidr } from '../../lib/net/ip.js';

export const UNMANAGED_LABEL = 'multi-nic-unmanaged';
export { AGENT_VERSION } from '../version.js';

export interface KubeAgentOptions {
  api: KubeApi;
  nodeName: string;
  /** The agent's namespace: the leader Lease and Events about cluster-scoped objects live there. */
  namespace: string;
  /** Leader identity (default `<node>-<random>`: unique per process, so a restart is a new candidate). */
  identity?: string;
  podFacts?: PodFactsPaths;
  leaseDurationSeconds?: number;
  leaseRetryMs?: number;
  /** How long an allocation must look leaked before GC confirms and releases it (default 60 s). */
  gcGraceMs?: number;
  /** GC round period (default 10 s). */
  gcIntervalMs?: number;
  /** Period of the leader's full cluster round (default 10 s; changes trigger one sooner). */
  clusterResyncMs?: number;
  /** Period of the node loop's full publish + claim (default 30 s; changes trigger one sooner). */
  nodeResyncMs?: number;
  mirrorFlushMs?: number;
  mirrorResyncMs?: number;
  informerBackoffMs?: { initial: number; max: number };
  watchTimeoutSeconds?: number;
  /** Period of the "still unreachable" log during an API outage (default 60 s). */
  outageReportMs?: number;
  /** Publish this node's NICs as a resource.k8s.io/v1 ResourceSlice (docs/dra.md); sysfs root for the PCIe/RDMA facts. */
  dra?: { sysfsRoot?: string; /** How long the last-read slice is trusted before it is read again (src/agent/dra/slices.ts; default 5 min). */ revalidateMs?: number };
  log?: (event: Record<string, unknown>) => void;
}

/**
 * Runs `fn` serially; kicks during a run cause exactly one more run afterwards. run() never
 * rejects: `fn` handles its own failures, and anything it lets through is logged as a bug (kicks
 * are fire-and-forget; an escaped rejection would take the agent down).
 */
class Kicker {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  constructor(
    private readonly name: string,
    private readonly fn: () => Promise<void>,
    private readonly debounceMs: number,
    private readonly log: (event: Record<string, unknown>) => void,
  ) {}
  kick(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, this.debounceMs);
  }
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.fn();
        } catch (e) {
          this.log({ level: 'error', msg: `BUG: ${this.name} round failed unexpectedly; retrying on the next kick`, error: (e as Error).stack ?? String(e) });
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}

/** Informers only the leader runs (started when it starts leading, stopped when it stops). */
const LEADER_INFORMERS = ['nodes', 'namespaces', 'nads'] as const;

export class KubeAgent {
  readonly state: KubeAgentState;
  readonly events: EventRecorder;
  readonly elector: LeaderElector;
  readonly cluster: ClusterReconciler;
  readonly informers: {
    networks: Informer<K<MultiNicNetwork>>;
    cidrs: Informer<K<CIDR>>;
    claims: Informer<K<CIDRClaim>>;
    deviceClasses: Informer<K<DeviceClass>>;
    hostInterfaces: Informer<K<HostInterface>>;
    /** This node's own Node (fieldSelector metadata.name): what the node side needs. */
    node: Informer<KubeObject>;
    /** Leader only (LEADER_INFORMERS): every Node, every Namespace, our NADs. */
    nodes: Informer<KubeObject>;
    namespaces: Informer<KubeObject>;
    nads: Informer<KubeObject>;
    pods: Informer<KubeObject>;
  };
  private nics: InterfaceInfo[] | undefined;
  private mirror: IPPoolMirror | undefined;
  private gc: LeakGc | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly nodeLoop: Kicker;
  private readonly clusterLoop: Kicker;
  private readonly planErrors = new Map<string, string>();
  /** Per network, what the last complete claim was made from and gave (skips re-planning an unchanged network). */
  private readonly claimMemo = new Map<string, { key: string; claimed: Record<string, number> }>();
  /** Networks whose claims this process has tried to write (the informer may lag those writes: claimByCreate reads our own from the API before a later round writes). */
  private readonly claimAttempted = new Set<string>();
  /** Every network's CIDR view: the CIDR object plus its CIDRClaims (what routes, pools, status read). */
  readonly views: CidrViewCache;
  private reports: Record<string, RouteReport> = {};
  private publishedReports = '';
  private published: string | undefined;
  private stopped = false;
  /** Our Node object was missing at the last node round (logged once per change). */
  private nodeMissing = false;
  private readonly log: (event: Record<string, unknown>) => void;
  private readonly o: KubeAgentOptions;
  /** Whether the API answers, from every call below (logs an outage; an Event when it ends). */
  readonly outage: ApiOutage;
  /** The node's ResourceSlice publisher (with `dra`). */
  readonly slices: SlicePublisher | undefined;
  private slicesFailed = '';
  /** Last results, for status and tests. */
  readonly last: { claims: Record<string, ClaimOutcome>; cluster?: ClusterRound } = { claims: {} };

  constructor(opts: KubeAgentOptions) {
    this.log = opts.log ?? (() => undefined);
    this.outage = new ApiOutage({
      server: opts.api.server,
      reportMs: opts.outageReportMs,
      log: this.log,
      onRestored: ({ since, downMs, failures }) =>
        this.events.record(
          { apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', name: opts.nodeName },
          'APIOutageEnded',
          `${opts.nodeName}: the Kubernetes API was unreachable for ${formatDuration(downMs)} (since ${since.toISOString()}, ${failures} failed calls); pod ADD/DEL were served throughout from the agent's caches and journal, and its API writes resumed`,
          'Normal',
        ),
    });
    const o = (this.o = { ...opts, api: trackApi(opts.api, this.outage) });
    const mk = <T extends KubeObject>(ref: (typeof R)[keyof typeof R], extra: { labelSelector?: string; fieldSelector?: string } = {}) => this.informer<T>(ref, extra);
    // What every agent watches: its own Node and pods, and what routes and claims need from the
    // whole cluster (networks, CIDRs, every CIDRClaim: each host routes to every other host's
    // block; every HostInterface: hosts that see the same hosts plan the same indexes). The
    // leader's cluster-wide informers start only while it leads (docs/scale.md).
    this.informers = {
      networks: mk<K<MultiNicNetwork>>(R.MultiNicNetwork),
      cidrs: mk<K<CIDR>>(R.CIDR),
      claims: mk<K<CIDRClaim>>(R.CIDRClaim),
      deviceClasses: mk<K<DeviceClass>>(R.DeviceClass),
      hostInterfaces: mk<K<HostInterface>>(R.HostInterface),
      node: mk(R.Node, { fieldSelector: `metadata.name=${o.nodeName}` }),
      ...this.leaderInformers(),
      pods: mk(R.Pod, { fieldSelector: `spec.nodeName=${o.nodeName}` }),
    };
    this.views = new CidrViewCache(this.informers.cidrs, this.informers.claims);
    this.state = new KubeAgentState({ networks: this.informers.networks, cidrs: this.informers.cidrs, deviceClasses: this.informers.deviceClasses, views: this.views, podFacts: o.podFacts });
    this.events = new EventRecorder({ api: o.api, host: o.nodeName, namespace: o.namespace, log: this.log, quiet: () => this.outage.down });
    this.cluster = new ClusterReconciler({
      api: o.api,
      informers: this.informers,
      views: this.views,
      events: this.events,
      log: this.log,
    });
    this.clusterLoop = new Kicker('cluster loop', async () => {
      if (!this.elector.isLeader) return;
      try {
        this.last.cluster = await this.cluster.reconcile();
      } catch (e) {
        this.log({ level: 'error', msg: 'cluster round failed', error: (e as Error).message });
      }
    }, 100, this.log);
    this.nodeLoop = new Kicker('node loop', () => this.nodeRound(), 50, this.log);
    if (o.dra) this.slices = new SlicePublisher({ api: o.api, nodeName: o.nodeName, sysfsRoot: o.dra.sysfsRoot, log: this.log, node: () => this.informers.node.get(o.nodeName), ...(o.dra.revalidateMs === undefined ? {} : { revalidateMs: o.dra.revalidateMs }) });
    this.elector = new LeaderElector({
      api: o.api,
      namespace: o.namespace,
      identity: o.identity ?? `${o.nodeName}-${randomBytes(4).toString('hex')}`,
      durationSeconds: o.leaseDurationSeconds,
      retryMs: o.leaseRetryMs,
      log: this.log,
      onStartedLeading: () => {
        if (this.stopped) return;
        for (const k of LEADER_INFORMERS) this.informers[k].start();
        this.clusterLoop.kick();
      },
      onStoppedLeading: () => {
        // Informers do not restart: stop these and put fresh ones in place for the next term.
        const old = LEADER_INFORMERS.map((k) => this.informers[k]);
        Object.assign(this.informers, this.leaderInformers());
        void Promise.all(old.map((i) => i.stop()));
      },
    });
  }

  private informer<T extends KubeObject>(ref: (typeof R)[keyof typeof R], extra: { labelSelector?: string; fieldSelector?: string } = {}): Informer<T> {
    return new Informer<T>({ api: this.o.api, ref, log: this.log, backoffMs: this.o.informerBackoffMs, watchTimeoutSeconds: this.o.watchTimeoutSeconds, ...extra });
  }

  /** The leader's cluster-wide informers, not started, each kicking the cluster loop on a change. */
  private leaderInformers(): Pick<KubeAgent['informers'], (typeof LEADER_INFORMERS)[number]> {
    const out = { nodes: this.informer(R.Node), namespaces: this.informer(R.Namespace), nads: this.informer(R.NetworkAttachmentDefinition, { labelSelector: `${GENERATED_LABEL}=true` }) };
    for (const i of Object.values(out)) i.onChange(() => this.clusterLoop.kick());
    return out;
  }

  /** The API client this agent uses (outage-tracked): the DRA plugin reads claims through it. */
  get api(): KubeApi {
    return this.o.api;
  }

  /** Starts the informers and waits for the state caches; the loops start once NICs are given. */
  async start(): Promise<void> {
    for (const [k, i] of Object.entries(this.informers)) if (!(LEADER_INFORMERS as readonly string[]).includes(k)) (i as { start(): unknown }).start();
    await this.state.synced();
    await this.informers.hostInterfaces.synced();
    const nodeKick = () => this.nodeLoop.kick();
    this.informers.networks.onChange(nodeKick);
    // A change of a network's CIDR or of one of its claims: re-check ours, re-mirror our pools.
    this.views.onChange((network) => {
      nodeKick();
      if (this.mirror) this.mirror.mark(this.poolsOf(network).map((p) => p.spec.name));
    });
    // Our HostInterface deleted behind our back (kubectl delete): publish it again.
    this.informers.hostInterfaces.onChange((t, h) => {
      if (t === 'DELETED' && h.metadata.name === this.o.nodeName) {
        this.published = undefined;
        nodeKick();
      }
    });
    // Our Node appearing (a fresh node registering after its agent started) ends the wait at once.
    this.informers.node.onChange((t, n) => {
      if (t !== 'DELETED' && n.metadata?.name === this.o.nodeName && this.nodeMissing) nodeKick();
    });
    const clusterKick = () => this.clusterLoop.kick();
    for (const k of ['networks', 'cidrs', 'claims', 'hostInterfaces'] as const) this.informers[k].onChange(clusterKick);
    this.elector.start();
    this.every(this.o.clusterResyncMs ?? 10_000, () => this.clusterLoop.kick());
    this.every(this.o.nodeResyncMs ?? 30_000, () => this.nodeLoop.kick());
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Sets this node's discovered NICs (call after every discovery that changed them). */
  setNics(nics: readonly InterfaceInfo[]): Promise<void> {
    this.nics = nics.map(stripLocal);
    return this.nodeLoop.run();
  }

  /** Runs the node loop now (publish + claim every network) and waits for it. */
  syncNode(): Promise<void> {
    return this.nodeLoop.run();
  }

  /** Runs a cluster round now if leading. */
  syncCluster(): Promise<void> {
    return this.clusterLoop.run();
  }

  /**
   * Wraps the IPAM so allocations are mirrored to IPPools and leaks are collected. Call once, and
   * hand the returned Ipam to the agent core.
   */
  attachIpam<T extends Ipam>(ipam: T, hooks: { onLeaksReleased?: (released: Allocation[]) => void } = {}): T {
    const wrapped = observeIpam(
      ipam,
      (pools) => this.mirror?.mark(pools),
      (e) => {
        if (e instanceof PoolExhaustedError && e.pool) this.events.record({ apiVersion: 'multinic.fms.io/v1', kind: 'IPPool', name: e.pool }, 'PoolExhausted', e.message);
      },
    );
    this.mirror = new IPPoolMirror({
      api: this.o.api,
      hostName: this.o.nodeName,
      ipam: wrapped,
      pools: () => this.state.networks().flatMap((n) => this.poolsOf(n.network.metadata.name ?? '')),
      flushMs: this.o.mirrorFlushMs,
      resyncMs: this.o.mirrorResyncMs,
      log: this.log,
    }).start();
    this.gc = new LeakGc({
      api: this.o.api,
      ipam: wrapped,
      cachedPod: (ns, name) => this.informers.pods.get(name, ns),
      cacheReady: () => this.informers.pods.isSynced,
      graceMs: this.o.gcGraceMs ?? DEFAULT_GC_GRACE_MS,
      events: this.events,
      onReleased: hooks.onLeaksReleased,
      log: this.log,
    });
    this.every(this.o.gcIntervalMs ?? 10_000, () => void this.gcRound());
    return wrapped;
  }

  /** One GC round now (tests; the timer calls it too). */
  async gcRound(): Promise<void> {
    try {
      await this.gc?.round();
    } catch (e) {
      this.log({ level: 'warn', msg: 'leak GC round failed', error: (e as Error).message });
    }
  }

  /**
   * Why `a` belongs to a live pod of this node, from the pod cache, by the leak GC's rule (a pod
   * with the allocation's UID, not terminated, whose Multus network-status does not disown the
   * address); undefined when the cache says the pod is gone. Until the cache has listed, every
   * allocation counts as live: the agent cannot tell. The CNI GC verb asks this before releasing.
   */
  liveReason(a: Allocation): string | undefined {
    if (!this.informers.pods.isSynced) return 'the agent has not listed the pods of this node yet, so it cannot tell which are gone';
    const p = this.informers.pods.get(a.podName, a.namespace);
    if (!p || leakReason(a, podFact(p)) !== undefined) return undefined;
    const phase = (p as { status?: { phase?: string } }).status?.phase ?? 'without a phase';
    return `pod ${a.namespace}/${a.podName} (uid ${a.podUID}) is ${phase} on this node`;
  }

  get ipamMirror(): IPPoolMirror | undefined {
    return this.mirror;
  }

  get leakGc(): LeakGc | undefined {
    return this.gc;
  }

  /** This host's pools in a network, from the network's CIDR. */
  private poolsOf(network: string): Array<{ spec: PoolSpec; network: MultiNicNetwork }> {
    const st = this.state.network(network);
    if (!st?.cidr) return [];
    try {
      const ipam = ipamOfState(st).config;
      if (!ipam) return [];
      const out: Array<{ spec: PoolSpec; network: MultiNicNetwork }> = [];
      for (const e of st.cidr.spec.cidr) for (const h of e.hosts) if (h.hostName === this.o.nodeName) out.push({ spec: nicAddressing(st.network, ipam, e, h).pool, network: st.network });
      return out;
    } catch {
      return [];
    }
  }

  /**
   * Records the outcome of a route reconcile: for every network whose CIDR holds this host, the
   * routes it wants now (the reconcile just installed them unless `error` is set). Published on this
   * node's HostInterface for the leader's status. `error` fails every network; `networkErrors` only
   * the network it names (one network's fault does not mark the others failed).
   */
  reportRoutes(result: { error?: string; networkErrors?: Readonly<Record<string, string>>; localNics?: ReadonlySet<string> }): Promise<void> {
    const reports: Record<string, RouteReport> = {};
    for (const n of this.state.networks()) {
      if (!n.cidr || !n.cidr.spec.cidr.some((e) => e.hosts.some((h) => h.hostName === this.o.nodeName))) continue;
      const name = n.network.metadata.name ?? '';
      const want = desiredRoutes(n.cidr, this.o.nodeName, result.localNics);
      const error = result.error ?? result.networkErrors?.[name];
      reports[name] = { cidr: cidrFingerprint(n.cidr.spec), routes: want.routes.length, ok: !error, ...(error ? { message: error } : {}) };
      if (error) this.events.record({ apiVersion: n.network.apiVersion, kind: n.network.kind, name, uid: n.network.metadata.uid }, 'RoutesFailed', `${this.o.nodeName}: ${error}`);
    }
    this.reports = reports;
    return this.nodeLoop.run();
  }

  private ownHostInterface(): HostInterface | undefined {
    if (!this.nics) return undefined;
    const cached = this.informers.hostInterfaces.get(this.o.nodeName);
    if (cached?.metadata.labels?.[UNMANAGED_LABEL] === 'true') return cached;
    return { apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: this.o.nodeName }, spec: { hostName: this.o.nodeName, interfaces: this.nics } };
  }

  private async nodeRound(): Promise<void> {
    if (this.stopped) return;
    const own = this.ownHostInterface();
    if (!own) return;
    // Without our Node object the leader treats this host as departed (it deletes the HostInterface
    // and frees the host indexes): publishing and claiming would only fight it, round after round.
    if (!(await this.nodeExists())) return;
    try {
      await this.publish(own);
    } catch (e) {
      // While the API is known to be down the outage is logged once; this failure then is detail.
      this.log({ level: this.outage.down ? 'debug' : 'warn', msg: 'HostInterface publish failed; will retry', error: (e as Error).message });
      this.events.record({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', name: this.o.nodeName }, 'PublishFailed', (e as Error).message);
      return;
    }
    await this.syncSlice(own);
    if (own.spec.interfaces.length === 0) return;
    const refused = this.state.refusals();
    for (const net of this.informers.networks.list()) {
      if (this.stopped) return;
      const name = net.metadata.name ?? '';
      if (net.metadata.deletionTimestamp || !usesMultiNicIpam(net)) continue;
      // An overlapping network gets no host blocks: the leader reports why in its status.
      if (refused.has(name)) {
        this.planErrors.delete(name);
        continue;
      }
      try {
        const out = await this.claimNetwork(net, own);
        this.last.claims[name] = out;
        if (out.unplaced.length) {
          const msg = out.unplaced.join('; ');
          this.planErrors.set(name, msg);
          this.events.record({ apiVersion: net.apiVersion, kind: net.kind, name, uid: net.metadata.uid }, 'CIDRClaimFailed', `${this.o.nodeName}: ${msg}`);
        } else this.planErrors.delete(name);
        if (out.wrote) this.log({ level: 'info', msg: 'claimed host indexes', network: name, claimed: out.claimed, attempts: out.attempts, conflicts: out.conflicts });
      } catch (e) {
        const msg = (e as Error).message;
        this.planErrors.set(name, msg);
        this.log({ level: this.outage.down ? 'debug' : 'warn', msg: 'CIDR claim failed; will retry', network: name, error: msg });
        this.events.record({ apiVersion: net.apiVersion, kind: net.kind, name, uid: net.metadata.uid }, 'CIDRClaimFailed', msg);
        if (e instanceof ClaimByCreateError) this.nodeLoop.kick();
      }
    }
    for (const name of [...this.planErrors.keys()]) if (!this.informers.networks.get(name)) this.planErrors.delete(name);
    // Claim failures travel on our HostInterface to whichever agent leads.
    await this.publish(own).catch((e: Error) => this.log({ level: this.outage.down ? 'debug' : 'warn', msg: 'HostInterface publish failed; will retry', error: e.message }));
  }

  /**
   * Claims this host's indexes in one network by creating CIDRClaims (src/agent/kube/claim-objects.ts).
   * The network's CIDR (frozen config, owner of the claims) is created first if no agent or apply
   * made it yet. Legacy host entries of a CIDR written by an earlier release are known as unstored
   * claims, so our own entry there is adopted with its index (the migration) and nobody takes
   * another host's. An unchanged network whose view already holds all our claims is not re-planned.
   */
  private async claimNetwork(net: K<MultiNicNetwork>, own: HostInterface): Promise<ClaimOutcome> {
    const name = net.metadata.name ?? '';
    const me = this.o.nodeName;
    const cidr = this.informers.cidrs.get(name) ?? (await this.createCidr(net));
    const owner = cidr.metadata.ownerReferences?.find((r) => r.kind === 'MultiNicNetwork');
    if (owner && net.metadata.uid && owner.uid !== net.metadata.uid) {
      throw new Error(`CIDR "${name}" belongs to an earlier network of that name (owner uid ${owner.uid}); waiting for Kubernetes to delete it`);
    }
    const stored = claimsOf(cidr, this.views.claims(name));
    const view = cidrView(cidr, stored);
    const mine = (spec: CIDR['spec']): Record<string, number> => Object.fromEntries(spec.cidr.flatMap((e) => e.hosts.filter((h) => h.hostName === me).map((h) => [e.netAddress, h.hostIndex] as const)));
    const key = canonical({ own: own.spec, net: net.metadata.uid, gen: net.metadata.generation, spec: net.spec, cidr: cidr.metadata.uid });
    const memo = this.claimMemo.get(name);
    const held = mine(view.cidr.spec);
    const ownStored = stored.filter((c) => c.spec.hostName === me && c.spec.hostIndex !== undefined).length;
    if (memo && memo.key === key && !this.planErrors.has(name) && canonical(held) === canonical(memo.claimed) && ownStored === Object.keys(held).length) {
      return { network: name, claimed: held, wrote: false, attempts: 0, conflicts: 0, unplaced: [], cidr: view.cidr };
    }
    const readBack = this.claimAttempted.has(name);
    this.claimAttempted.add(name); // a failed round may have written (a 500 after the create)
    const out = await claimByCreate({
      readBack,
      api: this.o.api,
      network: net,
      own,
      hosts: this.informers.hostInterfaces.list(),
      // Every entry of the view (legacy ones unstored), the stored claims over them by name.
      claims: [...claimsFromCidr(name, view.cidr.spec), ...stored],
      config: cidr.spec.config,
      owner: cidrOwnerRef(cidr),
    });
    this.claimMemo.set(name, { key, claimed: out.claimed });
    const wrote = out.writes + out.updates + out.deleted > 0;
    return { network: name, claimed: out.claimed, wrote, attempts: out.attempts, conflicts: out.conflicts, unplaced: out.unplaced, cidr: cidrView(cidr, claimsFromCidr(name, out.view)).cidr };
  }

  /** Creates the network's CIDR (config and no host entries: those are claims); AlreadyExists reads the one there. */
  private async createCidr(net: K<MultiNicNetwork>): Promise<K<CIDR>> {
    const name = net.metadata.name ?? '';
    const config = planNetwork({ network: validateNetwork({ source: `MultiNicNetwork/${name}`, value: net }), inventory: [] }).cidr.spec.config;
    const cidr: K<CIDR> = {
      apiVersion: 'multinic.fms.io/v1',
      kind: 'CIDR',
      metadata: { name, ownerReferences: ownerRefs(net), annotations: { [CLAIMS_ANNOTATION]: CLAIMS_ANNOTATION_VALUE } },
      spec: { config, cidr: [] },
    };
    try {
      return await this.o.api.create<K<CIDR>>(R.CIDR, cidr);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      const there = await this.o.api.get<K<CIDR>>(R.CIDR, name);
      if (!there) throw new Error(`CIDR "${name}" was deleted while this agent created it; retrying`, { cause: e });
      return there;
    }
  }

  /** Publishes the node's ResourceSlice (with `dra`); failures are logged once per distinct error and retried next round. */
  private async syncSlice(own: HostInterface): Promise<void> {
    if (!this.slices) return;
    const within = (inner: string, outer: string): boolean => {
      try {
        return containsCidr(parseCidr(outer), parseCidr(inner));
      } catch {
        return false;
      }
    };
    const networks = this.informers.networks.list().map((n) => ({ name: n.metadata.name ?? '', masterNets: n.spec.masterNets ?? [], deleting: Boolean(n.metadata.deletionTimestamp) }));
    try {
      await this.slices.sync(own.spec.interfaces, (nic) => networksOfNic(nic, this.o.nodeName, networks, (name) => this.views.cidr(name), within));
      this.slicesFailed = '';
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.slicesFailed) this.log({ level: this.outage.down ? 'debug' : 'warn', msg: 'ResourceSlice publish failed; will retry', error: msg, hint: 'DRA needs resource.k8s.io/v1 (Kubernetes 1.34+); see docs/dra.md' });
      this.slicesFailed = msg;
    }
  }

  /** True when the Node named --node exists (cache first, then a GET; an API error counts as yes). */
  private async nodeExists(): Promise<boolean> {
    let found = Boolean(this.informers.node.get(this.o.nodeName));
    if (!found) {
      try {
        found = Boolean(await this.o.api.get(R.Node, this.o.nodeName));
      } catch {
        found = true; // API trouble: the publish below reports it
      }
    }
    if (found === this.nodeMissing) {
      this.nodeMissing = !found;
      if (found) this.log({ level: 'info', msg: 'Node object found; publishing and claiming', node: this.o.nodeName });
      else {
        this.log({ level: 'warn', msg: `no Node named "${this.o.nodeName}": not publishing a HostInterface nor claiming host indexes until it exists`, hint: 'the agent must run with --node set to its Kubernetes node name (the DaemonSet passes spec.nodeName as K8S_NODENAME)' });
      }
    }
    return found;
  }

  /** Publishes diagnostics on this node's HostInterface and hears probe requests there (src/agent/kube/diagnostics.ts). */
  diagnosticsSink(): KubeDiagnosticsSink {
    return new KubeDiagnosticsSink({ api: this.o.api, nodeName: this.o.nodeName, hostInterfaces: this.informers.hostInterfaces, log: this.log });
  }

  /**
   * Acts on `kubectl multinic ipam release` requests on this node's HostInterface through `ipam`
   * (the one attachIpam returned), refusing holders the pod cache shows alive unless forced.
   */
  releaseHandler(ipam: Pick<Ipam, 'list' | 'release'>, onReleased?: (released: Allocation[]) => void): ReleaseHandler {
    return new ReleaseHandler({ api: this.o.api, nodeName: this.o.nodeName, hostInterfaces: this.informers.hostInterfaces, ipam, liveReason: (a) => this.liveReason(a), ...(onReleased ? { onReleased } : {}), events: this.events, log: this.log });
  }

  /** Whether the agent is waiting for its Node object (status). */
  get waitingForNode(): boolean {
    return this.nodeMissing;
  }

  /** Creates or updates this node's HostInterface (spec, route reports, last-seen status). */
  private async publish(own: HostInterface): Promise<void> {
    const unmanaged = own.metadata.labels?.[UNMANAGED_LABEL] === 'true';
    const reports = canonical(this.reports);
    const claimErrs = canonical(Object.fromEntries([...this.planErrors].sort()));
    const key = canonical(own.spec) + reports + claimErrs;
    if (this.published === key && this.informers.hostInterfaces.get(this.o.nodeName)) return;
    // CLAIMS_ANNOTATION tells the leader this agent claims by create: once every agent says so, a
    // legacy CIDR's host entries (all migrated to claims) can leave the CIDR.
    const annotations = { [ROUTES_ANNOTATION]: reports, [CLAIM_ERRORS_ANNOTATION]: claimErrs, [CLAIMS_ANNOTATION]: CLAIMS_ANNOTATION_VALUE };
    if (unmanaged) {
      if (reports + claimErrs !== this.publishedReports) await this.o.api.patch(R.HostInterface, this.o.nodeName, { metadata: { annotations } });
    } else {
      try {
        await this.o.api.patch(R.HostInterface, this.o.nodeName, { metadata: { annotations }, spec: own.spec });
      } catch (e) {
        if (!isNotFound(e)) throw e;
        try {
          await this.o.api.create(R.HostInterface, { ...own, metadata: { ...own.metadata, annotations } });
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
          await this.o.api.patch(R.HostInterface, this.o.nodeName, { metadata: { annotations }, spec: own.spec });
        }
      }
      await this.o.api
        .patch(R.HostInterface, this.o.nodeName, { status: { agentVersion: AGENT_VERSION, lastSeen: new Date().toISOString() } }, { subresource: 'status' })
        .catch((e: Error) => this.log({ level: 'debug', msg: 'HostInterface status update failed', error: e.message }));
    }
    this.published = key;
    this.publishedReports = reports + claimErrs;
  }

  /** Stops every loop; with `release`, hands the leader lease over at once (clean shutdown). */
  async stop(opts: { release?: boolean } = { release: true }): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.elector.stop(opts);
    await this.nodeLoop.stop();
    await this.clusterLoop.stop();
    await this.mirror?.stop();
    this.state.close();
    this.views.close();
    await Promise.all(Object.values(this.informers).map((i: { stop(): Promise<void> }) => i.stop()));
    this.outage.stop();
    await this.events.drain();
  }
}

/** Drops discovery-only fields (ifindex) that are not part of the HostInterface schema. */
function stripLocal(n: InterfaceInfo): InterfaceInfo {
  const { ifindex: _ifindex, ...rest } = n as InterfaceInfo & { ifindex?: number };
  return rest;
}

/** Builds and starts a KubeAgent; resolves once its state caches are filled. */
export async function startKubeAgent(opts: KubeAgentOptions): Promise<KubeAgent> {
  const agent = new KubeAgent(opts);
  await agent.start();
  return agent;
}
