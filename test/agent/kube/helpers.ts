// Shared setup for the agent-on-the-API tests: the real API stand-in with our CRDs and the NAD
// CRD, a real KubeApi (connect() through a kubeconfig file, as the agent does), and lab-like
// hosts whose NICs are given as discovery would report them.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startApiServer, writeKubeconfig, type ApiServer, type ApiServerOptions } from '../../../src/lab/apiserver/index.js';
import { connect } from '../../../src/kube/client.js';
import type { KubeApi } from '../../../src/kube/api.js';
import { CRDS } from '../../../src/lib/crds/crds.gen.js';
import type { InterfaceInfo, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
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

export const cidrOf = (c: TestCluster, name: string) => c.server.store.get('multinic.fms.io/v1', 'CIDR', name) as (KubeObject & { spec: import('../../../src/lib/crds/types.gen.js').CIDRSpec }) | undefined;
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
