#!/usr/bin/env node
// Planner scaling bench (issue 2): 4096 hosts x 8 NICs on 10.0.0.0/8 (interfaceBlock 3, hostBlock
// 12) and an IPv6 equivalent, at 1/4, 1/2 and full size. Each size runs in its own process so peak
// RSS is that size's alone. Figures are ratios: time per doubling (2.0 = linear), and planner time
// against a baseline run side by side in the same process (structuredClone of the same inventory,
// an O(n) walk of the same data; and the floor for any planner fed this inventory: JSON.parse of its
// text), so machine load cancels out. Goal (issue 14): the planner alone at 4096 x 8 <= 100 ms.
// Every size runs on the runtime that ships the planner (the image's and the krew archive's Node 24,
// scripts/node24.sh: the agent re-plans with it, `plan` runs on it), not on whatever `node` runs
// this script; --node picks another.
// --against DIR: every size also runs DIR's planner (another built checkout, e.g. main's), right
// after this one's, and the ratios of the two are printed.
// Usage: node bench/plan/run.mjs [--runs N] [--node PATH] [--against DIR]   (needs `make build`: runs against dist/)
/* global structuredClone */
import { execFileSync, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const flag = (k) => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
const runs = Number(flag('--runs')) || 7;
const against = flag('--against');

const FAMILIES = {
  ipv4: {
    subnet: '10.0.0.0/8',
    // 8 NIC networks of /19 (8190 addresses each) in 172.16.0.0/16.
    nic: (k, i) => ({ netAddress: `172.16.${k * 32}.0/19`, hostIP: `172.16.${k * 32 + (i + 1 >> 8)}.${(i + 1) & 255}` }),
  },
  ipv6: {
    subnet: 'fd00:a::/49',
    nic: (k, i) => ({ netAddress: '10.255.0.0/24', hostIP: '10.255.0.1', netAddressV6: `fd10:${k}::/64`, hostIPv6: `fd10:${k}::${(i + 1).toString(16)}` }),
  },
};

async function child(family, hosts) {
  const dist = process.env.MULTINIC_PLAN_BENCH_DIST ? pathToFileURL(`${process.env.MULTINIC_PLAN_BENCH_DIST}/`).href : new URL('../../dist/', import.meta.url).href;
  const { validateNetwork, validateNetworkForInventory } = await import(`${dist}lib/network.js`);
  const { planNetwork } = await import(`${dist}lib/plan/index.js`);
  const { checkPool } = await import(`${dist}lib/pool-check.js`);
  const { nicsOf } = await import(`${dist}lib/inventory.js`);
  const f = FAMILIES[family];
  const inventory = [];
  for (let i = 0; i < hosts; i++) {
    const name = `node-${String(i).padStart(5, '0')}`;
    inventory.push({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name }, spec: { hostName: name, interfaces: Array.from({ length: 8 }, (_, k) => ({ interfaceName: `eth${k}`, ...f.nic(k, i) })) } });
  }
  const doc = {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'MultiNicNetwork',
    metadata: { name: 'bench' },
    spec: { subnet: f.subnet, ipam: JSON.stringify({ type: 'multi-nic-ipam', interfaceBlock: 3, hostBlock: 12, vlanMode: 'l3' }), plugin: { cniVersion: '0.3.0', type: 'ipvlan' } },
  };
  const network = validateNetwork({ source: 'bench#1', value: doc });
  // CPU time (user + system, all threads incl. GC) rather than wall time: the CI machine is shared,
  // and a loaded machine stretches wall time without changing the work done.
  const timeIt = (fn) => {
    const c = process.cpuUsage();
    const r = fn();
    const d = process.cpuUsage(c);
    return [(d.user + d.system) / 1e3, r];
  };
  const plans = [];
  const replans = [];
  const bases = [];
  const parses = [];
  const text = JSON.stringify(inventory);
  let pools = 0;
  let first;
  for (let r = 0; r < runs; r++) {
    const [b] = timeIt(() => structuredClone(inventory));
    const [j] = timeIt(() => JSON.parse(text));
    parses.push(j);
    // As the plan command does: the NICs parsed once, shared by validation, planner and checks.
    const [p, res] = timeIt(() => {
      const nics = nicsOf(inventory, network.family);
      validateNetworkForInventory(network, inventory, nics);
      const out = planNetwork({ network, inventory, nics });
      checkPool(network, inventory, nics);
      return out;
    });
    first ??= res;
    // The agent's path: re-plan with the previous CIDR (every host kept).
    const [q] = timeIt(() => planNetwork({ network, inventory, previous: first.cidr }));
    if (res.unplaced.length) throw new Error(`${res.unplaced.length} unplaced`);
    pools = res.pools.length;
    bases.push(b);
    plans.push(p);
    replans.push(q);
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ family, hosts, pools, planMs: med(plans), replanMs: med(replans), baselineMs: med(bases), jsonParseMs: med(parses), rssMB }));
}

function main() {
  const node = flag('--node') ?? execFileSync('bash', [join(dirname(here), '../../scripts/node24.sh')], { encoding: 'utf8' }).trim();
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  const rows = [];
  const load = [loadavg()];
  for (const family of Object.keys(FAMILIES)) {
    for (const hosts of [1024, 2048, 4096]) {
      const once = (distDir) => {
        const env = distDir ? { ...process.env, MULTINIC_PLAN_BENCH_DIST: distDir } : process.env;
        const r = spawnSync(node, ['--expose-gc', here, '--child', family, String(hosts), '--runs', String(runs)], { encoding: 'utf8', env });
        if (r.status !== 0) throw new Error(`${family} ${hosts}${distDir ? ` (${distDir})` : ''}: ${r.stderr}`);
        return JSON.parse(r.stdout);
      };
      const row = once();
      if (against) row.other = once(join(against, 'dist'));
      rows.push(row);
    }
  }
  load.push(loadavg());
  const fmt = (n, d = 1) => n.toFixed(d);
  console.log(`planner scaling on node ${version}, CPU ms, median of ${runs} runs per size (plan = nicsOf + validate against inventory + planNetwork + checkPool, as the plan command runs them; replan = planNetwork with the previous CIDR; baseline = structuredClone of the inventory; JSON.parse = of the inventory's text); load ${load.map((l) => l.map((x) => x.toFixed(1)).join(' ')).join(' -> ')}`);
  console.log('family  hosts  pools   plan ms  x/doubling  replan ms  x/doubling  baseline ms  plan/baseline  JSON.parse ms  plan/parse  peak RSS MB');
  let prev;
  for (const r of rows) {
    const same = prev && prev.family === r.family;
    console.log(
      [
        r.family.padEnd(6),
        String(r.hosts).padStart(5),
        String(r.pools).padStart(6),
        fmt(r.planMs).padStart(9),
        (same ? fmt(r.planMs / prev.planMs, 2) : '-').padStart(11),
        fmt(r.replanMs).padStart(10),
        (same ? fmt(r.replanMs / prev.replanMs, 2) : '-').padStart(11),
        fmt(r.baselineMs).padStart(12),
        fmt(r.planMs / r.baselineMs, 2).padStart(14),
        fmt(r.jsonParseMs).padStart(14),
        fmt(r.planMs / r.jsonParseMs, 2).padStart(11),
        fmt(r.rssMB, 0).padStart(12),
      ].join(' '),
    );
    prev = r;
  }
  if (against) {
    console.log(`against ${against} (its planner right after this one's, same runtime): CPU of this checkout / CPU of that one`);
    console.log('family  hosts  plan x  replan x');
    for (const r of rows) console.log([r.family.padEnd(6), String(r.hosts).padStart(5), fmt(r.planMs / r.other.planMs, 2).padStart(7), fmt(r.replanMs / r.other.replanMs, 2).padStart(9)].join(' '));
  }
  for (const r of rows.filter((x) => x.hosts === 4096)) console.log(`goal: ${r.family} planner alone at 4096 x 8 <= 100 ms: ${fmt(r.planMs)} ms, ${r.planMs <= 100 ? 'met' : 'not met'}`);
}

if (args[0] === '--child') await child(args[1], Number(args[2]));
else main();
