// The Kubernetes API stand-in (design §4): the lab's control plane and the tests' double for the
// cluster. Start one with startApiServer(), point clients at it with writeKubeconfig().
export { startApiServer, INITIAL_NAMESPACES, type ApiServer, type ApiServerOptions } from './server.js';
export { StoreHandle } from './handle.js';
export { Faults, type Fault, type FaultMatch } from './faults.js';
export { ApiError, type Status } from './errors.js';
export type { DeleteOptions, ListOptions, PatchType, WriteOptions } from './api.js';
export { kubeconfigYaml, writeKubeconfig, type LabKubeconfigOptions } from '../kubeconfig.js';
