// `kubectl multinic install` through the built executable against the API stand-in, as a user runs
// it: exit code, stdout/stderr, and what ends up in the API.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startApiServer, writeKubeconfig, type ApiServer } from '../../src/lab/apiserver/index.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { APPLIED_HASH_ANNOTATION } from '../../src/lib/install/apply.js';
import { NAD_CRD_NAME } from '../../src/lib/install/nad-crd.js';
import { renderInstall } from '../../src/lib/install/render.js';
import { runCliAsync, type CliRun } from '../helpers/cli.js';

const root = new URL('../../', import.meta.url).pathname;
const version = (JSON.parse(spawnSync('node', ['-p', 'JSON.stringify(require("./package.json"))'], { cwd: root, encoding: 'utf8' }).stdout) as { version: string }).version;
let dir = '';
// Each case spawns the CLI (oclif + client-node start-up, seconds on a loaded 2-core CI box).
vi.setConfig({ testTimeout: 120_000 });

// dist/ and oclif.manifest.json are built once by test/helpers/build.ts (vitest globalSetup).
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mn-f-install-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI without blocking the event loop (the stand-in serves from this process). */
const cli = (args: string[]): Promise<CliRun> => runCliAsync(args, { env: { KUBECONFIG: '' }, timeoutMs: 120_000 });
/** kubectl, async too; rejects with its stderr on a non-zero exit. */
const kubectl = (args: string[]) => promisify(execFile)('kubectl', args, { encoding: 'utf8', env: { ...process.env, KUBECONFIG: '' } });

async function lab(name: string): Promise<{ server: ApiServer; kc: string }> {
  const server = await startApiServer();
  const kc = join(dir, `${name}.kubeconfig`);
  await writeKubeconfig(kc, server.url);
  return { server, kc };
}

const all = (s: ApiServer) => ({
  crds: s.store.list('apiextensions.k8s.io/v1', 'CustomResourceDefinition'),
  ds: s.store.list('apps/v1', 'DaemonSet'),
  rv: s.store.resourceVersion,
});
const ds = (s: ApiServer, ns = 'multinic-system') => s.store.get('apps/v1', 'DaemonSet', 'multinic-agent', ns) as KubeObject & { spec: { template: { spec: { containers: { image: string }[]; volumes: { name: string; hostPath?: { path: string } }[] } } } };
const imageOf = (o: ReturnType<typeof ds>) => o.spec.template.spec.containers[0]!.image;
const cniVolume = (o: ReturnType<typeof ds>) => o.spec.template.spec.volumes.find((v) => v.name === 'cni-bin')?.hostPath?.path;

describe('install against the API stand-in', () => {
  let server: ApiServer;
  let kc = '';
  beforeAll(async () => {
    ({ server, kc } = await lab('main'));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('--dry-run=client -o yaml prints every manifest as multi-document YAML and needs no cluster', async () => {
    const before = all(server);
    const r = await cli(['install', '--dry-run=client', '-o', 'yaml', '--kubeconfig', join(dir, 'does-not-exist')]);
    expect(r.code, r.stderr).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as KubeObject);
    const want = renderInstall({ version });
    expect(docs.map((d) => `${d.kind}/${d.metadata?.name}`)).toEqual(want.map((d) => `${d.kind}/${d.metadata?.name}`));
    expect(docs.find((d) => d.kind === 'DaemonSet')?.spec).toEqual(want.find((d) => d.kind === 'DaemonSet')?.spec);
    for (const d of docs) expect(d.metadata?.annotations?.[APPLIED_HASH_ANNOTATION], `${d.kind}`).toMatch(/^[0-9a-f]{16}$/);
    expect(r.stderr).toContain('--install-nad-crd=always');
    expect(all(server)).toEqual(before);
  });

  it('--dry-run=client -o json prints a v1 List, with the NAD CRD when asked', async () => {
    const r = await cli(['install', '--dry-run=client', '-o', 'json', '--install-nad-crd=always', '-n', 'net-ops']);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as { apiVersion: string; kind: string; items: KubeObject[] };
    expect([list.apiVersion, list.kind]).toEqual(['v1', 'List']);
    expect(list.items.map((i) => i.metadata?.name)).toContain(NAD_CRD_NAME);
    expect(list.items.find((i) => i.kind === 'DaemonSet')?.metadata?.namespace).toBe('net-ops');
  });

  it('--dry-run=server sends everything with dryRun and creates nothing', async () => {
    const before = all(server);
    const r = await cli(['install', '--dry-run=server', '--kubeconfig', kc]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('customresourcedefinition.apiextensions.k8s.io/cidrs.multinic.fms.io created (server dry run)');
    expect(r.stdout).toContain('namespace/multinic-system created (server dry run)');
    expect(r.stdout).toContain('daemonset.apps/multinic-agent created (server dry run; not sent: namespace multinic-system does not exist yet)');
    expect(all(server).crds).toEqual(before.crds);
    expect(all(server).ds).toEqual([]);
  });

  it('installs CRDs, the NAD CRD (missing here), namespace, RBAC and the DaemonSet', async () => {
    const r = await cli(['install', '--kubeconfig', kc]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('CNI bin dir /opt/cni/bin (default; no Multus DaemonSet with a cnibin volume found)');
    for (const o of renderInstall({ version, nadCrd: true })) {
      const got = server.store.get(o.apiVersion!, o.kind!, o.metadata!.name!, o.metadata?.namespace ?? '');
      expect(got, `${o.kind}/${o.metadata?.name}`).toBeDefined();
      expect(got?.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('kubectl-multinic');
      expect(r.stdout).toMatch(new RegExp(`/${o.metadata!.name!.replaceAll('.', '\\.')} created`));
    }
    expect(imageOf(ds(server))).toBe(`ghcr.io/kubectl-multinic/agent:v${version}`);
    // kubectl sees the same objects (async: the stand-in serves from this process).
    if (spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0) {
      const k = await kubectl(['--kubeconfig', kc, 'get', 'daemonset', '-n', 'multinic-system', 'multinic-agent', '-o', 'json']);
      expect((JSON.parse(k.stdout) as KubeObject).metadata?.name).toBe('multinic-agent');
    }
  });

  it('installing again changes nothing and duplicates nothing', async () => {
    const before = server.store.resourceVersion;
    const r = await cli(['install', '--kubeconfig', kc]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/ created$| configured$/m);
    expect(r.stdout.match(/ unchanged$/gm)?.length).toBe(renderInstall({ version, nadCrd: true }).length);
    expect(server.store.resourceVersion).toBe(before);
    expect(server.store.list('apps/v1', 'DaemonSet')).toHaveLength(1);
  });

  it('upgrades: a new --image replaces only the DaemonSet, keeping its identity', async () => {
    const old = ds(server);
    const r = await cli(['install', '--kubeconfig', kc, '--image', 'registry.example.com/agent:v2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/ configured$/gm)).toEqual([' configured']);
    expect(r.stdout).toContain('daemonset.apps/multinic-agent configured');
    const now = ds(server);
    expect(imageOf(now)).toBe('registry.example.com/agent:v2');
    expect(now.metadata?.uid).toBe(old.metadata?.uid);
    expect(now.metadata?.generation).toBe((old.metadata?.generation ?? 0) + 1);
  });

  it('--wait returns once numberReady == desiredNumberScheduled (the lab reports readiness)', async () => {
    const running = cli(['install', '--kubeconfig', kc, '--image', 'registry.example.com/agent:v3', '--wait', '--timeout', '30s']);
    // Play the DaemonSet controller: report 2 of 2 ready for the new generation once it exists.
    for (let i = 0; i < 300; i++) {
      const d = ds(server);
      if (imageOf(d) === 'registry.example.com/agent:v3') {
        server.store.updateStatus({ ...d, status: { desiredNumberScheduled: 2, currentNumberScheduled: 2, updatedNumberScheduled: 2, numberReady: 2, numberAvailable: 2, numberMisscheduled: 0, observedGeneration: d.metadata?.generation } });
        break;
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('waiting for DaemonSet multinic-system/multinic-agent (numberReady == desiredNumberScheduled)');
    expect(r.stderr).toContain('agents ready: 2/2');
  });

  it('--wait gives up after --timeout, says what it waited for, exit 1', async () => {
    const r = await cli(['install', '--kubeconfig', kc, '--image', 'registry.example.com/agent:v4', '--wait', '--timeout', '2s']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('timed out after 2s waiting for DaemonSet multinic-system/multinic-agent');
    expect(r.stderr).toContain('hint: see why with: kubectl -n multinic-system get pods');
  });
});

describe.skipIf(spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status !== 0)('GitOps: kubectl apply of the dry-run output', () => {
  let server: ApiServer;
  let kc = '';
  beforeAll(async () => {
    ({ server, kc } = await lab('gitops'));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('kubectl apply -f of `install --dry-run=client -o yaml` creates everything; install then finds it all unchanged', async () => {
    const manifest = join(dir, 'multinic.yaml');
    const printed = await cli(['install', '--dry-run=client', '-o', 'yaml', '--install-nad-crd=always']);
    expect(printed.code, printed.stderr).toBe(0);
    writeFileSync(manifest, printed.stdout);
    const applied = await kubectl(['--kubeconfig', kc, 'apply', '-f', manifest]);
    expect(applied.stdout).toContain('daemonset.apps/multinic-agent created');
    const rv = server.store.resourceVersion;
    const r = await cli(['install', '--kubeconfig', kc]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/ created$| configured$/m);
    expect(server.store.resourceVersion).toBe(rv);
  });
});

describe('install next to Multus and pre-existing objects', () => {
  let server: ApiServer;
  let kc = '';
  beforeAll(async () => {
    ({ server, kc } = await lab('multus'));
    server.store.create({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kube-multus-ds', namespace: 'kube-system', labels: { app: 'multus' } },
      spec: {
        selector: { matchLabels: { app: 'multus' } },
        template: {
          metadata: { labels: { app: 'multus' } },
          spec: {
            containers: [{ name: 'kube-multus', image: 'ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0' }],
            volumes: [
              { name: 'cni', hostPath: { path: '/etc/cni/net.d' } },
              { name: 'cnibin', hostPath: { path: '/var/lib/cni/bin' } },
            ],
          },
        },
      },
    });
    const foreignNadCrd = renderInstall({ version, nadCrd: true, crds: false }).find((o) => o.metadata?.name === NAD_CRD_NAME)!;
    server.store.create({ ...foreignNadCrd, metadata: { name: NAD_CRD_NAME, labels: { owner: 'multus' } } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("takes the CNI bin dir from Multus's cnibin volume, leaves Multus's NAD CRD and a shared namespace alone", async () => {
    const nadBefore = server.store.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', NAD_CRD_NAME);
    const nsBefore = server.store.get('v1', 'Namespace', 'kube-system');
    const r = await cli(['install', '--kubeconfig', kc, '-n', 'kube-system']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('CNI bin dir /var/lib/cni/bin (Multus DaemonSet kube-system/kube-multus-ds (volume cnibin))');
    expect(cniVolume(ds(server, 'kube-system'))).toBe('/var/lib/cni/bin');
    expect(server.store.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', NAD_CRD_NAME)).toEqual(nadBefore);
    expect(r.stdout).toContain('namespace/kube-system unchanged (not ours)');
    expect(server.store.get('v1', 'Namespace', 'kube-system')).toEqual(nsBefore);
  });

  it('--cni-bin-dir wins over Multus', async () => {
    const r = await cli(['install', '--kubeconfig', kc, '-n', 'kube-system', '--cni-bin-dir', '/opt/cni/bin']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('CNI bin dir /opt/cni/bin (--cni-bin-dir)');
    expect(cniVolume(ds(server, 'kube-system'))).toBe('/opt/cni/bin');
  });

  it('uninstall removes our objects but keeps the shared namespace and Multus NAD CRD', async () => {
    const r = await cli(['uninstall', '--kubeconfig', kc, '-n', 'kube-system', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    await server.store.settle();
    expect(server.store.get('apps/v1', 'DaemonSet', 'multinic-agent', 'kube-system')).toBeUndefined();
    expect(server.store.get('v1', 'Namespace', 'kube-system')).toBeDefined();
    expect(server.store.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', NAD_CRD_NAME)).toBeDefined();
    expect(server.store.get('apps/v1', 'DaemonSet', 'kube-multus-ds', 'kube-system')).toBeDefined();
  });
});

describe('install: bad input and unreachable clusters', () => {
  let server: ApiServer;
  let kc = '';
  beforeAll(async () => {
    ({ server, kc } = await lab('bad'));
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each([
    [['--toleration', 'gpu:Sometimes'], '--toleration "gpu:Sometimes": effect must be one of', 'KEY[=VALUE][:EFFECT]'],
    [['--memory-request', '1Gi', '--memory-limit', '1Mi'], '--memory-request 1Gi is above --memory-limit 1Mi', 'raise the limit'],
    [['-n', 'Bad_NS'], '--namespace "Bad_NS" is not a valid namespace name', 'lower-case'],
    [['--max-unavailable', '0%'], '--max-unavailable "0%" is neither a whole number >= 1 nor a percentage', 'e.g. 1 (default) or 10%'],
    [['--node-selector', 'gpu'], '--node-selector "gpu" is not KEY=VALUE', 'nvidia.com/gpu.present=true'],
    [['--cni-bin-dir', 'relative/bin'], '--cni-bin-dir "relative/bin" must be an absolute host path', '/opt/cni/bin'],
    [['--dry-run=maybe'], 'Expected --dry-run=maybe to be one of', 'install --help'],
    [['--timeout', 'soon', '--wait'], 'invalid duration "soon"', '30s'],
  ])('%j: exit 2 with the fix, nothing written', async (args, message, hint) => {
    const before = server.store.resourceVersion;
    const r = await cli(['install', '--kubeconfig', kc, ...args]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toMatch(new RegExp(`hint: .*${hint.replace(/[[\]()]/g, '\\$&')}`));
    expect(server.store.resourceVersion).toBe(before);
  });

  it('exit 3 naming the address when the API server is not listening', async () => {
    const port = await freePort();
    const closed = join(dir, 'closed.kubeconfig');
    await writeKubeconfig(closed, `http://127.0.0.1:${port}`);
    for (const cmd of [['install'], ['uninstall', '--yes']]) {
      const r = await cli([...cmd, '--kubeconfig', closed]);
      expect(r.code, `${cmd[0]}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toContain(`http://127.0.0.1:${port}`);
      expect(r.stderr).toContain('hint:');
    }
  });
});

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}


describe('install --dra against the API stand-in', () => {
  let server: ApiServer;
  let kc = '';
  beforeAll(async () => {
    ({ server, kc } = await lab('dra'));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('runs the agents with --dra, mounts the kubelet plugin dirs and grants the DRA calls; a plain install takes them away again', async () => {
    const r = await cli(['install', '--kubeconfig', kc, '--dra', '--kubelet-dir', '/var/lib/k0s/kubelet']);
    expect(r.code, r.stderr).toBe(0);
    const spec = ds(server).spec.template.spec as unknown as { containers: { args: string[]; volumeMounts: { name: string; mountPath: string }[] }[]; volumes: { name: string; hostPath?: { path: string } }[] };
    expect(spec.containers[0]!.args.slice(-3)).toEqual(['--dra', '--kubelet-dir', '/var/lib/k0s/kubelet']);
    expect(spec.volumes.filter((v) => v.name.startsWith('kubelet-')).map((v) => v.hostPath?.path)).toEqual(['/var/lib/k0s/kubelet/plugins', '/var/lib/k0s/kubelet/plugins_registry']);
    const role = server.store.get('rbac.authorization.k8s.io/v1', 'ClusterRole', 'multinic-agent') as KubeObject & { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    expect(role.rules.filter((x) => x.apiGroups.includes('resource.k8s.io'))).toEqual([
      { apiGroups: ['resource.k8s.io'], resources: ['resourceslices'], verbs: ['get', 'create', 'update'] },
      { apiGroups: ['resource.k8s.io'], resources: ['resourceclaims'], verbs: ['get'] },
      { apiGroups: ['resource.k8s.io'], resources: ['resourceclaims/status'], verbs: ['update'] },
    ]);
    const plain = await cli(['install', '--kubeconfig', kc]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain('daemonset.apps/multinic-agent configured');
    expect(plain.stdout).toContain('clusterrole.rbac.authorization.k8s.io/multinic-agent configured');
    expect((ds(server).spec.template.spec as unknown as { containers: { args: string[] }[] }).containers[0]!.args).not.toContain('--dra');
  });

  it.each([
    [['--kubelet-dir', '/var/lib/kubelet'], '--kubelet-dir is only used with --dra', 'add --dra'],
    [['--dra', '--kubelet-dir', 'var/lib/kubelet'], '--kubelet-dir "var/lib/kubelet" must be an absolute host path', '--root-dir'],
  ])('%j: exit 2 with the fix, nothing written', async (args, message, hint) => {
    const before = server.store.resourceVersion;
    const r = await cli(['install', '--kubeconfig', kc, ...args]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toMatch(new RegExp(`hint: .*${hint}`));
    expect(server.store.resourceVersion).toBe(before);
  });
});
