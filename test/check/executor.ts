// A minimal in-test pod executor for the check orchestration tests: it plays kubelet + Multus for
// the check's pods on the API stand-in, over a REAL data path. Per pod: a network namespace, a veth
// `net1-0` whose peer sits on the bridge of the pod's NIC (one bridge per NIC index, in one
// "fabric" namespace), an address from the host's pod block in the CIDR resource, the Multus
// network-status annotation, phase Running, the pod's command (iperf3) run inside the namespace
// with its output fed to pods/log, phase Succeeded/Failed when it exits, and teardown when the pod
// is deleted. Faults: `isolate` leaves a host NIC's pods off their bridge, so nothing reaches them
// and their packets go nowhere (what a missing host route does to L3 pod traffic; a route missing
// inside the pod is not a fault --bind-dev can see: with SO_BINDTODEVICE and no route, Linux assumes
// the destination is on-link), `failPod` fails a pod before its network is set up (a failed CNI ADD).
// Names use the caller's prefix; stop() removes everything it made.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import type { ApiServer } from '../../src/lab/apiserver/index.js';
import type { CIDR } from '../../src/lib/crds/types.gen.js';
import { formatIp, parseCidr } from '../../src/lib/net/ip.js';

export interface ExecutorOptions {
  server: ApiServer;
  /** ≤ 8 chars: netns and link names are `${prefix}f`, `${prefix}p<n>`, `${prefix}v<n>`. */
  prefix: string;
  cidr: CIDR;
  isolate?: (host: string, nicIndex: number) => boolean;
  failPod?: (pod: PodLike) => string | undefined;
  /** Seconds a pod's command waits before it starts (a server that is not listening yet). */
  startDelay?: (pod: PodLike) => number;
  /** Another process holds every TCP port the pod's command could listen on (a port conflict). */
  occupyPort?: (pod: PodLike) => boolean;
}

interface PodLike {
  metadata: { name: string; namespace: string; uid?: string; annotations?: Record<string, string> };
  spec: { nodeName?: string; containers: Array<{ command?: string[]; args?: string[] }> };
  status?: { phase?: string };
}

interface Running {
  netns?: string;
  child?: ChildProcess;
  gone: boolean;
}

const ip = (args: string[]): void => {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};

export class PodExecutor {
  readonly fabric: string;
  private readonly pods = new Map<string, Running>();
  private timer?: NodeJS.Timeout;
  private n = 0;
  private readonly nextHost = new Map<string, number>();
  /** Pods this executor set up, by name (for assertions). */
  readonly started: string[] = [];

  constructor(private readonly o: ExecutorOptions) {
    this.fabric = `${o.prefix}f`;
  }

  start(): void {
    ip(['netns', 'add', this.fabric]);
    ip(['-n', this.fabric, 'link', 'set', 'lo', 'up']);
    for (const e of this.o.cidr.spec.cidr) {
      ip(['-n', this.fabric, 'link', 'add', `br${e.interfaceIndex}`, 'type', 'bridge']);
      ip(['-n', this.fabric, 'link', 'set', `br${e.interfaceIndex}`, 'up']);
    }
    this.timer = setInterval(() => this.reconcile(), 50);
  }

  /** Stops, kills every command and removes every namespace it made (the veths go with them). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const p of this.pods.values()) this.teardown(p);
    this.pods.clear();
    try {
      ip(['netns', 'del', this.fabric]);
    } catch {
      /* already gone */
    }
  }

  /** Network namespaces of this executor still present. */
  namespaces(): string[] {
    const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    return out.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(this.o.prefix));
  }

  private reconcile(): void {
    const store = this.o.server.store;
    const pods = store.list('v1', 'Pod') as unknown as PodLike[];
    const seen = new Set<string>();
    for (const pod of pods) {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      seen.add(key);
      if (this.pods.has(key) || !pod.spec.nodeName) continue;
      const r: Running = { gone: false };
      this.pods.set(key, r);
      try {
        this.setup(pod, r);
      } catch (e) {
        this.setStatus(pod, { phase: 'Failed', reason: 'ExecutorError', message: (e as Error).message });
      }
    }
    for (const [key, r] of this.pods) {
      if (!seen.has(key)) {
        this.teardown(r);
        this.pods.delete(key);
      }
    }
  }

  private setStatus(pod: PodLike, status: Record<string, unknown>): void {
    try {
      this.o.server.store.patch('v1', 'Pod', pod.metadata.name, pod.metadata.namespace, 'merge', { status }, 'status');
    } catch {
      /* deleted meanwhile */
    }
  }

  private setup(pod: PodLike, r: Running): void {
    const failure = this.o.failPod?.(pod);
    if (failure) {
      this.setStatus(pod, { phase: 'Failed', reason: 'CNIError', message: failure });
      return;
    }
    const sel = JSON.parse(pod.metadata.annotations?.['k8s.v1.cni.cncf.io/networks'] ?? '[]') as Array<{ name: string; interface?: string; 'cni-args'?: { masters?: string[] } }>;
    const want = sel[0];
    const master = want?.['cni-args']?.masters?.[0];
    const host = pod.spec.nodeName ?? '';
    const entry = this.o.cidr.spec.cidr.find((e) => e.hosts.some((h) => h.hostName === host && h.interfaceName === master));
    const hostEntry = entry?.hosts.find((h) => h.hostName === host);
    if (!want || !entry || !hostEntry) {
      this.setStatus(pod, { phase: 'Failed', reason: 'CNIError', message: `no NIC ${master} on ${host}` });
      return;
    }
    const k = this.n++;
    const netns = `${this.o.prefix}p${k}`;
    r.netns = netns;
    const block = parseCidr(hostEntry.podCIDR);
    const idx = this.nextHost.get(hostEntry.podCIDR) ?? 2;
    this.nextHost.set(hostEntry.podCIDR, idx + 1);
    const addr = formatIp(block.family, block.base + BigInt(idx));
    const isolated = this.o.isolate?.(host, entry.interfaceIndex) ?? false;
    const prefix = parseCidr(entry.vlanCIDR).prefix;
    const ifname = `${want.interface ?? 'net1'}-0`;
    ip(['netns', 'add', netns]);
    ip(['link', 'add', `${this.o.prefix}v${k}`, 'netns', netns, 'type', 'veth', 'peer', 'name', `${this.o.prefix}b${k}`, 'netns', this.fabric]);
    ip(['-n', netns, 'link', 'set', `${this.o.prefix}v${k}`, 'name', ifname]);
    ip(['-n', netns, 'addr', 'add', `${addr}/${prefix}`, 'dev', ifname]);
    ip(['-n', netns, 'link', 'set', ifname, 'up']);
    ip(['-n', netns, 'link', 'set', 'lo', 'up']);
    ip(['-n', this.fabric, 'link', 'set', `${this.o.prefix}b${k}`, ...(isolated ? [] : ['master', `br${entry.interfaceIndex}`]), 'up']);
    const status = [{ name: `${pod.metadata.namespace}/${want.name}`, interface: ifname, ips: [addr], mac: '', dns: {} }];
    this.o.server.store.patch('v1', 'Pod', pod.metadata.name, pod.metadata.namespace, 'merge', { metadata: { annotations: { 'k8s.v1.cni.cncf.io/network-status': JSON.stringify(status) } } });
    this.setStatus(pod, { phase: 'Running', podIP: addr });
    this.started.push(pod.metadata.name);
    const c = pod.spec.containers[0];
    const argv = [...(c?.command ?? []), ...(c?.args ?? [])];
    const delay = this.o.startDelay?.(pod) ?? 0;
    const port = argv[argv.indexOf('-p') + 1];
    // A listener started first on the same port, in the pod's namespace (nc from netcat is not
    // guaranteed; an iperf3 server is).
    const squat = this.o.occupyPort?.(pod) && port ? `iperf3 -s -p ${port} -D; sleep 0.3; ` : '';
    const wrapped = delay > 0 || squat ? ['sh', '-c', `${squat}sleep ${delay}; exec "$@"`, 'sh', ...argv] : argv;
    const child = spawn('ip', ['netns', 'exec', netns, ...wrapped], { stdio: ['ignore', 'pipe', 'pipe'] });
    r.child = child;
    const append = (chunk: Buffer): void => {
      try {
        this.o.server.store.appendPodLog(pod.metadata.namespace, pod.metadata.name, chunk.toString('utf8'));
      } catch {
        /* deleted */
      }
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    child.on('exit', (code) => {
      if (!r.gone) this.setStatus(pod, { phase: code === 0 ? 'Succeeded' : 'Failed' });
    });
  }

  private teardown(r: Running): void {
    r.gone = true;
    if (r.child && r.child.exitCode === null) r.child.kill('SIGKILL');
    if (r.netns) {
      // Deleting a namespace does not end its processes (a daemonized iperf3 would keep it alive).
      try {
        const pids = execFileSync('ip', ['netns', 'pids', r.netns], { encoding: 'utf8' }).split('\n').filter(Boolean);
        for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* none left */
      }
      try {
        ip(['netns', 'del', r.netns]);
      } catch {
        /* already gone */
      }
      r.netns = undefined;
    }
  }
}
