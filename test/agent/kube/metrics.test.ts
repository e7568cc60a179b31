// The --kube-only metrics against the API stand-in: the only agent becomes leader (multinic_leader
// 1), the watch-restart series exist per informer; with the API gone (a proxy refusing) failed calls,
// broken watches and the outage show, and the outage gauge clears when the API is back.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type AgentHandle } from '../../../src/agent/main.js';
import { FakeHostNetwork } from '../../fakes/hostnet.js';
import { FakeIpam } from '../../fakes/ipam.js';
import { connect } from '../../../src/kube/client.js';
import { writeKubeconfig } from '../../../src/lab/apiserver/index.js';
import { AGENT_NS, apiProxy, createNode, eventually, testCluster, type ApiProxy, type TestCluster } from './helpers.js';

const scrape = (addr: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const [host, port] = addr.split(':');
    request({ host, port, path: '/metrics' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    }).on('error', reject).end();
  });
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('agent --kube metrics on the API stand-in', () => {
  let c: TestCluster;
  let dir: string;
  let agent: AgentHandle;
  let proxy: ApiProxy;

  beforeAll(async () => {
    c = await testCluster();
    createNode(c, 'n1');
    dir = mkdtempSync(join(tmpdir(), 'mnh11-kmetrics-'));
    writeFileSync(join(dir, 'rt_tables'), '254\tmain\n');
    proxy = await apiProxy(c.server.url);
    const kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, proxy.url);
    agent = await runAgent({
      nodeName: 'n1',
      socketPath: join(dir, 'a.sock'),
      dataDir: join(dir, 'data'),
      rtTablesPath: join(dir, 'rt_tables'),
      cniBinDirs: [join(dir, 'bin')],
      ipam: new FakeIpam(),
      hostNet: new FakeHostNetwork(),
      discover: async () => [],
      watch: false,
      metricsAddr: { host: '127.0.0.1', port: 0 },
      kube: { api: await connect({ kubeconfig, requestTimeout: '1s' }), namespace: AGENT_NS, tuning: { nodeResyncMs: 500, leaseDurationSeconds: 2, leaseRetryMs: 100, informerBackoffMs: { initial: 20, max: 200 } } },
      log: () => undefined,
    });
  }, 30_000);

  afterAll(async () => {
    await agent?.stop();
    await proxy?.close();
    await c?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports leadership, API errors and outage, and per-informer watch restarts', async () => {
    const addr = agent.metricsAddress ?? '';
    await eventually(async () => expect(sample(await scrape(addr), 'multinic_leader')).toBe(1));
    const text = await scrape(addr);
    expect(sample(text, 'multinic_kube_api_down')).toBe(0);
    expect(sample(text, 'multinic_kube_api_errors_total')).toBe(0);
    for (const r of ['networks', 'cidrs', 'pods']) {
      expect(sample(text, `multinic_kube_watch_restarts_total{resource="${r}",reason="gone"}`)).toBe(0);
      expect(sample(text, `multinic_kube_watch_restarts_total{resource="${r}",reason="error"}`)).toBe(0);
    }
    // The API goes away: failed calls and broken watches are counted, and the outage shows.
    await proxy.set('refuse');
    await eventually(async () => {
      const t = await scrape(addr);
      expect(sample(t, 'multinic_kube_api_down')).toBe(1);
      expect(sample(t, 'multinic_kube_api_errors_total')).toBeGreaterThan(0);
      expect(sample(t, 'multinic_kube_watch_restarts_total{resource="pods",reason="error"}')).toBeGreaterThan(0);
    }, 15_000);
    await proxy.set('up');
    await eventually(async () => expect(sample(await scrape(addr), 'multinic_kube_api_down')).toBe(0), 15_000);
  }, 40_000);
});
