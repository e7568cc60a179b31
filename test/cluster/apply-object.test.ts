// The one "unchanged" rule install and apply share (src/cluster/apply-object.ts), row by row against
// the API stand-in: what we send decides, what others add does not, and a field we stop sending is
// noticed through the applied hash.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyObject } from '../../src/cluster/apply-object.js';
import type { KubeApi } from '../../src/kube/api.js';
import { connect } from '../../src/kube/client.js';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import { APPLIED_HASH_ANNOTATION } from '../../src/lib/install/apply.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { R } from '../../src/lib/k8s/resources.js';

let server: ApiServer;
let dir = '';
let api: KubeApi;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mn-apply-object-'));
  server = await startApiServer();
  const kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server.url);
  api = await connect({ kubeconfig, requestTimeout: '5s' });
});
afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cm = (data: Record<string, string>, labels: Record<string, string> = { app: 'mn' }): KubeObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'rule', namespace: 'default', labels }, data }) as KubeObject;
const live = async (): Promise<KubeObject & { data?: Record<string, string> }> => (await api.get(R.ConfigMap, 'rule', 'default')) as KubeObject & { data?: Record<string, string> };

describe('applyObject: the unchanged rule of install and apply', () => {
  it('absent: created, stamped with the applied hash', async () => {
    expect((await applyObject(api, cm({ a: '1', b: '2' }), { dryRun: false })).action).toBe('create');
    expect((await live()).metadata?.annotations?.[APPLIED_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{16}$/);
  });
  it('the same again: unchanged, nothing written', async () => {
    const rv = (await live()).metadata?.resourceVersion;
    expect((await applyObject(api, cm({ a: '1', b: '2' }), { dryRun: false })).action).toBe('unchanged');
    expect((await live()).metadata?.resourceVersion).toBe(rv);
  });
  it('what others add (a label, an annotation) does not count: unchanged, and an update later keeps it', async () => {
    const cur = await live();
    await api.replace(R.ConfigMap, { ...cur, metadata: { ...cur.metadata, labels: { ...cur.metadata?.labels, team: 'x' }, annotations: { ...cur.metadata?.annotations, note: 'kept' } } });
    expect((await applyObject(api, cm({ a: '1', b: '2' }), { dryRun: false })).action).toBe('unchanged');
    expect((await applyObject(api, cm({ a: '1', b: '3' }), { dryRun: false })).action).toBe('update');
    const after = await live();
    expect([after.data, after.metadata?.labels, after.metadata?.annotations?.['note']]).toEqual([{ a: '1', b: '3' }, { app: 'mn', team: 'x' }, 'kept']);
  });
  it('a field we send changed by someone else: updated back', async () => {
    const cur = await live();
    await api.replace(R.ConfigMap, { ...cur, data: { a: 'edited', b: '3' } } as KubeObject);
    expect((await applyObject(api, cm({ a: '1', b: '3' }), { dryRun: false })).action).toBe('update');
    expect((await live()).data).toEqual({ a: '1', b: '3' });
  });
  it('a label we send changed: updated', async () => {
    expect((await applyObject(api, cm({ a: '1', b: '3' }, { app: 'other' }), { dryRun: false })).action).toBe('update');
    expect((await live()).metadata?.labels).toEqual({ app: 'other', team: 'x' });
  });
  it('a field we no longer send: the hash differs, updated, and the field is gone', async () => {
    expect((await applyObject(api, cm({ a: '1' }, { app: 'other' }), { dryRun: false })).action).toBe('update');
    expect((await live()).data).toEqual({ a: '1' });
    expect((await applyObject(api, cm({ a: '1' }, { app: 'other' }), { dryRun: false })).action).toBe('unchanged');
  });
  it('a dry run decides the same and writes nothing', async () => {
    const rv = (await live()).metadata?.resourceVersion;
    expect((await applyObject(api, cm({ a: '2' }, { app: 'other' }), { dryRun: true })).action).toBe('update');
    expect([(await live()).data, (await live()).metadata?.resourceVersion]).toEqual([{ a: '1' }, rv]);
  });
});
