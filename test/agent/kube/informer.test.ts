// The informer against the real stand-in: resumes dropped watches, re-lists on 410 Gone, backs off
// through 500s, and always converges to the server's view.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Informer } from '../../../src/agent/kube/informer.js';
import type { KubeObject } from '../../../src/lib/k8s/meta.js';
import { R } from '../../../src/lib/k8s/resources.js';
import { eventually, testCluster, type TestCluster } from './helpers.js';

let c: TestCluster;
let inf: Informer<KubeObject> | undefined;
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await inf?.stop();
  inf = undefined;
  await c.close();
});

const cm = (name: string, v: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v } });
const serverView = () =>
  c.server.store
    .list('v1', 'ConfigMap', 'default')
    .map((o) => `${o.metadata?.name}=${(o as { data?: { v?: string } }).data?.v}`)
    .sort();
const cacheView = () => inf!.list().map((o) => `${o.metadata?.name}=${(o as { data?: { v?: string } }).data?.v}`).sort();

describe('Informer', () => {
  it('lists, then follows adds, updates and deletes with listener calls', async () => {
    c.server.store.create(cm('a', '1'));
    inf = new Informer({ api: c.api, ref: R.ConfigMap, namespace: 'default' });
    const seen: string[] = [];
    inf.onChange((t, o) => seen.push(`${t} ${o.metadata?.name}`));
    await inf.start().synced();
    expect(cacheView()).toEqual(['a=1']);
    c.server.store.create(cm('b', '1'));
    c.server.store.update({ ...c.server.store.get('v1', 'ConfigMap', 'a', 'default')!, data: { v: '2' } });
    c.server.store.delete('v1', 'ConfigMap', 'b', 'default');
    await eventually(() => expect(seen).toEqual(['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b']));
    expect(cacheView()).toEqual(serverView());
  });

  it('resumes after dropped watches without re-listing and misses nothing', async () => {
    inf = new Informer({ api: c.api, ref: R.ConfigMap, namespace: 'default', backoffMs: { initial: 10, max: 50 } });
    await inf.start().synced();
    c.server.store.create(cm('first', '0'));
    await eventually(() => expect(cacheView()).toEqual(['first=0']));
    for (let i = 0; i < 5; i++) {
      // Each drop hits a live watch (the previous object arrived through it); the object created
      // while no watch is open must arrive through the resumed one.
      expect(c.server.faults.dropWatches()).toBe(1);
      c.server.store.create(cm(`x${i}`, String(i)));
      await eventually(() => expect(cacheView()).toEqual(serverView()));
    }
    expect(serverView()).toHaveLength(6);
    expect(inf.stats.lists).toBe(1);
    expect(inf.stats.watches).toBe(6);
  });

  it('re-lists on 410 Gone and emits only the differences', async () => {
    c.server.store.create(cm('keep', '1'));
    c.server.store.create(cm('gone', '1'));
    inf = new Informer({ api: c.api, ref: R.ConfigMap, namespace: 'default', backoffMs: { initial: 10, max: 50 } });
    const seen: string[] = [];
    await inf.start().synced();
    inf.onChange((t, o) => seen.push(`${t} ${o.metadata?.name}`));
    // The watch is down (500s) while objects change and history is compacted: resuming gets 410.
    const outage = c.server.faults.fail({ method: 'GET', path: /watch=/, code: 500, times: 3 });
    c.server.faults.dropWatches();
    c.server.store.delete('v1', 'ConfigMap', 'gone', 'default');
    c.server.store.create(cm('new', '1'));
    c.server.store.compact();
    await eventually(() => expect(cacheView()).toEqual(['keep=1', 'new=1']));
    expect(outage.hits).toBe(3);
    expect(inf.stats.gone).toBeGreaterThanOrEqual(1);
    expect(inf.stats.lists).toBeGreaterThanOrEqual(2);
    expect(seen.sort()).toEqual(['ADDED new', 'DELETED gone']);
  });

  it('keeps retrying a failing list (500s) and syncs when the server recovers', async () => {
    const f = c.server.faults.fail({ method: 'GET', path: /configmaps/, code: 500, times: 4 });
    c.server.store.create(cm('a', '1'));
    inf = new Informer({ api: c.api, ref: R.ConfigMap, namespace: 'default', backoffMs: { initial: 10, max: 50 } });
    await inf.start().synced();
    expect(f.hits).toBe(4);
    expect(inf.stats.errors).toBe(4);
    expect(cacheView()).toEqual(['a=1']);
  });
});
