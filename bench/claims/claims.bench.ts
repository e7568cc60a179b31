// Claims at cluster scale (4,096 nodes x 8 NICs; docs/scale.md). N claimers, each the agent's real
// claim code (claimCidr: the one-CIDR compare-and-swap of the earlier release; claimByCreate: one
// CIDRClaim object per index, created) against the real API stand-in over HTTP, with etcd's 1.5 MiB
// object limit. The stand-in runs in this process (its CPU is this process's); the claimers run in
// --procs child processes (the same bundle, --child). Every claimer starts at once, as at a
// cluster's first rollout, once every child is connected and its watchers are synced. Both designs
// run side by side per size, so the ratio row compares them under the same load.
//
// Per run: time until every host holds all its indexes (capped: after the cap no claimer calls the
// API any more), hosts claimed, writes and bytes of the claim resource (the store's own counters),
// conflicts, the largest object, refused writes (over the limit), stand-in CPU, and the watch
// events one agent receives during the claim round: --watchers agents per child process run the
// agent's own informers (KubeAgent's, with its selectors) and count every event their watches
// deliver, from the start of the round until no event came for a second.
//
// --keep PATH keeps the last size's claim-by-create cluster up after claiming and fills it as the
// agents and their leader would (installed objects, route reports on every HostInterface, one
// IPPool per host and NIC network, the leader's CIDR summary, NADs and network status, written by
// the leader's own reconciler), writes a kubeconfig to PATH and waits for SIGTERM:
// bench/scale/run.sh runs the CLI against it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { KubeAgent } from '../../src/agent/kube/agent.js';
import { claimCidr } from '../../src/agent/kube/claim.js';
import { claimByCreate } from '../../src/agent/kube/claim-objects.js';
import { AGENT_VERSION } from '../../src/agent/version.js';
import { listCidrViews } from '../../src/cluster/cidr-view.js';
import { startApiServer, writeKubeconfig, type ApiServer } from '../../src/lab/apiserver/index.js';
import { connect } from '../../src/kube/client.js';
import type { KubeApi, WatchEvent } from '../../src/kube/api.js';
import { CLAIMS_ANNOTATION, CLAIMS_ANNOTATION_VALUE, cidrOwnerRef } from '../../src/lib/cluster/claim-objects.js';
import { cidrFingerprint } from '../../src/lib/cluster/claim.js';
import { renderIPPool } from '../../src/lib/cluster/ippool.js';
import { CLAIM_ERRORS_ANNOTATION, ROUTES_ANNOTATION, withRouteReport } from '../../src/lib/cluster/status.js';
import type { CIDR, HostInterface, MultiNicNetwork } from '../../src/lib/crds/types.gen.js';
import { DEFAULT_NAMESPACE, renderInstall } from '../../src/lib/install/render.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { R } from '../../src/lib/k8s/resources.js';
import { validateNetwork } from '../../src/lib/network.js';
import { planNetwork } from '../../src/lib/plan/index.js';
import { listPools } from '../../src/lib/plan/pools.js';

const args = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? def) : def;
};
const NICS = Number(flag('nics', '8'));
const PROCS = Number(flag('procs', '2'));
const CAP_MS = Number(flag('cap-s', '60')) * 1000;
const INFLIGHT = Number(flag('inflight', '16'));
const WATCHERS = Number(flag('watchers', '2'));
const KEEP = flag('keep', '');
const NET = 'scale';
for (const [k, v] of Object.entries({ nics: NICS, procs: PROCS, 'cap-s': CAP_MS, inflight: INFLIGHT })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a whole number >= 1`);
}
if (!Number.isInteger(WATCHERS) || WATCHERS < 0) throw new Error('--watchers must be a whole number >= 0');

function network(): MultiNicNetwork {
  // 172.16.0.0/12: 3 interface bits (8 NIC networks), 12 host bits (4,096 hosts), /27 pod blocks.
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'MultiNicNetwork',
    metadata: { name: NET },
    spec: { subnet: '172.16.0.0/12', ipam: JSON.stringify({ type: 'multi-nic-ipam', hostBlock: 12, interfaceBlock: 3, vlanMode: 'l3' }), multiNICIPAM: true, plugin: { cniVersion: '0.3.0', type: 'ipvlan', args: { mode: 'l3' } }, attachPolicy: { strategy: 'none' } },
  } as MultiNicNetwork;
}

const hostName = (i: number): string => `node-${String(i).padStart(5, '0')}`;

/** Host i: NIC n on 10.n.0.0/16 with address 10.n.(i>>8).(i&255)+1 (as discovery reports it). */
function host(i: number): HostInterface {
  const name = hostName(i);
  const interfaces = Array.from({ length: NICS }, (_, n) => {
    const a = i + 1;
    return { interfaceName: `eth${n}`, netAddress: `10.${n}.0.0/16`, hostIP: `10.${n}.${a >> 8}.${a & 255}`, vendor: '15b3', product: '101d' };
  });
  // As the agent publishes it (agent.ts publish): the claim-by-create marker and no claim errors.
  return { apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name, annotations: { [CLAIMS_ANNOTATION]: CLAIMS_ANNOTATION_VALUE, [CLAIM_ERRORS_ANNOTATION]: '{}' } }, spec: { hostName: name, interfaces } };
}

/** The network's CIDR as the first agent creates it (agent.ts createCidr): frozen config, no host entries. */
function cidrObject(net: MultiNicNetwork): CIDR {
  const config = planNetwork({ network: validateNetwork({ source: `MultiNicNetwork/${NET}`, value: net }), inventory: [] }).cidr.spec.config;
  const ownerReferences = [{ apiVersion: net.apiVersion, kind: net.kind, name: NET, uid: net.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }];
  return { apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', metadata: { name: NET, ownerReferences, annotations: { [CLAIMS_ANNOTATION]: CLAIMS_ANNOTATION_VALUE } }, spec: { config, cidr: [] } } as CIDR;
}

class CapReached extends Error {
  constructor() {
    super('bench cap reached');
  }
}

/**
 * `api` that, after `deadline`, refuses every call (the cap: nothing runs on after it), and counts
 * the watch events it delivers while `counting.on`, by resource.
 */
function instrumented(api: KubeApi, deadline: () => number, counting: { on: boolean; by: Record<string, number> }): KubeApi {
  return new Proxy(api, {
    get(target, p) {
      const v = Reflect.get(target, p, target) as unknown;
      if (typeof v !== 'function') return v;
      if (p === 'watch') {
        return (ref: { plural: string }, opts: unknown, onEvent: (e: WatchEvent<KubeObject>) => void) =>
          target.watch(ref as never, opts as never, (e) => {
            if (counting.on && e.type !== 'BOOKMARK') counting.by[ref.plural] = (counting.by[ref.plural] ?? 0) + 1;
            onEvent(e);
          });
      }
      return (...a: unknown[]) => {
        if (Date.now() > deadline()) throw new CapReached();
        return (v as (...x: unknown[]) => unknown).apply(target, a);
      };
    },
  });
}

interface ChildResult {
  done: number;
  failed: number;
  conflicts: number;
  lastMs: number;
  errors: string[];
  /** Per sampled agent: watch events received during the round, by resource plural. */
  events: Array<Record<string, number>>;
  /** CPU this process spent in the round (claims and its sampled agents' watches), ms. */
  cpuMs: number;
}

/** --child: claim for hosts [from, to) of n with `design`, then print a ChildResult. */
async function child(): Promise<void> {
  const [kubeconfig, design, fromS, toS, nS] = args.slice(1);
  const n = Number(nS);
  const from = Number(fromS);
  const end = Number(toS);
  let deadline = Number.POSITIVE_INFINITY;
  const clients: KubeApi[] = [];
  const off = { on: false, by: {} };
  for (let i = 0; i < 8; i++) clients.push(instrumented(await connect({ kubeconfig: kubeconfig ?? '', requestTimeout: '60s' }), () => deadline, off));
  const net = (await clients[0]!.get<MultiNicNetwork>(R.MultiNicNetwork, NET))!;
  const cidr = design === 'claims' ? await clients[0]!.get<CIDR>(R.CIDR, NET) : undefined;
  const all = Array.from({ length: n }, (_, i) => host(i));
  // Sampled agents: the agent's own informers (its resources and selectors), counting what they receive.
  const counters = Array.from({ length: Math.min(WATCHERS, end - from) }, () => ({ on: false, by: {} as Record<string, number> }));
  const agents = await Promise.all(
    counters.map(async (c, k) => {
      const api = instrumented(await connect({ kubeconfig: kubeconfig ?? '', requestTimeout: '60s' }), () => Number.POSITIVE_INFINITY, c);
      const agent = new KubeAgent({ api, nodeName: hostName(from + k), namespace: DEFAULT_NAMESPACE });
      for (const i of Object.values(agent.informers)) (i as { start(): unknown }).start();
      const inf = agent.informers;
      await Promise.all([inf.networks, inf.cidrs, inf.claims, inf.hostInterfaces, inf.nodes].map((i: { synced(): Promise<void> }) => i.synced()));
      return agent;
    }),
  );
  process.stdout.write('READY\n');
  const go = await new Promise<string>((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
  const t0 = Number(go.split(' ')[1]);
  deadline = t0 + CAP_MS;
  for (const c of counters) c.on = true;
  const res: ChildResult = { done: 0, failed: 0, conflicts: 0, lastMs: 0, errors: [], events: [], cpuMs: 0 };
  const cpu0 = process.cpuUsage();
  // At most INFLIGHT claimers at once per process: N real agents each have their own CPU for
  // planning, these share one, so a wide fan-out only times out requests client-side (at 4,096
  // hosts, 64 in flight planning at once kept the event loop busy past the 60 s request timeout).
  let next = from;
  const one = async (i: number): Promise<void> => {
    const api = clients[i % clients.length]!;
    const own = all[i]!;
    try {
      // The agent retries a failed round on its next node loop: so does the bench, until the cap.
      for (;;) {
        try {
          if (design === 'cidr') {
            const o = await claimCidr({ api, network: net, own });
            res.conflicts += o.conflicts;
          } else {
            const o = await claimByCreate({ api, network: net, own, hosts: all, claims: [], ...(cidr ? { config: cidr.spec.config, owner: cidrOwnerRef(cidr) } : {}) });
            res.conflicts += o.conflicts;
          }
          break;
        } catch (e) {
          if (e instanceof CapReached) throw e;
          res.conflicts += Number(/\((\d+) conflicts\)/.exec((e as Error).message)?.[1] ?? 0);
          if (res.errors.length < 3) res.errors.push(`retried: ${(e as Error).message.slice(0, 200)}`);
        }
      }
      res.done++;
      res.lastMs = Math.max(res.lastMs, Date.now() - t0);
    } catch (e) {
      res.failed++;
      if (res.errors.length < 3 && !(e instanceof CapReached)) res.errors.push((e as Error).message.slice(0, 200));
    }
  };
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (next < end && Date.now() <= deadline) await one(next++);
    }),
  );
  // The other claimers' writes still reach our watchers: wait until a second passes without an event.
  const total = (): number => counters.reduce((s, c) => s + Object.values(c.by).reduce((a, b) => a + b, 0), 0);
  for (let last = -1, quiet = 0; quiet < 4 && Date.now() < deadline + 15_000; ) {
    await new Promise((r) => setTimeout(r, 250));
    const now = total();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
  res.events = counters.map((c) => ({ ...c.by }));
  const cpu = process.cpuUsage(cpu0);
  res.cpuMs = (cpu.user + cpu.system) / 1000;
  process.stdout.write(`${JSON.stringify(res)}\n`);
  void agents;
  process.exit(0);
}

interface Run {
  design: 'cidr' | 'claims';
  n: number;
  ms: number;
  claimed: number;
  writes: number;
  bytes: number;
  conflicts: number;
  largest: number;
  refused: number;
  cpuMs: number;
  /** CPU of the claimer processes in the round, ms (N agents' work on this machine's cores). */
  claimerCpuMs: number;
  /** Mean watch events per sampled agent, and by resource. */
  events: number;
  eventsBy: Record<string, number>;
  errors: string[];
}

/** Spawns a claimer process; resolves `ready` on its READY line and `result` on its JSON line. */
function spawnChild(argv: string[]): { proc: ChildProcess; ready: Promise<void>; result: Promise<ChildResult> } {
  // CLAIMER_NODE_ARGS: node flags for the claimers only (the agents' runtime flags, e.g. the
  // DaemonSet's NODE_OPTIONS), not for the stand-in in this process.
  const claimerArgs = (process.env.CLAIMER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const c = spawn(process.execPath, [...process.execArgv, ...claimerArgs, process.argv[1] ?? '', '--child', ...argv], { stdio: ['pipe', 'pipe', 'inherit'] });
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  const result = new Promise<ChildResult>((resolve, reject) => {
    let json: ChildResult | undefined;
    createInterface({ input: c.stdout! }).on('line', (line) => {
      if (line === 'READY') onReady();
      else if (line.startsWith('{')) json = JSON.parse(line) as ChildResult;
    });
    c.on('exit', (code) => (code === 0 && json ? resolve(json) : reject(new Error(`claimer process exited ${code}`))));
  });
  return { proc: c, ready, result };
}

async function runOnce(design: 'cidr' | 'claims', n: number, keep: string): Promise<Run> {
  const server = await startApiServer({ historyLimit: 200 });
  const dir = mkdtempSync(join(tmpdir(), 'mn-bench-claims-'));
  let kept = false;
  try {
    for (const o of renderInstall({ version: AGENT_VERSION, nadCrd: true })) server.store.create(structuredClone(o));
    const net = server.store.create(network() as never) as unknown as MultiNicNetwork;
    // The cluster before the round: every node and its agent's HostInterface (published first).
    for (let i = 0; i < n; i++) {
      server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: hostName(i) } });
      server.store.create(host(i) as never);
    }
    if (design === 'claims') server.store.create(cidrObject(net) as never);
    const kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, server.url);
    const per = Math.ceil(n / PROCS);
    const kids = Array.from({ length: PROCS }, (_, p) => {
      const from = p * per;
      const to = Math.min(n, from + per);
      return spawnChild([kubeconfig, design, String(from), String(to), String(n), '--cap-s', String(CAP_MS / 1000), '--nics', String(NICS), '--inflight', String(INFLIGHT), '--watchers', String(WATCHERS)]);
    });
    await Promise.all(kids.map((k) => k.ready));
    server.store.resetWriteStats();
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    for (const k of kids) k.proc.stdin!.end(`GO ${t0}\n`);
    const results = await Promise.all(kids.map((k) => k.result));
    const cpu = process.cpuUsage(cpu0);
    const key = design === 'cidr' ? 'multinic.fms.io/cidrs' : 'multinic.fms.io/cidrclaims';
    const st = server.store.writeStats(key);
    const claimed = results.reduce((s, r) => s + r.done, 0);
    const samples = results.flatMap((r) => r.events);
    const eventsBy: Record<string, number> = {};
    for (const s of samples) for (const [k, v] of Object.entries(s)) eventsBy[k] = (eventsBy[k] ?? 0) + v / samples.length;
    const run: Run = {
      design,
      n,
      ms: claimed === n ? Math.max(...results.map((r) => r.lastMs)) : Number.NaN,
      claimed,
      writes: st.creates + st.updates,
      bytes: st.bytes,
      conflicts: results.reduce((s, r) => s + r.conflicts, 0),
      largest: st.largest,
      refused: st.refused,
      cpuMs: (cpu.user + cpu.system) / 1000,
      claimerCpuMs: results.reduce((s, r) => s + r.cpuMs, 0),
      events: Object.values(eventsBy).reduce((a, b) => a + b, 0),
      eventsBy,
      errors: [...new Set(results.flatMap((r) => r.errors))].slice(0, 2),
    };
    if (keep && design === 'claims' && claimed === n) {
      await fillCluster(server, kubeconfig, n);
      await writeKubeconfig(keep, server.url);
      console.log(`# kept: ${n} hosts x ${NICS} NICs at ${server.url}, kubeconfig ${keep}; SIGTERM ends it`);
      kept = true;
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
    }
    return run;
  } finally {
    if (kept) console.log('# kept cluster closed');
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What the agents and their leader write after claiming, so status, doctor, plan and the TUI read
 * a cluster of this size: each agent's route report (the agent's own annotation format and CIDR
 * fingerprint) and last-seen status, one IPPool per host and NIC network (renderIPPool of the
 * view's pools, no pods yet), the DaemonSet's status as its controller reports it, and the
 * leader's rounds run by the leader's own reconciler (CIDR summary and status, NADs, network status).
 */
async function fillCluster(server: ApiServer, kubeconfig: string, n: number): Promise<void> {
  const t = Date.now();
  const api = await connect({ kubeconfig, requestTimeout: '120s' });
  const view = (await listCidrViews(api)).find((c) => c.metadata.name === NET);
  if (!view) throw new Error(`no CIDR view of network "${NET}" after the claim round`);
  const fp = cidrFingerprint(view.spec);
  const now = new Date().toISOString();
  for (let i = 0; i < n; i++) {
    const hi = host(i);
    const name = hi.metadata.name ?? '';
    const reports = withRouteReport({}, NET, { cidr: fp, routes: (n - 1) * NICS, ok: true });
    server.store.patch('multinic.fms.io/v1', 'HostInterface', name, '', 'merge', { metadata: { annotations: { [ROUTES_ANNOTATION]: reports } } });
    server.store.patch('multinic.fms.io/v1', 'HostInterface', name, '', 'merge', { status: { agentVersion: AGENT_VERSION, lastSeen: now } }, 'status');
  }
  for (const p of listPools(view)) {
    server.store.create(renderIPPool({ name: p.name, network: p.network, hostName: p.hostName, interfaceName: p.interfaceName, podCIDR: p.podCIDR, vlanCIDR: p.vlanCIDR, excludes: p.excludes, reserved: p.reserved }, []) as never);
  }
  const ds = server.store.list('apps/v1', 'DaemonSet', DEFAULT_NAMESPACE)[0];
  if (ds) server.store.patch('apps/v1', 'DaemonSet', ds.metadata?.name ?? '', DEFAULT_NAMESPACE, 'merge', { status: { desiredNumberScheduled: n, currentNumberScheduled: n, numberReady: n, numberAvailable: n, updatedNumberScheduled: n } }, 'status');
  const leader = new KubeAgent({ api, nodeName: hostName(0), namespace: DEFAULT_NAMESPACE });
  for (const i of Object.values(leader.informers)) (i as { start(): unknown }).start();
  const inf = leader.informers;
  await Promise.all([inf.networks, inf.cidrs, inf.claims, inf.hostInterfaces, inf.nodes, inf.namespaces, inf.nads].map((i: { synced(): Promise<void> }) => i.synced()));
  const rounds: string[] = [];
  for (let r = 0; r < 6; r++) {
    await new Promise((res) => setTimeout(res, 1000));
    const round = await leader.cluster.reconcile();
    rounds.push(`status writes ${round.statusWrites}, NADs ${round.nadsCreated}, errors ${round.errors.length}`);
    if (round.errors.length) console.log(`# leader round errors: ${round.errors.join('; ')}`);
  }
  await Promise.all(Object.values(leader.informers).map((i: { stop(): Promise<void> }) => i.stop()));
  const largest = Object.entries(server.store.allWriteStats()).sort(([, a], [, b]) => b.largest - a.largest)[0];
  console.log(`# filled in ${((Date.now() - t) / 1000).toFixed(1)} s: ${n} route reports, ${listPools(view).length} IPPools, leader rounds: ${rounds.join(' | ')}; largest object written: ${largest?.[0]} ${fmtB(largest?.[1].largest ?? 0)}`);
}

const fmtB = (b: number): string => (b >= 1 << 30 ? `${(b / (1 << 30)).toFixed(2)} GiB` : b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(1)}x` : '-');
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const sizes = (args.find((a) => /^\d+(,\d+)*$/.test(a)) ?? '256,1024').split(',').map(Number);
  const designs = (flag('designs', 'cidr,claims').split(',') as Array<'cidr' | 'claims'>).filter((d) => d === 'cidr' || d === 'claims');
  console.log(`# claims bench: ${NICS} NICs per host, ${PROCS} claimer processes x ${INFLIGHT} claims in flight, ${WATCHERS} sampled agents' watches per process, cap ${CAP_MS / 1000} s; ${cpus().length} CPUs, load ${load()}`);
  console.log('| nodes | design | all claimed in | hosts claimed | writes | writes/agent/NIC net | bytes written | bytes/agent | conflicts | largest object | refused (>1.5 MiB) | stand-in CPU | claimer CPU/agent | watch events/agent (claims, cidrs) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const n of sizes) {
    const runs: Partial<Record<'cidr' | 'claims', Run>> = {};
    for (const design of designs) {
      const r = await runOnce(design, n, n === sizes[sizes.length - 1] ? KEEP : '');
      runs[design] = r;
      const time = Number.isNaN(r.ms) ? `not within ${CAP_MS / 1000} s` : `${(r.ms / 1000).toFixed(2)} s`;
      const ev = `${Math.round(r.events)} (${Math.round(r.eventsBy.cidrclaims ?? 0)}, ${Math.round(r.eventsBy.cidrs ?? 0)})`;
      console.log(`| ${n} | ${design === 'cidr' ? 'one CIDR, CAS (earlier release)' : 'CIDRClaim by create'} | ${time} | ${r.claimed}/${n} | ${r.writes} | ${(r.writes / n / NICS).toFixed(3)} | ${fmtB(r.bytes)} | ${fmtB(r.bytes / n)} | ${r.conflicts} | ${fmtB(r.largest)} | ${r.refused} | ${(r.cpuMs / 1000).toFixed(1)} s | ${(r.claimerCpuMs / n).toFixed(0)} ms | ${ev} |`);
      for (const e of r.errors) console.log(`|   | ${design} error | ${e.replace(/\|/g, '/')} |`);
    }
    const a = runs.cidr;
    const b = runs.claims;
    if (a && b) console.log(`| ${n} | earlier / by-create | ${ratio(a.ms, b.ms)} | | ${ratio(a.writes, b.writes)} | | ${ratio(a.bytes, b.bytes)} | | | ${ratio(a.largest, b.largest)} | | ${ratio(a.cpuMs, b.cpuMs)} | ${ratio(a.claimerCpuMs, b.claimerCpuMs)} | ${ratio(a.events, b.events)} |`);
  }
  console.log(`# load after: ${load()}`);
}

if (args[0] === '--child') await child();
else await main();
