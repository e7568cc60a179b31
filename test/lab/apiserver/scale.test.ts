// The stand-in at size, as a real kube-apiserver over etcd behaves: objects over etcd's 1.5 MiB
// are refused with etcd's message, bodies over 3 MiB with the apiserver's own, lists page with
// limit/continue inside one snapshot, and every write is counted for tests and benches.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ApiServer } from '../../../src/lab/apiserver/index.js';
import { ETCD_MAX_REQUEST_BYTES } from '../../../src/lab/apiserver/store.js';
import { installCrds, standIn, statusOf } from './helpers.js';

let server: ApiServer;
let kc: KubeConfig;
let core: CoreV1Api;

beforeEach(async () => {
  ({ server, kc } = await standIn());
  core = kc.makeApiClient(CoreV1Api);
});
afterEach(async () => {
  await server.close();
});

const cm = (name: string, bytes: number) => ({ metadata: { name }, data: { blob: 'x'.repeat(bytes) } });

describe('object and body size limits', () => {
  it('refuses an object over 1.5 MiB with etcd\'s error as kube-apiserver returns it, and stores nothing', async () => {
    const before = server.store.resourceVersion;
    const st = await statusOf(core.createNamespacedConfigMap({ namespace: 'default', body: cm('big', ETCD_MAX_REQUEST_BYTES) }));
    expect(st).toMatchObject({ code: 413, reason: 'RequestEntityTooLarge', message: 'etcdserver: request is too large' });
    expect(server.store.get('v1', 'ConfigMap', 'big', 'default')).toBeUndefined();
    expect(server.store.resourceVersion).toBe(before);
    // Just under the limit (the metadata the server adds included) is stored.
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('fits', ETCD_MAX_REQUEST_BYTES - 400) });
    expect(server.store.writeStats('/configmaps')).toMatchObject({ creates: 1, refused: 1 });
  });

  it('refuses an update that would grow an object past the limit; the stored copy is unchanged', async () => {
    const small = await core.createNamespacedConfigMap({ namespace: 'default', body: cm('grows', 10) });
    const st = await statusOf(core.replaceNamespacedConfigMap({ name: 'grows', namespace: 'default', body: { ...small, data: { blob: 'y'.repeat(ETCD_MAX_REQUEST_BYTES) } } }));
    expect(st.code).toBe(413);
    expect(st.message).toBe('etcdserver: request is too large');
    const got = await core.readNamespacedConfigMap({ name: 'grows', namespace: 'default' });
    expect(got.metadata?.resourceVersion).toBe(small.metadata?.resourceVersion);
    expect(got.data?.blob).toBe('x'.repeat(10));
  });

  it('refuses a request body over 3 MiB with the apiserver\'s own 413 (the answer is read, not a reset)', async () => {
    const st = await statusOf(core.createNamespacedConfigMap({ namespace: 'default', body: cm('huge', 3 * 1024 * 1024 + 10) }));
    expect(st).toMatchObject({ code: 413, reason: 'RequestEntityTooLarge', message: 'Request entity too large: limit is 3145728' });
  });

  it('a custom resource over the limit is refused too (CRs are stored as JSON)', async () => {
    installCrds(server);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const interfaces = Array.from({ length: 12_000 }, (_, i) => ({ interfaceName: `eth${i}`, netAddress: '10.0.0.0/24', hostIP: `10.0.${(i >> 8) & 255}.${i & 255}`, vendor: '15b3', product: '1017', pciAddress: '0000:00:00.0' }));
    const st = await statusOf(custom.createClusterCustomObject({ group: 'multinic.fms.io', version: 'v1', plural: 'hostinterfaces', body: { apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: 'h' }, spec: { hostName: 'h', interfaces } } }));
    expect(st.code).toBe(413);
    expect(server.store.writeStats('multinic.fms.io/hostinterfaces')).toMatchObject({ creates: 0, refused: 1 });
  });
});

describe('list paging', () => {
  async function seed(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `c${String(i).padStart(3, '0')}`, labels: { even: String(i % 2 === 0) } } } });
  }

  it('serves limit-sized pages with a continue token until the last page, in key order, each item once', async () => {
    await seed(25);
    const names: string[] = [];
    let token: string | undefined;
    const remaining: Array<number | undefined> = [];
    let pages = 0;
    do {
      const page = await core.listNamespacedConfigMap({ namespace: 'default', limit: 10, ...(token ? { _continue: token } : {}) });
      names.push(...page.items.map((c) => c.metadata?.name ?? ''));
      remaining.push(page.metadata?.remainingItemCount);
      token = page.metadata?._continue;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(names).toEqual(Array.from({ length: 25 }, (_, i) => `c${String(i).padStart(3, '0')}`));
    expect(remaining).toEqual([15, 5, undefined]);
  });

  it('a list after adds and deletes anywhere in key order sees them, in key order, one namespace only', async () => {
    await seed(4);
    const names = async (limit?: number) => (await core.listNamespacedConfigMap({ namespace: 'default', ...(limit ? { limit } : {}) })).items.map((c) => c.metadata?.name);
    expect(await names()).toEqual(['c000', 'c001', 'c002', 'c003']);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c0015' } } });
    await core.createNamespacedConfigMap({ namespace: 'kube-system', body: { metadata: { name: 'c0011' } } });
    await core.deleteNamespacedConfigMap({ name: 'c000', namespace: 'default' });
    expect(await names()).toEqual(['c001', 'c0015', 'c002', 'c003']);
    expect(await names(2)).toEqual(['c001', 'c0015']);
  });

  it('later pages come from the first page\'s snapshot: writes in between are not seen', async () => {
    await seed(6);
    const first = await core.listNamespacedConfigMap({ namespace: 'default', limit: 3 });
    const rv = first.metadata?.resourceVersion;
    await core.deleteNamespacedConfigMap({ name: 'c004', namespace: 'default' });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c999' } } });
    await core.patchNamespacedConfigMap({ name: 'c005', namespace: 'default', body: [{ op: 'add', path: '/data', value: { late: 'yes' } }] });
    const second = await core.listNamespacedConfigMap({ namespace: 'default', limit: 3, _continue: first.metadata?._continue ?? '' });
    expect(second.metadata?.resourceVersion).toBe(rv);
    expect(second.items.map((c) => c.metadata?.name)).toEqual(['c003', 'c004', 'c005']);
    expect(second.items[2]?.data).toBeUndefined();
    expect(second.metadata?._continue).toBeFalsy();
    // A fresh list sees the present.
    const now = await core.listNamespacedConfigMap({ namespace: 'default' });
    expect(now.items.map((c) => c.metadata?.name)).toEqual(['c000', 'c001', 'c002', 'c003', 'c005', 'c999']);
  });

  it('pages a selected list (no remainingItemCount, as kube-apiserver)', async () => {
    await seed(10);
    const first = await core.listNamespacedConfigMap({ namespace: 'default', limit: 2, labelSelector: 'even=true' });
    expect(first.items.map((c) => c.metadata?.name)).toEqual(['c000', 'c002']);
    expect(first.metadata?.remainingItemCount).toBeUndefined();
    const rest = await core.listNamespacedConfigMap({ namespace: 'default', limit: 10, labelSelector: 'even=true', _continue: first.metadata?._continue ?? '' });
    expect(rest.items.map((c) => c.metadata?.name)).toEqual(['c004', 'c006', 'c008']);
  });

  it('pages one namespace between others from one snapshot over several pages, with writes between every page', async () => {
    for (const ns of ['aaa', 'kube-system']) await core.createNamespace({ body: { metadata: { name: ns } } }).catch(() => undefined);
    for (const ns of ['aaa', 'default', 'kube-system']) for (let i = 0; i < 7; i++) await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `m${i}` } } });
    const names: string[] = [];
    const remaining: Array<number | undefined> = [];
    let token: string | undefined;
    let rv: string | undefined;
    let w = 0;
    do {
      const page = await core.listNamespacedConfigMap({ namespace: 'default', limit: 2, ...(token ? { _continue: token } : {}) });
      rv ??= page.metadata?.resourceVersion;
      expect(page.metadata?.resourceVersion).toBe(rv);
      names.push(...page.items.map((c) => `${c.metadata?.namespace}/${c.metadata?.name}`));
      remaining.push(page.metadata?.remainingItemCount);
      token = page.metadata?._continue;
      // Every kind of write, in and around the namespace, between the pages: none is seen.
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `m${w}x` } } });
      await core.deleteNamespacedConfigMap({ name: `m${w}`, namespace: w % 2 ? 'aaa' : 'kube-system' });
      if (w < 6) await core.deleteNamespacedConfigMap({ name: `m${6 - w}`, namespace: 'default' });
      w++;
    } while (token);
    expect(names).toEqual(Array.from({ length: 7 }, (_, i) => `default/m${i}`));
    expect(remaining).toEqual([5, 3, 1, undefined]);
  });

  it('answers 410 Expired to a continue token whose snapshot was compacted, and 400 to a forged one', async () => {
    await seed(4);
    const first = await core.listNamespacedConfigMap({ namespace: 'default', limit: 2 });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'later' } } });
    server.store.compact();
    const st = await statusOf(core.listNamespacedConfigMap({ namespace: 'default', limit: 2, _continue: first.metadata?._continue ?? '' }));
    expect(st).toMatchObject({ code: 410, reason: 'Expired' });
    expect(st.message).toMatch(/continue parameter is too old/);
    const bad = await statusOf(core.listNamespacedConfigMap({ namespace: 'default', limit: 2, _continue: 'bm90LWEtdG9rZW4' }));
    expect(bad.code).toBe(400);
  });
});

describe('write accounting', () => {
  it('counts creates, updates, deletes and stored bytes per resource; no-op updates cost nothing', async () => {
    server.store.resetWriteStats();
    const c = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w' }, data: { a: '1' } } });
    await core.replaceNamespacedConfigMap({ name: 'w', namespace: 'default', body: c });
    const after = server.store.writeStats('/configmaps');
    expect(after).toMatchObject({ creates: 1, updates: 0, deletes: 0 });
    const size = Buffer.byteLength(JSON.stringify(server.store.api.store.get('/configmaps', 'default', 'w')));
    expect(after.bytes).toBe(size);
    expect(after.largest).toBe(size);
    await core.replaceNamespacedConfigMap({ name: 'w', namespace: 'default', body: { ...c, metadata: { ...c.metadata, resourceVersion: undefined }, data: { a: '22' } } });
    await core.deleteNamespacedConfigMap({ name: 'w', namespace: 'default' });
    expect(server.store.writeStats('/configmaps')).toMatchObject({ creates: 1, updates: 1, deletes: 1 });
    expect(Object.keys(server.store.allWriteStats())).toContain('/configmaps');
  });
});
