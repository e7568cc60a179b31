// The agent on the Kubernetes API: what src/agent/main.ts and the lab use.
export { KubeAgent, startKubeAgent, UNMANAGED_LABEL, type KubeAgentOptions } from './agent.js';
export { KubeAgentState } from './state.js';
export { Informer } from './informer.js';
export { LeaderElector } from './leader.js';
export { claimCidr, ClaimFailedError, type ClaimOutcome } from './claim.js';
export { IPPoolMirror, observeIpam } from './mirror.js';
export { LeakGc } from './gc.js';
export { ClusterReconciler } from './cluster.js';
