// The agent's RBAC against what it really sends: the real agent (--kube, real IPAM journal, socket,
// leader and node loops) talks to the API stand-in through an HTTP proxy that turns every request
// into the attributes kube-apiserver authorizes (verb, API group, resource, subresource, namespace:
// k8s.io/apiserver's RequestInfoFactory), while the agent publishes its node, plans and mirrors a
// network, generates its NADs (one colliding with a user's), allocates and releases through the
// socket, restores an edited NAD, removes NADs of a dropped namespace, cleans up after a departed
// node, and after the network is deleted. Every request must be allowed by the ClusterRole and leader-election Role
// install renders; every verb they grant must be one the agent sent, or one listed here with the
// code path that needs it (paths this run cannot reach cheaply). The second case runs the agent with
// --dra against install --dra's ClusterRole and drives what a cluster does: the ResourceSlice
// published and replaced on a NIC change, a claim allocated to our driver (the scheduler's write),
// NodePrepareResources over the plugin socket (the kubelet's call), the CNI ADD and DEL that write and
// clear the claim's device status, NodeUnprepareResources; every DRA grant must be used.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as GrpcJs from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKubeconfig } from '../../../src/lab/apiserver/index.js';
import { connect } from '../../../src/kube/client.js';
import { loadProtos, pluginSockets } from '../../../src/agent/dra/plugin.js';
import { sliceName } from '../../../src/lib/dra/slices.js';
import { DRIVER, type ResourceClaim, type ResourceSlice } from '../../../src/lib/dra/types.js';
import { AGENT_CLUSTER_RULES, AGENT_DRA_RULES, AGENT_NAMESPACE_RULES, renderInstall, type PolicyRule } from '../../../src/lib/install/render.js';
import { startKubeAgent, type KubeModeAgent } from '../../helpers/kube-agent.js';
import { call } from '../helpers/http.js';
import { AGENT_NS, R, createNetwork, createNode, eventually, hostNics, seedNetwork, testCluster, type TestCluster } from './helpers.js';

interface RequestAttrs {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  /** Set for a non-resource path (discovery, /version). */
  path?: string;
}

/** kube-apiserver's request attributes of a method and URL (RequestInfoFactory, without proxy/exec paths). */
function requestAttrs(method: string, url: string): RequestAttrs {
  const u = new URL(url, 'http://x');
  const parts = u.pathname.split('/').filter(Boolean);
  let rest: string[];
  let group: string;
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]!;
    rest = parts.slice(3);
  } else return { verb: method.toLowerCase(), group: '', resource: '', path: u.pathname };
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [res, name, sub] = rest;
  const watch = u.searchParams.get('watch') === 'true' || u.searchParams.get('watch') === '1';
  const verb = { GET: name ? 'get' : watch ? 'watch' : 'list', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: name ? 'delete' : 'deletecollection' }[method] ?? method.toLowerCase();
  return { verb, group, resource: sub ? `${res}/${sub}` : res!, ...(namespace ? { namespace } : {}) };
}

const allows = (rules: readonly PolicyRule[], a: RequestAttrs): boolean =>
  rules.some((r) => r.apiGroups.includes(a.group) && r.resources.includes(a.resource) && r.verbs.includes(a.verb) && !r.resourceNames);

/** What every authenticated user may read (the system:discovery and system:public-info-viewer roles). */
const PUBLIC_PATHS = [/^\/api$/, /^\/apis$/, /^\/api\/v1$/, /^\/apis\/[^/]+(\/[^/]+)?$/, /^\/version$/, /^\/openapi\//, /^\/healthz$/, /^\/livez$/, /^\/readyz$/];

/**
 * Granted calls this run does not make, each with the code that makes it. Kept short on purpose: a
 * verb appears here only when reaching its path needs more than one agent's life on one node.
 */
const GRANTED_UNSEEN: Record<string, string> = {
  'multinic.fms.io cidrs get': 'src/agent/kube/agent.ts createCidr: another agent created the network\'s CIDR first (AlreadyExists)',
  'multinic.fms.io cidrclaims get': 'src/agent/kube/claim-objects.ts: another host created the claim first (AlreadyExists)',
  'multinic.fms.io cidrclaims update': 'src/agent/kube/claim-objects.ts: our NIC\'s address or name changed, our own claim is rewritten',
  ' pods get': 'src/agent/kube/gc.ts: CNI GC confirms a pod is gone before it takes its addresses',
};

/** An HTTP proxy in front of the stand-in that records every request's attributes in `seen`. */
async function startProxy(targetUrl: string, seen: RequestAttrs[]): Promise<Server> {
  const target = new URL(targetUrl);
  const proxy = createServer((req, res) => {
    seen.push(requestAttrs(req.method ?? 'GET', req.url ?? '/'));
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  return proxy;
}

/** The agent's client (a kubeconfig in its directory) through the proxy. */
const viaProxy = (proxy: Server) => async (dir: string) => {
  const kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
  return connect({ kubeconfig, requestTimeout: '5s' });
};

async function closeProxy(proxy: Server | undefined): Promise<void> {
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  proxy?.closeAllConnections();
}

const grants = (rules: readonly PolicyRule[]): string[] => rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g} ${res} ${v}`))));

/**
 * What the run's requests say about the roles: requests neither role (ClusterRole `cluster`, the
 * leader-election Role in the agent's namespace) allows; grants of `mustUse` never sent and not
 * excused in `unseen`; and `unseen` entries no longer granted (a stale one would hide a dropped verb).
 */
function verdict(seen: readonly RequestAttrs[], cluster: readonly PolicyRule[], mustUse: readonly PolicyRule[], unseen: Record<string, string>): { denied: string[]; unused: string[]; stale: string[] } {
  const denied = seen.filter((a) => {
    if (a.path !== undefined) return !(a.verb === 'get' && PUBLIC_PATHS.some((p) => p.test(a.path!)));
    return !allows(cluster, a) && !(a.namespace === AGENT_NS && allows(AGENT_NAMESPACE_RULES, a));
  });
  const used = new Set(seen.filter((a) => a.path === undefined).map((a) => `${a.group} ${a.resource} ${a.verb}`));
  const all = new Set(grants(mustUse));
  return {
    denied: [...new Set(denied.map((a) => JSON.stringify(a)))],
    unused: [...all].filter((k) => !used.has(k) && !unseen[k]),
    stale: Object.keys(unseen).filter((k) => !all.has(k)),
  };
}

describe('agent RBAC: every request it sends is granted, every grant is used', () => {
  let c: TestCluster;
  let agent: KubeModeAgent | undefined;
  let proxy: Server;
  const seen: RequestAttrs[] = [];

  beforeAll(async () => {
    c = await testCluster();
    createNode(c, 'n1');
    proxy = await startProxy(c.server.url, seen);
    agent = await startKubeAgent({
      prefix: 'op-rbac-',
      api: viaProxy(proxy),
      nodeResyncMs: 300,
      agent: { discover: async () => hostNics(0).map((n, i) => ({ ...n, ifindex: 10 + i })) },
    });
  }, 30_000);

  afterAll(async () => {
    await agent?.stop();
    await closeProxy(proxy);
    await c?.close();
  });

  it('parses request attributes as kube-apiserver does', () => {
    expect(requestAttrs('GET', '/apis/multinic.fms.io/v1/ippools?watch=true&resourceVersion=3')).toEqual({ verb: 'watch', group: 'multinic.fms.io', resource: 'ippools' });
    expect(requestAttrs('PATCH', '/apis/multinic.fms.io/v1/hostinterfaces/n1/status')).toEqual({ verb: 'patch', group: 'multinic.fms.io', resource: 'hostinterfaces/status' });
    expect(requestAttrs('PUT', '/apis/coordination.k8s.io/v1/namespaces/ns/leases/l')).toEqual({ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'ns' });
    expect(requestAttrs('GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1')).toEqual({ verb: 'list', group: '', resource: 'pods' });
    expect(requestAttrs('DELETE', '/api/v1/namespaces/a/events')).toEqual({ verb: 'deletecollection', group: '', resource: 'events', namespace: 'a' });
    expect(requestAttrs('GET', '/version').path).toBe('/version');
  });

  it('a whole life (publish, plan, NADs, allocate, mirror, release, a NAD edited, namespaces narrowed, a node gone, network deleted) stays within the rendered rules', async () => {
    const sock = agent!.handle.socketPath;
    // Another host that published its NICs, then leaves the cluster (the leader cleans up after it).
    createNode(c, 'n2');
    c.server.store.create({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: 'n2' }, spec: { hostName: 'n2', interfaces: hostNics(1) } } as never);
    // A NAD of the network's name that a user made: the leader's create gets 409 and records an Event.
    c.server.store.create({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'multi-nic-sample', namespace: 'kube-public' }, spec: { config: '{}' } } as never);
    createNetwork(c, seedNetwork());
    await eventually(async () => {
      expect((await c.api.list(R.IPPool)).items.length).toBe(2);
      expect((await c.api.list(R.NetworkAttachmentDefinition, { namespace: 'default' })).items.length).toBe(1);
    }, 20_000);
    // n2's agent claims its index by creating its CIDRClaims and makes its pools (written here as that agent would).
    const mine = (await c.api.list(R.CIDRClaim)).items as unknown as Array<{ metadata: { name: string; labels: Record<string, string>; ownerReferences: unknown[] }; spec: Record<string, unknown> & { hostIndex?: number; hostName?: string; ippool?: string; network: string; interfaceIndex: number } }>;
    for (const cl of mine.filter((x) => x.spec.hostName === 'n1')) {
      const hostIndex = cl.spec.hostIndex! + 1;
      c.server.store.create({ apiVersion: 'multinic.fms.io/v1', kind: 'CIDRClaim', metadata: { name: `${cl.spec.network}.i${cl.spec.interfaceIndex}.h${hostIndex}`, labels: { ...cl.metadata.labels, 'multinic.fms.io/host': 'n2' }, ownerReferences: cl.metadata.ownerReferences }, spec: { ...cl.spec, hostIndex, hostName: 'n2', ippool: `${cl.spec.ippool}-n2` } } as never);
    }
    for (const p of (await c.api.list(R.IPPool)).items) {
      c.server.store.create({ ...structuredClone(p), metadata: { name: `${p.metadata!.name!}-n2`, labels: { ...p.metadata!.labels, hostname: 'n2' } }, spec: { ...(p.spec as object), hostName: 'n2', allocations: [] } } as never);
    }
    const pod = c.server.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'default' }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }] } } as never);
    const who = { namespace: 'default', name: 'p1', uid: pod.metadata!.uid!, containerID: 'c1', ifName: 'net1' };
    await eventually(async () => expect((await call(sock, 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'multi-nic-sample', pod: who })).status).toBe(200), 10_000);
    const allocations = async () => (await c.api.list(R.IPPool)).items.filter((p) => (p.spec as { hostName: string }).hostName === 'n1').map((p) => ((p.spec as { allocations?: unknown[] }).allocations ?? []).length);
    // Mirrored to the IPPools (spec replace, usage in status).
    await eventually(async () => expect(await allocations()).toEqual([1, 1]), 10_000);
    expect((await call(sock, 'POST', '/v1/release', { apiVersion: 'v1', network: 'multi-nic-sample', pod: who })).status).toBe(200);
    await eventually(async () => expect(await allocations()).toEqual([0, 0]), 10_000);
    // Someone edits a generated NAD: the leader puts it back.
    const nad = (await c.api.get(R.NetworkAttachmentDefinition, 'multi-nic-sample', 'default'))!;
    const config = (nad.spec as { config: string }).config;
    await c.api.replace(R.NetworkAttachmentDefinition, { ...nad, spec: { config: '{}' } });
    await eventually(async () => expect(((await c.api.get(R.NetworkAttachmentDefinition, 'multi-nic-sample', 'default'))!.spec as { config: string }).config).toBe(config), 10_000);
    // The network narrows to one namespace: the NADs elsewhere go.
    const net = (await c.api.get(R.MultiNicNetwork, 'multi-nic-sample'))!;
    await c.api.replace(R.MultiNicNetwork, { ...net, spec: { ...(net.spec as object), namespaces: ['default'] } });
    await eventually(async () => expect((await c.api.list(R.NetworkAttachmentDefinition, { labelSelector: 'multi-nic-cni-generated=true' })).items.map((n) => n.metadata?.namespace)).toEqual(['default']), 10_000);
    // n2 leaves: the leader confirms with a GET, frees its index and deletes its HostInterface.
    c.server.store.delete('v1', 'Node', 'n2');
    await eventually(async () => {
      expect(await c.api.get(R.HostInterface, 'n2')).toBeUndefined();
      expect((await c.api.list(R.IPPool)).items.map((p) => (p.spec as { hostName: string }).hostName)).toEqual(['n1', 'n1']);
    }, 15_000);
    // The network goes: its NADs, CIDR and pools go with it (owner references).
    c.server.store.delete('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample');
    await eventually(async () => {
      expect((await c.api.list(R.NetworkAttachmentDefinition, { namespace: 'default' })).items).toEqual([]);
      expect((await c.api.list(R.IPPool)).items).toEqual([]);
    }, 20_000);
    await agent!.stop();
    agent = undefined;

    const v = verdict(seen, AGENT_CLUSTER_RULES, [...AGENT_CLUSTER_RULES, ...AGENT_NAMESPACE_RULES], GRANTED_UNSEEN);
    expect(v.denied).toEqual([]);
    expect(v.unused).toEqual([]);
    // The exceptions are still granted (a stale entry would hide a verb that was dropped).
    expect(v.stale).toEqual([]);
  }, 90_000);
});

/** DRA grants this run does not use, each with the code that needs it (none: every DRA path is driven below). */
const DRA_GRANTED_UNSEEN: Record<string, string> = {};

describe('agent --dra RBAC: install --dra\'s ClusterRole covers the DRA paths, and every DRA grant is used', () => {
  let c: TestCluster;
  let agent: KubeModeAgent | undefined;
  let proxy: Server | undefined;
  let dir: string;
  const seen: RequestAttrs[] = [];
  let nics = hostNics(0).map((n, i) => ({ ...n, ifindex: 10 + i }));

  beforeAll(async () => {
    c = await testCluster();
    createNode(c, 'n1');
    dir = mkdtempSync(join(tmpdir(), 'op-rbacdra-'));
    proxy = await startProxy(c.server.url, seen);
    agent = await startKubeAgent({
      prefix: 'op-rbacdra-',
      api: viaProxy(proxy),
      nodeResyncMs: 300,
      // No pod netns is read (the claim status carries no MAC): the fake host has none.
      agent: { discover: async () => nics, dra: { kubeletDir: join(dir, 'kubelet') }, sysfsRoot: join(dir, 'sys'), podNetnsAccess: false },
    });
  }, 30_000);

  afterAll(async () => {
    await agent?.stop();
    await closeProxy(proxy);
    await c?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('slice published and updated, a claim prepared, its status written by ADD and cleared by DEL, unprepared: all within the rendered rules', async () => {
    const sock = agent!.handle.socketPath;
    const slice = async () => (await c.api.get<ResourceSlice>(R.ResourceSlice, sliceName('n1')));
    createNetwork(c, seedNetwork());
    await eventually(async () => {
      expect((await c.api.list(R.IPPool)).items.length).toBe(2);
      expect((await slice())?.spec.devices?.map((d) => d.name)).toEqual(['eth1', 'eth2']);
    }, 20_000);
    // A NIC change (eth2's MTU): the node round replaces the slice with the next generation.
    const gen = (await slice())!.spec.pool.generation;
    nics = nics.map((n) => (n.interfaceName === 'eth2' ? { ...n, mtu: 1500 } : n));
    expect(await agent!.handle.rescan()).toBe(true);
    await eventually(async () => expect((await slice())!.spec.pool.generation).toBe(gen + 1), 10_000);

    // The scheduler's part: a claim allocated on n1 to our driver (eth2, then eth1), reserved for pod p1.
    const pod = c.server.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'default' }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }] } } as never);
    const uid = pod.metadata!.uid!;
    const claim = c.server.store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'p1-nics', namespace: 'default' }, spec: { devices: { requests: [{ name: 'nics', exactly: { deviceClassName: 'multi-nic-sample.multinic.fms.io', count: 2 } }] } } });
    c.server.store.updateStatus({ ...claim, status: {
      allocation: { devices: { results: ['eth2', 'eth1'].map((d) => ({ request: 'nics', driver: DRIVER, pool: 'n1', device: d })) } },
      reservedFor: [{ resource: 'pods', name: 'p1', uid }],
    } });
    const ref = { namespace: 'default', name: 'p1-nics', uid: claim.metadata?.uid ?? '' };
    const claimNow = () => c.server.store.get('resource.k8s.io/v1', 'ResourceClaim', 'p1-nics', 'default') as unknown as ResourceClaim;

    // The kubelet's part: NodePrepareResources over the plugin socket (the agent gets the claim).
    const { grpc, draPackage } = await loadProtos();
    const apis = ((((draPackage.k8s as GrpcJs.GrpcObject).io as GrpcJs.GrpcObject).kubelet as GrpcJs.GrpcObject).pkg as GrpcJs.GrpcObject).apis as GrpcJs.GrpcObject;
    const Dra = ((apis.dra as GrpcJs.GrpcObject).v1 as GrpcJs.GrpcObject).DRAPlugin as GrpcJs.ServiceClientConstructor;
    const kubelet = new Dra(`unix://${pluginSockets(join(dir, 'kubelet'), DRIVER).draSocket}`, grpc.credentials.createInsecure());
    const rpc = (method: string) => new Promise<{ claims: Record<string, { error: string }> }>((resolve, reject) => (kubelet as unknown as Record<string, (r: unknown, cb: (e: Error | null, r: unknown) => void) => void>)[method]?.call(kubelet, { claims: [ref] }, (e, r) => (e ? reject(e) : resolve(r as never))));
    try {
      expect((await rpc('NodePrepareResources')).claims[ref.uid]?.error).toBe('');
      // The CNI ADD for the pod through the agent socket: exactly the claimed NICs, then the claim's status.
      const who = { namespace: 'default', name: 'p1', uid, containerID: 'c1', ifName: 'net1' };
      const add = await call(sock, 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'multi-nic-sample', pod: who });
      expect(add.status).toBe(200);
      expect((add.body as { nics: Array<{ master: string }> }).nics.map((n) => n.master)).toEqual(['eth2', 'eth1']);
      await eventually(async () => expect((claimNow().status?.devices ?? []).map((d) => `${d.driver}/${d.device} ${d.networkData?.interfaceName}`)).toEqual([`${DRIVER}/eth2 net1-0`, `${DRIVER}/eth1 net1-1`]), 10_000);
      // The CNI DEL clears them.
      expect((await call(sock, 'POST', '/v1/release', { apiVersion: 'v1', network: 'multi-nic-sample', pod: who })).status).toBe(200);
      await eventually(async () => expect(claimNow().status?.devices ?? []).toEqual([]), 10_000);
      expect(await rpc('NodeUnprepareResources')).toEqual({ claims: { [ref.uid]: { error: '' } } });
    } finally {
      kubelet.close();
    }
    await agent!.stop();
    agent = undefined;

    const clusterRole = renderInstall({ version: '0.0.0', dra: true }).find((o) => o.kind === 'ClusterRole') as unknown as { rules: PolicyRule[] };
    const v = verdict(seen, clusterRole.rules, AGENT_DRA_RULES, DRA_GRANTED_UNSEEN);
    expect(v.denied).toEqual([]);
    expect(v.unused).toEqual([]);
    expect(v.stale).toEqual([]);
  }, 60_000);
});
