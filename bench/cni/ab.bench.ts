// Two builds of the `multi-nic` executable side by side (say the Node 24 SEA and a Bun-compiled
// one), each against the same baseline in the same run: VERSION with an empty environment (wall,
// CPU, peak RSS) and 1 pod × 4 NICs ADD and DEL (wall, CPU) against 4 × reference macvlan +
// host-local ADD and DEL, one after another as Multus runs them. Every iteration rotates the order
// of the variants, so drift on the shared machine hits each alike.
//
//   bash bench/cni/run.sh ab --a build/cni/multi-nic --b /tmp/multi-nic-bun [--runs 15] [--agent real|fake]
// Needs root, /usr/lib/cni and both executables. Prints a JSON report (also build/bench/cni-ab.json).
import { cpus, loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BenchHost, cniDir, must, quantile as q, sh, timedIn, type TimedSample } from './host.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const runs = Number(opt('runs', '15'));
const agentKind = opt('agent', 'real');
if (agentKind !== 'fake' && agentKind !== 'real') throw new Error(`--agent must be fake or real, not ${agentKind}`);
const plugins = { a: resolve(opt('a', 'build/cni/multi-nic')), b: resolve(opt('b', '')) };
if (!opt('b', '')) throw new Error('--b PATH: the second executable to compare is required');
const tag = `mnab${process.pid % 1000}`;
const bed = new BenchHost(tag, agentKind);
const { dir, HOST } = bed;

type Sample = TimedSample;
type Variant = 'a' | 'b' | 'baseline';
const variants: Variant[] = ['a', 'b', 'baseline'];

async function timed(script: string, e: NodeJS.ProcessEnv): Promise<Sample> {
  return timedIn(HOST, dir, script, e);
}

const baselineDel = () => [1, 2, 3, 4].map((k) => `CNI_IFNAME=net${k} ${cniDir}/macvlan < ${dir}/net${k}.json > /dev/null`).join(' && ');

async function attach(v: Variant, i: number): Promise<{ add: Sample; del: Sample }> {
  const ns = `${tag}p`;
  await must('ip', ['netns', 'add', ns]);
  const id = `${v}${i}`;
  const netns = `/run/netns/${ns}`;
  try {
    if (v === 'baseline') {
      const add = await timed(bed.baselineScript(), bed.env('ADD', id, netns, 'net1'));
      const del = await timed(baselineDel(), bed.env('DEL', id, netns, 'net1'));
      return { add, del };
    }
    const p = plugins[v];
    const add = await timed(`exec ${p} < ${dir}/ours.json > /dev/null`, bed.env('ADD', id, netns, 'net1'));
    const del = await timed(`exec ${p} < ${dir}/ours.json > /dev/null`, bed.env('DEL', id, netns, 'net1'));
    return { add, del };
  } finally {
    await sh('ip', ['netns', 'del', ns]);
  }
}

/** VERSION with an empty environment (`env -i`), as a runtime probing the plugin may run it. */
async function version(v: Variant): Promise<Sample> {
  const p = v === 'baseline' ? join(cniDir, 'macvlan') : plugins[v];
  return timed(`exec env -i CNI_COMMAND=VERSION ${p} < /dev/null > /dev/null`, { PATH: process.env['PATH'] });
}

const s = { add: { a: [], b: [], baseline: [] }, del: { a: [], b: [], baseline: [] }, version: { a: [], b: [], baseline: [] } } as Record<'add' | 'del' | 'version', Record<Variant, Sample[]>>;
const load: number[][] = [loadavg()];
try {
  await bed.up();
  // Warm-up: page in both executables and the Go plugins; not reported.
  for (const v of variants) {
    await attach(v, -1).catch((e: Error) => {
      throw new Error(`${v}: ${e.message}\n${bed.agentLog}`);
    });
    await version(v);
  }
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(k + i) % variants.length] as Variant;
      const r = await attach(v, i);
      s.add[v].push(r.add);
      s.del[v].push(r.del);
      s.version[v].push(await version(v));
    }
  }
} finally {
  load.push(loadavg());
  await bed.down();
}

const med = (xs: Sample[], f: keyof Sample) => q(xs.map((x) => x[f]), 0.5);
// CPU: the mean over the runs (a per-run CPU figure has 1 ms resolution; the mean keeps outliers in).
const mean = (xs: Sample[], f: keyof Sample) => xs.reduce((n, x) => n + x[f], 0) / xs.length;
const stat = (xs: Sample[]) => ({ wallMedianMs: +med(xs, 'wallMs').toFixed(1), wallP90Ms: +q(xs.map((x) => x.wallMs), 0.9).toFixed(1), cpuMeanMs: +mean(xs, 'cpuMs').toFixed(1), peakRssMedianMiB: +(med(xs, 'rssKiB') / 1024).toFixed(1) });
const ratio = (op: 'add' | 'del' | 'version', x: Variant, y: Variant, f: keyof Sample) => {
  const m = f === 'cpuMs' ? mean : med;
  const d = m(s[op][y], f);
  return d > 0 ? +(m(s[op][x], f) / d).toFixed(2) : null;
};
const ops = ['add', 'del', 'version'] as const;
const report = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'BenchReport',
  bench: `cni-ab-${agentKind}-agent`,
  runs,
  cores: cpus().length,
  loadAverage: { start: load[0]!.map((x) => +x.toFixed(1)), end: load[1]!.map((x) => +x.toFixed(1)) },
  plugins,
  baseline: '4 x (macvlan + host-local), sequential like Multus; VERSION: one macvlan',
  results: Object.fromEntries(ops.map((op) => [op, Object.fromEntries(variants.map((v) => [v, stat(s[op][v])]))])),
  ratio: Object.fromEntries(
    ops.map((op) => [
      op,
      {
        wallAVsBaseline: ratio(op, 'a', 'baseline', 'wallMs'),
        wallBVsBaseline: ratio(op, 'b', 'baseline', 'wallMs'),
        cpuAVsBaseline: ratio(op, 'a', 'baseline', 'cpuMs'),
        cpuBVsBaseline: ratio(op, 'b', 'baseline', 'cpuMs'),
        wallBVsA: ratio(op, 'b', 'a', 'wallMs'),
        cpuBVsA: ratio(op, 'b', 'a', 'cpuMs'),
        rssBVsA: ratio(op, 'b', 'a', 'rssKiB'),
      },
    ]),
  ),
  goal: 'ADD and DEL wall <= 1.2x baseline; ADD CPU <= 1.5x baseline',
};
mkdirSync('build/bench', { recursive: true });
writeFileSync('build/bench/cni-ab.json', `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
