// The built multi-nic plugin and what it does to its delegates, in real namespaces with the real
// reference macvlan (Debian's supports CNI up to 1.0.0): version negotiation for a 1.1.0 config,
// and rollback when a delegate fails after creating its link. A wrapper `macvlan` first in CNI_PATH
// runs the real one, logs every call and fails on demand (marker files name the interface).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cniPluginsDir, hasCniPlugins, privileged } from '../helpers/privileged.js';
import { FakeAgent, type FakeNetwork } from '../fakes/agent-server.js';
import { isBuilt, nadConfig, notBuiltReason, runPlugin, sh, shQuiet, type PluginRun } from '../cni/harness.js';

const reason = !privileged.ok ? privileged.reason : !hasCniPlugins ? `needs the reference CNI plugins in ${cniPluginsDir}` : !isBuilt ? notBuiltReason : '';
// Fixed names with this suite's prefix (kernel suites run one at a time under the global lock).
const HOST = 'mnh1dh';
const FABRIC = 'mnh1df';
const POD = 'mnh1dp';

const macvlan = { type: 'macvlan', cniVersion: '0.3.0', args: { mode: 'bridge' } };
const nics = [
  { master: 'eth1', netAddress: '10.0.1.0/24', vlanCIDR: '192.168.0.0/18', podCIDR: '192.168.0.64/26' },
  { master: 'eth2', netAddress: '10.0.2.0/24', vlanCIDR: '192.168.64.0/18', podCIDR: '192.168.64.64/26' },
];
const networks: FakeNetwork[] = [
  { name: 'mnet', plugin: macvlan, vlanMode: 'l3', nics },
  { name: 'mnet-hl', plugin: macvlan, vlanMode: '', nics, passThrough: true },
];

async function podLinks(): Promise<string[]> {
  const links = JSON.parse(await sh('ip', ['-n', POD, '-j', 'link', 'show'])) as Array<{ ifname: string }>;
  return links.map((l) => l.ifname).sort();
}

describe.skipIf(reason !== '')(`multi-nic delegates in real namespaces ${reason}`, () => {
  let dir: string;
  let wrapDir: string;
  let agent: FakeAgent;
  let seq = 0;
  const log = () => (existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') : []);

  const plugin = (command: string, containerID: string, stdin: unknown, cniPath = `${wrapDir}:${cniPluginsDir}`, extraEnv: Record<string, string> = {}): Promise<PluginRun> =>
    runPlugin({
      command,
      stdin,
      hostNetns: HOST,
      env: {
        CNI_CONTAINERID: containerID,
        CNI_NETNS: `/run/netns/${POD}`,
        CNI_IFNAME: 'net1',
        CNI_PATH: cniPath,
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${containerID};K8S_POD_UID=uid-${containerID}`,
        MULTINIC_AGENT_SOCKET: join(dir, 'agent.sock'),
        ...extraEnv,
      },
    });
  const cid = () => `mnh1ctr${++seq}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnh1-deleg-'));
    wrapDir = join(dir, 'bin');
    mkdirSync(wrapDir);
    const wrapper = join(wrapDir, 'macvlan');
    writeFileSync(
      wrapper,
      [
        '#!/bin/sh',
        `echo "$CNI_COMMAND $CNI_IFNAME" >> '${dir}/calls'`,
        `if [ "$CNI_COMMAND" = ADD ] && [ -e '${dir}/fail-add-'"$CNI_IFNAME" ]; then`,
        `  ${cniPluginsDir}/macvlan > /dev/null`,
        `  echo '{"cniVersion":"1.0.0","code":999,"msg":"injected failure after the link was made"}'`,
        '  exit 1',
        'fi',
        `if [ "$CNI_COMMAND" = DEL ] && [ -e '${dir}/fail-del-'"$CNI_IFNAME" ]; then`,
        `  echo '{"cniVersion":"1.0.0","code":999,"msg":"injected DEL failure"}'`,
        '  exit 1',
        'fi',
        `exec ${cniPluginsDir}/macvlan`,
        '',
      ].join('\n'),
    );
    chmodSync(wrapper, 0o755);
    agent = await new FakeAgent(join(dir, 'agent.sock'), networks).start();
    for (const ns of [HOST, FABRIC, POD]) {
      await shQuiet('ip', ['netns', 'del', ns]);
      await sh('ip', ['netns', 'add', ns]);
    }
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

  beforeEach(() => {
    rmSync(join(dir, 'calls'), { force: true });
    for (const f of ['fail-add-net1-1', 'fail-del-net1-1']) rmSync(join(dir, f), { force: true });
  });

  afterEach(async () => {
    for (const l of await podLinks()) if (l !== 'lo') await shQuiet('ip', ['-n', POD, 'link', 'del', l]);
  });

  afterAll(async () => {
    for (const ns of [POD, HOST, FABRIC]) await shQuiet('ip', ['netns', 'del', ns]);
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    rmSync('/var/lib/cni/networks/mnet-hl', { recursive: true, force: true });
  });

  it('a 1.1.0 config runs the 1.0.0 macvlan at 1.0.0, asks VERSION once, and answers ADD in 1.1.0; CHECK and DEL work too', async () => {
    const id = cid();
    const conf = nadConfig({ cniVersion: '1.1.0' });
    const add = await plugin('ADD', id, conf);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    const r = add.json as { cniVersion: string; interfaces: Array<{ name: string }>; ips: Array<Record<string, unknown>> };
    expect(r.cniVersion).toBe('1.1.0');
    expect(r.interfaces.map((i) => i.name)).toEqual(['net1-0', 'net1-1']);
    expect(r.ips.map((ip) => [ip['address'], ip['interface'], ip['version']])).toEqual([
      ['192.168.0.66/26', 0, undefined],
      ['192.168.64.66/26', 1, undefined],
    ]);
    expect(await podLinks()).toEqual(['lo', 'net1-0', 'net1-1']);
    // One VERSION for the binary, shared by both NICs' ADDs.
    expect(log().sort()).toEqual(['ADD net1-0', 'ADD net1-1', 'VERSION ']);

    const check = await plugin('CHECK', id, { ...conf, prevResult: add.json });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const del = await plugin('DEL', id, { ...conf, prevResult: add.json });
    expect(del.code, del.stdout + del.stderr).toBe(0);
    expect(await podLinks()).toEqual(['lo']);
    expect(agent.holdings().filter((h) => h.includes(id))).toEqual([]);
  });

  it('the next ADD and DEL ask no VERSION: the answer is remembered on the host for that binary file, and a rewritten one is asked again', async () => {
    const versions = join(dir, 'versions');
    const env = { MULTINIC_CNI_VERSION_DIR: versions };
    const conf = nadConfig({ cniVersion: '1.1.0' });
    const cycle = async (): Promise<string[]> => {
      rmSync(join(dir, 'calls'), { force: true });
      const id = cid();
      const add = await plugin('ADD', id, conf, undefined, env);
      expect(add.code, add.stdout + add.stderr).toBe(0);
      expect((add.json as { cniVersion: string }).cniVersion).toBe('1.1.0');
      const del = await plugin('DEL', id, { ...conf, prevResult: add.json }, undefined, env);
      expect(del.code, del.stdout + del.stderr).toBe(0);
      expect(await podLinks()).toEqual(['lo']);
      return log();
    };
    // The first pod's ADD asks once for both NICs; its DEL, another process, asks no more.
    expect((await cycle()).sort()).toEqual(['ADD net1-0', 'ADD net1-1', 'DEL net1-0', 'DEL net1-1', 'VERSION ']);
    // One file, naming the wrapper, with what Debian's macvlan answered (up to 1.0.0).
    const files = readdirSync(versions);
    expect(files).toHaveLength(1);
    const kept = JSON.parse(readFileSync(join(versions, files[0] as string), 'utf8')) as { path: string; supportedVersions: string[] };
    expect(kept.path).toBe(join(wrapDir, 'macvlan'));
    expect(kept.supportedVersions).toContain('1.0.0');
    expect(kept.supportedVersions).not.toContain('1.1.0');
    expect((await cycle()).filter((l) => l.startsWith('VERSION'))).toEqual([]);
    // The delegate upgraded in place (same script, written again): asked once more.
    writeFileSync(join(wrapDir, 'macvlan'), readFileSync(join(wrapDir, 'macvlan')));
    expect((await cycle()).filter((l) => l.startsWith('VERSION'))).toEqual(['VERSION ']);
    expect((await cycle()).filter((l) => l.startsWith('VERSION'))).toEqual([]);
  });

  it('a 1.1.0 single-NIC IPAM config: host-local (also 1.0.0) gets its leases back on a DEL without a record', async () => {
    const id = cid();
    const conf = nadConfig({ cniVersion: '1.1.0', name: 'mnet-hl', multiNICIPAM: undefined, ipam: { type: 'host-local', ranges: [[{ subnet: '172.31.1.0/24' }]] } });
    const add = await plugin('ADD', id, conf, cniPluginsDir);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    expect((add.json as { cniVersion: string }).cniVersion).toBe('1.1.0');
    expect(existsSync('/var/lib/cni/networks/mnet-hl/172.31.1.2')).toBe(true);
    // The agent forgets its selection (restart): DEL runs host-local's DEL itself, at 1.0.0.
    await agent.stop();
    agent = await new FakeAgent(join(dir, 'agent.sock'), networks).start();
    const del = await plugin('DEL', id, { ...conf, prevResult: add.json }, cniPluginsDir);
    expect(del.code, del.stdout + del.stderr).toBe(0);
    expect(await podLinks()).toEqual(['lo']);
    expect(existsSync('/var/lib/cni/networks/mnet-hl/172.31.1.2')).toBe(false);
    expect(existsSync('/var/lib/cni/networks/mnet-hl/172.31.1.3')).toBe(false);
  });

  it('a delegate that fails after creating its link: rollback DELs it, the link is gone, the count says so', async () => {
    const id = cid();
    writeFileSync(join(dir, 'fail-add-net1-1'), '');
    const add = await plugin('ADD', id, nadConfig());
    expect(add.code).toBe(1);
    expect(add.json?.['code']).toBe(105);
    expect(add.json?.['msg']).toBe('failed to add NIC 2 (eth2 -> net1-1) with macvlan: injected failure after the link was made; rolled back 2 interfaces and 2 addresses');
    expect(await podLinks()).toEqual(['lo']);
    expect(agent.holdings().filter((h) => h.includes(id))).toEqual([]);
    expect(log().filter((l) => l.startsWith('DEL')).sort()).toEqual(['DEL net1-0', 'DEL net1-1']);
  });

  it('...and when its DEL fails too, the link is deleted by name', async () => {
    const id = cid();
    writeFileSync(join(dir, 'fail-add-net1-1'), '');
    writeFileSync(join(dir, 'fail-del-net1-1'), '');
    const add = await plugin('ADD', id, nadConfig());
    expect(add.code).toBe(1);
    expect(add.json?.['msg']).toBe('failed to add NIC 2 (eth2 -> net1-1) with macvlan: injected failure after the link was made; rolled back 2 interfaces and 2 addresses');
    expect(add.stderr).toContain('rollback of net1-1: delegate DEL failed (injected DEL failure); its link was deleted by name');
    expect(await podLinks()).toEqual(['lo']);
    expect(agent.holdings().filter((h) => h.includes(id))).toEqual([]);
  });
});
