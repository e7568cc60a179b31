// The plugin's verbs in-process (dispatch + createHandlers) against the fake agent on a real unix
// socket, with a recording delegate runner: the orchestration contracts (reverse-order undo, which
// NIC is named, what DEL keeps when a delegate fails, GC, STATUS) without the kernel.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAgentClient } from '../../src/cni/agent-client.js';
import { DelegateError, type InvokePlugin } from '../../src/cni/plugin-exec.js';
import { createHandlers, type NetnsState } from '../../src/cni/plugin.js';
import { dispatch } from '../../src/cni/skel.js';
import { FakeAgent, type FakeNetwork } from '../fakes/agent-server.js';
import { nadConfig } from './harness.js';

const nics = [1, 2, 3].map((n) => ({ master: `eth${n}`, netAddress: `10.0.${n}.0/24`, vlanCIDR: `192.168.${(n - 1) * 64}.0/18`, podCIDR: `192.168.${(n - 1) * 64}.64/26` }));
const networks: FakeNetwork[] = [
  { name: 'mnet', plugin: { type: 'macvlan', cniVersion: '0.3.0', args: {} }, vlanMode: 'l3', nics },
  { name: 'mnet-hd', plugin: { type: 'host-device', cniVersion: '0.3.0', args: {} }, vlanMode: 'l2', nics },
];

interface Call { type: string; command: string; ifName: string; config: Record<string, unknown> }

describe('multi-nic verbs (in-process, fake agent, recording delegates)', () => {
  let dir: string;
  let agent: FakeAgent;
  let calls: Call[];
  let failOn: (c: Call) => string | undefined;
  let delayOf: (c: Call) => number;
  let logs: string[];
  let netns: NetnsState | undefined;
  let netnsPresent: boolean;
  let netnsSeen: string[];
  let linksDeleted: string[];

  const invoke: InvokePlugin = async (type, config, opts) => {
    const c: Call = { type, command: opts.command, ifName: opts.ifName, config };
    calls.push(c);
    netnsSeen.push(opts.netns);
    await new Promise((r) => setTimeout(r, delayOf(c)));
    const fail = failOn(c);
    if (fail) throw new DelegateError(type, 999, fail);
    if (opts.command !== 'ADD') return undefined;
    const ipam = config['ipam'] as { addresses: Array<{ address: string; gateway?: string }> } | undefined;
    return { cniVersion: config['cniVersion'], interfaces: [{ name: opts.ifName, mac: '02:00:00:00:00:01', sandbox: opts.netns }], ips: (ipam?.addresses ?? []).map((a) => ({ ...a, interface: 0 })), routes: [] };
  };

  async function run(command: string, stdin: unknown, parallel = true, env: Record<string, string> = {}, agentWaitMs?: number) {
    let out = '';
    const code = await dispatch(
      {
        env: { CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'net1', CNI_PATH: '/opt/cni/bin', CNI_ARGS: 'K8S_POD_UID=u1', MULTINIC_AGENT_SOCKET: agent.socketPath, ...env },
        readStdin: async () => JSON.stringify(stdin),
        stdout: (t) => (out += t),
        stderr: () => undefined,
      },
      createHandlers({
        agent: (s) => createAgentClient({ socketPath: s, timeoutMs: 2000 }),
        invoke,
        readNetns: async () => netns,
        netnsExists: () => netnsPresent,
        deleteLink: async (_n, ifName) => void linksDeleted.push(ifName),
        log: (m) => logs.push(m),
        parallel,
        ...(agentWaitMs !== undefined ? { agentWaitMs: () => agentWaitMs } : {}),
      }),
    );
    return { code, out, json: out ? (JSON.parse(out) as Record<string, unknown>) : undefined };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mncni-verbs-'));
    agent = await new FakeAgent(join(dir, 'a.sock'), networks).start();
  });
  afterAll(async () => {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    calls = [];
    logs = [];
    failOn = () => undefined;
    delayOf = () => 0;
    netns = undefined;
    netnsPresent = true;
    netnsSeen = [];
    linksDeleted = [];
    // Release whatever a previous test left so each starts from an empty agent.
    await run('DEL', nadConfig());
    calls = [];
  });

  it('VERSION lists the supported versions and echoes the asked one', async () => {
    expect((await run('VERSION', { cniVersion: '0.4.0' })).json).toEqual({ cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it('merges results in NIC order even when delegates finish out of order', async () => {
    delayOf = (c) => (c.ifName === 'net1-0' ? 60 : 0);
    const r = await run('ADD', nadConfig());
    expect(r.code, r.out).toBe(0);
    const res = r.json as { interfaces: Array<{ name: string }>; ips: Array<{ interface: number }> };
    expect(res.interfaces.map((i) => i.name)).toEqual(['net1-0', 'net1-1', 'net1-2']);
    expect(res.ips.map((i) => i.interface)).toEqual([0, 1, 2]);
    expect(calls.map((c) => c.config['master'])).toEqual(['eth1', 'eth2', 'eth3']);
  });

  it('sequential ADD failing on NIC 3 DELs NIC 3 (it may have made its link), NIC 2, NIC 1 and releases all three addresses', async () => {
    failOn = (c) => (c.command === 'ADD' && c.ifName === 'net1-2' ? 'failed to create macvlan: device busy' : undefined);
    const r = await run('ADD', nadConfig(), false);
    expect(r.code).toBe(1);
    expect(r.json?.['msg']).toBe('failed to add NIC 3 (eth3 -> net1-2) with macvlan: failed to create macvlan: device busy; rolled back 2 interfaces and 3 addresses');
    expect(calls.map((c) => `${c.command} ${c.ifName}`)).toEqual(['ADD net1-0', 'ADD net1-1', 'ADD net1-2', 'DEL net1-2', 'DEL net1-1', 'DEL net1-0']);
    expect(agent.holdings()).toEqual([]);
  });

  it('parallel ADD: the lowest failing NIC is named and every NIC is DELed, failed ones included', async () => {
    failOn = (c) => (c.command === 'ADD' && c.ifName !== 'net1-1' ? `no ${c.ifName}` : undefined);
    const r = await run('ADD', nadConfig(), true);
    expect(r.json?.['msg']).toBe('failed to add NIC 1 (eth1 -> net1-0) with macvlan: no net1-0; rolled back 1 interface and 3 addresses');
    expect(calls.filter((c) => c.command === 'DEL').map((c) => c.ifName)).toEqual(['net1-2', 'net1-1', 'net1-0']);
    expect(agent.holdings()).toEqual([]);
  });

  it('ADD delegates to the config\'s plugin only when the agent allocated for the same one: else 11, nothing run, addresses released', async () => {
    // The agent shaped mnet's addresses for macvlan L3 (shim gateway, routes via it); a NAD still
    // naming ipvlan would get them through a plugin that never reaches that gateway.
    const r = await run('ADD', nadConfig({ plugin: { cniVersion: '0.3.0', type: 'ipvlan', mode: 'l3' } }));
    expect(r.code).toBe(1);
    expect(r.json?.['code']).toBe(11);
    expect(r.json?.['msg']).toBe('network "mnet": the config delegates to ipvlan but the agent allocated for macvlan vlanMode l3; released 3 addresses');
    expect(r.json?.['details']).toMatch(/NetworkAttachmentDefinition "mnet" is older than its MultiNicNetwork/);
    expect(calls).toEqual([]);
    expect(agent.holdings()).toEqual([]);
    expect((await run('ADD', nadConfig())).code).toBe(0);
  });

  it('says what could not be undone when a rollback DEL fails too', async () => {
    failOn = (c) => (c.ifName === 'net1-2' && c.command === 'ADD' ? 'boom' : c.command === 'DEL' && c.ifName === 'net1-0' ? 'stuck' : undefined);
    const r = await run('ADD', nadConfig(), false);
    expect(r.json?.['msg']).toBe('failed to add NIC 3 (eth3 -> net1-2) with macvlan: boom; rolled back 1 interface and 3 addresses; could not remove NIC 1 (eth1 -> net1-0): stuck');
  });

  describe('rollback against a pod netns the delegates really change (links added on ADD, removed on DEL)', () => {
    let deleted: string[];
    let stuckLink: boolean;

    async function runWithNetns(parallel: boolean) {
      let out = '';
      const code = await dispatch(
        {
          env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'net1', CNI_PATH: '/opt/cni/bin', CNI_ARGS: 'K8S_POD_UID=u1', MULTINIC_AGENT_SOCKET: agent.socketPath },
          readStdin: async () => JSON.stringify(nadConfig()),
          stdout: (t) => (out += t),
          stderr: () => undefined,
        },
        createHandlers({
          agent: (s) => createAgentClient({ socketPath: s, timeoutMs: 2000 }),
          // The delegate makes its link before it can fail, and takes it away on a DEL that works.
          invoke: async (type, config, opts) => {
            const links = (netns as NetnsState).links;
            if (opts.command === 'ADD') links.push({ ifname: opts.ifName, addrs: [] });
            if (opts.command === 'DEL' && !failOn({ type, command: 'DEL', ifName: opts.ifName, config })) {
              (netns as NetnsState).links = links.filter((l) => l.ifname !== opts.ifName);
            }
            return invoke(type, config, opts);
          },
          readNetns: async () => (netns ? structuredClone(netns) : undefined),
          netnsExists: () => true,
          deleteLink: async (_n, ifName) => {
            deleted.push(ifName);
            if (stuckLink) throw new Error(`ip link del dev ${ifName}: Device or resource busy`);
            (netns as NetnsState).links = (netns as NetnsState).links.filter((l) => l.ifname !== ifName);
          },
          log: (m) => logs.push(m),
          parallel,
        }),
      );
      return { code, json: JSON.parse(out) as Record<string, unknown> };
    }

    beforeEach(() => {
      netns = { links: [{ ifname: 'lo', addrs: [] }], routes: [] };
      deleted = [];
      stuckLink = false;
    });

    it('a delegate that fails after making its link, and whose DEL fails too: the link is deleted by name and counted', async () => {
      failOn = (c) => (c.ifName === 'net1-1' ? (c.command === 'ADD' ? 'failed to set up IPAM' : 'failed to lookup master "eth2"') : undefined);
      const r = await runWithNetns(true);
      expect(r.json['msg']).toBe('failed to add NIC 2 (eth2 -> net1-1) with macvlan: failed to set up IPAM; rolled back 3 interfaces and 3 addresses');
      expect(deleted).toEqual(['net1-1']);
      expect(netns?.links.map((l) => l.ifname)).toEqual(['lo']);
      expect(agent.holdings()).toEqual([]);
      expect(logs).toEqual(['multi-nic ADD c1/net1: rollback of net1-1: delegate DEL failed (failed to lookup master "eth2"); its link was deleted by name']);
    });

    it('a link that cannot be deleted either is named, with both reasons, and not counted', async () => {
      failOn = (c) => (c.ifName === 'net1-1' ? (c.command === 'ADD' ? 'failed to set up IPAM' : 'busy') : undefined);
      stuckLink = true;
      const r = await runWithNetns(false);
      expect(r.json['msg']).toBe('failed to add NIC 2 (eth2 -> net1-1) with macvlan: failed to set up IPAM; rolled back 2 interfaces and 3 addresses; could not remove NIC 2 (eth2 -> net1-1): busy; ip link del dev net1-1: Device or resource busy');
      expect(netns?.links.map((l) => l.ifname)).toEqual(['lo', 'net1-1']);
    });
  });

  it.each([
    ['Multus\' top-level deviceID', { deviceID: '0000:3b:00.3' }],
    ['runtimeConfig.deviceID', { runtimeConfig: { deviceID: '0000:3b:00.3' } }],
  ])('ADD asks the agent for the device-plugin device from %s', async (_n, over) => {
    const before = agent.callsTo('/v1/allocate').length;
    expect((await run('ADD', nadConfig(over))).code).toBe(0);
    const calls = agent.callsTo('/v1/allocate');
    expect(calls).toHaveLength(before + 1);
    expect((calls.at(-1)?.body as { deviceIDs?: string[] }).deviceIDs).toEqual(['0000:3b:00.3']);
  });

  it('DEL whose netns path no longer exists: delegates run without a netns (they release their IPAM only), and DEL succeeds', async () => {
    expect((await run('ADD', nadConfig())).code).toBe(0);
    calls = [];
    netnsSeen = [];
    netnsPresent = false;
    const r = await run('DEL', nadConfig());
    expect(r.code, r.out).toBe(0);
    expect(calls.map((c) => `${c.command} ${c.ifName}`)).toEqual(['DEL net1-2', 'DEL net1-1', 'DEL net1-0']);
    expect(netnsSeen).toEqual(['', '', '']);
    expect(logs.some((l) => l.includes('network namespace /run/netns/x is gone'))).toBe(true);
    expect(agent.holdings()).toEqual([]);
  });

  it('host-device DEL is repeatable: a NIC already given back is not DELed again (host-device would fail "Link not found")', async () => {
    const conf = nadConfig({ name: 'mnet-hd', plugin: { cniVersion: '0.3.0', type: 'host-device' } });
    expect((await run('ADD', conf)).code).toBe(0);
    // The pod still holds net1-0 only: net1-1 and net1-2 went back to the host on an earlier, partly failed DEL.
    netns = { links: [{ ifname: 'lo', addrs: [] }, { ifname: 'net1-0', addrs: [] }], routes: [] };
    calls = [];
    const r = await run('DEL', conf);
    expect(r.code, r.out).toBe(0);
    expect(calls.map((c) => `${c.type} ${c.command} ${c.ifName}`)).toEqual(['host-device DEL net1-0']);
    expect(logs.filter((l) => l.includes('is no longer in the pod')).length).toBe(2);
  });

  it('DEL keeps the addresses allocated when a delegate DEL fails, and releases them on the retry', async () => {
    expect((await run('ADD', nadConfig())).code).toBe(0);
    failOn = (c) => (c.command === 'DEL' && c.ifName === 'net1-1' ? 'device busy' : undefined);
    const r = await run('DEL', nadConfig());
    expect(r.code).toBe(1);
    expect(r.json?.['code']).toBe(105);
    expect(r.json?.['msg']).toBe('failed to delete NIC 2 (eth2 -> net1-1): device busy');
    expect(agent.holdings()).toHaveLength(3);
    failOn = () => undefined;
    expect((await run('DEL', nadConfig())).code).toBe(0);
    expect(agent.holdings()).toEqual([]);
  });

  it.each([
    ['NotReady', 503, 'network "mnet" overlaps network "other"'],
    ['UnknownNetwork', 404, 'network "mnet" is not known to the agent on h1'],
    ['NotFound', 404, 'no addresses held in network "mnet"'],
  ])('DEL succeeds when the agent answers the lookup with %s: the pod links found in the netns are deleted by name and the addresses released', async (code, status, message) => {
    expect((await run('ADD', nadConfig())).code).toBe(0);
    expect(agent.holdings()).toHaveLength(3);
    netns = { links: [{ ifname: 'lo', addrs: [] }, { ifname: 'net1-0', addrs: [] }, { ifname: 'net1-1', addrs: [] }, { ifname: 'net1-2', addrs: [] }], routes: [] };
    calls = [];
    agent.overrideFor.set('/v1/lookup', { status, body: { apiVersion: 'v1', code, message } });
    try {
      const r = await run('DEL', nadConfig());
      expect([r.code, r.out]).toEqual([0, '']);
      expect(linksDeleted).toEqual(['net1-2', 'net1-1', 'net1-0']);
      // macvlan needs its master to load a config, which only the agent's record names: no delegate runs.
      expect(calls).toEqual([]);
      expect(agent.holdings()).toEqual([]);
      // Idempotent: a second DEL finds nothing and succeeds too.
      netns = { links: [{ ifname: 'lo', addrs: [] }], routes: [] };
      expect((await run('DEL', nadConfig())).code).toBe(0);
    } finally {
      agent.overrideFor.clear();
    }
  });

  it('DEL waits for an agent that is away (its socket missing, as between two agents of a rolling upgrade) and releases through it once it is back', async () => {
    expect((await run('ADD', nadConfig())).code).toBe(0);
    expect(agent.holdings()).toHaveLength(3);
    // The node's socket path: absent now, the agent's socket appears there 600 ms later.
    const away = join(dir, 'away.sock');
    const back = setTimeout(() => symlinkSync(agent.socketPath, away), 600);
    try {
      const started = Date.now();
      const r = await run('DEL', nadConfig(), true, { MULTINIC_AGENT_SOCKET: away }, 5_000);
      expect([r.code, r.out]).toEqual([0, '']);
      expect(Date.now() - started).toBeGreaterThanOrEqual(550);
      expect(logs.filter((l) => l.includes('waiting up to'))).toHaveLength(1);
      // Released by the agent, and its DELs went through the delegates with the agent's record (masters).
      expect(agent.holdings()).toEqual([]);
      expect(calls.filter((c) => c.command === 'DEL').map((c) => c.config['master']).sort()).toEqual(['eth1', 'eth2', 'eth3']);
    } finally {
      clearTimeout(back);
      rmSync(away, { force: true });
    }
  });

  it('DEL waits for the agent at the release too, for the whole wait, however long the delegates took after the lookup', async () => {
    expect((await run('ADD', nadConfig())).code).toBe(0);
    expect(agent.holdings()).toHaveLength(3);
    const node = join(dir, 'node.sock');
    symlinkSync(agent.socketPath, node);
    let back: NodeJS.Timeout | undefined;
    // The lookup finds the agent; while the delegates run (500 ms in all, longer than the 400 ms
    // wait) it goes away, and it is back 300 ms after the release first finds it away.
    delayOf = (c) => (c.command === 'DEL' ? 170 : 0);
    const gone = setTimeout(() => {
      rmSync(node, { force: true });
      back = setTimeout(() => symlinkSync(agent.socketPath, node), 700);
    }, 100);
    try {
      const r = await run('DEL', nadConfig(), false, { MULTINIC_AGENT_SOCKET: node }, 400);
      expect([r.code, r.out]).toEqual([0, '']);
      expect(calls.filter((c) => c.command === 'DEL')).toHaveLength(3);
      expect(logs.filter((l) => l.includes('waiting up to'))).toHaveLength(1);
      expect(agent.holdings()).toEqual([]);
    } finally {
      clearTimeout(gone);
      clearTimeout(back);
      rmSync(node, { force: true });
    }
  });

  it('DEL gives up waiting for an agent that stays away and goes on without it (links by name, addresses left to the agent)', async () => {
    expect((await run('ADD', nadConfig())).code).toBe(0);
    netns = { links: [{ ifname: 'lo', addrs: [] }, { ifname: 'net1-0', addrs: [] }, { ifname: 'net1-1', addrs: [] }, { ifname: 'net1-2', addrs: [] }], routes: [] };
    const started = Date.now();
    const r = await run('DEL', nadConfig(), true, { MULTINIC_AGENT_SOCKET: join(dir, 'gone.sock') }, 400);
    expect([r.code, r.out]).toEqual([0, '']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(linksDeleted).toEqual(['net1-2', 'net1-1', 'net1-0']);
    expect(agent.holdings()).toHaveLength(3);
  });

  it('DEL with no record and no prevResult removes the links found in the netns', async () => {
    netns = { links: [{ ifname: 'lo', addrs: [] }, { ifname: 'net1-0', addrs: [] }, { ifname: 'net1-1', addrs: [] }, { ifname: 'net10-0', addrs: [] }], routes: [] };
    const deleted: string[] = [];
    let out = '';
    const code = await dispatch(
      { env: { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c9', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'net1', CNI_PATH: '/x', MULTINIC_AGENT_SOCKET: agent.socketPath }, readStdin: async () => JSON.stringify(nadConfig()), stdout: (t) => (out += t), stderr: () => undefined },
      createHandlers({ agent: (s) => createAgentClient({ socketPath: s }), invoke, readNetns: async () => netns, netnsExists: () => true, deleteLink: async (_n, i) => void deleted.push(i), log: () => undefined }),
    );
    expect(code, out).toBe(0);
    expect(deleted).toEqual(['net1-1', 'net1-0']);
  });

  it('STATUS succeeds while the agent answers', async () => {
    const before = agent.callsTo('/v1/healthz').length;
    const r = await run('STATUS', nadConfig({ cniVersion: '1.1.0' }));
    expect([r.code, r.out]).toEqual([0, '']);
    expect(agent.callsTo('/v1/healthz').length).toBe(before + 1);
  });

  it('GC releases the network\'s allocations that are not valid attachments', async () => {
    expect((await run('ADD', nadConfig(), true, { CNI_CONTAINERID: 'keep' })).code).toBe(0);
    expect((await run('ADD', nadConfig(), true, { CNI_CONTAINERID: 'stale' })).code).toBe(0);
    const r = await run('GC', nadConfig({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'net1' }] }));
    expect(r.code, r.out).toBe(0);
    expect(agent.holdings().map((h) => h.split('/')[1])).toEqual(['keep', 'keep', 'keep']);
    expect(logs).toContain('multi-nic GC mnet: released 3 addresses');
    await run('DEL', nadConfig(), true, { CNI_CONTAINERID: 'keep' });
  });

  it('GC without a cni.dev/valid-attachments list (absent or null) releases nothing, says so and succeeds', async () => {
    for (let i = 0; i < 20; i++) expect((await run('ADD', nadConfig(), true, { CNI_CONTAINERID: `live-${i}` })).code).toBe(0);
    expect(agent.holdings()).toHaveLength(60);
    const gcCalls = agent.callsTo('/v1/gc').length;
    for (const conf of [nadConfig({ cniVersion: '1.1.0' }), nadConfig({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': null })]) {
      logs.length = 0;
      const r = await run('GC', conf);
      expect([r.code, r.out]).toEqual([0, '']);
      expect(logs).toEqual(['multi-nic GC mnet: the request has no cni.dev/valid-attachments list; nothing collected (a GC must list the attachments still in use, CNI spec 1.1)']);
    }
    expect(agent.callsTo('/v1/gc').length).toBe(gcCalls);
    expect(agent.holdings()).toHaveLength(60);
    // A malformed list is refused before anything is released.
    const bad = await run('GC', nadConfig({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'live-0' }] }));
    expect(bad.json?.['code']).toBe(7);
    expect(agent.holdings()).toHaveLength(60);
    for (let i = 0; i < 20; i++) await run('DEL', nadConfig(), true, { CNI_CONTAINERID: `live-${i}` });
  });

  it('GC is a logged no-op against an agent without /v1/gc', async () => {
    agent.override = { status: 404, body: { apiVersion: 'v1', code: 'NotFound', message: 'no route /v1/gc' } };
    try {
      const r = await run('GC', nadConfig({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] }));
      expect(r.code, r.out).toBe(0);
      expect(logs).toEqual(['multi-nic GC mnet: agent has no /v1/gc; nothing collected']);
    } finally {
      agent.override = undefined;
    }
  });

  it('CHECK names every missing address and route before asking the delegates', async () => {
    const add = await run('ADD', nadConfig());
    const [a0, a1, a2] = agent.holdings().map((h) => h.split('=')[1] as string);
    netns = {
      links: [{ ifname: 'net1-0', addrs: [a0 as string] }, { ifname: 'net1-1', addrs: [] }, { ifname: 'net1-2', addrs: [a2 as string] }],
      routes: [{ dst: '192.168.0.0/18', gw: '192.168.0.65', dev: 'net1-0' }, { dst: '192.168.64.0/18', gw: '192.168.64.65', dev: 'net1-1' }],
    };
    calls = [];
    const r = await run('CHECK', nadConfig({ prevResult: add.json }));
    expect(r.json?.['code']).toBe(106);
    expect(r.json?.['msg']).toBe(`CHECK failed for container c1 in network "mnet": net1-1 lacks address ${a1} (has none); route 192.168.128.0/18 via 192.168.128.65 dev net1-2 is missing`);
    expect(calls).toEqual([]);
  });
});
