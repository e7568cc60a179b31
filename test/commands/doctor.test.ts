// `doctor`, `doctor pod` and `ipam show|check` through the built executable against the API
// stand-in, seeded with the healthy snapshot of test/lib/doctor/fixtures.ts; a scripted agent answers
// the on-demand probe as the contract says (nonce in, diagnostics with that nonce out). Exit codes,
// the DoctorReport schema, and one fault at a time.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import { PROBE_REQUEST_ANNOTATION } from '../../src/lib/diagnostics/types.js';
import type { DoctorReport } from '../../src/lib/doctor/types.js';
import { CHECKS } from '../../src/lib/doctor/registry.js';
import { nadCrd } from '../../src/lib/install/nad-crd.js';
import { validateSchema, type JsonSchema } from '../../src/lib/k8s/schema.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { repoRoot, runCliAsync } from '../helpers/cli.js';
import { healthy } from '../lib/doctor/fixtures.js';

/** doctor runs every check of the registry but the pod group's. */
const CLUSTER_CHECKS = CHECKS.filter((c) => c.group !== 'pod').length;

let server: ApiServer;
let dir: string;
let kubeconfig: string;
let answering = new Set<string>();
let responder: NodeJS.Timeout | undefined;
const HI = ['multinic.fms.io/v1', 'HostInterface'] as const;

const cli = (args: string[]) => runCliAsync([...args, '--kubeconfig', kubeconfig]);
const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas/doctorreport.json'), 'utf8')) as JsonSchema;
const ipamSchema = JSON.parse(readFileSync(join(repoRoot, 'schemas/ipamreport.json'), 'utf8')) as JsonSchema;

function report(stdout: string): DoctorReport {
  const r = JSON.parse(stdout) as DoctorReport;
  expect(validateSchema(schema, r)).toEqual([]);
  return r;
}

/** Creates `obj` as the API would store it, then its status (create ignores status on CRDs with the subresource). */
function seed(obj: KubeObject): KubeObject {
  const { status, ...rest } = obj as KubeObject & { status?: unknown };
  const made = server.store.create(structuredClone(rest) as KubeObject);
  if (status === undefined) return made;
  return server.store.updateStatus({ ...made, status } as KubeObject);
}

/** The cluster of the healthy fixture, with the stand-in's own UIDs written through. */
function seedHealthy(): void {
  const s = healthy();
  for (const crd of s.crds) {
    const c = structuredClone(crd) as KubeObject & { spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { status?: { properties: Record<string, unknown> } } } } }> } };
    // Until the agent's diagnostics schema is in deploy/crds, keep the block the API would otherwise prune.
    const st = c.metadata?.name === 'hostinterfaces.multinic.fms.io' ? c.spec.versions[0]?.schema.openAPIV3Schema.properties.status : undefined;
    if (st && !st.properties.diagnostics) st.properties.diagnostics = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    seed(c);
  }
  seed(nadCrd({}));
  seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'multinic-system' } });
  const uids = new Map<string, string>();
  for (const o of [...s.networks, ...s.pods]) uids.set(o.metadata!.uid!, seed(o as KubeObject).metadata!.uid!);
  const rewrite = (o: unknown): KubeObject => {
    let text = JSON.stringify(o);
    for (const [from, to] of uids) text = text.replaceAll(`"${from}"`, `"${to}"`);
    return JSON.parse(text) as KubeObject;
  };
  for (const o of [...s.nodes, ...s.cidrs, ...s.ippools, ...s.hostInterfaces, ...s.allDaemonSets]) seed(rewrite(o));
  // The leader puts the network's NAD into every namespace (spec.namespaces is empty).
  for (const ns of server.store.list('v1', 'Namespace')) seed(rewrite({ ...s.nads[0], metadata: { ...s.nads[0]!.metadata, namespace: ns.metadata!.name } }));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mn-doctor-'));
  server = await startApiServer();
  kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server.url);
  seedHealthy();
  // The agents' side of the probe contract, for the nodes in `answering`.
  responder = setInterval(() => {
    for (const hi of server.store.list(...HI)) {
      const name = hi.metadata!.name!;
      const nonce = hi.metadata?.annotations?.[PROBE_REQUEST_ANNOTATION];
      const d = (hi.status as { diagnostics?: Record<string, unknown> } | undefined)?.diagnostics;
      if (!answering.has(name) || !nonce || !d || d.nonce === nonce) continue;
      server.store.updateStatus({ ...hi, status: { ...(hi.status as object), diagnostics: { ...d, nonce, observedAt: new Date().toISOString() } } } as KubeObject);
    }
  }, 50);
});
afterAll(async () => {
  if (responder) clearInterval(responder);
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  answering = new Set(['host1', 'host2']);
});

describe('doctor', () => {
  it('a healthy cluster: exit 0, one summary line, nothing to report; every agent answered the probe', async () => {
    const r = await cli(['doctor']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`doctor: OK: 2 nodes, 1 network, ${CLUSTER_CHECKS} checks; 0 failed, 0 warnings, 0 notes, 2/2 agents answered the probe`);
    const j = await cli(['doctor', '-o', 'json']);
    expect(j.code).toBe(0);
    const rep = report(j.stdout);
    expect([rep.kind, rep.healthy, rep.findings, rep.summary.answered]).toEqual(['DoctorReport', true, [], 2]);
  }, 60_000);

  it('an agent that does not answer: a warning naming it, its older diagnostics used with their age (exit 0; --strict 1)', async () => {
    answering = new Set(['host1']);
    const r = await cli(['doctor', '--timeout', '1s', '-o', 'json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const rep = report(r.stdout);
    expect(rep.findings.map((f) => [f.check, f.severity, f.where])).toEqual([['agent-diagnostics', 'warn', { node: 'host2' }]]);
    expect(rep.findings[0]?.seen).toMatch(/^agent on host2 did not answer the probe; using its diagnostics from \d+[smhd] ago/);
    const strict = await cli(['doctor', '--timeout', '1s', '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/^doctor: FAILED \(--strict: warnings\)/);
    expect(strict.stdout).toContain('WARNINGS (1)\n  ! [agent-diagnostics] node host2: agent on host2 did not answer the probe');
  }, 60_000);

  it('a deleted NAD: exit 1, the fault named with where and fix, grouped under FAILURES', async () => {
    const nad = server.store.get('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', 'net-a', 'default')!;
    server.store.delete('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', 'net-a', 'default');
    try {
      const r = await cli(['doctor']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(new RegExp(`^doctor: FAILED: 2 nodes, 1 network, ${CLUSTER_CHECKS} checks; 1 failed, 0 warnings`));
      expect(r.stdout).toContain('FAILURES (1)\n  ✗ [network-nads] network net-a: NetworkAttachmentDefinition net-a is missing in namespace default');
      expect(r.stdout).toMatch(/\n {6}cause: .*\n {6}fix: {3}/);
      // Scoped to another node the network finding stays (it is about no node in particular).
      const scoped = await cli(['doctor', '--node', 'host1', '--timeout', '0', '-o', 'json']);
      expect(report(scoped.stdout).findings.map((f) => f.check)).toEqual(['network-nads']);
    } finally {
      const { resourceVersion: _rv, uid: _uid, creationTimestamp: _c, ...meta } = nad.metadata!;
      seed({ ...nad, metadata: meta });
    }
  }, 60_000);

  it('an unknown --network or --node is a usage error (exit 2) naming the known ones', async () => {
    const r = await cli(['doctor', '--network', 'nope', '--timeout', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: --network nope: not found');
    expect(r.stderr).toContain('hint: known: net-a');
  }, 60_000);

  it('an unreachable cluster: exit 3', async () => {
    const r = await runCliAsync(['doctor', '--kubeconfig', join(dir, 'missing')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no kubeconfig found at');
  }, 60_000);
});

describe('doctor pod', () => {
  it('a healthy pod: exit 0; a pod with a bad annotation: exit 1 naming the JSON position', async () => {
    const ok = await cli(['doctor', 'pod', 'default/p1', '--timeout', '0']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toMatch(/^doctor: OK: pod default\/p1, 4 checks/);
    seed({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': '[{"name": net-a}]' } }, spec: { nodeName: 'host1', containers: [{ name: 'c', image: 'x' }] } });
    const bad = await cli(['doctor', 'pod', 'default/bad', '--timeout', '0', '-o', 'json']);
    expect(bad.code).toBe(1);
    const rep = report(bad.stdout);
    expect(rep.scope).toEqual({ pod: 'default/bad' });
    expect(rep.findings.map((f) => f.check)).toEqual(['pod-annotation']);
    expect(rep.findings[0]?.seen).toMatch(/is not valid JSON at line 1 column 12 \(position 11\): /);
  }, 60_000);

  it('a pod whose sandbox failed: its event mapped to our CNI code', async () => {
    seed({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stuck', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': 'net-a' } }, spec: { nodeName: 'host2', containers: [{ name: 'c', image: 'x' }] } });
    seed({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'stuck.1', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'stuck', namespace: 'default' }, reason: 'FailedCreatePodSandBox', type: 'Warning', message: 'Failed to create pod sandbox: plugin type="multi-nic" name="default/net-a" failed (add): failed to allocate: agent: network "net-a" is not known to the agent on host2', count: 2 } as KubeObject);
    const r = await cli(['doctor', 'pod', 'stuck', '-n', 'default', '--timeout', '0']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\[pod-events\] node host2, pod default\/stuck: FailedCreatePodSandBox x2: .* \[code 104: unknown network\]/);
  }, 60_000);

  it('rejects a pod reference that is not NAMESPACE/NAME (exit 2)', async () => {
    const r = await cli(['doctor', 'pod', 'a/b/c']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pod "a/b/c" is not NAMESPACE/NAME');
  }, 60_000);
});

describe('ipam', () => {
  it('show: blocks per host x NIC with the one capacity (253: the L3 gateway is reserved); -o json matches its schema', async () => {
    const r = await cli(['ipam', 'show', '--node', 'host1']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NETWORK +NODE +NIC +POD BLOCK +USED +CAPACITY +USE +RESERVED +POOL$/);
    expect(lines.slice(1).map((l) => l.split(/ +/).slice(0, 8))).toEqual([
      ['net-a', 'host1', 'eth1', '192.168.0.0/24', '1', '253', '0%', '192.168.0.1'],
      ['net-a', 'host1', 'eth2', '192.168.64.0/24', '0', '253', '0%', '192.168.64.1'],
    ]);
    const wide = await cli(['ipam', 'show', '-o', 'wide', '--network', 'net-a']);
    expect(wide.stdout).toMatch(/\n192\.168\.0\.2 +default\/p1 +\S+ +c-p1 +net1-0 +host1\/eth1 +ok\n/);
    const j = await cli(['ipam', 'show', '-o', 'json']);
    const rep = JSON.parse(j.stdout) as { kind: string; pools: unknown[] };
    expect(validateSchema(ipamSchema, rep)).toEqual([]);
    expect([rep.kind, rep.pools.length]).toEqual(['IpamReport', 4]);
  }, 60_000);

  it('check: exit 0 when consistent; a leaked allocation (its pod deleted without DEL) exits 1 naming it', async () => {
    const ok = await cli(['ipam', 'check']);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout.trim()).toMatch(/^ipam check: OK: .* 4 checks/);
    const p2 = server.store.get('v1', 'Pod', 'p2', 'default')!;
    server.store.delete('v1', 'Pod', 'p2', 'default');
    const r = await cli(['ipam', 'check', '-o', 'json']);
    expect(r.code).toBe(1);
    const rep = report(r.stdout);
    expect(rep.findings.map((f) => [f.check, f.where.pod, f.where.node])).toEqual([['ipam-leaked', 'default/p2', 'host2']]);
    expect(rep.findings[0]?.seen).toBe(`192.168.1.2 in net-a-192.168.1.0-24 is held by pod default/p2 net1-0 (uid ${p2.metadata!.uid}), which no longer exists`);
    const show = await cli(['ipam', 'show', '-o', 'wide', '--node', 'host2']);
    expect(show.stdout).toMatch(/192\.168\.1\.2 +default\/p2 .* leaked/);
  }, 60_000);
});
