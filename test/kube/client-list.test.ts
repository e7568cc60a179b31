// The real client's list against the API stand-in: lists are read in pages of LIST_PAGE_SIZE
// (limit/continue, as client-go's pager), complete and from one snapshot; a continue token that
// expires mid-list starts the list again, then falls back to one unpaged list. The informers'
// initial list and relist go through it. The stand-in counts every list request it serves.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Informer } from '../../src/agent/kube/informer.js';
import type { KubeApi } from '../../src/kube/api.js';
import { connect, LIST_PAGE_SIZE } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { R } from '../../src/lib/k8s/resources.js';
import { startApiServer, writeKubeconfig, type ApiServer } from '../../src/lab/apiserver/index.js';
import { eventually } from '../helpers/eventually.js';

let server: ApiServer;
let dir: string;
let kubeconfig: string;
const CM = '/configmaps';

beforeEach(async () => {
  server = await startApiServer();
  dir = mkdtempSync(join(tmpdir(), 'sc-list-'));
  kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server.url);
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const seed = (n: number, ns = 'default'): void => {
  for (let i = 0; i < n; i++) server.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `c${String(i).padStart(5, '0')}`, namespace: ns }, data: { i: String(i) } });
};
const names = (items: KubeObject[]): string[] => items.map((o) => o.metadata?.name ?? '');
const expected = (n: number): string[] => Array.from({ length: n }, (_, i) => `c${String(i).padStart(5, '0')}`);

describe('list pages with limit/continue', () => {
  it(`reads ${LIST_PAGE_SIZE} per page by default, every item once, at the first page's resourceVersion`, async () => {
    seed(1234);
    const api = await connect({ kubeconfig });
    server.store.resetReadStats();
    const rv = String(server.store.resourceVersion);
    const got = await api.list(R.ConfigMap, { namespace: 'default' });
    expect(names(got.items)).toEqual(expected(1234));
    expect(got.items[0]).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });
    expect(got.resourceVersion).toBe(rv);
    expect(server.store.readStats(CM)).toMatchObject({ lists: 3, pagedLists: 3, listItems: 1234 });
  });

  it('a list that fits one page is one request; a selected list pages too', async () => {
    seed(30);
    for (let i = 0; i < 30; i += 3) server.store.patch('v1', 'ConfigMap', `c${String(i).padStart(5, '0')}`, 'default', 'merge', { metadata: { labels: { third: 'yes' } } });
    const api = await connect({ kubeconfig, listPageSize: 4 });
    server.store.resetReadStats();
    expect(names((await api.list(R.ConfigMap, { namespace: 'default', labelSelector: 'third=yes' })).items)).toEqual(expected(30).filter((_, i) => i % 3 === 0));
    expect(server.store.readStats(CM)).toMatchObject({ lists: 3, pagedLists: 3, listItems: 10 });
    const one = await connect({ kubeconfig });
    server.store.resetReadStats();
    expect((await one.list(R.ConfigMap, { namespace: 'default' })).items).toHaveLength(30);
    expect(server.store.readStats(CM)).toMatchObject({ lists: 1, pagedLists: 1 });
  });

  it('writes between pages are not seen: the pages are one snapshot', async () => {
    seed(12);
    const api = await connect({ kubeconfig, listPageSize: 5 });
    // Delay the second page so writes land between the pages.
    server.faults.delay({ method: 'GET', path: /continue=/, ms: 300, times: 1 });
    const listing = api.list(R.ConfigMap, { namespace: 'default' });
    await eventually(() => expect(server.store.readStats(CM).lists).toBe(1), 3000, 5);
    server.store.delete('v1', 'ConfigMap', 'c00009', 'default');
    server.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c00000a', namespace: 'default' } });
    expect(names((await listing).items)).toEqual(expected(12));
  });

  it('410 Expired on a continue token lists again from the first page; expired again, one unpaged list', async () => {
    seed(25);
    const api = await connect({ kubeconfig, listPageSize: 10 });
    server.store.resetReadStats();
    const once = server.faults.fail({ method: 'GET', path: /continue=/, code: 410, message: 'The provided continue parameter is too old to display a consistent list result.', times: 1 });
    expect(names((await api.list(R.ConfigMap, { namespace: 'default' })).items)).toEqual(expected(25));
    expect(once.hits).toBe(1);
    // page 1, (page 2 refused), page 1, 2, 3
    expect(server.store.readStats(CM)).toMatchObject({ lists: 4, pagedLists: 4, listItems: 35 });

    server.store.resetReadStats();
    const always = server.faults.fail({ method: 'GET', path: /continue=/, code: 410, times: Infinity });
    expect(names((await api.list(R.ConfigMap, { namespace: 'default' })).items)).toEqual(expected(25));
    always.cancel();
    expect(always.hits).toBe(2);
    // page 1, (refused), page 1, (refused), then everything at once
    expect(server.store.readStats(CM)).toMatchObject({ lists: 3, pagedLists: 2, listItems: 45 });
  });

  it('other errors are not retried', async () => {
    seed(25);
    const api = await connect({ kubeconfig, listPageSize: 10 });
    server.faults.fail({ method: 'GET', path: /continue=/, code: 500, times: 1 });
    await expect(api.list(R.ConfigMap, { namespace: 'default' })).rejects.toMatchObject({ code: 500 });
  });
});

describe('informers list in pages', () => {
  it('the initial list and the relist after 410 Gone are paged and complete', async () => {
    seed(23);
    const api: KubeApi = await connect({ kubeconfig, listPageSize: 10 });
    server.store.resetReadStats();
    const inf = new Informer<KubeObject>({ api, ref: R.ConfigMap, namespace: 'default', backoffMs: { initial: 10, max: 50 } }).start();
    try {
      await inf.synced();
      expect(inf.list()).toHaveLength(23);
      expect(server.store.readStats(CM)).toMatchObject({ lists: 3, pagedLists: 3, listItems: 23 });
      // Changes while the watch is down, then the history is compacted: resuming gets 410 and the
      // informer lists again, in pages.
      server.store.resetReadStats();
      server.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c00023', namespace: 'default' } });
      await eventually(() => expect(inf.get('c00023', 'default')).toBeDefined(), 3000, 10);
      server.faults.delay({ method: 'GET', path: /watch=1/, ms: 200, times: 1 });
      server.faults.dropWatches();
      server.store.delete('v1', 'ConfigMap', 'c00000', 'default');
      server.store.compact();
      await eventually(() => expect(inf.stats.gone).toBeGreaterThan(0), 5000, 10);
      await eventually(() => expect(names(inf.list()).sort()).toEqual(expected(24).slice(1)), 5000, 10);
      expect(server.store.readStats(CM)).toMatchObject({ lists: 3, pagedLists: 3, listItems: 23 });
    } finally {
      await inf.stop();
    }
  });
});
