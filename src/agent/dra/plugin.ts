// The agent's kubelet DRA plugin: the plugin-watcher registration service on
// <kubelet-dir>/plugins_registry/<driver>-reg.sock and the DRA v1 service (NodePrepareResources /
// NodeUnprepareResources) on <kubelet-dir>/plugins/<driver>/dra.sock, both gRPC over unix sockets
// as the kubelet expects (https://kubernetes.io/docs/concepts/scheduling-eviction/dynamic-resource-allocation/).
// Protos: deploy/proto/*.proto, written from the published kubelet APIs, embedded as
// protos.gen.ts (scripts/gen-dra-protos.mjs) so a bundled agent needs no file beside it.
//
// Contract: Prepare reads the claim from the API (the kubelet passes only namespace/name/uid),
// records its NICs on this node and the pods it is reserved for in the durable PreparedClaims
// before answering; a claim already recorded is answered from the record (idempotent, no API call,
// and the same after an agent restart). Unprepare forgets it; an unknown claim is success. Each
// claim succeeds or fails on its own (its `error` field), as the kubelet retries only failed ones.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as GrpcJs from '@grpc/grpc-js';
import { claimedNics, reservedPods, type PreparedClaim } from '../../lib/dra/claim.js';
import { DRIVER, type ResourceClaim } from '../../lib/dra/types.js';
import { R } from '../../lib/k8s/resources.js';
import type { KubeApi } from '../../kube/api.js';
import type { PreparedClaims } from './prepared.js';
import { DRA_V1_PROTO, PLUGIN_REGISTRATION_V1_PROTO } from './protos.gen.js';

/** The gRPC service name the kubelet looks for in supported_versions (k8s.io/kubelet/pkg/apis/dra/v1). */
export const DRA_SERVICE_V1 = 'v1.DRAPlugin';

export const DEFAULT_KUBELET_DIR = '/var/lib/kubelet';

export interface DraPluginOptions {
  api: Pick<KubeApi, 'get'>;
  nodeName: string;
  /** The kubelet's root dir (default /var/lib/kubelet; the lab uses its own). */
  kubeletDir?: string;
  driver?: string;
  prepared: PreparedClaims;
  /** The interface name of a device of this node's ResourceSlice now, or undefined. */
  nicOf: (device: string) => string | undefined;
  log?: (event: Record<string, unknown>) => void;
}

export interface DraPlugin {
  registrationSocket: string;
  draSocket: string;
  /** The kubelet's last NotifyRegistrationStatus, if any. */
  registration(): { registered: boolean; error: string } | undefined;
  stop(): Promise<void>;
}

export const pluginSockets = (kubeletDir: string, driver: string): { registrationSocket: string; draSocket: string } => ({
  registrationSocket: join(kubeletDir, 'plugins_registry', `${driver}-reg.sock`),
  draSocket: join(kubeletDir, 'plugins', driver, 'dra.sock'),
});

interface WireClaim { namespace: string; uid: string; name: string }
interface WireDevice { request_names: string[]; pool_name: string; device_name: string; cdi_device_ids: string[] }

/** Loads both protos from their embedded descriptors (wire names as in the .proto files). */
export async function loadProtos(): Promise<{ grpc: typeof GrpcJs; dra: GrpcJs.ServiceDefinition; registration: GrpcJs.ServiceDefinition; draPackage: GrpcJs.GrpcObject; regPackage: GrpcJs.GrpcObject }> {
  const grpc = await import('@grpc/grpc-js');
  const loader = await import('@grpc/proto-loader');
  const opts = { longs: String, enums: String, defaults: true, oneofs: true };
  type Descriptor = Parameters<typeof loader.fromJSON>[0];
  const draPackage = grpc.loadPackageDefinition(loader.fromJSON(DRA_V1_PROTO as Descriptor, opts));
  const regPackage = grpc.loadPackageDefinition(loader.fromJSON(PLUGIN_REGISTRATION_V1_PROTO as Descriptor, opts));
  const draSvc = (draPackage.k8s as GrpcJs.GrpcObject).io as GrpcJs.GrpcObject;
  const v1 = ((((draSvc.kubelet as GrpcJs.GrpcObject).pkg as GrpcJs.GrpcObject).apis as GrpcJs.GrpcObject).dra as GrpcJs.GrpcObject).v1 as GrpcJs.GrpcObject;
  const dra = (v1.DRAPlugin as GrpcJs.ServiceClientConstructor).service;
  const registration = ((regPackage.pluginregistration as GrpcJs.GrpcObject).Registration as GrpcJs.ServiceClientConstructor).service;
  return { grpc, dra, registration, draPackage, regPackage };
}

async function bindUnix(grpc: typeof GrpcJs, server: GrpcJs.Server, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  await rm(path, { force: true }); // a socket left by a previous run refuses the bind
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
}

const toWire = (c: PreparedClaim): WireDevice[] => c.nics.map((n) => ({ request_names: [n.request], pool_name: n.pool, device_name: n.device, cdi_device_ids: [] }));

/** Starts both services; the registration socket appears last, so the kubelet never dials a missing DRA socket. */
export async function startDraPlugin(o: DraPluginOptions): Promise<DraPlugin> {
  const { grpc, dra, registration } = await loadProtos();
  const driver = o.driver ?? DRIVER;
  const log = o.log ?? (() => undefined);
  const { registrationSocket, draSocket } = pluginSockets(o.kubeletDir ?? DEFAULT_KUBELET_DIR, driver);
  let regStatus: { registered: boolean; error: string } | undefined;

  const prepareOne = async (c: WireClaim): Promise<{ devices: WireDevice[]; error: string }> => {
    const id = `${c.namespace}/${c.name}`;
    const known = o.prepared.get(c.uid);
    if (known) return { devices: toWire(known), error: '' };
    try {
      const claim = await o.api.get<ResourceClaim>(R.ResourceClaim, c.name, c.namespace);
      if (!claim) throw new Error(`ResourceClaim ${id} not found`);
      if (claim.metadata.uid !== c.uid) throw new Error(`ResourceClaim ${id} has UID ${claim.metadata.uid ?? '?'}, the kubelet asked for ${c.uid} (the claim was deleted and created again)`);
      const rec: PreparedClaim = { uid: c.uid, namespace: c.namespace, name: c.name, nics: claimedNics(claim, o.nodeName, o.nicOf, driver), pods: reservedPods(claim), preparedAt: new Date().toISOString() };
      await o.prepared.put(rec);
      log({ level: 'info', msg: 'prepared DRA claim', claim: id, uid: c.uid, nics: rec.nics.map((n) => n.interfaceName), pods: rec.pods.map((p) => p.name) });
      return { devices: toWire(rec), error: '' };
    } catch (e) {
      const error = `failed to prepare ResourceClaim ${id}: ${(e as Error).message}`;
      log({ level: 'warn', msg: 'DRA prepare failed', claim: id, error });
      return { devices: [], error };
    }
  };

  const unprepareOne = async (c: WireClaim): Promise<{ error: string }> => {
    try {
      if (await o.prepared.remove(c.uid)) log({ level: 'info', msg: 'unprepared DRA claim', claim: `${c.namespace}/${c.name}`, uid: c.uid });
      return { error: '' };
    } catch (e) {
      return { error: `failed to unprepare ResourceClaim ${c.namespace}/${c.name}: ${(e as Error).message}` };
    }
  };

  const each = async <T>(claims: WireClaim[], fn: (c: WireClaim) => Promise<T>): Promise<Record<string, T>> => {
    const out: Record<string, T> = {};
    for (const c of claims) out[c.uid] = await fn(c);
    return out;
  };

  const draServer = new grpc.Server();
  draServer.addService(dra, {
    NodePrepareResources: (call: GrpcJs.ServerUnaryCall<{ claims: WireClaim[] }, unknown>, cb: GrpcJs.sendUnaryData<unknown>) => {
      each(call.request.claims ?? [], prepareOne).then((claims) => cb(null, { claims }), (e: Error) => cb({ code: grpc.status.INTERNAL, details: e.message }));
    },
    NodeUnprepareResources: (call: GrpcJs.ServerUnaryCall<{ claims: WireClaim[] }, unknown>, cb: GrpcJs.sendUnaryData<unknown>) => {
      each(call.request.claims ?? [], unprepareOne).then((claims) => cb(null, { claims }), (e: Error) => cb({ code: grpc.status.INTERNAL, details: e.message }));
    },
  });
  const regServer = new grpc.Server();
  regServer.addService(registration, {
    GetInfo: (_call: unknown, cb: GrpcJs.sendUnaryData<unknown>) => cb(null, { type: 'DRAPlugin', name: driver, endpoint: draSocket, supported_versions: [DRA_SERVICE_V1] }),
    NotifyRegistrationStatus: (call: GrpcJs.ServerUnaryCall<{ plugin_registered: boolean; error: string }, unknown>, cb: GrpcJs.sendUnaryData<unknown>) => {
      regStatus = { registered: call.request.plugin_registered, error: call.request.error };
      if (regStatus.registered) log({ level: 'info', msg: 'kubelet registered the DRA plugin', driver });
      else log({ level: 'error', msg: 'kubelet refused the DRA plugin registration', driver, error: regStatus.error, hint: 'the kubelet needs Kubernetes 1.34+ (DRA v1) or the DynamicResourceAllocation feature gate; see docs/dra.md' });
      cb(null, {});
    },
  });
  await bindUnix(grpc, draServer, draSocket);
  await bindUnix(grpc, regServer, registrationSocket);
  log({ level: 'info', msg: 'DRA kubelet plugin listening', driver, registrationSocket, draSocket });
  const shutdown = (s: GrpcJs.Server) => new Promise<void>((resolve) => s.tryShutdown(() => resolve()));
  return {
    registrationSocket,
    draSocket,
    registration: () => regStatus,
    stop: async () => {
      await shutdown(regServer);
      await rm(registrationSocket, { force: true });
      await shutdown(draServer);
      await rm(draSocket, { force: true });
    },
  };
}
