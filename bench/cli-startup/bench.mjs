// Start-up of the CLI as a user runs it (issue 14 goal: `--help` and `version` within 2x `node -e 0`):
// `bin/kubectl-multinic --help`, `version --client` (no API) and `plan --help`, each in a fresh process,
// against the runtime's own start-up (`node -e 0`, the baseline), side by side, interleaved (order
// rotated per round), same machine, same moment. Each CLI command runs twice per round: with V8's
// compile cache (what bin/kubectl-multinic enables) and with NODE_DISABLE_COMPILE_CACHE=1 (before).
// Per variant: wall median, CPU (user+sys, mean) and peak RSS per exec (each sample is 5 execs in a
// row under one /usr/bin/time); ratios to node -e 0; goal, figure and verdict.
//
//   node bench/cli-startup/bench.mjs [--runs 10] [--node PATH]   (needs `make build`: runs dist/)
// The runtime defaults to Node 24 (scripts/node24.sh). Prints a JSON report (also build/bench/cli-startup.json).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = Number(opt('runs', '10'));
const node = opt('node', '') || execFileSync('bash', ['scripts/node24.sh'], { encoding: 'utf8' }).trim();
if (!existsSync('dist/commands/version.js') || !existsSync('oclif.manifest.json')) throw new Error('cli-startup: build first (npx tsc -p tsconfig.build.json && node scripts/manifest.mjs)');
mkdirSync('build/bench', { recursive: true });
const cacheDir = join(tmpdir(), `mn-cli-startup-cache-${process.pid}`);
const off = { NODE_DISABLE_COMPILE_CACHE: '1' };
const on = { NODE_COMPILE_CACHE: cacheDir };
const variants = {
  node: { argv: ['-e', '0'], env: {} },
  help: { argv: ['bin/kubectl-multinic', '--help'], env: on },
  helpNoCache: { argv: ['bin/kubectl-multinic', '--help'], env: off },
  version: { argv: ['bin/kubectl-multinic', 'version', '--client'], env: on },
  versionNoCache: { argv: ['bin/kubectl-multinic', 'version', '--client'], env: off },
  planHelp: { argv: ['bin/kubectl-multinic', 'plan', '--help'], env: on },
  planHelpNoCache: { argv: ['bin/kubectl-multinic', 'plan', '--help'], env: off },
};
const BATCH = 5;
const tf = join('build/bench', 'cli-startup.time');
const once = (v) => {
  const loop = `i=0; while [ $i -lt ${BATCH} ]; do "$@" > /dev/null || exit 1; i=$((i+1)); done`;
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', '-o', tf, '/bin/sh', '-c', loop, 'sh', node, ...v.argv], { env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/root', ...v.env }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / BATCH;
  if (r.status !== 0) throw new Error(`${v.argv.join(' ')} failed: ${r.status} ${r.stderr}`);
  const [u, s, m] = readFileSync(tf, 'utf8').trim().split('\n').at(-1).split(/\s+/).map(Number);
  return { ms, cpuMs: ((u + s) * 1000) / BATCH, rssKiB: m };
};
const names = Object.keys(variants);
const samples = Object.fromEntries(names.map((k) => [k, []]));
for (const v of Object.values(variants)) once(v); // warm-up: page cache, and the compile cache filled
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
  cpuMeanMs: +(xs.reduce((n, x) => n + x.cpuMs, 0) / xs.length).toFixed(1),
  peakRssMiB: +(q(xs.map((x) => x.rssKiB), 0.5) / 1024).toFixed(1),
});
const stats = Object.fromEntries(names.map((k) => [k, stat(samples[k])]));
const ratio = (a, b, f) => +(stats[a][f] / stats[b][f]).toFixed(2);
const report = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'BenchReport',
  bench: 'cli-startup',
  node: `${node} (${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()})`,
  runs,
  execsPerSample: BATCH,
  cores: cpus().length,
  loadAverage: { start: load[0].map((x) => +x.toFixed(1)), end: load[1].map((x) => +x.toFixed(1)) },
  variants: Object.fromEntries(names.map((k) => [k, { command: `node ${variants[k].argv.join(' ')}`, env: variants[k].env, ...stats[k], wallVsNode: ratio(k, 'node', 'wallMedianMs'), cpuVsNode: ratio(k, 'node', 'cpuMeanMs') }])),
  cacheVsNoCache: { help: ratio('help', 'helpNoCache', 'wallMedianMs'), version: ratio('version', 'versionNoCache', 'wallMedianMs'), planHelp: ratio('planHelp', 'planHelpNoCache', 'wallMedianMs') },
  goals: ['help', 'version'].map((k) => ({ figure: `variants.${k}.wallVsNode`, goal: 2, value: ratio(k, 'node', 'wallMedianMs'), verdict: ratio(k, 'node', 'wallMedianMs') <= 2 ? 'met' : 'not met' })),
};
const text = `${JSON.stringify(report, null, 2)}\n`;
writeFileSync('build/bench/cli-startup.json', text);
process.stdout.write(text);
execFileSync('rm', ['-rf', cacheDir]);
