// The agent's continuous health check without privileges: the bounded runner (concurrency, time
// budget), the real TCP probe on loopback (accepted and refused are answers, a black hole is not),
// a round over the real IPAM store (a test address left by a crash is released at start; peers
// grouped per NIC; a NIC that is down fails at once), and the whole agent in --kube mode against the
// API stand-in publishing NICAllocatable / NICReachable (Unknown without CAP_SYS_ADMIN, saying so)
// and the health block. The real delegate in a real namespace: test/lab/lab-health.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentCore } from '../../src/agent/core.js';
import { HealthChecker, bounded, tcpAnswers } from '../../src/agent/health.js';
import { openIpamStore } from '../../src/agent/ipam/store.js';
import { runAgent } from '../../src/agent/main.js';
import type { DiscoveredNic } from '../../src/lib/agent/discovery.js';
import { HEALTH_POD_UID } from '../../src/lib/diagnostics/health.js';
import type { NodeCondition } from '../../src/lib/diagnostics/conditions.js';
import { FakeHostNetwork } from '../fakes/hostnet.js';
import { StaticState, testCidr, testNetwork } from './helpers/network.js';
import { AGENT_NS, createNetwork, createNode, eventually, hostNics, seedNetwork, testCluster } from './kube/helpers.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'op-health-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const nic = (name: string, ip: string): DiscoveredNic => ({ interfaceName: name, netAddress: `${ip.split('.').slice(0, 3).join('.')}.0/24`, hostIP: ip, state: 'up', mtu: 1500, ifindex: 3 }) as DiscoveredNic;

describe('bounded', () => {
  it('runs at most `limit` at once and starts nothing after the deadline', async () => {
    let inFlight = 0;
    let peak = 0;
    const job = (ms: number) => async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
      return ms;
    };
    expect(await bounded(Array.from({ length: 20 }, () => job(5)), 4, Date.now() + 10_000)).toEqual(Array(20).fill(5));
    expect(peak).toBe(4);
    // 2 workers x 50 ms jobs, 120 ms budget: the first 4-6 start, the rest are not probed.
    const r = await bounded(Array.from({ length: 20 }, () => job(50)), 2, Date.now() + 120);
    const started = r.filter((x) => x !== undefined).length;
    expect(started).toBeGreaterThanOrEqual(4);
    expect(started).toBeLessThanOrEqual(6);
    expect(r.slice(started).every((x) => x === undefined)).toBe(true);
  });
});

describe('tcpAnswers', () => {
  let server: Server;
  it('an accepted and a refused connection are answers; a black hole is not', async () => {
    server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    expect(await tcpAnswers('127.0.0.1', '127.0.0.1', port, 1000)).toBe(true);
    server.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(await tcpAnswers('127.0.0.1', '127.0.0.1', port, 1000)).toBe(true); // RST: the host answered
    // TEST-NET-1 (RFC 5737) from a loopback source: no answer, within the timeout.
    const t0 = Date.now();
    expect(await tcpAnswers('127.0.0.1', '192.0.2.1', 9417, 300)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('HealthChecker over the real IPAM store', () => {
  it('releases a test address left by a crash, probes each peer once per NIC within the bounds, fails a NIC that is down, skips without CAP_SYS_ADMIN', async () => {
    const dir = tmp();
    const store = await openIpamStore({ dir: join(dir, 'ipam'), fsync: false });
    const net = testNetwork();
    const cidr = testCidr(['h1', 'h2', 'h3', 'h4']);
    const state = new StaticState([{ network: net, cidr }]);
    let nics = [nic('eth1', '10.0.1.1'), nic('eth2', '10.0.2.1')];
    const core = new AgentCore({ hostName: 'h1', state, ipam: store, nics: () => nics });
    // What a crash mid-round leaves: the test address still held in the journal.
    const pool = core.hostNics(state.nets[0]!)[0]!.addressing.pool;
    store.setPools(core.hostNics(state.nets[0]!).map((m) => m.addressing.pool));
    await store.allocate([{ pool, key: { podUID: HEALTH_POD_UID, containerID: 'multinic-health-eth1', interface: 'mnhc0-0' }, podName: HEALTH_POD_UID, namespace: '' }]);
    expect(store.list()).toHaveLength(1);
    const probed: string[] = [];
    let peak = 0;
    let inFlight = 0;
    const checker = new HealthChecker({
      nodeName: 'h1',
      networks: () => state.networks(),
      core,
      ipam: store,
      nics: () => nics,
      lentTo: () => undefined,
      cniBinDirs: ['/nonexistent'],
      intervalMs: 60_000,
      concurrency: 2,
      netnsName: 'op-unit-health-1',
      netnsDenied: 'CapEff has no CAP_SYS_ADMIN',
      probe: async (from, to) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        probed.push(`${from}->${to}`);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        return to !== '10.0.2.3';
      },
    });
    await checker.sweep();
    expect(store.list()).toEqual([]);
    const r = await checker.run();
    expect(probed.sort()).toEqual(['10.0.1.1->10.0.1.2', '10.0.1.1->10.0.1.3', '10.0.1.1->10.0.1.4', '10.0.2.1->10.0.2.2', '10.0.2.1->10.0.2.3', '10.0.2.1->10.0.2.4']);
    expect(peak).toBe(2);
    expect(r.nics.map((n) => [n.nic, n.peers, n.reachable, n.unreachable, n.allocability.map((a) => a.outcome)])).toEqual([
      ['eth1', 3, 3, [], ['skipped']],
      ['eth2', 3, 2, ['h3 10.0.2.3'], ['skipped']],
    ]);
    expect(r.nics[0]!.allocability[0]!.message).toMatch(/needs CAP_SYS_ADMIN .*install with --pod-netns-access/);
    // eth2 down: nothing probed over it, every peer unreachable, its test attachment fails at once.
    nics = [nic('eth1', '10.0.1.1')];
    probed.length = 0;
    const r2 = await new HealthChecker({ nodeName: 'h1', networks: () => state.networks(), core, ipam: store, nics: () => nics, lentTo: () => undefined, cniBinDirs: [], intervalMs: 60_000, netnsName: 'op-unit-health-2', netnsDenied: 'no CAP_SYS_ADMIN', probe: async (_f, to) => (probed.push(to), true) }).run();
    expect(probed.every((p) => p.startsWith('10.0.1.'))).toBe(true);
    expect(r2.nics[1]).toMatchObject({ nic: 'eth2', reachable: 0, unreachableCount: 3, allocability: [{ network: 'mnet', outcome: 'failed', message: 'NIC eth2 is not up in the host: the agent attaches no pod to it' }] });
    expect(store.list()).toEqual([]);
    await store.close();
  });
});

describe('the agent publishes its health rounds (--kube, API stand-in)', () => {
  it('NICAllocatable and NICReachable on the HostInterface after Ready, and the health block', async () => {
    const c = await testCluster();
    const dir = tmp();
    writeFileSync(join(dir, 'rt_tables'), '254\tmain\n');
    createNode(c, 'n1');
    createNetwork(c, seedNetwork());
    const agent = await runAgent({
      nodeName: 'n1',
      socketPath: join(dir, 'a.sock'),
      dataDir: join(dir, 'data'),
      rtTablesPath: join(dir, 'rt_tables'),
      cniBinDirs: [join(dir, 'bin')],
      hostNet: new FakeHostNetwork(),
      discover: async () => hostNics(0).map((n, i) => ({ ...n, ifindex: 10 + i })),
      watch: false,
      podNetnsAccess: false,
      healthIntervalMs: 1000,
      probeIntervalMs: 1000,
      kube: { api: await c.client(), namespace: AGENT_NS, tuning: { nodeResyncMs: 500, leaseDurationSeconds: 2, leaseRetryMs: 100, informerBackoffMs: { initial: 20, max: 200 } } },
      log: () => undefined,
    });
    try {
      const hi = await eventually(() => {
        const o = c.server.store.get('multinic.fms.io/v1', 'HostInterface', 'n1') as { status?: { conditions?: NodeCondition[]; diagnostics?: { health?: { nics: unknown[] } } } } | undefined;
        const types = o?.status?.conditions?.map((x) => x.type) ?? [];
        if (!types.includes('NICReachable') || (o?.status?.diagnostics?.health?.nics.length ?? 0) < 2) throw new Error(`not yet: ${types.join(',')}`);
        return o!;
      }, 20_000);
      const conds = hi.status!.conditions!;
      expect(conds.map((x) => x.type).slice(-3)).toEqual(['Ready', 'NICAllocatable', 'NICReachable']);
      expect(conds.find((x) => x.type === 'NICAllocatable')).toMatchObject({ status: 'Unknown', reason: 'NotTested', message: expect.stringMatching(/^skipped eth1 \(multi-nic-sample\): needs CAP_SYS_ADMIN/) });
      expect(conds.find((x) => x.type === 'NICReachable')).toMatchObject({ status: 'Unknown', reason: 'NoPeers' });
    } finally {
      await agent.stop();
      await c.close();
    }
  }, 40_000);
});
