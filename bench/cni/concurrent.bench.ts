// 100 pods × 4 NICs ADDed concurrently on one host: `multi-nic` (one ADD per pod, the agent
// allocating all four addresses, four macvlan delegates) against the same pods on four single-NIC
// networks (macvlan + host-local, the four ADDs of a pod one after another as Multus runs them, the
// pods concurrent). Reported per variant: total wall time (first start to last exit) and the per-pod
// ADD latency p50/p99. Variants alternate per round; every pod is DELeted (untimed) between rounds.
//
//   bash bench/cni/run.sh concurrent [--pods 100] [--rounds 3] [--plugin build/cni/multi-nic] [--agent real|fake]
// The plugin is the shipped executable; the real agent runs as deployed (see host.ts).
// Needs root, /usr/lib/cni and the built plugin. Prints a JSON report (also build/bench/cni-concurrent-<agent>.json).
import { cpus, loadavg } from 'node:os';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BenchHost, cniDir, must, quantile, sh } from './host.js';
import { verdict } from '../lib/deployed.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const pods = Number(opt('pods', '100'));
const rounds = Number(opt('rounds', '3'));
const agentKind = opt('agent', 'real');
if (agentKind !== 'fake' && agentKind !== 'real') throw new Error(`--agent must be fake or real, not ${agentKind}`);
if (!Number.isInteger(pods) || pods < 1 || pods > 240) throw new Error(`--pods must be 1..240 (each host NIC's pod block is a /24), not ${opt('pods', '')}`);
const plugin = resolve(opt('plugin', 'build/cni/multi-nic'));
if (!existsSync(plugin)) throw new Error(`bench/cni: ${plugin} missing: build the shipped executable first (make cni)`);
const tag = `mncc${process.pid % 1000}`;
const bed = new BenchHost(tag, agentKind);
const podNs = (i: number) => `${tag}p${i}`;

interface RoundResult {
  totalMs: number;
  latencies: number[];
}

/** Starts every pod's ADD at once (each in the host netns, one wrapper per pod for both variants). */
async function round(variant: 'ours' | 'baseline', r: number): Promise<RoundResult> {
  const t0 = process.hrtime.bigint();
  const runs = Array.from({ length: pods }, (_, i) => {
    const id = `${variant}${r}x${i}`;
    const env = bed.env('ADD', id, `/run/netns/${podNs(i)}`, 'net1');
    const script = variant === 'ours' ? `exec ${plugin} < ${bed.dir}/ours.json > /dev/null` : bed.baselineScript();
    return sh('ip', ['netns', 'exec', bed.HOST, 'sh', '-c', script], { env }).then((res) => {
      if (res.code !== 0) throw new Error(`${variant} ADD of pod ${i} failed: ${res.stdout} ${res.stderr}\n${bed.agentLog.slice(-2000)}`);
      return res.ms;
    });
  });
  const latencies = await Promise.all(runs);
  const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
  // Untimed cleanup, a few pods at a time.
  for (let i = 0; i < pods; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, pods - i) }, async (_, k) => {
        const p = i + k;
        const id = `${variant}${r}x${p}`;
        if (variant === 'ours') {
          const d = await sh('ip', ['netns', 'exec', bed.HOST, plugin], { env: bed.env('DEL', id, `/run/netns/${podNs(p)}`, 'net1'), input: JSON.stringify(bed.ours) });
          if (d.code !== 0) throw new Error(`multi-nic DEL failed: ${d.stdout}`);
        } else {
          for (const [n, conf] of bed.baseline.entries()) {
            await sh('ip', ['netns', 'exec', bed.HOST, join(cniDir, 'macvlan')], { env: bed.env('DEL', id, `/run/netns/${podNs(p)}`, `net${n + 1}`), input: JSON.stringify(conf) });
          }
        }
      }),
    );
  }
  return { totalMs, latencies };
}

const results: Record<'ours' | 'baseline', RoundResult[]> = { ours: [], baseline: [] };
const load: number[][] = [loadavg()];
try {
  await bed.up();
  for (let i = 0; i < pods; i++) await must('ip', ['netns', 'add', podNs(i)]);
  // Warm-up (page cache, the agent's JIT): one round of each, not reported.
  for (const v of ['ours', 'baseline'] as const) await round(v, -1);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (['ours', 'baseline'] as const) : (['baseline', 'ours'] as const);
    for (const v of order) results[v].push(await round(v, r));
  }
} finally {
  load.push(loadavg());
  for (let i = 0; i < pods; i++) await sh('ip', ['netns', 'del', podNs(i)]);
  await bed.down();
}

const stat = (v: 'ours' | 'baseline') => {
  const totals = results[v].map((x) => x.totalMs);
  const lat = results[v].flatMap((x) => x.latencies);
  return {
    totalMedianMs: +quantile(totals, 0.5).toFixed(0),
    totalsMs: totals.map((t) => +t.toFixed(0)),
    podP50Ms: +quantile(lat, 0.5).toFixed(0),
    podP99Ms: +quantile(lat, 0.99).toFixed(0),
  };
};
const ours = stat('ours');
const base = stat('baseline');
const report = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'BenchReport',
  bench: `cni-concurrent-${agentKind}-agent`,
  pods,
  nicsPerPod: 4,
  rounds,
  cores: cpus().length,
  loadAverage: { start: load[0]!.map((x) => +x.toFixed(1)), end: load[1]!.map((x) => +x.toFixed(1)) },
  plugin,
  agent: agentKind === 'fake' ? 'fake (test/fakes/agent-server.ts)' : `real, as deployed (${bed.node} bin/multinic-agent run --kube, API stand-in)`,
  // Any failed ADD aborts the bench with its error, so a report means every ADD of every round succeeded.
  failures: 0,
  variants: {
    ours: { ...ours, note: `${pods} concurrent multi-nic ADDs (agent allocation + 4 macvlan delegates each)` },
    baseline: { ...base, note: `${pods} concurrent pods, each 4 x (macvlan + host-local) ADD in sequence` },
  },
  ratio: {
    totalOursVsBaseline: +(ours.totalMedianMs / base.totalMedianMs).toFixed(2),
    p99OursVsBaseline: +(ours.podP99Ms / base.podP99Ms).toFixed(2),
  },
  goals: [] as Array<{ figure: string; goal: number; value: number; verdict: string }>,
};
for (const [figure, value] of Object.entries(report.ratio)) report.goals.push({ figure: `ratio.${figure}`, goal: 1.5, value, verdict: verdict(value, 1.5) });
mkdirSync('build/bench', { recursive: true });
writeFileSync(`build/bench/cni-concurrent-${agentKind}.json`, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
