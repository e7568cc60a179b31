// The node reconciler: one pass makes the host's shims, policy routes, IP pools and ip_forward
// what the networks want, and says what it did in a ReconcileReport. Each step runs even when an
// earlier one failed (a broken shim must not stop routes). Not reentrant: runAgent serialises passes.
import type { DiscoveredNic } from '../lib/agent/discovery.js';
import { appendRepairs, routeRepairs, shimRepairs, type RepairLog } from '../lib/diagnostics/conditions.js';
import type { PoolSpec } from '../lib/ipam/types.js';
import { gatewayHeldMessage, type AgentCore } from './core.js';
import type { HostNetwork } from './hostnet.js';
import { desiredRoutes, type NetworkRoutes, type RouteReconciler } from './routes.js';
import { desiredShims, reconcileShims, shimName } from './shim.js';
import { ipamOfState, type AgentState, type NetworkState } from './state.js';

export interface ReconcileReport {
  at: string;
  routeOps: number;
  shimOps: number;
  tables: Record<string, number>;
  removedTables: string[];
  missingShimParents: string[];
  forwarding: { required: boolean; value?: string; ok: boolean; changed?: boolean };
  error?: string;
  /** Routes, rules and shims put back because they had gone missing (see src/lib/diagnostics/conditions.ts). */
  repairs?: number;
}

/** One pass: the report, and its errors split into those of one network and the rest. */
export interface ReconcileOutcome {
  report: ReconcileReport;
  /** Errors that concern one network only: reported on that network, not on every network. */
  networkErrors: Map<string, string[]>;
  /** The errors that concern no single network, joined; undefined when there are none. */
  globalError?: string;
}

export interface NodeReconcilerDeps {
  nodeName: string;
  state: AgentState;
  core: AgentCore;
  hostNet: HostNetwork;
  routes: RouteReconciler;
  /** The IPAM, told which pools exist after each pass when it can be (setPools). */
  ipam: { setPools?: (pools: PoolSpec[]) => unknown };
  /** Set net.ipv4.ip_forward=1 when an L3 network needs it (otherwise only reported). */
  enableForwarding?: boolean;
  log: (event: Record<string, unknown>) => void;
}

export class NodeReconciler {
  /** Repairs made so far (the prober publishes them). */
  repairLog: RepairLog = { records: [], counts: {} };
  // What the previous pass wanted: an operation restoring it now is a repair.
  private prevWant: NetworkRoutes[] | undefined;
  private prevShims: Map<string, string[]> | undefined;
  // The ip_forward value last warned about (undefined: none pending).
  private forwardingWarned: string | undefined;

  constructor(private readonly deps: NodeReconcilerDeps) {}

  /** One pass over the NICs present now; never throws (a failure is the report's error). */
  async reconcile(nics: readonly DiscoveredNic[]): Promise<ReconcileOutcome> {
    const { log } = this.deps;
    const report: ReconcileReport = { at: new Date().toISOString(), routeOps: 0, shimOps: 0, tables: {}, removedTables: [], missingShimParents: [], forwarding: { required: false, ok: true } };
    const networkErrors = new Map<string, string[]>();
    let globalError: string | undefined;
    try {
      const nets = this.deps.state.networks();
      const local = new Set(nics.map((n) => n.interfaceName));
      const errors: string[] = [];
      const networkError = (name: string, msg: string) => {
        errors.push(msg);
        networkErrors.set(name, [...(networkErrors.get(name) ?? []), msg]);
      };
      const heldGateways = this.heldGateways(nets, networkError);
      const repaired: ReturnType<typeof routeRepairs> = [];
      try {
        const shims = await this.shims(nets, nics, local, heldGateways);
        report.shimOps = shims.ops;
        repaired.push(...shims.repaired);
      } catch (e) {
        errors.push((e as Error).message);
      }
      const want: NetworkRoutes[] = [];
      for (const n of nets) {
        if (!n.cidr || !n.cidr.spec.cidr.some((e) => e.hosts.some((h) => h.hostName === this.deps.nodeName))) continue;
        want.push(desiredRoutes(n.cidr, this.deps.nodeName, local));
        const mode = ipamOfState(n).config?.vlanMode ?? '';
        if (mode === 'l3' || mode === 'l3s') report.forwarding.required = true;
      }
      const poolError = this.syncPools(nets);
      if (poolError) errors.push(poolError);
      // Pool sync and (in --kube mode) leak GC change the IPAM behind the core: rebuild its index.
      this.deps.core.invalidate();
      const r = await this.deps.routes.reconcile(want);
      repaired.push(...routeRepairs(this.prevWant, want, r.ops, r.tables));
      this.prevWant = want;
      if (repaired.length) {
        this.repairLog = appendRepairs(this.repairLog, repaired, report.at);
        report.repairs = repaired.length;
        log({ level: 'warn', msg: 'repaired routes someone else removed or changed', repairs: repaired.map((x) => `${x.kind} ${x.what}`) });
      }
      report.routeOps = r.ops.length;
      report.tables = r.tables;
      report.removedTables = r.removed;
      for (const name of r.skipped) networkError(name, `no policy table for network ${name}: a purely numeric name cannot be a routing table name`);
      if (report.forwarding.required) await this.forwarding(report);
      if (report.routeOps || report.shimOps || report.removedTables.length) log({ level: 'info', msg: 'reconciled', routeOps: report.routeOps, shimOps: report.shimOps, removed: report.removedTables });
      if (errors.length) {
        report.error = errors.join('; ');
        const own = new Set([...networkErrors.values()].flat());
        const rest = errors.filter((e) => !own.has(e));
        if (rest.length) globalError = rest.join('; ');
        log({ level: 'error', msg: 'reconcile incomplete', error: report.error });
      }
    } catch (e) {
      report.error = (e as Error).message;
      globalError = report.error;
      log({ level: 'error', msg: 'reconcile failed', error: report.error });
    }
    return { report, networkErrors, ...(globalError !== undefined ? { globalError } : {}) };
  }

  /** Shim gateways a pod still holds (the network changed into macvlan L3 under it): they stay the pod's. */
  private heldGateways(nets: readonly NetworkState[], networkError: (name: string, msg: string) => void): Set<string> {
    const held = new Set<string>();
    for (const n of nets) {
      if (!n.cidr) continue;
      try {
        for (const c of this.deps.core.gatewayConflicts(n)) {
          held.add(c.gateway);
          networkError(n.network.metadata.name ?? '', gatewayHeldMessage(n.network.metadata.name ?? '', this.deps.nodeName, c.interfaceName, c.gateway, c.holder));
        }
      } catch {
        // a network the core cannot read is reported by allocate (NotReady naming the field)
      }
    }
    return held;
  }

  /** The macvlan L3 shims on the NICs present; throws what reconcileShims throws. */
  private async shims(nets: readonly NetworkState[], nics: readonly DiscoveredNic[], local: Set<string>, heldGateways: Set<string>): Promise<{ ops: number; repaired: ReturnType<typeof shimRepairs> }> {
    const node = this.deps.nodeName;
    const shims = desiredShims([...nets], node, heldGateways);
    for (const parent of [...shims.keys()]) if (!local.has(parent)) shims.delete(parent);
    const res = await reconcileShims(this.deps.hostNet, shims);
    const networksOf = (parent: string) => nets.filter((n) => desiredShims([n], node).has(parent)).map((n) => n.network.metadata.name ?? '').sort();
    const repaired = shimRepairs(this.prevShims, shims, res.ops, (shim) => nics.find((n) => shimName(n.ifindex) === shim)?.interfaceName, networksOf);
    this.prevShims = shims;
    return { ops: res.ops.length, repaired };
  }

  /** Tells the IPAM which pools exist now (spec changes, reserved shim gateways, departed NICs); the error, if any. */
  private syncPools(nets: readonly NetworkState[]): string | undefined {
    const pools = nets.filter((n) => n.cidr).flatMap((n) => {
      try {
        return this.deps.core.hostNics(n).map((m) => m.addressing.pool);
      } catch {
        return [];
      }
    });
    try {
      if (typeof this.deps.ipam.setPools === 'function') this.deps.ipam.setPools(pools);
    } catch (e) {
      return `failed to sync IP pools: ${(e as Error).message}`;
    }
    return undefined;
  }

  /** Reads (and with enableForwarding sets) net.ipv4.ip_forward for the L3 networks; warns once per value. */
  private async forwarding(report: ReconcileReport): Promise<void> {
    const { hostNet, log } = this.deps;
    const v = await hostNet.sysctl('net.ipv4.ip_forward');
    report.forwarding.value = v;
    if (v !== '1' && this.deps.enableForwarding) {
      await hostNet.setSysctl('net.ipv4.ip_forward', '1');
      report.forwarding = { required: true, value: '1', ok: true, changed: true };
    } else report.forwarding.ok = v === '1';
    // Said when it becomes true, not on every reconcile (the HostInterface condition and doctor keep saying it).
    if (!report.forwarding.ok && this.forwardingWarned !== v) log({ level: 'warn', msg: 'L3 networks need net.ipv4.ip_forward=1; it is not set (start the agent with --enable-forwarding or set the sysctl)', value: v });
    this.forwardingWarned = report.forwarding.ok ? undefined : v;
  }
}
