// How to ship the `multi-nic` CNI executable: a Node single-executable application (SEA) versus a
// copied Node runtime + bundle + /bin/sh launcher. Both are built from the same entry by
// scripts/build-cni.sh and measured side by side (interleaved, same machine, same moment) on the
// cheapest real invocation, `CNI_COMMAND=VERSION` with an empty environment (`env -i`, no PATH).
// Baseline: the same bundle run by the system's `node` (what a host *with* Node would pay).
//
//   node bench/cni-startup/bench.mjs [--runs 20] [--entry src/cni/main.ts]
// Prints a JSON report (also written to build/bench/cni-startup.json).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = Number(opt('runs', '20'));
const entry = opt('entry', 'src/cni/main.ts');
const dir = 'build/bench/cni-startup';
mkdirSync(dir, { recursive: true });

const build = (mode) => execFileSync('bash', ['scripts/build-cni.sh', '--entry', entry, '--mode', mode, '--out', join(dir, `multi-nic-${mode}`)], { stdio: ['ignore', 'ignore', 'inherit'] });
build('sea');
build('runtime');

const du = (p) => {
  const s = statSync(p);
  if (!s.isDirectory()) return s.size;
  return readdirSync(p).reduce((n, f) => n + du(join(p, f)), 0);
};
const variants = {
  baseline: { cmd: process.execPath, argv: [join(dir, 'multi-nic-runtime.d/plugin.cjs')], bytes: du(join(dir, 'multi-nic-runtime.d/plugin.cjs')), files: 1, note: `system node ${process.version} (needs Node on the host)` },
  sea: { cmd: join(dir, 'multi-nic-sea'), argv: [], bytes: du(join(dir, 'multi-nic-sea')), files: 1, note: 'single executable' },
  runtime: { cmd: join(dir, 'multi-nic-runtime'), argv: [], bytes: du(join(dir, 'multi-nic-runtime')) + du(join(dir, 'multi-nic-runtime.d')), files: 3, note: 'sh launcher + node + bundle' },
};

const once = (v) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(v.cmd, v.argv, { env: { CNI_COMMAND: 'VERSION' }, input: '', encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 || !r.stdout.includes('supportedVersions')) throw new Error(`${v.cmd} failed: ${r.status} ${r.stderr}`);
  return ms;
};
const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (const v of Object.values(variants)) once(v); // first run pays page-in; report steady state
for (let i = 0; i < runs; i++) for (const [k, v] of Object.entries(variants)) samples[k].push(once(v));

const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const med = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, q(xs, 0.5)]));
const report = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'BenchReport',
  bench: 'cni-startup',
  entry,
  runs,
  cores: (await import('node:os')).cpus().length,
  variants: Object.fromEntries(
    Object.entries(variants).map(([k, v]) => [
      k,
      {
        note: v.note,
        bytesOnDisk: v.bytes,
        files: v.files,
        medianMs: +med[k].toFixed(1),
        p90Ms: +q(samples[k], 0.9).toFixed(1),
        ratioToBaseline: +(med[k] / med.baseline).toFixed(2),
      },
    ]),
  ),
};
const text = `${JSON.stringify(report, null, 2)}\n`;
writeFileSync('build/bench/cni-startup.json', text);
process.stdout.write(text);
