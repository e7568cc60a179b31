// Orchestration against the real API stand-in with a real data path: the in-test executor runs the
// check's iperf3 pods in network namespaces on per-NIC bridges. Proves the pods are pinned to the
// right NIC, results come from real traffic, faults are named, and no pod survives the run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gatherNetworks, hostsBySelector } from '../../src/check/gather.js';
import { type CheckEvent, runCheck } from '../../src/check/run.js';
import { connect } from '../../src/kube/client.js';
import type { KubeApi } from '../../src/kube/api.js';
import { type ApiServer, startApiServer, writeKubeconfig } from '../../src/lab/apiserver/index.js';
import { planCheck } from '../../src/lib/check/plan.js';
import { RUN_LABEL } from '../../src/lib/check/pods.js';
import type { CheckOptions } from '../../src/lib/check/types.js';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import { UserError } from '../../src/lib/errors.js';
import { containsAddr, parseCidr, parseIp } from '../../src/lib/net/ip.js';
import { hasIperf3, privileged } from '../helpers/privileged.js';
import { OPTS, sampleCidr, sampleHostInterfaces, sampleNetwork } from '../lib/check/sample.js';
import { PodExecutor, type ExecutorOptions } from './executor.js';

const HOSTS = ['host-a', 'host-b'];
const FAST = { pollMs: 100, podStartMs: 10_000, serverListenMs: 5_000, clientSlackMs: 20_000, retryDelayMs: 200, cleanupWaitMs: 5_000 };
const opts = (o: Partial<CheckOptions> = {}): CheckOptions => ({ ...OPTS, duration: 1, concurrency: 2, ...o });
const inBlock = (cidr: string, addr: string | undefined): boolean => {
  const a = parseIp(addr ?? '');
  return containsAddr(parseCidr(cidr), a.family, a.addr);
};

async function seed(server: ApiServer): Promise<void> {
  for (const crd of CRDS) server.store.create(structuredClone(crd) as never);
  await server.store.settle();
  server.store.create({ ...sampleNetwork(), metadata: { name: 'fabric' } } as never);
  server.store.create(sampleCidr(HOSTS) as never);
  for (const hi of sampleHostInterfaces({}, HOSTS)) server.store.create(hi as never);
  for (const h of HOSTS) server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: h, labels: { 'multinic.fms.io/check': h === 'host-a' ? 'yes' : 'no' } } });
}

describe.skipIf(!privileged.ok || !hasIperf3)(`check orchestration over real iperf3 (${privileged.reason || (hasIperf3 ? '' : 'needs iperf3')})`, () => {
  let server: ApiServer;
  let api: KubeApi;
  let dir: string;
  let executor: PodExecutor | undefined;

  beforeAll(async () => {
    server = await startApiServer();
    await seed(server);
    dir = mkdtempSync(join(tmpdir(), 'mnchk-'));
    await writeKubeconfig(join(dir, 'kubeconfig'), server.url);
    api = await connect({ kubeconfig: join(dir, 'kubeconfig') });
  });
  afterEach(async () => {
    await executor?.stop();
    executor = undefined;
  });
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const startExecutor = (o: Partial<ExecutorOptions> = {}): PodExecutor => {
    executor = new PodExecutor({ server, prefix: 'mnchko', cidr: sampleCidr(HOSTS), ...o });
    executor.start();
    return executor;
  };
  const podsLeft = async (): Promise<string[]> => (await api.list(R_POD, { namespace: 'default', labelSelector: RUN_LABEL })).items.map((p) => p.metadata?.name ?? '');

  it('a healthy fabric: every NIC of every ordered pair passes with real traffic from the right address; nothing is left', async () => {
    const ex = startExecutor();
    const o = opts();
    const plan = planCheck(await gatherNetworks(api, []), o);
    const events: CheckEvent[] = [];
    const out = await runCheck(api, plan, o, { timings: FAST, onEvent: (e) => events.push(e) });
    expect(out.results.map((r) => `${r.id}:${r.status}`)).toEqual([
      'fabric/host-a->host-b/nic0:pass', 'fabric/host-a->host-b/nic1:pass', 'fabric/host-b->host-a/nic0:pass', 'fabric/host-b->host-a/nic1:pass',
    ]);
    const cidr = sampleCidr(HOSTS);
    for (const r of out.results) {
      expect(r.connected).toBe(true);
      expect(r.gbps).toBeGreaterThan(0);
      expect(r.attempts).toBe(1);
      // Each pod sits in its own host's block on the NIC under test: masters pinned it.
      const entry = cidr.spec.cidr.find((e) => e.interfaceIndex === r.nicIndex);
      expect(inBlock(entry!.hosts.find((h) => h.hostName === r.client.host)!.podCIDR, r.client.address)).toBe(true);
      expect(inBlock(entry!.hosts.find((h) => h.hostName === r.server.host)!.podCIDR, r.server.address)).toBe(true);
    }
    expect(out.leftovers).toEqual([]);
    expect(await podsLeft()).toEqual([]);
    expect(ex.started).toHaveLength(8);
    expect(events.filter((e) => e.type === 'result')).toHaveLength(4);
    expect(events.at(-1)).toEqual({ type: 'cleanup-done', leftovers: [] });
    expect(out.interrupted).toBe(false);
  });

  it('a NIC with no path fails exactly those pairs on that NIC with the route hint, and still cleans up', async () => {
    const ex = startExecutor({ isolate: (host, nic) => host === 'host-b' && nic === 1 });
    const o = opts();
    const out = await runCheck(api, planCheck(await gatherNetworks(api, ['fabric']), o), o, { timings: FAST });
    expect(out.results.filter((r) => r.status !== 'pass').map((r) => `${r.id}:${r.cause}`)).toEqual(['fabric/host-a->host-b/nic1:no-route', 'fabric/host-b->host-a/nic1:no-route']);
    const bad = out.results.find((r) => r.id === 'fabric/host-a->host-b/nic1');
    expect(bad?.connected).toBe(false);
    expect(bad?.summary).toMatch(/^host-a -> host-b on nic1 \(eth2 -> eth2, 10\.0\.2\.0\/24\): no (route to|answer from) 192\.168\.65\.\d+ \(unable to connect to server: /);
    expect(bad?.hint).toContain('on host host-a, `ip route show table fabric` (the table of `ip rule` "from 192.168.0.0/16") should hold `192.168.65.0/24 via 10.0.2.2 dev eth2`');
    expect(await podsLeft()).toEqual([]);
    expect(await settledNamespaces(ex)).toEqual(['mnchkof']);
  });

  it('a pod whose CNI ADD fails is named with the message; its pair NIC fails, the others run', async () => {
    startExecutor({ failPod: (p) => (p.spec.nodeName === 'host-b' && p.metadata.annotations?.['k8s.v1.cni.cncf.io/networks']?.includes('"eth1"') && p.metadata.name.endsWith('-s') ? 'multi-nic: pool 192.168.1.0/24 exhausted' : undefined) });
    const o = opts({ nodes: ['host-a', 'host-b'], test: '*/host-a->host-b/*' });
    const out = await runCheck(api, planCheck(await gatherNetworks(api, []), o), o, { timings: FAST });
    expect(out.results.map((r) => `${r.id}:${r.status}:${r.cause ?? ''}`)).toEqual(['fabric/host-a->host-b/nic0:fail:pod-failed', 'fabric/host-a->host-b/nic1:pass:']);
    expect(out.results[0]?.summary).toMatch(/^server pod mnchk-\w+-0-s on host-b did not start: CNIError: multi-nic: pool 192.168.1.0\/24 exhausted$/);
    expect(await podsLeft()).toEqual([]);
  });

  it('an abort (what Ctrl-C triggers) stops the run, skips what did not finish, and deletes every pod', async () => {
    startExecutor();
    const o = opts({ duration: 3, concurrency: 1 });
    const ctl = new AbortController();
    let podsAtAbort = 0;
    const out = await runCheck(api, planCheck(await gatherNetworks(api, []), o), o, {
      timings: FAST,
      signal: ctl.signal,
      onEvent: (e) => {
        if (e.type === 'servers-ready' && !ctl.signal.aborted) {
          void api.list(R_POD, { namespace: 'default', labelSelector: RUN_LABEL }).then((l) => {
            podsAtAbort = l.items.length;
            ctl.abort();
          });
        }
      },
    });
    expect(podsAtAbort).toBeGreaterThan(0);
    expect(out.interrupted).toBe(true);
    expect(out.results).toHaveLength(4);
    expect(out.results.filter((r) => r.status === 'skip').length).toBeGreaterThanOrEqual(2);
    expect(out.leftovers).toEqual([]);
    expect(await podsLeft()).toEqual([]);
  });

  it('a server not listening yet: the refused client is retried and the test passes', async () => {
    startExecutor({ startDelay: (p) => (p.metadata.name.endsWith('-s') ? 1.5 : 0) });
    const o = opts({ test: '*/host-a->host-b/nic0' });
    const events: CheckEvent[] = [];
    const out = await runCheck(api, planCheck(await gatherNetworks(api, []), o), o, {
      timings: { ...FAST, serverListenMs: 100, retryDelayMs: 1000 },
      onEvent: (e) => events.push(e),
    });
    expect(out.results.map((r) => `${r.id}:${r.status}`)).toEqual(['fabric/host-a->host-b/nic0:pass']);
    expect(out.results[0]?.attempts).toBeGreaterThanOrEqual(2);
    const retry = events.find((e) => e.type === 'retry');
    expect(retry && retry.type === 'retry' && retry.reason).toContain('Connection refused');
    expect(await podsLeft()).toEqual([]);
  });

  it('a server that cannot listen is named, and no client is sent to it', async () => {
    // The pod's port is already taken inside its namespace: iperf3 -s fails to bind.
    startExecutor({ occupyPort: (p) => p.metadata.name.endsWith('-s') });
    const o = opts({ test: '*/host-a->host-b/nic1' });
    const out = await runCheck(api, planCheck(await gatherNetworks(api, []), o), o, { timings: FAST });
    expect(out.results.map((r) => `${r.id}:${r.cause}`)).toEqual(['fabric/host-a->host-b/nic1:server-failed']);
    expect(out.results[0]?.summary).toContain('iperf3 server on host-b failed: error - unable to start listener for connections: Address already in use');
    expect(out.results[0]?.attempts).toBe(0);
    expect(await podsLeft()).toEqual([]);
  });

  it('--concurrency runs disjoint host pairs at the same time and never two pairs sharing a host', async () => {
    const hosts = ['host-a', 'host-b', 'host-c', 'host-d'];
    const wide = { ...sampleCidr(hosts), metadata: { name: 'wide' } };
    wide.spec.config = { ...wide.spec.config, name: 'wide' };
    server.store.create({ ...sampleNetwork(), metadata: { name: 'wide' } } as never);
    server.store.create(wide as never);
    startExecutor({ cidr: wide });
    const o = opts({ networks: ['wide'], pairs: 'ring', concurrency: 2, test: '*/nic0' });
    const plan = planCheck(await gatherNetworks(api, ['wide']), o);
    expect(plan.groups.map((g) => g.id)).toEqual(['wide/host-a->host-b', 'wide/host-b->host-c', 'wide/host-c->host-d', 'wide/host-d->host-a']);
    const running = new Map<string, string[]>();
    let maxAtOnce = 0;
    const out = await runCheck(api, plan, o, {
      timings: FAST,
      onEvent: (e) => {
        if (e.type === 'group') {
          for (const [, hs] of running) for (const h of [e.group.clientHost, e.group.serverHost]) expect(hs).not.toContain(h);
          running.set(e.group.id, [e.group.clientHost, e.group.serverHost]);
          maxAtOnce = Math.max(maxAtOnce, running.size);
        }
        if (e.type === 'group-done') running.delete(e.group.id);
      },
    });
    server.store.delete('multinic.fms.io/v1', 'CIDR', 'wide');
    server.store.delete('multinic.fms.io/v1', 'MultiNicNetwork', 'wide');
    expect(maxAtOnce).toBe(2);
    expect(out.results.map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'pass']);
    expect(await podsLeft()).toEqual([]);
  });

  it('a namespace that does not exist is a usage error and leaves nothing behind', async () => {
    startExecutor();
    const o = opts({ namespace: 'nope' });
    const err = await runCheck(api, planCheck(await gatherNetworks(api, []), o), o, { timings: FAST }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe('namespace "nope" not found');
    expect(await podsLeft()).toEqual([]);
  });

  it('gathers: unknown network and node selector', async () => {
    await expect(gatherNetworks(api, ['fabric', 'other'])).rejects.toThrow('network "other" not found');
    expect(await hostsBySelector(api, 'multinic.fms.io/check=yes')).toEqual(['host-a']);
    const plan = planCheck(await gatherNetworks(api, []), opts(), await hostsBySelector(api, 'multinic.fms.io/check in (yes,no)'));
    expect(plan.hosts).toEqual(HOSTS);
  });
});

const R_POD = { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true } as const;

/** The executor's namespaces once its reconcile loop (50 ms ticks) has handled the deletions; at most 5 s. */
async function settledNamespaces(ex: { namespaces(): string[] }): Promise<string[]> {
  let ns = ex.namespaces();
  for (let i = 0; i < 100 && ns.length > 1; i++) {
    await new Promise((r) => setTimeout(r, 50));
    ns = ex.namespaces();
  }
  return ns;
}
