// The agent on the Kubernetes API: what src/agent/main.ts and the lab use.
import { connect } from '../../kube/client.js';
import type { KubeApi } from '../../kube/api.js';
import { KubeAgent, type KubeAgentOptions } from './agent.js';

export { KubeAgent, startKubeAgent, UNMANAGED_LABEL, type KubeAgentOptions } from './agent.js';
export { KubeAgentState } from './state.js';
export { Informer } from './informer.js';
export { LeaderElector } from './leader.js';
export { claimCidr, ClaimFailedError, type ClaimOutcome } from './claim.js';
export { IPPoolMirror, observeIpam } from './mirror.js';
export { LeakGc } from './gc.js';
export { ClusterReconciler } from './cluster.js';

/** `agent --kube`: where the API is and how the agent behaves on it. */
export interface KubeModeOptions {
  /** An API client (tests, the lab); otherwise one is built from kubeconfig/context or in-cluster config. */
  api?: KubeApi;
  kubeconfig?: string;
  context?: string;
  /** The agent's namespace (Lease, Events): --namespace, else $POD_NAMESPACE, else multinic-system. */
  namespace: string;
  gcGraceMs?: number;
  /** Any other KubeAgent tuning (tests use short leases and resync periods). */
  tuning?: Partial<KubeAgentOptions>;
}

/**
 * Connects (when no client is given), starts the KubeAgent and waits for its state caches. Entry
 * point for src/agent/main.ts: hand `agent.state` to the core, `agent.attachIpam(ipam)` as the core's
 * Ipam, call `agent.setNics()` after discoveries and `agent.reportRoutes()` after route reconciles,
 * and `agent.stop()` on shutdown.
 */
export async function startKubeMode(o: KubeModeOptions & Pick<KubeAgentOptions, 'nodeName' | 'podFacts' | 'log'>): Promise<KubeAgent> {
  const api = o.api ?? (await connect({ kubeconfig: o.kubeconfig, context: o.context }));
  const agent = new KubeAgent({ api, nodeName: o.nodeName, namespace: o.namespace, podFacts: o.podFacts, log: o.log, ...(o.gcGraceMs !== undefined ? { gcGraceMs: o.gcGraceMs } : {}), ...o.tuning });
  o.log?.({ level: 'info', msg: 'connecting to the Kubernetes API', server: api.server, namespace: o.namespace });
  await agent.start();
  return agent;
}
