// Real ipvlan, L2, L3 and L3S: three "hosts" (netns) × two NICs (veth into per-NIC bridges in a fabric
// netns), discovery → planner → state file → the real agent in each host → the built multi-nic CNI
// delegating to the reference ipvlan plugin. Per mode: ADD on every host (the agent's addresses, the
// vlanCIDR on-link, no gateway), CHECK, pings across hosts over every NIC, then DEL. In L3 and L3S the
// pods' packets are routed by the host's stack, so deleting one of the agent's host routes breaks
// exactly that path (and the agent restores it); in L2 the fabric carries them without the host
// routes. A failing second NIC (its master already taken by a macvlan) rolls the first back and releases both addresses.
//
// Needs a kernel with ipvlan: this machine's has none, so the file skips on the host and runs in the
// User-Mode Linux stage (scripts/uml-run.sh, `make test-uml`). Namespace names start with mnh9.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cniPluginsDir, hasCniPlugins, noIpvlanReason, privileged } from '../helpers/privileged.js';
import { isBuilt, nadConfig, notBuiltReason, runPlugin } from '../cni/harness.js';
import { NetnsLab } from '../agent/helpers/netns.js';
import { bundleAgent } from '../agent/helpers/bundle.js';
import { testNetwork } from '../agent/helpers/network.js';
import { call } from '../agent/helpers/http.js';
import { planNetwork } from '../../src/lib/plan/planner.js';
import { validateNetwork } from '../../src/lib/network.js';
import type { CIDR, HostInterface, InterfaceInfo, MultiNicNetwork } from '../../src/lib/crds/types.gen.js';

const reason = !privileged.ok ? privileged.reason : !hasCniPlugins ? `needs the reference CNI plugins in ${cniPluginsDir}` : !isBuilt ? notBuiltReason : noIpvlanReason;
const HOSTS = ['h1', 'h2', 'h3'];
type Mode = 'l2' | 'l3' | 'l3s';
const MODES: Mode[] = ['l2', 'l3', 'l3s'];
// One network per mode, each with its own subnet (so each has its own policy rule and table); the
// same NIC networks. ipvlan's mode belongs to the master's port, so the modes run one after another.
const SUBNET: Record<Mode, number> = { l2: 64, l3: 65, l3s: 66 };

function ipvlanNetwork(mode: Mode): MultiNicNetwork {
  const n = testNetwork({ name: `ip${mode}`, plugin: 'ipvlan', vlanMode: mode });
  n.spec.subnet = `10.${SUBNET[mode]}.0.0/16`;
  n.spec.plugin = { cniVersion: '1.0.0', type: 'ipvlan', args: { mode } };
  return n;
}

interface PodView {
  addrs: Record<string, string>;
  routes: string[];
}

describe.skipIf(reason !== '')(`ipvlan data path: 3 hosts × 2 NICs, the real agent, L2/L3/L3S ${reason}`, () => {
  const lab = new NetnsLab('mnh9i');
  let dir: string;
  const cidrs: Partial<Record<Mode, CIDR>> = {};
  const hostNs: Record<string, string> = {};
  const podNs: Record<string, string> = {};
  const agents: Record<string, ChildProcess> = {};
  const logs: Record<string, string> = {};
  const sock = (h: string) => join(dir, `${h}.sock`);
  const statePath = () => join(dir, 'state.yaml');

  const cniEnv = (h: string, containerID: string) => ({
    CNI_CONTAINERID: containerID,
    CNI_NETNS: `/run/netns/${podNs[h]}`,
    CNI_IFNAME: 'net1',
    CNI_PATH: cniPluginsDir,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${h};K8S_POD_UID=uid-${h}-${containerID};K8S_POD_INFRA_CONTAINER_ID=${containerID}`,
    MULTINIC_AGENT_SOCKET: sock(h),
  });
  const conf = (mode: Mode) => nadConfig({ name: `ip${mode}`, subnet: `10.${SUBNET[mode]}.0.0/16`, ipam: { type: 'multi-nic-ipam', hostBlock: 6, interfaceBlock: 2, vlanMode: mode }, plugin: { cniVersion: '1.0.0', type: 'ipvlan', mode } });
  const cni = (command: string, mode: Mode, h: string, containerID: string, prevResult?: unknown) =>
    runPlugin({ command, env: cniEnv(h, containerID), stdin: { ...conf(mode), ...(prevResult ? { prevResult } : {}) }, hostNetns: hostNs[h] });

  const readPod = async (ns: string): Promise<PodView> => {
    const links = await lab.json<{ ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>(ns, ['addr', 'show']);
    const routes = await lab.json<{ dst: string; gateway?: string; dev: string }>(ns, ['-4', 'route', 'show']);
    const addrs: Record<string, string> = {};
    for (const l of links) for (const a of l.addr_info ?? []) if (a.family === 'inet' && l.ifname !== 'lo') addrs[l.ifname] = `${a.local}/${a.prefixlen}`;
    return { addrs, routes: routes.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`).sort() };
  };
  const podLinks = async (ns: string) => (await lab.json<{ ifname: string; linkinfo?: { info_kind?: string; info_data?: { mode?: string } } }>(ns, ['-d', 'link', 'show'])).filter((l) => l.ifname !== 'lo');
  const podCidrOf = (mode: Mode, h: string, i: number) => cidrs[mode]?.spec.cidr[i]?.hosts.find((x) => x.hostName === h)?.podCIDR as string;
  const tableOf = async (ns: string, subnet: string) => {
    const rule = (await lab.json<{ src?: string; srclen?: number; table?: string }>(ns, ['rule', 'show'])).find((r) => `${r.src}/${r.srclen}` === subnet);
    return rule?.table;
  };
  const allocations = async (h: string) => ((await call(sock(h), 'GET', '/v1/state')).body as { allocations: number }).allocations;
  const touchState = () => writeFileSync(statePath(), `# touched ${Date.now()}\n${readFileSync(statePath(), 'utf8')}`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnh9-ipvlan-'));
    const agentJs = await bundleAgent();
    const fab = await lab.netns('f');
    await lab.ip(fab, ['link add br1 type bridge', 'link add br2 type bridge', 'link set br1 up', 'link set br2 up']);
    for (const [i, h] of HOSTS.entries()) {
      const ns = await lab.netns(h);
      hostNs[h] = ns;
      podNs[h] = await lab.netns(`p${i + 1}`);
      for (const n of [1, 2]) {
        await lab.veth(ns, `eth${n}`, fab, `${h}e${n}`);
        await lab.ip(fab, [`link set ${h}e${n} master br${n}`]);
        await lab.ip(ns, [`addr add 10.0.${n}.${i + 1}/24 dev eth${n}`]);
      }
    }
    const inventory: HostInterface[] = [];
    for (const h of HOSTS) {
      const { stdout } = await lab.exec(hostNs[h] as string, process.execPath, [agentJs, 'discover']);
      const interfaces = (JSON.parse(stdout) as Array<InterfaceInfo & { ifindex?: number }>).map(({ ifindex: _i, ...rest }) => rest);
      inventory.push({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: h }, spec: { hostName: h, interfaces } });
    }
    const docs: Array<MultiNicNetwork | CIDR> = [];
    for (const mode of MODES) {
      const network = ipvlanNetwork(mode);
      cidrs[mode] = planNetwork({ network: validateNetwork({ source: `ipvlan-${mode}`, value: network }), inventory }).cidr;
      docs.push(network, cidrs[mode] as CIDR);
    }
    writeFileSync(statePath(), docs.map((d) => stringify(d)).join('---\n'));
    for (const h of HOSTS) {
      logs[h] = '';
      const child = spawn('ip', ['netns', 'exec', hostNs[h] as string, process.execPath, agentJs, 'run', '--health-interval', '0', '--node', h, '--socket', sock(h), '--state-file', statePath(), '--data-dir', join(dir, h), '--rt-tables', join(dir, `${h}-rt_tables`), '--enable-forwarding'], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (c: Buffer) => (logs[h] += c.toString()));
      agents[h] = child;
    }
    for (const h of HOSTS) {
      const deadline = Date.now() + 240_000;
      for (;;) {
        const st = (await call(sock(h), 'GET', '/v1/state').catch(() => ({ body: {} }))).body as { lastReconcile?: unknown };
        if (st.lastReconcile) break;
        if (Date.now() > deadline || agents[h]?.exitCode !== null) throw new Error(`agent ${h} did not become ready:\n${logs[h]}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }, 600_000);

  afterAll(async () => {
    for (const c of Object.values(agents)) c.kill('SIGTERM');
    await Promise.all(Object.values(agents).map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('the agents converged: one policy table per network with the routes to every other host\'s pod blocks, no shim', async () => {
    for (const h of HOSTS) {
      const st = (await call(sock(h), 'GET', '/v1/state')).body as { lastReconcile: { error?: string } };
      expect(st.lastReconcile.error, logs[h]).toBeUndefined();
      const ns = hostNs[h] as string;
      for (const mode of MODES) {
        const table = await tableOf(ns, `10.${SUBNET[mode]}.0.0/16`);
        expect(table, `${h} ${mode}`).toBeDefined();
        const got = (await lab.json<{ dst: string; gateway: string; dev: string }>(ns, ['route', 'show', 'table', table as string])).map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`).sort();
        const want = HOSTS.filter((o) => o !== h).flatMap((o) => [0, 1].map((i) => `${podCidrOf(mode, o, i)} via 10.0.${i + 1}.${HOSTS.indexOf(o) + 1} dev eth${i + 1}`));
        expect(got, `${h} ${mode}`).toEqual(want.sort());
      }
      expect((await lab.json<{ ifname: string }>(ns, ['link', 'show'])).map((l) => l.ifname).filter((n) => n.startsWith('mnshim'))).toEqual([]);
    }
  });

  describe.each(MODES)('ipvlan %s', (mode) => {
    const results: Record<string, unknown> = {};
    const ips: Record<string, string[]> = {};
    const ipOf = (h: string, i: number) => (ips[h]?.[i] ?? '').split('/')[0] as string;

    it('ADD: every pod gets net1-0/net1-1, ipvlan in this mode on eth1/eth2, the agent\'s addresses with the vlanCIDR prefix, no gateway', async () => {
      for (const h of HOSTS) {
        const add = await cni('ADD', mode, h, `c-${mode}`);
        expect(add.code, `${add.stdout}\n${add.stderr}\n${logs[h]}`).toBe(0);
        results[h] = add.json;
        const held = (await call(sock(h), 'POST', '/v1/lookup', { apiVersion: 'v1', network: `ip${mode}`, pod: { uid: `uid-${h}-c-${mode}`, containerID: `c-${mode}`, ifName: 'net1' } })).body as { nics: Array<{ master: string; address: string }> };
        expect(held.nics.map((n) => n.master)).toEqual(['eth1', 'eth2']);
        const addrs = held.nics.map((n) => n.address);
        ips[h] = addrs;
        // The vlanCIDR prefix (/18) on an address inside this host's pod block (/24).
        for (const [i, a] of addrs.entries()) {
          expect(a).toMatch(/\/18$/);
          expect(a.split('/')[0]?.split('.').slice(0, 3).join('.')).toBe(podCidrOf(mode, h, i).split('.').slice(0, 3).join('.'));
        }
        const view = await readPod(podNs[h] as string);
        expect(view.addrs).toEqual({ 'net1-0': addrs[0], 'net1-1': addrs[1] });
        expect(view.routes).toEqual([`10.${SUBNET[mode]}.0.0/18 dev net1-0`, `10.${SUBNET[mode]}.64.0/18 dev net1-1`]);
        const links = await podLinks(podNs[h] as string);
        // Delegates run in parallel: the order the links appear in is a race, the set is not.
        expect(links.map((l) => `${l.ifname} ${l.linkinfo?.info_kind} ${l.linkinfo?.info_data?.mode}`).sort()).toEqual([`net1-0 ipvlan ${mode}`, `net1-1 ipvlan ${mode}`]);
        const r = add.json as { ips: Array<{ address: string; gateway?: string }>; interfaces: Array<{ name: string }> };
        expect(r.interfaces.map((x) => x.name)).toEqual(['net1-0', 'net1-1']);
        expect(r.ips.map((x) => [x.address, x.gateway])).toEqual([[addrs[0], undefined], [addrs[1], undefined]]);
      }
    });

    it('CHECK passes', async () => {
      // One host per mode: each plugin run costs seconds in the UML guest, and the hosts are alike.
      const check = await cni('CHECK', mode, 'h1', `c-${mode}`, results.h1);
      expect(check.code, `${check.stdout}\n${check.stderr}`).toBe(0);
      expect(check.stdout).toBe('');
    });

    if (mode === 'l3') {
      it('CHECK fails once a pod address is removed, and passes again once it is back', async () => {
        const a = ips.h3?.[1] as string;
        await lab.ip(podNs.h3 as string, [`addr del ${a} dev net1-1`]);
        const bad = await cni('CHECK', mode, 'h3', `c-${mode}`, results.h3);
        expect(bad.code).not.toBe(0);
        expect(bad.json?.['code']).toBe(106);
        expect(String(bad.json?.['msg'])).toContain(`net1-1 lacks address ${a}`);
        await lab.ip(podNs.h3 as string, [`addr add ${a} dev net1-1`]);
        expect((await cni('CHECK', mode, 'h3', `c-${mode}`, results.h3)).code).toBe(0);
      });
    }

    it('pings across hosts over every NIC', async () => {
      const out: string[] = [];
      for (const a of HOSTS) for (const b of HOSTS) for (const i of [0, 1]) {
        if (a === b) continue;
        out.push(`${a}->${b}/net1-${i}: ${await lab.ping(podNs[a] as string, ipOf(b, i), `net1-${i}`)}`);
      }
      expect(out).toHaveLength(12);
      expect(out.filter((r) => !r.endsWith('true')), out.join('\n')).toEqual([]);
    });

    if (mode === 'l2') {
      it('L2: the fabric carries pod traffic on-link; deleting the host route changes nothing', async () => {
        const h1 = hostNs.h1 as string;
        const table = (await tableOf(h1, `10.${SUBNET[mode]}.0.0/16`)) as string;
        await lab.ip(h1, [`route del ${podCidrOf(mode, 'h2', 0)} table ${table}`]);
        expect(await lab.ping(podNs.h1 as string, ipOf('h2', 0), 'net1-0')).toBe(true);
        touchState();
        await expect.poll(async () => (await lab.json<{ dst: string }>(h1, ['route', 'show', 'table', table])).map((r) => r.dst), { timeout: 60_000, interval: 250 }).toContain(podCidrOf(mode, 'h2', 0));
      });
    } else {
      it(`${mode.toUpperCase()}: without one of the agent's host routes exactly that path breaks; a deleted one is restored`, async () => {
        const h1 = hostNs.h1 as string;
        const table = (await tableOf(h1, `10.${SUBNET[mode]}.0.0/16`)) as string;
        const block = podCidrOf(mode, 'h2', 0);
        // The agent follows ip monitor and puts a deleted route back within a second or so, which a
        // ping may or may not beat: shadow the route instead, as a foreign route manager would (a
        // rule ahead of ours sending that block nowhere), and check the path breaks.
        await lab.ip(h1, [`route add unreachable ${block} table 250`, `rule add to ${block} lookup 250 priority 100`]);
        const paths = {
          'h1->h2/net1-0': await lab.ping(podNs.h1 as string, ipOf('h2', 0), 'net1-0'),
          'h1->h2/net1-1': await lab.ping(podNs.h1 as string, ipOf('h2', 1), 'net1-1'),
          'h1->h3/net1-0': await lab.ping(podNs.h1 as string, ipOf('h3', 0), 'net1-0'),
          'h3->h2/net1-0': await lab.ping(podNs.h3 as string, ipOf('h2', 0), 'net1-0'),
        };
        expect(paths).toEqual({ 'h1->h2/net1-0': false, 'h1->h2/net1-1': true, 'h1->h3/net1-0': true, 'h3->h2/net1-0': true });
        await lab.ip(h1, [`rule del to ${block} lookup 250 priority 100`, `route del unreachable ${block} table 250`]);
        expect(await lab.ping(podNs.h1 as string, ipOf('h2', 0), 'net1-0')).toBe(true);
        // A deleted route of the agent's comes back.
        await lab.ip(h1, [`route del ${block} table ${table}`]);
        touchState();
        await expect.poll(async () => (await lab.json<{ dst: string }>(h1, ['route', 'show', 'table', table])).map((r) => r.dst), { timeout: 60_000, interval: 250 }).toContain(podCidrOf(mode, 'h2', 0));
        expect(await lab.ping(podNs.h1 as string, ipOf('h2', 0), 'net1-0')).toBe(true);
      });
    }

    it('DEL removes every pod interface and releases every address; DEL again succeeds', async () => {
      for (const h of HOSTS) {
        const del = await cni('DEL', mode, h, `c-${mode}`, results[h]);
        expect(del.code, `${del.stdout}\n${del.stderr}`).toBe(0);
        expect(await podLinks(podNs[h] as string)).toEqual([]);
        expect(await allocations(h)).toBe(0);
      }
      // DEL is idempotent: again, without prevResult, nothing left to remove.
      const again = await cni('DEL', mode, 'h1', `c-${mode}`);
      expect([again.code, again.stdout]).toEqual([0, '']);
    });
  });

  it('a failing 2nd NIC: the 1st NIC\'s ipvlan link is deleted and both addresses released', async () => {
    const pod = podNs.h1 as string;
    // h1's eth2 already carries a macvlan (another owner of the NIC): the kernel refuses an ipvlan
    // port on it (EBUSY), so NIC 1 (eth1) attaches and NIC 2 fails.
    await lab.ip(hostNs.h1 as string, ['link add link eth2 name mnh9busy type macvlan mode bridge']);
    try {
      const add = await cni('ADD', 'l3', 'h1', 'c-bad');
      expect(add.code).not.toBe(0);
      expect(add.json?.['code']).toBe(105);
      expect(String(add.json?.['msg'])).toMatch(/^failed to add NIC 2 \(eth2 -> net1-1\) with ipvlan: .+; rolled back 1 interface and 2 addresses$/);
      expect(await podLinks(pod)).toEqual([]);
      expect(await allocations('h1')).toBe(0);
    } finally {
      await lab.ip(hostNs.h1 as string, ['link del mnh9busy']);
    }
    // The addresses are free at once: the same pod attaches now.
    const ok = await cni('ADD', 'l3', 'h1', 'c-bad');
    expect(ok.code, ok.stdout).toBe(0);
    expect((await podLinks(pod)).map((l) => l.ifname).sort()).toEqual(['net1-0', 'net1-1']);
    expect((await cni('DEL', 'l3', 'h1', 'c-bad')).code).toBe(0);
    expect(await allocations('h1')).toBe(0);
  });
});
