// Agent figures (issue 4): RSS idle and holding 1,000 pods × 2 NICs, and durable allocations per
// second through the unix socket. The real agent runs in a throwaway namespace with two veth NICs;
// baselines run side by side: a bare idle `node` process for RSS, and GET /v1/healthz over the same
// socket at the same concurrency for throughput (the transport's own cost), alternating rounds so a
// noisy neighbour hits both. Run: bash bench/agent/run.sh [pods] [rounds] [concurrency]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';

const PODS = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONC = Number(process.argv[4] ?? 16);
const agentJs = process.env.AGENT_BUNDLE as string;
const NS = 'mnagbench';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

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

/** Runs `n` requests with `CONC` in flight; returns requests per second. */
async function drive(n: number, one: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (next < n) await one(next++);
  }));
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mnag-bench-'));
  const children: ChildProcess[] = [];
  try {
    await run('ip', ['netns', 'del', NS]).catch(() => undefined);
    await run('ip', ['netns', 'add', NS]);
    const lines = ['link set lo up'];
    for (const n of [1, 2]) lines.push(`link add eth${n} type veth peer name peer${n}`, `link set eth${n} up`, `link set peer${n} up`, `addr add 10.0.${n}.1/24 dev eth${n}`);
    await run('ip', ['-n', NS, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    // One host, two NICs, ipvlan l2 (no shims, no routes: the bench measures the socket path);
    // /18 pod blocks hold 16k addresses each.
    const state = `apiVersion: multinic.fms.io/v1
kind: MultiNicNetwork
metadata: {name: bench}
spec:
  subnet: 10.60.0.0/16
  ipam: '{"type":"multi-nic-ipam","hostBlock":1,"interfaceBlock":1,"vlanMode":"l2"}'
  plugin: {cniVersion: "1.0.0", type: ipvlan}
---
apiVersion: multinic.fms.io/v1
kind: CIDR
metadata: {name: bench}
spec:
  config: {name: bench, type: ipvlan, subnet: 10.60.0.0/16, masterNets: [10.0.1.0/24, 10.0.2.0/24], hostBlock: 1, interfaceBlock: 1, vlanMode: l2}
  cidr:
  - {netAddress: 10.0.1.0/24, interfaceIndex: 0, vlanCIDR: 10.60.0.0/17, hosts: [{hostIndex: 0, hostName: bench, interfaceName: eth1, hostIP: 10.0.1.1, podCIDR: 10.60.0.0/18}]}
  - {netAddress: 10.0.2.0/24, interfaceIndex: 1, vlanCIDR: 10.60.128.0/17, hosts: [{hostIndex: 0, hostName: bench, interfaceName: eth2, hostIP: 10.0.2.1, podCIDR: 10.60.128.0/18}]}
`;
    writeFileSync(join(dir, 'state.yaml'), state);
    const sock = join(dir, 'agent.sock');

    const bare = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    children.push(bare);
    const nodeArgs = (process.env.AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const agent = spawn('ip', ['netns', 'exec', NS, process.execPath, ...nodeArgs, agentJs, 'run', '--node', 'bench', '--socket', sock, '--state-file', join(dir, 'state.yaml'), '--data-dir', join(dir, 'data'), '--rt-tables', join(dir, 'rt_tables')], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(agent);
    const keep = new Agent({ keepAlive: true, maxSockets: CONC });
    for (let i = 0; ; i++) {
      const ok = await call(sock, 'GET', '/v1/healthz', undefined, keep).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (i > 200) throw new Error('agent did not start');
      await sleep(50);
    }
    await sleep(2000);
    const idle = { agent: rssMiB(agent.pid as number), bare: rssMiB(bare.pid as number) };
    const heap = async () => (JSON.parse((await call(sock, 'GET', '/v1/state', undefined, keep)).body) as { process?: { heapUsedMiB?: number } }).process?.heapUsedMiB;
    const idleHeap = await heap();

    const pod = (i: number) => ({ apiVersion: 'v1', network: 'bench', pod: { namespace: 'bench', name: `p${i}`, uid: `u${i}`, containerID: `c${i}`, ifName: 'net1' } });
    const alloc: number[] = [];
    const health: number[] = [];
    const rel: number[] = [];
    let held: { agent: number; heap?: number } = { agent: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      health.push(await drive(PODS, async () => {
        const res = await call(sock, 'GET', '/v1/healthz', undefined, keep);
        if (res.status !== 200) throw new Error(res.body);
      }));
      alloc.push(await drive(PODS, async (i) => {
        const res = await call(sock, 'POST', '/v1/allocate', pod(i), keep);
        if (res.status !== 200) throw new Error(res.body);
      }));
      if (r === ROUNDS - 1) {
        await sleep(500);
        held = { agent: rssMiB(agent.pid as number), heap: await heap() };
      }
      rel.push(await drive(PODS, async (i) => {
        const res = await call(sock, 'POST', '/v1/release', pod(i), keep);
        if (res.status !== 200) throw new Error(res.body);
      }));
    }
    const nics = 2;
    const report = {
      pods: PODS,
      rounds: ROUNDS,
      concurrency: CONC,
      rssMiB: { bareNodeIdle: round(idle.bare), agentIdle: round(idle.agent), agentWithAllocations: round(held.agent), agentHeapUsedIdle: idleHeap, agentHeapUsedWithAllocations: held.heap, idleVsBareNode: round(idle.agent / idle.bare) },
      perSecond: {
        healthzBaseline: Math.round(median(health)),
        allocateRequests: Math.round(median(alloc)),
        durableAddresses: Math.round(median(alloc) * nics),
        releaseRequests: Math.round(median(rel)),
        allocateVsHealthz: round(median(alloc) / median(health)),
      },
      goals: { rssIdleMiB: 60, rssHeldMiB: 80, durableAllocationsPerSecond: 2000 },
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    keep.destroy();
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await sleep(300);
    await run('ip', ['netns', 'del', NS]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 100) / 100;
await main();
