// A network changed into macvlan L3 under a running pod, on a real kernel with the real agent and the
// built CNI: in L2 mode (no shim) the first pod got the first address of each pod block, which L3
// mode gives the host's shim as the pods' gateway. The host must leave that address to the pod
// (no shim holds it), the agent must answer new pods on that NIC NotReady naming the pod, and once
// the pod is deleted the shim takes the gateway and new pods attach with it.
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
import { testCidr, testNetwork } from '../agent/helpers/network.js';
import { call } from '../agent/helpers/http.js';
import { eventually } from '../helpers/eventually.js';

const reason = !privileged.ok ? privileged.reason : !hasCniPlugins ? `needs the reference CNI plugins in ${cniPluginsDir}` : !isBuilt ? notBuiltReason : '';

describe.skipIf(reason !== '')(`agent: a network changed into macvlan L3 while a pod holds the gateway ${reason}`, () => {
  const lab = new NetnsLab('mnh4g');
  let dir: string;
  let host: string;
  const podNs: Record<string, string> = {};
  let agent: ChildProcess | undefined;
  let log = '';
  const sock = () => join(dir, 'a.sock');
  const statePath = () => join(dir, 'state.yaml');
  const cidr = testCidr(['h1', 'h2']);
  const writeState = (vlanMode: string) => writeFileSync(statePath(), [stringify(testNetwork({ vlanMode })), stringify(cidr)].join('---\n'));

  const env = (pod: string) => ({
    CNI_CONTAINERID: `c-${pod}`,
    CNI_NETNS: `/run/netns/${podNs[pod]}`,
    CNI_IFNAME: 'net1',
    CNI_PATH: cniPluginsDir,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_UID=uid-${pod};K8S_POD_INFRA_CONTAINER_ID=c-${pod}`,
    MULTINIC_AGENT_SOCKET: sock(),
  });
  const podAddrs = async (ns: string) => {
    const links = await lab.json<{ ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>(ns, ['addr', 'show']);
    return Object.fromEntries(links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet' && l.ifname !== 'lo').map((a) => [l.ifname, `${a.local}/${a.prefixlen}`])));
  };
  /** Global IPv4 addresses on the host's shim links. */
  const shimAddrs = async () =>
    (await lab.json<{ ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number; scope: string }> }>(host, ['addr', 'show']))
      .filter((l) => l.ifname.startsWith('mnshim'))
      .flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet' && a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`))
      .sort();
  const lastReconcile = async () => ((await call(sock(), 'GET', '/v1/state')).body as { lastReconcile?: { at: string; error?: string } }).lastReconcile;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnh4-mode-'));
    const agentJs = await bundleAgent();
    const fab = await lab.netns('f');
    host = await lab.netns('h');
    podNs.a = await lab.netns('pa');
    podNs.b = await lab.netns('pb');
    await lab.ip(fab, ['link add br1 type bridge', 'link add br2 type bridge', 'link set br1 up', 'link set br2 up']);
    for (const n of [1, 2]) {
      await lab.veth(host, `eth${n}`, fab, `h1e${n}`);
      await lab.ip(fab, [`link set h1e${n} master br${n}`]);
      await lab.ip(host, [`addr add 10.0.${n}.1/24 dev eth${n}`]);
    }
    writeState('l2');
    agent = spawn('ip', ['netns', 'exec', host, process.execPath, agentJs, 'run', '--health-interval', '0', '--node', 'h1', '--socket', sock(), '--state-file', statePath(), '--data-dir', join(dir, 'data'), '--rt-tables', join(dir, 'rt_tables'), '--resync', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    await eventually(async () => {
      if (agent?.exitCode !== null) throw new Error(`agent exited:\n${log}`);
      expect(await lastReconcile()).toBeDefined();
    }, 20_000, 100);
  }, 120_000);

  afterAll(async () => {
    const a = agent;
    if (a && a.exitCode === null) {
      a.kill('SIGTERM');
      await new Promise((r) => a.once('exit', r));
    }
    await lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('in L2 mode the first pod gets the first address of each pod block; no shim', async () => {
    const add = await runPlugin({ command: 'ADD', env: env('a'), stdin: nadConfig(), hostNetns: host });
    expect(add.code, `${add.stdout}\n${add.stderr}\n${log}`).toBe(0);
    expect(await podAddrs(podNs.a as string)).toEqual({ 'net1-0': '192.168.0.1/18', 'net1-1': '192.168.64.1/18' });
    expect(await shimAddrs()).toEqual([]);
  });

  it('switched to L3, the host leaves the gateways to that pod and new pods are refused naming it', async () => {
    writeState('l3');
    await eventually(async () => expect((await lastReconcile())?.error).toMatch(/network "mnet" on h1\/eth1: the shim gateway 192\.168\.0\.1 \(macvlan vlanMode l3\) is held by pod default\/a/), 20_000, 100);
    expect(await shimAddrs()).toEqual([]);
    // The pod still owns its address: nothing else on the host answers for it.
    const hostAddrs = (await lab.json<{ addr_info?: Array<{ local: string }> }>(host, ['addr', 'show'])).flatMap((l) => (l.addr_info ?? []).map((a) => a.local));
    expect(hostAddrs).not.toContain('192.168.0.1');
    const add = await runPlugin({ command: 'ADD', env: env('b'), stdin: nadConfig(), hostNetns: host });
    expect(add.code).not.toBe(0);
    expect(add.stdout).toMatch(/shim gateway 192\.168\.0\.1 \(macvlan vlanMode l3\) is held by pod default\/a/);
    expect(await podAddrs(podNs.b as string)).toEqual({});
  });

  it('once that pod is deleted the shims take the gateways and a new pod attaches through them', async () => {
    const del = await runPlugin({ command: 'DEL', env: env('a'), stdin: nadConfig(), hostNetns: host });
    expect(del.code, `${del.stdout}\n${del.stderr}`).toBe(0);
    await eventually(async () => expect(await shimAddrs()).toEqual(['192.168.0.1/24', '192.168.64.1/24']), 20_000, 100);
    // The shim may get its address in a reconcile whose report lands a moment later.
    await eventually(async () => expect((await lastReconcile())?.error).toBeUndefined(), 20_000, 100);
    const add = await runPlugin({ command: 'ADD', env: env('b'), stdin: nadConfig(), hostNetns: host });
    expect(add.code, `${add.stdout}\n${add.stderr}\n${log}`).toBe(0);
    expect(await podAddrs(podNs.b as string)).toEqual({ 'net1-0': '192.168.0.2/24', 'net1-1': '192.168.64.2/24' });
    expect(await lab.ping(podNs.b as string, '192.168.0.1')).toBe(true);
  });
});
