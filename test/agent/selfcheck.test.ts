// The agent's continuous self-check on a real agent (real IPAM journal, socket server and metrics
// listener; fake host routes, injected NICs): it passes while all is well; the journal directory
// removed under the running agent (its open journal keeps "working" into an unlinked file, so the
// next start would lose what was written) fails readiness and the metric; the socket file removed
// fails the socket check and, after three rounds in a row, liveness, so the kubelet restarts it.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgent, type AgentHandle } from '../../src/agent/main.js';
import { parseAgentArgs } from '../../src/agent/cli.js';
import { SelfCheck, dirTakesDurableWrite } from '../../src/agent/selfcheck.js';
import type { DiscoveredNic } from '../../src/lib/agent/discovery.js';
import { UserError } from '../../src/lib/errors.js';
import { FakeHostNetwork } from '../fakes/hostnet.js';
import { StaticState, testCidr, testNetwork } from './helpers/network.js';

const nic = (name: string, ip: string): DiscoveredNic => ({ ifindex: 0, interfaceName: name, netAddress: ip.replace(/\.\d+$/, '.0/24'), hostIP: ip, vendor: '15b3', product: '1019', pciAddress: '', numaNode: -1, speed: 0, mtu: 1500, state: 'up' });

function get(addr: string, path: string): Promise<{ status: number; text: string }> {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    request({ host, port, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    }).on('error', reject).end();
  });
}
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('agent self-check', () => {
  let dir: string;
  let agent: AgentHandle | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'op-selfcheck-'));
    writeFileSync(join(dir, 'rt_tables'), '254\tmain\n');
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () =>
    runAgent({
      nodeName: 'h1',
      socketPath: join(dir, 'a.sock'),
      dataDir: join(dir, 'data'),
      rtTablesPath: join(dir, 'rt_tables'),
      cniBinDirs: [join(dir, 'bin')],
      state: new StaticState([{ network: testNetwork({ vlanMode: 'l2' }), cidr: testCidr(['h1', 'h2']) }]),
      hostNet: new FakeHostNetwork(),
      discover: async () => [nic('eth1', '10.0.1.1'), nic('eth2', '10.0.2.1')],
      watch: false,
      metricsAddr: { host: '127.0.0.1', port: 0 },
      selfCheckIntervalMs: 100,
      log: () => undefined,
    });

  it('passes while all is well; a removed journal directory fails readiness, a removed socket liveness', async () => {
    agent = await start();
    const addr = agent.metricsAddress ?? '';
    await expect.poll(async () => sample((await get(addr, '/metrics')).text, 'multinic_agent_self_check{check="journal"}'), { timeout: 5000 }).toBe(1);
    const m = (await get(addr, '/metrics')).text;
    expect(sample(m, 'multinic_agent_self_check{check="socket"}')).toBe(1);
    // No --kube: no API check.
    expect(sample(m, 'multinic_agent_self_check{check="api"}')).toBeUndefined();
    expect((await get(addr, '/readyz')).status).toBe(200);
    expect((await get(addr, '/healthz')).status).toBe(200);

    rmSync(join(dir, 'data', 'ipam'), { recursive: true, force: true });
    await expect.poll(async () => (await get(addr, '/readyz')).text, { timeout: 5000 }).toMatch(/^not ready: self-check journal: ENOENT/);
    expect((await get(addr, '/readyz')).status).toBe(503);
    expect(sample((await get(addr, '/metrics')).text, 'multinic_agent_self_check{check="journal"}')).toBe(0);
    // Readiness only: the process is fine, a restart would recreate the directory and re-adopt.
    expect((await get(addr, '/healthz')).status).toBe(200);

    unlinkSync(agent.socketPath);
    await expect.poll(async () => (await get(addr, '/healthz')).text, { timeout: 5000 }).toMatch(/^not live: self-check: the agent socket .*a\.sock is gone \([3-9] times in a row\)/);
    expect((await get(addr, '/healthz')).status).toBe(503);
    expect(sample((await get(addr, '/metrics')).text, 'multinic_agent_self_check{check="socket"}')).toBe(0);
  }, 30_000);

  it('the API check follows the outage tracker; liveness waits for liveAfter socket failures in a row', async () => {
    let down = false;
    const sc = new SelfCheck({ socketPath: join(dir, 'none.sock'), journalDir: dir, apiDown: () => down, liveAfter: 2 });
    await sc.run();
    expect(sc.last().get('api')).toMatchObject({ ok: true, failures: 0 });
    expect(sc.last().get('journal')).toMatchObject({ ok: true });
    expect(sc.last().get('socket')).toMatchObject({ ok: false, failures: 1 });
    expect(sc.notLive()).toBeUndefined();
    expect(sc.notReady()).toMatch(/^self-check socket: the agent socket .*none\.sock is gone$/);
    down = true;
    await sc.run();
    expect(sc.last().get('api')).toMatchObject({ ok: false, failures: 1, detail: "the Kubernetes API does not answer the agent's calls" });
    expect(sc.notLive()).toMatch(/\(2 times in a row\)$/);
    await expect(dirTakesDurableWrite(join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
  });

  it('--self-check-interval in seconds, >= 1', () => {
    const base = ['--kube', '--node', 'n1', '--data-dir', '/d'];
    expect(parseAgentArgs([...base, '--self-check-interval', '5'], {}).selfCheckIntervalMs).toBe(5000);
    expect(() => parseAgentArgs([...base, '--self-check-interval', '0.5'], {})).toThrow(UserError);
    expect(() => parseAgentArgs([...base, '--self-check-interval', '5s'], {})).toThrow('--self-check-interval must be a number of seconds >= 1, got "5s"');
  });
});
