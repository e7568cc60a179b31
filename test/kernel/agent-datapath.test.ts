// THE data path: three "hosts" (netns) × two NICs (veth into per-NIC bridges in a fabric netns),
// discovery → planner → state file → the real agent running inside each host namespace → the built
// multi-nic CNI (with the reference macvlan in /usr/lib/cni) attaching one pod per host in macvlan
// L3 shim mode. Asserts pod interfaces, addresses and routes, host tables, rules and shims, pings
// across hosts over every NIC, that deleting one host route breaks exactly that path (and the
// agent puts it back), and 200 concurrent allocations × 2 NICs through one agent socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
import { planNetwork } from '../../src/lib/plan/planner.js';
import { validateNetwork } from '../../src/lib/network.js';
import type { CIDR, HostInterface, InterfaceInfo } from '../../src/lib/crds/types.gen.js';

const reason = !privileged.ok ? privileged.reason : !hasCniPlugins ? `needs the reference CNI plugins in ${cniPluginsDir}` : !isBuilt ? notBuiltReason : '';
const HOSTS = ['h1', 'h2', 'h3'];

interface PodView {
  addrs: Record<string, string>;
  routes: string[];
}

describe.skipIf(reason !== '')(`agent data path: 3 hosts × 2 NICs, macvlan L3 shims ${reason}`, () => {
  const lab = new NetnsLab('mnagx');
  let dir: string;
  let agentJs: string;
  let cidr: CIDR;
  const hostNs: Record<string, string> = {};
  const podNs: Record<string, string> = {};
  const agents: Record<string, ChildProcess> = {};
  const logs: Record<string, string> = {};
  const sock = (h: string) => join(dir, `${h}.sock`);
  const statePath = () => join(dir, 'state.yaml');
  const pods: Record<string, PodView> = {};

  const cniEnv = (h: string, containerID: string) => ({
    CNI_CONTAINERID: containerID,
    CNI_NETNS: `/run/netns/${podNs[h]}`,
    CNI_IFNAME: 'net1',
    CNI_PATH: cniPluginsDir,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${h};K8S_POD_UID=uid-${h};K8S_POD_INFRA_CONTAINER_ID=${containerID}`,
    MULTINIC_AGENT_SOCKET: sock(h),
  });

  const readPod = async (ns: string): Promise<PodView> => {
    const links = await lab.json<{ ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>(ns, ['addr', 'show']);
    const routes = await lab.json<{ dst: string; gateway?: string; dev: string }>(ns, ['-4', 'route', 'show']);
    const addrs: Record<string, string> = {};
    for (const l of links) for (const a of l.addr_info ?? []) if (a.family === 'inet' && l.ifname !== 'lo') addrs[l.ifname] = `${a.local}/${a.prefixlen}`;
    return { addrs, routes: routes.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`).sort() };
  };

  const podCidrOf = (h: string, i: number) => cidr.spec.cidr[i]?.hosts.find((x) => x.hostName === h)?.podCIDR as string;
  const gw = (podCIDR: string) => podCIDR.replace(/\.0\/24$/, '.1');
  const ipOf = (h: string, i: number) => (pods[h]?.addrs[`net1-${i}`] ?? '').split('/')[0] as string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnag-dp-'));
    agentJs = await bundleAgent();
    const fab = await lab.netns('f');
    await lab.ip(fab, ['link add br1 type bridge', 'link add br2 type bridge', 'link set br1 up', 'link set br2 up']);
    for (const [i, h] of HOSTS.entries()) {
      const ns = await lab.netns(h);
      hostNs[h] = ns;
      podNs[h] = await lab.netns(`p${i + 1}`);
      await lab.exec(ns, 'sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=2']);
      for (const n of [1, 2]) {
        await lab.veth(ns, `eth${n}`, fab, `${h}e${n}`);
        await lab.ip(fab, [`link set ${h}e${n} master br${n}`]);
        await lab.ip(ns, [`addr add 10.0.${n}.${i + 1}/24 dev eth${n}`]);
      }
    }
    // Discovery in each host → HostInterface inventory → the planner → the agents' state file.
    const inventory: HostInterface[] = [];
    for (const h of HOSTS) {
      const { stdout } = await lab.exec(hostNs[h] as string, process.execPath, [agentJs, 'discover']);
      const interfaces = (JSON.parse(stdout) as Array<InterfaceInfo & { ifindex?: number }>).map(({ ifindex: _i, ...rest }) => rest);
      inventory.push({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: h }, spec: { hostName: h, interfaces } });
    }
    const network = testNetwork();
    cidr = planNetwork({ network: validateNetwork({ source: 'datapath', value: network }), inventory }).cidr;
    // A second network with single-NIC IPAM (host-local passed through to each NIC): no CIDR.
    const hl = testNetwork({ name: 'hl', vlanMode: '' });
    hl.spec.ipam = JSON.stringify({ type: 'host-local' });
    hl.spec.multiNICIPAM = false;
    writeFileSync(statePath(), [stringify(network), stringify(cidr), stringify(hl)].join('---\n'));

    for (const h of HOSTS) {
      logs[h] = '';
      const child = spawn('ip', ['netns', 'exec', hostNs[h] as string, process.execPath, agentJs, 'run', '--health-interval', '0', '--node', h, '--socket', sock(h), '--state-file', statePath(), '--data-dir', join(dir, h), '--rt-tables', join(dir, `${h}-rt_tables`), '--enable-forwarding', ...(h === 'h2' ? ['--gc-grace', '0'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (c: Buffer) => (logs[h] += c.toString()));
      agents[h] = child;
    }
    for (const h of HOSTS) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const st = (await call(sock(h), 'GET', '/v1/state').catch(() => ({ body: {} }))).body as { lastReconcile?: unknown };
        if (st.lastReconcile) break;
        if (Date.now() > deadline || agents[h]?.exitCode !== null) throw new Error(`agent ${h} did not become ready:\n${logs[h]}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }, 120_000);

  afterAll(async () => {
    for (const c of Object.values(agents)) c.kill('SIGTERM');
    await Promise.all(Object.values(agents).map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('the planner placed every host NIC and the agents converged (forwarding on, no reconcile error)', async () => {
    expect(cidr.spec.cidr.map((e) => [e.netAddress, e.vlanCIDR, e.hosts.map((x) => `${x.hostName}:${x.interfaceName}:${x.hostIP}:${x.podCIDR}`)])).toEqual([
      ['10.0.1.0/24', '192.168.0.0/18', HOSTS.map((h, i) => `${h}:eth1:10.0.1.${i + 1}:${podCidrOf(h, 0)}`)],
      ['10.0.2.0/24', '192.168.64.0/18', HOSTS.map((h, i) => `${h}:eth2:10.0.2.${i + 1}:${podCidrOf(h, 1)}`)],
    ]);
    for (const h of HOSTS) {
      const st = (await call(sock(h), 'GET', '/v1/state')).body as { lastReconcile: { error?: string; forwarding: { ok: boolean } } };
      expect(st.lastReconcile.error, logs[h]).toBeUndefined();
      expect(st.lastReconcile.forwarding.ok).toBe(true);
      expect((await lab.exec(hostNs[h] as string, 'sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim()).toBe('1');
    }
  });

  it('each host has its policy table, rule and shims', async () => {
    for (const h of HOSTS) {
      const ns = hostNs[h] as string;
      const rules = (await lab.json<{ src?: string; srclen?: number; table?: string }>(ns, ['rule', 'show'])).filter((r) => r.src === '192.168.0.0');
      expect(rules.map((r) => `${r.src}/${r.srclen} lookup ${r.table}`)).toEqual(['192.168.0.0/16 lookup 100']);
      const table = await lab.json<{ dst: string; gateway: string; dev: string }>(ns, ['route', 'show', 'table', '100']);
      const want = HOSTS.filter((o) => o !== h).flatMap((o, _k) => [0, 1].map((i) => `${podCidrOf(o, i)} via 10.0.${i + 1}.${HOSTS.indexOf(o) + 1} dev eth${i + 1}`));
      expect(table.map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`).sort()).toEqual(want.sort());
      const shims = (await lab.json<{ ifname: string; link?: string; addr_info?: Array<{ local: string; prefixlen: number; scope: string }> }>(ns, ['addr', 'show'])).filter((l) => l.ifname.startsWith('mnshim'));
      expect(shims.map((s) => `${s.link} ${(s.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).join(',')}`).sort()).toEqual([`eth1 ${gw(podCidrOf(h, 0))}/24`, `eth2 ${gw(podCidrOf(h, 1))}/24`]);
    }
  });

  it('ADD through the multi-nic CNI gives every pod net1-0/net1-1 in its host blocks with shim routes', async () => {
    for (const h of HOSTS) {
      const add = await runPlugin({ command: 'ADD', env: cniEnv(h, `c-${h}`), stdin: nadConfig(), hostNetns: hostNs[h] });
      expect(add.code, `${add.stdout}\n${add.stderr}\n${logs[h]}`).toBe(0);
      const view = await readPod(podNs[h] as string);
      pods[h] = view;
      const [b0, b1] = [podCidrOf(h, 0), podCidrOf(h, 1)];
      expect(view.addrs).toEqual({ 'net1-0': b0.replace(/\.0\/24$/, '.2/24'), 'net1-1': b1.replace(/\.0\/24$/, '.2/24') });
      expect(view.routes).toEqual([`192.168.0.0/18 via ${gw(b0)} dev net1-0`, b0 + ' dev net1-0', `192.168.64.0/18 via ${gw(b1)} dev net1-1`, b1 + ' dev net1-1'].sort());
    }
  });

  it('pings across hosts over every NIC', async () => {
    const results: string[] = [];
    for (const a of HOSTS) for (const b of HOSTS) for (const i of [0, 1]) {
      if (a === b) continue;
      results.push(`${a}->${b}/net1-${i}: ${await lab.ping(podNs[a] as string, ipOf(b, i), `net1-${i}`)}`);
    }
    expect(results.every((r) => r.endsWith('true')), results.join('\n')).toBe(true);
    expect(results).toHaveLength(12);
  });

  it('deleting one host route breaks exactly that path; the agent restores it on the next reconcile', async () => {
    const h1 = hostNs.h1 as string;
    await lab.ip(h1, [`route del ${podCidrOf('h2', 0)} table 100`]);
    expect(await lab.ping(podNs.h1 as string, ipOf('h2', 0), 'net1-0')).toBe(false);
    expect(await lab.ping(podNs.h1 as string, ipOf('h2', 1), 'net1-1')).toBe(true);
    expect(await lab.ping(podNs.h1 as string, ipOf('h3', 0), 'net1-0')).toBe(true);
    expect(await lab.ping(podNs.h3 as string, ipOf('h2', 0), 'net1-0')).toBe(true);
    // A state change (here: the file rewritten) triggers a reconcile that puts the route back.
    writeFileSync(statePath(), `# touched\n${(await import('node:fs')).readFileSync(statePath(), 'utf8')}`);
    await expect.poll(async () => (await lab.json<{ dst: string }>(h1, ['route', 'show', 'table', '100'])).map((r) => r.dst), { timeout: 10_000, interval: 100 }).toContain(podCidrOf('h2', 0));
    expect(await lab.ping(podNs.h1 as string, ipOf('h2', 0), 'net1-0')).toBe(true);
  });

  it('200 concurrent allocations × 2 NICs through one agent socket: no duplicate, no failure', async () => {
    const req = (n: number) => ({ apiVersion: 'v1', network: 'mnet', pod: { namespace: 'load', name: `p${n}`, uid: `load-${n}`, containerID: `c${n}`, ifName: 'net1' } });
    const replies = await Promise.all(Array.from({ length: 200 }, (_, n) => call(sock('h1'), 'POST', '/v1/allocate', req(n))));
    expect(replies.filter((r) => r.status !== 200).map((r) => JSON.stringify(r.body))).toEqual([]);
    const addrs = replies.flatMap((r) => (r.body as { nics: Array<{ address: string }> }).nics.map((x) => x.address));
    expect(addrs).toHaveLength(400);
    expect(new Set(addrs).size).toBe(400);
    // Nothing collides with the pod already attached or the shim gateways.
    expect(addrs).not.toContain(pods.h1?.addrs['net1-0']);
    expect(addrs).not.toContain(`${gw(podCidrOf('h1', 0))}/24`);
    const released = await Promise.all(Array.from({ length: 200 }, (_, n) => call(sock('h1'), 'POST', '/v1/release', req(n))));
    expect(released.map((r) => (r.body as { released: number }).released)).toEqual(Array(200).fill(2));
  });

  it('single-NIC IPAM through the real agent: NICs from masterNets, host-local addresses, CHECK, DEL frees the leases', async () => {
    const leases = join(dir, 'host-local');
    const conf = nadConfig({ name: 'hl', multiNICIPAM: undefined, ipam: { type: 'host-local', ranges: [[{ subnet: '172.31.0.0/24' }]], dataDir: leases } });
    const env = { ...cniEnv('h1', 'c-hl'), CNI_IFNAME: 'net2' };
    const add = await runPlugin({ command: 'ADD', env, stdin: conf, hostNetns: hostNs.h1 });
    expect(add.code, add.stdout).toBe(0);
    const result = JSON.parse(add.stdout) as { interfaces: Array<{ name: string }>; ips: Array<{ address: string; interface: number }> };
    expect(result.interfaces.filter((i) => i.name.startsWith('net2-')).map((i) => i.name)).toEqual(['net2-0', 'net2-1']);
    expect(result.ips.map((i) => i.address).sort()).toEqual(['172.31.0.2/24', '172.31.0.3/24']);
    const view = await readPod(podNs.h1 as string);
    expect([view.addrs['net2-0'], view.addrs['net2-1']].sort()).toEqual(['172.31.0.2/24', '172.31.0.3/24']);
    // The agent selected eth1 and eth2 (masterNets order) and holds no address of its own.
    const held = (await call(sock('h1'), 'POST', '/v1/lookup', { apiVersion: 'v1', network: 'hl', pod: { uid: 'uid-h1', containerID: 'c-hl', ifName: 'net2' } })).body as { nics: Array<{ master: string; address: string }> };
    expect(held.nics.map((n) => [n.master, n.address])).toEqual([['eth1', ''], ['eth2', '']]);
    expect(existsSync(join(leases, 'hl', '172.31.0.2'))).toBe(true);
    const check = await runPlugin({ command: 'CHECK', env, stdin: { ...conf, prevResult: result }, hostNetns: hostNs.h1 });
    expect(check.code, check.stdout).toBe(0);
    const del = await runPlugin({ command: 'DEL', env, stdin: { ...conf, prevResult: result }, hostNetns: hostNs.h1 });
    expect(del.code, del.stdout).toBe(0);
    const after = await readPod(podNs.h1 as string);
    expect(Object.keys(after.addrs).filter((k) => k.startsWith('net2'))).toEqual([]);
    expect(existsSync(join(leases, 'hl', '172.31.0.2')) || existsSync(join(leases, 'hl', '172.31.0.3'))).toBe(false);
    expect((await call(sock('h1'), 'POST', '/v1/lookup', { apiVersion: 'v1', network: 'hl', pod: { uid: 'uid-h1', containerID: 'c-hl', ifName: 'net2' } })).status).toBe(404);
  });

  it('without K8S_POD_UID (podman, ctr --cni, cnitool): ADD keyed on the container, DEL from container ID + interface alone', async () => {
    const links = async () => (await lab.json<{ ifname: string }>(podNs.h3 as string, ['link', 'show'])).map((l) => l.ifname).filter((n) => /^net[34]-/.test(n)).sort();
    const lookup = (containerID: string, ifName: string) => call(sock('h3'), 'POST', '/v1/lookup', { apiVersion: 'v1', network: 'mnet', pod: { uid: '', containerID, ifName } });
    // No K8S_* at all, on ADD and DEL.
    const bare = { ...cniEnv('h3', 'c-nouid'), CNI_IFNAME: 'net3', CNI_ARGS: 'IgnoreUnknown=1' };
    const add = await runPlugin({ command: 'ADD', env: bare, stdin: nadConfig(), hostNetns: hostNs.h3 });
    expect(add.code, add.stdout + add.stderr).toBe(0);
    const ips = (add.json as { ips: Array<{ address: string }> }).ips.map((i) => i.address);
    expect(ips).toHaveLength(2);
    const held = (await lookup('c-nouid', 'net3')).body as { nics: Array<{ address: string }> };
    expect(held.nics.map((n) => n.address)).toEqual(ips);
    // A second container gets other addresses (the key is the container, not an empty uid).
    const other = await runPlugin({ command: 'ADD', env: { ...bare, CNI_CONTAINERID: 'c-uid', CNI_IFNAME: 'net4', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_UID=uid-x' }, stdin: nadConfig(), hostNetns: hostNs.h3 });
    expect(other.code, other.stdout + other.stderr).toBe(0);
    expect((other.json as { ips: Array<{ address: string }> }).ips.map((i) => i.address).some((a) => ips.includes(a))).toBe(false);
    expect(await links()).toEqual(['net3-0', 'net3-1', 'net4-0', 'net4-1']);

    const del = await runPlugin({ command: 'DEL', env: bare, stdin: nadConfig(), hostNetns: hostNs.h3 });
    expect(del.code, del.stdout + del.stderr).toBe(0);
    // ...and a DEL without the uid the ADD had.
    const del2 = await runPlugin({ command: 'DEL', env: { ...bare, CNI_CONTAINERID: 'c-uid', CNI_IFNAME: 'net4' }, stdin: nadConfig(), hostNetns: hostNs.h3 });
    expect(del2.code, del2.stdout + del2.stderr).toBe(0);
    expect(await links()).toEqual([]);
    expect((await lookup('c-nouid', 'net3')).status).toBe(404);
    expect((await lookup('c-uid', 'net4')).status).toBe(404);
  });

  it('CNI GC through the real agent releases the addresses of containers the runtime no longer lists', async () => {
    const req = (c: string) => ({ apiVersion: 'v1', network: 'mnet', pod: { namespace: 'default', name: `gc-${c}`, uid: `uid-${c}`, containerID: c, ifName: 'net9' } });
    const count = async () => ((await call(sock('h2'), 'GET', '/v1/state')).body as { allocations: number }).allocations;
    for (const c of ['gc-a', 'gc-b']) expect((await call(sock('h2'), 'POST', '/v1/allocate', req(c))).status).toBe(200);
    const before = await count();
    // h2's agent runs with --gc-grace 0; the runtime lists gc-a and the pod attached earlier (c-h2).
    const keep = [{ containerID: 'gc-a', ifName: 'net9' }, { containerID: 'c-h2', ifName: 'net1' }];
    expect((await call(sock('h2'), 'POST', '/v1/gc', { apiVersion: 'v1', network: 'mnet', keep })).body).toEqual({ apiVersion: 'v1', released: 2 });
    expect(await count()).toBe(before - 2);
    expect((await call(sock('h2'), 'POST', '/v1/lookup', req('gc-b'))).status).toBe(404);
    expect((await call(sock('h2'), 'POST', '/v1/lookup', req('gc-a'))).status).toBe(200);
    expect((await call(sock('h2'), 'POST', '/v1/release', req('gc-a'))).body).toEqual({ apiVersion: 'v1', released: 2 });
  });

  it('a CNI GC without cni.dev/valid-attachments releases nothing: 60 allocations of live pods stay', async () => {
    const req = (i: number) => ({ apiVersion: 'v1', network: 'mnet', pod: { namespace: 'default', name: `live-${i}`, uid: `uid-live-${i}`, containerID: `live-${i}`, ifName: 'net8' } });
    const count = async () => ((await call(sock('h2'), 'GET', '/v1/state')).body as { allocations: number }).allocations;
    const before = await count();
    for (let i = 0; i < 30; i++) expect((await call(sock('h2'), 'POST', '/v1/allocate', req(i))).status).toBe(200);
    expect(await count()).toBe(before + 60);
    // h2's agent runs with --gc-grace 0: without the fix every one of the 60 was released here.
    const gc = await runPlugin({ command: 'GC', env: { ...cniEnv('h2', 'gc-runtime'), CNI_NETNS: undefined, CNI_IFNAME: undefined }, stdin: nadConfig({ cniVersion: '1.1.0' }), hostNetns: hostNs['h2'] });
    expect([gc.code, gc.stdout]).toEqual([0, '']);
    expect(gc.stderr).toContain('multi-nic GC mnet: the request has no cni.dev/valid-attachments list; nothing collected');
    const raw = await call(sock('h2'), 'POST', '/v1/gc', { apiVersion: 'v1', network: 'mnet' });
    expect(raw.status).toBe(400);
    expect(await count()).toBe(before + 60);
    for (let i = 0; i < 30; i++) expect((await call(sock('h2'), 'POST', '/v1/release', req(i))).body).toEqual({ apiVersion: 'v1', released: 2 });
  });

  it('DEL through the CNI removes the pod interfaces and releases; agents stop cleanly and remove their sockets', async () => {
    for (const h of HOSTS) {
      const del = await runPlugin({ command: 'DEL', env: cniEnv(h, `c-${h}`), stdin: nadConfig(), hostNetns: hostNs[h] });
      expect(del.code, del.stdout).toBe(0);
      expect(Object.keys((await readPod(podNs[h] as string)).addrs)).toEqual([]);
    }
    expect(((await call(sock('h1'), 'GET', '/v1/state')).body as { allocations: number }).allocations).toBe(0);
    for (const h of HOSTS) {
      const c = agents[h] as ChildProcess;
      c.kill('SIGTERM');
      await new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)));
      expect(c.exitCode).toBe(0);
      expect(existsSync(sock(h))).toBe(false);
    }
  });
});
