// The Kubernetes API stand-in (docs/design.md §4): the lab's control plane and the tests' double for the
// cluster. Start one with startApiServer(), point clients at it with writeKubeconfig():
//
//   const server = await startApiServer();            // http://127.0.0.1:<ephemeral>, seeded namespaces
//   await writeKubeconfig(path, server.url);           // for client-node, kubectl, our commands
//   server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'host-1' } });
//   server.faults.fail({ method: 'PUT', path: /\/cidrs\//, code: 409, times: 3 });
//   server.faults.dropWatches();
//   await server.close();
//
// Layout: store.ts (objects, resourceVersion, history, watches), registry.ts (built-in and
// CRD-defined types), api.ts (semantics and controllers), server.ts (HTTP routing, streaming),
// patch.ts, selectors.ts, traffic.ts (read counters), validation.ts, discovery.ts, openapi.ts, table.ts, protobuf.ts, faults.ts.
export { startApiServer, INITIAL_NAMESPACES, type ApiServer, type ApiServerOptions } from './server.js';
export { StoreHandle } from './handle.js';
export { Faults, type Fault, type FaultMatch } from './faults.js';
export { ApiError, type Status } from './errors.js';
export type { ReadStats } from './traffic.js';
export type { WriteStats } from './store.js';
export type { DeleteOptions, ListOptions, PatchType, WriteOptions } from './api.js';
export { kubeconfigYaml, writeKubeconfig, type LabKubeconfigOptions } from '../kubeconfig.js';
