// The agent's kubelet DRA plugin driven by a real gRPC client acting as the kubelet: the plugin
// watcher's GetInfo / NotifyRegistrationStatus on the registration socket, then
// NodePrepareResources / NodeUnprepareResources on the endpoint it names, with the claims in the
// real API stand-in. Restarting the plugin (a new process would do the same: a fresh record read
// from the data dir) keeps what was prepared.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type * as GrpcJs from '@grpc/grpc-js';
import { loadProtos, startDraPlugin, type DraPlugin } from '../../../src/agent/dra/plugin.js';
import { PreparedClaims } from '../../../src/agent/dra/prepared.js';
import { testCluster, type TestCluster } from '../kube/helpers.js';
import type { KubeObject } from '../../../src/lib/k8s/meta.js';

let c: TestCluster;
let dir: string;
let plugin: DraPlugin | undefined;
const NICS: Record<string, string> = { eth1: 'eth1', eth2: 'eth2' };

beforeEach(async () => {
  c = await testCluster();
  dir = mkdtempSync(join(tmpdir(), 'r1-dra-'));
});
afterEach(async () => {
  await plugin?.stop();
  plugin = undefined;
  await c.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<DraPlugin> {
  const prepared = await PreparedClaims.open(join(dir, 'data', 'dra-prepared.json'));
  plugin = await startDraPlugin({ api: c.api, nodeName: 'host-a', kubeletDir: join(dir, 'kubelet'), prepared, nicOf: (d) => NICS[d] });
  return plugin;
}

/** A claim as the scheduler leaves it: allocated on host-a (our NICs and a GPU of another driver), reserved for pod p1. */
function allocatedClaim(name: string, devices: Array<{ driver?: string; pool?: string; device: string }>): KubeObject {
  const claim = c.server.store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name, namespace: 'default' }, spec: { devices: { requests: [{ name: 'nics', exactly: { deviceClassName: 'multinic-net-a', count: devices.length } }] } } });
  return c.server.store.updateStatus({
    ...claim,
    status: {
      allocation: { devices: { results: devices.map((d) => ({ request: d.driver && d.driver !== 'multinic.fms.io' ? 'gpu' : 'nics', driver: d.driver ?? 'multinic.fms.io', pool: d.pool ?? 'host-a', device: d.device })) } },
      reservedFor: [{ resource: 'pods', name: 'p1', uid: 'pod-uid-1' }],
    },
  });
}

type Unary = (req: unknown, cb: (e: GrpcJs.ServiceError | null, res: unknown) => void) => void;
async function kubelet(p: DraPlugin) {
  const { grpc, draPackage, regPackage } = await loadProtos();
  const Reg = (regPackage.pluginregistration as GrpcJs.GrpcObject).Registration as GrpcJs.ServiceClientConstructor;
  const reg = new Reg(`unix://${p.registrationSocket}`, grpc.credentials.createInsecure());
  const call = <T>(client: GrpcJs.Client, method: string, req: unknown) => new Promise<T>((resolve, reject) => ((client as unknown as Record<string, Unary>)[method] as Unary).call(client, req, (e, r) => (e ? reject(e) : resolve(r as T))));
  const info = await call<{ type: string; name: string; endpoint: string; supported_versions: string[] }>(reg, 'GetInfo', {});
  const v1 = (((((draPackage.k8s as GrpcJs.GrpcObject).io as GrpcJs.GrpcObject).kubelet as GrpcJs.GrpcObject).pkg as GrpcJs.GrpcObject).apis as GrpcJs.GrpcObject).dra as GrpcJs.GrpcObject;
  const Dra = (v1.v1 as GrpcJs.GrpcObject).DRAPlugin as GrpcJs.ServiceClientConstructor;
  const draClient = new Dra(`unix://${info.endpoint}`, grpc.credentials.createInsecure());
  return {
    info,
    notify: (registered: boolean, error = '') => call(reg, 'NotifyRegistrationStatus', { plugin_registered: registered, error }),
    prepare: (claims: Array<{ namespace: string; name: string; uid: string }>) => call<{ claims: Record<string, { devices: Array<{ request_names: string[]; pool_name: string; device_name: string }>; error: string }> }>(draClient, 'NodePrepareResources', { claims }),
    unprepare: (claims: Array<{ namespace: string; name: string; uid: string }>) => call<{ claims: Record<string, { error: string }> }>(draClient, 'NodeUnprepareResources', { claims }),
    close: () => {
      reg.close();
      draClient.close();
    },
  };
}

const ref = (o: KubeObject) => ({ namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '', uid: o.metadata?.uid ?? '' });

describe('kubelet DRA plugin (gRPC over unix sockets)', () => {
  it('registers as a v1 DRA plugin under the kubelet dirs and hears the registration status', async () => {
    const p = await start();
    expect(p.registrationSocket).toBe(join(dir, 'kubelet', 'plugins_registry', 'multinic.fms.io-reg.sock'));
    const k = await kubelet(p);
    expect(k.info).toEqual({ type: 'DRAPlugin', name: 'multinic.fms.io', endpoint: join(dir, 'kubelet', 'plugins', 'multinic.fms.io', 'dra.sock'), supported_versions: ['v1.DRAPlugin'] });
    expect(p.registration()).toBeUndefined();
    await k.notify(true);
    expect(p.registration()).toEqual({ registered: true, error: '' });
    k.close();
  });

  it('prepares our NICs of a claim in allocation order, ignores other drivers\' devices, and records the pod durably', async () => {
    const p = await start();
    const k = await kubelet(p);
    const claim = allocatedClaim('c1', [{ device: 'eth2' }, { driver: 'gpu.example.com', device: 'gpu-0' }, { device: 'eth1' }]);
    const res = await k.prepare([ref(claim)]);
    const uid = claim.metadata?.uid ?? '';
    expect(res.claims[uid]?.error).toBe('');
    expect(res.claims[uid]?.devices.map((d) => `${d.request_names.join('+')}:${d.pool_name}/${d.device_name}`)).toEqual(['nics:host-a/eth2', 'nics:host-a/eth1']);
    const onDisk = JSON.parse(readFileSync(join(dir, 'data', 'dra-prepared.json'), 'utf8')) as { claims: Array<{ uid: string; nics: Array<{ interfaceName: string }>; pods: Array<{ uid: string }> }> };
    expect(onDisk.claims.map((x) => [x.uid, x.nics.map((n) => n.interfaceName), x.pods.map((q) => q.uid)])).toEqual([[uid, ['eth2', 'eth1'], ['pod-uid-1']]]);
    k.close();
  });

  it('is idempotent and survives a restart: a prepared claim is answered from the record, even with the API object gone', async () => {
    let p = await start();
    let k = await kubelet(p);
    const claim = allocatedClaim('c1', [{ device: 'eth1' }]);
    const first = await k.prepare([ref(claim)]);
    k.close();
    await p.stop();
    plugin = undefined;
    c.server.store.delete('resource.k8s.io/v1', 'ResourceClaim', 'c1', 'default');
    p = await start();
    k = await kubelet(p);
    const again = await k.prepare([ref(claim)]);
    expect(again).toEqual(first);
    // Unprepare twice: both succeed, the second finds nothing to do.
    const uid = claim.metadata?.uid ?? '';
    expect(await k.unprepare([ref(claim)])).toEqual({ claims: { [uid]: { error: '' } } });
    expect(await k.unprepare([ref(claim)])).toEqual({ claims: { [uid]: { error: '' } } });
    const onDisk = JSON.parse(readFileSync(join(dir, 'data', 'dra-prepared.json'), 'utf8')) as { claims: unknown[] };
    expect(onDisk.claims).toEqual([]);
    k.close();
  });

  it('fails each bad claim on its own with what is wrong, and prepares the good one in the same call', async () => {
    const p = await start();
    const k = await kubelet(p);
    const good = allocatedClaim('good', [{ device: 'eth1' }]);
    const elsewhere = allocatedClaim('elsewhere', [{ device: 'eth1', pool: 'host-b' }]);
    const gone = allocatedClaim('gone', [{ device: 'eth9' }]);
    const pending = c.server.store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'pending', namespace: 'default' }, spec: { devices: { requests: [{ name: 'nics', exactly: { deviceClassName: 'x' } }] } } }) as KubeObject;
    const stale = { ...ref(good), uid: '00000000-0000-0000-0000-000000000000' };
    const missing = { namespace: 'default', name: 'nope', uid: 'u-nope' };
    const res = await k.prepare([ref(good), ref(elsewhere), ref(gone), ref(pending), missing]);
    const err = (o: { uid: string }) => res.claims[o.uid]?.error;
    expect(err(ref(good))).toBe('');
    expect(err(ref(elsewhere))).toContain('is allocated from pool "host-b", not this node "host-a"');
    expect(err(ref(gone))).toContain('device eth9 is not a NIC of node host-a now');
    expect(err(ref(pending))).toContain('is not allocated: the scheduler allocates a claim before the kubelet prepares it');
    expect(err(missing)).toBe('failed to prepare ResourceClaim default/nope: ResourceClaim default/nope not found');
    const staleRes = await k.prepare([stale]);
    expect(staleRes.claims[stale.uid]?.error).toContain('the claim was deleted and created again');
    // A failed claim is not recorded: fixing it and retrying prepares it.
    NICS.eth9 = 'eth9';
    try {
      expect((await k.prepare([ref(gone)])).claims[ref(gone).uid]?.error).toBe('');
    } finally {
      delete NICS.eth9;
    }
    k.close();
  });
});
