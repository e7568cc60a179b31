// Durable allocations per second through the IPAM store, against a baseline run side by side in the
// same directory: a plain loop of fdatasync'd appends of a record-sized buffer (the cost of one
// durable write on this disk). Figures are ratios to that baseline (docs/design.md §4 Bench); rounds
// alternate baseline and store so a noisy neighbour hits both. Run: bash bench/ipam/run.sh [N] [rounds]
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openIpamStore } from '../../src/agent/ipam/store.js';
import type { AllocateItem, PoolSpec } from '../../src/lib/ipam/types.js';

const N = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 3);

const pools: PoolSpec[] = [
  { name: 'bench-a', network: 'bench', hostName: 'h', interfaceName: 'eth1', podCIDR: '10.40.0.0/16', vlanCIDR: '10.40.0.0/16', excludes: [], reserved: [] },
  { name: 'bench-b', network: 'bench', hostName: 'h', interfaceName: 'eth2', podCIDR: '10.41.0.0/16', vlanCIDR: '10.41.0.0/16', excludes: [], reserved: [] },
];
const item = (pool: PoolSpec, uid: string, iface: string): AllocateItem => ({
  pool,
  key: { podUID: uid, containerID: `containerd://${uid}`, interface: iface },
  podName: `pod-${uid}`,
  namespace: 'default',
});

async function baseline(dir: string, recordBytes: number): Promise<number> {
  const fh = await open(join(dir, 'baseline'), 'a');
  const buf = Buffer.alloc(recordBytes, 0x61);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    await fh.write(buf);
    await fh.datasync();
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await fh.close();
  return N / s;
}

/** `callers` concurrent loops share N allocations of `nics` addresses each; returns allocations/s. */
async function store(dir: string, callers: number, nics: 1 | 2, fsync = true): Promise<{ rate: number; perCommit: number }> {
  const s = await openIpamStore({ dir, fsync });
  s.setPools(pools);
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < N) {
        const uid = `u${next++}`;
        await s.allocate(nics === 1 ? [item(pools[0] as PoolSpec, uid, 'net1-0')] : [item(pools[0] as PoolSpec, uid, 'net1-0'), item(pools[1] as PoolSpec, uid, 'net1-1')]);
      }
    }),
  );
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  const st = s.stats();
  await s.close();
  return { rate: N / sec, perCommit: st.recordsWritten / Math.max(1, st.commits) };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const root = await mkdtemp(join(tmpdir(), 'mnipam-bench-'));
try {
  const cases: Array<{ name: string; nics: number; run: (dir: string) => Promise<{ rate: number; perCommit?: number }> }> = [
    { name: 'baseline: fdatasync append loop (220 B)', nics: 1, run: async (d) => ({ rate: await baseline(d, 220) }) },
    { name: 'store: 1 caller, 1 address/request', nics: 1, run: (d) => store(d, 1, 1) },
    { name: 'store: 1 caller, 2 addresses/request (pod x 2 NICs)', nics: 2, run: (d) => store(d, 1, 2) },
    { name: 'store: 16 callers, 1 address/request', nics: 1, run: (d) => store(d, 16, 1) },
    { name: 'store: 64 callers, 1 address/request', nics: 1, run: (d) => store(d, 64, 1) },
    { name: 'store: 64 callers, 2 addresses/request', nics: 2, run: (d) => store(d, 64, 2) },
    { name: 'store: 1 caller, fsync off (logic + write only)', nics: 1, run: (d) => store(d, 1, 1, false) },
  ];
  const rates = cases.map(() => [] as number[]);
  const perCommit = cases.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, c] of cases.entries()) {
      const dir = join(root, `r${r}-c${i}`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir);
      const res = await c.run(dir);
      rates[i]?.push(res.rate);
      if (res.perCommit !== undefined) perCommit[i]?.push(res.perCommit);
      await rm(dir, { recursive: true, force: true });
    }
  }
  const base = median(rates[0] as number[]);
  console.log(`IPAM store bench: N=${N} requests per case, ${ROUNDS} rounds (median), node ${process.version}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}, dir ${root}`);
  for (const [i, c] of cases.entries()) {
    const rate = median(rates[i] as number[]);
    const pc = perCommit[i]?.length ? `  records/sync ${median(perCommit[i] as number[]).toFixed(1)}` : '';
    const line = `${c.name.padEnd(52)} ${rate.toFixed(0).padStart(7)} req/s ${(rate * c.nics).toFixed(0).padStart(7)} addr/s`;
    console.log(`${line}  ratio ${(rate / base).toFixed(2)}x baseline${pc}`);
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
