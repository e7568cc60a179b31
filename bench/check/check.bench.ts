// check benchmark on a running lab (`kubectl multinic lab up` + install + a network applied):
//   1. pod<->pod iperf3 on one NIC (through `check`'s own pods, runner and CNI) against host<->host
//      iperf3 between the same two lab hosts on the same fabric NIC — goal >= 0.85x;
//   2. both NICs of the pair at once against one NIC, pods — goal >= 1.4x (2 cores) — with the
//      same ratio for hosts as the fabric's own ceiling.
// Baseline and candidate run interleaved in the same run (host, pod, host-both, pod-both) x runs;
// figures are medians; only ratios are claimed. Prints one JSON object on stdout.
//   bash bench/check/run.sh [--dir LABDIR] [--network NAME] [--duration 5] [--runs 3] [--parallel 1]
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { gatherNetworks } from '../../src/check/gather.js';
import { runCheck } from '../../src/check/run.js';
import { start } from '../../src/host/exec.js';
import { parseIperf3Client, parseIperf3Server } from '../../src/lib/check/iperf3.js';
import { planCheck } from '../../src/lib/check/plan.js';
import type { CheckOptions } from '../../src/lib/check/types.js';
import type { LabHost, LabTopology } from '../../src/lib/lab/topology.js';
import { connect } from '../../src/kube/client.js';

const { values: a } = parseArgs({
  options: {
    dir: { type: 'string', default: `${process.env.TMPDIR ?? '/tmp'}/kubectl-multinic-lab/mnlab` },
    network: { type: 'string' },
    duration: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    parallel: { type: 'string', default: '1' },
  },
});
const duration = Number(a.duration);
const runs = Number(a.runs);
const parallel = Number(a.parallel);
const log = (s: string): void => void process.stderr.write(`${s}\n`);
const median = (xs: number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((x, y) => x - y);
  if (!s.length) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const r2 = (n: number): number => Math.round(n * 100) / 100;

const state = JSON.parse(readFileSync(`${a.dir}/lab.json`, 'utf8')) as { kubeconfig: string; topology: LabTopology };
const [h1, h2] = state.topology.hosts as [LabHost, LabHost];
if (!h1 || !h2) throw new Error('the lab needs at least 2 hosts');
const api = await connect({ kubeconfig: state.kubeconfig });
const networks = (await gatherNetworks(api, a.network ? [a.network] : [])).filter((n) => n.nics.length >= 2);
const net = networks[0];
if (!net) throw new Error('no network with 2 NICs in the lab: apply one first');
log(`bench/check: lab ${a.dir}, network ${net.name}, ${h1.name} -> ${h2.name}, ${duration}s x ${runs} runs, -P ${parallel}`);

/** host<->host iperf3 on the given NIC indexes at once (lab host netns, bound like check's pods). */
async function hostRun(nics: number[]): Promise<number[]> {
  const pairs = nics.map((i, k) => ({ c: h1.nics[i]!, s: h2.nics[i]!, port: 5301 + k }));
  const servers = pairs.map((p) => start('iperf3', ['-s', '-p', String(p.port), '-1', '--forceflush', '-B', p.s.ipv4], { netns: { name: h2.netns } }));
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          let out = '';
          s.stdout?.on('data', (d: Buffer) => {
            out += d.toString();
            if (parseIperf3Server(out).listening) resolve();
          });
          setTimeout(resolve, 3000);
        }),
    ),
  );
  const results = await Promise.all(
    pairs.map(
      (p) =>
        new Promise<number>((resolve) => {
          const c = start('iperf3', ['-c', p.s.ipv4, '-p', String(p.port), '-B', p.c.ipv4, '--bind-dev', p.c.name, '-t', String(duration), '-P', String(parallel), '-J'], { netns: { name: h1.netns } });
          let out = '';
          c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
          c.on('close', () => {
            const r = parseIperf3Client(out);
            resolve(r.ok ? r.receivedBps / 1e9 : Number.NaN);
          });
        }),
    ),
  );
  for (const s of servers) if (s.exitCode === null) s.kill();
  return results;
}

/** pod<->pod through check's own orchestration on the given NIC indexes at once. */
async function podRun(nics: number[]): Promise<number[]> {
  const opts: CheckOptions = {
    networks: [net!.name], nodes: [h1.name, h2.name], pairs: 'all', duration, parallel, concurrency: 1, tolerance: 0.2,
    test: `${net!.name}/${h1.name}->${h2.name}/nic${nics.length === 1 ? nics[0] : '*'}`,
    image: 'lab', portBase: 5201, namespace: 'default', keepPods: false,
  };
  const out = await runCheck(api, planCheck([net!], opts), opts, { timings: { pollMs: 200 } });
  const bad = out.results.filter((r) => r.status !== 'pass' && r.cause !== 'slow');
  // A failed pod run is reported and dropped from the medians, not turned into a 0 figure.
  if (bad.length) log(`pod run failed (sample dropped): ${bad.map((r) => `${r.id}: ${r.summary}`).join('; ')}`);
  if (bad.length) return nics.map(() => Number.NaN);
  return out.results.filter((r) => nics.includes(r.nicIndex)).map((r) => r.gbps ?? Number.NaN);
}

const host1: number[] = [];
const pod1: number[] = [];
const host2: number[] = [];
const pod2: number[] = [];
for (let r = 0; r < runs; r++) {
  host1.push(...(await hostRun([0])));
  pod1.push(...(await podRun([0])));
  host2.push((await hostRun([0, 1])).reduce((x, y) => x + y, 0));
  pod2.push((await podRun([0, 1])).reduce((x, y) => x + y, 0));
  log(`run ${r + 1}: host 1 NIC ${r2(host1.at(-1)!)}, pod 1 NIC ${r2(pod1.at(-1)!)}, host 2 NICs ${r2(host2.at(-1)!)}, pod 2 NICs ${r2(pod2.at(-1)!)} Gbit/s`);
}
const result = {
  bench: 'check',
  network: net.name,
  pair: `${h1.name}->${h2.name}`,
  duration,
  parallel,
  runs,
  gbps: { host1Nic: r2(median(host1)), pod1Nic: r2(median(pod1)), host2Nics: r2(median(host2)), pod2Nics: r2(median(pod2)) },
  ratios: {
    podVsHost1Nic: r2(median(pod1) / median(host1)),
    pod2NicsVs1Nic: r2(median(pod2) / median(pod1)),
    host2NicsVs1Nic: r2(median(host2) / median(host1)),
  },
  goals: { podVsHost1Nic: 0.85, pod2NicsVs1Nic: 1.4 },
  // The machine is shared: figures only mean something next to the load they were taken under.
  machine: { cpus: cpus().length, loadavg1mAtEnd: r2(loadavg()[0] ?? 0) },
  samples: { host1, pod1, host2, pod2 },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
log(`pod/host (1 NIC): ${result.ratios.podVsHost1Nic}x (goal >= 0.85); 2 NICs/1 NIC: pods ${result.ratios.pod2NicsVs1Nic}x (goal >= 1.4), hosts ${result.ratios.host2NicsVs1Nic}x`);
