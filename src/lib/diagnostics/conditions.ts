// HostInterface status conditions from a node's diagnostics, the repair log the agent keeps, and
// which route/rule/shim operations of a reconcile were repairs (something the agent had installed
// went missing). Pure.
import type { RouteOp } from '../agent/route-diff.js';
import { normDst } from '../agent/route-diff.js';
import type { NodeDiagnostics, RepairRecord } from './types.js';
import { healthConditions } from './health.js';

/** A HostInterface condition (same shape as the MultiNicNetwork ones). */
export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** Condition types, in the order they are published; Ready is True when all the others are. */
export const NODE_CONDITION_TYPES = ['RoutesHealthy', 'NicsHealthy', 'CniInstalled', 'ForwardingReady', 'IpamHealthy', 'PodInterfacesHealthy', 'Ready'] as const;

const DOWN_STATES = new Set(['down', 'notpresent', 'lowerlayerdown']);

/** A NIC carrying networks that cannot pass traffic: admin down, no carrier, or gone (a NIC lent to a pod is not down). */
export function nicIsDown(n: NodeDiagnostics['nics'][number]): boolean {
  if (n.lentTo) return false;
  return DOWN_STATES.has(n.operState) || !n.adminUp || !n.carrier;
}

const list = (items: string[], max = 3) => (items.length > max ? `${items.slice(0, max).join('; ')} (+${items.length - max} more)` : items.join('; '));

type Verdict = { ok: boolean; reason: string; message: string };

function routesVerdict(d: NodeDiagnostics): Verdict {
  const problems: string[] = [];
  let reason = 'RoutesInstalled';
  for (const n of d.networks) {
    if (n.missingRoutes.length) {
      reason = 'RoutesMissing';
      problems.push(`${n.network}: ${n.missingRouteCount ?? n.missingRoutes.length}/${n.desiredRoutes} route(s) missing in table ${n.table || '(none)'}, e.g. ${n.missingRoutes[0]!.dst}${n.missingRoutes[0]!.via ? ` via ${n.missingRoutes[0]!.via}` : ''}${n.missingRoutes[0]!.dev ? ` dev ${n.missingRoutes[0]!.dev}` : ''}`);
    }
    if (!n.rulePresent) {
      if (reason === 'RoutesInstalled') reason = 'RuleMissing';
      problems.push(`${n.network}: policy rule for table ${n.table || '(none)'} missing`);
    }
    for (const s of n.shims ?? []) {
      if (!s.link || !s.up || !s.hasGateway) {
        if (reason === 'RoutesInstalled') reason = 'ShimBroken';
        problems.push(`${n.network}: macvlan shim on ${s.nic} ${!s.link ? 'has no parent NIC' : !s.up ? `(${s.link}) is down or missing` : `(${s.link}) lacks gateway ${s.gateway}`}`);
      }
    }
  }
  return problems.length ? { ok: false, reason, message: list(problems) } : { ok: true, reason, message: `${d.networks.length} network(s): every desired route and rule is in the kernel` };
}

function nicsVerdict(d: NodeDiagnostics): Verdict {
  const down = d.nics.filter((n) => n.networks.length > 0 && nicIsDown(n));
  if (down.length === 0) return { ok: true, reason: 'NicsUp', message: `${d.nics.filter((n) => n.networks.length).length} NIC(s) carrying networks are up` };
  return {
    ok: false,
    reason: 'NicDown',
    message: list(down.map((n) => `${n.name} is ${n.operState === 'notpresent' ? 'not present' : !n.adminUp ? 'administratively down' : !n.carrier ? 'without carrier' : n.operState} (carries ${n.networks.join(', ')})`)),
  };
}

function cniVerdict(d: NodeDiagnostics): Verdict {
  const problems: string[] = [];
  let reason = 'Installed';
  for (const b of d.binaries) {
    if (!b.present) {
      reason = 'BinaryMissing';
      problems.push(`${b.name} missing at ${b.path || 'the CNI bin dir'} (needed by ${b.neededBy.join(', ')})`);
    } else if (!b.executable) {
      reason = 'BinaryMissing';
      problems.push(`${b.name} at ${b.path} is not executable`);
    } else if (b.kernelSupport === false) {
      if (reason === 'Installed') reason = 'KernelUnsupported';
      problems.push(`the kernel does not support ${b.name} links (needed by ${b.neededBy.join(', ')})`);
    } else if (b.version !== undefined && b.version !== d.agentVersion) {
      if (reason === 'Installed') reason = 'VersionSkew';
      problems.push(`${b.name} at ${b.path} is version ${b.version}, the agent is ${d.agentVersion}`);
    }
  }
  return problems.length ? { ok: false, reason, message: list(problems) } : { ok: true, reason, message: `${d.binaries.length} CNI executable(s) present` };
}

function forwardingVerdict(d: NodeDiagnostics): Verdict {
  if (!d.sysctls.forwardingNeeded) return { ok: true, reason: 'NotNeeded', message: 'no L3 network on this host' };
  if (d.sysctls.ipv4Forward === 1) return { ok: true, reason: 'Enabled', message: 'net.ipv4.ip_forward=1' };
  return { ok: false, reason: 'ForwardingDisabled', message: `L3 networks need net.ipv4.ip_forward=1; it is ${d.sysctls.ipv4Forward ?? 'unreadable'}` };
}

function ipamVerdict(d: NodeDiagnostics): Verdict {
  return d.journal.ok ? { ok: true, reason: 'JournalHealthy', message: `${d.journal.allocations} allocation(s)` } : { ok: false, reason: d.journal.duplicates?.length ? 'DuplicateAddress' : 'JournalDamaged', message: d.journal.message ?? 'journal unhealthy' };
}

function podsVerdict(d: NodeDiagnostics): Verdict {
  const bad = d.allocations.filter((a) => a.state !== 'present' && a.state !== 'unknown');
  // Capped lists list every problem first; the counts then cover what is not listed.
  const present = d.allocationStates?.present ?? d.allocations.filter((a) => a.state === 'present').length;
  if (bad.length === 0) return { ok: true, reason: 'PodInterfacesPresent', message: `${present} pod interface(s) checked` };
  return { ok: false, reason: 'PodInterfaceBroken', message: list(bad.map((a) => `${a.pod} ${a.podInterface} ${a.address}: ${a.state}${a.detail ? ` (${a.detail})` : ''}`)) };
}

/**
 * The node's conditions. `previous` keeps lastTransitionTime of conditions whose status did not
 * change, so an unchanged node publishes byte-identical conditions.
 */
export function nodeConditions(d: NodeDiagnostics, previous: readonly NodeCondition[] | undefined, now: string): NodeCondition[] {
  const prev = new Map((previous ?? []).map((c) => [c.type, c]));
  const verdicts: Array<[string, Verdict]> = [
    ['RoutesHealthy', routesVerdict(d)],
    ['NicsHealthy', nicsVerdict(d)],
    ['CniInstalled', cniVerdict(d)],
    ['ForwardingReady', forwardingVerdict(d)],
    ['IpamHealthy', ipamVerdict(d)],
    ['PodInterfacesHealthy', podsVerdict(d)],
  ];
  const failing = verdicts.filter(([, v]) => !v.ok);
  verdicts.push(['Ready', failing.length ? { ok: false, reason: failing[0]![1].reason, message: failing.map(([t, v]) => `${t}: ${v.message}`).join(' | ') } : { ok: true, reason: 'Healthy', message: 'kernel state matches what the agent wants' }]);
  const out: NodeCondition[] = verdicts.map(([type, v]) => {
    const status = v.ok ? 'True' : 'False';
    const p = prev.get(type);
    return { type, status, reason: v.reason, message: v.message, lastTransitionTime: p && p.status === status && p.lastTransitionTime ? p.lastTransitionTime : now };
  });
  // The continuous health check's conditions follow Ready and are not part of it: a peer that does
  // not answer is as often the peer's fault as this node's (doctor's nic-health check says which).
  if (d.health) out.push(...healthConditions(d.health, previous, now));
  return out;
}

/** One thing the agent restored. */
export interface Repair {
  network: string;
  kind: RepairRecord['kind'];
  what: string;
}

/** The repair log: the newest records (at most `max`) and a count per repaired thing since start. */
export interface RepairLog {
  records: RepairRecord[];
  counts: Record<string, number>;
}

export const MAX_REPAIR_RECORDS = 50;

const repairKey = (r: Repair) => `${r.kind}\0${r.network}\0${r.what}`;

/** The log with `repairs` appended at `at` (oldest dropped beyond `max`). */
export function appendRepairs(log: RepairLog, repairs: readonly Repair[], at: string, max = MAX_REPAIR_RECORDS): RepairLog {
  if (repairs.length === 0) return log;
  const counts = { ...log.counts };
  const records = [...log.records];
  for (const r of repairs) {
    const k = repairKey(r);
    counts[k] = (counts[k] ?? 0) + 1;
    records.push({ at, network: r.network, kind: r.kind, what: r.what, count: counts[k] });
  }
  return { records: records.slice(-max), counts };
}

/** What a reconcile wanted for one network (the agent's NetworkRoutes). */
export interface WantedRoutes {
  network: string;
  subnet: string;
  routes: ReadonlyArray<{ dst: string; via: string; dev: string }>;
}

/**
 * The operations of a reconcile that put back something the previous reconcile had already
 * installed and still wanted unchanged: a route or rule someone removed or altered. A route for a
 * new host, or after a CIDR change, is not a repair. `tables` maps network → table id.
 */
export function routeRepairs(previous: readonly WantedRoutes[] | undefined, current: readonly WantedRoutes[], ops: readonly RouteOp[], tables: Readonly<Record<string, number>>): Repair[] {
  if (!previous) return [];
  const byId = new Map(Object.entries(tables).map(([n, id]) => [id, n]));
  const out: Repair[] = [];
  for (const o of ops) {
    if (o.op !== 'route-replace' && o.op !== 'rule-add') continue;
    const network = byId.get(o.table);
    if (network === undefined) continue;
    const before = previous.find((w) => w.network === network);
    const now = current.find((w) => w.network === network);
    if (!before || !now) continue;
    if (o.op === 'route-replace') {
      const same = (w: WantedRoutes) => w.routes.some((r) => normDst(r.dst) === o.dst && r.via === o.via && r.dev === o.dev);
      if (same(before) && same(now)) out.push({ network, kind: 'route', what: `${o.dst} via ${o.via} dev ${o.dev} table ${network}` });
    } else if (before.subnet && now.subnet && normDst(before.subnet) === o.src && normDst(now.subnet) === o.src) {
      out.push({ network, kind: 'rule', what: `from ${o.src} lookup ${network}` });
    }
  }
  return out;
}

/**
 * Shim link operations that restored a shim wanted unchanged since the previous reconcile (parent
 * NIC → addresses); `networksOf` names the networks riding on a parent NIC.
 */
export function shimRepairs(
  previous: ReadonlyMap<string, readonly string[]> | undefined,
  current: ReadonlyMap<string, readonly string[]>,
  ops: ReadonlyArray<{ op: string; name?: string; dev?: string; address?: string; parent?: string }>,
  parentOf: (shim: string) => string | undefined,
  networksOf: (parent: string) => string[],
): Repair[] {
  if (!previous) return [];
  const out: Repair[] = [];
  for (const o of ops) {
    if (o.op !== 'macvlan-add' && o.op !== 'addr-add' && o.op !== 'link-up') continue;
    const shim = o.name ?? o.dev ?? '';
    const parent = o.parent ?? parentOf(shim);
    if (!parent) continue;
    const before = previous.get(parent);
    const now = current.get(parent);
    if (!before || !now || before.join(',') !== now.join(',')) continue;
    const what = o.op === 'macvlan-add' ? `shim ${shim} on ${parent} recreated` : o.op === 'addr-add' ? `${o.address} on ${shim} (${parent})` : `shim ${shim} on ${parent} set up`;
    out.push({ network: networksOf(parent).join(','), kind: 'shim', what });
  }
  return out;
}

/**
 * Why a host cannot serve `network` according to its kernel truth: routes or the rule missing,
 * a broken shim, a NIC carrying the network down. Empty when the diagnostics show nothing wrong
 * (or the host does not report diagnostics: an older agent).
 */
export function networkProblemsOnHost(d: Pick<NodeDiagnostics, 'networks' | 'nics' | 'observedAt'> | undefined, network: string): string[] {
  if (!d) return [];
  const out: string[] = [];
  for (const n of d.nics ?? []) {
    if ((n.networks ?? []).includes(network) && nicIsDown(n)) out.push(`NIC ${n.name} is ${n.operState === 'notpresent' ? 'not present' : !n.adminUp ? 'down' : !n.carrier ? 'without carrier' : n.operState} in the kernel`);
  }
  const net = (d.networks ?? []).find((x) => x.network === network);
  if (net) {
    const m = net.missingRoutes ?? [];
    if (m.length) out.push(`kernel lacks ${net.missingRouteCount ?? m.length} of ${net.desiredRoutes} route(s) in table ${net.table || '(none)'} (e.g. ${m[0]!.dst}${m[0]!.via ? ` via ${m[0]!.via}` : ''}${m[0]!.dev ? ` dev ${m[0]!.dev}` : ''})`);
    if (net.rulePresent === false) out.push(`kernel lacks the policy rule for table ${net.table || '(none)'}`);
    for (const s of net.shims ?? []) if (!s.link || !s.up || !s.hasGateway) out.push(`macvlan shim on ${s.nic} is ${!s.link ? 'missing (no parent NIC)' : !s.up ? 'down or missing' : `without its gateway ${s.gateway}`}`);
  }
  return out.length ? out.map((p) => `${p} (diagnostics at ${d.observedAt})`) : out;
}
