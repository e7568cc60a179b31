// The agent's Prometheus metrics and probes (docs/metrics.md): one HTTP listener on `--metrics-addr`
// serving GET /metrics (prom-client's exposition), /healthz (the process answers) and /readyz (the
// CNI socket serves and the state and routes are loaded). Read-only: nothing here allocates,
// releases or writes; gauges are read from the agent's own state at scrape time. Imported only by
// src/agent/main.ts when the listener is on, so neither the CLI nor an agent without metrics loads
// prom-client.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';
import type { ListenAddress } from '../lib/agent/listen.js';
import type { DiscoveredNic } from '../lib/agent/discovery.js';
import type { HealthReport } from '../lib/diagnostics/health.js';

/** The CNI verbs of the agent socket (src/agent/server.ts) that are counted. */
export type CniVerb = 'allocate' | 'release' | 'lookup' | 'gc';
const VERBS: readonly CniVerb[] = ['allocate', 'release', 'lookup', 'gc'];

export interface PoolUsage {
  network: string;
  pool: string;
  nic: string;
  allocated: number;
  capacity: number;
}

/** What the gauges read at scrape time; each is optional (a source that does not apply is left out). */
export interface MetricsSources {
  pools?: () => PoolUsage[];
  nics?: () => readonly DiscoveredNic[];
  journal?: () => { bytes: number; compactions: number } | undefined;
  /** --kube only: whether this agent holds the leader lease. */
  leader?: () => boolean;
  /** --kube only: failed API calls so far, whether the API is down now, per-informer watch restarts. */
  kube?: () => { apiFailures: number; apiDown: boolean; watchRestarts: Record<string, { gone: number; errors: number }> };
  /** undefined = ready; otherwise why not (the /readyz body). */
  notReady?: () => string | undefined;
  /** undefined = live; otherwise why the kubelet should restart the agent (the /healthz body). */
  notLive?: () => string | undefined;
  /** The continuous self-check's newest results (src/agent/selfcheck.ts). */
  selfCheck?: () => Array<{ check: string; ok: boolean }>;
}

/** What one reconcile did (src/agent/main.ts ReconcileReport, the fields counted). */
export interface ReconcileOutcome {
  routeOps: number;
  shimOps: number;
  removedTables: readonly string[];
  repairs?: number;
  error?: string;
}

/**
 * A counter mirroring a cumulative count kept elsewhere (IPAM store, informers): on each scrape it
 * is raised by what the source grew since the last one. A source that went back (restarted) starts
 * over from its new value.
 */
function mirrorCounter<T extends string>(registry: Registry, name: string, help: string, labelNames: readonly T[], read: () => Array<[LabelValues<T>, number]>): void {
  const seen = new Map<string, number>();
  new Counter<T>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, v] of read()) {
        const key = JSON.stringify(labels);
        const prev = seen.get(key) ?? 0;
        const delta = v >= prev ? v - prev : v;
        if (delta > 0 || !seen.has(key)) this.inc(labels, delta);
        seen.set(key, v);
      }
    },
  });
}

export class AgentMetrics {
  readonly registry = new Registry();
  private sources: MetricsSources = {};
  private readonly requests: Counter<'verb' | 'result' | 'code'>;
  /** Children per verb|code, made once: the request path does a map lookup and two additions. */
  private readonly requestChildren = new Map<string, { inc(v?: number): void }>();
  private readonly durations = new Map<CniVerb, { observe(v: number): void }>();
  private readonly reconcileRuns: Counter<'result'>;
  private readonly reconcileChanges: Counter<'kind'>;
  private healthReport: HealthReport | undefined;
  private readonly healthRounds: Counter<never>;
  private readonly healthDuration: Histogram<never>;

  /** `kube`: register the --kube-only metrics (leader, API, watches); without it they are absent, not 0. */
  constructor(opts: { version: string; node: string; kube?: boolean }) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    new Gauge({ name: 'multinic_agent_info', help: 'Always 1; the labels say which agent version runs on which node.', labelNames: ['version', 'node'], registers: [r] }).set({ version: opts.version, node: opts.node }, 1);
    this.requests = new Counter({ name: 'multinic_cni_requests_total', help: 'CNI requests the agent socket answered, by verb, result (success/failure) and code (OK or the error code).', labelNames: ['verb', 'result', 'code'], registers: [r] });
    const hist = new Histogram({
      name: 'multinic_cni_request_duration_seconds',
      help: 'Time the agent took to answer a CNI request (body read to answer sent), by verb.',
      labelNames: ['verb'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [r],
    });
    // Every verb's success series and histogram exist from the start (at 0), so rate() has a base.
    for (const v of VERBS) {
      hist.zero({ verb: v });
      this.durations.set(v, hist.labels({ verb: v }));
      this.requests.inc({ verb: v, result: 'success', code: 'OK' }, 0);
      this.requestChildren.set(`${v}|OK`, this.requests.labels({ verb: v, result: 'success', code: 'OK' }));
    }
    this.reconcileRuns = new Counter({ name: 'multinic_route_reconcile_runs_total', help: 'Route, rule and shim reconcile passes, by result (success/failure: any step failed).', labelNames: ['result'], registers: [r] });
    this.reconcileRuns.inc({ result: 'success' }, 0);
    this.reconcileRuns.inc({ result: 'failure' }, 0);
    this.reconcileChanges = new Counter({ name: 'multinic_route_reconcile_changes_total', help: 'Host changes reconcile made, by kind: route (routes and rules), shim, table (owned tables removed), repair (of those, putting back what someone else removed).', labelNames: ['kind'], registers: [r] });
    for (const kind of ['route', 'shim', 'table', 'repair']) this.reconcileChanges.inc({ kind }, 0);

    const src = () => this.sources;
    new Gauge({
      name: 'multinic_ipam_allocations',
      help: 'Addresses allocated in a pool (one pool per network and host NIC).',
      labelNames: ['network', 'pool', 'nic'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of src().pools?.() ?? []) this.set({ network: p.network, pool: p.pool, nic: p.nic }, p.allocated);
      },
    });
    new Gauge({
      name: 'multinic_ipam_capacity',
      help: 'Addresses a pool can hand out (its block minus network, broadcast, excludes and reserved).',
      labelNames: ['network', 'pool', 'nic'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of src().pools?.() ?? []) this.set({ network: p.network, pool: p.pool, nic: p.nic }, p.capacity);
      },
    });
    new Gauge({
      name: 'multinic_nic_up',
      help: 'Whether a secondary NIC the agent discovered is operationally up (1) or not (0).',
      labelNames: ['nic'],
      registers: [r],
      collect() {
        this.reset();
        for (const n of src().nics?.() ?? []) this.set({ nic: n.interfaceName }, n.state === 'up' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'multinic_nic_speed_bytes',
      help: 'Link speed of a secondary NIC in bytes per second (as node_exporter\'s node_network_speed_bytes); 0 when the driver does not say.',
      labelNames: ['nic'],
      registers: [r],
      collect() {
        this.reset();
        for (const n of src().nics?.() ?? []) this.set({ nic: n.interfaceName }, n.speed && n.speed > 0 ? (n.speed * 1e6) / 8 : 0);
      },
    });
    new Gauge({
      name: 'multinic_ipam_journal_bytes',
      help: 'Size of the IPAM journal since the last compaction.',
      registers: [r],
      collect() {
        const j = src().journal?.();
        if (j) this.set(j.bytes);
      },
    });
    new Gauge({
      name: 'multinic_agent_self_check',
      help: 'The agent\'s continuous self-check per check: socket (the CNI socket answers), journal (the IPAM journal directory takes a durable write), api (--kube: the Kubernetes API answers); 1 passing, 0 failing.',
      labelNames: ['check'],
      registers: [r],
      collect() {
        this.reset();
        for (const c of src().selfCheck?.() ?? []) this.set({ check: c.check }, c.ok ? 1 : 0);
      },
    });
    // The continuous per-NIC health check (src/agent/health.ts): absent until its first round, and when it is off.
    const health = () => this.healthReport;
    new Gauge({
      name: 'multinic_nic_allocatable',
      help: 'Whether the newest health round created and deleted a test attachment on the NIC through its network\'s real delegate (1) or a step failed (0); absent when the NIC was not tested (lent to a pod, host-device, no CAP_SYS_ADMIN).',
      labelNames: ['nic'],
      registers: [r],
      collect() {
        this.reset();
        for (const n of health()?.nics ?? []) {
          const tested = n.allocability.filter((a) => a.outcome !== 'skipped');
          if (tested.length) this.set({ nic: n.nic }, tested.every((a) => a.outcome === 'ok') ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'multinic_nic_peers_reachable',
      help: 'Other hosts on the NIC\'s network that answered over this NIC in the newest health round.',
      labelNames: ['nic'],
      registers: [r],
      collect() {
        this.reset();
        for (const n of health()?.nics ?? []) if (n.peers > 0) this.set({ nic: n.nic }, n.reachable);
      },
    });
    new Gauge({
      name: 'multinic_nic_peers_unreachable',
      help: 'Other hosts on the NIC\'s network that did not answer over this NIC in the newest health round (peers not probed within the round\'s time budget are not counted).',
      labelNames: ['nic'],
      registers: [r],
      collect() {
        this.reset();
        for (const n of health()?.nics ?? []) if (n.peers > 0) this.set({ nic: n.nic }, n.unreachableCount);
      },
    });
    this.healthRounds = new Counter({ name: 'multinic_health_rounds_total', help: 'Continuous health rounds run (--health-interval).', registers: [r] });
    this.healthDuration = new Histogram({ name: 'multinic_health_round_duration_seconds', help: 'Time one continuous health round took (test attachments and peer probes).', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60], registers: [r] });
    mirrorCounter(r, 'multinic_ipam_journal_compactions_total', 'IPAM journal compactions (snapshot written, journal emptied) since the agent started.', [], () => {
      const j = this.sources.journal?.();
      return j ? [[{}, j.compactions]] : [];
    });
    if (opts.kube) this.kubeMetrics();
  }

  private kubeMetrics(): void {
    const r = this.registry;
    const src = () => this.sources;
    new Gauge({
      name: 'multinic_leader',
      help: '1 when this agent holds the leader lease (it plans CIDRs and cleans up the cluster), else 0. Only with --kube.',
      registers: [r],
      collect() {
        const l = src().leader?.();
        if (l !== undefined) this.set(l ? 1 : 0);
      },
    });
    new Gauge({
      name: 'multinic_kube_api_down',
      help: '1 while the Kubernetes API is unreachable from this agent (pod ADD/DEL keep being served from caches), else 0. Only with --kube.',
      registers: [r],
      collect() {
        const k = src().kube?.();
        if (k) this.set(k.apiDown ? 1 : 0);
      },
    });
    mirrorCounter(r, 'multinic_kube_api_errors_total', 'Kubernetes API calls that failed (transport errors and 5xx). Only with --kube.', [], () => {
      const k = this.sources.kube?.();
      return k ? [[{}, k.apiFailures]] : [];
    });
    mirrorCounter(r, 'multinic_kube_watch_restarts_total', 'Watches restarted by a problem, per resource and reason: gone (410, re-listed) or error (failed list/watch, retried with backoff). Only with --kube.', ['resource', 'reason'], () => {
      const k = this.sources.kube?.();
      if (!k) return [];
      return Object.entries(k.watchRestarts).flatMap(([resource, s]): Array<[LabelValues<'resource' | 'reason'>, number]> => [
        [{ resource, reason: 'gone' }, s.gone],
        [{ resource, reason: 'error' }, s.errors],
      ]);
    });
  }

  /** Sets what the gauges read (the agent calls it once its parts exist). */
  setSources(s: MetricsSources): void {
    this.sources = s;
  }

  /** Why the agent should be restarted, or undefined while it is live. */
  notLive(): string | undefined {
    return this.sources.notLive?.();
  }

  /** Why the agent is not ready, or undefined when it is. */
  notReady(): string | undefined {
    return this.sources.notReady ? this.sources.notReady() : 'the agent is starting';
  }

  /** One answered CNI request (called by the socket server for each verb it counts). */
  request(verb: CniVerb, code: string, seconds: number): void {
    const key = `${verb}|${code}`;
    let c = this.requestChildren.get(key);
    if (!c) {
      c = this.requests.labels({ verb, result: code === 'OK' ? 'success' : 'failure', code });
      this.requestChildren.set(key, c);
    }
    c.inc();
    this.durations.get(verb)?.observe(seconds);
  }

  /** One continuous health round finished (src/agent/health.ts). */
  health(r: HealthReport): void {
    this.healthReport = r;
    this.healthRounds.inc();
    this.healthDuration.observe(r.durationMs / 1000);
  }

  reconciled(o: ReconcileOutcome): void {
    this.reconcileRuns.inc({ result: o.error ? 'failure' : 'success' });
    if (o.routeOps) this.reconcileChanges.inc({ kind: 'route' }, o.routeOps);
    if (o.shimOps) this.reconcileChanges.inc({ kind: 'shim' }, o.shimOps);
    if (o.removedTables.length) this.reconcileChanges.inc({ kind: 'table' }, o.removedTables.length);
    if (o.repairs) this.reconcileChanges.inc({ kind: 'repair' }, o.repairs);
  }
}

export interface MetricsServer {
  /** Where it listens, `host:port` (IPv6 in brackets). */
  readonly address: string;
  readonly port: number;
  /** The node:http server itself (its 'error' events are logged, never thrown). */
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics, /healthz and /readyz on `addr`. Any other path is 404, any other method 405:
 * the listener has no way to change anything.
 */
export async function startMetricsServer(addr: ListenAddress, metrics: AgentMetrics, log: (event: Record<string, unknown>) => void = () => undefined): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'text/plain', 'the metrics listener is read-only: GET /metrics, /healthz or /readyz\n');
    if (path === '/healthz') {
      const why = metrics.notLive();
      return why === undefined ? reply(200, 'text/plain', 'ok\n') : reply(503, 'text/plain', `not live: ${why}\n`);
    }
    if (path === '/readyz') {
      const why = metrics.notReady();
      return why === undefined ? reply(200, 'text/plain', 'ok\n') : reply(503, 'text/plain', `not ready: ${why}\n`);
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => reply(200, metrics.registry.contentType, text),
        (e: Error) => reply(500, 'text/plain', `failed to collect metrics: ${e.message}\n`),
      );
      return;
    }
    reply(404, 'text/plain', `no such path ${path}: the metrics listener serves /metrics, /healthz and /readyz\n`);
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => reject(new Error(`failed to listen for metrics on ${addr.host ?? ''}:${addr.port} (--metrics-addr): ${e.code === 'EADDRINUSE' ? 'the port is in use; pick another with --metrics-addr, or turn the listener off with --metrics-addr ""' : e.message}`));
    server.once('error', failed);
    server.listen(addr.port, addr.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : addr.port;
  const host = typeof a === 'object' && a ? a.address : (addr.host ?? '');
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  // An 'error' without a listener would throw and end the agent (e.g. accept(2) failing with
  // EMFILE): the CNI is worth more than its metrics, so it is logged and the listener goes on.
  server.on('error', (e: Error) => log({ level: 'error', msg: 'metrics listener error; the agent serves the CNI regardless', address, error: e.message }));
  return {
    address,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
