// The lab node runner: plays kubelet + Multus for pods bound to lab hosts. For each such pod it
// creates the pod's network namespace, calls the CNI plugin of every network in the pod's
// `k8s.v1.cni.cncf.io/networks` annotation exactly as Multus would (NAD config + args.cni from
// cni-args, CNI_ARGS with pod name/namespace/UID/infra container ID, run in the host's netns),
// writes the `network-status` annotation exactly as Multus v4.0.2 does (one merged entry per
// attachment, see networkStatusFromResult), phase and conditions, runs the pod's command inside
// the namespace, feeds its output to pods/log, and on deletion kills it, runs CNI DEL and removes
// the namespace. Minimal by design: no images, volumes, probes or restarts. A pod with
// ResourceClaims has them prepared first (NodePrepareResources through the host's DRA plugins,
// src/lab/dra.ts) and unprepared after its CNI DEL, as the kubelet does.
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { CommandError, run, start } from '../host/exec.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { R } from '../lib/k8s/resources.js';
import type { LabTopology } from '../lib/lab/topology.js';
import {
  NETWORK_STATUS_ANNOTATION,
  NETWORKS_ANNOTATION,
  type NetworkStatusEntry,
  cniArgsFor,
  networkStatusFromResult,
  parseNetworksAnnotation,
} from '../lib/multus.js';
import type { KubeApi, WatchEvent } from '../kube/api.js';
import type { DraPod, PreparedRef } from './dra.js';

export interface PodObject extends KubeObject {
  spec?: { nodeName?: string; containers?: Array<{ name: string; command?: string[]; args?: string[] }>; restartPolicy?: string };
  status?: { phase?: string };
}

export interface RunnerOptions {
  kube: KubeApi;
  topology: LabTopology;
  /** Directories searched for CNI plugins (CNI_PATH), ours first. */
  cniPath: string[];
  /** Per host CNI path (overrides cniPath), as each node has its own /opt/cni/bin. */
  cniPathFor?: (host: string) => string[];
  /** Agent socket of a host, passed to the CNI as MULTINIC_AGENT_SOCKET. */
  agentSocket: (host: string) => string;
  /** Appends container output to the pod's log (served through pods/log). */
  appendLog: (namespace: string, name: string, chunk: string) => void;
  log?: (line: string) => void;
  /** The kubelet's DRA calls (src/lab/dra.ts LabDra); without it claims are not prepared. */
  dra?: { prepare(host: string, pod: DraPod): Promise<PreparedRef[]>; unprepare(host: string, refs: readonly PreparedRef[]): Promise<void> };
}

interface Attachment {
  network: string;
  ifName: string;
  config: Record<string, unknown>;
}

interface RunningPod {
  uid: string;
  namespace: string;
  name: string;
  host: string;
  netns: string;
  containerID: string;
  attachments: Attachment[];
  /** Claims prepared for the pod (unprepared after its CNI DEL). */
  prepared: PreparedRef[];
  child?: ChildProcess;
  deleted: boolean;
  ready: Promise<void>;
}

export class LabNodeRunner {
  private readonly pods = new Map<string, RunningPod>();
  private readonly hostNetns: Map<string, string>;
  private watch?: { stop(): void; done: Promise<void> };
  private stopped = false;
  private readonly log: (line: string) => void;

  constructor(private readonly o: RunnerOptions) {
    this.hostNetns = new Map(o.topology.hosts.map((h) => [h.name, h.netns]));
    this.log = o.log ?? (() => undefined);
  }

  /** Lists and watches pods until stop(); re-lists after a dropped watch. */
  async start(): Promise<void> {
    void this.loop();
  }

  private async loop(): Promise<void> {
    let rv = '';
    while (!this.stopped) {
      try {
        if (!rv) {
          const list = await this.o.kube.list<PodObject>(R.Pod, {});
          for (const p of list.items) this.onPod('ADDED', p);
          rv = list.resourceVersion;
        }
        this.watch = this.o.kube.watch<PodObject>(R.Pod, { resourceVersion: rv, timeoutSeconds: 120 }, (e: WatchEvent<PodObject>) => {
          if (e.type === 'ERROR') {
            rv = '';
            return;
          }
          if (e.object.metadata?.resourceVersion) rv = e.object.metadata.resourceVersion;
          if (e.type !== 'BOOKMARK') this.onPod(e.type, e.object);
        });
        await this.watch.done;
      } catch (e) {
        if (this.stopped) return;
        this.log(`runner: watch failed, re-listing: ${(e as Error).message}`);
        rv = '';
        await sleep(500);
      }
    }
  }

  private onPod(type: string, pod: PodObject): void {
    const uid = pod.metadata?.uid;
    const node = pod.spec?.nodeName;
    if (!uid || !node || !this.hostNetns.has(node)) return;
    const known = this.pods.get(uid);
    if (type === 'DELETED' || pod.metadata?.deletionTimestamp) {
      if (known && !known.deleted) void this.teardown(known, type !== 'DELETED');
      return;
    }
    if (!known && (!pod.status?.phase || pod.status.phase === 'Pending')) this.setup(pod, node);
  }

  private setup(pod: PodObject, host: string): void {
    const meta = pod.metadata!;
    const uid = meta.uid!;
    const containerID = createHash('sha256').update(uid).digest('hex').slice(0, 64);
    const rp: RunningPod = {
      uid,
      namespace: meta.namespace ?? 'default',
      name: meta.name!,
      host,
      netns: `${this.o.topology.prefix}-p${uid.replace(/-/g, '').slice(0, 10)}`,
      containerID,
      attachments: [],
      prepared: [],
      deleted: false,
      ready: Promise.resolve(),
    };
    this.pods.set(uid, rp);
    rp.ready = this.bringUp(rp, pod).catch((e) => this.log(`runner: pod ${rp.namespace}/${rp.name}: ${(e as Error).message}`));
  }

  private async bringUp(rp: RunningPod, pod: PodObject): Promise<void> {
    const hostNs = this.hostNetns.get(rp.host)!;
    if (this.o.dra && (pod as DraPod).spec?.resourceClaims?.length) {
      try {
        rp.prepared = await this.o.dra.prepare(rp.host, pod as DraPod);
      } catch (e) {
        // The kubelet keeps such a pod Pending (it retries); the lab says why once.
        const msg = (e as Error).message;
        await this.event(rp, 'Warning', 'FailedPrepareDynamicResources', msg);
        await this.patchStatus(rp, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False', reason: 'FailedPrepareDynamicResources', message: msg }] });
        return;
      }
    }
    await run('ip', ['netns', 'add', rp.netns]);
    await run('ip', ['-n', rp.netns, 'link', 'set', 'lo', 'up']);
    const statuses: NetworkStatusEntry[] = [];
    try {
      const selections = parseNetworksAnnotation(pod.metadata?.annotations?.[NETWORKS_ANNOTATION] ?? '');
      let k = 0;
      for (const sel of selections) {
        k += 1;
        const ns = sel.namespace ?? rp.namespace;
        const nad = await this.o.kube.get<KubeObject & { spec?: { config?: string } }>(R.NetworkAttachmentDefinition, sel.name, ns);
        if (!nad?.spec?.config) throw new Error(`network-attachment-definition ${ns}/${sel.name} not found`);
        const config = JSON.parse(nad.spec.config) as Record<string, unknown>;
        config.name ??= sel.name;
        if (sel['cni-args']) config.args = { ...((config.args as object) ?? {}), cni: sel['cni-args'] };
        const att: Attachment = { network: `${ns}/${sel.name}`, ifName: sel.interface ?? `net${k}`, config };
        if (rp.deleted) return;
        const result = await this.cni('ADD', rp, hostNs, att);
        rp.attachments.push(att);
        statuses.push(networkStatusFromResult(att.network, result as never));
      }
    } catch (e) {
      const msg = (e as Error).message;
      await this.event(rp, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${msg}`);
      await this.cleanupNetworks(rp, hostNs);
      await this.patchStatus(rp, {
        phase: 'Failed',
        reason: 'FailedCreatePodSandBox',
        message: msg,
        conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False', reason: 'FailedCreatePodSandBox', message: msg }],
      });
      return;
    }
    if (rp.deleted) return;
    const now = new Date().toISOString();
    const firstIp = statuses.flatMap((s) => s.ips ?? [])[0];
    await this.o.kube.patch(R.Pod, rp.name, { metadata: { annotations: { [NETWORK_STATUS_ANNOTATION]: JSON.stringify(statuses, null, 2) } } }, { namespace: rp.namespace });
    const container = pod.spec?.containers?.[0];
    await this.patchStatus(rp, {
      phase: 'Running',
      hostIP: this.o.topology.hosts.find((h) => h.name === rp.host)?.mgmtIp,
      ...(firstIp ? { podIP: firstIp, podIPs: [{ ip: firstIp }] } : {}),
      startTime: now,
      conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })),
      containerStatuses: [{ name: container?.name ?? 'main', ready: true, restartCount: 0, image: 'lab', imageID: '', started: true, state: { running: { startedAt: now } } }],
    });
    await this.runContainer(rp, container);
  }

  private async runContainer(rp: RunningPod, container: { name: string; command?: string[]; args?: string[] } | undefined): Promise<void> {
    const argv = [...(container?.command ?? []), ...(container?.args ?? [])];
    if (argv.length === 0) return; // a pause pod: networking only
    const child = start('ip', ['netns', 'exec', rp.netns, ...argv]);
    rp.child = child;
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (c: string) => this.o.appendLog(rp.namespace, rp.name, c));
    child.stderr?.on('data', (c: string) => this.o.appendLog(rp.namespace, rp.name, c));
    const code = await new Promise<number>((resolve) => {
      child.on('error', (e) => {
        this.o.appendLog(rp.namespace, rp.name, `${e.message}\n`);
        resolve(127);
      });
      child.on('close', (c, sig) => resolve(c ?? (sig ? 137 : 1)));
    });
    if (rp.deleted) return;
    const now = new Date().toISOString();
    await this.patchStatus(rp, {
      phase: code === 0 ? 'Succeeded' : 'Failed',
      conditions: [{ type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: now }],
      containerStatuses: [{ name: container?.name ?? 'main', ready: false, restartCount: 0, image: 'lab', imageID: '', started: false, state: { terminated: { exitCode: code, reason: code === 0 ? 'Completed' : 'Error', finishedAt: now } } }],
    }).catch(() => undefined);
  }

  private async teardown(rp: RunningPod, finalize: boolean): Promise<void> {
    rp.deleted = true;
    rp.child?.kill('SIGKILL');
    await rp.ready.catch(() => undefined);
    const hostNs = this.hostNetns.get(rp.host)!;
    await this.cleanupNetworks(rp, hostNs);
    await run('ip', ['netns', 'del', rp.netns]).catch(() => undefined);
    if (rp.prepared.length) await this.o.dra?.unprepare(rp.host, rp.prepared).catch((e) => this.log(`runner: unprepare for ${rp.namespace}/${rp.name}: ${(e as Error).message}`));
    rp.prepared = [];
    this.pods.delete(rp.uid);
    // Graceful deletion: the kubelet confirms with a zero-grace delete once the sandbox is gone.
    if (finalize) await this.o.kube.delete(R.Pod, rp.name, rp.namespace).catch(() => undefined);
  }

  private async cleanupNetworks(rp: RunningPod, hostNs: string): Promise<void> {
    for (const att of [...rp.attachments].reverse()) {
      await this.cni('DEL', rp, hostNs, att).catch((e) => this.log(`runner: CNI DEL ${att.network} for ${rp.namespace}/${rp.name}: ${(e as Error).message}`));
    }
    rp.attachments = [];
  }

  /** Runs the NAD's plugin in the host's netns with the CNI environment Multus would set. */
  private async cni(command: 'ADD' | 'DEL', rp: RunningPod, hostNs: string, att: Attachment): Promise<unknown> {
    const type = String(att.config.type ?? '');
    if (!/^[a-z0-9-]+$/.test(type)) throw new Error(`network ${att.network}: invalid plugin type "${type}"`);
    const cniPath = this.o.cniPathFor?.(rp.host) ?? this.o.cniPath;
    const bin = await this.findPlugin(type, cniPath);
    const env = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: rp.containerID,
      CNI_NETNS: `/run/netns/${rp.netns}`,
      CNI_IFNAME: att.ifName,
      CNI_PATH: cniPath.join(':'),
      CNI_ARGS: cniArgsFor({ namespace: rp.namespace, name: rp.name, uid: rp.uid, containerID: rp.containerID }),
      MULTINIC_AGENT_SOCKET: this.o.agentSocket(rp.host),
    };
    try {
      const { stdout } = await run('ip', ['netns', 'exec', hostNs, bin], { input: JSON.stringify(att.config), env, timeoutMs: 60_000 });
      return stdout.trim() ? JSON.parse(stdout) : {};
    } catch (e) {
      // A CNI plugin reports failure as {code, msg} on stdout (CNI spec, "Error result").
      let msg = (e as Error).message;
      if (e instanceof CommandError) {
        try {
          msg = (JSON.parse(e.stdout) as { msg?: string }).msg ?? (e.stderr.trim() || msg);
        } catch {
          msg = e.stderr.trim() || msg;
        }
      }
      throw new Error(`plugin type="${type}" name="${att.network}" failed (${command.toLowerCase()}): ${msg}`, { cause: e });
    }
  }

  /** Looked up on every call (no cache): a plugin removed from a host's dir is gone at once, as on a node. */
  private async findPlugin(type: string, cniPath: readonly string[]): Promise<string> {
    const { access } = await import('node:fs/promises');
    for (const dir of cniPath) {
      const p = `${dir}/${type}`;
      try {
        await access(p);
        return p;
      } catch {
        /* next */
      }
    }
    throw new Error(`failed to find plugin "${type}" in path [${cniPath.join(' ')}]`);
  }

  private async patchStatus(rp: RunningPod, status: Record<string, unknown>): Promise<void> {
    await this.o.kube.patch(R.Pod, rp.name, { status }, { namespace: rp.namespace, subresource: 'status' });
  }

  private async event(rp: RunningPod, type: string, reason: string, message: string): Promise<void> {
    const now = new Date().toISOString();
    await this.o.kube
      .create(R.Event, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${rp.name}.`, namespace: rp.namespace } as never,
        involvedObject: { kind: 'Pod', namespace: rp.namespace, name: rp.name, uid: rp.uid },
        type,
        reason,
        message,
        source: { component: 'kubelet', host: rp.host },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      })
      .catch(() => undefined);
  }

  /** Stops watching; tears down every pod it started (CNI DEL + netns). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.stop();
    await Promise.all([...this.pods.values()].map((p) => this.teardown(p, false)));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
