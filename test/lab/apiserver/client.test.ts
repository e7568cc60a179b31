// The stand-in driven through @kubernetes/client-node 1.x, as the agent and the commands drive a
// real cluster: every assertion is about Kubernetes behaviour a client relies on.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  makeInformer,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import type { ApiServer } from '../../../src/lab/apiserver/index.js';
import { NET, codeOf, eventually, installCrds, standIn, statusOf } from './helpers.js';

const G = { group: 'multinic.fms.io', version: 'v1' };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

let server: ApiServer;
let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;

beforeEach(async () => {
  ({ server, kc } = await standIn());
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
});
afterEach(async () => {
  await server.close();
});

describe('core CRUD', () => {
  it('creates, reads, lists, replaces and deletes a ConfigMap with server-set metadata', async () => {
    const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c1', labels: { app: 'x' } }, data: { a: '1' } } });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(created.metadata?.namespace).toBe('default');

    const read = await core.readNamespacedConfigMap({ name: 'c1', namespace: 'default' });
    expect(read.data).toEqual({ a: '1' });
    const list = await core.listNamespacedConfigMap({ namespace: 'default' });
    expect(list.items.map((c) => c.metadata?.name)).toEqual(['c1']);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThanOrEqual(Number(created.metadata?.resourceVersion));

    read.data = { a: '2' };
    const replaced = await core.replaceNamespacedConfigMap({ name: 'c1', namespace: 'default', body: read });
    expect(replaced.data).toEqual({ a: '2' });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));
    expect(replaced.metadata?.uid).toBe(created.metadata?.uid);

    await core.deleteNamespacedConfigMap({ name: 'c1', namespace: 'default' });
    expect(await codeOf(core.readNamespacedConfigMap({ name: 'c1', namespace: 'default' }))).toBe(404);
  });

  it('answers 409 AlreadyExists, 404 NotFound with Kubernetes Status bodies', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'dup' } } });
    const dup = await statusOf(core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'dup' } } }));
    expect(dup).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409, message: 'configmaps "dup" already exists', details: { name: 'dup', kind: 'configmaps' } });
    const missing = await statusOf(core.readNamespacedConfigMap({ name: 'nope', namespace: 'default' }));
    expect(missing).toMatchObject({ reason: 'NotFound', code: 404, message: 'configmaps "nope" not found' });
  });

  it('refuses objects in a missing namespace with 404 on the namespace', async () => {
    const s = await statusOf(core.createNamespacedConfigMap({ namespace: 'ghost', body: { metadata: { name: 'c' } } }));
    expect(s).toMatchObject({ code: 404, reason: 'NotFound', message: 'namespaces "ghost" not found', details: { name: 'ghost', kind: 'namespaces' } });
  });

  it('fills generateName and rejects invalid names with 422 Invalid', async () => {
    const c = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { generateName: 'gen-' } } });
    expect(c.metadata?.name).toMatch(/^gen-[a-z0-9]{5}$/);
    const bad = await statusOf(core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'Bad_Name' } } }));
    expect(bad.code).toBe(422);
    expect(bad.details?.causes?.[0]?.field).toBe('metadata.name');
    const withRv = await statusOf(core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'rv', resourceVersion: '5' } } }));
    expect(withRv).toMatchObject({ code: 400, message: 'resourceVersion should not be set on objects to be created' });
  });

  it('answers 409 Conflict to a PUT with a stale resourceVersion and accepts one without', async () => {
    const v1 = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'occ' }, data: { n: '0' } } });
    await core.replaceNamespacedConfigMap({ name: 'occ', namespace: 'default', body: { ...v1, data: { n: '1' } } });
    const stale = await statusOf(core.replaceNamespacedConfigMap({ name: 'occ', namespace: 'default', body: { ...v1, data: { n: '2' } } }));
    expect(stale).toMatchObject({ code: 409, reason: 'Conflict' });
    expect(stale.message).toContain('the object has been modified');
    expect((await core.readNamespacedConfigMap({ name: 'occ', namespace: 'default' })).data).toEqual({ n: '1' });
    const unconditional = await core.replaceNamespacedConfigMap({ name: 'occ', namespace: 'default', body: { metadata: { name: 'occ' }, data: { n: '3' } } });
    expect(unconditional.data).toEqual({ n: '3' });
  });

  it('does not bump resourceVersion for a no-op update', async () => {
    const v1 = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'same' }, data: { a: '1' } } });
    const v2 = await core.replaceNamespacedConfigMap({ name: 'same', namespace: 'default', body: v1 });
    expect(v2.metadata?.resourceVersion).toBe(v1.metadata?.resourceVersion);
  });
});

describe('server-side printing', () => {
  it('answers kubectl\'s Table request with Name, type columns and Age', async () => {
    await core.createNamespace({ body: { metadata: { name: 'tbl' } } });
    const res = await fetch(`${server.url}/api/v1/namespaces?labelSelector=kubernetes.io/metadata.name=tbl`, { headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } });
    const table = (await res.json()) as { kind: string; columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[]; object: { kind: string; metadata: { name: string } } }> };
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.map((c) => c.name)).toEqual(['Name', 'Status', 'Age']);
    expect(table.rows).toHaveLength(1);
    const row = table.rows[0];
    expect(row?.cells.slice(0, 2)).toEqual(['tbl', 'Active']);
    expect(row?.cells[2]).toMatch(/^\d+s$/);
    expect(row?.object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'tbl' } });
  });
});

describe('dry run and collections', () => {
  it('validates and answers a dryRun=All create without storing anything', async () => {
    const rv = server.store.resourceVersion;
    const dry = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'dry' } }, dryRun: 'All' });
    expect(dry.metadata?.name).toBe('dry');
    expect(await codeOf(core.readNamespacedConfigMap({ name: 'dry', namespace: 'default' }))).toBe(404);
    expect(server.store.resourceVersion).toBe(rv);
    expect(await codeOf(core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'Not Valid' } }, dryRun: 'All' }))).toBe(422);
  });

  it('deletes a selected collection', async () => {
    for (const [name, sel] of [['a', 'x'], ['b', 'x'], ['c', 'y']]) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name, labels: { sel: sel ?? '' } } } });
    await core.deleteCollectionNamespacedConfigMap({ namespace: 'default', labelSelector: 'sel=x' });
    expect((await core.listNamespacedConfigMap({ namespace: 'default' })).items.map((c) => c.metadata?.name)).toEqual(['c']);
  });
});

describe('patch', () => {
  it('applies merge, JSON and strategic merge patches', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'p', labels: { a: '1', b: '2' } }, data: { x: '1', y: '2' } } });
    const m = await core.patchNamespacedConfigMap({ name: 'p', namespace: 'default', body: { metadata: { labels: { b: null, c: '3' } }, data: { y: '9' } } }, merge);
    expect(m.metadata?.labels).toEqual({ a: '1', c: '3' });
    expect(m.data).toEqual({ x: '1', y: '9' });
    const j = await core.patchNamespacedConfigMap({ name: 'p', namespace: 'default', body: [{ op: 'remove', path: '/data/x' }, { op: 'add', path: '/data/z', value: '5' }] });
    expect(j.data).toEqual({ y: '9', z: '5' });
    const failed = await statusOf(core.patchNamespacedConfigMap({ name: 'p', namespace: 'default', body: [{ op: 'test', path: '/data/y', value: 'other' }, { op: 'add', path: '/data/w', value: '1' }] }));
    expect(failed.code).toBe(422);
    expect((await core.readNamespacedConfigMap({ name: 'p', namespace: 'default' })).data).toEqual({ y: '9', z: '5' });

    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'pod' }, spec: { containers: [{ name: 'a', image: 'a:1', env: [{ name: 'E', value: '1' }] }, { name: 'b', image: 'b:1' }] } } });
    const s = await core.patchNamespacedPod({ name: 'pod', namespace: 'default', body: { spec: { containers: [{ name: 'b', image: 'b:2' }] } } }, strategic);
    expect(s.spec?.containers.map((c) => [c.name, c.image])).toEqual([['a', 'a:1'], ['b', 'b:2']]);
    expect(s.spec?.containers[0]?.env).toEqual([{ name: 'E', value: '1' }]);
  });

  it('treats a resourceVersion inside a patch as a precondition', async () => {
    const v1 = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'pre' } } });
    await core.patchNamespacedConfigMap({ name: 'pre', namespace: 'default', body: { data: { a: '1' } } }, merge);
    const s = await statusOf(core.patchNamespacedConfigMap({ name: 'pre', namespace: 'default', body: { metadata: { resourceVersion: v1.metadata?.resourceVersion }, data: { a: '2' } } }, merge));
    expect(s.code).toBe(409);
  });

  it('server-side apply creates, then merges', async () => {
    const ssa = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
    const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa', namespace: 'default' }, data: { a: '1' } };
    await core.patchNamespacedConfigMap({ name: 'ssa', namespace: 'default', body, fieldManager: 't' }, ssa);
    const again = await core.patchNamespacedConfigMap({ name: 'ssa', namespace: 'default', body: { ...body, data: { b: '2' } }, fieldManager: 't' }, ssa);
    expect(again.data).toEqual({ a: '1', b: '2' });
  });
});

describe('custom resources', () => {
  beforeEach(() => installCrds(server));

  it('serves our CRDs through discovery and CRUD, with generation bumping on spec changes only', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const created = (await objects.create(structuredClone(NET))) as typeof NET & { metadata: { generation: number; resourceVersion: string } };
    expect(created.metadata.generation).toBe(1);
    const got = (await custom.getClusterCustomObject({ ...G, plural: 'multinicnetworks', name: 'net-a' })) as typeof created;
    expect(got.spec.subnet).toBe('192.168.0.0/16');
    const labelled = (await custom.patchClusterCustomObject({ ...G, plural: 'multinicnetworks', name: 'net-a', body: { metadata: { labels: { x: 'y' } } } }, merge)) as typeof created;
    expect(labelled.metadata.generation).toBe(1);
    const changed = (await custom.patchClusterCustomObject({ ...G, plural: 'multinicnetworks', name: 'net-a', body: { spec: { attachPolicy: { strategy: 'costOpt' } } } }, merge)) as typeof created;
    expect(changed.metadata.generation).toBe(2);
    const list = (await custom.listClusterCustomObject({ ...G, plural: 'multinicnetworks' })) as { items: unknown[] };
    expect(list.items).toHaveLength(1);
  });

  it('answers 422 Invalid with causes for a MultiNicNetwork that breaks the schema', async () => {
    const bad: { apiVersion: string; kind: string; metadata: object; spec: Record<string, unknown> } = structuredClone(NET);
    bad.spec.attachPolicy = { strategy: 'bogus' };
    delete bad.spec.plugin;
    const s = await statusOf(custom.createClusterCustomObject({ ...G, plural: 'multinicnetworks', body: bad }));
    expect(s).toMatchObject({ kind: 'Status', code: 422, reason: 'Invalid', details: { name: 'net-a', group: 'multinic.fms.io', kind: 'MultiNicNetwork' } });
    const fields = s.details?.causes?.map((c) => [c.field, c.reason]);
    expect(fields).toEqual(expect.arrayContaining([['spec.attachPolicy.strategy', 'FieldValueNotSupported'], ['spec.plugin', 'FieldValueRequired']]));
    expect(s.message).toContain('"bogus"');
    expect(await codeOf(custom.getClusterCustomObject({ ...G, plural: 'multinicnetworks', name: 'net-a' }))).toBe(404);
  });

  it('prunes unknown fields by default and rejects them with fieldValidation=Strict', async () => {
    const extra = structuredClone(NET) as typeof NET & { spec: Record<string, unknown> };
    extra.spec.bogusField = 1;
    const strict = await statusOf(custom.createClusterCustomObject({ ...G, plural: 'multinicnetworks', body: extra, fieldValidation: 'Strict' }));
    expect(strict.code).toBe(400);
    expect(strict.message).toContain('unknown field "spec.bogusField"');
    const pruned = (await custom.createClusterCustomObject({ ...G, plural: 'multinicnetworks', body: extra })) as { spec: Record<string, unknown> };
    expect(pruned.spec).not.toHaveProperty('bogusField');
  });

  it('isolates the status subresource from the main resource', async () => {
    await custom.createClusterCustomObject({ ...G, plural: 'multinicnetworks', body: { ...structuredClone(NET), status: { message: 'ignored on create' } } });
    const afterStatus = (await custom.patchClusterCustomObjectStatus({ ...G, plural: 'multinicnetworks', name: 'net-a', body: { status: { message: 'hello' }, spec: { subnet: '10.0.0.0/8' } } }, merge)) as { spec: { subnet: string }; status: { message: string }; metadata: { generation: number } };
    expect(afterStatus.status.message).toBe('hello');
    expect(afterStatus.spec.subnet).toBe('192.168.0.0/16');
    expect(afterStatus.metadata.generation).toBe(1);
    const afterMain = (await custom.patchClusterCustomObject({ ...G, plural: 'multinicnetworks', name: 'net-a', body: { status: { message: 'nope' }, spec: { subnet: '10.0.0.0/8' } } }, merge)) as typeof afterStatus;
    expect(afterMain.status.message).toBe('hello');
    expect(afterMain.spec.subnet).toBe('10.0.0.0/8');
    expect(afterMain.metadata.generation).toBe(2);
  });

  it('serves a NetworkAttachmentDefinition once its CRD is applied, and stops when the CRD is deleted', async () => {
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const nad = { ...G, group: 'k8s.cni.cncf.io', plural: 'network-attachment-definitions', namespace: 'default' };
    expect(await codeOf(custom.listNamespacedCustomObject(nad))).toBe(404);
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: 'network-attachment-definitions.k8s.cni.cncf.io' },
        spec: {
          group: 'k8s.cni.cncf.io', scope: 'Namespaced',
          names: { plural: 'network-attachment-definitions', singular: 'network-attachment-definition', kind: 'NetworkAttachmentDefinition', shortNames: ['net-attach-def'] },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { config: { type: 'string' } } } } } } }],
        },
      },
    });
    await custom.createNamespacedCustomObject({ ...nad, body: { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'n1' }, spec: { config: '{"type":"multi-nic"}' } } });
    expect(((await custom.listNamespacedCustomObject(nad)) as { items: unknown[] }).items).toHaveLength(1);
    const w = await collect('/apis/k8s.cni.cncf.io/v1/network-attachment-definitions', {});
    await ext.deleteCustomResourceDefinition({ name: 'network-attachment-definitions.k8s.cni.cncf.io' });
    await eventually(async () => expect(await codeOf(custom.listNamespacedCustomObject(nad))).toBe(404));
    // Watchers saw the object go, then their stream ended with the resource.
    await eventually(() => expect(w.ended()).toBe(true));
    expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED n1', 'DELETED n1']);
    expect(await codeOf(ext.readCustomResourceDefinition({ name: 'network-attachment-definitions.k8s.cni.cncf.io' }))).toBe(404);
  });
});

describe('selectors', () => {
  beforeEach(async () => {
    const pods: Array<[string, Record<string, string>, string]> = [
      ['p1', { app: 'agent', tier: 'node' }, 'node-a'],
      ['p2', { app: 'agent' }, 'node-b'],
      ['p3', { app: 'web', tier: 'front' }, 'node-a'],
    ];
    for (const [name, labels, nodeName] of pods) {
      await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name, labels }, spec: { nodeName, containers: [{ name: 'c', image: 'i' }] } } });
    }
  });
  const names = async (q: { labelSelector?: string; fieldSelector?: string }) =>
    (await core.listNamespacedPod({ namespace: 'default', ...q })).items.map((p) => p.metadata?.name);

  it.each([
    ['app=agent', ['p1', 'p2']],
    ['app==agent', ['p1', 'p2']],
    ['app!=agent', ['p3']],
    ['tier', ['p1', 'p3']],
    ['!tier', ['p2']],
    ['app in (agent, web),tier notin (front)', ['p1', 'p2']],
    ['app=agent,tier=node', ['p1']],
  ])('labelSelector %s', async (labelSelector, expected) => {
    expect(await names({ labelSelector })).toEqual(expected);
  });

  it.each([
    ['spec.nodeName=node-a', ['p1', 'p3']],
    ['spec.nodeName!=node-a', ['p2']],
    ['metadata.name=p2', ['p2']],
    ['status.phase=Pending,spec.nodeName=node-b', ['p2']],
    ['status.phase=Running', []],
  ])('fieldSelector %s', async (fieldSelector, expected) => {
    expect(await names({ fieldSelector })).toEqual(expected);
  });

  it('rejects an unsupported field and a malformed label selector with 400', async () => {
    expect((await statusOf(core.listNamespacedPod({ namespace: 'default', fieldSelector: 'spec.bogus=x' }))).message).toContain('field label not supported: spec.bogus');
    expect(await codeOf(core.listNamespacedPod({ namespace: 'default', labelSelector: 'app in agent' }))).toBe(400);
  });
});

/** Collects a watch's events until `stop()`. */
async function collect(path: string, params: Record<string, string | number | boolean>) {
  const events: Array<{ type: string; name?: string; rv?: string; object: { metadata?: { name?: string; resourceVersion?: string }; code?: number; reason?: string } }> = [];
  let ended = false;
  const ac = await new Watch(kc).watch(path, params, (type, obj) => events.push({ type, name: obj?.metadata?.name, rv: obj?.metadata?.resourceVersion, object: obj }), () => {
    ended = true;
  });
  return { events, stop: () => ac.abort(), ended: () => ended };
}

describe('watch', () => {
  it('streams ADDED/MODIFIED/DELETED and resumes from a resourceVersion without gaps', async () => {
    const list = await core.listNamespacedConfigMap({ namespace: 'default' });
    const w = await collect('/api/v1/namespaces/default/configmaps', { resourceVersion: list.metadata?.resourceVersion ?? '' });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w1' } } });
    await core.patchNamespacedConfigMap({ name: 'w1', namespace: 'default', body: { data: { a: '1' } } }, merge);
    await core.deleteNamespacedConfigMap({ name: 'w1', namespace: 'default' });
    await eventually(() => expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED w1', 'MODIFIED w1', 'DELETED w1']));
    w.stop();
    const rvs = w.events.map((e) => Number(e.rv));
    expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);

    // Resume from the first event: the stream replays exactly what came after it.
    const resumed = await collect('/api/v1/namespaces/default/configmaps', { resourceVersion: String(rvs[0]) });
    await eventually(() => expect(resumed.events.map((e) => e.type)).toEqual(['MODIFIED', 'DELETED']));
    resumed.stop();
  });

  it('sends current objects as ADDED when no resourceVersion is given, filtered by selectors', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'in', labels: { pick: 'yes' } } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'out' } } });
    const w = await collect('/api/v1/namespaces/default/configmaps', { labelSelector: 'pick=yes' });
    await eventually(() => expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED in']));
    // Leaving the selection is a DELETED for this watch; entering is an ADDED.
    await core.patchNamespacedConfigMap({ name: 'in', namespace: 'default', body: { metadata: { labels: { pick: null } } } }, merge);
    await core.patchNamespacedConfigMap({ name: 'out', namespace: 'default', body: { metadata: { labels: { pick: 'yes' } } } }, merge);
    await eventually(() => expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED in', 'DELETED in', 'ADDED out']));
    w.stop();
  });

  it('answers a resourceVersion older than the history with an ERROR event carrying 410', async () => {
    const old = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'x' } } });
    await core.patchNamespacedConfigMap({ name: 'x', namespace: 'default', body: { data: { a: '1' } } }, merge);
    server.store.compact();
    const w = await collect('/api/v1/namespaces/default/configmaps', { resourceVersion: old.metadata?.resourceVersion ?? '' });
    await eventually(() => expect(w.events[0]).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } }));
    await eventually(() => expect(w.ended()).toBe(true));
  });

  it('with a small history window, 410 comes without compaction too', async () => {
    await server.close();
    ({ server, kc } = await standIn({ historyLimit: 3 }));
    core = kc.makeApiClient(CoreV1Api);
    const first = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'h' } } });
    for (let i = 0; i < 4; i++) await core.patchNamespacedConfigMap({ name: 'h', namespace: 'default', body: { data: { i: String(i) } } }, merge);
    const w = await collect('/api/v1/namespaces/default/configmaps', { resourceVersion: first.metadata?.resourceVersion ?? '' });
    await eventually(() => expect(w.events[0]?.object.code).toBe(410));
  });

  it('honours timeoutSeconds and sends bookmarks when allowed', async () => {
    await server.close();
    ({ server, kc } = await standIn({ bookmarkIntervalMs: 50 }));
    const w = await collect('/api/v1/namespaces/default/configmaps', { timeoutSeconds: 1, allowWatchBookmarks: true, resourceVersion: String(server.store.resourceVersion) });
    await eventually(() => expect(w.ended()).toBe(true), 2500);
    const bookmarks = w.events.filter((e) => e.type === 'BOOKMARK');
    expect(bookmarks.length).toBeGreaterThan(3);
    expect(bookmarks[0]?.rv).toBe(String(server.store.resourceVersion));
  });

  it('with sendInitialEvents, ends the initial ADDED events with an annotated BOOKMARK', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'init' } } });
    const w = await collect('/api/v1/namespaces/default/configmaps', { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', allowWatchBookmarks: true });
    await eventually(() => expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'BOOKMARK']));
    expect((w.events[1]?.object as { metadata: { annotations?: Record<string, string> } }).metadata.annotations).toEqual({ 'k8s.io/initial-events-end': 'true' });
    w.stop();
  });

  it('supports the legacy /watch/ path for one object', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'one' } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'two' } } });
    const w = await collect('/api/v1/watch/namespaces/default/configmaps/one', {});
    await core.patchNamespacedConfigMap({ name: 'two', namespace: 'default', body: { data: { a: '1' } } }, merge);
    await core.patchNamespacedConfigMap({ name: 'one', namespace: 'default', body: { data: { a: '1' } } }, merge);
    await eventually(() => expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED one', 'MODIFIED one']));
    w.stop();
  });
});

describe('deletion', () => {
  it('keeps an object with finalizers until the last one is removed', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'f', finalizers: ['example.com/hold'] } } });
    await core.deleteNamespacedConfigMap({ name: 'f', namespace: 'default' });
    const held = await core.readNamespacedConfigMap({ name: 'f', namespace: 'default' });
    expect(held.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    const s = await statusOf(core.patchNamespacedConfigMap({ name: 'f', namespace: 'default', body: { metadata: { finalizers: ['example.com/hold', 'example.com/more'] } } }, merge));
    expect(s.code).toBe(422);
    await core.patchNamespacedConfigMap({ name: 'f', namespace: 'default', body: { metadata: { finalizers: null } } }, merge);
    expect(await codeOf(core.readNamespacedConfigMap({ name: 'f', namespace: 'default' }))).toBe(404);
  });

  it('garbage-collects dependents whose owners are all gone, and keeps those with a live owner', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'owner' } } });
    const other = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'other' } } });
    const ref = (o: typeof owner) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: o.metadata?.name ?? '', uid: o.metadata?.uid ?? '' });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'dep', ownerReferences: [ref(owner)] } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'shared', ownerReferences: [ref(owner), ref(other)] } } });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: 'default' });
    await eventually(async () => expect(await codeOf(core.readNamespacedConfigMap({ name: 'dep', namespace: 'default' }))).toBe(404));
    const shared = await core.readNamespacedConfigMap({ name: 'shared', namespace: 'default' });
    expect(shared.metadata?.ownerReferences?.map((r) => r.name)).toEqual(['other']);
  });

  it('garbage-collects a dependent written with an owner that is gone (a dangling uid, an owner recreated under its name) and keeps one whose owner lives', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'o3' } } });
    const ref = (uid: string) => [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o3', uid }];
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'dangling', ownerReferences: ref('no-such-uid') } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'kept', ownerReferences: ref(owner.metadata?.uid ?? '') } } });
    await eventually(async () => expect(await codeOf(core.readNamespacedConfigMap({ name: 'dangling', namespace: 'default' }))).toBe(404));
    // The owner deleted and created again: same name, new uid; an update naming the old uid is collected.
    await core.deleteNamespacedConfigMap({ name: 'o3', namespace: 'default', propagationPolicy: 'Orphan' });
    await server.store.settle();
    const again = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'o3' } } });
    await core.patchNamespacedConfigMap({ name: 'kept', namespace: 'default', body: { metadata: { ownerReferences: ref(again.metadata?.uid ?? ''), labels: { owner: 'new' } } } }, merge);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'stale', ownerReferences: ref(owner.metadata?.uid ?? '') } } });
    await eventually(async () => expect(await codeOf(core.readNamespacedConfigMap({ name: 'stale', namespace: 'default' }))).toBe(404));
    await server.store.settle();
    expect((await core.readNamespacedConfigMap({ name: 'kept', namespace: 'default' })).metadata?.ownerReferences?.map((r) => r.uid)).toEqual([again.metadata?.uid]);
  });

  it('orphans dependents with propagationPolicy=Orphan and waits for them with Foreground', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const ds = await apps.createNamespacedDaemonSet({ namespace: 'default', body: { metadata: { name: 'ds' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } } });
    const ref = { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: ds.metadata?.uid ?? '', blockOwnerDeletion: true };
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'kid', ownerReferences: [ref], finalizers: ['example.com/slow'] }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
    await apps.deleteNamespacedDaemonSet({ name: 'ds', namespace: 'default', body: { propagationPolicy: 'Foreground' } });
    // The owner waits (foregroundDeletion) while its dependent is held by a finalizer.
    await eventually(async () => expect((await core.readNamespacedPod({ name: 'kid', namespace: 'default' })).metadata?.deletionTimestamp).toBeInstanceOf(Date));
    expect((await apps.readNamespacedDaemonSet({ name: 'ds', namespace: 'default' })).metadata?.finalizers).toContain('foregroundDeletion');
    await core.patchNamespacedPod({ name: 'kid', namespace: 'default', body: { metadata: { finalizers: null } } }, merge);
    await eventually(async () => expect(await codeOf(apps.readNamespacedDaemonSet({ name: 'ds', namespace: 'default' }))).toBe(404));

    const lease = kc.makeApiClient(CoordinationV1Api);
    const owner = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'o2' } } });
    await lease.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'l', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o2', uid: owner.metadata?.uid ?? '' }] }, spec: { holderIdentity: 'x' } } });
    await core.deleteNamespacedConfigMap({ name: 'o2', namespace: 'default', propagationPolicy: 'Orphan' });
    await server.store.settle();
    const orphan = await lease.readNamespacedLease({ name: 'l', namespace: 'default' });
    expect(orphan.metadata?.ownerReferences ?? []).toEqual([]);
  });

  it('deletes a namespace after its contents, refusing new content meanwhile', async () => {
    await core.createNamespace({ body: { metadata: { name: 'team' } } });
    await core.createNamespacedConfigMap({ namespace: 'team', body: { metadata: { name: 'held', finalizers: ['example.com/hold'] } } });
    await core.createNamespacedConfigMap({ namespace: 'team', body: { metadata: { name: 'free' } } });
    await core.deleteNamespace({ name: 'team' });
    await eventually(async () => expect(await codeOf(core.readNamespacedConfigMap({ name: 'free', namespace: 'team' }))).toBe(404));
    expect((await core.readNamespace({ name: 'team' })).status?.phase).toBe('Terminating');
    expect((await statusOf(core.createNamespacedConfigMap({ namespace: 'team', body: { metadata: { name: 'late' } } }))).code).toBe(403);
    await core.patchNamespacedConfigMap({ name: 'held', namespace: 'team', body: { metadata: { finalizers: null } } }, merge);
    await eventually(async () => expect(await codeOf(core.readNamespace({ name: 'team' }))).toBe(404));
  });

  it('holds a namespace with its own finalizer without rewriting it, and a CRD until its objects are gone', async () => {
    await core.createNamespace({ body: { metadata: { name: 'held-ns', finalizers: ['example.com/ns'] } } });
    const before = server.store.resourceVersion;
    await core.deleteNamespace({ name: 'held-ns' });
    await eventually(async () => expect((await core.readNamespace({ name: 'held-ns' })).spec?.finalizers ?? []).toEqual([]));
    await server.store.settle();
    // Two writes: the deletion mark, then the namespace controller dropping spec.finalizers.
    expect(server.store.resourceVersion - before).toBe(2);
    expect((await core.readNamespace({ name: 'held-ns' })).status?.phase).toBe('Terminating');

    installCrds(server);
    await custom.createClusterCustomObject({ ...G, plural: 'multinicnetworks', body: { ...structuredClone(NET), metadata: { name: 'held', finalizers: ['example.com/net'] } } });
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    await ext.deleteCustomResourceDefinition({ name: 'multinicnetworks.multinic.fms.io' });
    await eventually(async () => expect(((await custom.getClusterCustomObject({ ...G, plural: 'multinicnetworks', name: 'held' })) as { metadata: { deletionTimestamp?: string } }).metadata.deletionTimestamp).toBeDefined());
    expect((await statusOf(custom.createClusterCustomObject({ ...G, plural: 'multinicnetworks', body: { ...structuredClone(NET), metadata: { name: 'late' } } }))).code).toBe(405);
    expect((await ext.readCustomResourceDefinition({ name: 'multinicnetworks.multinic.fms.io' })).metadata?.deletionTimestamp).toBeInstanceOf(Date);
    await custom.patchClusterCustomObject({ ...G, plural: 'multinicnetworks', name: 'held', body: { metadata: { finalizers: null } } }, merge);
    await eventually(async () => expect(await codeOf(ext.readCustomResourceDefinition({ name: 'multinicnetworks.multinic.fms.io' }))).toBe(404));
  });

  it('checks delete preconditions', async () => {
    const c = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'pc' } } });
    const s = await statusOf(core.deleteNamespacedConfigMap({ name: 'pc', namespace: 'default', body: { preconditions: { uid: 'not-the-uid' } } }));
    expect(s.code).toBe(409);
    await core.deleteNamespacedConfigMap({ name: 'pc', namespace: 'default', body: { preconditions: { uid: c.metadata?.uid ?? '' } } });
  });
});

describe('pods', () => {
  it('serves pods/status and pods/log (plain and follow)', async () => {
    const p = await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'lp' }, spec: { nodeName: 'n1', containers: [{ name: 'main', image: 'i' }] }, status: { phase: 'Running' } } });
    expect(p.status?.phase).toBe('Pending');
    const st = await core.replaceNamespacedPodStatus({ name: 'lp', namespace: 'default', body: { ...p, status: { phase: 'Running', podIP: '10.0.0.5' } } });
    expect(st.status?.phase).toBe('Running');
    expect((await core.listNamespacedPod({ namespace: 'default', fieldSelector: 'status.phase=Running' })).items).toHaveLength(1);

    server.store.appendPodLog('default', 'lp', 'line 1\nline 2\n');
    expect(await core.readNamespacedPodLog({ name: 'lp', namespace: 'default' })).toBe('line 1\nline 2\n');
    expect(await core.readNamespacedPodLog({ name: 'lp', namespace: 'default', tailLines: 1 })).toBe('line 2\n');

    const res = await fetch(`${server.url}/api/v1/namespaces/default/pods/lp/log?follow=true`);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let seen = dec.decode((await reader.read()).value);
    server.store.appendPodLog('default', 'lp', 'line 3\n');
    while (!seen.includes('line 3')) seen += dec.decode((await reader.read()).value);
    expect(seen).toBe('line 1\nline 2\nline 3\n');
    await core.deleteNamespacedPod({ name: 'lp', namespace: 'default' });
    expect((await reader.read()).done).toBe(true);
  });
});

describe('fault injection', () => {
  it('fails the next N matching requests with the given Status, then recovers', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'f' } } });
    const fault = server.faults.fail({ method: 'PATCH', path: /configmaps\/f/, code: 409, times: 2 });
    const patch = () => core.patchNamespacedConfigMap({ name: 'f', namespace: 'default', body: { data: { a: '1' } } }, merge);
    expect((await statusOf(patch())).reason).toBe('Conflict');
    expect(await codeOf(core.readNamespacedConfigMap({ name: 'f', namespace: 'default' }))).toBe('ok');
    expect(await codeOf(patch())).toBe(409);
    expect(await codeOf(patch())).toBe('ok');
    expect(fault.hits).toBe(2);
    server.faults.fail({ path: /configmaps/, code: 500 });
    expect((await statusOf(core.listNamespacedConfigMap({ namespace: 'default' }))).reason).toBe('InternalError');
  });

  it('delays requests', async () => {
    server.faults.delay({ method: 'GET', path: /\/configmaps$/, ms: 150 });
    const t0 = Date.now();
    await core.listNamespacedConfigMap({ namespace: 'default' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('drops open watches on demand', async () => {
    const w = await collect('/api/v1/namespaces/default/configmaps', {});
    await eventually(() => expect(server.store.openWatches).toBe(1));
    expect(server.faults.dropWatches()).toBe(1);
    await eventually(() => expect(w.ended()).toBe(true));
    expect(server.store.openWatches).toBe(0);
  });
});

describe('client-node informer', () => {
  it('lists, follows, survives dropped watches and re-lists after 410', async () => {
    const informer = makeInformer(kc, '/api/v1/namespaces/default/configmaps', () => core.listNamespacedConfigMap({ namespace: 'default' }));
    const errors: unknown[] = [];
    informer.on('error', (e) => errors.push(e));
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'before' } } });
    await informer.start();
    const names = () => informer.list().map((c) => c.metadata?.name).sort();
    try {
      expect(names()).toEqual(['before']);
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'during' } } });
      await eventually(() => expect(names()).toEqual(['before', 'during']));

      server.faults.dropWatches();
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'after-drop' } } });
      await eventually(() => expect(names()).toEqual(['after-drop', 'before', 'during']));

      // The watch is dropped and its re-establishment held back while a write happens and the
      // history is compacted: resuming gets 410 and the informer re-lists (a second list call).
      await eventually(() => expect(server.store.openWatches).toBe(1));
      const lists = server.faults.delay({ method: 'GET', path: /\/configmaps$/, ms: 0, times: Infinity });
      server.faults.delay({ method: 'GET', path: /watch=true/, ms: 300 });
      server.faults.dropWatches();
      await core.deleteNamespacedConfigMap({ name: 'before', namespace: 'default' });
      server.store.compact();
      await eventually(() => expect(names()).toEqual(['after-drop', 'during']));
      expect(lists.hits).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await informer.stop();
    }
  });
});
