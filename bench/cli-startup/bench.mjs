// Start-up of the CLI as a user runs it (issue 14 goal: `--help` and `version` within 2x `node -e 0`,
// cold and warm; both are served by the fast path of src/cli/fast-help.ts, which does not load oclif):
// `bin/kubectl-multinic --help`, `version --client` (no API) and `plan --help`, each in a fresh process,
// against the runtime's own start-up (`node -e 0`, the baseline), side by side, interleaved (order
// rotated per round), same machine, same moment. Each CLI command runs twice per round: as shipped
// (V8's compile cache and the start-up cache, both filled by the warm-up run: what every run after
// the first gets) and with both off (NODE_DISABLE_COMPILE_CACHE=1 MULTINIC_STARTUP_CACHE=0: a first
// run, or the CLI before them). Both caches live in a temporary directory of this bench.
// Per variant: wall median, CPU (user+sys, mean) and peak RSS per exec (each sample is 5 execs in a
// row under one /usr/bin/time); ratios to node -e 0; goal, figure and verdict.
//
//   node bench/cli-startup/bench.mjs [--runs 10] [--node PATH]   (needs `make build`: runs dist/)
// The runtime defaults to Node 24 (scripts/node24.sh). Prints a JSON report (also build/bench/cli-startup.json).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { interleaved, startupStats, timedBatch } from '../lib/startup.mjs';

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
const off = { NODE_DISABLE_COMPILE_CACHE: '1', MULTINIC_STARTUP_CACHE: '0' };
const on = { NODE_COMPILE_CACHE: join(cacheDir, 'v8'), XDG_CACHE_HOME: cacheDir };
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
const loop = `i=0; while [ $i -lt ${BATCH} ]; do "$@" > /dev/null || exit 1; i=$((i+1)); done`;
const once = (name) => timedBatch({ timeFile: tf, loop, batch: BATCH, argv: [node, ...variants[name].argv], env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/root', ...variants[name].env } });
const names = Object.keys(variants);
// The warm-up also fills both caches.
const { samples, loadAverage } = interleaved(names, runs, once);
const stats = Object.fromEntries(names.map((k) => [k, startupStats(samples[k])]));
const ratio = (a, b, f) => +(stats[a][f] / stats[b][f]).toFixed(2);
const report = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'BenchReport',
  bench: 'cli-startup',
  node: `${node} (${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()})`,
  runs,
  execsPerSample: BATCH,
  cores: cpus().length,
  loadAverage,
  variants: Object.fromEntries(names.map((k) => [k, { command: `node ${variants[k].argv.join(' ')}`, env: variants[k].env, ...stats[k], wallVsNode: ratio(k, 'node', 'wallMedianMs'), cpuVsNode: ratio(k, 'node', 'cpuMeanMs') }])),
  cacheVsNoCache: { help: ratio('help', 'helpNoCache', 'wallMedianMs'), version: ratio('version', 'versionNoCache', 'wallMedianMs'), planHelp: ratio('planHelp', 'planHelpNoCache', 'wallMedianMs') },
  // Cold (both caches off: a first run) as well as warm: the goal is a start-up, not a cache hit.
  goals: ['help', 'helpNoCache', 'version', 'versionNoCache'].map((k) => ({ figure: `variants.${k}.wallVsNode`, goal: 2, value: ratio(k, 'node', 'wallMedianMs'), verdict: ratio(k, 'node', 'wallMedianMs') <= 2 ? 'met' : 'not met' })),
};
const text = `${JSON.stringify(report, null, 2)}\n`;
writeFileSync('build/bench/cli-startup.json', text);
process.stdout.write(text);
execFileSync('rm', ['-rf', cacheDir]);
