// Pods of the primary network come and go on a node all day; their host-side veths are not NICs.
// The real agent runs in a host namespace while the reference ptp and bridge plugins (what
// containerd and podman configure as the primary network) attach and detach pods; the agent must
// not report "NICs changed" for any of them. A real NIC added afterwards is the positive control:
// its "NICs changed" line proves the agent re-scanned after every pod event before it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cniPluginsDir, hasCniPlugins, privileged } from '../helpers/privileged.js';
import { NetnsLab } from '../agent/helpers/netns.js';
import { bundleAgent } from '../agent/helpers/bundle.js';
import { call } from '../agent/helpers/http.js';

const reason = !privileged.ok ? privileged.reason : !hasCniPlugins ? `needs the reference CNI plugins in ${cniPluginsDir}` : '';

describe.skipIf(reason !== '')(`discovery ignores the primary network's pod veths ${reason}`, () => {
  const lab = new NetnsLab('mnh3v');
  let dir: string;
  let host: string;
  let agent: ChildProcess | undefined;
  let log = '';
  const sock = () => join(dir, 'agent.sock');
  const changes = () => log.split('\n').filter((l) => l.includes('"NICs changed"'));
  const nicsOf = async () => ((await call(sock(), 'GET', '/v1/state')).body as { nics: Array<{ interfaceName: string }> }).nics.map((n) => n.interfaceName);

  const until = async (what: string, ok: () => Promise<boolean>) => {
    const deadline = Date.now() + 20_000;
    while (!(await ok().catch(() => false))) {
      if (Date.now() > deadline || agent?.exitCode !== null) throw new Error(`${what}:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const primary = async (command: 'ADD' | 'DEL', type: 'ptp' | 'bridge', pod: string) => {
    const conf = { cniVersion: '1.0.0', name: `prim-${type}`, type, ...(type === 'bridge' ? { bridge: 'cni0', isGateway: true } : {}), ipam: { type: 'host-local', subnet: type === 'ptp' ? '10.88.0.0/16' : '10.89.0.0/16', dataDir: join(dir, 'host-local') } };
    await lab.exec(host, join(cniPluginsDir, type), [], {
      input: JSON.stringify(conf),
      env: { ...process.env, CNI_COMMAND: command, CNI_CONTAINERID: `c-${pod}`, CNI_NETNS: `/run/netns/${pod}`, CNI_IFNAME: 'eth0', CNI_PATH: cniPluginsDir },
    });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnh3-veth-'));
    const agentJs = await bundleAgent();
    host = await lab.netns('h');
    const fab = await lab.netns('f');
    await lab.veth(host, 'eth1', fab, 'up1');
    await lab.ip(host, ['addr add 10.0.1.5/24 dev eth1']);
    writeFileSync(join(dir, 'state.yaml'), '');
    agent = spawn('ip', ['netns', 'exec', host, process.execPath, agentJs, 'run', '--health-interval', '0', '--node', 'h', '--socket', sock(), '--state-file', join(dir, 'state.yaml'), '--data-dir', join(dir, 'data'), '--rt-tables', join(dir, 'rt_tables')], { stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    await until('the agent did not become ready', async () => Boolean(((await call(sock(), 'GET', '/v1/state')).body as { lastReconcile?: unknown }).lastReconcile));
    // The first scan may race eth1's carrier; wait until the agent settled on it.
    await until('the agent did not find eth1', async () => (await nicsOf()).join() === 'eth1');
  }, 60_000);

  afterAll(async () => {
    agent?.kill('SIGTERM');
    if (agent && agent.exitCode === null) await new Promise((r) => agent?.once('exit', r));
    await lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('ptp and bridge pods start and stop without "NICs changed"; a real NIC still is one', async () => {
    const before = changes().length;
    const pods = [await lab.netns('p1'), await lab.netns('p2'), await lab.netns('p3')];
    await primary('ADD', 'ptp', pods[0] as string);
    await primary('ADD', 'ptp', pods[1] as string);
    await primary('ADD', 'bridge', pods[2] as string);
    // What the agent sees now: three pod veths (ptp's with the /32 gateway address) and cni0.
    const links = await lab.json<{ ifname: string; addr_info?: Array<{ local: string; prefixlen: number; scope: string }> }>(host, ['addr', 'show']);
    const veths = links.filter((l) => l.ifname.startsWith('veth'));
    expect(veths).toHaveLength(3);
    expect(veths.flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`))).toEqual(['10.88.0.1/32', '10.88.0.1/32']);
    await primary('DEL', 'ptp', pods[0] as string);

    // Positive control: a real NIC appears; once the agent reported it, every earlier event was scanned.
    const peer = await lab.netns('g');
    await lab.veth(host, 'eth2', peer, 'up2');
    await lab.ip(host, ['addr add 10.0.2.5/24 dev eth2']);
    await expect.poll(nicsOf, { timeout: 10_000, interval: 100 }).toEqual(['eth1', 'eth2']);
    const seen = changes().slice(before);
    expect(seen.length, log).toBeGreaterThanOrEqual(1);
    for (const line of seen) expect((JSON.parse(line) as { nics: string[] }).nics, line).toEqual(['eth1=10.0.1.5', 'eth2=10.0.2.5']);

    await primary('DEL', 'ptp', pods[1] as string);
    await primary('DEL', 'bridge', pods[2] as string);
    await lab.ip(host, ['link set eth2 down']);
    await expect.poll(nicsOf, { timeout: 10_000, interval: 100 }).toEqual(['eth1']);
    for (const line of changes().slice(before)) expect(line).not.toMatch(/veth|cni0/);
  }, 60_000);
});
