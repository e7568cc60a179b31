// The agent's metrics listener, scraped over HTTP: a real agent (real IPAM journal, real socket
// server, real prom-client exposition; fake host routes and injected NIC discovery, so no root)
// answers allocate/release/lookup calls on its socket, and the counters and gauges parsed from
// /metrics move as those calls say. /healthz and /readyz answer for the DaemonSet's probes; the
// listener is read-only; `--metrics-addr ''` serves nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgent, type AgentHandle } from '../../src/agent/main.js';
import { parseAgentArgs } from '../../src/agent/cli.js';
import { openIpamStore, type IpamStore } from '../../src/agent/ipam/store.js';
import type { DiscoveredNic } from '../../src/lib/agent/discovery.js';
import { parseListenAddress } from '../../src/lib/agent/listen.js';
import { FakeHostNetwork } from '../fakes/hostnet.js';
import { StaticState, testCidr, testNetwork } from './helpers/network.js';
import { call } from './helpers/http.js';

const nic = (name: string, ip: string, extra: Partial<DiscoveredNic> = {}): DiscoveredNic => ({
  ifindex: 0, interfaceName: name, netAddress: ip.replace(/\.\d+$/, '.0/24'), hostIP: ip, vendor: '15b3', product: '1019', pciAddress: '', numaNode: -1, speed: 0, mtu: 1500, state: 'up', ...extra,
});
const pod = (containerID: string) => ({ namespace: 'default', name: `p-${containerID}`, uid: `uid-${containerID}`, containerID, ifName: 'net1' });

function http(addr: string, method: string, path: string): Promise<{ status: number; type: string; text: string }> {
  const u = new URL(`http://${addr}${path}`);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Samples of the exposition text: `name{a="x",b="y"}` → value (label order as printed). */
function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition sample: ${line}`);
    out.set(m[1] ?? "", Number(m[2]));
  }
  return out;
}

describe('agent metrics and probes (--metrics-addr)', () => {
  let dir: string;
  let agent: AgentHandle | undefined;
  let store: IpamStore;
  let host: FakeHostNetwork;
  // eth2 not operationally up ('unknown': it still carries pods; a NIC in state 'down' would not).
  const nics = [nic('eth1', '10.0.1.1', { speed: 100000 }), nic('eth2', '10.0.2.1', { state: 'unknown' })];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnh11-metrics-'));
    writeFileSync(join(dir, 'rt_tables'), '254\tmain\n');
    store = await openIpamStore({ dir: join(dir, 'ipam') });
    host = new FakeHostNetwork();
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (over: Partial<Parameters<typeof runAgent>[0]> = {}) =>
    runAgent({
      nodeName: 'h1',
      socketPath: join(dir, 'a.sock'),
      dataDir: join(dir, 'data'),
      rtTablesPath: join(dir, 'rt_tables'),
      cniBinDirs: [join(dir, 'bin')],
      state: new StaticState([{ network: testNetwork({ vlanMode: 'l2' }), cidr: testCidr(['h1', 'h2']) }]),
      ipam: store,
      hostNet: host,
      discover: async () => nics,
      watch: false,
      metricsAddr: { host: '127.0.0.1', port: 0 },
      log: () => undefined,
      ...over,
    });

  it('counts CNI requests by verb and code, and reads pools, NICs, journal and reconciles at scrape time', async () => {
    agent = await start();
    const addr = agent.metricsAddress ?? '';
    expect(addr).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await http(addr, 'GET', '/healthz')).status).toBe(200);
    expect(await http(addr, 'GET', '/readyz')).toMatchObject({ status: 200, text: 'ok\n' });

    const sock = agent.socketPath;
    for (const c of ['c1', 'c2', 'c3']) expect((await call(sock, 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'mnet', pod: pod(c) })).status).toBe(200);
    expect((await call(sock, 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'nope', pod: pod('c4') })).status).toBe(404);
    expect((await call(sock, 'POST', '/v1/release', { apiVersion: 'v1', network: 'mnet', pod: pod('c2') })).body).toMatchObject({ released: 2 });
    expect((await call(sock, 'POST', '/v1/lookup', { apiVersion: 'v1', network: 'mnet', pod: pod('c1') })).status).toBe(200);
    expect((await call(sock, 'POST', '/v1/lookup', { apiVersion: 'v1', network: 'mnet', pod: pod('c2') })).status).toBe(404);
    // Not a CNI verb: not counted.
    expect((await call(sock, 'GET', '/v1/state')).status).toBe(200);

    const res = await http(addr, 'GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseExposition(res.text);
    const req = (verb: string, result: string, code: string) => m.get(`multinic_cni_requests_total{verb="${verb}",result="${result}",code="${code}"}`);
    expect(req('allocate', 'success', 'OK')).toBe(3);
    expect(req('allocate', 'failure', 'UnknownNetwork')).toBe(1);
    expect(req('release', 'success', 'OK')).toBe(1);
    expect(req('lookup', 'success', 'OK')).toBe(1);
    expect(req('lookup', 'failure', 'NotFound')).toBe(1);
    expect(req('gc', 'success', 'OK')).toBe(0);
    expect(m.get('multinic_cni_request_duration_seconds_count{verb="allocate"}')).toBe(4);
    expect(m.get('multinic_cni_request_duration_seconds_count{verb="lookup"}')).toBe(2);
    expect(m.get('multinic_cni_request_duration_seconds_bucket{le="+Inf",verb="release"}')).toBe(1);
    expect(m.get('multinic_cni_request_duration_seconds_sum{verb="allocate"}')).toBeGreaterThan(0);

    // Two pods hold one address on each NIC's pool; a /24 block hands out 254 (no shim gateway in L2).
    const pool = (nicName: string, block: string) => `{network="mnet",pool="mnet-${block}-24",nic="${nicName}"}`;
    expect(m.get(`multinic_ipam_allocations${pool('eth1', '192.168.0.0')}`)).toBe(2);
    expect(m.get(`multinic_ipam_allocations${pool('eth2', '192.168.64.0')}`)).toBe(2);
    expect(m.get(`multinic_ipam_capacity${pool('eth1', '192.168.0.0')}`)).toBe(254);
    expect(m.get('multinic_nic_up{nic="eth1"}')).toBe(1);
    expect(m.get('multinic_nic_up{nic="eth2"}')).toBe(0);
    expect(m.get('multinic_nic_speed_bytes{nic="eth1"}')).toBe(12_500_000_000);
    expect(m.get('multinic_nic_speed_bytes{nic="eth2"}')).toBe(0);
    const journal = m.get('multinic_ipam_journal_bytes') ?? 0;
    expect(journal).toBeGreaterThan(0);
    expect(m.get('multinic_ipam_journal_compactions_total')).toBe(0);
    // The host has no eth1/eth2 links yet: the start-up reconcile failed (routes cannot go in).
    expect(m.get('multinic_route_reconcile_runs_total{result="success"}')).toBe(0);
    expect(m.get('multinic_route_reconcile_runs_total{result="failure"}')).toBe(1);
    expect(m.get('multinic_route_reconcile_changes_total{kind="route"}')).toBe(0);
    expect(m.get('multinic_agent_info{version="' + (await import('../../src/agent/version.js')).AGENT_VERSION + '",node="h1"}')).toBe(1);
    expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    // Kubernetes-only metrics are absent without --kube.
    expect([...m.keys()].some((k) => k.startsWith('multinic_leader') || k.startsWith('multinic_kube_'))).toBe(false);

    // Scrapes are read-only and gauges follow the state: compaction and a reconcile show up next time.
    await store.compact();
    host.addLink('eth1', ['10.0.1.1/24']);
    host.addLink('eth2', ['10.0.2.1/24']);
    expect((await agent.reconcile()).error).toBeUndefined();
    expect((await call(sock, 'POST', '/v1/release', { apiVersion: 'v1', network: 'mnet', pod: pod('c1') })).status).toBe(200);
    const m2 = parseExposition((await http(addr, 'GET', '/metrics')).text);
    expect(m2.get('multinic_ipam_journal_compactions_total')).toBe(1);
    expect(m2.get('multinic_ipam_journal_bytes')).toBeLessThan(journal);
    expect(m2.get('multinic_route_reconcile_runs_total{result="success"}')).toBe(1);
    expect(m2.get('multinic_route_reconcile_runs_total{result="failure"}')).toBe(1);
    expect(m2.get('multinic_route_reconcile_changes_total{kind="route"}')).toBeGreaterThan(0);
    expect(m2.get(`multinic_ipam_allocations${pool('eth1', '192.168.0.0')}`)).toBe(1);
    expect(m2.get('multinic_cni_requests_total{verb="release",result="success",code="OK"}')).toBe(2);
    expect(store.list()).toHaveLength(2);
  });

  it('is read-only: other methods get 405, other paths 404, and nothing changes', async () => {
    agent = await start();
    const addr = agent.metricsAddress ?? '';
    await call(agent.socketPath, 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'mnet', pod: pod('c1') });
    expect((await http(addr, 'POST', '/metrics')).status).toBe(405);
    expect((await http(addr, 'DELETE', '/readyz')).status).toBe(405);
    expect((await http(addr, 'GET', '/v1/allocate')).status).toBe(404);
    expect((await http(addr, 'POST', '/v1/release')).status).toBe(405);
    expect(store.list()).toHaveLength(2);
  });

  it("--metrics-addr '' serves nothing; the default is :9417; bad values are refused with the flag named", async () => {
    const base = ['--node', 'h1', '--state-file', join(dir, 's.yaml'), '--data-dir', join(dir, 'data')];
    expect(parseAgentArgs(base).metricsAddr).toEqual({ port: 9417 });
    expect(parseAgentArgs([...base, '--metrics-addr', '']).metricsAddr).toBeUndefined();
    expect(parseAgentArgs([...base, '--metrics-addr', '[::1]:0']).metricsAddr).toEqual({ host: '::1', port: 0 });
    expect(() => parseAgentArgs([...base, '--metrics-addr', 'localhost:9417'])).toThrow(/--metrics-addr "localhost:9417" is not \[HOST\]:PORT/);
    expect(() => parseListenAddress('1.2.3:80')).toThrow(/"1\.2\.3" is not an IPv4 address/);
    expect(() => parseListenAddress(':70000')).toThrow(/port from 0 to 65535/);

    const { metricsAddr } = parseAgentArgs([...base, '--metrics-addr', '']);
    agent = await start({ metricsAddr });
    expect(agent.metricsAddress).toBeUndefined();
    // Nothing answers on the default port either (no listener was opened anywhere).
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(9417, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });
});

describe('metrics listener errors', () => {
  it('an error on the listening server is logged and the agent keeps serving (no unhandled error event)', async () => {
    const { AgentMetrics, startMetricsServer } = await import('../../src/agent/metrics.js');
    const logs: Array<Record<string, unknown>> = [];
    const srv = await startMetricsServer({ host: '127.0.0.1', port: 0 }, new AgentMetrics({ version: 't', node: 'h1', kube: false }), (e) => logs.push(e));
    try {
      // What Node emits when accept(2) fails (e.g. out of file descriptors): twice, as a busy node would.
      for (let i = 0; i < 2; i++) expect(() => srv.server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }))).not.toThrow();
      expect(logs).toEqual([
        { level: 'error', msg: 'metrics listener error; the agent serves the CNI regardless', address: srv.address, error: 'accept EMFILE' },
        { level: 'error', msg: 'metrics listener error; the agent serves the CNI regardless', address: srv.address, error: 'accept EMFILE' },
      ]);
      const status = await new Promise<number>((resolve, reject) => request({ host: '127.0.0.1', port: srv.port, path: '/healthz' }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject).end());
      expect(status).toBe(200);
    } finally {
      await srv.close();
    }
  });
});
