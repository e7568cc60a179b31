// The node agent: discovery → routes and shims → socket server, kept in sync with the state source
// and the host's links. `runAgent` builds the real adapters (docs/conventions.md §4: only entry points do) unless
// the caller injects them, and returns a handle whose stop() shuts everything down.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Allocation, Ipam, PoolSpec } from '../lib/ipam/types.js';
import { DEFAULT_AGENT_SOCKET, type AllocatedNic } from '../lib/agent/protocol.js';
import { nicChanges, nicsChanged, type DiscoveredNic } from '../lib/agent/discovery.js';
import { AgentCore } from './core.js';
import { openIpamStore } from './ipam/store.js';
import { discoverNics, watchNics } from './discovery.js';
import { IpHostNetwork, type HostNetwork } from './hostnet.js';
import { NicLending } from './lending.js';
import { RouteReconciler } from './routes.js';
import { startAgentServer, type AgentServer } from './server.js';
import { FileAgentState, type AgentState, type PodFactsPaths } from './state.js';
import type { KubeAgent, KubeModeOptions } from './kube/index.js';
import type { RepairLog } from '../lib/diagnostics/conditions.js';
import { DEFAULT_CNI_BIN_DIR, NodeProber, PodNetnsRegistry } from './probe.js';
import { DiagnosticsLoop } from './diagnostics.js';
import { watchRoutes } from './route-watch.js';
import { AGENT_VERSION } from './version.js';
import { DEFAULT_RT_TABLES } from './routes.js';
import type { ListenAddress } from '../lib/agent/listen.js';
import type { AgentMetrics, MetricsServer, PoolUsage } from './metrics.js';
import { compilePool } from '../lib/ipam/allocator.js';
import { NodeReconciler, type ReconcileReport } from './reconcile.js';
import { podNetnsDenied } from '../lib/agent/capabilities.js';
import { SelfCheck } from './selfcheck.js';
import { HealthChecker } from './health.js';
import { healthConditions, healthNetnsName, healthNetnsPid, type HealthReport } from '../lib/diagnostics/health.js';
import { DEFAULT_METRICS_PORT } from '../lib/agent/listen.js';
import { run } from '../host/exec.js';

export interface AgentOptions {
  nodeName: string;
  socketPath?: string;
  /** Multi-document YAML with MultiNicNetwork/CIDR/DeviceClass (until the Kubernetes source lands). */
  stateFile?: string;
  /** Durable data: the IPAM journal and the record of owned routing tables. */
  dataDir: string;
  sysfsRoot?: string;
  rtTablesPath?: string;
  /** Set net.ipv4.ip_forward=1 when an L3 network needs it (otherwise only reported). */
  enableForwarding?: boolean;
  podFacts?: PodFactsPaths;
  /** Injected adapters (tests); built here when absent. */
  ipam?: Ipam & { close?: () => Promise<void> | void; setPools?: (pools: PoolSpec[]) => unknown };
  hostNet?: HostNetwork;
  state?: AgentState;
  /** `--kube`: the state comes from the Kubernetes API and the agent publishes, claims and mirrors there. */
  kube?: KubeModeOptions;
  /** `--dra` (with kube): ResourceSlice publishing and the kubelet DRA plugin (docs/dra.md). */
  /** `sysfsRoot`: where the DRA-only facts (PCIe root, RDMA) are read; default the agent's sysfsRoot (the lab points it at a tree placing its veths on PCIe roots). */
  dra?: { kubeletDir?: string; sysfsRoot?: string };
  /** Follow `ip monitor` and the state file (default true). */
  watch?: boolean;
  /** Full re-scan and reconcile period (default 60 s). */
  resyncMs?: number;
  /** CNI GC (`POST /v1/gc`) keeps unlisted allocations younger than this (default 60 s; `--gc-grace`). */
  cniGcGraceMs?: number;
  /** Open connections on the agent socket at most (default 512; `--max-connections`). */
  maxConnections?: number;
  /** The host CNI bin dir(s) the prober checks (default /opt/cni/bin; `--cni-bin-dir`, ':'-separated). */
  cniBinDirs?: string[];
  /** Periodic node probe published as diagnostics (default 30 s; `--probe-interval`). */
  probeIntervalMs?: number;
  /** Prometheus metrics, /healthz and /readyz (`--metrics-addr`, docs/metrics.md); undefined = no listener. */
  metricsAddr?: ListenAddress;
  /** NIC discovery (tests inject it; default: `ip` and sysfs on this host, src/agent/discovery.ts). */
  discover?: () => Promise<DiscoveredNic[]>;
  /**
   * Whether the agent reads pod network namespaces (pod interfaces in diagnostics, MACs in DRA
   * claim status). Default: when it holds CAP_SYS_ADMIN, which setns(2) needs (read from
   * /proc/self/status; docs/install.md#capabilities).
   */
  podNetnsAccess?: boolean;
  /** Period of the continuous self-check (default 10 s; `--self-check-interval`). */
  selfCheckIntervalMs?: number;
  /**
   * Period of the continuous per-NIC health check (src/agent/health.ts); undefined or 0 = off (the
   * agent's `--health-interval` defaults to 60 s, src/agent/cli.ts).
   */
  healthIntervalMs?: number;
  /** The health check's scratch namespace (default: healthNetnsName of the agent's own netns). */
  healthNetns?: string;
  log?: (event: Record<string, unknown>) => void;
}

export type { ReconcileReport } from './reconcile.js';

export interface AgentHandle {
  readonly socketPath: string;
  readonly core: AgentCore;
  nics(): DiscoveredNic[];
  /** Re-discovers NICs; true when they changed. */
  rescan(): Promise<boolean>;
  /** Reconciles routes, shims and forwarding now (serialised with the automatic passes). */
  reconcile(): Promise<ReconcileReport>;
  /** The node prober's loop: the newest diagnostics, probe on demand. */
  readonly diagnostics: DiagnosticsLoop;
  /** Where the metrics listener listens (`host:port`), when it is on. */
  readonly metricsAddress?: string;
  status(): Record<string, unknown>;
  stop(): Promise<void>;
}

/** The agent's log: one JSON object per line on stderr (debug only with MULTINIC_AGENT_DEBUG). */
export const stderrLog = (e: Record<string, unknown>) => {
  if (e.level === 'debug' && !process.env.MULTINIC_AGENT_DEBUG) return;
  process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), ...e })}\n`);
};

/** The pod's NICs of our driver over its prepared claims, in claim order (claims by name, then allocation order). */
const claimedNicsOf = (prepared: import('./dra/prepared.js').PreparedClaims) => (podUID: string) =>
  prepared
    .forPod(podUID)
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`))
    .flatMap((c) => c.nics.map((n) => ({ interfaceName: n.interfaceName, claim: `${c.namespace}/${c.name}` })));

export async function runAgent(opts: AgentOptions): Promise<AgentHandle> {
  const log = opts.log ?? stderrLog;
  const socketPath = opts.socketPath ?? DEFAULT_AGENT_SOCKET;
  const hostNet = opts.hostNet ?? new IpHostNetwork();
  const watch = opts.watch ?? true;
  const cleanups: Array<() => Promise<void> | void> = [];
  const undo = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  const discover = opts.discover ?? (() => discoverNics({ sysfsRoot: opts.sysfsRoot }));
  try {
    // The probe listener comes up first, so liveness holds through a slow start (API caches);
    // readiness waits for the socket and the first reconcile.
    const { metrics, metricsServer } = await startMetrics(opts, log, cleanups);
    const { state: st, kube, draClaims, draStatus } = await openStateSource(opts, log, cleanups);
    // NICs lent to pods (host-device) survive restarts; one that came back while the agent was down is restored first.
    const lending = await NicLending.open({ path: join(opts.dataDir, 'lent-nics.json'), hostNet, log, ...(opts.cniGcGraceMs !== undefined ? { graceMs: opts.cniGcGraceMs } : {}) });
    await lending.reclaim();
    // Discovery keeps a NIC that is down (state 'down'): the host keeps owning it (HostInterface,
    // blocks) and doctor names it, but routes, shims and pods use only the NICs that are up (`nics`).
    const isDown = (n: DiscoveredNic) => n.state === 'down';
    let found = await discover();
    let nics = found.filter((n) => !isDown(n));
    let downNics = found.filter(isDown);
    log({ level: 'info', msg: 'discovered NICs', nics: nics.map((n) => `${n.interfaceName}=${n.hostIP}`), ...(lending.outstanding().length ? { lent: lending.outstanding().map((n) => n.interfaceName) } : {}) });
    // What the host owns: the NICs in its namespace plus those lent to pods (HostInterface keeps them,
    // so the host keeps their blocks). Routes and shims use only the NICs present (`nics`).
    // A lent NIC is reported as it was lent even while discovery still sees it in the host namespace
    // (an ADD moving it, or a pod gone and the NIC back before reclaim): its state there is a transient
    // (down, no speed while it moves), not a change of what the host owns.
    const owned = (): DiscoveredNic[] => {
      const lent = lending.outstanding();
      const out = [...lent];
      for (const n of [...nics, ...downNics]) if (!out.some((d) => d.interfaceName === n.interfaceName)) out.push(n);
      return out.sort((a, b) => (a.interfaceName < b.interfaceName ? -1 : a.interfaceName > b.interfaceName ? 1 : 0));
    };
    let published = owned();
    const ipam: AgentOptions['ipam'] & object = opts.ipam ?? (await openIpamStore({ dir: join(opts.dataDir, 'ipam') }));
    if (!opts.ipam && ipam.close) cleanups.push(() => ipam.close?.());
    // In --kube mode allocations are mirrored to IPPools and leaks collected behind the core's back.
    const podNetns = await new PodNetnsRegistry(join(opts.dataDir, 'pod-netns.json')).load();
    const netnsDenied = opts.podNetnsAccess === true ? undefined : opts.podNetnsAccess === false ? podNetnsDenied('CapEff:\t0000000000000000\n') : podNetnsDenied(await readFile('/proc/self/status', 'utf8').catch(() => undefined));
    if (netnsDenied) log({ level: 'info', msg: 'pod network namespaces are not read (pod interfaces in diagnostics show as unknown, DRA claim status carries no MAC)', reason: netnsDenied });
    const ka = kube;
    const served = ka ? ka.attachIpam(ipam, { onLeaksReleased: () => core.invalidate() }) : ipam;
    const core: AgentCore = new AgentCore({
      hostName: opts.nodeName,
      state: st,
      ipam: served,
      nics: () => owned().filter((n) => !downNics.some((d) => d.interfaceName === n.interfaceName)),
      lending,
      podNetns,
      ...(draClaims ? { claimedNics: claimedNicsOf(draClaims) } : {}),
      ...(draStatus ? { claimStatus: { attached: (uid: string, netns: string | undefined, nics: AllocatedNic[]) => void draStatus?.attached(uid, netnsDenied ? undefined : netns, nics), released: (uid: string) => void draStatus?.released(uid) } } : {}),
      ...(opts.cniGcGraceMs !== undefined ? { gcGraceMs: opts.cniGcGraceMs } : {}),
      // A CNI GC never takes the addresses of a pod this node's pod cache shows live.
      ...(ka ? { liveReason: (a: Allocation) => ka.liveReason(a) } : {}),
      log,
    });
    void kube?.setNics(published);
    const routes = new RouteReconciler({ hostNet, rtTablesPath: opts.rtTablesPath, ownershipPath: join(opts.dataDir, 'route-tables.json') });
    const reconciler = new NodeReconciler({ nodeName: opts.nodeName, state: st, core, hostNet, routes, ipam, enableForwarding: opts.enableForwarding, log });

    const health = await startHealth(opts, { core, st, ipam, nics: () => nics, lending, netnsDenied, log });
    const prober = new NodeProber({
      hostName: opts.nodeName,
      agentVersion: AGENT_VERSION,
      networks: () => st.networks(),
      discovered: () => [...nics, ...downNics].map((n) => n.interfaceName),
      lent: () => Object.fromEntries(lending.list().filter((l) => l.releasedAt === undefined).map((l) => [l.nic.interfaceName, l.pod ? `${l.pod.namespace}/${l.pod.name}` : `pod ${l.holder.podUID ?? l.holder.containerID}`])),
      ipam: ipam as ConstructorParameters<typeof NodeProber>[0]['ipam'],
      podNetns: (id) => podNetns.get(id),
      repairs: () => reconciler.repairLog.records,
      rtTablesPath: opts.rtTablesPath ?? DEFAULT_RT_TABLES,
      cniBinDirs: opts.cniBinDirs ?? [DEFAULT_CNI_BIN_DIR],
      ...(netnsDenied ? { podNetnsDenied: netnsDenied } : {}),
      log,
    });
    const diagnostics = new DiagnosticsLoop({
      prober,
      ...(health ? { health: () => health.last() } : {}),
      ...(kube ? { sink: kube.diagnosticsSink() } : {}),
      intervalMs: opts.probeIntervalMs ?? 30_000,
      onProbe: () => void podNetns.flush(new Set(ipam.list().map((a) => a.containerID))),
      log,
    });
    cleanups.push(() => diagnostics.stop());
    // `kubectl multinic ipam release` requests, acted on through the same IPAM the CNI uses.
    const releases = ka?.releaseHandler(served, () => {
      core.invalidate();
      diagnostics.kick();
    });
    if (releases) cleanups.push(() => releases.stop());
    let last: ReconcileReport | undefined;
    let chain: Promise<unknown> = Promise.resolve();
    const reconcileNow = async (): Promise<ReconcileReport> => {
      const { report, networkErrors, globalError } = await reconciler.reconcile(nics);
      last = report;
      metrics?.reconciled(report);
      void kube?.reportRoutes({ error: globalError, networkErrors: Object.fromEntries([...networkErrors].map(([k, v]) => [k, v.join('; ')])), localNics: new Set(nics.map((n) => n.interfaceName)) });
      diagnostics.kick();
      return report;
    };
    // Once stop() has begun no pass starts: the state sources are closing, and a pass over a state
    // that emptied as its informers stopped would remove every route and shim of the node
    // (a restart keeps them for the next agent: docs/install.md#upgrades).
    let stopped = false;
    const reconcile = (): Promise<ReconcileReport> => {
      if (stopped && last) return Promise.resolve(last);
      const next = chain.then(reconcileNow);
      chain = next.catch(() => undefined);
      return next;
    };
    const rescan = async (): Promise<boolean> => {
      await lending.reclaim();
      found = await discover();
      const fresh = found.filter((n) => !isDown(n));
      const present = nicsChanged(nics, fresh);
      nics = fresh;
      downNics = found.filter(isDown);
      const now = owned();
      // A NIC leaving for a pod (lent) changes what is present (routes, shims), not what the host owns.
      const changes = nicChanges(published, now);
      const changed = changes.length > 0;
      published = now;
      if (changed) void kube?.setNics(now);
      if (changed) log({ level: 'info', msg: 'NICs changed', changes: changes.slice(0, 20), nics: now.map((n) => `${n.interfaceName}=${n.hostIP}`) });
      return changed || present;
    };

    const status = () => agentStatus({ hostName: opts.nodeName, socketPath, nics, lending, state: st, core, ipam, lastReconcile: last, repairs: reconciler.repairLog.records, diagnostics: diagnostics.last });

    const mx = metrics;
    const server: AgentServer = await startAgentServer({
      socketPath,
      core,
      state: status,
      log,
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      onRequest: (verb, code, seconds) => {
        mx?.request(verb, code, seconds);
        // The allocations changed (or may have): published within kickDelayMs, as `doctor
        // --timeout 0` and ipam-mirror compare them with the IPPool mirror. This used to come
        // by chance, from the NIC's link message each attachment resends (MonitorNews drops those).
        if (verb !== 'lookup') diagnostics.kick();
      },
    });
    cleanups.push(() => server.close());
    // Continuous self-check on the real paths (src/agent/selfcheck.ts): probes and a metric.
    const kk = kube;
    const selfCheck = new SelfCheck({
      socketPath,
      ...(opts.ipam ? {} : { journalDir: join(opts.dataDir, 'ipam') }),
      ...(kk ? { apiDown: () => kk.outage.down } : {}),
      intervalMs: opts.selfCheckIntervalMs ?? 10_000,
      log,
    });
    selfCheck.start();
    cleanups.push(() => selfCheck.stop());
    let serving = true;
    cleanups.push(() => void (serving = false));
    if (mx) {
      const store = ipam as { stats?: () => { journalBytes: number; compactions: number } };
      const k = kube;
      mx.setSources({
        pools: () => poolUsage(st, core, ipam),
        nics: () => nics,
        ...(typeof store.stats === 'function' ? { journal: () => { const s = store.stats?.(); return s && { bytes: s.journalBytes, compactions: s.compactions }; } } : {}),
        ...(k
          ? {
              leader: () => k.elector.isLeader,
              kube: () => ({ apiFailures: k.outage.stats.failures, apiDown: k.outage.down, watchRestarts: Object.fromEntries(Object.entries(k.informers).map(([name, i]) => [name, { gone: i.stats.gone, errors: i.stats.errors }])) }),
            }
          : {}),
        notReady: () => (!serving ? 'the agent is stopping' : !last ? 'routes not reconciled yet' : selfCheck.notReady()),
        notLive: () => selfCheck.notLive(),
        selfCheck: () => [...selfCheck.last()].map(([check, r]) => ({ check, ok: r.ok })),
      });
    }
    await reconcile();
    diagnostics.start();
    if (health) {
      const kk2 = kube;
      let prevStatus = new Map<string, string>();
      health.onReport((r) => {
        mx?.health(r);
        diagnostics.kick();
        // An Event when a health condition changes (not on the first round: the condition says it).
        const now = healthConditions(r, undefined, r.observedAt);
        for (const c of now) {
          const was = prevStatus.get(c.type);
          if (was !== undefined && was !== c.status && kk2) {
            kk2.events.record({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', name: opts.nodeName }, c.status === 'False' ? 'NICHealthDegraded' : 'NICHealthRestored', `${c.type} ${c.status}: ${c.message ?? ''}`, c.status === 'False' ? 'Warning' : 'Normal');
          }
          if (was !== undefined && was !== c.status) log({ level: c.status === 'False' ? 'warn' : 'info', msg: 'NIC health changed', condition: c.type, status: c.status, message: c.message });
        }
        prevStatus = new Map(now.map((c) => [c.type, c.status]));
      });
      await health.checker.start();
      cleanups.push(() => health.checker.stop());
    }
    releases?.start();

    if (watch) {
      const unsub = st.onChange(() => {
        log({ level: 'info', msg: 'state changed' });
        core.invalidate();
        void reconcile();
      });
      cleanups.push(unsub);
      const stopWatch = watchNics(() => void rescan().then((changed): unknown => (changed ? reconcile() : diagnostics.kick('routine'))).catch((e: Error) => log({ level: 'error', msg: 'rescan failed', error: e.message })), { intervalMs: opts.resyncMs ?? 60_000 });
      cleanups.push(stopWatch);
      // A route, rule or shim of ours removed by someone else is put back at once, not at the resync.
      cleanups.push(watchRoutes(() => void reconcile(), { log }));
      const resync = setInterval(() => void reconcile(), opts.resyncMs ?? 60_000);
      resync.unref();
      cleanups.push(() => clearInterval(resync));
    }
    log({ level: 'info', msg: 'agent ready', node: opts.nodeName, socket: socketPath });

    let stopping: Promise<void> | undefined;
    return {
      socketPath,
      core,
      nics: () => nics,
      rescan,
      reconcile,
      diagnostics,
      ...(metricsServer ? { metricsAddress: metricsServer.address } : {}),
      status,
      // Graceful (SIGTERM): no new reconcile pass, the running one finishes, then the socket stops
      // accepting and answers its in-flight requests (server.close), the IPAM closes, the IPPool
      // mirror flushes and the leader lease is handed over. Routes, rules, shims and the journal stay.
      stop: () => (stopping ??= (async () => {
        stopped = true;
        await chain;
        await undo();
        log({ level: 'info', msg: 'agent stopped' });
      })()),
    };
  } catch (e) {
    await undo();
    throw e;
  }
}

/** The metrics and probe listener (--metrics-addr), when asked for; prom-client loads only here. */
async function startMetrics(
  opts: AgentOptions,
  log: (event: Record<string, unknown>) => void,
  cleanups: Array<() => Promise<void> | void>,
): Promise<{ metrics?: AgentMetrics; metricsServer?: MetricsServer }> {
  if (!opts.metricsAddr) return {};
  const m = await import('./metrics.js');
  const metrics = new m.AgentMetrics({ version: AGENT_VERSION, node: opts.nodeName, kube: Boolean(opts.kube && !opts.state) });
  try {
    const srv = await m.startMetricsServer(opts.metricsAddr, metrics, log);
    cleanups.push(() => srv.close());
    log({ level: 'info', msg: 'serving metrics and probes', address: srv.address });
    return { metrics, metricsServer: srv };
  } catch (e) {
    // The CNI is worth more than its metrics: serve pods anyway, and say why the probes fail.
    log({ level: 'error', msg: 'metrics listener not started; the agent serves the CNI without it', error: (e as Error).message });
    return { metrics };
  }
}

/** Where the networks come from (injected, --kube with optional --dra, or the state file); stoppers go on `cleanups`. */
async function openStateSource(
  opts: AgentOptions,
  log: (event: Record<string, unknown>) => void,
  cleanups: Array<() => Promise<void> | void>,
): Promise<{ state: AgentState; kube?: KubeAgent; draClaims?: import('./dra/prepared.js').PreparedClaims; draStatus?: import('./dra/status.js').ClaimStatusWriter }> {
  if (opts.state) return { state: opts.state };
  const podFacts = { ...opts.podFacts, ...(opts.sysfsRoot ? { sysfsRoot: opts.sysfsRoot } : {}) };
  if (opts.kube) {
    // Loaded only in --kube mode: @kubernetes/client-node alone costs ~45 MB of RSS (measured:
    // 85 vs 40 MB for the bundled agent), which the file-state agent must not pay.
    const { startKubeMode } = await import('./kube/index.js');
    const kubeOpts = opts.dra ? { ...opts.kube, tuning: { ...opts.kube.tuning, dra: { ...((opts.dra.sysfsRoot ?? opts.sysfsRoot) ? { sysfsRoot: opts.dra.sysfsRoot ?? opts.sysfsRoot } : {}) } } } : opts.kube;
    const kube = await startKubeMode({ ...kubeOpts, nodeName: opts.nodeName, podFacts, log });
    cleanups.push(() => kube.stop());
    if (!opts.dra) return { state: kube.state, kube };
    // The CNI is worth more than DRA: without the plugin, claimed pods wait in Prepare (the
    // kubelet cannot reach it) and every other pod is served.
    const { startAgentDra } = await import('./dra/index.js');
    try {
      const dra = await startAgentDra({ kube, nodeName: opts.nodeName, dataDir: opts.dataDir, kubeletDir: opts.dra.kubeletDir, log });
      cleanups.push(() => dra.stop());
      return { state: kube.state, kube, draClaims: dra.prepared, draStatus: dra.status };
    } catch (e) {
      log({ level: 'error', msg: 'DRA kubelet plugin not started; the agent serves the CNI without it', error: (e as Error).message, hint: 'check --kubelet-dir (unix socket paths are limited to 107 bytes) and <data-dir>/dra-prepared.json' });
      return { state: kube.state, kube };
    }
  }
  if (!opts.stateFile) throw new Error('runAgent needs a state source (stateFile or state)');
  const state = await FileAgentState.open(opts.stateFile, {
    watch: opts.watch ?? true,
    podFacts,
    onError: (e) => log({ level: 'error', msg: 'state file reload failed; keeping the previous state', error: e.message }),
  });
  cleanups.push(() => state.close());
  return { state };
}

/** Per pool of this host: addresses held and addresses it can hand out (metrics; read-only). */
function poolUsage(st: AgentState, core: AgentCore, ipam: Ipam): PoolUsage[] {
  const held = new Map<string, number>();
  for (const a of ipam.list()) held.set(a.pool, (held.get(a.pool) ?? 0) + 1);
  const out: PoolUsage[] = [];
  for (const n of st.networks()) {
    if (!n.cidr) continue;
    let mine: ReturnType<AgentCore['hostNics']>;
    try {
      mine = core.hostNics(n);
    } catch {
      continue; // a network the core cannot read is reported by allocate and reconcile
    }
    for (const m of mine) {
      const pool = m.addressing.pool;
      let capacity = 0;
      try {
        capacity = Number(compilePool(pool).usable);
      } catch {
        // an invalid pool hands out nothing
      }
      out.push({ network: pool.network, pool: pool.name, nic: m.host.interfaceName, allocated: held.get(pool.name) ?? 0, capacity });
    }
  }
  return out;
}

/** GET /v1/state: what the agent holds and did, for doctor and the lab (read-only). */
function agentStatus(s: {
  hostName: string;
  socketPath: string;
  nics: DiscoveredNic[];
  lending: NicLending;
  state: AgentState;
  core: AgentCore;
  ipam: Ipam;
  lastReconcile: ReconcileReport | undefined;
  repairs: RepairLog['records'];
  diagnostics: DiagnosticsLoop['last'];
}): Record<string, unknown> {
  const { core, ipam } = s;
  return {
    apiVersion: 'v1',
    kind: 'AgentState',
    hostName: s.hostName,
    socketPath: s.socketPath,
    nics: s.nics,
    lentNics: s.lending.list(),
    networks: s.state.networks().map((n) => {
      const name = n.network.metadata.name ?? '';
      let pools: unknown[] = [];
      let error: string | undefined;
      try {
        const held = ipam.list();
        pools = n.cidr ? core.hostNics(n).map((m) => ({ name: m.addressing.pool.name, interfaceName: m.host.interfaceName, podCIDR: m.host.podCIDR, gateway: m.addressing.gateway, allocated: held.filter((a) => a.pool === m.addressing.pool.name).length })) : [];
      } catch (e) {
        error = (e as Error).message;
      }
      return { name, strategy: n.network.spec.attachPolicy?.strategy ?? 'none', plugin: n.network.spec.plugin.type, planned: Boolean(n.cidr), pools, ...(error ? { error } : {}) };
    }),
    allocations: ipam.list().length,
    lastReconcile: s.lastReconcile,
    repairs: s.repairs,
    diagnostics: s.diagnostics,
    process: { pid: process.pid, rssMiB: Math.round(process.memoryUsage.rss() / 1048576), heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 1048576) },
  };
}

/** The continuous health check (--health-interval), unless it is off; started by the caller. */
async function startHealth(
  opts: AgentOptions,
  d: { core: AgentCore; st: AgentState; ipam: Ipam; nics: () => DiscoveredNic[]; lending: NicLending; netnsDenied: string | undefined; log: (e: Record<string, unknown>) => void },
): Promise<{ checker: HealthChecker; last: () => HealthReport | undefined; onReport: (cb: (r: HealthReport) => void) => void } | undefined> {
  const intervalMs = opts.healthIntervalMs ?? 0;
  if (intervalMs <= 0) return undefined;
  // The scratch namespace is named after the agent's own (`ip netns identify`: the lab's host
  // namespaces have names, a real node's has none), so each agent sweeps only its own.
  const own = opts.healthNetns ? undefined : (await run('ip', ['netns', 'identify', String(process.pid)]).catch(() => ({ stdout: '' }))).stdout.trim().split(/\s+/)[0];
  let cb: ((r: HealthReport) => void) | undefined;
  const checker = new HealthChecker({
    nodeName: opts.nodeName,
    networks: () => d.st.networks(),
    core: d.core,
    ipam: d.ipam,
    nics: d.nics,
    lentTo: (nic) => {
      const l = d.lending.list().find((x) => x.releasedAt === undefined && x.nic.interfaceName === nic);
      return l ? (l.pod ? `${l.pod.namespace}/${l.pod.name}` : `pod ${l.holder.podUID ?? l.holder.containerID}`) : undefined;
    },
    cniBinDirs: opts.cniBinDirs ?? [DEFAULT_CNI_BIN_DIR],
    intervalMs,
    port: opts.metricsAddr?.port || DEFAULT_METRICS_PORT,
    netnsName: opts.healthNetns ?? healthNetnsName(own, process.pid),
    staleNetns: (name) => {
      const pid = healthNetnsPid(name, own);
      return pid !== undefined && pid !== process.pid && !processAlive(pid);
    },
    ...(d.netnsDenied ? { netnsDenied: d.netnsDenied } : {}),
    onReport: (r) => cb?.(r),
    log: d.log,
  });
  return { checker, last: () => checker.last(), onReport: (f) => void (cb = f) };
}

/** Whether process `pid` exists (EPERM: it does, owned by someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
