// The DRA flow through the agent's parts on the real stand-in, with the kubelet's calls made by a
// real gRPC client: Prepare → agent restart (everything rebuilt from the data dir) → CNI ADD gets
// exactly the claimed NICs → the claim's status.devices carry networkData and Ready/NetworkReady →
// another restart → DEL clears them → DEL and Unprepare again are no-ops. Pods without claims are
// untouched by all of it. (The lab e2e with real netns is not part of this file.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type * as GrpcJs from '@grpc/grpc-js';
import { AgentCore } from '../../../src/agent/core.js';
import { loadProtos, startDraPlugin, type DraPlugin } from '../../../src/agent/dra/plugin.js';
import { PreparedClaims } from '../../../src/agent/dra/prepared.js';
import { ClaimStatusWriter } from '../../../src/agent/dra/status.js';
import type { DiscoveredNic } from '../../../src/lib/agent/discovery.js';
import type { ResourceClaim } from '../../../src/lib/dra/types.js';
import { FakeIpam } from '../../fakes/ipam.js';
import { StaticState, testCidr, testNetwork } from '../helpers/network.js';
import { testCluster, type TestCluster } from '../kube/helpers.js';

const nic = (name: string, net: number): DiscoveredNic => ({ ifindex: 0, interfaceName: name, netAddress: `10.0.${net}.0/24`, hostIP: `10.0.${net}.1`, numaNode: -1, speed: 0, mtu: 1500, state: 'up' });
const NICS = [nic('eth1', 1), nic('eth2', 2), nic('eth3', 3)];
const MACS: Record<string, string> = { 'net1-0': '02:00:00:00:00:10', 'net1-1': '02:00:00:00:00:11' };

let c: TestCluster;
let dir: string;
let plugin: DraPlugin | undefined;
const ipam = new FakeIpam(); // the journal's role: survives the "restart" below

beforeEach(async () => {
  c = await testCluster();
  dir = mkdtempSync(join(tmpdir(), 'r1-draflow-'));
});
afterEach(async () => {
  await plugin?.stop();
  await c.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One agent process's DRA parts and core, built from the data dir as runAgent does. */
async function agentProcess() {
  await plugin?.stop();
  const prepared = await PreparedClaims.open(join(dir, 'dra-prepared.json'));
  plugin = await startDraPlugin({ api: c.api, nodeName: 'h1', kubeletDir: join(dir, 'kubelet'), prepared, nicOf: (d) => NICS.find((n) => n.interfaceName === d)?.interfaceName });
  const status = new ClaimStatusWriter({ api: c.api, claimsOf: (uid) => prepared.forPod(uid), readMacs: async () => MACS, macWaitMs: 0 });
  const pending: Promise<void>[] = [];
  const state = new StaticState([{ network: testNetwork({ plugin: 'ipvlan' }), cidr: testCidr(['h1'], 'mnet', [1, 2, 3].map((n) => ({ dev: `eth${n}`, net: n }))) }]);
  const core = new AgentCore({
    hostName: 'h1', state, ipam, nics: () => NICS,
    claimedNics: (uid) => prepared.forPod(uid).flatMap((x) => x.nics.map((n) => ({ interfaceName: n.interfaceName, claim: `${x.namespace}/${x.name}` }))),
    claimStatus: { attached: (uid, ns, nics) => void pending.push(status.attached(uid, ns, nics)), released: (uid) => void pending.push(status.released(uid)) },
  });
  return { core, prepared, settle: () => Promise.all(pending) };
}

async function kubeletClient(p: DraPlugin) {
  const { grpc, draPackage } = await loadProtos();
  const apis = ((((draPackage.k8s as GrpcJs.GrpcObject).io as GrpcJs.GrpcObject).kubelet as GrpcJs.GrpcObject).pkg as GrpcJs.GrpcObject).apis as GrpcJs.GrpcObject;
  const Dra = ((apis.dra as GrpcJs.GrpcObject).v1 as GrpcJs.GrpcObject).DRAPlugin as GrpcJs.ServiceClientConstructor;
  const client = new Dra(`unix://${p.draSocket}`, grpc.credentials.createInsecure());
  const call = (method: string, claims: unknown[]) => new Promise<{ claims: Record<string, { error: string }> }>((resolve, reject) => (client as unknown as Record<string, (r: unknown, cb: (e: Error | null, r: unknown) => void) => void>)[method]?.call(client, { claims }, (e, r) => (e ? reject(e) : resolve(r as never))));
  return { prepare: (claims: unknown[]) => call('NodePrepareResources', claims), unprepare: (claims: unknown[]) => call('NodeUnprepareResources', claims), close: () => client.close() };
}

const claimNow = () => c.server.store.get('resource.k8s.io/v1', 'ResourceClaim', 'p1-nics', 'default') as unknown as ResourceClaim;

describe('DRA flow: Prepare, restart, ADD, claim status, DEL, Unprepare', () => {
  it('loses nothing across restarts and cleans up idempotently', async () => {
    const created = c.server.store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'p1-nics', namespace: 'default' }, spec: { devices: { requests: [{ name: 'nics', exactly: { deviceClassName: 'mnet.multinic.fms.io', count: 2 } }] } } });
    c.server.store.updateStatus({ ...created, status: {
      allocation: { devices: { results: [{ request: 'nics', driver: 'multinic.fms.io', pool: 'h1', device: 'eth3' }, { request: 'gpu', driver: 'gpu.example.com', pool: 'h1', device: 'gpu-0' }, { request: 'nics', driver: 'multinic.fms.io', pool: 'h1', device: 'eth2' }] } },
      reservedFor: [{ resource: 'pods', name: 'p1', uid: 'uid-p1' }],
      devices: [{ driver: 'gpu.example.com', pool: 'h1', device: 'gpu-0', conditions: [] }],
    } });
    const ref = { namespace: 'default', name: 'p1-nics', uid: created.metadata?.uid ?? '' };

    await agentProcess();
    let k = await kubeletClient(plugin as DraPlugin);
    expect((await k.prepare([ref])).claims[ref.uid]?.error).toBe('');
    k.close();

    // Agent restart between Prepare and ADD.
    let a = await agentProcess();
    const pod = { namespace: 'default', name: 'p1', uid: 'uid-p1', containerID: 'ctr1', ifName: 'net1', netns: '/var/run/netns/p1' };
    const res = await a.core.allocate({ apiVersion: 'v1', network: 'mnet', pod, args: { nics: 1 } });
    expect(res.nics.map((n) => `${n.podInterface}=${n.master} ${n.address}`)).toEqual(['net1-0=eth3 192.168.128.1/18', 'net1-1=eth2 192.168.64.1/18']);
    // An annotation pod on the same network keeps its policy (nics: 1 → the first NIC).
    const annot = await a.core.allocate({ apiVersion: 'v1', network: 'mnet', pod: { ...pod, name: 'q', uid: 'uid-q', containerID: 'ctr2' }, args: { nics: 1 } });
    expect(annot.nics.map((n) => n.master)).toEqual(['eth1']);
    await a.settle();
    const st = claimNow().status?.devices ?? [];
    expect(st.map((d) => `${d.driver}/${d.device}`)).toEqual(['gpu.example.com/gpu-0', 'multinic.fms.io/eth3', 'multinic.fms.io/eth2']);
    expect(st[1]?.networkData).toEqual({ interfaceName: 'net1-0', ips: ['192.168.128.1/18'], hardwareAddress: '02:00:00:00:00:10' });
    expect(st[2]?.networkData).toEqual({ interfaceName: 'net1-1', ips: ['192.168.64.1/18'], hardwareAddress: '02:00:00:00:00:11' });
    expect(st[1]?.conditions?.map((x) => `${x.type}=${x.status}`)).toEqual(['Ready=True', 'NetworkReady=True']);

    // Restart between ADD and DEL: DEL still finds the claim and clears only our entries.
    a = await agentProcess();
    expect((await a.core.release({ apiVersion: 'v1', network: 'mnet', pod })).released).toBe(2);
    await a.settle();
    expect((claimNow().status?.devices ?? []).map((d) => d.driver)).toEqual(['gpu.example.com']);
    const rv = claimNow().metadata.resourceVersion;
    expect((await a.core.release({ apiVersion: 'v1', network: 'mnet', pod })).released).toBe(0);
    await a.settle();
    expect(claimNow().metadata.resourceVersion).toBe(rv);

    k = await kubeletClient(plugin as DraPlugin);
    expect(await k.unprepare([ref])).toEqual({ claims: { [ref.uid]: { error: '' } } });
    expect(await k.unprepare([ref])).toEqual({ claims: { [ref.uid]: { error: '' } } });
    expect(a.prepared.all()).toEqual([]);
    k.close();
  });
});
