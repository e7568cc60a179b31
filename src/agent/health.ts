// The agent's continuous per-NIC health (docs/metrics.md#continuous-health), every --health-interval:
//
// - allocability: per network x NIC of this host, a test address is reserved from the NIC's pool in
//   the IPAM journal (holder HEALTH_POD_UID, so it can never be a pod's address), the network's real
//   delegate (macvlan, ipvlan, sriov: the config the CNI builds, src/lib/cni/delegate.ts) is run ADD
//   into a scratch network namespace the agent owns, the interface is read back with its address,
//   then DEL, and the address released. The namespace is named after the agent (healthNetnsName:
//   `multinic-health-<pid>` on a real node, `<lab host netns>-health-<pid>` in the lab) and deleted
//   at the end of each round; at start the agent deletes those of agents no longer running (a crash
//   mid-round) and any test address left in its journal. Creating it needs
//   CAP_SYS_ADMIN (install --pod-netns-access); without it the checks are skipped and the condition
//   says so. A NIC lent to a pod is skipped (it is not in the host), and so is host-device, whose
//   delegate would move the whole NIC out of the host for the test.
// - connectivity: from this NIC's address, a TCP connection to every other host's address on the
//   same NIC network, on the agent metrics port (no new port, no CAP_NET_RAW for ICMP): a connection
//   or a refusal (RST) is an answer from that host over the NIC; a timeout or "no route" is not.
//   At most `concurrency` probes at once, each `probeTimeoutMs`, and the round stops starting probes
//   when its time budget ends (those peers count as not probed): O(hosts x NICs) per round, bounded.
import { connect } from 'node:net';
import { CommandError, run } from '../host/exec.js';
import { nadConfig } from '../lib/cluster/nad.js';
import { parseNetConf } from '../lib/cni/config.js';
import { delegateConfig } from '../lib/cni/delegate.js';
import { parseResult } from '../lib/cni/result.js';
import type { AllocatedNic } from '../lib/agent/protocol.js';
import type { DiscoveredNic } from '../lib/agent/discovery.js';
import {
  HEALTH_CONTAINER_PREFIX,
  HEALTH_IFNAME,
  HEALTH_POD_UID,
  healthTargets,
  isHealthHolder,
  nicHealth,
  type AllocabilityResult,
  type HealthReport,
  type NicTarget,
  type PeerTarget,
} from '../lib/diagnostics/health.js';
import type { Ipam } from '../lib/ipam/types.js';
import { MULTI_NIC_IPAM } from '../lib/network.js';
import { invokePlugin, type InvokePlugin } from '../cni/plugin-exec.js';
import { readNetns } from '../cni/netns.js';
import type { AgentCore } from './core.js';
import type { NetworkState } from './state.js';

export interface HealthCheckerOptions {
  nodeName: string;
  networks: () => readonly NetworkState[];
  core: Pick<AgentCore, 'hostNics'>;
  /** The IPAM journal itself (not the IPPool-mirrored port: a test address is never published). */
  ipam: Pick<Ipam, 'allocate' | 'release' | 'list'>;
  /** NICs present and up in the host namespace. */
  nics: () => readonly DiscoveredNic[];
  /** `namespace/name` of the pod a NIC is lent to, if it is. */
  lentTo: (nic: string) => string | undefined;
  cniBinDirs: string[];
  /** Round period (ms); the report says it in seconds. */
  intervalMs: number;
  /** Time a round may start probes in (default half the interval, at most 20 s). */
  budgetMs?: number;
  /** Probes in flight at once (default 32). */
  concurrency?: number;
  /** Per probe (default 1 s). */
  probeTimeoutMs?: number;
  /** The peers' agent metrics port (default 9417). */
  port?: number;
  /** The scratch namespace's name (healthNetnsName). */
  netnsName: string;
  /** Whether a namespace name is a scratch namespace a previous (dead) agent left (swept at start). */
  staleNetns?: (name: string) => boolean;
  /** Why the agent cannot create namespaces (no CAP_SYS_ADMIN), when it cannot. */
  netnsDenied?: string;
  invoke?: InvokePlugin;
  /** TCP probe (tests substitute it); resolves true when the peer answered. */
  probe?: (from: string, to: string, port: number, timeoutMs: number) => Promise<boolean>;
  onReport?: (r: HealthReport) => void;
  log?: (e: Record<string, unknown>) => void;
}

/** Connects from `from` to `to`:`port`; true on a connection or a refusal (the host answered), false otherwise. */
export function tcpAnswers(from: string, to: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: to, port, localAddress: from, timeout: timeoutMs });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('timeout', () => done(false));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED'));
  });
}

/** Runs `fns` at most `limit` at a time; a fn not started by `deadline` (ms epoch) yields undefined. */
export async function bounded<T>(fns: ReadonlyArray<() => Promise<T>>, limit: number, deadline: number): Promise<Array<T | undefined>> {
  const out: Array<T | undefined> = new Array<T | undefined>(fns.length).fill(undefined);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= fns.length || Date.now() >= deadline) return;
      out[i] = await (fns[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, fns.length)) }, worker));
  return out;
}

const errText = (e: unknown): string => (e instanceof CommandError ? e.stderr.trim() || e.message : (e as Error).message);

export class HealthChecker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<HealthReport> | undefined;
  private report: HealthReport | undefined;
  private stopped = false;
  private rounds = 0;

  constructor(private readonly o: HealthCheckerOptions) {}

  /** Sweeps what a previous run may have left, runs a round soon, then every intervalMs. */
  async start(firstDelayMs = 1000): Promise<void> {
    await this.sweep();
    const first = setTimeout(() => void this.run(), firstDelayMs);
    first.unref();
    this.timer = setInterval(() => void this.run(), this.o.intervalMs);
    this.timer.unref();
    const t = this.timer;
    this.stopTimers = () => {
      clearTimeout(first);
      clearInterval(t);
    };
  }

  private stopTimers: () => void = () => undefined;

  /** The newest round (undefined before the first). */
  last(): HealthReport | undefined {
    return this.report;
  }

  /** One round now; a round asked for while one runs shares it. */
  run(): Promise<HealthReport> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTimers();
    await this.running?.catch(() => undefined);
    await this.sweep();
  }

  /** Removes the scratch namespace and any test address left in the journal (idempotent). */
  async sweep(): Promise<void> {
    if (!this.o.netnsDenied) {
      const listed = await run('ip', ['netns', 'list']).then((r) => r.stdout, () => '');
      const names = listed.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
      for (const n of names) {
        if (n === this.o.netnsName || this.o.staleNetns?.(n)) await run('ip', ['netns', 'del', n]).catch(() => undefined);
      }
    }
    const left = new Set(this.o.ipam.list().filter(isHealthHolder).map((a) => a.containerID));
    for (const containerID of left) await this.o.ipam.release({ podUID: HEALTH_POD_UID, containerID }).catch(() => undefined);
  }

  private async round(): Promise<HealthReport> {
    const started = Date.now();
    const observedAt = new Date(started).toISOString();
    const budget = this.o.budgetMs ?? Math.min(this.o.intervalMs / 2, 20_000);
    const networks = this.o.networks().filter((n) => n.cidr && !n.refused);
    const targets = healthTargets(networks, this.o.nodeName);
    const present = new Set(this.o.nics().map((n) => n.interfaceName));
    const errors: string[] = [];
    // Connectivity first runs concurrently with allocability (different resources: sockets vs netns).
    const reach = this.connectivity(targets, present, started + budget);
    const alloc = await this.allocability(targets, networks, present, errors);
    const probes = await reach;
    const report: HealthReport = {
      observedAt,
      durationMs: Date.now() - started,
      intervalSeconds: Math.round(this.o.intervalMs / 1000),
      nics: targets.map((t) => nicHealth(t.nic, alloc.get(t.nic) ?? [], probes.get(t.nic) ?? [])),
      ...(errors.length ? { errors } : {}),
    };
    this.rounds++;
    if (!this.stopped) {
      this.report = report;
      this.o.onReport?.(report);
    }
    return report;
  }

  private async connectivity(targets: NicTarget[], present: Set<string>, deadline: number): Promise<Map<string, Array<{ peer: PeerTarget; ok: boolean | undefined }>>> {
    const probe = this.o.probe ?? tcpAnswers;
    const port = this.o.port ?? 9417;
    const timeout = this.o.probeTimeoutMs ?? 1000;
    const jobs: Array<{ nic: string; peer: PeerTarget; fn: () => Promise<boolean> }> = [];
    const out = new Map<string, Array<{ peer: PeerTarget; ok: boolean | undefined }>>();
    for (const t of targets) {
      // A NIC that is down (or lent) reaches nobody over itself; probing from its address could leave by another NIC.
      if (!present.has(t.nic)) {
        out.set(t.nic, t.peers.map((peer) => ({ peer, ok: false })));
        continue;
      }
      for (const peer of t.peers) jobs.push({ nic: t.nic, peer, fn: () => probe(t.hostIP, peer.ip, port, timeout) });
    }
    // Rotated per round so a budget that runs out skips different peers each time.
    const shift = jobs.length ? (this.rounds * 7919) % jobs.length : 0;
    const order = [...jobs.slice(shift), ...jobs.slice(0, shift)];
    const results = await bounded(order.map((j) => j.fn), this.o.concurrency ?? 32, deadline);
    order.forEach((j, i) => out.set(j.nic, [...(out.get(j.nic) ?? []), { peer: j.peer, ok: results[i] }]));
    for (const v of out.values()) v.sort((a, b) => (a.peer.host < b.peer.host ? -1 : a.peer.host > b.peer.host ? 1 : 0));
    return out;
  }

  private async allocability(targets: NicTarget[], networks: NetworkState[], present: Set<string>, errors: string[]): Promise<Map<string, AllocabilityResult[]>> {
    const out = new Map<string, AllocabilityResult[]>();
    const push = (nic: string, r: AllocabilityResult) => out.set(nic, [...(out.get(nic) ?? []), r]);
    let netnsReady: string | undefined;
    const netns = `/run/netns/${this.o.netnsName}`;
    const ensureNetns = async (): Promise<string | undefined> => {
      if (this.o.netnsDenied) return `needs CAP_SYS_ADMIN to create its scratch network namespace (${this.o.netnsDenied}); install with --pod-netns-access`;
      if (netnsReady === undefined) {
        await run('ip', ['netns', 'del', this.o.netnsName]).catch(() => undefined);
        netnsReady = await run('ip', ['netns', 'add', this.o.netnsName]).then(
          () => '',
          (e: unknown) => `failed to create the scratch network namespace ${this.o.netnsName}: ${errText(e)}`,
        );
        if (netnsReady) errors.push(netnsReady);
      }
      return netnsReady || undefined;
    };
    try {
      for (const t of targets) {
        for (const name of t.networks) {
          const ns = networks.find((n) => n.network.metadata.name === name);
          if (!ns) continue;
          const lent = this.o.lentTo(t.nic);
          const type = ns.network.spec.plugin.type;
          if (lent) push(t.nic, { network: name, outcome: 'skipped', message: `lent to pod ${lent}` });
          else if (type === 'host-device') push(t.nic, { network: name, outcome: 'skipped', message: 'host-device moves the whole NIC into the pod: not tested while the host holds it' });
          else if (!ipamIsMultiNic(ns)) push(t.nic, { network: name, outcome: 'skipped', message: 'the network uses its own single-NIC IPAM (the agent reserves no test address in it)' });
          else if (!present.has(t.nic)) push(t.nic, { network: name, outcome: 'failed', message: `NIC ${t.nic} is not up in the host: the agent attaches no pod to it` });
          else {
            const why = await ensureNetns();
            push(t.nic, why ? { network: name, outcome: 'skipped', message: why } : await this.attachOnce(ns, t, netns));
          }
        }
      }
    } finally {
      if (netnsReady === '') await run('ip', ['netns', 'del', this.o.netnsName]).catch((e: unknown) => this.o.log?.({ level: 'warn', msg: 'failed to delete the health scratch namespace; deleted at the next round', netns: this.o.netnsName, error: errText(e) }));
    }
    return out;
  }

  /** One test attachment: reserve, ADD, read back, DEL, release. Every step that ran is undone. */
  private async attachOnce(ns: NetworkState, t: NicTarget, netns: string): Promise<AllocabilityResult> {
    const network = ns.network.metadata.name ?? '';
    const containerID = `${HEALTH_CONTAINER_PREFIX}${t.nic}`;
    const invoke = this.o.invoke ?? invokePlugin;
    let step = 'reserve a test address';
    let added = false;
    let nic: AllocatedNic | undefined;
    let conf: ReturnType<typeof parseNetConf> | undefined;
    const opts = (command: 'ADD' | 'DEL') => ({ command, containerID, netns, ifName: HEALTH_IFNAME, args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=;K8S_POD_NAME=${HEALTH_POD_UID}`, cniPath: this.o.cniBinDirs, timeoutMs: 30_000 });
    let prev: unknown;
    try {
      const m = this.o.core.hostNics(ns).find((x) => x.host.interfaceName === t.nic);
      if (!m) return { network, outcome: 'skipped', message: 'no block of this network on the NIC yet' };
      const [a] = await this.o.ipam.allocate([{ pool: m.addressing.pool, key: { podUID: HEALTH_POD_UID, containerID, interface: `${HEALTH_IFNAME}-0` }, podName: HEALTH_POD_UID, namespace: '' }]);
      if (!a) throw new Error('the IPAM returned no address');
      const d = this.o.nics().find((x) => x.interfaceName === t.nic);
      nic = { index: 0, podInterface: HEALTH_IFNAME, master: t.nic, netAddress: m.entry.netAddress, address: `${a.address}/${m.addressing.prefix}`, routes: m.addressing.routes, vlanCIDR: m.entry.vlanCIDR, podCIDR: m.host.podCIDR, pool: a.pool, ...(m.addressing.gateway ? { gateway: m.addressing.gateway } : {}), ...(d?.mtu ? { mtu: d.mtu } : {}), ...(d?.pciAddress ? { pciAddress: d.pciAddress } : {}) };
      step = 'build the delegate config';
      conf = parseNetConf(nadConfig(ns.network, ns.cidr?.spec.cidr.map((e) => e.netAddress) ?? []));
      step = `${conf.plugin.type} ADD`;
      added = true;
      prev = await invoke(conf.plugin.type, delegateConfig(conf, nic), opts('ADD'));
      step = 'read the test interface back';
      const st = await readNetns(netns);
      const link = st?.links.find((l) => l.ifname === HEALTH_IFNAME);
      if (!link) throw new Error(`${conf.plugin.type} reported success but ${HEALTH_IFNAME} is not in the scratch namespace`);
      if (!link.addrs.includes(nic.address)) throw new Error(`${HEALTH_IFNAME} lacks ${nic.address} (has ${link.addrs.join(', ') || 'no address'})`);
      step = `${conf.plugin.type} DEL`;
      added = false;
      await invoke(conf.plugin.type, delegateConfig(conf, nic, prev ? parseResult(prev) : undefined), opts('DEL'));
      return { network, outcome: 'ok' };
    } catch (e) {
      return { network, outcome: 'failed', message: `failed to ${step}: ${errText(e)}` };
    } finally {
      if (added && conf && nic) await invoke(conf.plugin.type, delegateConfig(conf, nic), opts('DEL')).catch(() => undefined);
      await this.o.ipam.release({ podUID: HEALTH_POD_UID, containerID }).catch((e: unknown) => this.o.log?.({ level: 'warn', msg: 'failed to release the health test address; released at the next start', nic: t.nic, error: errText(e) }));
    }
  }
}

function ipamIsMultiNic(ns: NetworkState): boolean {
  try {
    return (JSON.parse(ns.network.spec.ipam) as { type?: unknown }).type === MULTI_NIC_IPAM;
  } catch {
    return false;
  }
}
