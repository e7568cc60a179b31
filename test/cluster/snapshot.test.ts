// The lists a snapshot may do without (src/cluster/snapshot.ts optionalList), against the API
// stand-in with its fault injection: an API the cluster does not serve (404) is an empty list, a
// DRA list the user may not read (403) is named in draUnreadable, anything else fails the gather.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gatherDoctorSnapshot, gatherSnapshot } from '../../src/cluster/snapshot.js';
import { ApiError } from '../../src/kube/api.js';
import { ClusterUnreachableError } from '../../src/lib/errors.js';
import { createNode, seedNetwork, createNetwork, testCluster, type TestCluster } from '../agent/kube/helpers.js';

let c: TestCluster;

beforeAll(async () => {
  c = await testCluster();
  createNode(c, 'n1');
  createNetwork(c, seedNetwork());
  c.server.store.create({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'multi-nic-sample', namespace: 'default' }, spec: { config: '{}' } } as never);
}, 30_000);
afterAll(() => c?.close());
afterEach(() => c.server.faults.clear());

const doctor = () => gatherDoctorSnapshot(c.api, { cliVersion: 'test', probeTimeoutMs: 0 });
const fail = (path: RegExp, code: number, message?: string) => c.server.faults.fail({ method: 'GET', path, code, times: Infinity, ...(message ? { message } : {}) });

describe('optional lists of a snapshot', () => {
  it('without faults: the NAD is there, DRA lists are read for doctor and left out of the plain gather', async () => {
    const d = await doctor();
    expect(d.nads.map((n) => n.metadata?.name)).toEqual(['multi-nic-sample']);
    expect(d.networks.map((n) => n.metadata.name)).toEqual(['multi-nic-sample']);
    expect(d.draClaims).toEqual([]);
    expect(d.draUnreadable).toBeUndefined();
    const s = await gatherSnapshot(c.api);
    expect('draClaims' in s).toBe(false);
  });

  it.each([
    ['no DaemonSets API', /\/apis\/apps\/v1\/daemonsets/, (d: Awaited<ReturnType<typeof doctor>>) => expect(d.daemonSets).toEqual([])],
    ['no Multus CRD', /\/apis\/k8s\.cni\.cncf\.io\/v1\/network-attachment-definitions/, (d: Awaited<ReturnType<typeof doctor>>) => expect(d.nads).toEqual([])],
    ['no resource.k8s.io/v1', /\/apis\/resource\.k8s\.io\/v1\//, (d: Awaited<ReturnType<typeof doctor>>) => expect([d.draClaims, d.draSlices, d.draUnreadable]).toEqual([[], [], undefined])],
  ])('404, %s: an empty list, the rest gathered', async (_name, path, check) => {
    const f = fail(path, 404);
    const d = await doctor();
    expect(f.hits).toBeGreaterThan(0);
    check(d);
    expect(d.networks).toHaveLength(1);
  });

  // The client turns a 403 into ClusterUnreachableError (exit 3 elsewhere) carrying the status and
  // the API's message (src/kube/client.ts toApiError, forbiddenMessage in src/kube/api.ts).
  it('403 on a DRA list: doctor goes on without it and says why', async () => {
    fail(/\/apis\/resource\.k8s\.io\/v1\/resourceclaims/, 403, 'resourceclaims.resource.k8s.io is forbidden: User "u" cannot list resource "resourceclaims"');
    const d = await doctor();
    expect(d.draClaims).toEqual([]);
    expect(d.draUnreadable).toEqual(['resourceclaims: resourceclaims.resource.k8s.io is forbidden: User "u" cannot list resource "resourceclaims"']);
  });

  it.each([
    ['403 on DaemonSets', /\/apis\/apps\/v1\/daemonsets/],
    ['403 on NADs', /network-attachment-definitions/],
  ])('%s fails the gather: the API refused the user (exit 3, the RBAC hint)', async (_name, path) => {
    fail(path, 403);
    const err = await doctor().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterUnreachableError);
    expect((err as ClusterUnreachableError).message).toMatch(/refused the request \(403 Forbidden\): injected fault: 403 Forbidden$/);
  });

  it.each([
    ['500 on a DRA list', /\/apis\/resource\.k8s\.io\/v1\/resourceslices/, 500],
    ['404 on MultiNicNetworks (a required list)', /\/apis\/multinic\.fms\.io\/v1\/multinicnetworks/, 404],
  ])('%s fails the gather with the API error', async (_name, path, code) => {
    fail(path, code);
    const err = await doctor().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(code);
  });
});
