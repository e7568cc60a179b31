// The real agent (runAgent in --kube mode, as the DaemonSet runs it) for the tests on the API
// stand-in: its own temporary directory (socket, data, rt_tables, an empty CNI bin dir), the fake
// host network, no file watch and test-speed timings. What a test varies (the client, discovery,
// IPAM, metrics) it passes; the rest is the same everywhere.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAgent, type AgentHandle, type AgentOptions } from '../../src/agent/main.js';
import type { KubeApi } from '../../src/kube/api.js';
import { AGENT_NS } from '../agent/kube/helpers.js';
import { FakeHostNetwork } from '../fakes/hostnet.js';

export interface KubeModeAgent {
  handle: AgentHandle;
  /** The agent's temporary directory (removed by stop). */
  dir: string;
  /** Stops the agent and removes its directory. */
  stop(): Promise<void>;
}

export interface KubeModeAgentOptions {
  /** Start of the temporary directory's name (the test's lab prefix). */
  prefix: string;
  /** Default n1. */
  nodeName?: string;
  /** The agent's client, given its directory (e.g. for a kubeconfig written there). */
  api: (dir: string) => Promise<KubeApi>;
  /** Default 500 ms. */
  nodeResyncMs?: number;
  /** Anything else runAgent takes (ipam, discover, metricsAddr ...). */
  agent?: Partial<AgentOptions>;
}

export async function startKubeAgent(o: KubeModeAgentOptions): Promise<KubeModeAgent> {
  const dir = mkdtempSync(join(tmpdir(), o.prefix));
  try {
    writeFileSync(join(dir, 'rt_tables'), '254\tmain\n');
    const handle = await runAgent({
      nodeName: o.nodeName ?? 'n1',
      socketPath: join(dir, 'a.sock'),
      dataDir: join(dir, 'data'),
      rtTablesPath: join(dir, 'rt_tables'),
      cniBinDirs: [join(dir, 'bin')],
      hostNet: new FakeHostNetwork(),
      watch: false,
      kube: { api: await o.api(dir), namespace: AGENT_NS, tuning: { nodeResyncMs: o.nodeResyncMs ?? 500, leaseDurationSeconds: 2, leaseRetryMs: 100, informerBackoffMs: { initial: 20, max: 200 } } },
      log: () => undefined,
      ...o.agent,
    });
    return {
      handle,
      dir,
      stop: async () => {
        await handle.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** GET /metrics of an agent's metrics listener (`host:port`). */
export const scrape = (addr: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const [host, port] = addr.split(':');
    request({ host, port, path: '/metrics' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    }).on('error', reject).end();
  });
