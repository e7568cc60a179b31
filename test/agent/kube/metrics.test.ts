// The --kube-only metrics against the API stand-in: the only agent becomes leader (multinic_leader
// 1), the watch-restart series exist per informer; with the API gone (a proxy refusing) failed calls,
// broken watches and the outage show, and the outage gauge clears when the API is back.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeIpam } from '../../fakes/ipam.js';
import { connect } from '../../../src/kube/client.js';
import { writeKubeconfig } from '../../../src/lab/apiserver/index.js';
import { scrape, startKubeAgent, type KubeModeAgent } from '../../helpers/kube-agent.js';
import { apiProxy, createNode, eventually, testCluster, type ApiProxy, type TestCluster } from './helpers.js';

const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('agent --kube metrics on the API stand-in', () => {
  let c: TestCluster;
  let agent: KubeModeAgent;
  let proxy: ApiProxy;

  beforeAll(async () => {
    c = await testCluster();
    createNode(c, 'n1');
    proxy = await apiProxy(c.server.url);
    agent = await startKubeAgent({
      prefix: 'mnh11-kmetrics-',
      api: async (dir) => {
        const kubeconfig = join(dir, 'kubeconfig');
        await writeKubeconfig(kubeconfig, proxy.url);
        return connect({ kubeconfig, requestTimeout: '1s' });
      },
      agent: { ipam: new FakeIpam(), discover: async () => [], metricsAddr: { host: '127.0.0.1', port: 0 } },
    });
  }, 30_000);

  afterAll(async () => {
    await agent?.stop();
    await proxy?.close();
    await c?.close();
  });

  it('reports leadership, API errors and outage, and per-informer watch restarts', async () => {
    const addr = agent.handle.metricsAddress ?? '';
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
