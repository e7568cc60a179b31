// The node prober against a real kernel: a host netns whose routes, rule and macvlan shims the real
// reconcilers installed, a pod netns holding an allocation from the real IPAM store; read back →
// NodeDiagnostics; then faults made with `ip` (route, rule, shim address, NIC down, pod route) show
// up exactly there. Then the real agent in a netns: a route, a rule and a shim address deleted
// behind its back are restored within a second (ip monitor, not the resync) and kept as repairs.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cniPluginsDir, hasCniPlugins, privileged } from '../helpers/privileged.js';
import { NetnsLab } from '../agent/helpers/netns.js';
import { stateYaml, testCidr, testNetwork } from '../agent/helpers/network.js';
import { bundleAgent } from '../agent/helpers/bundle.js';
import { call, type Reply } from '../agent/helpers/http.js';
import { IpHostNetwork } from '../../src/agent/hostnet.js';
import { desiredRoutes, RouteReconciler } from '../../src/agent/routes.js';
import { desiredShims, reconcileShims } from '../../src/agent/shim.js';
import { NodeProber, PodNetnsRegistry } from '../../src/agent/probe.js';
import { openIpamStore, type IpamStore } from '../../src/agent/ipam/store.js';
import { nicAddressing } from '../../src/lib/agent/addressing.js';
import { parseIpamConfig } from '../../src/lib/network.js';
import type { NodeDiagnostics, RepairRecord } from '../../src/lib/diagnostics/types.js';

const RT = '255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n';
const ready = privileged.ok && hasCniPlugins;
const why = !privileged.ok ? privileged.reason : 'needs containernetworking-plugins';

describe.skipIf(!ready)(`node prober on a real kernel ${ready ? '' : why}`, () => {
  const lab = new NetnsLab('mnh6');
  const net = testNetwork();
  const cidr = testCidr(['h1', 'h2', 'h3']);
  let dir: string;
  let host: string;
  let pod: string;
  let store: IpamStore;
  let prober: NodeProber;
  let address = '';
  const pods = new PodNetnsRegistry();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnh6-probe-'));
    writeFileSync(join(dir, 'rt_tables'), RT);
    host = await lab.netns('h');
    const fab = await lab.netns('f');
    pod = await lab.netns('p');
    await lab.veth(host, 'eth1', fab, 'p1');
    await lab.veth(host, 'eth2', fab, 'p2');
    await lab.ip(host, ['addr add 10.0.1.1/24 dev eth1', 'addr add 10.0.2.1/24 dev eth2']);
    const hostNet = new IpHostNetwork({ name: host });
    await reconcileShims(hostNet, desiredShims([{ network: net, cidr }], 'h1'));
    await new RouteReconciler({ hostNet, rtTablesPath: join(dir, 'rt_tables') }).reconcile([desiredRoutes(cidr, 'h1')]);
    // One pod with one address from the real store, its interface configured as the CNI would.
    store = await openIpamStore({ dir: join(dir, 'ipam'), fsync: false });
    const ipam = parseIpamConfig('mnet', net.spec.ipam);
    const entry = cidr.spec.cidr[0]!;
    const a = nicAddressing(net, ipam, entry, entry.hosts[0]!);
    store.setPools([a.pool]);
    const [got] = await store.allocate([{ pool: a.pool, key: { podUID: 'u1', containerID: 'c1', interface: 'net1-0' }, podName: 'web', namespace: 'default' }]);
    address = got!.address;
    await lab.veth(pod, 'net1-0', fab, 'q1');
    await lab.ip(pod, [`addr add ${address}/24 dev net1-0`, `route add ${entry.vlanCIDR} via ${a.gateway} dev net1-0 onlink`]);
    pods.set('c1', `/run/netns/${pod}`);
    prober = new NodeProber({
      hostName: 'h1',
      agentVersion: '0.1.0',
      networks: () => [{ network: net, cidr }],
      discovered: () => ['eth1', 'eth2'],
      ipam: store,
      podNetns: (id) => pods.get(id),
      repairs: () => [],
      rtTablesPath: join(dir, 'rt_tables'),
      cniBinDirs: [join(dir, 'empty-bin'), cniPluginsDir],
      netns: { name: host },
    });
  }, 60_000);

  afterAll(async () => {
    await store?.close();
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const probe = () => prober.probe({ fresh: true });

  it('reads a converged host back as healthy: routes, rule, shims, NICs, sysctls, delegates, pod', async () => {
    const d = await probe();
    expect(d.errors).toBeUndefined();
    expect(d.networks.map((n) => ({ ...n, table: typeof n.table }))).toEqual([
      {
        network: 'mnet', table: 'string', vlanMode: 'l3', desiredRoutes: 4, missingRoutes: [], foreignRoutes: [], rulePresent: true,
        shims: [
          { nic: 'eth1', link: expect.stringMatching(/^mnshim\d+$/), up: true, gateway: '192.168.0.1', hasGateway: true },
          { nic: 'eth2', link: expect.stringMatching(/^mnshim\d+$/), up: true, gateway: '192.168.64.1', hasGateway: true },
        ],
      },
    ]);
    expect(d.nics.map((n) => [n.name, n.operState, n.adminUp, n.carrier, n.mtu, n.addresses, n.networks])).toEqual([
      ['eth1', 'up', true, true, 1500, ['10.0.1.1/24'], ['mnet']],
      ['eth2', 'up', true, true, 1500, ['10.0.2.1/24'], ['mnet']],
    ]);
    expect(d.sysctls.forwardingNeeded).toBe(true);
    expect(typeof d.sysctls.ipv4Forward).toBe('number');
    expect(Object.keys(d.sysctls.rpFilter ?? {})).toEqual(['eth1', 'eth2']);
    // The reference macvlan from the second dir of the search list; multi-nic is not there; the kernel has macvlan.
    expect(d.binaries.map((b) => [b.name, b.path, b.present, b.executable, b.kernelSupport])).toEqual([
      ['macvlan', `${cniPluginsDir}/macvlan`, true, true, true],
      ['multi-nic', join(dir, 'empty-bin', 'multi-nic'), false, false, undefined],
    ]);
    expect(d.journal).toMatchObject({ ok: true, allocations: 1 });
    expect(d.allocations.map((a) => [a.pod, a.podInterface, a.address, a.state])).toEqual([['default/web', 'net1-0', address, 'present']]);
  });

  it('a repair logged as the probe starts is never shown beside the route it restored as missing', async () => {
    // The repairs are read before the kernel: a snapshot that lists a repair read the kernel after it.
    // Here the repair lands inside the repairs() call itself, the moment the old order raced with.
    const table = (await probe()).networks[0]!.table;
    await lab.ip(host, [`route del 192.168.1.0/24 table ${table}`]);
    const record: RepairRecord = { at: new Date().toISOString(), network: 'mnet', kind: 'route', what: `192.168.1.0/24 via 10.0.1.2 dev eth1 table ${table}`, count: 1 };
    const racing = new NodeProber({
      hostName: 'h1', agentVersion: '0.1.0', networks: () => [{ network: net, cidr }], discovered: () => ['eth1', 'eth2'], ipam: store,
      podNetns: (id) => pods.get(id), rtTablesPath: join(dir, 'rt_tables'), cniBinDirs: [cniPluginsDir], netns: { name: host },
      repairs: () => {
        execFileSync('ip', ['-n', host, 'route', 'add', '192.168.1.0/24', 'via', '10.0.1.2', 'dev', 'eth1', 'table', table]);
        return [record];
      },
    });
    const d = await racing.probe();
    expect(d.repairs).toEqual([record]);
    expect(d.networks[0]!.missingRoutes).toEqual([]);
  });

  it('names a deleted route, a deleted rule and a shim without its gateway', async () => {
    const d0 = await probe();
    const shim = d0.networks[0]!.shims![1]!.link;
    const table = d0.networks[0]!.table;
    await lab.ip(host, [`route del 192.168.2.0/24 table ${table}`, `rule del from 192.168.0.0/16 lookup ${table}`, `addr del 192.168.64.1/24 dev ${shim}`, `route add 10.77.0.0/16 via 10.0.1.77 table ${table}`]);
    const d = await probe();
    expect(d.networks[0]).toMatchObject({
      missingRoutes: [{ dst: '192.168.2.0/24', via: '10.0.1.3', dev: 'eth1' }],
      foreignRoutes: [{ dst: '10.77.0.0/16', via: '10.0.1.77', dev: 'eth1' }],
      rulePresent: false,
    });
    expect(d.networks[0]!.shims![1]).toMatchObject({ nic: 'eth2', up: true, hasGateway: false });
  });

  it('a NIC set down: link state and its routes (flushed by the kernel) reported', async () => {
    await lab.ip(host, ['link set eth2 down']);
    const d = await probe();
    expect(d.nics.find((n) => n.name === 'eth2')).toMatchObject({ operState: 'down', adminUp: false, carrier: false, networks: ['mnet'] });
    expect(d.networks[0]!.missingRoutes.map((r) => r.dst)).toEqual(['192.168.2.0/24', '192.168.65.0/24', '192.168.66.0/24']);
  });

  it('a route deleted inside the pod, then the pod netns gone', async () => {
    await lab.ip(pod, ['route del 192.168.0.0/18']);
    expect((await probe()).allocations[0]).toMatchObject({ state: 'route-missing', detail: 'route 192.168.0.0/18 dev net1-0 missing in the pod' });
    pods.set('c1', `/run/netns/${pod}-gone`);
    expect((await probe()).allocations[0]).toMatchObject({ state: 'netns-gone' });
  });
});

describe.skipIf(!ready)(`agent repairs what someone else deleted, within a second ${ready ? '' : why}`, () => {
  const lab = new NetnsLab('mnh6r');
  let dir: string;
  let host: string;
  let child: ChildProcess | undefined;
  const sock = () => join(dir, 'agent.sock');
  type State = { repairs?: RepairRecord[]; diagnostics?: { diagnostics: NodeDiagnostics } };
  const state = async () => (await call(sock(), 'GET', '/v1/state')).body as State;
  // The kernel refuses to list a table that has no route yet (before the agent's first reconcile).
  const routes = async (table: string) => (await lab.json<{ dst: string }>(host, ['route', 'show', 'table', table]).catch(() => [])).map((r) => r.dst);

  /** Runs `act`, then polls (10 ms) until `done`; the milliseconds it took. */
  async function timeUntil(act: () => Promise<void>, done: () => Promise<boolean>, budgetMs = 5000): Promise<number> {
    const t0 = performance.now();
    await act();
    while (!(await done())) {
      if (performance.now() - t0 > budgetMs) throw new Error(`not restored within ${budgetMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return performance.now() - t0;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnh6-repair-'));
    writeFileSync(join(dir, 'rt_tables'), RT);
    const agentJs = await bundleAgent();
    host = await lab.netns('h');
    const fab = await lab.netns('f');
    await lab.veth(host, 'eth1', fab, 'p1');
    await lab.veth(host, 'eth2', fab, 'p2');
    await lab.ip(host, ['addr add 10.0.1.1/24 dev eth1', 'addr add 10.0.2.1/24 dev eth2']);
    writeFileSync(join(dir, 'state.yaml'), stateYaml([testNetwork(), testCidr(['h1', 'h2', 'h3'])]));
    // The resync is an hour away: anything restored below was restored by the monitor.
    child = spawn('ip', ['netns', 'exec', host, process.execPath, agentJs, 'run', '--health-interval', '0', '--node', 'h1', '--socket', sock(), '--state-file', join(dir, 'state.yaml'), '--data-dir', join(dir, 'data'), '--rt-tables', join(dir, 'rt_tables'), '--resync', '3600', '--cni-bin-dir', cniPluginsDir], { stdio: ['ignore', 'ignore', openSync(join(dir, 'agent.log'), 'w')] });
    const deadline = Date.now() + 30_000;
    while ((await call(sock(), 'GET', '/v1/healthz').catch(() => ({ status: 0 }) as Reply)).status !== 200) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('agent did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    while ((await routes('100')).length < 4) {
      if (Date.now() > deadline) throw new Error('agent did not install its routes');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Let the monitor subscribe before anything is deleted.
    await new Promise((r) => setTimeout(r, 500));
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child?.once('exit', r));
    }
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('a deleted route is back within 1 s and kept as a repair, also in the diagnostics', async () => {
    const ms = await timeUntil(() => lab.ip(host, ['route del 192.168.1.0/24 table 100']), async () => (await routes('100')).includes('192.168.1.0/24'));
    console.log(`route restored ${ms.toFixed(0)} ms after ip route del`);
    expect(ms).toBeLessThan(1000);
    const want = { network: 'mnet', kind: 'route', what: '192.168.1.0/24 via 10.0.1.2 dev eth1 table mnet', count: 1 };
    expect((await state()).repairs).toEqual([expect.objectContaining(want)]);
    const deadline = Date.now() + 3000;
    while (!(await state()).diagnostics?.diagnostics.repairs.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const d = (await state()).diagnostics!.diagnostics;
    expect(d.repairs).toEqual([expect.objectContaining(want)]);
    expect(d.networks[0]!.missingRoutes).toEqual([]);
  });

  it('the same route deleted again counts 2; a deleted rule and a shim address come back too', async () => {
    await timeUntil(() => lab.ip(host, ['route del 192.168.1.0/24 table 100']), async () => (await routes('100')).includes('192.168.1.0/24'));
    const ruleBack = async () => (await lab.json<{ src?: string; table?: string }>(host, ['rule', 'show'])).some((r) => r.src === '192.168.0.0' && r.table === '100');
    const rms = await timeUntil(() => lab.ip(host, ['rule del from 192.168.0.0/16 lookup 100']), ruleBack);
    const shim = (await lab.json<{ ifname: string }>(host, ['link', 'show'])).find((l) => l.ifname.startsWith('mnshim'))!.ifname;
    const hasGw = async () => (await lab.json<{ addr_info?: Array<{ local: string }> }>(host, ['addr', 'show', 'dev', shim]))[0]?.addr_info?.some((a) => a.local === '192.168.0.1') ?? false;
    const sms = await timeUntil(() => lab.ip(host, [`addr del 192.168.0.1/24 dev ${shim}`]), hasGw);
    console.log(`rule restored in ${rms.toFixed(0)} ms, shim address in ${sms.toFixed(0)} ms`);
    expect(rms).toBeLessThan(1000);
    expect(sms).toBeLessThan(1000);
    // The shim is put back first; the reconcile records its repairs once its routes are done too.
    const deadline = Date.now() + 3000;
    while (((await state()).repairs ?? []).length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const rep = (await state()).repairs ?? [];
    expect(rep.map((r) => [r.kind, r.what, r.count])).toEqual([
      ['route', '192.168.1.0/24 via 10.0.1.2 dev eth1 table mnet', 1],
      ['route', '192.168.1.0/24 via 10.0.1.2 dev eth1 table mnet', 2],
      ['rule', 'from 192.168.0.0/16 lookup mnet', 1],
      ['shim', `192.168.0.1/24 on ${shim} (eth1)`, 1],
    ]);
  });
});
