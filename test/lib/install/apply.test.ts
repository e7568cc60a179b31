import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/lib/k8s/meta.js';
import {
  APPLIED_HASH_ANNOTATION,
  detectCniBinDir,
  displayName,
  isSubset,
  objectHash,
  planApply,
  uninstallOrder,
} from '../../../src/lib/install/apply.js';
import { renderInstall } from '../../../src/lib/install/render.js';

const sa = (extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: { name: 'multinic-agent', namespace: 'multinic-system', labels: { 'app.kubernetes.io/managed-by': 'kubectl-multinic' } },
  ...extra,
});

/** What a server returns after create: our object plus server-owned metadata and defaults. */
function asStored(sent: KubeObject, extra: Record<string, unknown> = {}): KubeObject {
  return { ...sent, ...extra, metadata: { ...sent.metadata, uid: 'u-1', resourceVersion: '41', creationTimestamp: '2026-01-01T00:00:00Z' } };
}

describe('objectHash', () => {
  it('ignores key order and undefined fields, and changes with any value', () => {
    expect(objectHash({ a: 1, b: { c: [1, 2] } })).toBe(objectHash({ b: { c: [1, 2] }, a: 1, d: undefined }));
    expect(objectHash({ a: 1, b: { c: [1, 2] } })).not.toBe(objectHash({ a: 1, b: { c: [2, 1] } }));
    expect(objectHash({ a: '1' })).not.toBe(objectHash({ a: 1 }));
    expect(objectHash({})).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('isSubset', () => {
  it.each([
    [{ a: 1 }, { a: 1, b: 2 }, true],
    [{ a: { b: 1 } }, { a: { b: 1, c: 2 } }, true],
    [{ a: [1, 2] }, { a: [1, 2, 3] }, false],
    [{ a: [{ x: 1 }] }, { a: [{ x: 1, y: 2 }] }, true],
    [{ a: 1 }, { a: 2 }, false],
    [{ a: 1 }, {}, false],
    [{ a: {} }, { a: [] }, false],
  ])('%j in %j -> %s', (want, have, ok) => expect(isSubset(want, have)).toBe(ok));
});

describe('planApply', () => {
  it('creates what is missing, stamped with the hash of what we rendered', () => {
    const step = planApply(sa(), undefined);
    expect(step.action).toBe('create');
    expect(step.object.metadata?.annotations?.[APPLIED_HASH_ANNOTATION]).toBe(objectHash(sa()));
  });

  it('leaves an object alone when it is exactly what we last applied', () => {
    const stored = asStored(planApply(sa(), undefined).object, { secrets: [{ name: 'token' }] });
    expect(planApply(sa(), stored).action).toBe('unchanged');
  });

  it('repairs drift: an edited field gets replaced even though the hash still matches', () => {
    const stored = asStored(planApply(sa({ automountServiceAccountToken: true }), undefined).object);
    const edited = { ...stored, automountServiceAccountToken: false };
    const step = planApply(sa({ automountServiceAccountToken: true }), edited);
    expect(step.action).toBe('update');
    expect(step.object.automountServiceAccountToken).toBe(true);
  });

  it('updates keep the resourceVersion, uid, foreign labels/annotations and fields we do not render', () => {
    const stored = asStored(planApply(sa(), undefined).object, { imagePullSecrets: [{ name: 'regcred' }] });
    stored.metadata!.labels = { ...stored.metadata!.labels, team: 'net' };
    stored.metadata!.annotations = { ...stored.metadata!.annotations, 'example.com/owner': 'ops' };
    stored.metadata!.finalizers = ['example.com/keep'];
    const next = sa();
    next.metadata!.labels!['app.kubernetes.io/version'] = '2.0.0';
    const step = planApply(next, stored);
    expect(step.action).toBe('update');
    expect(step.object.metadata).toMatchObject({
      resourceVersion: '41',
      uid: 'u-1',
      finalizers: ['example.com/keep'],
      labels: { team: 'net', 'app.kubernetes.io/version': '2.0.0' },
      annotations: { 'example.com/owner': 'ops', [APPLIED_HASH_ANNOTATION]: objectHash(next) },
    });
    expect(step.object.imagePullSecrets).toEqual([{ name: 'regcred' }]);
  });

  it('an upgrade (new image) replaces the DaemonSet spec', () => {
    const v1 = renderInstall({ version: '1.0.0' }).find((o) => o.kind === 'DaemonSet')!;
    const v2 = renderInstall({ version: '1.0.0', image: 'example.com/agent:v2' }).find((o) => o.kind === 'DaemonSet')!;
    const stored = asStored(planApply(v1, undefined).object);
    const step = planApply(v2, stored);
    expect(step.action).toBe('update');
    expect(JSON.stringify(step.object.spec)).toContain('example.com/agent:v2');
    expect(JSON.stringify(step.object.spec)).not.toContain('ghcr.io/kubectl-multinic/agent');
  });

  it('never touches a namespace that existed before install', () => {
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system', labels: { 'app.kubernetes.io/managed-by': 'kubectl-multinic' } } };
    const foreign = asStored({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' } } });
    expect(planApply(ns, foreign)).toMatchObject({ action: 'keep', reason: expect.stringContaining('existed before install') });
  });
});

describe('detectCniBinDir', () => {
  const multus = (kind: string, name: string, volumes: unknown[]): KubeObject => ({
    apiVersion: kind === 'Pod' ? 'v1' : 'apps/v1',
    kind,
    metadata: { name, namespace: 'kube-system', labels: { app: 'multus' } },
    spec: kind === 'Pod' ? { volumes } : { template: { spec: { volumes } } },
  });
  const cnibin = (path: string) => ({ name: 'cnibin', hostPath: { path } });

  it('prefers --cni-bin-dir', () => {
    expect(detectCniBinDir('/x/bin', [multus('DaemonSet', 'kube-multus-ds', [cnibin('/opt/cni/bin')])])).toEqual({ path: '/x/bin', source: '--cni-bin-dir' });
  });
  it("takes the Multus DaemonSet's cnibin hostPath (upstream's rule), over a pod's", () => {
    const found = detectCniBinDir(undefined, [
      multus('Pod', 'kube-multus-abc', [cnibin('/pod/path')]),
      multus('DaemonSet', 'kube-multus-ds', [{ name: 'cni', hostPath: { path: '/etc/cni/net.d' } }, cnibin('/var/lib/cni/bin')]),
    ]);
    expect(found).toEqual({ path: '/var/lib/cni/bin', source: 'Multus DaemonSet kube-system/kube-multus-ds (volume cnibin)' });
  });
  it('falls back to a Multus pod, then to /opt/cni/bin', () => {
    expect(detectCniBinDir(undefined, [multus('Pod', 'kube-multus-abc', [cnibin('/pod/path')])]).path).toBe('/pod/path');
    const none = detectCniBinDir(undefined, [multus('DaemonSet', 'ds', [{ name: 'cni', hostPath: { path: '/etc/cni/net.d' } }])]);
    expect(none.path).toBe('/opt/cni/bin');
    expect(none.source).toMatch(/^default/);
  });
});

describe('uninstallOrder and displayName', () => {
  it('removes the workload first and the CRDs last', () => {
    const order = uninstallOrder(renderInstall({ version: '1.0.0' })).map((o) => o.kind);
    expect(order[0]).toBe('DaemonSet');
    expect(order.indexOf('Namespace')).toBeGreaterThan(order.indexOf('ServiceAccount'));
    expect(order.slice(-5)).toEqual(Array(5).fill('CustomResourceDefinition'));
  });
  it('prints kind.group/name like kubectl', () => {
    expect(displayName({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'a' } })).toBe('daemonset.apps/a');
    expect(displayName({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } })).toBe('namespace/n');
  });
});
