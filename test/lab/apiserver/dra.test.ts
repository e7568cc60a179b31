// resource.k8s.io/v1 on the stand-in, through @kubernetes/client-node's generated ResourceV1Api (the
// typed client a DRA driver written against the real API uses): CRUD, the field selectors drivers
// and kubelet list slices with, the claim's status subresource, and the validation rules of
// pkg/apis/resource/validation our driver relies on. (The typed client names an attribute's int `_int`.)
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoreV1Api, PatchStrategy, ResourceV1Api, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { ApiServer } from '../../../src/lab/apiserver/index.js';
import { codeOf, eventually, standIn, statusOf } from './helpers.js';

let server: ApiServer;
let kc: KubeConfig;
let dra: ResourceV1Api;

beforeEach(async () => {
  ({ server, kc } = await standIn());
  dra = kc.makeApiClient(ResourceV1Api);
});
afterEach(async () => {
  await server.close();
});

const slice = (name: string, node: string, driver: string, devices: unknown[] = [{ name: 'eth1', attributes: { interfaceName: { string: 'eth1' }, 'resource.kubernetes.io/pcieRoot': { string: 'pci0000:00' } } }]) => ({
  apiVersion: 'resource.k8s.io/v1',
  kind: 'ResourceSlice',
  metadata: { name },
  spec: { driver, nodeName: node, pool: { name: node, generation: 1, resourceSliceCount: 1 }, devices },
});

const claim = {
  apiVersion: 'resource.k8s.io/v1',
  kind: 'ResourceClaim',
  metadata: { name: 'c1', namespace: 'default' },
  spec: { devices: { requests: [{ name: 'nics', exactly: { deviceClassName: 'multinic-net-a', count: 2, allocationMode: 'ExactCount' } }] } },
};

describe('resource.k8s.io/v1 on the stand-in', () => {
  it('is discovered as a group with v1 serving all four kinds', async () => {
    const res = await fetch(`${server.url}/apis/resource.k8s.io/v1`);
    const body = (await res.json()) as { resources: Array<{ name: string; kind: string; namespaced: boolean }> };
    const names = body.resources.map((r) => `${r.name}:${r.kind}:${r.namespaced}`).sort();
    expect(names).toEqual([
      'deviceclasses:DeviceClass:false',
      'resourceclaims/status:ResourceClaim:true',
      'resourceclaims:ResourceClaim:true',
      'resourceclaimtemplates:ResourceClaimTemplate:true',
      'resourceslices:ResourceSlice:false',
    ]);
  });

  it('lists slices by spec.nodeName and spec.driver, and refuses other field labels', async () => {
    await dra.createResourceSlice({ body: slice('a-nics', 'host-a', 'multinic.fms.io') as never });
    await dra.createResourceSlice({ body: slice('b-nics', 'host-b', 'multinic.fms.io') as never });
    await dra.createResourceSlice({ body: slice('a-gpus', 'host-a', 'gpu.example.com') as never });
    const onA = await dra.listResourceSlice({ fieldSelector: 'spec.nodeName=host-a' });
    expect(onA.items.map((s) => s.metadata?.name).sort()).toEqual(['a-gpus', 'a-nics']);
    const ours = await dra.listResourceSlice({ fieldSelector: 'spec.nodeName=host-a,spec.driver=multinic.fms.io' });
    expect(ours.items.map((s) => s.metadata?.name)).toEqual(['a-nics']);
    expect(ours.items[0]?.spec.devices?.[0]?.attributes?.['resource.kubernetes.io/pcieRoot']?.string).toBe('pci0000:00');
    expect(await codeOf(dra.listResourceSlice({ fieldSelector: 'spec.pool.generation=1' }))).toBe(400);
  });

  it('bumps metadata.generation on a spec change and keeps driver and nodeName immutable', async () => {
    const created = await dra.createResourceSlice({ body: slice('a-nics', 'host-a', 'multinic.fms.io') as never });
    expect(created.metadata?.generation).toBe(1);
    const next = structuredClone(created);
    next.spec.pool.generation = 2;
    next.spec.devices = [];
    const replaced = await dra.replaceResourceSlice({ name: 'a-nics', body: next });
    expect(replaced.metadata?.generation).toBe(2);
    replaced.spec.nodeName = 'host-b';
    const st = await statusOf(dra.replaceResourceSlice({ name: 'a-nics', body: replaced }));
    expect(st.code).toBe(422);
    expect(st.message).toContain('spec.nodeName: Invalid value: field is immutable');
  });

  it('rejects a slice without exactly one node selection, a bad attribute name or two values in one attribute', async () => {
    const noNode = slice('x', 'host-a', 'multinic.fms.io') as { spec: Record<string, unknown> };
    delete noNode.spec.nodeName;
    expect((await statusOf(dra.createResourceSlice({ body: noNode as never }))).message).toContain('exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required');
    const badName = slice('y', 'host-a', 'multinic.fms.io', [{ name: 'eth1', attributes: { 'net-name': { string: 'x' } } }]);
    expect((await statusOf(dra.createResourceSlice({ body: badName as never }))).message).toContain('must be a C identifier');
    const two = slice('z', 'host-a', 'multinic.fms.io', [{ name: 'eth1', attributes: { mtu: { _int: 1500, string: '1500' } } }]);
    expect((await statusOf(dra.createResourceSlice({ body: two as never }))).message).toContain('exactly one value must be specified, got int, string');
    const many = slice('w', 'host-a', 'multinic.fms.io', Array.from({ length: 129 }, (_, i) => ({ name: `d${i}` })));
    expect(await codeOf(dra.createResourceSlice({ body: many as never }))).toBe(422);
  });

  it('serves the claim status subresource: allocation and reservedFor, networkData for allocated devices only, in CIDR form', async () => {
    await dra.createNamespacedResourceClaim({ namespace: 'default', body: claim as never });
    const allocation = { devices: { results: [{ request: 'nics', driver: 'multinic.fms.io', pool: 'host-a', device: 'eth1' }, { request: 'nics', driver: 'multinic.fms.io', pool: 'host-a', device: 'eth2' }] } };
    const withAlloc = await dra.patchNamespacedResourceClaimStatus({ name: 'c1', namespace: 'default', body: { status: { allocation, reservedFor: [{ resource: 'pods', name: 'p', uid: 'u1' }] } } }, mergeOpts());
    expect(withAlloc.status?.allocation?.devices?.results?.map((r) => r.device)).toEqual(['eth1', 'eth2']);
    // status on the main resource is ignored, as kube does with a status subresource.
    const main = await dra.patchNamespacedResourceClaim({ name: 'c1', namespace: 'default', body: { status: { reservedFor: [] } } }, mergeOpts());
    expect(main.status?.reservedFor?.length).toBe(1);
    const devices = [{ driver: 'multinic.fms.io', pool: 'host-a', device: 'eth1', networkData: { interfaceName: 'net1-0', ips: ['192.168.0.5/18'], hardwareAddress: '02:00:00:00:00:01' } }];
    const ok = await dra.patchNamespacedResourceClaimStatus({ name: 'c1', namespace: 'default', body: { status: { devices } } }, mergeOpts());
    expect(ok.status?.devices?.[0]?.networkData?.ips).toEqual(['192.168.0.5/18']);
    const notAllocated = await statusOf(dra.patchNamespacedResourceClaimStatus({ name: 'c1', namespace: 'default', body: { status: { devices: [{ driver: 'multinic.fms.io', pool: 'host-a', device: 'eth9' }] } } }, mergeOpts()));
    expect(notAllocated.message).toContain('"multinic.fms.io/host-a/eth9": must be an allocated device in the claim');
    const bare = await statusOf(dra.patchNamespacedResourceClaimStatus({ name: 'c1', namespace: 'default', body: { status: { devices: [{ ...devices[0], networkData: { ips: ['192.168.0.5'] } }] } } }, mergeOpts()));
    expect(bare.message).toContain('must be a valid address in CIDR form');
  });

  it('keeps a claim spec immutable and lists claims across namespaces', async () => {
    await dra.createNamespacedResourceClaim({ namespace: 'default', body: claim as never });
    const changed = structuredClone(claim);
    changed.spec.devices.requests[0]!.exactly.count = 3;
    expect((await statusOf(dra.patchNamespacedResourceClaim({ name: 'c1', namespace: 'default', body: { spec: changed.spec } }, mergeOpts()))).message).toContain('spec: Invalid value: field is immutable');
    const all = await dra.listResourceClaimForAllNamespaces();
    expect(all.items.map((c) => `${c.metadata?.namespace}/${c.metadata?.name}`)).toEqual(['default/c1']);
  });

  it('stores DeviceClasses and ResourceClaimTemplates, and GCs a node\'s slices with the Node (owner reference)', async () => {
    const dc = await dra.createDeviceClass({ body: { metadata: { name: 'multinic-net-a' }, spec: { selectors: [{ cel: { expression: 'device.driver == "multinic.fms.io"' } }] } } });
    expect(dc.spec?.selectors?.[0]?.cel?.expression).toContain('multinic.fms.io');
    const tpl = await dra.createNamespacedResourceClaimTemplate({ namespace: 'default', body: { metadata: { name: 't' }, spec: { spec: claim.spec as never } } });
    expect(tpl.spec.spec.devices?.requests?.[0]?.exactly?.count).toBe(2);
    const core = kc.makeApiClient(CoreV1Api);
    const node = await core.createNode({ body: { metadata: { name: 'host-a' } } });
    const owned = slice('a-nics', 'host-a', 'multinic.fms.io') as { metadata: Record<string, unknown> };
    owned.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name: 'host-a', uid: node.metadata?.uid, controller: true }];
    await dra.createResourceSlice({ body: owned as never });
    await core.deleteNode({ name: 'host-a' });
    await eventually(async () => expect(await codeOf(dra.readResourceSlice({ name: 'a-nics' }))).toBe(404));
  });
});

const mergeOpts = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
