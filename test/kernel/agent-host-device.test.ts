// host-device lends the host NIC itself to a pod. The real agent in a host namespace, the built
// multi-nic CNI and the reference host-device (/usr/lib/cni, 1.1.1): the lent NIC stays known as
// lent (also across an agent restart), is never offered to another pod, a pod asking for every NIC
// is refused while it is away, and on DEL it comes back with the host's addresses (host-device
// returns it down and bare) and is rediscovered. A veth NIC whose pod netns is deleted is destroyed
// with it: the agent says so and stops reporting it, and takes it back when it is recreated.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cniPluginsDir, hasCniPlugins, privileged } from '../helpers/privileged.js';
import { isBuilt, nadConfig, notBuiltReason, runPlugin } from '../cni/harness.js';
import { NetnsLab } from '../agent/helpers/netns.js';
import { bundleAgent } from '../agent/helpers/bundle.js';
import { testNetwork } from '../agent/helpers/network.js';
import { call } from '../agent/helpers/http.js';
import { run } from '../../src/host/exec.js';
import { planNetwork } from '../../src/lib/plan/planner.js';
import { validateNetwork } from '../../src/lib/network.js';
import type { HostInterface, InterfaceInfo } from '../../src/lib/crds/types.gen.js';

const reason = !privileged.ok ? privileged.reason : !hasCniPlugins ? `needs the reference CNI plugins in ${cniPluginsDir}` : !isBuilt ? notBuiltReason : '';
const NETS = ['10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24'];

interface AgentView {
  nics: Array<{ interfaceName: string; hostIP: string; hostIPv6?: string }>;
  lentNics: Array<{ nic: { interfaceName: string }; holder: { containerID: string }; releasedAt?: number }>;
}

describe.skipIf(reason !== '')(`host-device through the real agent: NICs lent and given back ${reason}`, () => {
  const lab = new NetnsLab('mnh3d');
  let dir: string;
  let agentJs: string;
  let host: string;
  let fab: string;
  let agent: ChildProcess | undefined;
  let log = '';
  const pods: Record<string, string> = {};
  const sock = () => join(dir, 'agent.sock');

  const startAgent = async () => {
    log = '';
    agent = spawn('ip', ['netns', 'exec', host, process.execPath, agentJs, 'run', '--health-interval', '0', '--node', 'h1', '--socket', sock(), '--state-file', join(dir, 'state.yaml'), '--data-dir', join(dir, 'data'), '--rt-tables', join(dir, 'rt_tables'), '--gc-grace', '3600'], { stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const st = (await call(sock(), 'GET', '/v1/state').catch(() => ({ body: {} }))).body as { lastReconcile?: unknown };
      if (st.lastReconcile) return;
      if (Date.now() > deadline || agent.exitCode !== null) throw new Error(`agent did not become ready:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stopAgent = async () => {
    const a = agent;
    if (!a || a.exitCode !== null) return;
    a.kill('SIGTERM');
    await new Promise((r) => a.once('exit', r));
  };
  const view = async () => (await call(sock(), 'GET', '/v1/state')).body as AgentView;
  const conf = () => nadConfig({ name: 'hd', plugin: { cniVersion: '1.0.0', type: 'host-device' }, ipam: { type: 'multi-nic-ipam', hostBlock: 6, interfaceBlock: 2, vlanMode: 'l2' }, masterNets: NETS });
  const cni = (command: 'ADD' | 'DEL', pod: string, args?: Record<string, unknown>, netns = `/run/netns/${pods[pod]}`) =>
    runPlugin({
      command,
      env: { CNI_CONTAINERID: `c-${pod}`, CNI_NETNS: netns || undefined, CNI_IFNAME: 'net1', CNI_PATH: cniPluginsDir, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_UID=uid-${pod}`, MULTINIC_AGENT_SOCKET: sock() },
      stdin: args ? { ...conf(), args: { cni: args } } : conf(),
      hostNetns: host,
    });
  const hostLink = async (name: string) => {
    const links = await lab.json<{ ifname: string; operstate: string; flags: string[]; addr_info?: Array<{ local: string; prefixlen: number; scope: string }> }>(host, ['addr', 'show']);
    const l = links.find((x) => x.ifname === name);
    return l ? { up: l.flags.includes('UP'), addrs: (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort() } : undefined;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnh3-hd-'));
    agentJs = await bundleAgent();
    host = await lab.netns('h');
    fab = await lab.netns('f');
    for (const n of [1, 2, 3]) {
      await lab.veth(host, `eth${n}`, fab, `f${n}`);
      await lab.ip(host, [`addr add 10.0.${n}.1/24 dev eth${n}`]);
      await lab.ip(fab, [`addr add 10.0.${n}.254/24 dev f${n}`]);
    }
    await lab.ip(host, ['addr add fd00:3::1/64 dev eth3 nodad']);
    for (const p of ['p1', 'p2', 'p3', 'p4']) pods[p] = await lab.netns(p);
    await lab.settled(host, ['eth1', 'eth2', 'eth3']);
    const { stdout } = await lab.exec(host, process.execPath, [agentJs, 'discover']);
    const interfaces = (JSON.parse(stdout) as Array<InterfaceInfo & { ifindex?: number }>).map(({ ifindex: _i, ...rest }) => rest);
    expect(interfaces.map((i) => i.interfaceName)).toEqual(['eth1', 'eth2', 'eth3']);
    const inventory: HostInterface[] = [{ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: 'h1' }, spec: { hostName: 'h1', interfaces } }];
    const network = testNetwork({ name: 'hd', vlanMode: 'l2' });
    network.spec.plugin = { cniVersion: '1.0.0', type: 'host-device' };
    network.spec.masterNets = NETS;
    const cidr = planNetwork({ network: validateNetwork({ source: 'host-device', value: network }), inventory }).cidr;
    writeFileSync(join(dir, 'state.yaml'), [stringify(network), stringify(cidr)].join('---\n'));
    await startAgent();
  }, 120_000);

  afterAll(async () => {
    await stopAgent();
    await lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('ADD lends eth3 to p1: it is in the pod, known as lent, and the host still owns it (no "NICs changed")', async () => {
    const since = log.length;
    const add = await cni('ADD', 'p1', { masters: ['eth3'] });
    expect(add.code, `${add.stdout}\n${log}`).toBe(0);
    const inPod = await lab.json<{ ifname: string; ifalias?: string }>(pods.p1 as string, ['link', 'show']);
    expect(inPod.map((l) => [l.ifname, l.ifalias])).toContainEqual(['net1-0', 'eth3']);
    expect(await hostLink('eth3')).toBeUndefined();
    await expect.poll(async () => (await view()).nics.map((n) => n.interfaceName), { timeout: 10_000, interval: 100 }).toEqual(['eth1', 'eth2']);
    expect((await view()).lentNics.map((l) => [l.nic.interfaceName, l.holder.containerID, l.releasedAt])).toEqual([['eth3', 'c-p1', undefined]]);
    // Lending is not a change of what the host owns (a change before the ADD would be the lab settling).
    expect(log.slice(since)).not.toContain('"NICs changed"');
  });

  it('eth3 is not offered to another pod; a pod asking for every NIC is refused (code 11) naming who holds it', async () => {
    const named = await cni('ADD', 'p2', { masters: ['eth3'] });
    expect(named.code).not.toBe(0);
    expect((named.json as { msg: string }).msg).toMatch(/eth3/);
    const all = await cni('ADD', 'p2');
    expect(all.code).not.toBe(0);
    expect(all.json).toMatchObject({ code: 11 });
    expect((all.json as { msg: string }).msg).toContain('the pod asks for every NIC, but NIC eth3 (10.0.3.0/24: lent to pod default/p1 (container c-p1 net1-0)) of host h1 is missing (2 of 3 present); not attaching fewer');
    expect(Object.keys(await lab.json<{ ifname: string }>(pods.p2 as string, ['link', 'show']))).toHaveLength(1); // lo only
  });

  it('after an agent restart eth3 is still lent to p1', async () => {
    await stopAgent();
    await startAgent();
    expect((await view()).lentNics.map((l) => [l.nic.interfaceName, l.holder.containerID])).toEqual([['eth3', 'c-p1']]);
    const again = await cni('ADD', 'p2', { masters: ['eth3'] });
    expect(again.code).not.toBe(0);
  });

  it('DEL gives eth3 back with the host addresses (host-device returns it down and bare) and the agent rediscovers it', async () => {
    const del = await cni('DEL', 'p1');
    expect(del.code, `${del.stdout}\n${log}`).toBe(0);
    expect(await hostLink('eth3')).toEqual({ up: true, addrs: ['10.0.3.1/24', 'fd00:3::1/64'] });
    await expect.poll(async () => (await view()).nics.map((n) => `${n.interfaceName}=${n.hostIP}${n.hostIPv6 ? `,${n.hostIPv6}` : ''}`), { timeout: 10_000, interval: 100 }).toEqual(['eth1=10.0.1.1', 'eth2=10.0.2.1', 'eth3=10.0.3.1,fd00:3::1']);
    expect((await view()).lentNics).toEqual([]);
    expect(await lab.ping(host, '10.0.3.254', 'eth3')).toBe(true);
    expect(log).toContain('"NIC returned to the host"');
    // DEL is repeatable (the runtime retries it): the NIC is back already, nothing fails.
    const again = await cni('DEL', 'p1');
    expect(again.code, again.stdout).toBe(0);
    expect(await hostLink('eth3')).toEqual({ up: true, addrs: ['10.0.3.1/24', 'fd00:3::1/64'] });
  });

  it('a veth NIC whose pod netns is deleted is destroyed with it: reported lost, DEL succeeds, and it is taken back when recreated', async () => {
    const add = await cni('ADD', 'p3', { masters: ['eth2'] });
    expect(add.code, add.stdout).toBe(0);
    expect(await hostLink('eth2')).toBeUndefined(); // host-device moved it into p3
    await run('ip', ['netns', 'del', pods.p3 as string]);
    // Any link event makes the agent re-scan; it notices the netns is gone and eth2 did not come back.
    await lab.veth(host, 'mnh3x', fab, 'mnh3y');
    await expect
      .poll(() => log.includes('"lent NIC lost with its pod"'), { timeout: 10_000, interval: 100 })
      .toBe(true)
      .catch((e: Error) => {
        throw new Error(`${e.message}\nagent log:\n${log}`);
      });
    expect((await view()).lentNics.map((l) => [l.nic.interfaceName, typeof l.releasedAt])).toEqual([['eth2', 'number']]);
    // The runtime's DEL for a sandbox whose netns is gone succeeds, whether it still passes the old
    // path (containerd does; host-device alone fails "failed to open netns" on every retry) or none.
    const del = await cni('DEL', 'p3');
    expect(del.code, `${del.stdout}\n${log}`).toBe(0);
    const none = await cni('DEL', 'p3', undefined, '');
    expect(none.code, `${none.stdout}\n${log}`).toBe(0);
    // The admin recreates the NIC; the agent sees its address and drops the record.
    await lab.veth(host, 'eth2', fab, 'f2');
    await lab.ip(host, ['addr replace 10.0.2.1/24 dev eth2']); // the agent may have restored it first
    await expect.poll(async () => (await view()).nics.map((n) => n.interfaceName), { timeout: 10_000, interval: 100 }).toEqual(['eth1', 'eth2', 'eth3']);
    await expect.poll(async () => (await view()).lentNics, { timeout: 10_000, interval: 100 }).toEqual([]);
  });
});
