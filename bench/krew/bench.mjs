#!/usr/bin/env node
// Cold start of the CLI as krew ships it (an archive from scripts/build-dist.sh, extracted, run
// through its launcher) against the Node-run CLI of this checkout (`node bin/kubectl-multinic`),
// side by side: each run starts a fresh process, the variants interleaved run by run, so load
// changes hit them alike. Prints medians, the ratio to the baseline, the archive and installed
// sizes, and the load average, then one JSON line.
//
//   node bench/krew/bench.mjs [--runs 20] [--archive build/dist/...tar.gz]... [--args "version --client"]
//
// Default archives: every build/dist*/kubectl-multinic_*_linux_<this arch>.tar.gz (make dist; a Bun
// build: scripts/build-dist.sh --runtime bun --arch amd64 --out build/dist-bun).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const root = join(import.meta.dirname, '../..');
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const runs = Number(opt('--runs', '20'));
const cmdArgs = opt('--args', 'version --client').split(' ');
const arch = process.arch === 'x64' ? 'amd64' : process.arch;
let archives = argv.flatMap((a, i) => (argv[i - 1] === '--archive' ? [a] : []));
if (archives.length === 0) {
  archives = readdirSync(join(root, 'build'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.startsWith('dist'))
    .flatMap((d) => readdirSync(join(root, 'build', d.name)).filter((f) => f.endsWith(`_linux_${arch}.tar.gz`)).map((f) => join(root, 'build', d.name, f)));
}
if (archives.length === 0) {
  console.error(`bench dist: no archive for linux/${arch}: run make dist first`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'kc-bench-dist-'));
const du = (p) => Number(execFileSync('du', ['-sb', p], { encoding: 'utf8' }).split('\t')[0]);
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

const variants = [{ name: 'node bin/kubectl-multinic (baseline)', cmd: process.execPath, args: [join(root, 'bin/kubectl-multinic'), ...cmdArgs] }];
for (const [i, a] of archives.entries()) {
  const into = join(dir, String(i));
  execFileSync('mkdir', ['-p', into]);
  execFileSync('tar', ['-xzf', a, '-C', into]);
  const top = readdirSync(into)[0];
  const runtime = existsSync(join(into, top, 'lib/bun')) ? 'bun' : 'node';
  variants.push({ name: `${basename(a)} (${runtime})`, cmd: join(into, top, 'kubectl-multinic'), args: cmdArgs, archiveBytes: statSync(a).size, installedBytes: du(join(into, top)) });
}

const env = { PATH: '/usr/bin:/bin', HOME: dir, NO_COLOR: '1', KUBECONFIG: join(dir, 'none') };
const times = variants.map(() => []);
const load = [loadavg()[0]];
for (let r = 0; r < runs + 1; r++) {
  for (const [i, v] of variants.entries()) {
    const t0 = process.hrtime.bigint();
    const p = spawnSync(v.cmd, v.args, { env, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (p.status !== 0) {
      console.error(`bench dist: ${v.name} failed (${p.status}): ${p.stderr}`);
      process.exit(1);
    }
    if (r > 0) times[i].push(ms); // the first round warms the page cache for every variant alike
  }
}
load.push(loadavg()[0]);
rmSync(dir, { recursive: true, force: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(times[0]);
const rows = variants.map((v, i) => ({ variant: v.name, medianMs: Math.round(median(times[i])), ratio: Number((median(times[i]) / base).toFixed(2)), ...(v.archiveBytes ? { archive: mb(v.archiveBytes), installed: mb(v.installedBytes) } : {}) }));
console.log(`kubectl multinic ${cmdArgs.join(' ')}: cold start, ${runs} interleaved runs each (fresh process per run), load ${load.map((l) => l.toFixed(2)).join(' -> ')}`);
for (const r of rows) console.log(`  ${r.variant.padEnd(58)} ${String(r.medianMs).padStart(5)} ms  x${r.ratio.toFixed(2)}${r.archive ? `  archive ${r.archive}, installed ${r.installed}` : ''}`);
console.log(JSON.stringify({ bench: 'krew-startup', runs, args: cmdArgs, loadavg: load, rows }));
