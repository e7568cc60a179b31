// host-device with a passed-through single-NIC IPAM (multiNICIPAM false, host-local): the built
// multi-nic plugin, the reference host-device and host-local, real namespaces and the fake agent.
// A DEL that cannot hand the NIC to host-device (the pod netns is gone, or the NIC is already out of
// the pod) must still release host-local's lease: host-device does its IPAM DEL only with a netns
// and a link, so multi-nic runs the IPAM's DEL itself. Setup -> ADD -> break -> DEL -> read back.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cniPluginsDir, hasCniPlugins, privileged } from '../helpers/privileged.js';
import { FakeAgent, type FakeNetwork } from '../fakes/agent-server.js';
import { isBuilt, nadConfig, notBuiltReason, runPlugin, sh, shQuiet } from '../cni/harness.js';

const reason = !privileged.ok ? privileged.reason : !hasCniPlugins ? `needs the reference CNI plugins in ${cniPluginsDir}` : !isBuilt ? notBuiltReason : '';
const tag = `fx${process.pid % 100000}`;
const HOST = `${tag}h`;
const FABRIC = `${tag}f`;

const networks: FakeNetwork[] = [
  { name: 'fxhd', plugin: { type: 'host-device', cniVersion: '1.0.0', args: {} }, vlanMode: '', passThrough: true, nics: [{ master: 'eth1', netAddress: '10.0.1.0/24', vlanCIDR: '192.168.0.0/18', podCIDR: '192.168.0.64/26' }] },
];

describe.skipIf(reason !== '')(`host-device DEL releases a passed-through IPAM's lease ${reason}`, () => {
  let dir: string;
  let agent: FakeAgent;
  let seq = 0;
  // host-local's data dir, one per test so a lease one test leaks cannot show up in the next.
  let hl = '';
  const leases = () => (existsSync(join(hl, 'fxhd')) ? readdirSync(join(hl, 'fxhd')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : []);
  const conf = () => nadConfig({ name: 'fxhd', multiNICIPAM: undefined, plugin: { cniVersion: '1.0.0', type: 'host-device' }, ipam: { type: 'host-local', ranges: [[{ subnet: '172.31.9.0/24' }]], dataDir: hl } });
  const cni = (command: 'ADD' | 'DEL', id: string, pod: string) =>
    runPlugin({
      command,
      env: { CNI_CONTAINERID: id, CNI_NETNS: `/run/netns/${pod}`, CNI_IFNAME: 'net1', CNI_PATH: cniPluginsDir, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id};K8S_POD_UID=uid-${id}`, MULTINIC_AGENT_SOCKET: join(dir, 'agent.sock') },
      stdin: conf(),
      hostNetns: HOST,
    });
  const podLinks = async (pod: string) => (JSON.parse(await sh('ip', ['-n', pod, '-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname);

  /** A fresh eth1 in the host (the previous one went with a deleted pod netns) and a pod netns. */
  async function setup(): Promise<{ id: string; pod: string }> {
    await shQuiet('ip', ['-n', HOST, 'link', 'del', 'eth1']);
    await sh('ip', ['-n', HOST, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', `${tag}e1`, 'netns', FABRIC]);
    await sh('ip', ['-n', HOST, 'addr', 'add', '10.0.1.1/24', 'dev', 'eth1']);
    await sh('ip', ['-n', HOST, 'link', 'set', 'eth1', 'up']);
    const pod = `${tag}p${++seq}`;
    hl = join(dir, `hl${seq}`);
    await sh('ip', ['netns', 'add', pod]);
    const id = `c${tag}x${seq}`;
    const add = await cni('ADD', id, pod);
    expect(add.code, add.stdout).toBe(0);
    expect(await podLinks(pod)).toContain('net1-0');
    expect(leases()).toHaveLength(1);
    return { id, pod };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${tag}-`));
    agent = await new FakeAgent(join(dir, 'agent.sock'), networks).start();
    for (const ns of [HOST, FABRIC]) await sh('ip', ['netns', 'add', ns]);
  });

  afterAll(async () => {
    for (let i = 1; i <= seq; i++) await shQuiet('ip', ['netns', 'del', `${tag}p${i}`]);
    for (const ns of [HOST, FABRIC]) await shQuiet('ip', ['netns', 'del', ns]);
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the pod netns is gone (its veth NIC went with it): DEL succeeds and the host-local lease is released', async () => {
    const { id, pod } = await setup();
    await sh('ip', ['netns', 'del', pod]);
    const del = await cni('DEL', id, pod);
    expect(del.code, del.stdout + del.stderr).toBe(0);
    expect(leases()).toEqual([]);
    expect(agent.holdings().filter((h) => h.includes(id))).toEqual([]);
  });

  it('the NIC is already back on the host (an earlier DEL gave it back): DEL succeeds and the lease is released', async () => {
    const { id, pod } = await setup();
    await sh('ip', ['-n', pod, 'link', 'set', 'net1-0', 'netns', HOST]);
    const del = await cni('DEL', id, pod);
    expect(del.code, del.stdout + del.stderr).toBe(0);
    expect(await podLinks(pod)).toEqual(['lo']);
    expect(leases()).toEqual([]);
    // Repeatable: nothing left to release, and DEL still succeeds.
    expect((await cni('DEL', id, pod)).code).toBe(0);
  });
});
