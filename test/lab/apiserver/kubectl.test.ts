// The real installed kubectl against the stand-in: discovery, /openapi/v3 (kubectl's default
// server-side field validation), client-side apply (GET, then a patch carrying the last-applied
// annotation), `get -o yaml`, `get -w`, `logs`, `delete`. Skipped, with the reason, without kubectl.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { writeKubeconfig } from '../../../src/lab/kubeconfig.js';
import type { ApiServer } from '../../../src/lab/apiserver/index.js';
import { eventually, standIn } from './helpers.js';

const kubectlMissing = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return '';
  } catch {
    return 'kubectl is not installed';
  }
})();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(kubectlMissing !== '')(`real kubectl against the stand-in ${kubectlMissing}`, () => {
  let server: ApiServer;
  let dir: string;
  let kubeconfig: string;
  const kubectl = (...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  const ok = async (...args: string[]): Promise<string> => {
    const r = await kubectl(...args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  /** examples/network.yaml with another attachPolicy strategy. */
  const network = (strategy: string): string => {
    const p = join(dir, `network-${strategy}.yaml`);
    const text = readFileSync('examples/network.yaml', 'utf8');
    expect(text).toContain('strategy: none');
    writeFileSync(p, text.replace('strategy: none', `strategy: ${strategy}`));
    return p;
  };

  beforeAll(async () => {
    ({ server } = await standIn());
    dir = mkdtempSync(join(tmpdir(), 'mn-apiserver-kubectl-'));
    kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, server.url);
  });
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports the server version and serves discovery', async () => {
    expect(await ok('version')).toContain('Server Version: v1.32.0');
    const resources = await ok('api-resources', '-o', 'name');
    expect(resources.split('\n')).toEqual(expect.arrayContaining(['pods', 'namespaces', 'daemonsets.apps', 'leases.coordination.k8s.io', 'customresourcedefinitions.apiextensions.k8s.io']));
  });

  it('applies the CRDs and the example network, then re-applies unchanged and modified', async () => {
    const crds = await ok('apply', '-f', 'deploy/crds/');
    expect(crds.trim().split('\n')).toHaveLength(6);
    expect(crds).toContain('customresourcedefinition.apiextensions.k8s.io/cidrclaims.multinic.fms.io created');
    expect(crds).toContain('customresourcedefinition.apiextensions.k8s.io/multinicnetworks.multinic.fms.io created');

    expect(await ok('apply', '-f', 'examples/network.yaml')).toBe('multinicnetwork.multinic.fms.io/multi-nic-sample created\n');
    const first = server.store.get('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample');
    expect(first?.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toContain('"strategy":"none"');

    const again = await kubectl('apply', '-f', 'examples/network.yaml');
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe('multinicnetwork.multinic.fms.io/multi-nic-sample unchanged\n');
    expect(server.store.get('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample')?.metadata?.resourceVersion).toBe(first?.metadata?.resourceVersion);

    const modified = await kubectl('apply', '-f', network('costOpt'));
    expect(modified.stderr).toBe('');
    expect(modified.stdout).toBe('multinicnetwork.multinic.fms.io/multi-nic-sample configured\n');
    const now = server.store.get('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample');
    expect((now?.spec as { attachPolicy: { strategy: string } }).attachPolicy.strategy).toBe('costOpt');
    expect(now?.metadata?.generation).toBe(2);
    expect(now?.metadata?.uid).toBe(first?.metadata?.uid);
  });

  it('rejects an invalid network with the server-side validation message', async () => {
    const r = await kubectl('apply', '-f', network('bogus'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('spec.attachPolicy.strategy: Unsupported value: "bogus"');
  });

  it('prints objects with get -o yaml and as a table', async () => {
    const doc = parse(await ok('get', 'multinicnetworks', '-o', 'yaml')) as { kind: string; items: Array<{ kind: string; metadata: { name: string }; spec: { subnet: string } }> };
    expect(doc.kind).toBe('List');
    expect(doc.items.map((i) => [i.kind, i.metadata.name, i.spec.subnet])).toEqual([['MultiNicNetwork', 'multi-nic-sample', '192.168.0.0/16']]);
    const table = await ok('get', 'mnn');
    expect(table.split('\n')[0]).toMatch(/^NAME\s+SUBNET/);
    expect(table).toMatch(/multi-nic-sample\s+192\.168\.0\.0\/16\s+ipvlan/);
  });

  it('applies built-ins twice with strategic merge patches (list items merged and removed by name)', async () => {
    const p = join(dir, 'ds.yaml');
    const ds = (image: string, side: boolean) => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - {name: agent, image: "${image}", env: [{name: A, value: "1"}]}
${side ? '      - {name: side, image: "side:1"}\n' : ''}`;
    writeFileSync(p, ds('agent:1', true));
    expect(await ok('apply', '-f', p)).toBe('daemonset.apps/agent created\n');
    writeFileSync(p, ds('agent:2', false));
    expect(await ok('apply', '-f', p)).toBe('daemonset.apps/agent configured\n');
    const got = server.store.get('apps/v1', 'DaemonSet', 'agent', 'default');
    const spec = got?.spec as { template: { spec: { containers: Array<{ name: string; image: string; env: unknown[] }> } } };
    expect(spec.template.spec.containers).toEqual([{ name: 'agent', image: 'agent:2', env: [{ name: 'A', value: '1' }] }]);
    expect(got?.metadata?.generation).toBe(2);
  });

  it('follows a namespace created while `get ns -w` runs', async () => {
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), 'get', 'ns', '-w'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await eventually(() => expect(out).toMatch(/kube-system\s+Active/), 10_000);
      server.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'watched-ns' } });
      await eventually(() => expect(out).toMatch(/watched-ns\s+Active\s+\d+s/), 10_000);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('creates namespaced objects with kubectl create (protobuf request bodies)', async () => {
    expect(await ok('create', 'namespace', 'team-b')).toBe('namespace/team-b created\n');
    await ok('-n', 'team-b', 'create', 'configmap', 'cm1', '--from-literal=a=1', '--from-literal=b=two');
    await ok('-n', 'team-b', 'create', 'secret', 'generic', 's1', '--from-literal=k=v');
    await ok('-n', 'team-b', 'create', 'serviceaccount', 'robot');
    const ns = server.store.get('v1', 'Namespace', 'team-b');
    expect(ns?.spec).toEqual({ finalizers: ['kubernetes'] });
    const cm = server.store.get('v1', 'ConfigMap', 'cm1', 'team-b');
    expect(cm?.data).toEqual({ a: '1', b: 'two' });
    expect(cm?.metadata).not.toHaveProperty('generateName');
    const secret = server.store.get('v1', 'Secret', 's1', 'team-b');
    expect([secret?.type, secret?.data]).toEqual(['Opaque', { k: Buffer.from('v').toString('base64') }]);
    expect(server.store.get('v1', 'ServiceAccount', 'robot', 'team-b')).toBeDefined();
  });

  it('reads pod logs and lists pods as kubectl does', async () => {
    server.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'iperf', namespace: 'default' }, spec: { containers: [{ name: 'main', image: 'x' }] } });
    server.store.appendPodLog('default', 'iperf', 'Connecting to host 10.0.0.1\n');
    expect(await ok('logs', 'iperf')).toBe('Connecting to host 10.0.0.1\n');
    expect((await ok('get', 'pods')).split('\n')[1]).toMatch(/^iperf\s+0\/1\s+Pending\s+0\s+\d+s$/);
  });

  it('deletes the network, then the CRDs', async () => {
    expect(await ok('delete', 'multinicnetwork', 'multi-nic-sample')).toBe('multinicnetwork.multinic.fms.io "multi-nic-sample" deleted\n');
    expect(server.store.get('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample')).toBeUndefined();
    await ok('delete', '-f', 'deploy/crds/');
    expect(server.store.list('apiextensions.k8s.io/v1', 'CustomResourceDefinition')).toEqual([]);
    const r = await kubectl('get', 'multinicnetworks');
    expect(r.code).not.toBe(0);
    // kubectl's discovery cache may still list the type, so the 404 comes from the list itself.
    expect(r.stderr).toMatch(/the server doesn't have a resource type "multinicnetworks"|NotFound.*multinicnetworks/);
  });
});
