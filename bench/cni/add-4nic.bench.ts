// One pod, 4 NICs: wall time and CPU of one `multi-nic` ADD and DEL (agent allocate/release + 4
// macvlan delegates with static IPAM) against what four single-NIC networks cost — 4 ADDs (DELs) of
// the reference macvlan with host-local, one after the other as Multus runs them. Same run,
// interleaved per iteration (order rotated), same pod-netns setup. Also measured: delegates in
// sequence (MULTINIC_CNI_SEQUENTIAL=1), to see whether running them in parallel helps.
// Everything runs inside one "host" netns holding the 4 NICs (veths into a fabric netns). The plugin
// is the shipped executable (build/cni/multi-nic, make cni); the agent is the real one as deployed
// (Node 24, bin/multinic-agent run --kube against the API stand-in, journal fsync and IPPool mirror
// included) or, with --agent fake, test/fakes/agent-server.ts serving from this process.
// CPU is the plugin's process tree (timedIn) and, with the real agent, the agent's own CPU over the
// same window (BenchHost.agentCpuMs): the ADD goal is judged on both, as the goal reads.
//
//   bash bench/cni/run.sh [add-4nic] [--runs 20] [--plugin build/cni/multi-nic] [--agent real|fake]
// Needs root, /usr/lib/cni and the built plugin. Prints a JSON report (also build/bench/cni-add-4nic.json).
import { cpus, loadavg } from 'node:os';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BenchHost, must, quantile as q, sh, timedIn } from './host.js';
import { verdict } from '../lib/deployed.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const runs = Number(opt('runs', '20'));
const agentKind = opt('agent', 'real');
if (agentKind !== 'fake' && agentKind !== 'real') throw new Error(`--agent must be fake or real, not ${agentKind}`);
const plugin = resolve(opt('plugin', 'build/cni/multi-nic'));
if (!existsSync(plugin)) throw new Error(`bench/cni: ${plugin} missing: build the shipped executable first (make cni)`);
const tag = `mncb${process.pid % 1000}`;
const bed = new BenchHost(tag, agentKind);
const { dir, HOST } = bed;
const env = bed.env.bind(bed);

/** cpuMs: the plugin's process tree; agentMs: the real agent's CPU over the same window. */
interface Sample { wallMs: number; cpuMs: number; agentMs?: number }

/** `sh -c script` in the host netns: wall, and user+sys of the whole process tree (host.ts timedIn). */
async function timed(script: string, e: NodeJS.ProcessEnv): Promise<Sample> {
  const r = await timedIn(HOST, dir, script, e);
  return { wallMs: r.wallMs, cpuMs: r.cpuMs };
}

// What the agent does after a DEL has answered (its IPPool mirror, journal compaction) lands in
// `after`: from the end of DEL to this long after the pod netns is gone. The baseline's same window
// (no request of ours in flight) is the agent's background.
const SETTLE_MS = 200;
const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));
const agentDelta = (from: number | undefined): number | undefined => {
  const now = bed.agentCpuMs();
  return from === undefined || now === undefined ? undefined : now - from;
};

interface Once { add: Sample; del: Sample; agentAfterMs?: number }

async function oursOnce(i: number, sequential: boolean): Promise<Once> {
  const ns = `${tag}p`;
  await must('ip', ['netns', 'add', ns]);
  const id = `ours${sequential ? 's' : 'p'}${i}`;
  const extra = sequential ? { MULTINIC_CNI_SEQUENTIAL: '1' } : {};
  let a = bed.agentCpuMs();
  let out: Once | undefined;
  try {
    const add: Sample = await timed(`exec ${plugin} < ${dir}/ours.json > /dev/null`, env('ADD', id, `/run/netns/${ns}`, 'net1', extra));
    add.agentMs = agentDelta(a);
    a = bed.agentCpuMs();
    const del: Sample = await timed(`exec ${plugin} < ${dir}/ours.json > /dev/null`, env('DEL', id, `/run/netns/${ns}`, 'net1', extra));
    del.agentMs = agentDelta(a);
    a = bed.agentCpuMs();
    out = { add, del };
  } finally {
    await sh('ip', ['netns', 'del', ns]);
    await settle();
  }
  const after = agentDelta(a);
  return after === undefined ? out : { ...out, agentAfterMs: after };
}

async function baselineOnce(i: number): Promise<Once> {
  const ns = `${tag}p`;
  await must('ip', ['netns', 'add', ns]);
  const id = `base${i}`;
  let out: Once | undefined;
  let a: number | undefined;
  try {
    // Four single-NIC networks, one after another as Multus runs them.
    const add = await timed(bed.baselineScript(), env('ADD', id, `/run/netns/${ns}`, 'net1'));
    const del = await timed(bed.baselineScript(), env('DEL', id, `/run/netns/${ns}`, 'net1'));
    a = bed.agentCpuMs();
    out = { add, del };
  } finally {
    await sh('ip', ['netns', 'del', ns]);
    await settle();
  }
  // The agent serves nothing here: its CPU over the same window is its background.
  const idle = agentDelta(a);
  return idle === undefined ? out : { ...out, agentAfterMs: idle };
}

type Variant = 'ours' | 'oursSequential' | 'baseline';
const samples: Record<Variant, Sample[]> = { ours: [], oursSequential: [], baseline: [] };
const dels: Record<Variant, Sample[]> = { ours: [], oursSequential: [], baseline: [] };
const afters: Record<Variant, number[]> = { ours: [], oursSequential: [], baseline: [] };
let agentIdleMsPerS: number | undefined;
const load: number[][] = [loadavg()];
try {
  await bed.up();
  // Warm-up: page in node, the plugin's modules and the Go binaries; not reported.
  const probe = await oursOnce(-1, false).catch((e: Error) => {
    throw new Error(`${e.message}\n${bed.agentLog}`);
  });
  void probe;
  await baselineOnce(-1);
  for (let i = 0; i < runs; i++) {
    // Rotate the order each iteration so drift on the shared machine hits every variant alike.
    const order = [() => oursOnce(i, false), () => baselineOnce(i), () => oursOnce(i, true)];
    const names = ['ours', 'baseline', 'oursSequential'] as const;
    for (let k = 0; k < 3; k++) {
      const j = (k + i) % 3;
      const r = await order[j]!();
      samples[names[j]!].push(r.add);
      dels[names[j]!].push(r.del);
      if (r.agentAfterMs !== undefined) afters[names[j]!].push(r.agentAfterMs);
    }
  }
  // The agent with nothing asked of it, for 2 s after the runs (its first seconds are JIT work).
  const idle0 = bed.agentCpuMs();
  await new Promise((r) => setTimeout(r, 2000));
  const idle = agentDelta(idle0);
  if (idle !== undefined) agentIdleMsPerS = idle / 2;
} finally {
  load.push(loadavg());
  await bed.down();
}

// CPU: the mean over the runs (a per-run CPU figure has 1 ms resolution; the mean keeps outliers in).
const mean = (xs: number[]): number => xs.reduce((n, x) => n + x, 0) / xs.length;
const cpuMean = (xs: Sample[]): number => mean(xs.map((x) => x.cpuMs));
const agentMean = (xs: Sample[]): number | undefined => (xs.every((x) => x.agentMs !== undefined) ? mean(xs.map((x) => x.agentMs as number)) : undefined);
const stat = (xs: Sample[]) => {
  const wall = xs.map((x) => x.wallMs);
  const agent = agentMean(xs);
  return {
    wallMedianMs: +q(wall, 0.5).toFixed(1),
    wallP90Ms: +q(wall, 0.9).toFixed(1),
    wallMinMs: +Math.min(...wall).toFixed(1),
    cpuMeanMs: +cpuMean(xs).toFixed(1),
    ...(agent === undefined ? {} : { agentCpuMeanMs: +agent.toFixed(1), cpuWithAgentMeanMs: +(cpuMean(xs) + agent).toFixed(1) }),
  };
};
const ratio = (set: Record<Variant, Sample[]>, a: Variant, b: Variant, f: 'wallMs' | 'cpuMs'): number => {
  const m = (xs: Sample[]) => (f === 'cpuMs' ? cpuMean(xs) : q(xs.map((x) => x[f]), 0.5));
  return +(m(set[a]) / m(set[b])).toFixed(2);
};
const ratios = (set: Record<Variant, Sample[]>) => {
  const agent = agentMean(set.ours);
  return {
    wallOursVsBaseline: ratio(set, 'ours', 'baseline', 'wallMs'),
    cpuOursVsBaseline: ratio(set, 'ours', 'baseline', 'cpuMs'),
    // The plugin's process tree and the agent's share of the request, against the baseline's tree.
    ...(agent === undefined ? {} : { cpuWithAgentVsBaseline: +((cpuMean(set.ours) + agent) / cpuMean(set.baseline)).toFixed(2) }),
    wallSequentialVsBaseline: ratio(set, 'oursSequential', 'baseline', 'wallMs'),
    wallParallelVsSequential: ratio(set, 'ours', 'oursSequential', 'wallMs'),
  };
};
const addRatio = ratios(samples);
const delRatio = ratios(dels);
// A pod's whole life on the node: ADD + DEL of the plugin, the agent's share of both and what it
// did after the DEL answered, less its background over the same window.
const real = afters.ours.length === runs && afters.baseline.length === runs;
const pod = real
  ? (() => {
      const after = mean(afters.ours) - mean(afters.baseline);
      const ours = cpuMean(samples.ours) + cpuMean(dels.ours) + (agentMean(samples.ours) ?? 0) + (agentMean(dels.ours) ?? 0) + after;
      const base = cpuMean(samples.baseline) + cpuMean(dels.baseline);
      return { agentIdleCpuMsPerS: agentIdleMsPerS === undefined ? undefined : +agentIdleMsPerS.toFixed(1), agentAfterDelMs: +after.toFixed(1), agentBackgroundMs: +mean(afters.baseline).toFixed(1), windowMs: SETTLE_MS, oursCpuMs: +ours.toFixed(1), baselineCpuMs: +base.toFixed(1), cpuRatio: +(ours / base).toFixed(2) };
    })()
  : undefined;
const addCpu = addRatio.cpuWithAgentVsBaseline ?? addRatio.cpuOursVsBaseline;
const report = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'BenchReport',
  bench: `cni-add-4nic-${agentKind}-agent`,
  runs,
  cores: cpus().length,
  loadAverage: { start: load[0]!.map((x) => +x.toFixed(1)), end: load[1]!.map((x) => +x.toFixed(1)) },
  plugin,
  agent: agentKind === 'fake' ? 'fake (test/fakes/agent-server.ts, in the bench process)' : `real, as deployed (${bed.node} bin/multinic-agent run --kube, API stand-in), in the host netns`,
  notes: {
    cpu: 'cpuMeanMs: the plugin process tree; agentCpuMeanMs: the real agent over the same window (its threads, /proc/PID/task/*/schedstat); pod: ADD + DEL + what the agent did in the 200 ms after DEL, less its background',
    ours: 'one multi-nic ADD/DEL, 4 macvlan delegates in parallel', oursSequential: 'one multi-nic ADD/DEL, delegates one after another', baseline: '4 x (macvlan + host-local) ADD/DEL, sequential like Multus',
  },
  add: { ours: stat(samples.ours), oursSequential: stat(samples.oursSequential), baseline: stat(samples.baseline), ratio: addRatio },
  del: { ours: stat(dels.ours), oursSequential: stat(dels.oursSequential), baseline: stat(dels.baseline), ratio: delRatio },
  ...(pod ? { pod } : {}),
  goals: [
    { figure: 'add.ratio.wallOursVsBaseline', goal: 1.2, value: addRatio.wallOursVsBaseline, verdict: verdict(addRatio.wallOursVsBaseline, 1.2) },
    // With the real agent the goal ("shipped executable + real agent") counts the agent's CPU too.
    { figure: addRatio.cpuWithAgentVsBaseline === undefined ? 'add.ratio.cpuOursVsBaseline' : 'add.ratio.cpuWithAgentVsBaseline', goal: 1.5, value: addCpu, verdict: verdict(addCpu, 1.5) },
    { figure: 'del.ratio.wallOursVsBaseline', goal: 1.2, value: delRatio.wallOursVsBaseline, verdict: verdict(delRatio.wallOursVsBaseline, 1.2) },
  ],
};
mkdirSync('build/bench', { recursive: true });
writeFileSync(`build/bench/cni-add-4nic-${agentKind}.json`, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
