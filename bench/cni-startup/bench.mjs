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
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { interleaved, startupStats, timedBatch } from '../lib/startup.mjs';

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
const once = (name) => timedBatch({ time, timeFile: tf, loop, batch: BATCH, argv: variants[name].argv, env: {}, input: '' });
const names = Object.keys(variants);
// The warm-up pays page-in; the figures are the steady state.
const { samples, loadAverage } = interleaved(names, runs, once);
const stats = Object.fromEntries(names.map((k) => [k, startupStats(samples[k], { p90: true, cpuDigits: 2 })]));
const base = stats['floor-macvlan'];
const report = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'BenchReport',
  bench: 'cni-startup',
  command: `/usr/bin/time sh -c '${BATCH} x env -i CNI_COMMAND=VERSION <variant> < /dev/null', figures per exec`,
  entry,
  runs,
  cores: cpus().length,
  loadAverage,
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
