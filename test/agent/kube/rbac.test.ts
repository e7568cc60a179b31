// The agent's RBAC against what it really sends: the real agent (--kube, real IPAM journal, socket,
// leader and node loops) talks to the API stand-in through an HTTP proxy that turns every request
// into the attributes kube-apiserver authorizes (verb, API group, resource, subresource, namespace:
// k8s.io/apiserver's RequestInfoFactory), while the agent publishes its node, plans and mirrors a
// network, generates its NADs (one colliding with a user's), allocates and releases through the
// socket, restores an edited NAD, removes NADs of a dropped namespace, cleans up after a departed
// node, and after the network is deleted. Every request must be allowed by the ClusterRole and leader-election Role
// install renders; every verb they grant must be one the agent sent, or one listed here with the
// code path that needs it (paths this run cannot reach cheaply).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type AgentHandle } from '../../../src/agent/main.js';
import { writeKubeconfig } from '../../../src/lab/apiserver/index.js';
import { connect } from '../../../src/kube/client.js';
import { AGENT_CLUSTER_RULES, AGENT_NAMESPACE_RULES, type PolicyRule } from '../../../src/lib/install/render.js';
import { FakeHostNetwork } from '../../fakes/hostnet.js';
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

describe('agent RBAC: every request it sends is granted, every grant is used', () => {
  let c: TestCluster;
  let dir: string;
  let agent: AgentHandle | undefined;
  let proxy: Server;
  const seen: RequestAttrs[] = [];

  beforeAll(async () => {
    c = await testCluster();
    createNode(c, 'n1');
    const target = new URL(c.server.url);
    proxy = createServer((req, res) => {
      seen.push(requestAttrs(req.method ?? 'GET', req.url ?? '/'));
      const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    dir = mkdtempSync(join(tmpdir(), 'op-rbac-'));
    const kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
    writeFileSync(join(dir, 'rt_tables'), '254\tmain\n');
    agent = await runAgent({
      nodeName: 'n1',
      socketPath: join(dir, 'a.sock'),
      dataDir: join(dir, 'data'),
      rtTablesPath: join(dir, 'rt_tables'),
      cniBinDirs: [join(dir, 'bin')],
      hostNet: new FakeHostNetwork(),
      discover: async () => hostNics(0).map((n, i) => ({ ...n, ifindex: 10 + i })),
      watch: false,
      kube: { api: await connect({ kubeconfig, requestTimeout: '5s' }), namespace: AGENT_NS, tuning: { nodeResyncMs: 300, leaseDurationSeconds: 2, leaseRetryMs: 100, informerBackoffMs: { initial: 20, max: 200 } } },
      log: () => undefined,
    });
  }, 30_000);

  afterAll(async () => {
    await agent?.stop();
    await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
    proxy?.closeAllConnections();
    await c?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
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
    const sock = agent!.socketPath;
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

    const denied = seen.filter((a) => {
      if (a.path !== undefined) return !(a.verb === 'get' && PUBLIC_PATHS.some((p) => p.test(a.path!)));
      return !allows(AGENT_CLUSTER_RULES, a) && !(a.namespace === AGENT_NS && allows(AGENT_NAMESPACE_RULES, a));
    });
    expect([...new Set(denied.map((a) => JSON.stringify(a)))]).toEqual([]);

    const used = new Set(seen.filter((a) => a.path === undefined).map((a) => `${a.group} ${a.resource} ${a.verb}`));
    const unused: string[] = [];
    for (const r of [...AGENT_CLUSTER_RULES, ...AGENT_NAMESPACE_RULES]) {
      for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) {
        const k = `${g} ${res} ${v}`;
        if (!used.has(k) && !GRANTED_UNSEEN[k]) unused.push(k);
      }
    }
    expect(unused).toEqual([]);
    // The exceptions are still granted (a stale entry would hide a verb that was dropped).
    const granted = (k: string) => [...AGENT_CLUSTER_RULES, ...AGENT_NAMESPACE_RULES].some((r) => r.apiGroups.some((g) => r.resources.some((res) => r.verbs.some((v) => `${g} ${res} ${v}` === k))));
    expect(Object.keys(GRANTED_UNSEEN).filter((k) => !granted(k))).toEqual([]);
  }, 90_000);
});
