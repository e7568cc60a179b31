// Pods to Running on the lab (see run.sh). What ships: the built CLI installs the agent, the lab's
// node runner plays kubelet + Multus and calls the installed CNI executables, the reference plugins
// are Debian's. Baseline in the same run: 4 NADs of reference macvlan + host-local on the same 4 NICs,
// so a baseline pod makes 4 attachments where ours makes 1 with 4 NICs (what a user of each writes).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '../../src/kube/client.js';
import type { KubeApi } from '../../src/kube/api.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { R } from '../../src/lib/k8s/resources.js';
import type { LabTopology } from '../../src/lib/lab/topology.js';
import type { IPPool } from '../../src/lib/crds/types.gen.js';

const { values: a } = parseArgs({ options: { hosts: { type: 'string', default: '4' }, pods: { type: 'string', default: '64' }, rounds: { type: 'string', default: '3' }, prefix: { type: 'string', default: 'mnpods' }, 'timeout-s': { type: 'string', default: '180' } } });
const HOSTS = Number(a.hosts);
const PODS = Number(a.pods);
const ROUNDS = Number(a.rounds);
const TIMEOUT_MS = Number(a['timeout-s']) * 1000;
const NICS = 4;
if (![HOSTS, PODS, ROUNDS].every((n) => Number.isInteger(n) && n > 0)) throw new Error('--hosts, --pods and --rounds take positive integers');
if (!/^[a-z][a-z0-9]{0,7}$/.test(a.prefix!)) throw new Error('--prefix: 1-8 lower-case letters and digits, starting with a letter');
const log = (s: string): void => void process.stderr.write(`${s}\n`);
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'mn-bench-pods-'));
const labDir = join(dir, 'lab');
const cli = (args: string[], timeoutMs = 300_000): string => execFileSync(process.execPath, ['bin/kubectl-multinic', ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'inherit'] });
const podNetns = (): number => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => l.startsWith(`${a.prefix}-p`)).length;

type Pod = KubeObject & { status?: { phase?: string; message?: string } };

/** Creates `n` pods (spread over the hosts, or `perHost` on each) asking for `networks`, all at once; waits until each runs or fails. */
async function round(kube: KubeApi, topo: LabTopology, name: string, networks: string, n: number): Promise<{ ms: number; running: number; failed: string[] }> {
  const names = Array.from({ length: n }, (_, i) => `${name}-${i}`);
  const t0 = performance.now();
  await Promise.all(names.map((p, i) => kube.create(R.Pod, { apiVersion: 'v1', kind: 'Pod', metadata: { name: p, namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': networks } }, spec: { nodeName: topo.hosts[i % topo.hosts.length]!.name, containers: [{ name: 'main', image: 'lab', command: ['sleep', '3600'] }] } })));
  let pods: Pod[];
  for (;;) {
    pods = (await kube.list<Pod>(R.Pod, { namespace: 'default' })).items.filter((p) => p.metadata?.name?.startsWith(`${name}-`));
    const settled = pods.filter((p) => p.status?.phase === 'Running' || p.status?.phase === 'Failed').length;
    if (settled === n || performance.now() - t0 > TIMEOUT_MS) break;
    await sleep(50);
  }
  const ms = performance.now() - t0;
  const running = pods.filter((p) => p.status?.phase === 'Running').length;
  const failed = pods.filter((p) => p.status?.phase !== 'Running').map((p) => `${p.metadata?.name}: ${p.status?.phase ?? 'no phase'} ${p.status?.message ?? ''}`.trim());
  await Promise.all(names.map((p) => kube.delete(R.Pod, p, 'default').catch(() => undefined)));
  // The next round starts on a clean lab: every pod netns gone (the runner's CNI DEL done).
  const t1 = performance.now();
  while (podNetns() > 0 && performance.now() - t1 < TIMEOUT_MS) await sleep(100);
  if (podNetns() > 0) throw new Error(`${podNetns()} pod network namespaces still there ${TIMEOUT_MS / 1000}s after deleting the pods of ${name}`);
  return { ms, running, failed };
}

async function main(): Promise<void> {
  log(`bench/pods: ${HOSTS} hosts x ${NICS} NICs, ${PODS} pods x ${NICS} NICs, ${ROUNDS} rounds each; load ${load()}`);
  cli(['lab', 'down', '--prefix', a.prefix!, '--dir', labDir]);
  const up = JSON.parse(cli(['lab', 'up', '--prefix', a.prefix!, '--hosts', String(HOSTS), '--nics', String(NICS), '--dir', labDir, '-o', 'json'])) as { kubeconfig: string };
  const kc = ['--kubeconfig', up.kubeconfig];
  const topo = (JSON.parse(readFileSync(join(labDir, 'lab.json'), 'utf8')) as { topology: LabTopology }).topology;
  const kube = await connect({ kubeconfig: up.kubeconfig });
  cli(['install', '--wait', '--timeout', '120s', ...kc]);
  const nets = topo.hosts[0]!.nics.map((n) => n.network);
  // Ours: the lab network over the 4 NICs; "exact": /28 pod blocks (14 addresses), filled exactly.
  const network = (name: string, subnet: string, masterNets: string[]) => `apiVersion: multinic.fms.io/v1
kind: MultiNicNetwork
metadata: {name: ${name}}
spec:
  subnet: "${subnet}"
  ipam: '{"type": "multi-nic-ipam", "hostBlock": 6, "interfaceBlock": 2, "vlanMode": "l3"}'
  multiNICIPAM: true
  masterNets: [${masterNets.join(', ')}]
  plugin: {cniVersion: "0.3.0", type: macvlan, args: {mode: bridge}}
  attachPolicy: {strategy: none}
`;
  writeFileSync(join(dir, 'nets.yaml'), `${network('bench-ours', '192.168.0.0/16', nets)}---\n${network('bench-exact', '172.28.0.0/20', nets)}`);
  cli(['apply', '-f', join(dir, 'nets.yaml'), '--timeout', '180s', ...kc]);
  // Baseline: one NAD per NIC, the reference plugins as a user would write them (host-local state under the bench dir).
  for (const [k, nic] of topo.hosts[0]!.nics.entries()) {
    const config = { cniVersion: '0.3.1', name: `bench-base-${k}`, type: 'macvlan', master: nic.name, mode: 'bridge', ipam: { type: 'host-local', subnet: `172.29.${k}.0/24`, dataDir: join(dir, 'host-local') } };
    await kube.create(R.NetworkAttachmentDefinition, { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: `bench-base-${k}`, namespace: 'default' }, spec: { config: JSON.stringify(config) } });
  }
  const baseNets = topo.hosts[0]!.nics.map((_, k) => `bench-base-${k}`).join(',');
  const ours: number[] = [];
  const base: number[] = [];
  const failures: string[] = [];
  // One warm-up pair, not counted (first exec of each plugin, page cache).
  await round(kube, topo, 'warm-ours', 'bench-ours', HOSTS);
  await round(kube, topo, 'warm-base', baseNets, HOSTS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [kind, nets2, into] of [['ours', 'bench-ours', ours], ['base', baseNets, base]] as const) {
      const res = await round(kube, topo, `${kind}${r}`, nets2, PODS);
      into.push(res.ms);
      failures.push(...res.failed.map((f) => `${kind}: ${f}`));
      log(`round ${r + 1} ${kind}: ${PODS} pods Running in ${(res.ms / 1000).toFixed(2)} s (${res.running}/${PODS}); load ${load()}`);
    }
  }
  // Exactly as many addresses as pods: every pool of bench-exact is full at the end.
  const pools = (await kube.list<IPPool>(R.IPPool)).items.filter((p) => p.spec.netAttachDef === 'bench-exact');
  const perHost = Math.min(...pools.map((p) => (p.status as { capacity?: number } | undefined)?.capacity ?? 0));
  const exactN = perHost * HOSTS;
  const exact = await (async () => {
    const names = Array.from({ length: exactN }, (_, i) => `exact-${i}`);
    const t0 = performance.now();
    await Promise.all(names.map((p, i) => kube.create(R.Pod, { apiVersion: 'v1', kind: 'Pod', metadata: { name: p, namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': 'bench-exact' } }, spec: { nodeName: topo.hosts[i % HOSTS]!.name, containers: [{ name: 'main', image: 'lab', command: ['sleep', '3600'] }] } })));
    let running: number;
    let failed: string[];
    for (;;) {
      const pods = (await kube.list<Pod>(R.Pod, { namespace: 'default' })).items.filter((p) => p.metadata?.name?.startsWith('exact-'));
      running = pods.filter((p) => p.status?.phase === 'Running').length;
      failed = pods.filter((p) => p.status?.phase === 'Failed').map((p) => `${p.metadata?.name}: ${p.status?.message ?? ''}`);
      if (running + failed.length === exactN || performance.now() - t0 > TIMEOUT_MS) break;
      await sleep(50);
    }
    const ms = performance.now() - t0;
    // The IPPool mirror is written asynchronously (paced): give it 20 s to show every pool full.
    let full: Array<{ name: string; used: number; capacity: number }> = [];
    for (const t1 = performance.now(); performance.now() - t1 < 20_000; await sleep(250)) {
      full = (await kube.list<IPPool>(R.IPPool)).items.filter((p) => p.spec.netAttachDef === 'bench-exact').map((p) => ({ name: p.metadata.name ?? '', ...(p.status as { used: number; capacity: number }) }));
      if (full.every((x) => x.used === x.capacity)) break;
    }
    for (const x of full.filter((f) => f.used !== f.capacity)) log(`pool ${x.name}: ${x.used}/${x.capacity} used`);
    return { ms, running, failed, full: full.every((x) => x.used === x.capacity), pools: full.length };
  })();
  const mo = median(ours);
  const mb = median(base);
  const ratio = mo / mb;
  console.log(`# pods to Running: ${HOSTS} lab hosts x ${NICS} NICs, ${PODS} pods x ${NICS} NICs created at once, median of ${ROUNDS} alternating rounds; load at the end ${load()}`);
  console.log('| measure | ours (1 multi-nic attachment, 4 NICs) | baseline (4 x macvlan + host-local) | ratio | goal | verdict |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| ${PODS} pods x 4 NICs to Running | ${(mo / 1000).toFixed(2)} s (${ours.map((x) => (x / 1000).toFixed(2)).join(', ')}) | ${(mb / 1000).toFixed(2)} s (${base.map((x) => (x / 1000).toFixed(2)).join(', ')}) | ${ratio.toFixed(2)}x | <= 1.5x, 0 failures | ${ratio <= 1.5 && failures.length === 0 ? 'met' : 'NOT met'} |`);
  console.log(`| exactly as many addresses as pods: ${exactN} pods on ${exact.pools} pools of ${perHost} | ${(exact.ms / 1000).toFixed(2)} s, ${exact.running}/${exactN} Running, every pool full: ${exact.full} | | | 0 failures | ${exact.running === exactN && exact.full ? 'met' : 'NOT met'} |`);
  for (const f of [...failures, ...exact.failed].slice(0, 10)) console.log(`# failed: ${f}`);
  await Promise.all(Array.from({ length: exactN }, (_, i) => kube.delete(R.Pod, `exact-${i}`, 'default').catch(() => undefined)));
}

try {
  await main();
} finally {
  try {
    cli(['lab', 'down', '--prefix', a.prefix!, '--dir', labDir]);
  } catch (e) {
    log(`lab down failed: ${(e as Error).message}`);
  }
  rmSync(dir, { recursive: true, force: true });
}
