import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgent, type AgentHandle } from '../../src/agent/main.js';
import { FakeHostNetwork } from '../fakes/hostnet.js';
import { FakeIpam } from '../fakes/ipam.js';
import { StaticState, testCidr, testNetwork } from './helpers/network.js';
import { call } from './helpers/http.js';

// runAgent with injected adapters: the host network and IPAM are fakes, the state is in memory,
// discovery runs for real on this machine (its NICs are not eth1/eth2, so no shim is wanted).
describe('runAgent (fake host network and IPAM)', () => {
  let dir: string;
  let agent: AgentHandle | undefined;
  let host: FakeHostNetwork;
  let state: StaticState;
  const start = (over: Partial<Parameters<typeof runAgent>[0]> = {}) =>
    runAgent({ nodeName: 'h1', socketPath: join(dir, 'a.sock'), dataDir: join(dir, 'data'), rtTablesPath: join(dir, 'rt_tables'), state, ipam: new FakeIpam(), hostNet: host, watch: false, log: () => undefined, ...over });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnag-main-'));
    writeFileSync(join(dir, 'rt_tables'), '254\tmain\n');
    host = new FakeHostNetwork();
    state = new StaticState([{ network: testNetwork(), cidr: testCidr(['h1', 'h2']) }]);
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports that an L3 network needs ip_forward and leaves the sysctl alone by default', async () => {
    agent = await start();
    const st = (await call(agent.socketPath, 'GET', '/v1/state')).body as { lastReconcile: { forwarding: unknown; tables: unknown; error?: string } };
    expect(st.lastReconcile.forwarding).toEqual({ required: true, value: '0', ok: false });
    expect(host.sysctls.get('net.ipv4.ip_forward')).toBe('0');
    expect(st.lastReconcile.tables).toEqual({ mnet: 100 });
    expect(readFileSync(join(dir, 'rt_tables'), 'utf8')).toBe('254\tmain\n100\tmnet\n');
    expect(statSync(agent.socketPath).mode & 0o777).toBe(0o600);
  });

  it('warns about ip_forward=0 once while it lasts, not on every reconcile, and again after it comes back', async () => {
    const lines: Array<{ msg?: string }> = [];
    agent = await start({ log: (l: { msg?: string }) => void lines.push(l) } as Partial<Parameters<typeof runAgent>[0]>);
    const warned = () => lines.filter((l) => l.msg?.startsWith('L3 networks need net.ipv4.ip_forward=1')).length;
    for (let i = 0; i < 3; i++) await agent.reconcile();
    expect(warned()).toBe(1);
    host.sysctls.set('net.ipv4.ip_forward', '1');
    expect((await agent.reconcile()).forwarding).toEqual({ required: true, value: '1', ok: true });
    host.sysctls.set('net.ipv4.ip_forward', '0');
    await agent.reconcile();
    await agent.reconcile();
    expect(warned()).toBe(2);
  });

  it('--enable-forwarding sets it; an L2-only host does not need it', async () => {
    agent = await start({ enableForwarding: true });
    expect((await agent.reconcile()).forwarding).toEqual({ required: true, value: '1', ok: true });
    expect(host.sysctls.get('net.ipv4.ip_forward')).toBe('1');
    await agent.stop();
    host.sysctls.set('net.ipv4.ip_forward', '0');
    state = new StaticState([{ network: testNetwork({ vlanMode: 'l2' }), cidr: testCidr(['h1', 'h2']) }]);
    agent = await start();
    expect((await agent.reconcile()).forwarding).toEqual({ required: false, ok: true });
  });

  it('a network that goes away is cleaned up on the next reconcile; stop() removes the socket', async () => {
    agent = await start();
    expect(host.rules_.some((r) => r.table === '100')).toBe(true);
    state.nets = [];
    const r = await agent.reconcile();
    expect(r.removedTables).toEqual(['mnet']);
    expect(host.rules_.some((x) => x.table === '100')).toBe(false);
    expect(readFileSync(join(dir, 'rt_tables'), 'utf8')).toBe('254\tmain\n');
    const sock = agent.socketPath;
    await agent.stop();
    agent = undefined;
    expect(existsSync(sock)).toBe(false);
  });

  it('stop() starts no reconcile pass once begun: a state that empties while the agent shuts down (informers closing) removes no route, rule or table', async () => {
    agent = await start();
    const rules = structuredClone(host.rules_);
    const tables = readFileSync(join(dir, 'rt_tables'), 'utf8');
    expect(rules.some((r) => r.table === '100')).toBe(true);
    const stopping = agent.stop();
    state.nets = [];
    // As a route-watch or state event arriving during shutdown would.
    const pass = agent.reconcile();
    await stopping;
    await pass;
    agent = undefined;
    expect(host.rules_).toEqual(rules);
    expect(readFileSync(join(dir, 'rt_tables'), 'utf8')).toBe(tables);
  });

  it('a state file that does not exist fails start-up with nothing left behind', async () => {
    await expect(runAgent({ nodeName: 'h1', socketPath: join(dir, 'b.sock'), dataDir: join(dir, 'd2'), stateFile: join(dir, 'none.yaml'), ipam: new FakeIpam(), hostNet: host, watch: false, log: () => undefined })).rejects.toThrow(/cannot read the agent state file/);
    expect(existsSync(join(dir, 'b.sock'))).toBe(false);
  });
});

describe('runAgent reconcile isolation', () => {
  it('a failing shim step does not stop the routes; the report names the failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnag-main-'));
    const host = new FakeHostNetwork();
    // A host network whose link listing fails: the shim step (which lists links) breaks, the route
    // step (rules and tables only) must still run.
    host.links = async () => {
      throw new Error('netlink unavailable');
    };
    const agent = await runAgent({ nodeName: 'h1', socketPath: join(dir, 'a.sock'), dataDir: join(dir, 'data'), rtTablesPath: join(dir, 'rt'), state: new StaticState([{ network: testNetwork(), cidr: testCidr(['h1', 'h2']) }]), ipam: new FakeIpam(), hostNet: host, watch: false, log: () => undefined });
    try {
      const r = await agent.reconcile();
      expect(r.error).toMatch(/netlink unavailable/);
      expect(r.tables).toEqual({ mnet: 100 });
      expect(host.rules_.some((x) => x.table === '100')).toBe(true);
    } finally {
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
