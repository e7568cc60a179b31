// Which Linux capability each agent operation needs, measured on the real kernel: every operation
// the agent (and the install-cni init container) performs runs as uid 0 with only the given
// capabilities in its bounding set (setpriv, as a container runtime sets them for
// `capabilities: {drop: [ALL], add: [...]}` with allowPrivilegeEscalation: false), then the whole
// agent runs with exactly what the DaemonSet renders and must converge. The matrix is what
// AGENT_CAPABILITIES in src/lib/install/render.ts and the README's install section rest on. With
// NET_ADMIN alone the agent does not try to enter pod namespaces (it reads CapEff) and says why;
// with SYS_ADMIN added (install --pod-netns-access) it reads them.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { privileged } from '../helpers/privileged.js';
import { NetnsLab } from '../agent/helpers/netns.js';
import { bundleAgent } from '../agent/helpers/bundle.js';
import { testCidr, testNetwork } from '../agent/helpers/network.js';
import { call } from '../agent/helpers/http.js';
import { run } from '../../src/host/exec.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { AGENT_CAPABILITIES, CNI_BINARY_NAME, IMAGE_CNI_PATH, renderInstall } from '../../src/lib/install/render.js';

const hasSetpriv = existsSync('/usr/bin/setpriv') || existsSync('/bin/setpriv');
const reason = !privileged.ok ? privileged.reason : !hasSetpriv ? 'needs setpriv (util-linux)' : '';

/** argv running `cmd` as uid 0 with only `caps` (lower-case names) bounding it and its children. */
const withCaps = (caps: readonly string[], cmd: string[]): string[] => ['--no-new-privs', '--inh-caps=-all', `--bounding-set=-all${caps.map((c) => `,+${c.toLowerCase()}`).join('')}`, '--', ...cmd];

/** Ends a child this file started and waits for it (a signalled child has exitCode null). */
const stop = async (child: ChildProcess): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
};

const CAPSETS: Record<string, string[]> = { none: [], NET_ADMIN: ['net_admin'], NET_RAW: ['net_raw'], SYS_ADMIN: ['sys_admin'] };

describe.skipIf(reason !== '')(`agent capabilities, measured ${reason}`, () => {
  const lab = new NetnsLab('mnh5');
  let dir: string;
  let host: string;
  let pod: string;
  let agentJs: string;
  const children: ChildProcess[] = [];

  /** Runs a shell line in the host netns under `caps`; true when it exits 0. */
  const ok = async (caps: readonly string[], line: string): Promise<boolean> => {
    try {
      await lab.exec(host, 'setpriv', withCaps(caps, ['sh', '-c', line]), { timeoutMs: 20_000 });
      return true;
    } catch {
      return false;
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnh5-caps-'));
    agentJs = await bundleAgent();
    host = await lab.netns('h');
    pod = await lab.netns('p');
    const fab = await lab.netns('f');
    await lab.ip(fab, ['link add br1 type bridge', 'link set br1 up']);
    await lab.veth(host, 'eth1', fab, 'h1e1');
    await lab.veth(host, 'eth2', fab, 'h1e2');
    await lab.ip(fab, ['link set h1e1 master br1']);
    await lab.ip(host, ['addr add 10.0.1.1/24 dev eth1', 'addr add 10.0.2.1/24 dev eth2']);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(children.map(stop));
    await lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('needs NET_ADMIN for routes, rules, shims and ip_forward, SYS_ADMIN only for setns and NET_RAW only for ping; reads need nothing', async () => {
    const ops: Record<string, string> = {
      'policy rule': 'ip rule add from 192.168.0.0/16 lookup 100 && ip rule del from 192.168.0.0/16 lookup 100',
      'route in a policy table': 'ip route add 192.168.1.0/24 via 10.0.1.2 dev eth1 table 100 && ip route del 192.168.1.0/24 table 100',
      'macvlan L3 shim': 'ip link add link eth1 name mnh5shim type macvlan mode bridge && ip addr add 192.168.0.1/24 dev mnh5shim && ip link set mnh5shim up && ip link del mnh5shim',
      'write net.ipv4.ip_forward': 'echo 1 > /proc/sys/net/ipv4/ip_forward',
      'NIC discovery reads (sysfs, ip -d addr, routes)': 'cat /sys/class/net/eth1/address /sys/class/net/eth1/mtu /sys/class/net/eth1/operstate >/dev/null && ip -d -j addr show >/dev/null && ip -j route show default >/dev/null && ip -j rule show >/dev/null',
      [`agent discover`]: `${process.execPath} ${agentJs} discover >/dev/null`,
      'setns into a pod netns (nsenter --net=)': `nsenter --net=/run/netns/${pod} true`,
      'ping (ICMP socket)': 'ping -c 1 -W 1 10.0.1.1 >/dev/null',
    };
    const matrix: Record<string, string[]> = {};
    for (const [op, line] of Object.entries(ops)) {
      matrix[op] = [];
      for (const [name, caps] of Object.entries(CAPSETS)) if (await ok(caps, line)) matrix[op].push(name);
    }
    const all = Object.keys(CAPSETS);
    expect(matrix).toEqual({
      'policy rule': ['NET_ADMIN'],
      'route in a policy table': ['NET_ADMIN'],
      'macvlan L3 shim': ['NET_ADMIN'],
      'write net.ipv4.ip_forward': ['NET_ADMIN'],
      'NIC discovery reads (sysfs, ip -d addr, routes)': all,
      'agent discover': all,
      'setns into a pod netns (nsenter --net=)': ['SYS_ADMIN'],
      'ping (ICMP socket)': ['NET_RAW'],
    });
  }, 120_000);

  it('ip monitor (NIC change events) needs no capability', async () => {
    const out = join(dir, 'monitor.txt');
    const child = spawn('ip', ['netns', 'exec', host, 'setpriv', ...withCaps([], ['sh', '-c', `exec ip monitor link address > ${out} 2>&1`])], { stdio: 'ignore' });
    children.push(child);
    await new Promise((r) => setTimeout(r, 500));
    await lab.ip(host, ['link add mnh5mon type bridge', 'link del mnh5mon']);
    await expect.poll(() => (existsSync(out) ? readFileSync(out, 'utf8') : ''), { timeout: 5000, interval: 100 }).toContain('mnh5mon');
    expect(child.exitCode).toBeNull();
    await stop(child);
  });

  it('the install-cni init container installs the plugin with no capability (root-owned CNI bin dir)', async () => {
    const ds = renderInstall({ version: '0.0.0' }).find((o: KubeObject) => o.kind === 'DaemonSet') as KubeObject & { spec: { template: { spec: { initContainers: Array<{ command: string[]; volumeMounts: Array<{ mountPath: string }>; securityContext: { capabilities: { add?: string[] } } }> } } } };
    const init = ds.spec.template.spec.initContainers[0]!;
    expect(init.securityContext.capabilities.add).toBeUndefined();
    const bin = join(dir, 'cni-bin');
    mkdirSync(bin, { mode: 0o755 });
    const src = join(dir, 'multi-nic.src');
    writeFileSync(src, '#!/bin/sh\necho new\n');
    writeFileSync(join(bin, CNI_BINARY_NAME), '#!/bin/sh\necho old\n');
    chmodSync(join(bin, CNI_BINARY_NAME), 0o555);
    const script = (init.command[2] as string).replaceAll(IMAGE_CNI_PATH, src).replaceAll(init.volumeMounts[0]!.mountPath, bin).replaceAll('$(NODE_NAME)', 'h1');
    await run('setpriv', withCaps([], ['sh', '-c', script]));
    expect(readFileSync(join(bin, CNI_BINARY_NAME), 'utf8')).toContain('echo new');
    expect(statSync(join(bin, CNI_BINARY_NAME)).mode & 0o777).toBe(0o755);
  });

  const startAgent = async (caps: readonly string[], tag: string): Promise<{ child: ChildProcess; sock: string; log: () => string }> => {
    const sock = join(dir, `${tag}.sock`);
    const state = join(dir, `${tag}-state.yaml`);
    writeFileSync(state, [stringify(testNetwork()), stringify(testCidr(['h1', 'h2']))].join('---\n'));
    let log = '';
    const child = spawn(
      'ip',
      ['netns', 'exec', host, 'setpriv', ...withCaps(caps, [process.execPath, agentJs, 'run', '--health-interval', '0', '--node', 'h1', '--socket', sock, '--state-file', state, '--data-dir', join(dir, `${tag}-data`), '--rt-tables', join(dir, `${tag}-rt_tables`), '--enable-forwarding', '--probe-interval', '1'])],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(child);
    child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    return { child, sock, log: () => log };
  };
  /** `state:detail` of each allocation in the agent's newest diagnostics. */
  const podStates = async (sock: string): Promise<string[]> => {
    const st = (await call(sock, 'GET', '/v1/state').catch(() => ({ body: {} }))).body as { diagnostics?: { diagnostics?: { allocations?: Array<{ state: string; detail?: string }> } } };
    return (st.diagnostics?.diagnostics?.allocations ?? []).map((x) => `${x.state}:${x.detail ?? ''}`);
  };
  const lastReconcile = async (sock: string): Promise<{ error?: string; forwarding?: { ok: boolean } } | undefined> =>
    ((await call(sock, 'GET', '/v1/state').catch(() => ({ body: {} }))).body as { lastReconcile?: { error?: string; forwarding?: { ok: boolean } } }).lastReconcile;

  it('the whole agent with only the rendered capabilities converges: rules, routes, shims, forwarding, allocations', async () => {
    expect(AGENT_CAPABILITIES).toEqual(['NET_ADMIN']);
    await lab.exec(host, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    const a = await startAgent(AGENT_CAPABILITIES, 'netadmin');
    try {
      await expect.poll(() => lastReconcile(a.sock), { timeout: 20_000, interval: 100 }).toBeDefined();
      const st = await lastReconcile(a.sock);
      expect(st?.error, a.log()).toBeUndefined();
      expect(st?.forwarding?.ok).toBe(true);
      expect((await lab.exec(host, 'sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim()).toBe('1');
      const rules = (await lab.json<{ src?: string; srclen?: number; table?: string }>(host, ['rule', 'show'])).filter((r) => r.src === '192.168.0.0');
      expect(rules.map((r) => `${r.src}/${r.srclen} lookup ${r.table}`)).toEqual(['192.168.0.0/16 lookup 100']);
      const routes = await lab.json<{ dst: string; gateway: string; dev: string }>(host, ['route', 'show', 'table', '100']);
      expect(routes.map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`).sort()).toEqual(['192.168.1.0/24 via 10.0.1.2 dev eth1', '192.168.65.0/24 via 10.0.2.2 dev eth2']);
      const shims = (await lab.json<{ ifname: string; link?: string }>(host, ['link', 'show'])).filter((l) => l.ifname.startsWith('mnshim'));
      expect(shims.map((s) => s.link).sort()).toEqual(['eth1', 'eth2']);
      const req = { apiVersion: 'v1', network: 'mnet', pod: { namespace: 'default', name: 'p', uid: 'caps-1', containerID: 'c1', ifName: 'net1', netns: `/run/netns/${pod}` } };
      const alloc = await call(a.sock, 'POST', '/v1/allocate', req);
      expect(alloc.status, JSON.stringify(alloc.body)).toBe(200);
      expect((alloc.body as { nics: unknown[] }).nics).toHaveLength(2);
      // No SYS_ADMIN: the prober does not try to enter the pod netns and says why.
      await expect.poll(async () => (await podStates(a.sock)).join(','), { timeout: 20_000, interval: 200 }).toMatch(/^unknown:not read: the agent holds no CAP_SYS_ADMIN/);
      expect(a.log()).toContain('pod network namespaces are not read');
      expect((await call(a.sock, 'POST', '/v1/release', req)).status).toBe(200);
    } finally {
      await stop(a.child);
    }
  }, 60_000);

  it('with SYS_ADMIN added (install --pod-netns-access) the agent reads the pod netns', async () => {
    const a = await startAgent([...AGENT_CAPABILITIES, 'SYS_ADMIN'], 'netns');
    try {
      await expect.poll(() => lastReconcile(a.sock), { timeout: 20_000, interval: 100 }).toBeDefined();
      const req = { apiVersion: 'v1', network: 'mnet', pod: { namespace: 'default', name: 'p', uid: 'caps-2', containerID: 'c2', ifName: 'net1', netns: `/run/netns/${pod}` } };
      expect((await call(a.sock, 'POST', '/v1/allocate', req)).status).toBe(200);
      // Read for real: the pod netns has none of the interfaces (no delegate ran in this test).
      await expect.poll(async () => (await podStates(a.sock)).join(','), { timeout: 20_000, interval: 200 }).toMatch(/^interface-missing:no net1-\d in the pod,interface-missing/);
      expect((await call(a.sock, 'POST', '/v1/release', req)).status).toBe(200);
    } finally {
      await stop(a.child);
    }
  }, 60_000);

  it('without NET_ADMIN the same agent cannot program the host and says so', async () => {
    // Start from a clean host: the previous agent's rules, routes and shims are removed.
    await lab.ip(host, ['rule del from 192.168.0.0/16 lookup 100', 'route flush table 100']);
    for (const l of (await lab.json<{ ifname: string }>(host, ['link', 'show'])).filter((x) => x.ifname.startsWith('mnshim'))) await lab.ip(host, [`link del ${l.ifname}`]);
    const a = await startAgent([], 'nocaps');
    try {
      await expect.poll(async () => (await lastReconcile(a.sock))?.error, { timeout: 20_000, interval: 100 }).toMatch(/Operation not permitted|EPERM|not permitted/i);
      expect((await lab.json<{ src?: string }>(host, ['rule', 'show'])).filter((r) => r.src === '192.168.0.0')).toEqual([]);
    } finally {
      await stop(a.child);
    }
  }, 60_000);
});
