// One pod, 4 NICs: wall time of one `multi-nic` ADD (agent allocate + 4 macvlan delegates with
// static IPAM) against what four single-NIC networks cost — 4 ADDs of the reference macvlan with
// host-local, one after the other as Multus runs them. Same run, interleaved per iteration, same
// pod-netns setup; each side DELs untimed. Also measured: delegates in sequence
// (MULTINIC_CNI_SEQUENTIAL=1), to see whether running them in parallel helps.
// Everything runs inside one "host" netns holding the 4 NICs (veths into a fabric netns). The agent
// is the fake (test/fakes/agent-server.ts, serving from this process) or, with --agent real, the
// real agent (src/agent, journal fsync included) running in the host netns from a state file.
//
//   bash bench/cni/run.sh [add-4nic] [--runs 20] [--plugin bin/multi-nic] [--agent fake|real]
// Needs root, /usr/lib/cni and the built plugin. Prints a JSON report (also build/bench/cni-add-4nic.json).
import { cpus, loadavg } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BenchHost, cniDir, must, quantile as q, sh } from './host.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const runs = Number(opt('runs', '20'));
const agentKind = opt('agent', 'fake');
if (agentKind !== 'fake' && agentKind !== 'real') throw new Error(`--agent must be fake or real, not ${agentKind}`);
const plugin = resolve(opt('plugin', 'bin/multi-nic'));
const tag = `mncb${process.pid % 1000}`;
const bed = new BenchHost(tag, agentKind);
const { dir, HOST, ours, baseline } = bed;
const env = bed.env.bind(bed);

interface Sample { wallMs: number; cpuMs: number }

/**
 * Runs `script` as `/usr/bin/time sh -c script`: every variant pays the same one wrapper, and
 * time(1) reports user+sys of the whole process tree (the plugins and their IPAM children), a
 * figure the other tenants of this shared machine cannot inflate the way they inflate wall time.
 */
async function timed(script: string, e: NodeJS.ProcessEnv): Promise<Sample> {
  const cpuFile = join(dir, 'cpu');
  const r = await sh('ip', ['netns', 'exec', HOST, '/usr/bin/time', '-f', '%U %S', '-o', cpuFile, 'sh', '-c', script], { env: e });
  if (r.code !== 0) throw new Error(`${script}: ${r.stdout} ${r.stderr}`);
  const [u, sy] = readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number);
  return { wallMs: r.ms, cpuMs: ((u ?? 0) + (sy ?? 0)) * 1000 };
}

async function oursOnce(i: number, sequential: boolean): Promise<Sample> {
  const ns = `${tag}p`;
  await must('ip', ['netns', 'add', ns]);
  const id = `ours${sequential ? 's' : 'p'}${i}`;
  const extra = sequential ? { MULTINIC_CNI_SEQUENTIAL: '1' } : {};
  try {
    const s = await timed(`exec ${plugin} < ${dir}/ours.json > /dev/null`, env('ADD', id, `/run/netns/${ns}`, 'net1', extra));
    const d = await sh('ip', ['netns', 'exec', HOST, plugin], { env: env('DEL', id, `/run/netns/${ns}`, 'net1'), input: JSON.stringify(ours) });
    if (d.code !== 0) throw new Error(`multi-nic DEL failed: ${d.stdout}`);
    return s;
  } finally {
    await sh('ip', ['netns', 'del', ns]);
  }
}

async function baselineOnce(i: number): Promise<Sample> {
  const ns = `${tag}p`;
  await must('ip', ['netns', 'add', ns]);
  const id = `base${i}`;
  try {
    // Four single-NIC networks, one after another as Multus runs them.
    const s = await timed(bed.baselineScript(), env('ADD', id, `/run/netns/${ns}`, 'net1'));
    for (const [k, conf] of baseline.entries()) {
      await sh('ip', ['netns', 'exec', HOST, join(cniDir, 'macvlan')], { env: env('DEL', id, `/run/netns/${ns}`, `net${k + 1}`), input: JSON.stringify(conf) });
    }
    return s;
  } finally {
    await sh('ip', ['netns', 'del', ns]);
  }
}

const samples: Record<'ours' | 'oursSequential' | 'baseline', Sample[]> = { ours: [], oursSequential: [], baseline: [] };
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
    const order: Array<() => Promise<Sample>> = [() => oursOnce(i, false), () => baselineOnce(i), () => oursOnce(i, true)];
    const names = ['ours', 'baseline', 'oursSequential'] as const;
    for (let k = 0; k < 3; k++) {
      const j = (k + i) % 3;
      samples[names[j] as keyof typeof samples].push(await (order[j] as () => Promise<Sample>)());
    }
  }
} finally {
  await bed.down();
}

const med = (k: keyof typeof samples, f: keyof Sample): number => q(samples[k].map((x) => x[f]), 0.5);
const stat = (k: keyof typeof samples) => {
  const wall = samples[k].map((x) => x.wallMs);
  const cpu = samples[k].map((x) => x.cpuMs);
  return { wallMedianMs: +q(wall, 0.5).toFixed(1), wallP90Ms: +q(wall, 0.9).toFixed(1), wallMinMs: +Math.min(...wall).toFixed(1), cpuMedianMs: +q(cpu, 0.5).toFixed(0) };
};
const ratio = (a: keyof typeof samples, b: keyof typeof samples, f: keyof Sample): number => +(med(a, f) / med(b, f)).toFixed(2);
const report = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'BenchReport',
  bench: `cni-add-4nic-${agentKind}-agent`,
  runs,
  cores: cpus().length,
  loadAverage: loadavg().map((x) => +x.toFixed(1)),
  plugin,
  agent: agentKind === 'fake' ? 'fake (test/fakes/agent-server.ts, in the bench process)' : 'real (src/agent, file state, durable journal), in the host netns',
  variants: {
    ours: { ...stat('ours'), note: 'one multi-nic ADD, 4 macvlan delegates in parallel' },
    oursSequential: { ...stat('oursSequential'), note: 'one multi-nic ADD, delegates one after another' },
    baseline: { ...stat('baseline'), note: '4 x (macvlan + host-local) ADD, sequential like Multus' },
  },
  ratio: {
    wallOursVsBaseline: ratio('ours', 'baseline', 'wallMs'),
    cpuOursVsBaseline: ratio('ours', 'baseline', 'cpuMs'),
    wallSequentialVsBaseline: ratio('oursSequential', 'baseline', 'wallMs'),
    wallParallelVsSequential: ratio('ours', 'oursSequential', 'wallMs'),
  },
  goal: 'wallOursVsBaseline <= 1.2',
};
mkdirSync('build/bench', { recursive: true });
writeFileSync(`build/bench/cni-add-4nic-${agentKind}.json`, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
