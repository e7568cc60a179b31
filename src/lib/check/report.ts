// The CheckReport (`check -o json|yaml`, schema schemas/checkreport.json): per network a
// connectivity matrix per NIC and the aggregate per host pair, then every test. Lists sorted so
// reports diff cleanly. Pure.
import type { CheckOptions, CheckPlan, CheckReport, HostPairReport, NetworkReport, TestResult, TestStatus } from './types.js';

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const round2 = (n: number): number => Math.round(n * 100) / 100;

const worst = (statuses: TestStatus[]): TestStatus => (statuses.includes('fail') ? 'fail' : statuses.every((s) => s === 'skip') ? 'skip' : 'pass');

export interface ReportMeta {
  runId: string;
  startedAt: Date;
  finishedAt: Date;
  interrupted: boolean;
}

/** Builds the report from the plan and the results of its tests (any order). */
export function buildReport(plan: CheckPlan, results: TestResult[], opts: CheckOptions, meta: ReportMeta): CheckReport {
  const tests = [...results].sort((a, b) => cmp(a.network, b.network) || cmp(a.client.host, b.client.host) || cmp(a.server.host, b.server.host) || a.nicIndex - b.nicIndex);
  const networks: NetworkReport[] = plan.networks
    .map((net) => {
      const mine = tests.filter((t) => t.network === net.name);
      const nics = net.nics
        .map((nic) => ({
          index: nic.index,
          netAddress: nic.netAddress,
          connectivity: mine.filter((t) => t.nicIndex === nic.index).map((t) => ({ client: t.client.host, server: t.server.host, connected: t.connected, status: t.status })),
        }))
        .filter((n) => n.connectivity.length);
      const pairs = new Map<string, TestResult[]>();
      for (const t of mine) {
        const k = `${t.client.host}\u0000${t.server.host}`;
        pairs.set(k, [...(pairs.get(k) ?? []), t]);
      }
      const hostPairs: HostPairReport[] = [...pairs.values()].map((ts) => ({
        client: ts[0]?.client.host ?? '',
        server: ts[0]?.server.host ?? '',
        aggregateGbps: round2(ts.reduce((s, t) => s + (t.gbps ?? 0), 0)),
        nics: ts.length,
        passed: ts.filter((t) => t.status === 'pass').length,
        status: worst(ts.map((t) => t.status)),
      }));
      return { name: net.name, nics, hostPairs };
    })
    .filter((n) => n.nics.length)
    .sort((a, b) => cmp(a.name, b.name));
  const passed = tests.filter((t) => t.status === 'pass').length;
  const failed = tests.filter((t) => t.status === 'fail').length;
  const skipped = tests.filter((t) => t.status === 'skip').length;
  const spec: CheckReport['spec'] = {
    networks: [...opts.networks].sort(cmp),
    nodes: [...opts.nodes].sort(cmp),
    pairs: opts.pairs,
    duration: opts.duration,
    parallel: opts.parallel,
    concurrency: opts.concurrency,
    tolerance: opts.tolerance,
    image: opts.image,
    portBase: opts.portBase,
    namespace: opts.namespace,
  };
  if (opts.nodeSelector) spec.nodeSelector = opts.nodeSelector;
  if (opts.expectGbps !== undefined) spec.expectGbps = opts.expectGbps;
  if (opts.test) spec.test = opts.test;
  spec.via = opts.via ?? 'annotation';
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'CheckReport',
    metadata: { name: `check-${meta.runId}`, creationTimestamp: meta.startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z') },
    spec,
    summary: {
      result: meta.interrupted ? 'interrupted' : failed ? 'fail' : 'pass',
      total: tests.length,
      passed,
      failed,
      skipped,
      durationSeconds: round2((meta.finishedAt.getTime() - meta.startedAt.getTime()) / 1000),
    },
    networks,
    tests: tests.map(dropUndefined),
  };
}

function dropUndefined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) ? dropUndefined(v as object) : v;
  }
  return out as T;
}

/** Exit code for a finished report: 0 all passed (skips allowed only with passes), 1 otherwise. */
export function reportExitCode(r: CheckReport): 0 | 1 {
  return r.summary.result === 'pass' && r.summary.passed > 0 ? 0 : 1;
}

/** One NIC's client x server matrix of a report: each cell as `check` prints it. */
export interface NicMatrix {
  network: string;
  index: number;
  netAddress: string;
  clients: string[];
  servers: string[];
  /** cells[client][server]: Gbit/s where it passed, FAIL where it did not connect, Gbit/s! where it connected but failed, skip, '-' untested. */
  cells: string[][];
  /** Status per cell (undefined: untested), for colouring. */
  status: Array<Array<TestStatus | undefined>>;
}

/** The per-NIC matrices of a report, in report order (the human summary and the TUI draw these). */
export function nicMatrices(r: CheckReport): NicMatrix[] {
  const out: NicMatrix[] = [];
  for (const net of r.networks) {
    const tests = r.tests.filter((t) => t.network === net.name);
    for (const nic of net.nics) {
      const clients = [...new Set(nic.connectivity.map((c) => c.client))].sort();
      const servers = [...new Set(nic.connectivity.map((c) => c.server))].sort();
      const find = (c: string, s: string) => tests.find((x) => x.nicIndex === nic.index && x.client.host === c && x.server.host === s);
      const cells = clients.map((c) =>
        servers.map((s) => {
          const t = find(c, s);
          if (!t) return '-';
          if (t.status === 'skip') return 'skip';
          if (t.status === 'fail') return t.connected && t.gbps !== undefined ? `${t.gbps.toFixed(2)}!` : 'FAIL';
          return t.gbps !== undefined ? t.gbps.toFixed(2) : 'ok';
        }),
      );
      const status = clients.map((c) => servers.map((s) => find(c, s)?.status));
      out.push({ network: net.name, index: nic.index, netAddress: nic.netAddress, clients, servers, cells, status });
    }
  }
  return out;
}
