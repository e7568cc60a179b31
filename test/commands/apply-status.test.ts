// `apply` and `status` through the built executable against the API stand-in (real HTTP, real
// Kubernetes semantics). Readiness with running agents is covered end to end by the lab test.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import { validateSchema, type JsonSchema } from '../../src/lib/k8s/schema.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { cliBin, repoRoot, runCliAsync } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';

let server: ApiServer;
let dir: string;
let kubeconfig: string;
const seed = join(repoRoot, 'examples/network.yaml');

function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : stringify(content));
  return p;
}
const cli = (args: string[]) => runCliAsync([...args, '--kubeconfig', kubeconfig]);
const networks = () => server.store.list('multinic.fms.io/v1', 'MultiNicNetwork');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mn-apply-'));
  server = await startApiServer();
  kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server.url);
  for (const crd of CRDS) server.store.create(structuredClone(crd) as unknown as KubeObject);
  for (const n of ['host1', 'host2']) server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('apply', () => {
  it('rejects a document that is not a network, naming it, and applies nothing (exit 2)', async () => {
    const f = file('cm.yaml', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } });
    const r = await cli(['apply', '-f', seed, '-f', f, '--no-wait']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cm.yaml#1: ConfigMap "x" is not a MultiNicNetwork or DeviceClass');
    expect(r.stdout).toBe('');
    expect(networks()).toHaveLength(0);
  });

  it('rejects an invalid network with the field and the fix (exit 2)', async () => {
    const doc = readFileSync(seed, 'utf8').replace('strategy: none', 'strategy: bogus');
    const r = await cli(['apply', '-f', file('bad.yaml', doc), '--no-wait']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/spec\.attachPolicy\.strategy/);
    expect(r.stderr).toMatch(/hint: use one of none, devClass, topology, costOpt, perfOpt/);
    expect(networks()).toHaveLength(0);
  });

  it('server dry run changes nothing', async () => {
    const r = await cli(['apply', '-f', seed, '--dry-run=server']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('valid (server dry run)');
    expect(networks()).toHaveLength(0);
  });

  it('creates, then reports unchanged, then configured', async () => {
    const first = await cli(['apply', '-f', seed, '--no-wait']);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('multinicnetwork.multinic.fms.io/multi-nic-sample created');
    expect(networks().map((n) => n.metadata?.name)).toEqual(['multi-nic-sample']);
    const again = await cli(['apply', '-f', seed, '--no-wait']);
    expect(again.stderr).toContain('multi-nic-sample unchanged');
    const changed = readFileSync(seed, 'utf8').replace('"hostBlock": 6', '"hostBlock": 5');
    const third = await cli(['apply', '-f', file('changed.yaml', changed), '--no-wait']);
    expect(third.code).toBe(0);
    expect(third.stderr).toContain('multi-nic-sample configured');
    expect(String((networks()[0] as { spec: { ipam: string } }).spec.ipam)).toContain('"hostBlock": 5');
  });

  it('refuses two networks of one file whose subnets overlap, naming both, and writes nothing (exit 2)', async () => {
    const doc = (name: string, subnet: string) => readFileSync(seed, 'utf8').replace('name: multi-nic-sample', `name: ${name}`).replace('"192.168.0.0/16"', `"${subnet}"`);
    const f = file('pair.yaml', `${doc('fab-a', '10.50.0.0/16')}---\n${doc('fab-b', '10.50.4.0/22')}`);
    const before = networks().map((n) => n.metadata?.resourceVersion);
    const r = await cli(['apply', '-f', f, '--no-wait']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pair\.yaml#2 \(MultiNicNetwork "fab-b"\): spec\.subnet: 10\.50\.4\.0\/22 overlaps subnet 10\.50\.0\.0\/16 of MultiNicNetwork "fab-a" \(defined in .*pair\.yaml#1\)/);
    expect(r.stderr).toMatch(/hint: give "fab-b" a subnet that no other network uses/);
    expect(networks().map((n) => n.metadata?.resourceVersion)).toEqual(before);
  });

  it('refuses a network whose subnet overlaps one already in the cluster (exit 2, nothing written)', async () => {
    const doc = readFileSync(seed, 'utf8').replace('name: multi-nic-sample', 'name: second').replace('"192.168.0.0/16"', '"192.168.128.0/17"');
    const r = await cli(['apply', '-f', file('second.yaml', doc), '--no-wait']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/MultiNicNetwork "second"\): spec\.subnet: 192\.168\.128\.0\/17 overlaps subnet 192\.168\.0\.0\/16 of MultiNicNetwork "multi-nic-sample" \(already in the cluster\)/);
    expect(networks().map((n) => n.metadata?.name)).toEqual(['multi-nic-sample']);
    // The same subnet elsewhere is fine.
    const ok = await cli(['apply', '-f', file('third.yaml', doc.replace('"192.168.128.0/17"', '"172.29.0.0/16"')), '--no-wait']);
    expect(ok.code).toBe(0);
    server.store.delete('multinic.fms.io/v1', 'MultiNicNetwork', 'second');
  });

  it('refuses an attach-mode change while pods hold addresses in the network unless --force', async () => {
    const live = networks()[0] as { spec: unknown };
    server.store.create({
      apiVersion: 'multinic.fms.io/v1',
      kind: 'IPPool',
      metadata: { name: 'multi-nic-sample-192.168.0.0-24' },
      spec: { podCIDR: '192.168.0.0/24', vlanCIDR: '192.168.0.0/18', netAttachDef: 'multi-nic-sample', hostName: 'host1', interfaceName: 'eth1', excludes: [], allocations: [{ pod: 'trainer-0', namespace: 'ml', index: 1, address: '192.168.0.1' }] },
    } as KubeObject);
    try {
      const macvlan = readFileSync(seed, 'utf8').replace('"hostBlock": 6', '"hostBlock": 5').replace('type: ipvlan', 'type: macvlan').replace('mode: l3', 'mode: bridge');
      const f = file('macvlan.yaml', macvlan);
      const r = await cli(['apply', '-f', f, '--no-wait']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/MultiNicNetwork "multi-nic-sample"\): changes the attach mode from ipvlan mode l3 vlanMode l3 to macvlan mode bridge vlanMode l3 while 1 pod\(s\) on 1 host\(s\) hold addresses in it \(ml\/trainer-0\)/);
      expect(r.stderr).toMatch(/hint: delete the pods attached to "multi-nic-sample" first, or apply with --force/);
      expect((networks()[0] as { spec: unknown }).spec).toEqual(live.spec);
      // Other changes of a network with pods are not held back.
      const hb = await cli(['apply', '-f', file('hb.yaml', readFileSync(seed, 'utf8').replace('"hostBlock": 6', '"hostBlock": 4')), '--no-wait']);
      expect(hb.code).toBe(0);
      const forced = await cli(['apply', '-f', f, '--no-wait', '--force']);
      expect(forced.code).toBe(0);
      expect(forced.stderr).toMatch(/warning: .*changes the attach mode .*\(applied anyway: --force\)/);
      expect((networks()[0] as { spec: { plugin: { type: string } } }).spec.plugin.type).toBe('macvlan');
    } finally {
      server.store.delete('multinic.fms.io/v1', 'IPPool', 'multi-nic-sample-192.168.0.0-24');
    }
  });

  it('waits, then says what it is still waiting for and exits 1 when nothing becomes ready', async () => {
    const r = await cli(['apply', '-f', seed, '--timeout', '1500ms']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not ready after 1500ms/);
    expect(r.stderr).toMatch(/multi-nic-sample: no CIDR yet/);
  });

  it('stops waiting at once when the network cannot become ready as specified (the leader refused its overlapping subnet), exit 1', async () => {
    const run = cli(['apply', '-f', seed, '--timeout', '5m']);
    // Play the leader: refuse the network for its current generation.
    const net = () => networks().find((n) => n.metadata?.name === 'multi-nic-sample');
    await eventually(() => expect(net()).toBeDefined(), 30_000, 100);
    const generation = net()?.metadata?.generation;
    const refused = 'Refused multi-nic-sample: subnet 192.168.0.0/16 overlaps network "older" (192.168.0.0/17)';
    server.store.patch('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample', '', 'merge', {
      status: { configStatus: 'Failed', message: refused, observedGeneration: generation, conditions: [{ type: 'ConfigReady', status: 'False', reason: 'SubnetOverlap', message: refused, lastTransitionTime: new Date().toISOString() }] },
    }, 'status');
    try {
      const r = await run;
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: stopped waiting: multi-nic-sample: ${refused}`);
      expect(r.stderr).not.toMatch(/not ready after/);
    } finally {
      server.store.patch('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample', '', 'merge', { status: { configStatus: null, message: null, observedGeneration: null, conditions: null } }, 'status');
    }
  });

  it('exits 3 naming the address when the cluster is unreachable', async () => {
    const port = await closedPort();
    const kc = join(dir, 'dead-kubeconfig');
    await writeKubeconfig(kc, `http://127.0.0.1:${port}`);
    const r = await runCliAsync(['apply', '-f', seed, '--kubeconfig', kc]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
  });
});

describe('plan without --inventory reads the cluster', () => {
  it('says no agent has published NICs yet (exit 2), then plans over the published HostInterfaces', async () => {
    const none = await cli(['plan', '-f', seed]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no HostInterfaces in the cluster');
    const inv = parse(readFileSync(join(repoRoot, 'examples/hosts.yaml'), 'utf8')) as { items: KubeObject[] };
    for (const h of inv.items) server.store.create(h);
    try {
      const r = await cli(['plan', '-f', seed, '-o', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const cidr = JSON.parse(r.stdout) as { spec: { cidr: Array<{ hosts: Array<{ hostName: string; podCIDR: string }> }> } };
      expect(cidr.spec.cidr.map((e) => e.hosts.map((h) => `${h.hostName}=${h.podCIDR}`))).toEqual([
        ['host1=192.168.0.0/24', 'host2=192.168.1.0/24'],
        ['host1=192.168.64.0/24', 'host2=192.168.65.0/24'],
      ]);
    } finally {
      for (const h of inv.items) server.store.delete('multinic.fms.io/v1', 'HostInterface', h.metadata?.name ?? '');
    }
  });

  it('names the NICs DRA ResourceClaims hold per host (CLAIMED BY, the held-nics annotation of -o json); offline it says nothing of claims', async () => {
    const inv = parse(readFileSync(join(repoRoot, 'examples/hosts.yaml'), 'utf8')) as { items: KubeObject[] };
    for (const h of inv.items) server.store.create(h);
    try {
      const devices = [{ name: 'eth1', attributes: { interfaceName: { string: 'eth1' } } }, { name: 'eth2', attributes: { interfaceName: { string: 'eth2' } } }];
      for (const n of ['host1', 'host2']) {
        server.store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: `${n}-multinic.fms.io` }, spec: { driver: 'multinic.fms.io', nodeName: n, pool: { name: n, generation: 1, resourceSliceCount: 1 }, devices } } as unknown as KubeObject);
      }
      // Allocated and reserved as the scheduler leaves them: one claim with both NICs of host2, one
      // with eth1 of host1; a third allocated but reserved for no pod holds nothing yet.
      const claim = (name: string, results: Array<[string, string]>, pods: string[]) => {
        const c = server.store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name, namespace: 'default' }, spec: { devices: { requests: [{ name: 'nics', exactly: { deviceClassName: 'multi-nic-sample.multinic.fms.io', count: results.length } }] } } } as unknown as KubeObject);
        server.store.updateStatus({ ...c, status: { allocation: { devices: { results: results.map(([pool, device]) => ({ request: 'nics', driver: 'multinic.fms.io', pool, device })) } }, reservedFor: pods.map((p) => ({ resource: 'pods', name: p, uid: `u-${p}` })) } });
      };
      claim('two-nics', [['host2', 'eth2'], ['host2', 'eth1']], ['trainer-1']);
      claim('one-nic', [['host1', 'eth1']], ['trainer-0']);
      claim('unreserved', [['host1', 'eth2']], []);
      const table = await cli(['plan', '-f', seed]);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/^HOST +#0 10\.0\.1\.0\/24 +#1 10\.0\.2\.0\/24 +CLAIMED BY$/m);
      expect(table.stdout).toMatch(/^host1 .* eth1: default\/trainer-0 \(claim default\/one-nic\)$/m);
      expect(table.stdout).toMatch(/^host2 .* eth1,eth2: default\/trainer-1 \(claim default\/two-nics\)$/m);

      const json = await cli(['plan', '-f', seed, '-o', 'json']);
      expect(json.code, json.stderr).toBe(0);
      const doc = JSON.parse(json.stdout) as { metadata: { annotations?: Record<string, string> } };
      const planSchema = JSON.parse(readFileSync(join(repoRoot, 'schemas/planresult.json'), 'utf8')) as JsonSchema & { $defs: { heldNics: JsonSchema } };
      expect(validateSchema(planSchema, doc)).toEqual([]);
      const held = JSON.parse(doc.metadata.annotations?.['multinic.fms.io/held-nics'] ?? 'null') as unknown;
      expect(validateSchema(planSchema.$defs.heldNics, held)).toEqual([]);
      expect(held).toEqual([
        { claim: 'default/one-nic', host: 'host1', nic: 'eth1', pods: ['default/trainer-0'] },
        { claim: 'default/two-nics', host: 'host2', nic: 'eth1', pods: ['default/trainer-1'] },
        { claim: 'default/two-nics', host: 'host2', nic: 'eth2', pods: ['default/trainer-1'] },
      ]);
      // The schema's form can fail: a held NIC without pods.
      expect(validateSchema(planSchema.$defs.heldNics, [{ claim: 'default/x', host: 'h', nic: 'eth1', pods: [] }]).map((e) => e.field)).toEqual(['<root>[0].pods']);

      // Offline (an inventory file) plan reads no cluster, so it says nothing about claims.
      const offline = await cli(['plan', '-f', seed, '--inventory', join(repoRoot, 'examples/hosts.yaml'), '-o', 'json']);
      expect(offline.code, offline.stderr).toBe(0);
      expect((JSON.parse(offline.stdout) as { metadata: { annotations?: unknown } }).metadata.annotations).toBeUndefined();
      expect((await cli(['plan', '-f', seed, '--inventory', join(repoRoot, 'examples/hosts.yaml')])).stdout).not.toMatch(/CLAIMED BY/);
    } finally {
      for (const c of server.store.list('resource.k8s.io/v1', 'ResourceClaim', 'default')) server.store.delete('resource.k8s.io/v1', 'ResourceClaim', c.metadata?.name ?? '', 'default');
      for (const c of server.store.list('resource.k8s.io/v1', 'ResourceSlice')) server.store.delete('resource.k8s.io/v1', 'ResourceSlice', c.metadata?.name ?? '');
      for (const h of inv.items) server.store.delete('multinic.fms.io/v1', 'HostInterface', h.metadata?.name ?? '');
    }
  });

  it('without a kubeconfig exits 3 and says where it looked', async () => {
    const r = await runCliAsync(['plan', '-f', seed], { env: { KUBECONFIG: join(dir, 'missing-kubeconfig') } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no kubeconfig found at');
    expect(r.stderr).toContain('--inventory');
  });
});

describe('status', () => {
  it('prints a StatusReport matching its schema, and exits 1 while agents are missing', async () => {
    const r = await cli(['status', '-o', 'json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { kind: string; ready: boolean; networks: Array<{ name: string; ready: boolean; problems: string[] }>; nodes: Array<{ name: string; published: boolean }> };
    const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas/statusreport.json'), 'utf8')) as JsonSchema;
    expect(validateSchema(schema, report)).toEqual([]);
    expect(report.kind).toBe('StatusReport');
    expect(report.ready).toBe(false);
    expect(report.nodes.map((n) => [n.name, n.published])).toEqual([['host1', false], ['host2', false]]);
    expect(report.networks[0]?.problems[0]).toMatch(/no CIDR yet/);
  });

  it('--wait waits through an API that is not reachable yet, then reports (exit 1, not 3)', async () => {
    const port = await closedPort();
    const kc = join(dir, 'late-kubeconfig');
    await writeKubeconfig(kc, `http://127.0.0.1:${port}`);
    const child = spawn(process.execPath, [cliBin, 'status', '--wait', '--timeout', '20s', '--kubeconfig', kc], { env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    let late: ApiServer | undefined;
    try {
      await eventually(() => expect(stderr).toContain('API unreachable, retrying until the timeout'), 20_000, 100);
      late = await startApiServer({ port });
      for (const crd of CRDS) late.store.create(structuredClone(crd) as unknown as KubeObject);
      expect(await exited).toBe(1);
      expect(stderr).toMatch(/error: not ready after 20s/);
    } finally {
      child.kill();
      await late?.close();
    }
  });

  it('names an unknown network and lists the real ones (exit 2)', async () => {
    const r = await cli(['status', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('MultiNicNetwork "nope" not found');
    expect(r.stderr).toContain('multi-nic-sample');
  });

  it('says how to install when the CRDs are missing (exit 2)', async () => {
    const bare = await startApiServer();
    try {
      const kc = join(dir, 'bare-kubeconfig');
      await writeKubeconfig(kc, bare.url);
      const r = await runCliAsync(['status', '--kubeconfig', kc]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('hint: install it first: kubectl multinic install');
    } finally {
      await bare.close();
    }
  });

  it('names the ResourceClaim and pod holding a NIC (DRA), in -o json and a CLAIMED BY column', async () => {
    server.store.create({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: 'host1' }, spec: { hostName: 'host1', interfaces: [{ interfaceName: 'eth1', netAddress: '10.0.1.0/24', hostIP: '10.0.1.1' }, { interfaceName: 'eth2', netAddress: '10.0.2.0/24', hostIP: '10.0.2.1' }] } } as unknown as KubeObject);
    server.store.create({
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: 'host1-multinic.fms.io' },
      spec: { driver: 'multinic.fms.io', nodeName: 'host1', pool: { name: 'host1', generation: 1, resourceSliceCount: 1 }, devices: [{ name: 'eth1', attributes: { interfaceName: { string: 'eth1' } } }, { name: 'eth2', attributes: { interfaceName: { string: 'eth2' } } }] },
    } as unknown as KubeObject);
    // A claim as the scheduler leaves it: created, then allocated and reserved through its status.
    const claim = server.store.create({
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'trainer-nics', namespace: 'default' },
      spec: { devices: { requests: [{ name: 'nics', exactly: { deviceClassName: 'multi-nic-sample.multinic.fms.io', count: 1 } }] } },
    } as unknown as KubeObject);
    server.store.updateStatus({
      ...claim,
      status: { allocation: { devices: { results: [{ request: 'nics', driver: 'multinic.fms.io', pool: 'host1', device: 'eth2' }] } }, reservedFor: [{ resource: 'pods', name: 'trainer-0', uid: 'u-trainer-0' }] },
    });
    try {
      const json = await cli(['status', '-o', 'json']);
      const report = JSON.parse(json.stdout) as { nodes: Array<{ name: string; nics: Array<{ name: string; claim?: string; claimedBy?: string[] }> }> };
      const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas/statusreport.json'), 'utf8')) as JsonSchema;
      expect(validateSchema(schema, report)).toEqual([]);
      expect(report.nodes.find((n) => n.name === 'host1')?.nics).toMatchObject([{ name: 'eth1' }, { name: 'eth2', claim: 'default/trainer-nics', claimedBy: ['default/trainer-0'] }]);
      expect(report.nodes.find((n) => n.name === 'host1')?.nics[0]).not.toHaveProperty('claim');
      const table = await cli(['status']);
      expect(table.stdout).toMatch(/CLAIMED BY/);
      expect(table.stdout).toMatch(/eth2 .*default\/trainer-0 \(claim default\/trainer-nics\)/);
    } finally {
      server.store.delete('resource.k8s.io/v1', 'ResourceClaim', 'trainer-nics', 'default');
      server.store.delete('resource.k8s.io/v1', 'ResourceSlice', 'host1-multinic.fms.io');
      server.store.delete('multinic.fms.io/v1', 'HostInterface', 'host1');
    }
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
