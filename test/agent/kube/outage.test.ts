// The agent on the API through a long outage (the API stand-in behind a proxy the test takes down):
// first the API refuses connections (its process gone), then it hangs (a partition: connections
// open, no byte moves). All the while a stream of ADD/DEL goes over the agent's real socket to its
// real IPAM journal and must keep succeeding; the agent must not crash (agents exited after ~4
// minutes with an unhandled ClusterUnreachableError: the IPPool mirror's periodic resync rejected
// where no one awaited it, once its final list failed); it logs the outage at its start,
// periodically and at its end with the duration, posts an Event when the API is back, and catches
// up: IPPools equal to the journal, the HostInterface republished with what changed meanwhile.
//
// Two runs: test-speed timings (seconds), and the shipped defaults (30 s request timeout and mirror
// resync) through a 5-minute outage, more than twice the former crash time (with 2 pools: the
// first resync during the hang, 3 request timeouts in, ~2 min; with refused connections <= 30 s).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentCore } from '../../../src/agent/core.js';
import { openIpamStore } from '../../../src/agent/ipam/store.js';
import { KubeAgent, type KubeAgentOptions } from '../../../src/agent/kube/index.js';
import { startAgentServer, type AgentServer } from '../../../src/agent/server.js';
import { connect } from '../../../src/kube/client.js';
import { writeKubeconfig } from '../../../src/lab/apiserver/index.js';
import type { DiscoveredNic } from '../../../src/lib/agent/discovery.js';
import type { HostInterface, IPPool } from '../../../src/lib/crds/types.gen.js';
import { call } from '../helpers/http.js';
import { eventually as poll } from '../../helpers/eventually.js';
import { Informer } from '../../../src/agent/kube/informer.js';
import { ApiOutage, formatDuration } from '../../../src/agent/kube/outage.js';
import { ClusterUnreachableError } from '../../../src/lib/errors.js';
import { R } from '../../../src/lib/k8s/resources.js';
import { AGENT_NS, apiProxy, createNetwork, createNode, eventually, hostNics, seedNetwork, testCluster, type ApiProxy, type TestCluster } from './helpers.js';

const NET = 'multi-nic-sample';
const discovered = (eth2Speed = 100000): DiscoveredNic[] => hostNics(0).map((n, i) => ({ ...n, ifindex: i + 2, pciAddress: '', vendor: n.vendor ?? '', product: n.product ?? '', numaNode: 0, speed: n.interfaceName === 'eth2' ? eth2Speed : 100000, mtu: 9000, state: 'up' }) as DiscoveredNic);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Scenario {
  /** KubeAgent tuning ({} = the shipped defaults). */
  tuning: Partial<KubeAgentOptions>;
  requestTimeout: string;
  refuseMs: number;
  hangMs: number;
  /** How long the catch-up may take once the API is back. */
  catchUpMs: number;
}

describe('ApiOutage', () => {
  it('one outage from the first failure to the first answer; a call begun before the last answer starts none', () => {
    let t = 0;
    const logs: Array<Record<string, unknown>> = [];
    const restored: number[] = [];
    const o = new ApiOutage({ log: (e) => logs.push(e), now: () => t, onRestored: (r) => restored.push(r.downMs) });
    const err = new ClusterUnreachableError('cannot reach the Kubernetes API at x: connect ECONNREFUSED');
    o.ok();
    t = 1000;
    o.failed(err, 500);
    t = 2000;
    o.failed(err, 1500);
    expect(o.down).toBe(true);
    t = 126_000;
    o.ok();
    // A request begun during the outage that fails after the answer is stale: no new outage.
    o.failed(err, 125_000);
    expect(o.down).toBe(false);
    expect(logs.map((l) => l.msg)).toEqual(['Kubernetes API unreachable: pod ADD/DEL keep being served from the caches and the journal; API writes are retried with backoff', 'Kubernetes API reachable again']);
    expect(logs[1]).toMatchObject({ after: '2m 5s', downMs: 125_000, failedCalls: 2 });
    expect(restored).toEqual([125_000]);
    o.stop();
    expect([formatDuration(0), formatDuration(45_000), formatDuration(3_720_000)]).toEqual(['0s', '45s', '1h 2m']);
  });

  it('an answer to a call begun before the outage was seen ends none (seen in CI: a response in flight as connections were reset)', () => {
    let t = 9_000;
    const logs: Array<Record<string, unknown>> = [];
    const o = new ApiOutage({ log: (e) => logs.push(e), now: () => t });
    const err = new ClusterUnreachableError('cannot reach the Kubernetes API at x: write ECONNRESET');
    o.ok(9_000);
    t = 10_001;
    o.failed(err, 9_990);
    // A request begun at 9,995, answered 1 ms after the reset: stale news, the outage goes on.
    t = 10_002;
    o.ok(9_995);
    expect(o.down).toBe(true);
    // A call begun after the outage was seen and answered ends it, once.
    t = 14_000;
    o.ok(13_990);
    expect(o.down).toBe(false);
    expect(logs.map((l) => l.msg)).toEqual(['Kubernetes API unreachable: pod ADD/DEL keep being served from the caches and the journal; API writes are retried with backoff', 'Kubernetes API reachable again']);
    expect(logs[1]).toMatchObject({ downMs: 3_999 });
    expect(o.down).toBe(false);
    o.stop();
  });
});

describe('agent --kube through a long API outage', () => {
  let c: TestCluster | undefined;
  let proxy: ApiProxy | undefined;
  let agent: KubeAgent | undefined;
  let server: AgentServer | undefined;
  let dir: string | undefined;
  let ipamClose: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await server?.close(100);
    await agent?.stop({ release: false });
    await ipamClose?.();
    await proxy?.close();
    await c?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    server = agent = proxy = c = dir = ipamClose = undefined;
  });

  async function scenario(s: Scenario): Promise<void> {
    c = await testCluster();
    createNode(c, 'a');
    createNetwork(c, seedNetwork({ namespaces: ['default'] }));
    proxy = await apiProxy(c.server.url);
    dir = mkdtempSync(join(tmpdir(), 'mnh2-outage-'));
    const kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, proxy.url);
    const logs: Array<Record<string, unknown>> = [];
    const unhandled: unknown[] = [];
    const onRejection = (r: unknown) => unhandled.push(r);
    let streaming = false;
    let stream: Promise<void> | undefined;
    process.on('unhandledRejection', onRejection);
    try {
      const a = (agent = new KubeAgent({ api: await connect({ kubeconfig, requestTimeout: s.requestTimeout }), nodeName: 'a', namespace: AGENT_NS, log: (e) => logs.push({ t: Date.now(), ...e }), ...s.tuning }));
      await a.start();
      const store = await openIpamStore({ dir: join(dir, 'ipam') });
      ipamClose = async () => store.close();
      let nics = discovered();
      const core: AgentCore = new AgentCore({ hostName: 'a', state: a.state, ipam: a.attachIpam(store, { onLeaksReleased: () => core.invalidate() }), nics: () => nics, liveReason: (x) => a.liveReason(x) });
      const sock = join(dir, 'agent.sock');
      server = await startAgentServer({ socketPath: sock, core, state: () => ({}) });
      await a.setNics(nics);
      await eventually(() => expect(a.state.network(NET)?.cidr?.spec.cidr.every((e) => e.hosts.some((h) => h.hostName === 'a'))).toBe(true), 20_000);
      store.setPools(a.state.networks().flatMap((n) => core.hostNics(n).map((m) => m.addressing.pool)));

      // The stream: every step ADDs one pod and DELs the one added 3 steps before, over the socket.
      const failures: string[] = [];
      let steps = 0;
      streaming = true;
      const req = (i: number) => ({ apiVersion: 'v1', network: NET, pod: { namespace: 'default', name: `p${i}`, uid: `u${i}`, containerID: `c${i}`, ifName: 'net1' } });
      stream = (async () => {
        for (let i = 0; streaming; i++) {
          const add = await call(sock, 'POST', '/v1/allocate', req(i));
          if (add.status !== 200) failures.push(`ADD ${i}: ${add.status} ${JSON.stringify(add.body)}`);
          if (i >= 3) {
            const del = await call(sock, 'POST', '/v1/release', req(i - 3));
            if (del.status !== 200 || (del.body as { released?: number }).released !== 2) failures.push(`DEL ${i - 3}: ${del.status} ${JSON.stringify(del.body)}`);
          }
          steps++;
          await sleep(20);
        }
      })();

      await sleep(500);
      const began = Date.now();
      await proxy.set('refuse');
      await sleep(s.refuseMs / 2);
      // Meanwhile on the node: eth2 renegotiates to 400G; in the cluster: someone deletes our HostInterface.
      nics = discovered(400000);
      void a.setNics(nics);
      c.server.store.delete('multinic.fms.io/v1', 'HostInterface', 'a');
      await sleep(s.refuseMs / 2);
      await proxy.set('hang');
      const stepsBeforeHang = steps;
      await sleep(s.hangMs);
      expect(steps - stepsBeforeHang).toBeGreaterThan(10); // ADD/DEL never waited on the hung API
      await proxy.set('up');
      const back = Date.now();

      const inStore = () => c!.server.store;
      await eventually(() => {
        const hi = inStore().get('multinic.fms.io/v1', 'HostInterface', 'a') as unknown as HostInterface | undefined;
        expect(hi?.spec.interfaces.map((n) => `${n.interfaceName}:${n.speed}`)).toEqual(['eth1:100000', 'eth2:400000']);
      }, s.catchUpMs);
      streaming = false;
      await stream;
      expect(failures).toEqual([]);
      expect(unhandled).toEqual([]);
      // IPPools in the API equal the journal, pool by pool.
      const held = (pool: string) => store.list().filter((x) => x.pool === pool).map((x) => x.address).sort();
      await eventually(() => {
        const pools = inStore().list('multinic.fms.io/v1', 'IPPool') as unknown as IPPool[];
        expect(pools.map((p) => p.metadata.name).sort()).toEqual([`${NET}-192.168.0.0-24`, `${NET}-192.168.64.0-24`]);
        for (const p of pools) expect(p.spec.allocations.map((x) => x.address).sort()).toEqual(held(p.metadata.name ?? ''));
      }, s.catchUpMs);
      expect(store.list()).toHaveLength(6); // the last 3 pods, 2 NICs each

      // The outage in the log: once when it began, periodically, once when it ended, with its length.
      const msgs = (m: string) => logs.filter((e) => e.msg === m);
      expect(msgs('Kubernetes API unreachable: pod ADD/DEL keep being served from the caches and the journal; API writes are retried with backoff')).toHaveLength(1);
      expect(msgs('Kubernetes API still unreachable').length).toBeGreaterThanOrEqual(2);
      const ended = msgs('Kubernetes API reachable again');
      expect(ended).toHaveLength(1);
      expect(ended[0]?.downMs).toBeGreaterThanOrEqual(back - began - 2000);
      expect(ended[0]?.downMs).toBeLessThanOrEqual(Date.now() - began);
      // Warnings are not repeated for every retry of the outage.
      expect(logs.filter((e) => e.level === 'warn').length).toBeLessThan(60);
      expect(logs.filter((e) => typeof e.msg === 'string' && e.msg.startsWith('BUG'))).toEqual([]);
      // And an Event once back.
      await a.events.drain();
      await eventually(() => {
        const ev = inStore().list('v1', 'Event', AGENT_NS).find((e) => (e as { reason?: string }).reason === 'APIOutageEnded') as { type?: string; message?: string; involvedObject?: { kind?: string; name?: string } } | undefined;
        expect(ev).toMatchObject({ type: 'Normal', involvedObject: { kind: 'HostInterface', name: 'a' } });
        expect(ev?.message).toMatch(/^a: the Kubernetes API was unreachable for \d/);
      }, s.catchUpMs);
    } catch (e) {
      // The agent's log (without debug lines) explains a failure.
      process.stderr.write(`--- agent log ---\n${logs.filter((l) => l.level !== 'debug').map((l) => JSON.stringify(l)).join('\n')}\n`);
      throw e;
    } finally {
      streaming = false;
      await stream?.catch(() => undefined);
      process.off('unhandledRejection', onRejection);
    }
  }

  it('a watch whose connection went silent (never reset) is dropped after the server timeout and resumed', async () => {
    c = await testCluster();
    proxy = await apiProxy(c.server.url);
    dir = mkdtempSync(join(tmpdir(), 'mnh2-outage-'));
    const kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, proxy.url);
    const inf = new Informer({ api: await connect({ kubeconfig, requestTimeout: '2s' }), ref: R.Node, watchTimeoutSeconds: 3, backoffMs: { initial: 20, max: 200 } }).start();
    try {
      await inf.synced();
      // Freeze 200 ms into a fresh watch (it lasts 3 s): it now hears nothing, not even its end.
      const w = inf.stats.watches;
      await poll(() => expect(inf.stats.watches).toBeGreaterThan(w), 10_000, 5);
      await sleep(200);
      proxy.freeze();
      c.server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'late' } });
      await eventually(() => expect(inf.get('late')).toBeDefined(), 20_000);
    } finally {
      await inf.stop();
    }
  }, 60_000);

  it('test-speed timings: 4 s refused + 6 s hung', async () => {
    await scenario({
      tuning: { leaseDurationSeconds: 2, leaseRetryMs: 200, clusterResyncMs: 500, nodeResyncMs: 500, mirrorFlushMs: 20, mirrorResyncMs: 300, gcIntervalMs: 300, informerBackoffMs: { initial: 20, max: 500 }, watchTimeoutSeconds: 5, outageReportMs: 1000 },
      requestTimeout: '1s',
      refuseMs: 4000,
      hangMs: 6000,
      catchUpMs: 15_000,
    });
  }, 60_000);

  it('shipped defaults: 90 s refused + 210 s hung (over twice the former crash time)', async () => {
    await scenario({ tuning: {}, requestTimeout: '30s', refuseMs: 90_000, hangMs: 210_000, catchUpMs: 120_000 });
  }, 560_000);
});
