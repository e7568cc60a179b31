// Plays the DaemonSet controller + kubelet for the multinic agent in the lab: when an agent
// DaemonSet exists, one real agent process runs inside every lab host's network namespace (so it
// discovers that host's NICs and owns its routes, as on a node), and the DaemonSet's status reports
// how many answer on their socket. Removing the DaemonSet stops them. The agents run with --dra
// when the DaemonSet's agent does (install --dra), and are restarted when that changes.
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

export class LabAgents {
  private readonly procs = new Map<string, ChildProcess>();
  /** Crash-loop backoff per host, as the kubelet does: 1 s doubling to 30 s. */
  private readonly backoff = new Map<string, { failures: number; notBefore: number }>();
  private ds?: { name: string; namespace: string };
  /** Whether the running agents were started with --dra. */
  private dra = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;

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

  private async reconcile(): Promise<void> {
    const list = await this.o.kube.list(R.DaemonSet, {});
    const ds = list.items.find((d) => isAgentDaemonSet(d) && !d.metadata?.deletionTimestamp);
    if (!ds) {
      if (this.procs.size) this.stopAgents();
      this.ds = undefined;
      return;
    }
    this.ds = { name: ds.metadata!.name!, namespace: ds.metadata!.namespace! };
    const dra = daemonSetRunsDra(ds);
    if (dra !== this.dra) {
      // A rollout: the old agents go before the new ones bind the same sockets.
      if (this.procs.size) await this.stopProcs();
      this.dra = dra;
    }
    for (const h of this.o.topology.hosts) {
      const p = this.procs.get(h.name);
      if (p && p.exitCode === null && p.signalCode === null) continue;
      const b = this.backoff.get(h.name) ?? { failures: 0, notBefore: 0 };
      if (Date.now() < b.notBefore) continue;
      if (p) b.failures += 1;
      b.notBefore = Date.now() + Math.min(30_000, 1000 * 2 ** b.failures);
      this.backoff.set(h.name, b);
      this.startAgent(h.name, h.netns, this.ds.namespace);
    }
    const ready = (await Promise.all(this.o.topology.hosts.map((h) => healthy(labAgentSocket(this.o.dir, h.name))))).filter(Boolean).length;
    const n = this.o.topology.hosts.length;
    const status = { desiredNumberScheduled: n, currentNumberScheduled: n, updatedNumberScheduled: n, numberReady: ready, numberAvailable: ready, numberMisscheduled: 0, observedGeneration: ds.metadata?.generation ?? 1 };
    const cur = (ds.status ?? {}) as Record<string, unknown>;
    if (cur.numberReady !== ready || cur.desiredNumberScheduled !== n || cur.observedGeneration !== status.observedGeneration) {
      await this.o.kube.patch(R.DaemonSet, this.ds.name, { status }, { namespace: this.ds.namespace, subresource: 'status' });
    }
  }

  private startAgent(host: string, netns: string, namespace: string): void {
    const hostDir = labHostDir(this.o.dir, host);
    mkdirSync(hostDir, { recursive: true });
    const args = [
      'netns', 'exec', netns, ...this.o.agent,
      '--kube', '--kubeconfig', this.o.kubeconfig, '--namespace', namespace,
      '--node', host,
      '--socket', labAgentSocket(this.o.dir, host),
      '--data-dir', join(hostDir, 'data'),
      '--rt-tables', join(hostDir, 'rt_tables'),
      // DRA (docs/dra.md): each host publishes its ResourceSlice; the kubelet plugin sockets live in
      // the host's own dir (the lab's kubelet stand-in, src/lab/dra.ts, dials them there).
      ...(this.dra ? ['--dra', '--kubelet-dir', labKubeletDir(this.o.dir, host)] : []),
      ...((this.o.cniPathFor?.(host) ?? this.o.cniPath)?.length ? ['--cni-bin-dir', (this.o.cniPathFor?.(host) ?? this.o.cniPath ?? []).join(':')] : []),
      // Tests that break a route on purpose stretch the agents' re-assert timer (seconds).
      ...(process.env.MULTINIC_LAB_RESYNC ? ['--resync', process.env.MULTINIC_LAB_RESYNC] : []),
    ];
    const child = start('ip', args, { env: { ...process.env, MULTINIC_LAB: '1' } });
    const out = createWriteStream(join(hostDir, 'agent.log'), { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    child.on('exit', (code, sig) => this.o.log?.(`agent ${host} exited (${code ?? sig})`));
    this.procs.set(host, child);
  }

  private stopAgents(): void {
    for (const p of this.procs.values()) p.kill('SIGTERM');
    this.procs.clear();
  }

  /** Stops reconciling and the agents (SIGTERM, then SIGKILL after 3 s). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.stopProcs();
  }

  private async stopProcs(): Promise<void> {
    const procs = [...this.procs.values()];
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            const t = setTimeout(() => {
              p.kill('SIGKILL');
              resolve();
            }, 3000);
            p.on('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    this.procs.clear();
  }
}

/** GET /v1/healthz on an agent socket. */
export function healthy(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/v1/healthz', timeout: 1000 }, (res) => {
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
