// Claims at cluster scale (issue: 4,096 nodes x 8 NICs). N claimers, each the agent's real claim
// code (claimCidr: the one-CIDR compare-and-swap agents run today; claimByCreate: one CIDRClaim
// object per index, created) against the real API stand-in over HTTP, with etcd's 1.5 MiB object
// limit. The stand-in runs in this process (its CPU is this process's); the claimers run in
// --procs child processes (the same bundle, --child), every claimer started at once as at a
// cluster's first rollout. Both designs run side by side per size, so the ratio column compares
// them under the same load. Per run: time until every host holds all its indexes (capped), hosts
// claimed, writes and bytes (the store's own counters), conflicts, the largest object, refused
// writes (over the limit) and stand-in CPU. Without netns or data path: only the API side scales.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimCidr } from '../../src/agent/kube/claim.js';
import { claimByCreate } from '../../src/agent/kube/claim-objects.js';
import { startApiServer, writeKubeconfig } from '../../src/lab/apiserver/index.js';
import { connect } from '../../src/kube/client.js';
import type { KubeApi } from '../../src/kube/api.js';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import type { HostInterface, MultiNicNetwork } from '../../src/lib/crds/types.gen.js';
import { R } from '../../src/lib/k8s/resources.js';

const args = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? def) : def;
};
const NICS = Number(flag('nics', '8'));
const PROCS = Number(flag('procs', '2'));
const CAP_MS = Number(flag('cap-s', '60')) * 1000;
const INFLIGHT = Number(flag('inflight', '64'));
const NET = 'scale';

function network(): MultiNicNetwork {
  // 172.16.0.0/12: 3 interface bits (8 NIC networks), 12 host bits (4,096 hosts), /27 pod blocks.
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'MultiNicNetwork',
    metadata: { name: NET },
    spec: { subnet: '172.16.0.0/12', ipam: JSON.stringify({ type: 'multi-nic-ipam', hostBlock: 12, interfaceBlock: 3, vlanMode: 'l3' }), multiNICIPAM: true, plugin: { cniVersion: '0.3.0', type: 'ipvlan', args: { mode: 'l3' } }, attachPolicy: { strategy: 'none' } },
  } as MultiNicNetwork;
}

/** Host i: NIC n on 10.n.0.0/16 with address 10.n.(i>>8).(i&255)+1 (as discovery reports it). */
function host(i: number): HostInterface {
  const name = `node-${String(i).padStart(5, '0')}`;
  const interfaces = Array.from({ length: NICS }, (_, n) => {
    const a = i + 1;
    return { interfaceName: `eth${n}`, netAddress: `10.${n}.0.0/16`, hostIP: `10.${n}.${a >> 8}.${a & 255}`, vendor: '15b3', product: '101d' };
  });
  return { apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name }, spec: { hostName: name, interfaces } };
}

interface ChildResult {
  done: number;
  failed: number;
  conflicts: number;
  lastMs: number;
  errors: string[];
}

/** --child: claim for hosts [from, to) of n with `design`, then print a ChildResult. */
async function child(): Promise<void> {
  const [kubeconfig, design, fromS, toS, nS, t0S] = args.slice(1);
  const n = Number(nS);
  const t0 = Number(t0S);
  const clients: KubeApi[] = [];
  for (let i = 0; i < 8; i++) clients.push(await connect({ kubeconfig: kubeconfig ?? '', requestTimeout: '60s' }));
  const net = (await clients[0]!.get<MultiNicNetwork>(R.MultiNicNetwork, NET))!;
  const all = Array.from({ length: n }, (_, i) => host(i));
  const res: ChildResult = { done: 0, failed: 0, conflicts: 0, lastMs: 0, errors: [] };
  const deadline = t0 + CAP_MS;
  // At most INFLIGHT claimers at once per process: N real agents each have their own CPU for
  // planning, these share one, so an unbounded fan-out would only time out requests client-side.
  let next = Number(fromS);
  const one = async (i: number): Promise<void> => {
    const api = clients[i % clients.length]!;
    const own = all[i]!;
    await (async () => {
        try {
          if (design === 'cidr') {
            // The agent retries a failed round on its next node loop: so does the bench, until the cap.
            for (;;) {
              try {
                const o = await claimCidr({ api, network: net, own });
                res.conflicts += o.conflicts;
                break;
              } catch (e) {
                if (Date.now() > deadline || !/after \d+ attempts/.test((e as Error).message)) throw e;
                res.conflicts += Number(/\((\d+) conflicts\)/.exec((e as Error).message)?.[1] ?? 0);
              }
            }
          } else {
            const o = await claimByCreate({ api, network: net, own, hosts: all, claims: [] });
            res.conflicts += o.conflicts;
          }
          res.done++;
          res.lastMs = Math.max(res.lastMs, Date.now() - t0);
        } catch (e) {
          res.failed++;
          if (res.errors.length < 3) res.errors.push((e as Error).message.slice(0, 200));
        }
    })();
  };
  const end = Number(toS);
  await Promise.all(Array.from({ length: INFLIGHT }, async () => {
    while (next < end) await one(next++);
  }));
  process.stdout.write(JSON.stringify(res));
}

interface Run {
  design: 'cidr' | 'claims';
  n: number;
  ms: number;
  claimed: number;
  writes: number;
  bytes: number;
  conflicts: number;
  largest: number;
  refused: number;
  cpuMs: number;
  errors: string[];
}

async function runOnce(design: 'cidr' | 'claims', n: number): Promise<Run> {
  const server = await startApiServer({ historyLimit: 200 });
  const dir = mkdtempSync(join(tmpdir(), 'mn-bench-claims-'));
  try {
    for (const crd of CRDS) server.store.create(structuredClone(crd) as never);
    server.store.create(network() as never);
    const kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, server.url);
    server.store.resetWriteStats();
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    const per = Math.ceil(n / PROCS);
    const kids = Array.from({ length: PROCS }, (_, p) => {
      const from = p * per;
      const to = Math.min(n, from + per);
      return new Promise<ChildResult>((resolve, reject) => {
        const c = spawn(process.execPath, [process.argv[1] ?? '', '--child', kubeconfig, design, String(from), String(to), String(n), String(t0), '--cap-s', String(CAP_MS / 1000), '--nics', String(NICS), '--inflight', String(INFLIGHT)], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as ChildResult) : reject(new Error(`claimer process exited ${code}`))));
      });
    });
    const results = await Promise.all(kids);
    const cpu = process.cpuUsage(cpu0);
    const key = design === 'cidr' ? 'multinic.fms.io/cidrs' : 'multinic.fms.io/cidrclaims';
    const st = server.store.writeStats(key);
    const claimed = results.reduce((s, r) => s + r.done, 0);
    return {
      design,
      n,
      ms: claimed === n ? Math.max(...results.map((r) => r.lastMs)) : Number.NaN,
      claimed,
      writes: st.creates + st.updates,
      bytes: st.bytes,
      conflicts: results.reduce((s, r) => s + r.conflicts, 0),
      largest: st.largest,
      refused: st.refused,
      cpuMs: (cpu.user + cpu.system) / 1000,
      errors: [...new Set(results.flatMap((r) => r.errors))].slice(0, 2),
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmtB = (b: number): string => (b >= 1 << 30 ? `${(b / (1 << 30)).toFixed(2)} GiB` : b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(1)}x` : '-');

async function main(): Promise<void> {
  const sizes = (args.find((a) => /^\d+(,\d+)*$/.test(a)) ?? '256,1024').split(',').map(Number);
  console.log(`# claims bench: ${NICS} NICs per host, ${PROCS} claimer processes x ${INFLIGHT} claims in flight, cap ${CAP_MS / 1000} s; ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('| nodes | design | all claimed in | hosts claimed | writes | writes/agent/NIC net | bytes written | bytes/agent | conflicts | largest object | refused (>1.5 MiB) | stand-in CPU |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  const report: Run[] = [];
  for (const n of sizes) {
    const runs: Record<string, Run> = {};
    for (const design of ['cidr', 'claims'] as const) {
      const r = await runOnce(design, n);
      runs[design] = r;
      report.push(r);
      const time = Number.isNaN(r.ms) ? `not within ${CAP_MS / 1000} s` : `${(r.ms / 1000).toFixed(2)} s`;
      console.log(`| ${n} | ${design === 'cidr' ? 'one CIDR, CAS (today)' : 'CIDRClaim by create'} | ${time} | ${r.claimed}/${n} | ${r.writes} | ${(r.writes / n / NICS).toFixed(3)} | ${fmtB(r.bytes)} | ${fmtB(r.bytes / n)} | ${r.conflicts} | ${fmtB(r.largest)} | ${r.refused} | ${(r.cpuMs / 1000).toFixed(1)} s |`);
      for (const e of r.errors) console.log(`|   | ${design} error | ${e.replace(/\|/g, '/')} |`);
    }
    const a = runs.cidr!;
    const b = runs.claims!;
    console.log(`| ${n} | today / by-create | ${ratio(a.ms, b.ms)} | | ${ratio(a.writes, b.writes)} | | ${ratio(a.bytes, b.bytes)} | | | ${ratio(a.largest, b.largest)} | | ${ratio(a.cpuMs, b.cpuMs)} |`);
  }
  console.log(`# load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

if (args[0] === '--child') await child();
else await main();
