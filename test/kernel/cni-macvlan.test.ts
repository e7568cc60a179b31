// The built multi-nic plugin against the real kernel and the real reference macvlan plugin: a
// "host" netns with two veth NICs into per-NIC bridges (a "fabric" netns), a pod netns, and the
// fake agent on a unix socket. Setup -> run the plugin as a runtime would -> read back -> compare.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasCniPlugins, hasIpvlan, privileged, cniPluginsDir } from '../helpers/privileged.js';
import { FakeAgent, type FakeNetwork } from '../fakes/agent-server.js';
import { isBuilt, nadConfig, notBuiltReason, runPlugin, sh, shQuiet, type PluginRun } from '../cni/harness.js';

const reason = !privileged.ok ? privileged.reason : !hasCniPlugins ? `needs the reference CNI plugins in ${cniPluginsDir}` : !isBuilt ? notBuiltReason : '';
const tag = `mncni${process.pid % 100000}`;
const HOST = `${tag}h`;
const FABRIC = `${tag}f`;
const POD = `${tag}p`;

const macvlan = { type: 'macvlan', cniVersion: '0.3.0', args: { mode: 'bridge' } };
const nics = [
  { master: 'eth1', netAddress: '10.0.1.0/24', vlanCIDR: '192.168.0.0/18', podCIDR: '192.168.0.64/26' },
  { master: 'eth2', netAddress: '10.0.2.0/24', vlanCIDR: '192.168.64.0/18', podCIDR: '192.168.64.64/26' },
];
const networks: FakeNetwork[] = [
  { name: 'mnet', plugin: macvlan, vlanMode: 'l3', nics },
  { name: 'mnet-l2', plugin: macvlan, vlanMode: 'l2', nics },
  // The second NIC's master does not exist on the host: macvlan fails on NIC 2.
  { name: 'mnet-bad', plugin: macvlan, vlanMode: 'l3', nics: [nics[0]!, { ...nics[1]!, master: 'eth9' }] },
  { name: 'mnet-ipvlan', plugin: { type: 'ipvlan', cniVersion: '0.3.0', args: { mode: 'l3' } }, vlanMode: 'l3', nics },
  { name: 'mnet-hl', plugin: macvlan, vlanMode: '', nics, passThrough: true },
];

interface AddrJson { ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }
interface RouteJson { dst: string; gateway?: string; dev: string }

/** Pod netns read back into plain data: link -> IPv4 addresses, and the main table. */
async function readPod(netns = POD): Promise<{ links: Record<string, string[]>; routes: string[] }> {
  const addrs = JSON.parse(await sh('ip', ['-n', netns, '-j', 'addr', 'show'])) as AddrJson[];
  const routes = JSON.parse(await sh('ip', ['-n', netns, '-j', '-4', 'route', 'show'])) as RouteJson[];
  const links: Record<string, string[]> = {};
  for (const a of addrs) links[a.ifname] = (a.addr_info ?? []).filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`);
  return { links, routes: routes.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`).sort() };
}

describe.skipIf(reason !== '')(`multi-nic CNI in real namespaces ${reason}`, () => {
  let dir: string;
  let agent: FakeAgent;
  let seq = 0;

  const env = (containerID: string, over: Record<string, string | undefined> = {}) => ({
    CNI_CONTAINERID: containerID,
    CNI_NETNS: `/run/netns/${POD}`,
    CNI_IFNAME: 'net1',
    CNI_PATH: cniPluginsDir,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${containerID};K8S_POD_UID=uid-${containerID};K8S_POD_INFRA_CONTAINER_ID=${containerID}`,
    MULTINIC_AGENT_SOCKET: join(dir, 'agent.sock'),
    ...over,
  });
  const plugin = (command: string, containerID: string, stdin: unknown, over: Record<string, string | undefined> = {}): Promise<PluginRun> =>
    runPlugin({ command, env: env(containerID, over), stdin, hostNetns: HOST });
  const cid = () => `ctr${tag}x${++seq}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${tag}-`));
    agent = await new FakeAgent(join(dir, 'agent.sock'), networks).start();
    for (const ns of [HOST, FABRIC, POD]) await sh('ip', ['netns', 'add', ns]);
    for (const [i, n] of [1, 2].entries()) {
      await sh('ip', ['-n', FABRIC, 'link', 'add', `br${n}`, 'type', 'bridge']);
      await sh('ip', ['-n', FABRIC, 'link', 'set', `br${n}`, 'up']);
      await sh('ip', ['-n', HOST, 'link', 'add', `eth${n}`, 'type', 'veth', 'peer', 'name', `h1e${n}`, 'netns', FABRIC]);
      await sh('ip', ['-n', FABRIC, 'link', 'set', `h1e${n}`, 'master', `br${n}`, 'up']);
      await sh('ip', ['-n', HOST, 'addr', 'add', `10.0.${i + 1}.1/24`, 'dev', `eth${n}`]);
      await sh('ip', ['-n', HOST, 'link', 'set', `eth${n}`, 'up']);
    }
    await sh('ip', ['-n', POD, 'link', 'set', 'lo', 'up']);
  });

  // Isolation: whatever a failed test left in the pod netns goes, so the next test starts clean.
  afterEach(async () => {
    const links = JSON.parse(await sh('ip', ['-n', POD, '-j', 'link', 'show'])) as Array<{ ifname: string }>;
    for (const l of links) if (l.ifname !== 'lo') await shQuiet('ip', ['-n', POD, 'link', 'del', l.ifname]);
  });

  afterAll(async () => {
    for (const ns of [POD, HOST, FABRIC]) await shQuiet('ip', ['netns', 'del', ns]);
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    // host-local keeps its state under /var/lib/cni/networks/<name>: only our network's.
    rmSync('/var/lib/cni/networks/mnet-hl', { recursive: true, force: true });
  });

  it('ADD gives the pod net1-0 and net1-1 with the agent\'s addresses and shim routes; DEL removes them and releases', async () => {
    const id = cid();
    const add = await plugin('ADD', id, nadConfig());
    expect(add.stderr).toBe('');
    expect(add.code, add.stdout).toBe(0);
    const held = agent.holdings().filter((h) => h.includes(id));
    expect(held).toEqual([`mnet/${id}/net1/net1-0=192.168.0.66/26`, `mnet/${id}/net1/net1-1=192.168.64.66/26`]);
    const pod = await readPod();
    expect(pod.links['net1-0']).toEqual(['192.168.0.66/26']);
    expect(pod.links['net1-1']).toEqual(['192.168.64.66/26']);
    expect(pod.routes).toEqual([
      '192.168.0.0/18 via 192.168.0.65 dev net1-0',
      '192.168.0.64/26 dev net1-0',
      '192.168.64.0/18 via 192.168.64.65 dev net1-1',
      '192.168.64.64/26 dev net1-1',
    ]);
    const r = add.json as { ips: Array<{ address: string; interface: number; gateway?: string }>; interfaces: Array<{ name: string; sandbox: string; mac: string }> };
    expect(r.interfaces.map((i) => i.name)).toEqual(['net1-0', 'net1-1']);
    expect(r.interfaces.every((i) => i.sandbox === `/run/netns/${POD}` && /^[0-9a-f:]{17}$/.test(i.mac))).toBe(true);
    expect(r.ips.map((i) => [i.address, i.interface, i.gateway])).toEqual([
      ['192.168.0.66/26', 0, '192.168.0.65'],
      ['192.168.64.66/26', 1, '192.168.64.65'],
    ]);

    const del = await plugin('DEL', id, nadConfig());
    expect(del.code, del.stdout).toBe(0);
    expect(Object.keys((await readPod()).links)).toEqual(['lo']);
    expect(agent.holdings().filter((h) => h.includes(id))).toEqual([]);
    // DEL twice: nothing left, still success.
    const again = await plugin('DEL', id, nadConfig());
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toBe('');
  });

  it('vlanMode l2 keeps the whole vlanCIDR on-link and adds no gateway route', async () => {
    const id = cid();
    const add = await plugin('ADD', id, nadConfig({ name: 'mnet-l2' }));
    expect(add.code, add.stdout).toBe(0);
    const pod = await readPod();
    const held = agent.holdings().filter((h) => h.includes(id)).map((h) => h.split('=')[1]);
    expect(held).toHaveLength(2);
    expect(held.every((a) => a?.endsWith('/18'))).toBe(true);
    expect([pod.links['net1-0'], pod.links['net1-1']]).toEqual([[held[0]], [held[1]]]);
    expect(pod.routes).toEqual(['192.168.0.0/18 dev net1-0', '192.168.64.0/18 dev net1-1']);
    expect((await plugin('DEL', id, nadConfig({ name: 'mnet-l2' }))).code).toBe(0);
  });

  it.each(['0.3.0', '0.3.1', '0.4.0', '1.0.0'])('result shape for cniVersion %s', async (version) => {
    const id = cid();
    const conf = nadConfig({ cniVersion: version });
    const add = await plugin('ADD', id, conf);
    expect(add.code, add.stdout).toBe(0);
    const r = add.json as Record<string, unknown> & { ips: Array<Record<string, unknown>> };
    expect(r['cniVersion']).toBe(version);
    expect(Object.keys(r).sort()).toEqual(['cniVersion', 'dns', 'interfaces', 'ips', 'routes']);
    const versions = r.ips.map((ip) => ip['version']);
    expect(versions).toEqual(version === '1.0.0' ? [undefined, undefined] : ['4', '4']);
    expect(r.ips.map((ip) => ip['interface'])).toEqual([0, 1]);
    expect(r['routes']).toEqual([
      { dst: '192.168.0.0/18', gw: '192.168.0.65' },
      { dst: '192.168.64.0/18', gw: '192.168.64.65' },
    ]);
    const del = await plugin('DEL', id, version >= '0.4.0' ? { ...conf, prevResult: r } : conf);
    expect(del.code, del.stdout).toBe(0);
    expect(Object.keys((await readPod()).links)).toEqual(['lo']);
  });

  // Probed, not assumed: this machine's kernel has no ipvlan, the UML stage's has (the full ipvlan
  // data path is test/kernel/ipvlan-datapath.test.ts).
  it.runIf(!hasIpvlan)('ipvlan (absent from this kernel) fails cleanly: clear error, no link left, every address released', async () => {
    const id = cid();
    const before = agent.callsTo('/v1/release').length;
    const add = await plugin('ADD', id, nadConfig({ name: 'mnet-ipvlan', plugin: { type: 'ipvlan', mode: 'l3' } }));
    expect(add.code).not.toBe(0);
    expect(add.json?.['code']).toBe(105);
    expect(String(add.json?.['msg'])).toMatch(/^failed to add NIC 1 \(eth1 -> net1-0\) with ipvlan: .*; rolled back 0 interfaces and 2 addresses$/);
    expect(Object.keys((await readPod()).links)).toEqual(['lo']);
    expect(agent.holdings().filter((h) => h.includes(id))).toEqual([]);
    expect(agent.callsTo('/v1/release').length).toBe(before + 1);
  });

  it.runIf(hasIpvlan)('ipvlan (in this kernel): ADD gives the pod ipvlan L3 links with the agent\'s addresses; DEL removes them and releases', async () => {
    const id = cid();
    const conf = nadConfig({ name: 'mnet-ipvlan', plugin: { type: 'ipvlan', mode: 'l3' } });
    const add = await plugin('ADD', id, conf);
    expect(add.code, `${add.stdout}${add.stderr}`).toBe(0);
    const held = agent.holdings().filter((h) => h.includes(id)).map((h) => h.split('=')[1]);
    const pod = await readPod();
    expect([pod.links['net1-0'], pod.links['net1-1']]).toEqual([[held[0]], [held[1]]]);
    // Delegates run in parallel: the order the links appear in is a race, the set is not.
    const kinds = JSON.parse(await sh('ip', ['-n', POD, '-j', '-d', 'link', 'show'])) as Array<{ ifname: string; linkinfo?: { info_kind?: string; info_data?: { mode?: string } } }>;
    expect(kinds.filter((l) => l.ifname !== 'lo').map((l) => `${l.ifname} ${l.linkinfo?.info_kind} ${l.linkinfo?.info_data?.mode}`).sort()).toEqual(['net1-0 ipvlan l3', 'net1-1 ipvlan l3']);
    expect((await plugin('DEL', id, conf)).code).toBe(0);
    expect(Object.keys((await readPod()).links)).toEqual(['lo']);
    expect(agent.holdings().filter((h) => h.includes(id))).toEqual([]);
  });

  it('a failure on the 2nd NIC deletes the 1st NIC\'s link and releases both addresses', async () => {
    const id = cid();
    const add = await plugin('ADD', id, nadConfig({ name: 'mnet-bad' }));
    expect(add.code).not.toBe(0);
    expect(add.json?.['code']).toBe(105);
    expect(String(add.json?.['msg'])).toMatch(/^failed to add NIC 2 \(eth9 -> net1-1\) with macvlan: .+; rolled back 1 interface and 2 addresses$/);
    expect(Object.keys((await readPod()).links)).toEqual(['lo']);
    expect(agent.holdings().filter((h) => h.includes(id))).toEqual([]);
    // The address is reusable at once: a good ADD right after succeeds.
    const ok = cid();
    expect((await plugin('ADD', ok, nadConfig())).code).toBe(0);
    expect((await plugin('DEL', ok, nadConfig())).code).toBe(0);
  });

  it('CHECK passes on a good pod and fails once an address is removed', async () => {
    const id = cid();
    const conf = nadConfig({ cniVersion: '1.0.0' });
    const add = await plugin('ADD', id, conf);
    expect(add.code, add.stdout).toBe(0);
    const good = await plugin('CHECK', id, { ...conf, prevResult: add.json });
    expect(good.code, good.stdout).toBe(0);
    expect(good.stdout).toBe('');
    const second = agent.holdings().find((h) => h.includes(`${id}/net1/net1-1=`))?.split('=')[1] as string;
    expect(second).toMatch(/^192\.168\.64\.\d+\/26$/);
    await sh('ip', ['-n', POD, 'addr', 'del', second, 'dev', 'net1-1']);
    const bad = await plugin('CHECK', id, { ...conf, prevResult: add.json });
    expect(bad.code).not.toBe(0);
    expect(bad.json?.['code']).toBe(106);
    expect(String(bad.json?.['msg'])).toContain(`net1-1 lacks address ${second}`);
    expect((await plugin('DEL', id, conf)).code).toBe(0);
    expect(Object.keys((await readPod()).links)).toEqual(['lo']);
  });

  it('DEL succeeds and releases when the pod netns is already gone', async () => {
    const id = cid();
    const ns = `${tag}q`;
    await sh('ip', ['netns', 'add', ns]);
    try {
      const add = await plugin('ADD', id, nadConfig(), { CNI_NETNS: `/run/netns/${ns}` });
      expect(add.code, add.stdout).toBe(0);
      await sh('ip', ['netns', 'del', ns]);
      expect(existsSync(`/run/netns/${ns}`)).toBe(false);
      const del = await plugin('DEL', id, nadConfig(), { CNI_NETNS: `/run/netns/${ns}` });
      expect(del.code, del.stdout).toBe(0);
      expect(agent.holdings().filter((h) => h.includes(id))).toEqual([]);
    } finally {
      await shQuiet('ip', ['netns', 'del', ns]);
    }
  });

  it('DEL with the agent socket missing still removes the links and succeeds', async () => {
    const id = cid();
    expect((await plugin('ADD', id, nadConfig())).code).toBe(0);
    // No wait for the agent to come back (MULTINIC_AGENT_WAIT_MS=0; by default DEL waits 10 s).
    const del = await plugin('DEL', id, { ...nadConfig() }, { MULTINIC_AGENT_SOCKET: join(dir, 'absent.sock'), MULTINIC_AGENT_WAIT_MS: '0' });
    expect(del.code, del.stdout).toBe(0);
    expect(del.stderr).toContain('absent.sock missing: is the multinic agent running on this node?');
    expect(Object.keys((await readPod()).links)).toEqual(['lo']);
    // The agent still holds the addresses (it reconciles leaks); release them for the next tests.
    expect(agent.holdings().filter((h) => h.includes(id))).toHaveLength(2);
    expect((await plugin('DEL', id, nadConfig())).code).toBe(0);
  });

  it('single-NIC IPAM (host-local) is passed through to each NIC; DEL frees its leases', async () => {
    const id = cid();
    const conf = nadConfig({ name: 'mnet-hl', multiNICIPAM: undefined, ipam: { type: 'host-local', ranges: [[{ subnet: '172.31.0.0/24' }]] } });
    const add = await plugin('ADD', id, conf);
    expect(add.code, add.stdout).toBe(0);
    const pod = await readPod();
    // Delegates run in parallel: which NIC gets .2 from host-local is a race, the pair is not.
    expect([...(pod.links['net1-0'] ?? []), ...(pod.links['net1-1'] ?? [])].sort()).toEqual(['172.31.0.2/24', '172.31.0.3/24']);
    expect(agent.holdings().filter((h) => h.includes(id))).toEqual([`mnet-hl/${id}/net1/net1-0=`, `mnet-hl/${id}/net1/net1-1=`]);
    expect((await plugin('DEL', id, conf)).code).toBe(0);
    expect(Object.keys((await readPod()).links)).toEqual(['lo']);
    expect(existsSync('/var/lib/cni/networks/mnet-hl/172.31.0.2')).toBe(false);
    expect(existsSync('/var/lib/cni/networks/mnet-hl/172.31.0.3')).toBe(false);
  });
});
