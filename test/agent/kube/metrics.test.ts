// The --kube-only metrics against the API stand-in: the only agent becomes leader (multinic_leader
// 1), the watch-restart series exist per informer, and API errors are counted from the client.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type AgentHandle } from '../../../src/agent/main.js';
import { FakeHostNetwork } from '../../fakes/hostnet.js';
import { FakeIpam } from '../../fakes/ipam.js';
import { AGENT_NS, createNode, eventually, testCluster, type TestCluster } from './helpers.js';

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

  beforeAll(async () => {
    c = await testCluster();
    createNode(c, 'n1');
    dir = mkdtempSync(join(tmpdir(), 'mnh11-kmetrics-'));
    writeFileSync(join(dir, 'rt_tables'), '254\tmain\n');
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
      kube: { api: await c.client(), namespace: AGENT_NS, tuning: { nodeResyncMs: 500, leaseDurationSeconds: 2, leaseRetryMs: 100, informerBackoffMs: { initial: 20, max: 200 } } },
      log: () => undefined,
    });
  }, 30_000);

  afterAll(async () => {
    await agent?.stop();
    await c?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports leadership, API health and per-informer watch restarts', async () => {
    const addr = agent.metricsAddress ?? '';
    await eventually(async () => expect(sample(await scrape(addr), 'multinic_leader')).toBe(1));
    const text = await scrape(addr);
    expect(sample(text, 'multinic_kube_api_down')).toBe(0);
    expect(sample(text, 'multinic_kube_api_errors_total')).toBe(0);
    for (const r of ['networks', 'cidrs', 'pods']) {
      expect(sample(text, `multinic_kube_watch_restarts_total{resource="${r}",reason="gone"}`)).toBe(0);
      expect(sample(text, `multinic_kube_watch_restarts_total{resource="${r}",reason="error"}`)).toBe(0);
    }
  });
});
