// Plays the DaemonSet controller + kubelet for the multinic agent in the lab: when an agent
// DaemonSet exists, one real agent process runs inside every lab host's network namespace (so it
// discovers that host's NICs and owns its routes, as on a node), and the DaemonSet's status
// (desired, updated, ready, available, observedGeneration) says how many run the current pod
// template and answer /readyz, so `kubectl rollout status` works against the stand-in. A template
// change rolls the agents host by host within maxUnavailable; removing the DaemonSet stops them.
// The agents run with --dra when the DaemonSet's agent does (install --dra).
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { start } from '../host/exec.js';
import { R } from '../lib/k8s/resources.js';
import type { LabTopology } from '../lib/lab/topology.js';
import type { KubeApi } from '../kube/api.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { isAgentDaemonSet } from '../cluster/snapshot.js';
import { labPcieRoots, labPcieTree } from './dra.js';
import { type HostAgentState, daemonSetStatus, rolloutStep, templateRevision, updateStrategyOf } from '../lib/lab/rollout.js';

export interface LabAgentsOptions {
  kube: KubeApi;
  topology: LabTopology;
  dir: string;
  kubeconfig: string;
  /** argv prefix that runs the agent as the DaemonSet does (e.g. [node, bin/multinic-agent, run]). */
  agent: string[];
  /** Where the lab's CNI plugins are (the runner's CNI_PATH): the agents' diagnostics look there. */
  cniPath?: string[];
  /** Per host CNI path (overrides cniPath): the lab gives each host its own bin dir. */
  cniPathFor?: (host: string) => string[];
  log?: (line: string) => void;
}

export const labHostDir = (dir: string, host: string): string => join(dir, 'hosts', host);
/** The host's kubelet root dir: the DRA plugin sockets of its agent are under it. */
export const labKubeletDir = (dir: string, host: string): string => join(labHostDir(dir, host), 'kubelet');
/** Whether the agent container of a DaemonSet runs with --dra (install --dra). */
export function daemonSetRunsDra(ds: KubeObject): boolean {
  const containers = (ds.spec as { template?: { spec?: { containers?: Array<{ name?: string; args?: string[] }> } } } | undefined)?.template?.spec?.containers ?? [];
  return (containers.find((c) => c.name === 'agent') ?? containers[0])?.args?.includes('--dra') ?? false;
}
export const labAgentSocket = (dir: string, host: string): string => join(labHostDir(dir, host), 'agent.sock');
/** The host's own CNI bin dir (a node's /opt/cni/bin): links to the lab's plugins, so one host can lose one. */
export const labHostCniDir = (dir: string, host: string): string => join(labHostDir(dir, host), 'cni-bin');

/**
 * Creates the host's CNI bin dir once, with a symlink per plugin found in `cniPath` (first dir
 * wins). Left alone when it exists: a plugin a test removed stays removed across agent restarts.
 */
export function ensureHostCniDir(dir: string, host: string, cniPath: readonly string[]): string {
  const out = labHostCniDir(dir, host);
  if (existsSync(out)) return out;
  mkdirSync(out, { recursive: true });
  const seen = new Set<string>();
  for (const d of cniPath) {
    for (const f of readdirSync(d)) {
      if (seen.has(f) || !/^[A-Za-z0-9._-]+$/.test(f)) continue;
      const st = statSync(join(d, f), { throwIfNoEntry: false });
      if (!st?.isFile()) continue;
      seen.add(f);
      symlinkSync(join(d, f), join(out, f));
    }
  }
  return out;
}

interface AgentProc {
  child: ChildProcess;
  /** Template revision it was started from. */
  revision: string;
}

/** What the lab takes from the DaemonSet's pod template (the rest only counts for its revision). */
interface TemplateConfig {
  revision: string;
  dra: boolean;
  metricsPort: number;
  /** spec.template.spec.terminationGracePeriodSeconds (default 30, as the kubelet). */
  graceMs: number;
}

/** The agent container's --metrics-addr port (":N" or "HOST:N"), default 9417; a bad value is an error naming it. */
function templateConfig(ds: KubeObject): TemplateConfig {
  const template = (ds.spec as { template?: { spec?: { terminationGracePeriodSeconds?: unknown; containers?: Array<{ name?: string; args?: string[] }> } } } | undefined)?.template;
  const containers = template?.spec?.containers ?? [];
  const args = (containers.find((c) => c.name === 'agent') ?? containers[0])?.args ?? [];
  let metricsPort = 9417;
  const i = args.indexOf('--metrics-addr');
  if (i >= 0) {
    const m = /^(?:[^:]*|\[[0-9a-fA-F:.]+\]):(\d{1,5})$/.exec(args[i + 1] ?? '');
    const port = Number(m?.[1]);
    if (!m || port < 1 || port > 65535) throw new Error(`DaemonSet ${ds.metadata?.namespace}/${ds.metadata?.name}: agent --metrics-addr ${JSON.stringify(args[i + 1] ?? '')} is not [HOST]:PORT; the lab reads each agent's /readyz there`);
    metricsPort = port;
  }
  const g = template?.spec?.terminationGracePeriodSeconds;
  const graceMs = typeof g === 'number' && Number.isInteger(g) && g >= 0 ? Math.min(g, 300) * 1000 : 30_000;
  return { revision: templateRevision(template), dra: daemonSetRunsDra(ds), metricsPort, graceMs };
}

/**
 * Plays the DaemonSet controller and the kubelet for the agent DaemonSet (see the file comment).
 * A change of the pod template (image, args, env, anything under spec.template) rolls the agents
 * as a RollingUpdate does: one host's agent is stopped (SIGTERM, SIGKILL after the template's
 * grace period) and the new one started, and the next host's only once that one answers /readyz
 * and fewer than maxUnavailable agents are unavailable (src/lib/lab/rollout.ts). The lab runs this
 * checkout's agent whatever the image says; the template's env is not passed to it.
 */
export class LabAgents {
  private readonly procs = new Map<string, AgentProc>();
  /** Crash-loop backoff per host, as the kubelet does: 1 s doubling to 30 s. */
  private readonly backoff = new Map<string, { failures: number; notBefore: number }>();
  private ds?: { name: string; namespace: string };
  private cfg?: TemplateConfig;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  /** Agent restarts made by rollouts, in order (host, from, to revision): `lab status` and tests read it. */
  readonly rollouts: Array<{ host: string; from: string; to: string; at: string }> = [];

  constructor(private readonly o: LabAgentsOptions) {}

  /** Polls DaemonSets (cheap: one list per second) and reconciles agent processes. */
  start(): void {
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.reconcile();
      } catch (e) {
        this.o.log?.(`agents: ${(e as Error).message}`);
      }
      if (!this.stopped) this.timer = setTimeout(tick, 1000);
    };
    void tick();
  }

  private running(host: string): AgentProc | undefined {
    const p = this.procs.get(host);
    return p && p.child.exitCode === null && p.child.signalCode === null ? p : undefined;
  }

  private async reconcile(): Promise<void> {
    const list = await this.o.kube.list(R.DaemonSet, {});
    const ds = list.items.find((d) => isAgentDaemonSet(d) && !d.metadata?.deletionTimestamp);
    if (!ds) {
      if (this.procs.size) await this.stopProcs([...this.procs.keys()]);
      this.ds = undefined;
      return;
    }
    this.ds = { name: ds.metadata!.name!, namespace: ds.metadata!.namespace! };
    const cfg = templateConfig(ds);
    this.cfg = cfg;
    const hosts = this.o.topology.hosts;
    const strategy = updateStrategyOf(ds.spec, hosts.length);
    const states = async (): Promise<HostAgentState[]> =>
      Promise.all(
        hosts.map(async (h) => {
          const p = this.running(h.name);
          return { host: h.name, ...(p ? { revision: p.revision } : {}), ready: p ? await ready(h.mgmtIp, cfg.metricsPort) : false };
        }),
      );
    // Outdated agents go first (their host comes back at the new revision just below).
    const replace = rolloutStep(await states(), cfg.revision, strategy);
    if (replace.length) {
      for (const host of replace) {
        const from = this.procs.get(host)?.revision ?? '';
        this.o.log?.(`agents: rolling ${host} from revision ${from} to ${cfg.revision} (maxUnavailable ${strategy.maxUnavailable})`);
        this.rollouts.push({ host, from, to: cfg.revision, at: new Date().toISOString() });
      }
      await this.stopProcs(replace, cfg.graceMs);
      for (const host of replace) this.backoff.delete(host);
    }
    for (const h of hosts) {
      if (this.running(h.name)) continue;
      const b = this.backoff.get(h.name) ?? { failures: 0, notBefore: 0 };
      if (Date.now() < b.notBefore) continue;
      if (this.procs.has(h.name)) b.failures += 1;
      b.notBefore = Date.now() + Math.min(30_000, 1000 * 2 ** b.failures);
      this.backoff.set(h.name, b);
      this.startAgent(h.name, h.netns, this.ds.namespace, cfg);
    }
    const status = daemonSetStatus(await states(), cfg.revision, ds.metadata?.generation ?? 1);
    const cur = (ds.status ?? {}) as Record<string, unknown>;
    if (Object.entries(status).some(([k, v]) => cur[k] !== v)) {
      await this.o.kube.patch(R.DaemonSet, this.ds.name, { status }, { namespace: this.ds.namespace, subresource: 'status' });
    }
  }

  private startAgent(host: string, netns: string, namespace: string, cfg: TemplateConfig): void {
    const hostDir = labHostDir(this.o.dir, host);
    mkdirSync(hostDir, { recursive: true });
    // MULTINIC_LAB_PCIE_ROOTS=1: the DRA facts of this host's NICs from a tree placing them on PCIe roots (src/lab/dra.ts).
    const pcie = cfg.dra && labPcieRoots();
    if (pcie) {
      const h = this.o.topology.hosts.findIndex((x) => x.name === host);
      labPcieTree(join(hostDir, 'dra-sysfs'), h, this.o.topology.hosts[h]?.nics.map((n) => n.name) ?? []);
    }
    const args = [
      'netns', 'exec', netns, ...this.o.agent,
      '--kube', '--kubeconfig', this.o.kubeconfig, '--namespace', namespace,
      '--node', host,
      '--socket', labAgentSocket(this.o.dir, host),
      '--data-dir', join(hostDir, 'data'),
      '--rt-tables', join(hostDir, 'rt_tables'),
      // Probes: each host is its own network namespace, so every agent has the port to itself.
      '--metrics-addr', `:${cfg.metricsPort}`,
      // DRA (docs/dra.md): each host publishes its ResourceSlice; the kubelet plugin sockets live in
      // the host's own dir (the lab's kubelet stand-in, src/lab/dra.ts, dials them there).
      ...(cfg.dra ? ['--dra', '--kubelet-dir', labKubeletDir(this.o.dir, host)] : []),
      ...(pcie ? ['--dra-sysfs-root', join(hostDir, 'dra-sysfs')] : []),
      ...((this.o.cniPathFor?.(host) ?? this.o.cniPath)?.length ? ['--cni-bin-dir', (this.o.cniPathFor?.(host) ?? this.o.cniPath ?? []).join(':')] : []),
      // Tests that break a route on purpose stretch the agents' re-assert timer (seconds).
      ...(process.env.MULTINIC_LAB_RESYNC ? ['--resync', process.env.MULTINIC_LAB_RESYNC] : []),
      // The continuous per-NIC health check (a node's default: every 60 s) is off in the lab unless
      // MULTINIC_LAB_HEALTH_INTERVAL (seconds) asks for it (test/lab/lab-health.test.ts).
      '--health-interval', process.env.MULTINIC_LAB_HEALTH_INTERVAL ?? '0',
    ];
    const child = start('ip', args, { env: { ...process.env, MULTINIC_LAB: '1' } });
    const out = createWriteStream(join(hostDir, 'agent.log'), { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    child.on('exit', (code, sig) => this.o.log?.(`agent ${host} exited (${code ?? sig})`));
    this.procs.set(host, { child, revision: cfg.revision });
    this.o.log?.(`agent ${host} started at revision ${cfg.revision} (pid ${child.pid ?? '?'})`);
  }

  /** Stops reconciling and the agents (SIGTERM, then SIGKILL after the template's grace period). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.stopProcs([...this.procs.keys()], this.cfg?.graceMs);
  }

  /** SIGTERM to the hosts' agents, SIGKILL to those still running after `graceMs` (default 3 s). */
  private async stopProcs(hosts: readonly string[], graceMs = 3000): Promise<void> {
    const procs = hosts.flatMap((h) => {
      const p = this.procs.get(h);
      this.procs.delete(h);
      return p ? [p.child] : [];
    });
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            const t = setTimeout(() => {
              p.kill('SIGKILL');
            }, graceMs);
            p.on('exit', () => {
              clearTimeout(t);
              resolve();
            });
            p.kill('SIGTERM');
          }),
      ),
    );
  }
}

/** GET /readyz on an agent's probe listener (what the DaemonSet's readinessProbe asks). */
export function ready(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/readyz', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}
