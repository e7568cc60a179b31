// `kubectl multinic uninstall` through the built executable against the API stand-in: networks only
// after confirmation (a terminal, or --yes), everything install created removed, nothing foreign.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startApiServer, writeKubeconfig, type ApiServer } from '../../src/lab/apiserver/index.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { NAD_CRD_NAME } from '../../src/lib/install/nad-crd.js';
import { renderInstall } from '../../src/lib/install/render.js';
import { networkDeviceClass } from '../../src/lib/dra/slices.js';
import { cliBin, repoRoot, runCliAsync, type CliRun } from '../helpers/cli.js';

const root = new URL('../../', import.meta.url).pathname;
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const network = parse(readFileSync(join(root, 'examples/network.yaml'), 'utf8')) as KubeObject;
let dir = '';
// Each case spawns the CLI (oclif + client-node start-up, seconds on a loaded 2-core CI box).
vi.setConfig({ testTimeout: 120_000 });

// dist/ and oclif.manifest.json are built once by test/helpers/build.ts (vitest globalSetup).
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mn-f-uninstall-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the CLI without blocking the event loop (the stand-in serves from this process). With `tty`,
 * under script(1) so stdin/stderr are a terminal, typing `tty` at the prompt.
 */
function cli(args: string[], opts: { tty?: string } = {}): Promise<CliRun> {
  const tty = opts.tty;
  if (tty === undefined) return runCliAsync(args, { env: { KUBECONFIG: '' }, timeoutMs: 120_000 });
  const argv = ['-qec', [process.execPath, cliBin, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'];
  return new Promise((resolve) => {
    const p = spawn('script', argv, { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1', KUBECONFIG: '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('[y/N]')) p.stdin.end(`${tty}\n`);
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const crd = (s: ApiServer, name: string) => s.store.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', name);
/** The seed network, or undefined when it (or its whole kind, with the CRD) is gone. */
const mnn = (s: ApiServer) => {
  if (!crd(s, 'multinicnetworks.multinic.fms.io')) return undefined;
  return s.store.get('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample');
};
const agentDs = (s: ApiServer) => s.store.get('apps/v1', 'DaemonSet', 'multinic-agent', 'multinic-system');
const nad = (name: string, generated: boolean): KubeObject => ({
  apiVersion: 'k8s.cni.cncf.io/v1',
  kind: 'NetworkAttachmentDefinition',
  metadata: { name, namespace: 'default', ...(generated ? { labels: { 'multi-nic-cni-generated': 'true' } } : {}) },
  spec: { config: '{"cniVersion":"1.0.0","type":"multi-nic"}' },
});

/** A stand-in with install done, the seed network, a generated NAD, and optionally a foreign NAD. */
async function installed(name: string, opts: { foreignNad?: boolean } = {}): Promise<{ server: ApiServer; kc: string }> {
  const server = await startApiServer();
  const kc = join(dir, `${name}.kubeconfig`);
  await writeKubeconfig(kc, server.url);
  const r = await cli(['install', '--kubeconfig', kc]);
  if (r.code !== 0) throw new Error(`install failed: ${r.stderr}`);
  server.store.create(network);
  server.store.create(nad('multi-nic-sample', true));
  if (opts.foreignNad) server.store.create(nad('sriov-net', false));
  server.store.create({ apiVersion: 'multinic.fms.io/v1', kind: 'DeviceClass', metadata: { name: 'highspeed' }, spec: { ids: [{ vendor: '15b3', products: ['1019'] }] } });
  return { server, kc };
}

describe('uninstall', () => {
  let server: ApiServer;
  let kc = '';
  beforeAll(async () => {
    ({ server, kc } = await installed('main', { foreignNad: true }));
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it('refuses to delete networks without a terminal or --yes: exit 2 with the hint, nothing deleted', async () => {
    const rv = server.store.resourceVersion;
    const r = await cli(['uninstall', '--kubeconfig', kc]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('uninstall would delete 1 MultiNicNetwork, 1 NetworkAttachmentDefinition and 1 DeviceClass, but cannot ask for confirmation');
    expect(r.stderr).toContain('hint: pass --yes');
    expect(server.store.resourceVersion).toBe(rv);
  });

  it.skipIf(!existsSync('/usr/bin/script'))('asks on a terminal; answering no changes nothing (exit 1)', async () => {
    const rv = server.store.resourceVersion;
    const r = await cli(['uninstall', '--kubeconfig', kc], { tty: 'n' });
    // script(1) merges the child's stderr into its stdout (one terminal).
    expect(r.stdout).toContain('This deletes 1 MultiNicNetwork, 1 NetworkAttachmentDefinition and 1 DeviceClass (networks: multi-nic-sample).');
    expect(r.stdout).toContain('uninstall cancelled; nothing was changed');
    expect(r.code).toBe(1);
    expect(server.store.resourceVersion).toBe(rv);
  });

  it('--yes deletes networks first, then everything install created; keeps the NAD CRD that others still use', async () => {
    const r = await cli(['uninstall', '--kubeconfig', kc, '--yes']);
    expect(r.code, r.stderr).toBe(0);
    await server.store.settle();
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('multinicnetwork.multinic.fms.io/multi-nic-sample deleted');
    expect(lines.indexOf('networkattachmentdefinition.k8s.cni.cncf.io/multi-nic-sample -n default deleted')).toBeLessThan(lines.indexOf('daemonset.apps/multinic-agent -n multinic-system deleted'));
    expect(lines.at(-1)).toMatch(/^customresourcedefinition\.apiextensions\.k8s\.io\/\S+ deleted$/);
    expect(mnn(server)).toBeUndefined();
    for (const o of renderInstall({ version })) {
      expect(server.store.get(o.apiVersion!, o.kind!, o.metadata!.name!, o.metadata?.namespace ?? ''), `${o.kind}/${o.metadata?.name}`).toBeUndefined();
    }
    expect(r.stderr).toContain(`note: keeping CustomResourceDefinition ${NAD_CRD_NAME}: 1 NetworkAttachmentDefinition(s) not generated by multinic use it (e.g. default/sriov-net)`);
    expect(server.store.get('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', 'sriov-net', 'default')).toBeDefined();
    expect(server.store.get('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', 'multi-nic-sample', 'default')).toBeUndefined();
  });

  it('a second uninstall finds nothing to do', async () => {
    const r = await cli(['uninstall', '--kubeconfig', kc]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('nothing to uninstall');
  });
});

describe('uninstall --keep-crds and stuck finalizers', () => {
  let server: ApiServer;
  let kc = '';
  beforeAll(async () => {
    ({ server, kc } = await installed('keep'));
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it('leaves the agent running and exits 1 naming the finalizer when a network does not go away', async () => {
    server.store.patch('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample', '', 'merge', { metadata: { finalizers: ['example.com/hold'] } });
    const r = await cli(['uninstall', '--kubeconfig', kc, '--yes', '--keep-crds', '--timeout', '2s']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('still terminating after 2s: multinicnetwork.multinic.fms.io/multi-nic-sample (finalizers: example.com/hold)');
    expect(agentDs(server)).toBeDefined();
    expect(crd(server, 'multinicnetworks.multinic.fms.io')).toBeDefined();
    server.store.patch('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample', '', 'merge', { metadata: { finalizers: null } });
  });

  it('--keep-crds removes the agent and networks but keeps CRDs and DeviceClasses', async () => {
    const r = await cli(['uninstall', '--kubeconfig', kc, '--yes', '--keep-crds']);
    expect(r.code, r.stderr).toBe(0);
    await server.store.settle();
    expect(agentDs(server)).toBeUndefined();
    expect(server.store.get('v1', 'Namespace', 'multinic-system')).toBeUndefined();
    expect(mnn(server)).toBeUndefined();
    expect(crd(server, 'multinicnetworks.multinic.fms.io')).toBeDefined();
    expect(crd(server, NAD_CRD_NAME), r.stdout).toBeDefined();
    expect(server.store.get('multinic.fms.io/v1', 'DeviceClass', 'highspeed')).toBeDefined();
  });
});

describe.skipIf(!existsSync('/usr/bin/script'))('uninstall on a terminal, answering yes', () => {
  let server: ApiServer;
  let kc = '';
  beforeAll(async () => {
    ({ server, kc } = await installed('tty'));
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it('deletes the networks and everything install created', async () => {
    const r = await cli(['uninstall', '--kubeconfig', kc], { tty: 'y' });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('Delete them and uninstall? [y/N]');
    expect(r.stdout).toContain('multinicnetwork.multinic.fms.io/multi-nic-sample deleted');
    await server.store.settle();
    expect(mnn(server)).toBeUndefined();
    expect(agentDs(server)).toBeUndefined();
    expect(crd(server, NAD_CRD_NAME)).toBeUndefined();
  });
});

/** The Prometheus Operator's three CRDs as a cluster with it serves them (schemas left open). */
const monitoringCrd = (kind: string, plural: string): KubeObject => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.monitoring.coreos.com` },
  spec: {
    group: 'monitoring.coreos.com',
    scope: 'Namespaced',
    names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
});

describe('uninstall removes the monitoring objects install added', () => {
  let server: ApiServer;
  let kc = '';
  beforeAll(async () => {
    server = await startApiServer();
    kc = join(dir, 'monitoring.kubeconfig');
    await writeKubeconfig(kc, server.url);
    for (const [k, p] of [['PodMonitor', 'podmonitors'], ['ServiceMonitor', 'servicemonitors'], ['PrometheusRule', 'prometheusrules']] as const) server.store.create(monitoringCrd(k, p));
    await server.store.settle();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('install --pod-monitor --service-monitor --prometheus-rule creates them; uninstall deletes all four', async () => {
    const i = await cli(['install', '--kubeconfig', kc, '--pod-monitor', '--service-monitor', '--prometheus-rule']);
    expect(i.code, i.stderr).toBe(0);
    const ours = [
      ['monitoring.coreos.com/v1', 'PodMonitor', 'multinic-agent'],
      ['monitoring.coreos.com/v1', 'ServiceMonitor', 'multinic-agent'],
      ['monitoring.coreos.com/v1', 'PrometheusRule', 'multinic-agent'],
      ['v1', 'Service', 'multinic-agent-metrics'],
    ] as const;
    for (const [av, k, n] of ours) expect(server.store.get(av, k, n, 'multinic-system'), `${k}/${n}`).toBeDefined();

    const u = await cli(['uninstall', '--kubeconfig', kc, '--yes', '--keep-crds']);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdout).toContain('prometheusrule.monitoring.coreos.com/multinic-agent -n multinic-system deleted');
    expect(u.stdout).toContain('podmonitor.monitoring.coreos.com/multinic-agent -n multinic-system deleted');
    await server.store.settle();
    for (const [av, k, n] of ours) expect(server.store.get(av, k, n, 'multinic-system'), `${k}/${n}`).toBeUndefined();
  });

  it('without the Prometheus Operator CRDs uninstall just finds no monitoring objects', async () => {
    const bare = await startApiServer();
    try {
      const bkc = join(dir, 'bare.kubeconfig');
      await writeKubeconfig(bkc, bare.url);
      expect((await cli(['install', '--kubeconfig', bkc])).code).toBe(0);
      const u = await cli(['uninstall', '--kubeconfig', bkc, '--yes']);
      expect(u.code, u.stderr).toBe(0);
      expect(u.stdout).not.toContain('monitoring.coreos.com');
      expect(u.stdout).toContain('daemonset.apps/multinic-agent -n multinic-system deleted');
    } finally {
      await bare.close();
    }
  });
});

describe('uninstall after install --dra', () => {
  let server: ApiServer;
  let kc = '';
  const slice = (name: string, driver: string): KubeObject => ({
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name },
    spec: { driver, nodeName: 'h1', pool: { name: 'h1', generation: 1, resourceSliceCount: 1 }, devices: [{ name: 'eth1' }] },
  } as KubeObject);
  beforeAll(async () => {
    server = await startApiServer();
    kc = join(dir, 'dra.kubeconfig');
    await writeKubeconfig(kc, server.url);
    const i = await cli(['install', '--kubeconfig', kc, '--dra']);
    if (i.code !== 0) throw new Error(`install --dra failed: ${i.stderr}`);
    server.store.create(network);
    server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'h1' } });
    // What apply and the agents made, next to a GPU driver's and a user's look-alike.
    server.store.create(networkDeviceClass('multi-nic-sample') as unknown as KubeObject);
    server.store.create(networkDeviceClass('multi-nic-old') as unknown as KubeObject);
    server.store.create({ apiVersion: 'multinic.fms.io/v1', kind: 'DeviceClass', metadata: { name: 'highspeed' }, spec: { ids: [{ vendor: '15b3', products: ['1019'] }] } });
    server.store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'fast.multinic.fms.io' }, spec: { selectors: [{ cel: { expression: 'device.driver == "multinic.fms.io" && device.attributes["multinic.fms.io"].speed >= 100000' } }] } } as KubeObject);
    server.store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'gpu.example.com' }, spec: { selectors: [{ cel: { expression: 'device.driver == "gpu.example.com"' } }] } } as KubeObject);
    server.store.create(slice('h1-multinic.fms.io', 'multinic.fms.io'));
    server.store.create(slice('h1-gpu.example.com', 'gpu.example.com'));
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it("the prompt counts our DeviceClasses and apply's DRA DeviceClasses apart, and only those it removes", async () => {
    const r = await cli(['uninstall', '--kubeconfig', kc]);
    expect(r.code).toBe(2);
    // Not counted: fast.multinic.fms.io (another selector) and gpu.example.com, which stay.
    expect(r.stderr).toContain('uninstall would delete 1 MultiNicNetwork, 1 DeviceClass and 2 DeviceClasses (resource.k8s.io), but cannot ask for confirmation');
    expect(server.store.get('resource.k8s.io/v1', 'DeviceClass', 'multi-nic-old.multinic.fms.io')).toBeDefined();
  });

  it("removes apply's DeviceClasses with the networks and the agents' ResourceSlices after their ClusterRole; leaves others' DRA objects", async () => {
    const r = await cli(['uninstall', '--kubeconfig', kc, '--yes']);
    expect(r.code, r.stderr).toBe(0);
    await server.store.settle();
    const lines = r.stdout.trim().split('\n');
    const at = (l: string) => {
      expect(lines, r.stdout).toContain(l);
      return lines.indexOf(l);
    };
    expect(at('deviceclass.resource.k8s.io/multi-nic-sample.multinic.fms.io deleted')).toBeLessThan(at('daemonset.apps/multinic-agent -n multinic-system deleted'));
    expect(at('resourceslice.resource.k8s.io/h1-multinic.fms.io deleted')).toBeGreaterThan(at('clusterrole.rbac.authorization.k8s.io/multinic-agent deleted'));
    expect(server.store.get('resource.k8s.io/v1', 'DeviceClass', 'multi-nic-sample.multinic.fms.io')).toBeUndefined();
    expect(server.store.get('resource.k8s.io/v1', 'DeviceClass', 'multi-nic-old.multinic.fms.io')).toBeUndefined();
    expect(server.store.get('resource.k8s.io/v1', 'ResourceSlice', 'h1-multinic.fms.io')).toBeUndefined();
    expect(server.store.get('resource.k8s.io/v1', 'DeviceClass', 'fast.multinic.fms.io')).toBeDefined();
    expect(server.store.get('resource.k8s.io/v1', 'DeviceClass', 'gpu.example.com')).toBeDefined();
    expect(server.store.get('resource.k8s.io/v1', 'ResourceSlice', 'h1-gpu.example.com')).toBeDefined();
    const again = await cli(['uninstall', '--kubeconfig', kc]);
    expect(again.stdout).toContain('nothing to uninstall');
  });
});
