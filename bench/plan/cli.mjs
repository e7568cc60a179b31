#!/usr/bin/env node
// The plan command as a user runs it (issue goal: 4096 hosts x 8 NICs, the whole CLI, <= 0.5 s
// and <= 150 MB, IPv4 and IPv6): `bin/kubectl-multinic plan -f NET --inventory HOSTS.json -o json`
// in a fresh process, interleaved with a baseline in the same run: `node` reading and JSON.parse-ing
// the same inventory and writing the same size of output (the floor any Node CLI pays for this
// input). Prints wall, CPU (user+sys of the child) and peak RSS, the ratios, the goal and a verdict.
// Every process runs on the runtime that ships (the krew archive's and the image's Node 24,
// scripts/node24.sh), not on whatever `node` runs this script. A third row, `floor`, is the same
// command over examples/ (3 hosts): what the CLI costs before any planning (Node, oclif, the
// command's modules), against `node -e 0`.
// Usage: node bench/plan/cli.mjs [--runs N] [--hosts N] [--against DIR] [--node PATH]   (needs `make build`: runs dist/)
// --against DIR: also runs DIR/bin/kubectl-multinic (another built checkout, e.g. main's) in the
// same rounds, and prints this checkout's figures against it. --node: another runtime.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
const runs = opt('--runs', 5);
const hosts = opt('--hosts', 4096);
const against = args.includes('--against') ? args[args.indexOf('--against') + 1] : undefined;
const node = args.includes('--node') ? args[args.indexOf('--node') + 1] : execFileSync('bash', [join(repo, 'scripts/node24.sh')], { encoding: 'utf8' }).trim();
const nodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();

const FAMILIES = {
  ipv4: {
    subnet: '10.0.0.0/8',
    nic: (k, i) => ({ netAddress: `172.16.${k * 32}.0/19`, hostIP: `172.16.${k * 32 + ((i + 1) >> 8)}.${(i + 1) & 255}` }),
  },
  ipv6: {
    subnet: 'fd00:a::/49',
    nic: (k, i) => ({ netAddress: '10.255.0.0/24', hostIP: '10.255.0.1', netAddressV6: `fd10:${k}::/64`, hostIPv6: `fd10:${k}::${(i + 1).toString(16)}` }),
  },
};

const dir = mkdtempSync(join(tmpdir(), 'mn-plan-bench-'));
const measure = (argv) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 30 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return { wall, ...JSON.parse(r.stderr.trim().split('\n').pop()) };
};
// The child's CPU and peak RSS: a tiny preload prints its own resourceUsage at exit on stderr.
const probe = join(dir, 'probe.cjs');
writeFileSync(probe, `process.on('exit',()=>{const u=process.resourceUsage();process.stderr.write('\\n'+JSON.stringify({cpu:(u.userCPUTime+u.systemCPUTime)/1e3,rss:u.maxRSS/1024})+'\\n')});\n`);
const base = join(dir, 'base.mjs');
writeFileSync(base, `import {readFileSync,writeFileSync} from 'node:fs';const v=JSON.parse(readFileSync(process.argv[2],'utf8'));writeFileSync('/dev/null',JSON.stringify(v,null,2)+JSON.stringify(v,null,2));\n`);

const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
try {
  for (const [family, f] of Object.entries(FAMILIES)) {
    const items = [];
    for (let i = 0; i < hosts; i++) {
      const name = `node-${String(i).padStart(5, '0')}`;
      items.push({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name }, spec: { hostName: name, interfaces: Array.from({ length: 8 }, (_, k) => ({ interfaceName: `eth${k}`, ...f.nic(k, i) })) } });
    }
    const inv = join(dir, `${family}.json`);
    writeFileSync(inv, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, 2));
    const net = join(dir, `${family}-net.yaml`);
    writeFileSync(net, `apiVersion: multinic.fms.io/v1\nkind: MultiNicNetwork\nmetadata:\n  name: bench\nspec:\n  subnet: "${f.subnet}"\n  ipam: '{"type":"multi-nic-ipam","interfaceBlock":3,"hostBlock":12,"vlanMode":"l3"}'\n  plugin:\n    cniVersion: "0.3.0"\n    type: ipvlan\n`);
    const cli = [node, '--require', probe, join(repo, 'bin/kubectl-multinic'), 'plan', '-f', net, '--inventory', inv, '-o', 'json'];
    const floor = [node, '--require', probe, base, inv];
    const other = against && [node, '--require', probe, join(against, 'bin/kubectl-multinic'), ...cli.slice(4)];
    const a = [];
    const b = [];
    const o = [];
    for (let r = 0; r < runs; r++) {
      b.push(measure(floor));
      a.push(measure(cli));
      if (other) o.push(measure(other));
    }
    const pick = (xs, k) => med(xs.map((x) => x[k]));
    const fig = (xs) => ({ wall: pick(xs, 'wall'), cpu: pick(xs, 'cpu'), rss: pick(xs, 'rss') });
    rows.push({ family, cli: fig(a), base: fig(b), ...(other ? { other: fig(o) } : {}) });
  }
  // The fixed cost: plan over examples/ (3 hosts x 2 NICs) against the runtime's own start.
  const small = [node, '--require', probe, join(repo, 'bin/kubectl-multinic'), 'plan', '-f', join(repo, 'examples/network.yaml'), '--inventory', join(repo, 'examples/hosts.yaml'), '-o', 'json'];
  const bare = [node, '--require', probe, '-e', '0'];
  const otherSmall = against && [node, '--require', probe, join(against, 'bin/kubectl-multinic'), ...small.slice(4)];
  const a = [];
  const b = [];
  const o = [];
  for (let r = 0; r < runs * 3; r++) {
    b.push(measure(bare));
    a.push(measure(small));
    if (otherSmall) o.push(measure(otherSmall));
  }
  const pick = (xs, k) => med(xs.map((x) => x[k]));
  const fig = (xs) => ({ wall: pick(xs, 'wall'), cpu: pick(xs, 'cpu'), rss: pick(xs, 'rss') });
  rows.push({ family: 'floor', cli: fig(a), base: fig(b), ...(otherSmall ? { other: fig(o) } : {}) });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const [l1, l5] = loadavg();
console.log(`plan, whole CLI on node ${nodeVersion}: ${hosts} hosts x 8 NICs, -o json, median of ${runs} interleaved runs (floor: ${runs * 3}); load ${l1.toFixed(2)} ${l5.toFixed(2)} (1/5 min, 2 cores shared)`);
console.log('baseline = node reading + JSON.parse of the same inventory and writing twice its size; for floor (plan over examples/, 3 hosts), node -e 0');
console.log('family  cli wall ms  cli CPU ms  cli RSS MB  base wall ms  base CPU ms  base RSS MB  wall x  CPU x  goal (wall <= 500 ms, RSS <= 150 MB)  verdict');
for (const r of rows) {
  const ok = r.cli.wall <= 500 && r.cli.rss <= 150;
  const verdict = r.family === 'floor' ? '(no goal)' : ok ? 'met' : 'NOT met';
  if (r.other) console.log(`${r.family}: against ${against}: wall ${r.other.wall.toFixed(0)} ms, CPU ${r.other.cpu.toFixed(0)} ms, RSS ${r.other.rss.toFixed(0)} MB; this checkout / that one: wall ${(r.cli.wall / r.other.wall).toFixed(2)}x, CPU ${(r.cli.cpu / r.other.cpu).toFixed(2)}x, RSS ${(r.cli.rss / r.other.rss).toFixed(2)}x`);
  console.log([r.family.padEnd(6), r.cli.wall.toFixed(0).padStart(11), r.cli.cpu.toFixed(0).padStart(11), r.cli.rss.toFixed(0).padStart(11), r.base.wall.toFixed(0).padStart(13), r.base.cpu.toFixed(0).padStart(12), r.base.rss.toFixed(0).padStart(12), (r.cli.wall / r.base.wall).toFixed(2).padStart(7), (r.cli.cpu / r.base.cpu).toFixed(2).padStart(6), ''.padStart(37), verdict].join(' '));
}
