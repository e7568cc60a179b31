// Shared setup for the API stand-in tests: a server, a client-node KubeConfig for it, and a poller
// for what the background controllers (GC, namespace and CRD cleanup) do asynchronously.
import { KubeConfig } from '@kubernetes/client-node';
import { CRDS } from '../../../src/lib/crds/crds.gen.js';
import { kubeconfigYaml } from '../../../src/lab/kubeconfig.js';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../../src/lab/apiserver/index.js';
import { eventually as poll } from '../../helpers/eventually.js';

export async function standIn(opts: ApiServerOptions = {}): Promise<{ server: ApiServer; kc: KubeConfig }> {
  const server = await startApiServer(opts);
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(server.url));
  return { server, kc };
}

/** Installs our CRDs from deploy/crds (through the generated CRDS constant). */
export function installCrds(server: ApiServer): void {
  for (const crd of CRDS) server.store.create(structuredClone(crd) as never);
}

/** Retries `fn` until it stops throwing (10 ms steps, 3 s budget); returns its value. */
export const eventually = <T>(fn: () => T | Promise<T>, budgetMs = 3000): Promise<T> => poll(fn, budgetMs, 10);

/** The HTTP status of a rejected client-node call (ApiException.code), or 'ok'. */
export async function codeOf(p: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    const code = (e as { code?: number }).code;
    if (typeof code !== 'number') throw e;
    return code;
  }
}

/** The parsed Status body of a rejected client-node call. */
export async function statusOf(p: Promise<unknown>): Promise<{ reason: string; code: number; message: string; details?: { causes?: Array<{ field?: string; reason?: string; message: string }>; name?: string; kind?: string } }> {
  try {
    await p;
  } catch (e) {
    const body = (e as { body?: unknown }).body;
    return typeof body === 'string' ? JSON.parse(body) : (body as never);
  }
  throw new Error('expected the call to fail');
}

export const NET = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'MultiNicNetwork',
  metadata: { name: 'net-a' },
  spec: {
    subnet: '192.168.0.0/16',
    ipam: '{"type":"multi-nic-ipam","hostBlock":6,"interfaceBlock":2,"vlanMode":"l3"}',
    multiNICIPAM: true,
    plugin: { cniVersion: '0.3.0', type: 'ipvlan', args: { mode: 'l3' } },
    attachPolicy: { strategy: 'none' },
  },
};
