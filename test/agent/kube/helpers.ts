// Shared setup for the agent-on-the-API tests: the real API stand-in with our CRDs and the NAD
// CRD, a real KubeApi (connect() through a kubeconfig file, as the agent does), and lab-like
// hosts whose NICs are given as discovery would report them.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startApiServer, writeKubeconfig, type ApiServer, type ApiServerOptions } from '../../../src/lab/apiserver/index.js';
import { connect } from '../../../src/kube/client.js';
import type { KubeApi } from '../../../src/kube/api.js';
import { CRDS } from '../../../src/lib/crds/crds.gen.js';
import type { CIDR, InterfaceInfo, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import { cidrView, type CIDRClaim } from '../../../src/lib/cluster/claim-objects.js';
import type { KubeObject } from '../../../src/lib/k8s/meta.js';
import { R } from '../../../src/lib/k8s/resources.js';
import { KubeAgent, type KubeAgentOptions } from '../../../src/agent/kube/index.js';
import { eventually as poll } from '../../helpers/eventually.js';

export const AGENT_NS = 'multinic-system';

const NAD_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'network-attachment-definitions.k8s.cni.cncf.io' },
  spec: {
    group: 'k8s.cni.cncf.io',
    scope: 'Namespaced',
    names: { plural: 'network-attachment-definitions', singular: 'network-attachment-definition', kind: 'NetworkAttachmentDefinition', shortNames: ['net-attach-def'] },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { config: { type: 'string' } } } } } },
      },
    ],
  },
};

export interface TestCluster {
  server: ApiServer;
  api: KubeApi;
  /** A fresh KubeApi (a separate client, as another agent process would have). */
  client(): Promise<KubeApi>;
  close(): Promise<void>;
}

export async function testCluster(opts: ApiServerOptions = {}): Promise<TestCluster> {
  const server = await startApiServer(opts);
  for (const crd of [...CRDS, NAD_CRD]) server.store.create(structuredClone(crd) as never);
  server.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: AGENT_NS } });
  const dir = mkdtempSync(join(tmpdir(), 'mnG-kube-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server.url);
  const client = () => connect({ kubeconfig, requestTimeout: '5s' });
  const api = await client();
  return {
    server,
    api,
    client,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The seed network from examples/network.yaml (subnet 192.168.0.0/16, hostBlock 6, interfaceBlock 2, ipvlan l3). */
export function seedNetwork(patch: Partial<MultiNicNetwork['spec']> = {}, name?: string): MultiNicNetwork {
  const n = parse(readFileSync(new URL('../../../examples/network.yaml', import.meta.url), 'utf8')) as MultiNicNetwork;
  if (name) n.metadata.name = name;
  n.spec = { ...n.spec, ...patch };
  return n;
}

/** Host number `i` (0-based): eth1 on 10.0.1.0/24 and eth2 on 10.0.2.0/24, addresses .(i+1). */
export function hostNics(i: number, nets = [1, 2]): InterfaceInfo[] {
  return nets.map((n) => ({ interfaceName: `eth${n}`, netAddress: `10.0.${n}.0/24`, hostIP: `10.0.${n}.${i + 1}`, vendor: '15b3', product: '101d', numaNode: 0, speed: 100000, mtu: 9000, state: 'up' }));
}

export function createNode(c: TestCluster, name: string): void {
  c.server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name } });
}

export function createNetwork(c: TestCluster, net: MultiNicNetwork): MultiNicNetwork {
  return c.server.store.create(structuredClone(net) as never) as unknown as MultiNicNetwork;
}

/** A KubeAgent on its own client, with test-speed timings; the caller stops it. */
export async function agentFor(c: TestCluster, nodeName: string, opts: Partial<KubeAgentOptions> = {}): Promise<KubeAgent> {
  const a = new KubeAgent({
    api: await c.client(),
    nodeName,
    namespace: AGENT_NS,
    leaseDurationSeconds: 2,
    leaseRetryMs: 100,
    clusterResyncMs: 500,
    nodeResyncMs: 1000,
    mirrorFlushMs: 20,
    informerBackoffMs: { initial: 20, max: 200 },
    ...opts,
  });
  await a.start();
  return a;
}

/** Polls `fn` until it stops throwing (20 ms steps); rethrows the last failure after `budgetMs`. */
export const eventually = <T>(fn: () => T | Promise<T>, budgetMs = 8000): Promise<T> => poll(fn, budgetMs, 20);

/** The stored CIDR object itself (since claims by create: config and a summary, or a legacy CIDR's entries). */
export const cidrObjectOf = (c: TestCluster, name: string) => c.server.store.get('multinic.fms.io/v1', 'CIDR', name) as (KubeObject & CIDR) | undefined;
/** The stored CIDRClaims. */
export const claimsIn = (c: TestCluster): CIDRClaim[] => c.server.store.list('multinic.fms.io/v1', 'CIDRClaim') as unknown as CIDRClaim[];
/** The network's CIDR as every reader sees it: the CIDR object plus its CIDRClaims (cidrView). */
export const cidrOf = (c: TestCluster, name: string): (KubeObject & CIDR) | undefined => {
  const obj = cidrObjectOf(c, name);
  return obj ? (cidrView(obj, claimsIn(c)).cidr as KubeObject & CIDR) : undefined;
};
export { R };

/**
 * The standalone agent (src/agent/bin.ts) bundled WITH its lazily loaded --kube mode, to run inside
 * a network namespace (test/agent/helpers/bundle.ts leaves --kube out for the file-state agent).
 */
export async function bundleKubeAgent(): Promise<string> {
  const { build } = await import('esbuild');
  const dir = mkdtempSync(join(tmpdir(), 'mnG-bundle-'));
  const outfile = join(dir, 'agent.mjs');
  await build({
    entryPoints: [new URL('../../../src/agent/bin.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'error',
    // CommonJS dependencies (ipaddr.js, client-node's) may call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __mnGRequire } from 'node:module'; const require = __mnGRequire(import.meta.url);" },
  });
  return outfile;
}

export type ProxyMode = 'up' | 'refuse' | 'hang';

/** A TCP proxy in front of the API stand-in that the test can take down without losing its state. */
export interface ApiProxy {
  readonly url: string;
  /**
   * `refuse`: nothing listens (connect: ECONNREFUSED) and open connections are reset, as when the
   * API server process is gone. `hang`: connections are accepted and open ones stay open, but no
   * byte moves either way, as in a network partition or a frozen server; `up` lets the bytes of
   * held connections through again. Resolves once the mode is in force.
   */
  set(mode: ProxyMode): Promise<void>;
  /** Stalls the connections open now for good (a middlebox that lost them); new ones pass. */
  freeze(): void;
  close(): Promise<void>;
}

export async function apiProxy(target: string): Promise<ApiProxy> {
  const t = new URL(target);
  let mode: ProxyMode = 'up';
  /** One client connection, its upstream once linked, and the bytes held while hung. */
  interface Pair { client: Socket; upstream?: Socket; toUp: Buffer[]; toClient: Buffer[]; frozen?: boolean }
  const pairs = new Set<Pair>();
  const flush = (p: Pair) => {
    for (const d of p.toUp.splice(0)) p.upstream?.write(d);
    for (const d of p.toClient.splice(0)) p.client.write(d);
  };
  const link = (p: Pair) => {
    const up = createConnection({ host: t.hostname, port: Number(t.port) });
    p.upstream = up;
    up.on('data', (d: Buffer) => (mode === 'up' && !p.frozen ? p.client.write(d) : p.toClient.push(d)));
    // A frozen connection does not even pass on its end: the client keeps waiting.
    up.on('error', () => (p.frozen ? undefined : p.client.destroy()));
    up.on('close', () => (p.frozen ? undefined : p.client.destroy()));
    flush(p);
  };
  const server: Server = createServer((client) => {
    const p: Pair = { client, toUp: [], toClient: [] };
    pairs.add(p);
    client.on('data', (d: Buffer) => (mode === 'up' && p.upstream && !p.frozen ? p.upstream.write(d) : p.toUp.push(d)));
    client.on('error', () => undefined);
    client.on('close', () => {
      pairs.delete(p);
      p.upstream?.destroy();
    });
    if (mode === 'up') link(p);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async set(next) {
      const prev = mode;
      mode = next;
      if (next === 'refuse') {
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const p of [...pairs]) {
          p.client.resetAndDestroy();
          p.upstream?.destroy();
        }
        await closed;
      } else {
        if (prev === 'refuse') await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
        if (next === 'hang') return;
        // Held connections resume: unlinked ones connect upstream now, linked ones pass what waited.
        for (const p of pairs) {
          if (!p.upstream) link(p);
          else if (!p.frozen) flush(p);
        }
      }
    },
    freeze() {
      for (const p of pairs) p.frozen = true;
    },
    async close() {
      const closed = server.listening ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
      for (const p of [...pairs]) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      await closed;
    },
  };
}
