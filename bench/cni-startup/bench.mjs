// Start-up of the `multi-nic` CNI executable alone, against what a C or Go plugin pays to start:
// `CNI_COMMAND=VERSION` with an empty environment (`env -i`, no PATH), as a runtime probing a plugin
// runs it. Side by side, interleaved (order rotated each round), same machine, same moment:
//   floor-exec      /bin/true (the cost of exec itself)
//   floor-macvlan   the reference macvlan plugin answering VERSION (a Go CNI plugin)
//   node            Node 24's own start-up (`node -e 0`, the binary the SEA embeds): the floor of any SEA
//   shipped         the executable that ships (build/cni/multi-nic as make cni builds it), when present
//   sea             scripts/build-cni.sh --runtime node (Node 24 SEA)
//   bun             scripts/build-cni.sh --runtime bun (bun build --compile --bytecode)
// each built from the same entry. Per variant (each sample 10 execs in a row under one time(1), as
// per-exec figures): wall median and p90, CPU (user+sys, mean) and peak RSS; ratios to the macvlan floor; goal: VERSION within 2x macvlan's wall.
//
//   node bench/cni-startup/bench.mjs [--runs 20] [--entry src/cni/main.ts] [--variants a,b,...]
// Prints a JSON report (also written to build/bench/cni-startup.json).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = Number(opt('runs', '20'));
const entry = opt('entry', 'src/cni/main.ts');
const dir = 'build/bench/cni-startup';
mkdirSync(dir, { recursive: true });
const macvlan = ['/usr/lib/cni/macvlan', '/opt/cni/bin/macvlan'].find((p) => existsSync(p));
if (!macvlan) throw new Error('cni-startup: the reference macvlan plugin is not in /usr/lib/cni or /opt/cni/bin (apt-get install containernetworking-plugins)');
const time = ['/usr/bin/time'].find((p) => existsSync(p));
if (!time) throw new Error('cni-startup: needs /usr/bin/time (GNU time)');

const build = (runtime) => {
  const out = resolve(dir, `multi-nic-${runtime}`);
  execFileSync('bash', ['scripts/build-cni.sh', '--entry', entry, '--runtime', runtime, '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
};
const node = execFileSync('bash', ['scripts/node24.sh'], { encoding: 'utf8' }).trim();
const all = {
  'floor-exec': { argv: ['/bin/true'], note: 'exec of /bin/true' },
  'floor-macvlan': { argv: [macvlan], note: `${macvlan} VERSION (Go)` },
  node: { argv: [node, '-e', '0'], note: `${node} -e 0 (Node ${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()})` },
  ...(existsSync('build/cni/multi-nic') ? { shipped: { argv: [resolve('build/cni/multi-nic')], note: 'build/cni/multi-nic (make cni)' } } : {}),
  sea: { argv: [build('node')], note: 'Node 24 SEA (--runtime node)' },
  bun: { argv: [build('bun')], note: 'Bun compiled (--runtime bun)' },
};
const want = opt('variants', '');
const variants = Object.fromEntries(Object.entries(all).filter(([k]) => !want || k.startsWith('floor') || want.split(',').includes(k)));

// One sample: BATCH execs in a row under one time(1) (it counts CPU in 10 ms ticks, too coarse for
// one Go plugin start), each with an empty environment; wall and CPU are per exec.
const BATCH = 10;
const loop = `i=0; while [ $i -lt ${BATCH} ]; do /usr/bin/env -i CNI_COMMAND=VERSION "$@" < /dev/null > /dev/null || exit 1; i=$((i+1)); done`;
const tf = join(dir, 'time.out');
const once = (v) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(time, ['-f', '%U %S %M', '-o', tf, '/bin/sh', '-c', loop, 'sh', ...v.argv], { env: {}, input: '', encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / BATCH;
  if (r.status !== 0) throw new Error(`${v.argv.join(' ')} failed: ${r.status} ${r.stderr}`);
  const [u, s, m] = readFileSync(tf, 'utf8').trim().split('\n').at(-1).split(/\s+/).map(Number);
  return { ms, cpuMs: ((u + s) * 1000) / BATCH, rssKiB: m };
};
const names = Object.keys(variants);
const samples = Object.fromEntries(names.map((k) => [k, []]));
for (const v of Object.values(variants)) once(v); // first run pays page-in; report steady state
const load = [loadavg()];
for (let i = 0; i < runs; i++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + i) % names.length];
    samples[name].push(once(variants[name]));
  }
}
load.push(loadavg());

const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const stat = (xs) => ({
  wallMedianMs: +q(xs.map((x) => x.ms), 0.5).toFixed(1),
  wallP90Ms: +q(xs.map((x) => x.ms), 0.9).toFixed(1),
  cpuMeanMs: +(xs.reduce((n, x) => n + x.cpuMs, 0) / xs.length).toFixed(2),
  peakRssMiB: +(q(xs.map((x) => x.rssKiB), 0.5) / 1024).toFixed(1),
});
const stats = Object.fromEntries(names.map((k) => [k, stat(samples[k])]));
const base = stats['floor-macvlan'];
const report = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'BenchReport',
  bench: 'cni-startup',
  command: `/usr/bin/time sh -c '${BATCH} x env -i CNI_COMMAND=VERSION <variant> < /dev/null', figures per exec`,
  entry,
  runs,
  cores: cpus().length,
  loadAverage: { start: load[0].map((x) => +x.toFixed(1)), end: load[1].map((x) => +x.toFixed(1)) },
  variants: Object.fromEntries(
    names.map((k) => [
      k,
      {
        note: variants[k].note,
        bytesOnDisk: statSync(variants[k].argv[0]).size,
        ...stats[k],
        wallVsMacvlan: +(stats[k].wallMedianMs / base.wallMedianMs).toFixed(2),
        cpuVsMacvlan: base.cpuMeanMs > 0 ? +(stats[k].cpuMeanMs / base.cpuMeanMs).toFixed(2) : null,
      },
    ]),
  ),
  goals: names
    .filter((k) => !k.startsWith('floor') && k !== 'node')
    .map((k) => {
      const value = +(stats[k].wallMedianMs / base.wallMedianMs).toFixed(2);
      return { figure: `variants.${k}.wallVsMacvlan`, goal: 2, value, verdict: value <= 2 ? 'met' : 'not met' };
    }),
};
const text = `${JSON.stringify(report, null, 2)}\n`;
writeFileSync('build/bench/cni-startup.json', text);
process.stdout.write(text);
