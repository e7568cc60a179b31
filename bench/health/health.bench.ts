// CPU per continuous-health round (src/agent/health.ts) on a simulated 32-host x 8-NIC cluster, as
// ratios against baselines run side by side in the same process, variants alternating round by round:
//   probes off: the same round (targets, grouping, budget, report, conditions) with the TCP probe a no-op;
//   probes on:  the real TCP probe to every peer over every NIC (248 connections at 32 x 8);
// and the same at 8 and 16 hosts, to show the cost grows with hosts x NICs. Peers are loopback
// addresses (127.<nic>.0.<host>, nothing listening: each probe is a real connect answered by a RST),
// so it needs no privileges. Not measured here: the test attachments (2 delegate execs per NIC per
// round; they need root and real NICs, see test/lab/lab-health.test.ts), skipped as without CAP_SYS_ADMIN.
//   bash bench/health/run.sh [rounds]
import { loadavg } from 'node:os';
import { HealthChecker, tcpAnswers } from '../../src/agent/health.js';
import type { CIDR, MultiNicNetwork } from '../../src/lib/crds/types.gen.js';
import { healthConditions } from '../../src/lib/diagnostics/health.js';

const ROUNDS = Number(process.argv[2] ?? 20);
const NICS = 8;

function cluster(hosts: number): { network: MultiNicNetwork; cidr: CIDR } {
  const network = { apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', metadata: { name: 'bench' }, spec: { subnet: '192.168.0.0/16', ipam: '{"type":"multi-nic-ipam","hostBlock":5,"interfaceBlock":3}', multiNICIPAM: true, plugin: { cniVersion: '0.3.0', type: 'macvlan' } } } as unknown as MultiNicNetwork;
  const cidr = {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'CIDR',
    metadata: { name: 'bench' },
    spec: {
      config: {},
      cidr: Array.from({ length: NICS }, (_, n) => ({
        netAddress: `127.${n + 1}.0.0/24`,
        interfaceIndex: n,
        vlanCIDR: `192.168.${n * 32}.0/19`,
        hosts: Array.from({ length: hosts }, (_, h) => ({ hostIndex: h, hostName: `host${h + 1}`, interfaceName: `eth${n + 1}`, hostIP: `127.${n + 1}.0.${h + 1}`, podCIDR: `192.168.${n * 32 + h}.0/24` })),
      })),
    },
  } as unknown as CIDR;
  return { network, cidr };
}

function checker(hosts: number, probesOn: boolean): HealthChecker {
  const net = cluster(hosts);
  return new HealthChecker({
    nodeName: 'host1',
    networks: () => [net],
    core: { hostNics: () => [] },
    ipam: { allocate: async () => [], release: async () => [], list: () => [] },
    nics: () => Array.from({ length: NICS }, (_, n) => ({ interfaceName: `eth${n + 1}` }) as never),
    lentTo: () => undefined,
    cniBinDirs: [],
    intervalMs: 60_000,
    port: 9,
    netnsName: 'bench-health-0',
    netnsDenied: 'bench: test attachments not measured',
    probe: probesOn ? tcpAnswers : async () => true,
  });
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const variants = [
    { name: '32x8 probes off', c: checker(32, false), peers: 31 * NICS },
    { name: '32x8 probes on', c: checker(32, true), peers: 31 * NICS },
    { name: '16x8 probes on', c: checker(16, true), peers: 15 * NICS },
    { name: '8x8 probes on', c: checker(8, true), peers: 7 * NICS },
  ];
  for (const v of variants) await v.c.run(); // warm-up
  const cpu = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const wall = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of variants) {
      const t0 = process.hrtime.bigint();
      const u0 = process.cpuUsage();
      const rep = await v.c.run();
      healthConditions(rep, undefined, rep.observedAt);
      cpu.get(v.name)!.push(cpuMs(process.cpuUsage(u0)));
      wall.get(v.name)!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const reached = rep.nics.reduce((s, n) => s + n.reachable, 0);
      if (reached !== v.peers) throw new Error(`${v.name}: ${reached}/${v.peers} peers answered`);
    }
  }
  const base = median(cpu.get('32x8 probes off')!);
  const rows = variants.map((v) => ({ variant: v.name, probes: v.name.includes('on') ? v.peers : 0, cpuMsPerRound: +median(cpu.get(v.name)!).toFixed(2), wallMsPerRound: +median(wall.get(v.name)!).toFixed(1), ratioToProbesOff: +(median(cpu.get(v.name)!) / base).toFixed(2), cpuUsPerProbe: v.name.includes('on') ? +((median(cpu.get(v.name)!) * 1000) / v.peers).toFixed(1) : null }));
  console.table(rows);
  console.log(JSON.stringify({ apiVersion: 'v1', kind: 'HealthBench', rounds: ROUNDS, node: process.version, loadavg: loadavg(), rows }, null, 1));
}

void main();
