// Agent figures (issue 4): RSS idle and holding 1,000 pods × 2 NICs, and durable allocations per
// second through the unix socket, at each concurrency asked for (default 16 and 64). The real agent
// runs in a throwaway namespace with two veth NICs; baselines run side by side: a bare idle `node`
// (same binary) for RSS, GET /v1/healthz over the same socket at the same concurrency for throughput
// (the transport's own cost), and the agent with V8's default heap settings against the agent as
// the DaemonSet launches it (NODE_OPTIONS=AGENT_NODE_OPTIONS from src/lib/install/render.ts), a fresh
// agent per concurrency and variant, variants alternating so a noisy neighbour hits both.
//
//   bash bench/agent/run.sh [pods] [rounds] [concurrency[,concurrency...]] [--node PATH] [--launch bin|cli|bundle] [--file | --kubeconfig]
//
// Default: what ships, as deployed: bin/multinic-agent run (dist/; build first) on the image's runtime
// (Node 24, scripts/node24.sh), NODE_ENV=production, state from the Kubernetes API (the lab's API
// stand-in in the same namespace), the agent claiming its blocks and mirroring allocations to IPPools.
// In-cluster as in the pod: KUBERNETES_SERVICE_HOST/PORT, a service-account token and CA
// bind-mounted at /var/run/secrets/kubernetes.io/serviceaccount in the agent's own mount namespace
// (unshare -m; the empty mount point is created on the host and removed after), and HTTPS through a
// TLS terminator in front of the stand-in (openssl self-signed certificate): the agent pays for TLS
// and never reads a kubeconfig, as deployed. --kubeconfig: the stand-in's plain-HTTP kubeconfig.
// --launch cli: `kubectl-multinic agent` (oclif, dist/), to see what the CLI framework costs.
// --file: state from a file instead of the API (--launch bundle: src/agent/bin.ts bundled, file only).
// --node: another Node.js binary, absolute or repo-relative. AGENT_NODE_ARGS overrides the deployed NODE_OPTIONS.
// Needs root. Prints a JSON report (also build/bench/agent-<launch>-<file|kube>.json).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { run } from '../../src/host/exec.js';
import { AGENT_NODE_OPTIONS } from '../../src/lib/install/render.js';
import { node24, verdict } from '../lib/deployed.js';

const flags = new Map<string, string>();
const positional: string[] = [];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i] as string;
  if (a === '--kube' || a === '--file' || a === '--kubeconfig') flags.set(a.slice(2), '1');
  else if (a.startsWith('--')) flags.set(a.slice(2), process.argv[++i] ?? '');
  else positional.push(a);
}
const PODS = Number(positional[0] ?? 1000);
const ROUNDS = Number(positional[1] ?? 3);
const CONCS = (positional[2] ?? '16,64').split(',').map(Number);
const KUBE = !flags.has('file');
/** As the DaemonSet runs: in-cluster credentials over TLS (see inCluster()); --kubeconfig: the stand-in's plain-HTTP kubeconfig. */
const IN_CLUSTER = KUBE && !flags.has('kubeconfig');
const LAUNCH = flags.get('launch') ?? 'bin';
if (LAUNCH !== 'bundle' && LAUNCH !== 'bin' && LAUNCH !== 'cli') throw new Error(`--launch must be bundle, bin or cli, not ${LAUNCH}`);
if (KUBE && LAUNCH === 'bundle') throw new Error('--launch bundle reads a state file: add --file');
const NODE = resolve(flags.get('node') ?? node24());
const DEPLOYED = process.env.AGENT_NODE_ARGS ?? AGENT_NODE_OPTIONS;
const agentJs = process.env.AGENT_BUNDLE as string;
if (LAUNCH !== 'bundle' && !existsSync('dist/commands/agent.js')) throw new Error('bench/agent runs dist/: build first (npx tsc -p tsconfig.build.json && node scripts/manifest.mjs)');
const NS = 'mnagbench';
const NICS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** RSS of a process and its parts (anonymous: heaps and malloc; file: mapped code such as the node binary), MiB. */
function rss(pid: number): { total: number; anon: number; file: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { total: round(kib('VmRSS') / 1024), anon: round(kib('RssAnon') / 1024), file: round(kib('RssFile') / 1024) };
}

function call(sock: string, method: string, path: string, body: unknown, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ socketPath: sock, method, path, agent, headers: text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {} }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** Runs `n` requests with `conc` in flight; returns requests per second. */
async function drive(n: number, conc: number, one: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (next < n) await one(next++);
  }));
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function waitFor(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const round = (x: number) => Math.round(x * 100) / 100;

// One host, two NICs, ipvlan l2 (no shims, no routes: the bench measures the socket path); /18 pod
// blocks hold 16k addresses each. With --kube the agent claims the CIDR itself.
const NETWORK = `apiVersion: multinic.fms.io/v1
kind: MultiNicNetwork
metadata: {name: bench}
spec:
  subnet: 10.60.0.0/16
  ipam: '{"type":"multi-nic-ipam","hostBlock":1,"interfaceBlock":1,"vlanMode":"l2"}'
  multiNICIPAM: true
  plugin: {cniVersion: "1.0.0", type: ipvlan}
  masterNets: [10.0.1.0/24, 10.0.2.0/24]
`;
const CIDR = `apiVersion: multinic.fms.io/v1
kind: CIDR
metadata: {name: bench}
spec:
  config: {name: bench, type: ipvlan, subnet: 10.60.0.0/16, masterNets: [10.0.1.0/24, 10.0.2.0/24], hostBlock: 1, interfaceBlock: 1, vlanMode: l2}
  cidr:
  - {netAddress: 10.0.1.0/24, interfaceIndex: 0, vlanCIDR: 10.60.0.0/17, hosts: [{hostIndex: 0, hostName: bench, interfaceName: eth1, hostIP: 10.0.1.1, podCIDR: 10.60.0.0/18}]}
  - {netAddress: 10.0.2.0/24, interfaceIndex: 1, vlanCIDR: 10.60.128.0/17, hosts: [{hostIndex: 0, hostName: bench, interfaceName: eth2, hostIP: 10.0.2.1, podCIDR: 10.60.128.0/18}]}
`;
const NODE_OBJ = `apiVersion: v1
kind: Node
metadata: {name: bench, labels: {kubernetes.io/hostname: bench}}
---
apiVersion: v1
kind: Namespace
metadata: {name: multinic-system}
`;

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const TLS_PORT = 6443;

/**
 * In-cluster credentials for the agent: a TLS terminator on 127.0.0.1:TLS_PORT in the namespace in
 * front of the stand-in (the stand-in's server URL from its kubeconfig), a token, the CA and the
 * namespace in `dir`/sa, and the command prefix that bind-mounts them at SA_DIR in a private mount
 * namespace. The empty mount point is made on the host once and removed at exit.
 */
async function inCluster(dir: string, kubeconfigText: string): Promise<{ proxy: ChildProcess; env: NodeJS.ProcessEnv; wrap: string[] }> {
  const server = /server:\s*(\S+)/.exec(kubeconfigText)?.[1];
  if (!server?.startsWith('http://')) throw new Error(`the stand-in's kubeconfig has no http:// server (${server ?? 'none'})`);
  const sa = join(dir, 'sa');
  mkdirSync(sa);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=kubernetes', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(sa, 'ca.crt')]);
  writeFileSync(join(sa, 'token'), 'bench-token\n');
  writeFileSync(join(sa, 'namespace'), 'multinic-system\n');
  if (!existsSync(SA_DIR)) {
    const made = mkdirSync(SA_DIR, { recursive: true });
    if (made) cleanups.push(() => rmEmpty(SA_DIR, made));
  }
  const u = new URL(server);
  const script = `const tls=require('node:tls'),net=require('node:net'),fs=require('node:fs');tls.createServer({key:fs.readFileSync(process.argv[1]),cert:fs.readFileSync(process.argv[2])},(s)=>{const c=net.connect(${Number(u.port)},${JSON.stringify(u.hostname)});s.pipe(c).pipe(s);s.on('error',()=>c.destroy());c.on('error',()=>s.destroy())}).listen(${TLS_PORT},'127.0.0.1',()=>console.log('up'))`;
  const proxy = spawn('ip', ['netns', 'exec', NS, NODE, '-e', script, join(dir, 'tls.key'), join(sa, 'ca.crt')], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    proxy.stdout?.once('data', () => res());
    proxy.once('exit', (c) => rej(new Error(`TLS terminator exited with ${c}`)));
  });
  return {
    proxy,
    env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(TLS_PORT) },
    wrap: ['unshare', '-m', 'sh', '-c', `mount --bind "$0" ${SA_DIR} && exec "$@"`, sa],
  };
}

/** Removes `path` and its parents up to (not including) the first one mkdirSync made, when empty. */
function rmEmpty(path: string, made: string): void {
  for (let p = path; p.length >= made.length; p = dirname(p)) {
    try {
      rmdirSync(p);
    } catch {
      return;
    }
  }
}
const cleanups: Array<() => void> = [];

interface RunResult {
  concurrency: number;
  variant: 'deployed' | 'v8Defaults';
  nodeOptions: string;
  loadAverageBefore: number[];
  rssMiB: { bareNode: number; idle: number; withAllocations: number; idleAnon: number; withAllocationsAnon: number; withAllocationsFile: number };
  heapUsedMiB: { idle?: number; withAllocations?: number };
  perSecond: { healthzBaseline: number; allocateRequests: number; durableAddresses: number; releaseRequests: number; allocateVsHealthz: number };
}

/** A fresh namespace and agent; measures idle, then ROUNDS of allocate/release at `conc`. */
async function measure(conc: number, variant: RunResult['variant']): Promise<RunResult> {
  const nodeOptions = variant === 'deployed' ? DEPLOYED : '';
  const loadAverageBefore = loadavg().map((x) => round(x));
  const dir = mkdtempSync(join(tmpdir(), 'mnag-bench-'));
  const children: ChildProcess[] = [];
  let log = '';
  try {
    await run('ip', ['netns', 'del', NS]).catch(() => undefined);
    await run('ip', ['netns', 'add', NS]);
    const lines = ['link set lo up'];
    for (const n of [1, 2]) lines.push(`link add eth${n} type veth peer name peer${n}`, `link set eth${n} up`, `link set peer${n} up`, `addr add 10.0.${n}.1/24 dev eth${n}`);
    await run('ip', ['-n', NS, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    // A veth reports carrier some time after `link set up`; a real node's NICs are up before its agent starts.
    await waitFor('NIC carrier', 10_000, async () => {
      const links = JSON.parse((await run('ip', ['-n', NS, '-json', 'link', 'show'])).stdout) as Array<{ ifname: string; operstate?: string }>;
      return ['eth1', 'eth2'].every((n) => links.some((l) => l.ifname === n && l.operstate === 'UP'));
    });
    const sock = join(dir, 'agent.sock');
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', NODE_OPTIONS: nodeOptions };
    const source: string[] = [];
    const wrap: string[] = [];
    if (KUBE) {
      const kubeconfig = join(dir, 'kubeconfig');
      const api = spawn('ip', ['netns', 'exec', NS, NODE, 'dist/lab/apiserver/main.js', '--port', '0', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(api);
      await new Promise<void>((res, rej) => {
        api.stdout?.once('data', () => res());
        api.once('exit', (c) => rej(new Error(`API stand-in exited with ${c}`)));
      });
      writeFileSync(join(dir, 'objects.yaml'), `${NODE_OBJ}---\n${NETWORK}`);
      const kubectl = (args: string[]) => run('ip', ['netns', 'exec', NS, 'kubectl', '--kubeconfig', kubeconfig, ...args]);
      await kubectl(['apply', '-f', 'deploy/crds']);
      await kubectl(['apply', '-f', join(dir, 'objects.yaml')]);
      if (IN_CLUSTER) {
        const tls = await inCluster(dir, readFileSync(join(dir, 'kubeconfig'), 'utf8'));
        children.push(tls.proxy);
        Object.assign(env, tls.env);
        wrap.push(...tls.wrap);
        source.push('--kube', '--namespace', 'multinic-system');
      } else source.push('--kube', '--kubeconfig', kubeconfig, '--namespace', 'multinic-system');
    } else {
      writeFileSync(join(dir, 'state.yaml'), `${NETWORK}---\n${CIDR}`);
      source.push('--state-file', join(dir, 'state.yaml'));
    }
    const entry = LAUNCH === 'cli' ? ['bin/kubectl-multinic', 'agent'] : LAUNCH === 'bin' ? ['bin/multinic-agent', 'run'] : [agentJs, 'run'];
    const bare = spawn('ip', ['netns', 'exec', NS, NODE, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    children.push(bare);
    const agent = spawn('ip', ['netns', 'exec', NS, ...wrap, NODE, ...entry, '--node', 'bench', '--socket', sock, ...source, '--data-dir', join(dir, 'data'), '--rt-tables', join(dir, 'rt_tables')], { stdio: ['ignore', 'ignore', 'pipe'], env });
    agent.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    children.push(agent);
    const keep = new Agent({ keepAlive: true, maxSockets: conc });
    const state = async () => JSON.parse((await call(sock, 'GET', '/v1/state', undefined, keep)).body) as { nics?: unknown[]; networks?: Array<{ pools?: unknown[] }>; process?: { heapUsedMiB?: number } };
    // Ready: both NICs discovered and both pools known (with --kube: the CIDR claimed).
    await waitFor('the agent to serve 2 NICs and 2 pools', 30_000, async () => {
      if (agent.exitCode !== null) throw new Error(`agent exited with ${agent.exitCode}:\n${log}`);
      const st = await state().catch(() => undefined);
      return st?.nics?.length === 2 && st.networks?.[0]?.pools?.length === 2;
    }).catch((e: Error) => {
      throw new Error(`${e.message}\n${log}`);
    });
    await sleep(2000);
    const idle = rss(agent.pid as number);
    const bareRss = rss(bare.pid as number).total;
    const idleHeap = (await state()).process?.heapUsedMiB;

    const pod = (i: number) => ({ apiVersion: 'v1', network: 'bench', pod: { namespace: 'bench', name: `p${i}`, uid: `u${i}`, containerID: `c${i}`, ifName: 'net1' } });
    const alloc: number[] = [];
    const health: number[] = [];
    const rel: number[] = [];
    let held = { total: 0, anon: 0, file: 0 };
    let heldHeap: number | undefined;
    const ok = async (p: Promise<{ status: number; body: string }>) => {
      const res = await p;
      if (res.status !== 200) throw new Error(res.body);
    };
    for (let r = 0; r < ROUNDS; r++) {
      health.push(await drive(PODS, conc, () => ok(call(sock, 'GET', '/v1/healthz', undefined, keep))));
      alloc.push(await drive(PODS, conc, (i) => ok(call(sock, 'POST', '/v1/allocate', pod(i), keep))));
      if (r === ROUNDS - 1) {
        await sleep(500);
        held = rss(agent.pid as number);
        heldHeap = (await state()).process?.heapUsedMiB;
      }
      rel.push(await drive(PODS, conc, (i) => ok(call(sock, 'POST', '/v1/release', pod(i), keep))));
    }
    keep.destroy();
    return {
      concurrency: conc,
      variant,
      nodeOptions,
      loadAverageBefore,
      rssMiB: { bareNode: bareRss, idle: idle.total, withAllocations: held.total, idleAnon: idle.anon, withAllocationsAnon: held.anon, withAllocationsFile: held.file },
      heapUsedMiB: { idle: idleHeap, withAllocations: heldHeap },
      perSecond: {
        healthzBaseline: Math.round(median(health)),
        allocateRequests: Math.round(median(alloc)),
        durableAddresses: Math.round(median(alloc) * NICS),
        releaseRequests: Math.round(median(rel)),
        allocateVsHealthz: round(median(alloc) / median(health)),
      },
    };
  } finally {
    for (const c of children.reverse()) {
      if (c.exitCode !== null) continue;
      c.kill('SIGTERM');
      await Promise.race([new Promise((r) => c.once('exit', r)), sleep(5000)]);
    }
    await run('ip', ['netns', 'del', NS]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const runs: RunResult[] = [];
try {
  for (const [k, conc] of CONCS.entries()) {
    const order: Array<RunResult['variant']> = k % 2 === 0 ? ['deployed', 'v8Defaults'] : ['v8Defaults', 'deployed'];
    for (const v of order) runs.push(await measure(conc, v));
  }
} finally {
  for (const c of cleanups) c();
}
// Issue 14: <= 80 MB holding 1,000 pods x 2 NICs, <= 100 MB holding 10k allocations (5,000 pods x 2 NICs or more).
const HELD_GOAL = PODS * NICS >= 10_000 ? 100 : 80;
const pick = (conc: number, v: RunResult['variant']) => runs.find((r) => r.concurrency === conc && r.variant === v) as RunResult;
const report = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'BenchReport',
  bench: `agent-${LAUNCH}-${KUBE ? (IN_CLUSTER ? 'kube' : 'kubeconfig') : 'file'}`,
  pods: PODS,
  nicsPerPod: NICS,
  rounds: ROUNDS,
  cores: cpus().length,
  node: (await run(NODE, ['--version'])).stdout.trim(),
  launch: LAUNCH === 'cli' ? 'kubectl-multinic agent (oclif, dist/)' : LAUNCH === 'bin' ? 'bin/multinic-agent run (dist/), as the image starts it' : 'src/agent/bin.ts bundled (no oclif)',
  state: KUBE ? `Kubernetes API (lab stand-in in the namespace), IPPool mirroring; ${IN_CLUSTER ? 'in-cluster service account over TLS, as deployed' : 'plain-HTTP kubeconfig'}` : 'state file',
  deployedNodeOptions: DEPLOYED,
  loadAverageAfter: loadavg().map((x) => round(x)),
  runs,
  ratio: Object.fromEntries(CONCS.map((c) => {
    const d = pick(c, 'deployed');
    const b = pick(c, 'v8Defaults');
    return [`concurrency${c}`, {
      rssWithAllocationsDeployedVsDefaults: round(d.rssMiB.withAllocations / b.rssMiB.withAllocations),
      rssIdleDeployedVsDefaults: round(d.rssMiB.idle / b.rssMiB.idle),
      allocatePerSecondDeployedVsDefaults: round(d.perSecond.allocateRequests / b.perSecond.allocateRequests),
      idleVsBareNode: round(d.rssMiB.idle / d.rssMiB.bareNode),
    }];
  })),
  goals: CONCS.flatMap((c) => {
    const d = pick(c, 'deployed');
    return [
      { figure: `concurrency${c}.deployed.rssMiB.idle`, goal: 60, value: d.rssMiB.idle, verdict: verdict(d.rssMiB.idle, 60) },
      { figure: `concurrency${c}.deployed.rssMiB.withAllocations (${PODS} pods x ${NICS} NICs)`, goal: HELD_GOAL, value: d.rssMiB.withAllocations, verdict: verdict(d.rssMiB.withAllocations, HELD_GOAL) },
      { figure: `concurrency${c}.deployed.perSecond.durableAddresses (at least)`, goal: 2000, value: d.perSecond.durableAddresses, verdict: d.perSecond.durableAddresses >= 2000 ? 'met' : 'not met' },
    ];
  }),
};
mkdirSync('build/bench', { recursive: true });
writeFileSync(`build/bench/${report.bench}.json`, `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
