// What the plugin executes, through the BUILT executable: a config naming a path as a plugin type
// must never run it (it would run as root on the node), on ADD or on DEL, and a CNI_PATH that is
// not absolute is refused before anything runs. The "plugin" here is a script that leaves a marker.
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent, type FakeNetwork } from '../fakes/agent-server.js';
import { isBuilt, nadConfig, notBuiltReason, runPlugin } from './harness.js';

const macvlan = { type: 'macvlan', cniVersion: '0.3.0', args: { mode: 'bridge' } };
const networks: FakeNetwork[] = [
  { name: 'mnet', plugin: macvlan, vlanMode: 'l3', nics: [{ master: 'eth1', netAddress: '10.0.1.0/24', vlanCIDR: '192.168.0.0/18', podCIDR: '192.168.0.64/26' }] },
  { name: 'mnet-hl', plugin: macvlan, vlanMode: '', passThrough: true, nics: [{ master: 'eth1', netAddress: '10.0.1.0/24', vlanCIDR: '', podCIDR: '' }] },
];
const CNI_DIR = '/usr/lib/cni';

describe.skipIf(!isBuilt)(`multi-nic never executes a path from a config ${isBuilt ? '' : notBuiltReason}`, () => {
  let dir: string;
  let agent: FakeAgent;
  let marker: string;
  let script: string;
  /** `../../../tmp/.../x.sh`, as seen from the CNI bin directory. */
  let traversal: string;

  const env = (over: Record<string, string | undefined> = {}) => ({
    CNI_CONTAINERID: 'ctr-exec-safety',
    CNI_NETNS: join(dir, 'absent-netns'),
    CNI_IFNAME: 'net1',
    CNI_PATH: CNI_DIR,
    CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_UID=u1',
    MULTINIC_AGENT_SOCKET: join(dir, 'agent.sock'),
    ...over,
  });
  const hostLocalConf = (type: string) => nadConfig({ name: 'mnet-hl', multiNICIPAM: undefined, ipam: { type, ranges: [[{ subnet: '172.31.0.0/24' }]] } });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mncni-exec-'));
    agent = await new FakeAgent(join(dir, 'agent.sock'), networks).start();
    marker = join(dir, 'ran');
    script = join(dir, 'x.sh');
    writeFileSync(script, `#!/bin/sh\ntouch '${marker}'\necho '{}'\n`);
    chmodSync(script, 0o755);
    traversal = relative(CNI_DIR, script);
    writeFileSync(join(dir, 'netns'), '');
  });
  afterAll(async () => {
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => rmSync(marker, { force: true }));

  it('the bed: the traversal path reaches the script from the CNI bin directory', () => {
    expect(traversal.startsWith('../')).toBe(true);
    expect(existsSync(join(CNI_DIR, traversal))).toBe(true);
  });

  it.each([
    ['a ../ path', () => traversal],
    ['an absolute path', () => script],
    ['".."', () => '..'],
    ['a name with a space', () => 'host local'],
  ])('ADD with ipam.type %s: code 7 naming ipam.type, the agent is not asked, nothing runs', async (_what, type) => {
    const calls = agent.calls.length;
    const r = await runPlugin({ command: 'ADD', env: env({ CNI_NETNS: join(dir, 'netns') }), stdin: hostLocalConf(type()) });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json?.['code']).toBe(7);
    expect(String(r.json?.['msg'])).toBe(`ipam.type ${JSON.stringify(type())} is not a plugin name (a bare file name in CNI_PATH: letters, digits, ".", "_" and "-", no "/")`);
    expect(agent.calls.length).toBe(calls);
    expect(existsSync(marker)).toBe(false);
  });

  it('DEL with ipam.type a ../ path (the agent has no record, prevResult names the interface): refused, the script never runs', async () => {
    const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'net1-0', sandbox: join(dir, 'absent-netns') }], ips: [{ address: '172.31.0.2/24', interface: 0 }] };
    const r = await runPlugin({ command: 'DEL', env: env(), stdin: { ...hostLocalConf(traversal), prevResult } });
    expect(existsSync(marker)).toBe(false);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json?.['code']).toBe(7);
    expect(String(r.json?.['msg'])).toMatch(/^ipam\.type ".*x\.sh" is not a plugin name/);
  });

  it('a plugin name that is a bare file name in CNI_PATH does run (the gate is not a blanket refusal)', async () => {
    const binDir = join(dir, 'bin');
    mkdirSync(binDir, { recursive: true });
    copyFileSync(script, join(binDir, 'x.sh'));
    chmodSync(join(binDir, 'x.sh'), 0o755);
    const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'net1-0' }], ips: [] };
    const r = await runPlugin({ command: 'DEL', env: env({ CNI_PATH: `${binDir}:${CNI_DIR}` }), stdin: { ...hostLocalConf('x.sh'), prevResult } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(existsSync(marker)).toBe(true);
  });

  it.skipIf(process.getuid?.() !== 0)('an agentSocket that is not a root-owned socket is refused before anything is sent to it', async () => {
    const other = await new FakeAgent(join(dir, 'other.sock'), networks).start();
    try {
      chownSync(join(dir, 'other.sock'), 65534, 65534);
      writeFileSync(join(dir, 'plain.sock'), '');
      for (const [sock, what] of [[join(dir, 'other.sock'), 'a socket owned by uid 65534'], [join(dir, 'plain.sock'), 'not a socket']] as const) {
        const r = await runPlugin({ command: 'ADD', env: env({ CNI_NETNS: join(dir, 'netns') }), stdin: nadConfig({ agentSocket: sock }) });
        expect(r.code, r.stdout + r.stderr).toBe(1);
        expect(r.json?.['code']).toBe(7);
        expect(String(r.json?.['msg'])).toBe(`agent socket ${sock} is ${what}, not the agent's (a unix socket owned by root)`);
      }
      expect(other.calls).toEqual([]);
    } finally {
      await other.stop();
    }
  });

  it.each([
    ['ADD', true],
    ['DEL', false],
  ])('%s with a relative CNI_PATH entry: code 4 before the agent is asked', async (command, netnsExists) => {
    const calls = agent.calls.length;
    const r = await runPlugin({ command, env: env({ ...(netnsExists ? { CNI_NETNS: join(dir, 'netns') } : {}), CNI_PATH: `bin:${CNI_DIR}` }), stdin: nadConfig() });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json?.['code']).toBe(4);
    expect(String(r.json?.['msg'])).toBe('CNI_PATH entry "bin" is not an absolute directory');
    expect(agent.calls.length).toBe(calls);
  });
});
