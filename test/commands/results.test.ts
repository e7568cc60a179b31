// The typed results the commands return are contracts too: ApplyResult is what `apply -o json` prints;
// InstallResult and UninstallResult are what install's and uninstall's run() return to callers. The
// commands run in this process, through oclif, against the API stand-in (install, then apply over
// the hosts of examples/hosts.yaml, then uninstall), and their results are checked against schemas/.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import ApplyCommand from '../../src/commands/apply.js';
import InstallCommand, { type InstallResult } from '../../src/commands/install.js';
import UninstallCommand, { type UninstallResult } from '../../src/commands/uninstall.js';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { validateSchema, type JsonSchema } from '../../src/lib/k8s/schema.js';
import { repoRoot } from '../helpers/cli.js';

const schema = (name: string): JsonSchema => JSON.parse(readFileSync(join(repoRoot, 'schemas', name), 'utf8')) as JsonSchema;
let server: ApiServer;
let dir = '';
let kubeconfig = '';

/** Runs a command class in this process with its stdout/stderr captured (oclif loads the config from the repo). */
async function run<T>(cmd: { run(argv: string[], root: string): Promise<unknown> }, argv: string[]): Promise<{ result: T; stdout: string }> {
  let stdout = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { result: (await cmd.run([...argv, '--kubeconfig', kubeconfig], repoRoot)) as T, stdout };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mn-results-'));
  server = await startApiServer();
  kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server.url);
});
afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('command results against schemas/', () => {
  it('install returns an InstallResult valid against schemas/installresult.json, every object created', async () => {
    const { result } = await run<InstallResult>(InstallCommand, []);
    expect(validateSchema(schema('installresult.json'), JSON.parse(JSON.stringify(result)))).toEqual([]);
    expect(result.objects.length).toBeGreaterThan(3);
    expect(new Set(result.objects.map((o) => o.action))).toEqual(new Set(['create']));
    // apiVersion with kind names each object's type (DeviceClass is a kind in two groups).
    expect(result.objects.find((o) => o.kind === 'DaemonSet')).toMatchObject({ apiVersion: 'apps/v1', kind: 'DaemonSet' });
    expect(result.objects.find((o) => o.kind === 'Namespace')).toMatchObject({ apiVersion: 'v1', kind: 'Namespace' });
    const again = await run<InstallResult>(InstallCommand, []);
    expect(validateSchema(schema('installresult.json'), JSON.parse(JSON.stringify(again.result)))).toEqual([]);
    expect(new Set(again.result.objects.map((o) => o.action))).toEqual(new Set(['unchanged']));
  });

  it('apply -o json prints an ApplyResult valid against schemas/applyresult.json, its CIDR against schemas/cidr.json', async () => {
    const hosts = parse(readFileSync(join(repoRoot, 'examples/hosts.yaml'), 'utf8')) as { items: KubeObject[] };
    for (const h of hosts.items) server.store.create(h);
    const { stdout } = await run(ApplyCommand, ['-f', join(repoRoot, 'examples/network.yaml'), '--no-wait', '-o', 'json']);
    const result = JSON.parse(stdout) as { objects: Array<{ name: string; action: string }>; cidrs: unknown[] };
    expect(validateSchema(schema('applyresult.json'), result)).toEqual([]);
    // The stand-in serves resource.k8s.io/v1, so apply also makes the network's DRA DeviceClass.
    expect(result.objects).toEqual([
      { apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', name: 'multi-nic-sample', action: 'created' },
      { apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', name: 'multi-nic-sample.multinic.fms.io', action: 'created' },
    ]);
    expect(result.cidrs).toHaveLength(1);
    const { $id: _id, title: _t, ...cidr } = schema('cidr.json') as JsonSchema & { $id?: string; title?: string };
    expect(validateSchema(cidr, result.cidrs[0])).toEqual([]);
  });

  it('uninstall --yes returns an UninstallResult valid against schemas/uninstallresult.json', async () => {
    // A DeviceClass of ours (PCI IDs) beside the DRA DeviceClass apply made: the same kind in two groups.
    server.store.create({ apiVersion: 'multinic.fms.io/v1', kind: 'DeviceClass', metadata: { name: 'highspeed' }, spec: { ids: [{ vendor: '15b3', products: ['1019'] }] } });
    const { result } = await run<UninstallResult>(UninstallCommand, ['--yes']);
    expect(validateSchema(schema('uninstallresult.json'), JSON.parse(JSON.stringify(result)))).toEqual([]);
    expect(result.networks.map((o) => `${o.kind}/${o.name}`)).toContain('MultiNicNetwork/multi-nic-sample');
    expect(result.installed.map((o) => o.kind)).toContain('DaemonSet');
    // Every entry names its type as the API does, apiVersion and kind, so the two DeviceClasses are told apart.
    const typed = (list: UninstallResult['networks']) => list.map((o) => `${o.apiVersion} ${o.kind}/${o.name}`);
    expect(typed(result.networks)).toEqual(expect.arrayContaining(['multinic.fms.io/v1 MultiNicNetwork/multi-nic-sample', 'multinic.fms.io/v1 DeviceClass/highspeed', 'resource.k8s.io/v1 DeviceClass/multi-nic-sample.multinic.fms.io']));
    expect(typed(result.installed)).toEqual(expect.arrayContaining(['apps/v1 DaemonSet/multinic-agent', 'v1 Namespace/multinic-system']));
    for (const o of [...result.networks, ...result.installed, ...result.resourceSlices]) expect(o.apiVersion, `${o.kind}/${o.name}`).toMatch(/^([a-z0-9.-]+\/)?v[0-9a-z]+$/);
  });

  it('the schemas can fail: a wrong action and a missing field are named', () => {
    expect(validateSchema(schema('installresult.json'), { apiVersion: 'multinic.fms.io/v1', kind: 'InstallResult', namespace: 'n', image: 'i', cniBinDir: { path: '/opt/cni/bin', source: 'default' }, dryRun: 'none', objects: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'a', action: 'replaced' }] }).map((e) => e.field)).toEqual(['objects[0].action']);
    expect(validateSchema(schema('uninstallresult.json'), { apiVersion: 'multinic.fms.io/v1', kind: 'UninstallResult', namespace: 'n', networks: [], resourceSlices: [] }).map((e) => e.field)).toEqual(['installed']);
    expect(validateSchema(schema('uninstallresult.json'), { apiVersion: 'multinic.fms.io/v1', kind: 'UninstallResult', namespace: 'n', networks: [{ kind: 'DeviceClass', name: 'a' }], installed: [], resourceSlices: [] }).map((e) => e.field)).toEqual(['networks[0].apiVersion']);
    expect(validateSchema(schema('applyresult.json'), { apiVersion: 'multinic.fms.io/v1', kind: 'ApplyResult', objects: [{ apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', name: 'a', action: 'deleted' }], cidrs: [] }).map((e) => e.field)).toEqual(['objects[0].action']);
  });
});
