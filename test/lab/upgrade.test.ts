// A rolling upgrade of the agent DaemonSet under a stream of pod attachments, in the lab: 3 hosts
// x 2 NICs (network namespaces, bridge fabrics), the API stand-in, the lab's DaemonSet player
// (src/lab/agents.ts) running the real agents, and this test playing kubelet + Multus: it creates
// pods bound to the hosts and runs the real `multi-nic` CNI executable (real macvlan L3 with the
// agent's shims) for their ADD and DEL, retrying exactly what the kubelet retries (a failed
// sandbox creation, a failed StopPodSandbox). While the stream runs, the DaemonSet's pod template
// changes and the agents roll one host at a time. Afterwards: every ADD and DEL succeeded, at once
// or on a retry the runtime makes; the pods that ran through the roll kept their interfaces; the
// journals and IPPools hold exactly the live pods' addresses; no route to another live host was
// deleted on any host during the roll (`ip monitor route`); the shims are the same links.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/kube/client.js';
import type { KubeApi } from '../../src/kube/api.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { R } from '../../src/lib/k8s/resources.js';
import { labTopology, type LabTopology } from '../../src/lib/lab/topology.js';
import { createLabNetwork, destroyLabNetwork } from '../../src/lab/network.js';
import { startApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import { LabAgents, ensureHostCniDir, labAgentSocket, labHostCniDir, labHostDir } from '../../src/lab/agents.js';
import { labCniPath, registerLabNodes } from '../../src/lab/supervisor.js';
import { type LabState, agentArgv, labStatePath } from '../../src/lab/lab.js';
import { CommandError, run } from '../../src/host/exec.js';
import { cniArgsFor, networkStatusFromResult } from '../../src/lib/multus.js';
import { listCidrViews } from '../../src/cluster/cidr-view.js';
import { isAgentDaemonSet } from '../../src/cluster/snapshot.js';
import { rolloutMessage } from '../../src/lib/lab/rollout.js';
import { openIpamStore } from '../../src/agent/ipam/store.js';
import type { IPPoolSpec } from '../../src/lib/crds/types.gen.js';
import { repoRoot, runCliAsync } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { hasCniPlugins, privileged } from '../helpers/privileged.js';

const prefix = 'up';
const ready = privileged.ok && hasCniPlugins;
const why = !privileged.ok ? privileged.reason : 'needs containernetworking-plugins in /usr/lib/cni';
const NETWORK = 'multi-nic-sample';
/** CNI error code 11: "try again later" (CNI spec), what the plugin answers while the agent is away. */
const TRY_AGAIN_LATER = 11;

let dir = '';
let topology: LabTopology;
let kube: KubeApi;
let agents: LabAgents;
let server: Awaited<ReturnType<typeof startApiServer>>;
let kubeconfig = '';
const cli = (args: string[], timeoutMs = 180_000) => runCliAsync([...args, '--kubeconfig', kubeconfig], { timeoutMs });

/** One CNI call of the stream: what it was, how many tries it took and why the failed ones failed. */
interface CallRecord {
  verb: 'ADD' | 'DEL';
  pod: string;
  host: string;
  tries: number;
  failures: Array<{ code?: number; msg: string }>;
  ok: boolean;
  /** DEL went on without the agent (it logs so): its addresses stay held until leak GC. */
  withoutAgent: boolean;
  /** DEL found the agent away and waited for the new one (src/cni/plugin.ts DEFAULT_AGENT_WAIT_MS). */
  waited: boolean;
  /** With withoutAgent: what the plugin logged (why it did not wait). */
  said?: string;
}

interface StreamPod {
  name: string;
  uid: string;
  host: string;
  netns: string;
  containerID: string;
}

async function nad(): Promise<Record<string, unknown>> {
  const n = await kube.get<KubeObject & { spec?: { config?: string } }>(R.NetworkAttachmentDefinition, NETWORK, 'default');
  if (!n?.spec?.config) throw new Error('NAD not there yet');
  return { ...(JSON.parse(n.spec.config) as Record<string, unknown>), name: NETWORK };
}

/** Runs the multi-nic executable in the host's netns as Multus does; the CNI error code on failure. */
async function cniCall(verb: 'ADD' | 'DEL', p: StreamPod, config: Record<string, unknown>): Promise<{ ok: true; result: unknown; stderr: string } | { ok: false; code?: number; msg: string; stderr: string }> {
  const host = topology.hosts.find((h) => h.name === p.host)!;
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: verb,
    CNI_CONTAINERID: p.containerID,
    CNI_NETNS: `/run/netns/${p.netns}`,
    CNI_IFNAME: 'net1',
    CNI_PATH: labHostCniDir(join(dir, 'lab'), p.host),
    CNI_ARGS: cniArgsFor({ namespace: 'default', name: p.name, uid: p.uid, containerID: p.containerID }),
    MULTINIC_AGENT_SOCKET: labAgentSocket(join(dir, 'lab'), p.host),
  };
  try {
    const { stdout, stderr } = await run('ip', ['netns', 'exec', host.netns, join(repoRoot, 'bin', 'multi-nic')], { input: JSON.stringify(config), env, timeoutMs: 60_000 });
    return { ok: true, result: stdout.trim() ? JSON.parse(stdout) : {}, stderr };
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    try {
      const err = JSON.parse(e.stdout) as { code?: number; msg?: string };
      return { ok: false, ...(err.code !== undefined ? { code: err.code } : {}), msg: err.msg ?? e.stderr, stderr: e.stderr };
    } catch {
      return { ok: false, msg: e.stderr.trim() || e.message, stderr: e.stderr };
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The kubelet's retries: a sandbox whose ADD failed is created again (here only after TryAgainLater;
 * any other failure ends the attempt and fails the test), a DEL that failed is retried (StopPodSandbox
 * is retried until it succeeds). 60 s at most per call.
 */
async function withRetries(verb: 'ADD' | 'DEL', p: StreamPod, config: Record<string, unknown>): Promise<{ rec: CallRecord; result?: unknown }> {
  const rec: CallRecord = { verb, pod: p.name, host: p.host, tries: 0, failures: [], ok: false, withoutAgent: false, waited: false };
  const deadline = Date.now() + 60_000;
  for (;;) {
    rec.tries++;
    const r = await cniCall(verb, p, config);
    if (r.ok) {
      rec.ok = true;
      rec.withoutAgent = verb === 'DEL' && /deleting interfaces anyway|the agent releases the addresses/.test(r.stderr);
      rec.waited = verb === 'DEL' && /waiting up to \d+ s for it to come back/.test(r.stderr);
      if (rec.withoutAgent) rec.said = r.stderr.trim().slice(0, 600);
      return { rec, result: r.result };
    }
    rec.failures.push({ ...(r.code !== undefined ? { code: r.code } : {}), msg: r.msg });
    const retryable = verb === 'DEL' || r.code === TRY_AGAIN_LATER;
    if (!retryable || Date.now() > deadline) return { rec };
    await sleep(300);
  }
}

async function addPod(name: string, host: string, config: Record<string, unknown>, log: CallRecord[]): Promise<StreamPod | undefined> {
  const created = await kube.create(R.Pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': NETWORK } },
    spec: { nodeName: host, containers: [{ name: 'main', image: 'lab' }] },
  });
  const uid = (created.metadata as { uid?: string }).uid!;
  const p: StreamPod = { name, uid, host, netns: `${prefix}-p${uid.replace(/-/g, '').slice(0, 10)}`, containerID: uid.replace(/-/g, '').padEnd(64, '0') };
  await run('ip', ['netns', 'add', p.netns]);
  const { rec, result } = await withRetries('ADD', p, config);
  log.push(rec);
  if (!rec.ok) return p;
  const status = networkStatusFromResult(`default/${NETWORK}`, result as never);
  await kube.patch(R.Pod, name, { metadata: { annotations: { 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([status]) } } }, { namespace: 'default' });
  await kube.patch(R.Pod, name, { status: { phase: 'Running' } }, { namespace: 'default', subresource: 'status' });
  return p;
}

async function delPod(p: StreamPod, config: Record<string, unknown>, log: CallRecord[]): Promise<void> {
  const { rec } = await withRetries('DEL', p, config);
  log.push(rec);
  await run('ip', ['netns', 'del', p.netns]).catch(() => undefined);
  await kube.delete(R.Pod, p.name, 'default');
}

/** The pod's interfaces as `name address/prefix`, sorted. */
function podAddrs(netns: string): string[] {
  const links = JSON.parse(execFileSync('ip', ['-n', netns, '-j', 'addr', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string; addr_info?: Array<{ local: string; prefixlen: number; family: string }> }>;
  return links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet' && l.ifname !== 'lo').map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`)).sort();
}

/** The host's shims (macvlan links named mnshim*) as `name ifindex`. */
function shims(netns: string): string[] {
  const links = JSON.parse(execFileSync('ip', ['-n', netns, '-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string; ifindex: number }>;
  return links.filter((l) => l.ifname.startsWith('mnshim')).map((l) => `${l.ifname} ${l.ifindex}`).sort();
}

/** Every route of every table on the host, one line each, sorted. */
function routes(netns: string): string[] {
  return execFileSync('ip', ['-n', netns, 'route', 'show', 'table', 'all'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim() && !/^(local|broadcast|multicast) /.test(l) && !/ table local /.test(l))
    .sort();
}

describe.skipIf(!ready)(`rolling agent upgrade under a stream of ADD/DEL${ready ? '' : ` (skipped: ${why})`}`, () => {
  beforeAll(async () => {
    await destroyLabNetwork(prefix);
    dir = mkdtempSync(join(tmpdir(), 'mn-upgrade-'));
    const labDir = join(dir, 'lab');
    topology = labTopology({ prefix, hosts: 3, nics: 2, ipv6: false });
    await createLabNetwork(topology);
    server = await startApiServer({ host: topology.mgmtGateway, port: 0 });
    kubeconfig = join(labDir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, server.url);
    kube = await connect({ kubeconfig });
    await registerLabNodes(kube, topology);
    const cniPath = labCniPath();
    for (const h of topology.hosts) ensureHostCniDir(labDir, h.name, cniPath);
    // The state `lab status` reads (the supervisor writes it; here the test is the supervisor).
    const state: LabState = { apiVersion: 'multinic.fms.io/v1', kind: 'LabState', prefix, dir: labDir, kubeconfig, server: server.url, supervisorPid: process.pid, startedAt: new Date().toISOString(), topology };
    writeFileSync(labStatePath(labDir), JSON.stringify(state));
    agents = new LabAgents({ kube, topology, dir: labDir, kubeconfig, agent: agentArgv(), cniPathFor: (host) => [labHostCniDir(labDir, host)] });
    agents.start();
    const inst = await cli(['install', '--wait', '--timeout', '120s']);
    expect(inst.code, inst.stderr).toBe(0);
    const applied = await cli(['apply', '-f', join(repoRoot, 'examples/lab-network.yaml'), '--timeout', '120s']);
    expect(applied.code, applied.stderr).toBe(0);
    await eventually(nad, 30_000, 200);
  }, 400_000);

  afterAll(async () => {
    await agents?.stop();
    await server?.close();
    await destroyLabNetwork(prefix);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('rolls every agent one host at a time while ADD and DEL go on, losing nothing', async () => {
    const config = await nad();
    const log: CallRecord[] = [];
    const hosts = topology.hosts.map((h) => h.name);
    // Pods that run through the whole roll: their interfaces must not change.
    const steady: StreamPod[] = [];
    for (const h of hosts) {
      const p = await addPod(`steady-${h}`, h, config, log);
      expect(p && log.at(-1)?.ok, JSON.stringify(log.at(-1))).toBe(true);
      steady.push(p!);
    }
    const steadyBefore = steady.map((p) => podAddrs(p.netns));
    expect(steadyBefore.every((a) => a.length === 2), JSON.stringify(steadyBefore)).toBe(true);
    const shimsBefore = hosts.map((_, i) => shims(topology.hosts[i]!.netns));
    expect(shimsBefore.every((s) => s.length === 2), JSON.stringify(shimsBefore)).toBe(true);
    const routesBefore = topology.hosts.map((h) => routes(h.netns));
    // Other hosts' pod blocks per host: what `ip monitor route` must never show deleted.
    const views = await listCidrViews(kube);
    const blocks = views.flatMap((v) => v.spec.cidr.flatMap((c) => c.hosts.map((hh) => ({ host: hh.hostName, podCIDR: hh.podCIDR }))));
    expect(blocks.length).toBe(6);

    const monitors: Array<{ host: string; proc: ChildProcess; out: string[] }> = topology.hosts.map((h) => {
      const proc = spawn('ip', ['-n', h.netns, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: string[] = [];
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (c: string) => out.push(...c.split('\n').filter(Boolean)));
      return { host: h.name, proc, out };
    });

    // The stream: per host, keep two pods, replacing the oldest each round (a DEL and an ADD).
    let streaming = true;
    let n = 0;
    const live = new Map<string, StreamPod[]>(hosts.map((h) => [h, []]));
    const stream = Promise.all(
      hosts.map(async (h) => {
        const mine = live.get(h)!;
        while (streaming) {
          const p = await addPod(`s-${h}-${n++}`, h, config, log);
          if (p) mine.push(p);
          if (mine.length > 2) await delPod(mine.shift()!, config, log);
        }
      }),
    );
    await sleep(3000);
    const callsBeforeRoll = log.length;

    // The upgrade: a new pod template (an env var and a new image tag, as a new release would be).
    const ds = (await kube.list(R.DaemonSet, {})).items.find(isAgentDaemonSet)!;
    const spec = ds.spec as { template: { spec: { containers: Array<{ name: string; image: string; env?: Array<{ name: string; value?: string }> }> } } };
    const agent = spec.template.spec.containers.find((c) => c.name === 'agent')!;
    agent.env = [...(agent.env ?? []), { name: 'MULTINIC_UPGRADE_TEST', value: '2' }];
    agent.image = agent.image.replace(/:[^:/]+$/, ':v0.1.1-test');
    const rollStart = Date.now();
    const replaced = await kube.replace(R.DaemonSet, ds);
    const rolloutsBefore = agents.rollouts.length;
    // kubectl's own rollout status against the stand-in, when kubectl is installed.
    const kubectl = (() => {
      try {
        execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    const rolloutStatus = kubectl
      ? runKubectl(['rollout', 'status', `daemonset/${replaced.metadata!.name!}`, '-n', replaced.metadata!.namespace!, '--timeout', '180s', '--kubeconfig', kubeconfig])
      : undefined;
    const done = await eventually(async () => {
      const cur = await kube.get(R.DaemonSet, replaced.metadata!.name!, replaced.metadata!.namespace!);
      const r = rolloutMessage(cur as never);
      if (!r.done) throw new Error(r.message);
      return r;
    }, 180_000, 500);
    const rollMs = Date.now() - rollStart;
    expect(done.message).toBe(`daemon set "${replaced.metadata!.name!}" successfully rolled out`);
    await sleep(3000);
    streaming = false;
    await stream;
    for (const m of monitors) m.proc.kill('SIGTERM');

    // `lab status` reports the finished rollout in kubectl's words.
    const st = await runCliAsync(['lab', 'status', '--prefix', prefix, '--dir', join(dir, 'lab')], { timeoutMs: 60_000 });
    expect(st.stdout).toContain(`agents (${replaced.metadata!.namespace!}/${replaced.metadata!.name!}): daemon set "${replaced.metadata!.name!}" successfully rolled out`);

    // One host at a time, in node order, each exactly once.
    const rolled = agents.rollouts.slice(rolloutsBefore);
    expect(rolled.map((r) => r.host)).toEqual(hosts);
    for (let i = 1; i < rolled.length; i++) expect(Date.parse(rolled[i]!.at)).toBeGreaterThan(Date.parse(rolled[i - 1]!.at));
    if (rolloutStatus) {
      const rs = await rolloutStatus;
      expect(rs.code, rs.out).toBe(0);
      expect(rs.out).toContain('successfully rolled out');
    }

    // Every call succeeded; the failed tries were all ones the runtime retries.
    const during = log.slice(callsBeforeRoll);
    expect(during.length).toBeGreaterThan(6);
    expect(log.filter((r) => !r.ok), JSON.stringify(log.filter((r) => !r.ok))).toEqual([]);
    const retried = log.filter((r) => r.failures.length > 0);
    for (const r of retried) {
      if (r.verb === 'ADD') expect(r.failures.map((f) => f.code), JSON.stringify(r)).toEqual(r.failures.map(() => TRY_AGAIN_LATER));
    }
    const summary = { calls: log.length, duringRoll: during.length, rollMs, retriedAdd: retried.filter((r) => r.verb === 'ADD').length, retriedDel: retried.filter((r) => r.verb === 'DEL').length, delWithoutAgent: log.filter((r) => r.withoutAgent).length, delWaitedForAgent: log.filter((r) => r.waited).length };
    console.log(`upgrade stream: ${JSON.stringify(summary)}; retried: ${JSON.stringify(retried.map((r) => ({ verb: r.verb, pod: r.pod, tries: r.tries, first: r.failures[0] })))}`);
    // No DEL went ahead without its agent (that would leave its addresses to the leak GC).
    expect(log.filter((r) => r.withoutAgent)).toEqual([]);

    // The steady pods kept their interfaces and addresses; the shims are the same links.
    expect(steady.map((p) => podAddrs(p.netns))).toEqual(steadyBefore);
    expect(topology.hosts.map((h) => shims(h.netns))).toEqual(shimsBefore);
    expect(topology.hosts.map((h) => routes(h.netns))).toEqual(routesBefore);

    // No route to another live host deleted on any host during the roll.
    for (const m of monitors) {
      const others = blocks.filter((b) => b.host !== m.host).map((b) => b.podCIDR);
      const deleted = m.out.filter((l) => l.startsWith('Deleted') && others.some((c) => l.includes(`${c} `)));
      expect(deleted, `${m.host}: ${m.out.filter((l) => l.startsWith('Deleted')).join('\n')}`).toEqual([]);
    }

    // IPPools (the published copy) hold exactly the live pods' addresses: one per pod per NIC.
    const livePods = [...steady, ...[...live.values()].flat()];
    const want = livePods.flatMap((p) => [`${p.host} ${p.name} eth1`, `${p.host} ${p.name} eth2`]).sort();
    await eventually(async () => {
      const pools = (await kube.list<KubeObject & { spec: IPPoolSpec }>(R.IPPool, {})).items;
      const got = pools.flatMap((pl) => pl.spec.allocations.map((a) => `${pl.spec.hostName} ${a.pod} ${pl.spec.interfaceName}`)).sort();
      expect(got).toEqual(want);
    }, 20_000, 500);

    // The journals (the truth) agree: stop the agents, read each host's store.
    await agents.stop();
    for (const h of topology.hosts) {
      const store = await openIpamStore({ dir: join(labHostDir(join(dir, 'lab'), h.name), 'data', 'ipam') });
      const held = store.list().map((a) => `${a.podName} ${a.interface}`).sort();
      await store.close();
      expect(held, h.name).toEqual(livePods.filter((p) => p.host === h.name).flatMap((p) => [`${p.name} net1-0`, `${p.name} net1-1`]).sort());
    }
  }, 420_000);
});

function runKubectl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('kubectl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    p.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}
