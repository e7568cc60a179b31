// The timing loop the start-up benches share (bench/cli-startup, bench/cni-startup): a sample is
// BATCH execs in a row under one GNU time(1) (it counts CPU in 10 ms ticks, too coarse for one
// short process), so wall and CPU are per exec; every variant is warmed up once, then sampled in
// rounds with the order rotated per round, so each variant sees the same machine at the same
// moment as its baseline; the load average is taken before and after.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/**
 * One sample: `/bin/sh -c LOOP sh ARGV...` under `time` (LOOP runs "$@" BATCH times).
 * Returns per-exec wall (ms), CPU (user+sys, ms) and the peak RSS (KiB) of the batch.
 */
export function timedBatch({ time = '/usr/bin/time', timeFile, loop, batch, argv, env, input }) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(time, ['-f', '%U %S %M', '-o', timeFile, '/bin/sh', '-c', loop, 'sh', ...argv], { env, ...(input !== undefined ? { input } : {}), encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / batch;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.status} ${r.stderr}`);
  const [u, s, m] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(/\s+/).map(Number);
  return { ms, cpuMs: ((u + s) * 1000) / batch, rssKiB: m };
}

/** Warm-up, then `runs` rounds over `names` in rotated order; samples per name and the load before and after. */
export function interleaved(names, runs, once) {
  const samples = Object.fromEntries(names.map((k) => [k, []]));
  for (const k of names) once(k);
  const load = [loadavg()];
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + i) % names.length];
      samples[name].push(once(name));
    }
  }
  load.push(loadavg());
  return { samples, loadAverage: { start: load[0].map((x) => +x.toFixed(1)), end: load[1].map((x) => +x.toFixed(1)) } };
}

const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

/** Wall median (and p90 when asked), mean CPU with `cpuDigits` decimals, median peak RSS in MiB. */
export function startupStats(xs, { p90 = false, cpuDigits = 1 } = {}) {
  return {
    wallMedianMs: +q(xs.map((x) => x.ms), 0.5).toFixed(1),
    ...(p90 ? { wallP90Ms: +q(xs.map((x) => x.ms), 0.9).toFixed(1) } : {}),
    cpuMeanMs: +(xs.reduce((n, x) => n + x.cpuMs, 0) / xs.length).toFixed(cpuDigits),
    peakRssMiB: +(q(xs.map((x) => x.rssKiB), 0.5) / 1024).toFixed(1),
  };
}
