// `kubectl multinic check` through the built executable, as a user (or CI) runs it: exit codes,
// stdout, stderr, --junit-file, and Ctrl-C. The cluster is the API stand-in; with root and
// iperf3, the in-test executor runs the check's pods over a real data path.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer, writeKubeconfig } from '../../src/lab/apiserver/index.js';
import { RUN_LABEL } from '../../src/lib/check/pods.js';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import { type JsonSchema, validateSchema } from '../../src/lib/k8s/schema.js';
import { PodExecutor } from '../check/executor.js';
import { hasIperf3, privileged } from '../helpers/privileged.js';
import { sampleCidr, sampleHostInterfaces, sampleNetwork } from '../lib/check/sample.js';

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'bin/kubectl-multinic');
const HOSTS = ['host-a', 'host-b'];
let dir = '';

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without blocking the event loop (the stand-in and the executor live in this process). */
function cli(args: string[], onSpawn?: (c: ChildProcess) => void): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [bin, 'check', ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
    onSpawn?.(c);
  });
}

async function cluster(opts: { crds?: boolean; network?: boolean } = {}): Promise<{ server: ApiServer; kubeconfig: string }> {
  const server = await startApiServer();
  if (opts.crds !== false) {
    for (const crd of CRDS) server.store.create(structuredClone(crd) as never);
    await server.store.settle();
  }
  if (opts.network !== false && opts.crds !== false) {
    server.store.create({ ...sampleNetwork(), metadata: { name: 'fabric' } } as never);
    server.store.create(sampleCidr(HOSTS) as never);
    for (const hi of sampleHostInterfaces({}, HOSTS)) server.store.create(hi as never);
  }
  for (const h of HOSTS) server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: h } });
  const kubeconfig = join(dir, `kubeconfig-${server.port}`);
  await writeKubeconfig(kubeconfig, server.url);
  return { server, kubeconfig };
}

beforeAll(() => {
  const built = join(root, 'dist/commands/check.js');
  if (!existsSync(built) || !existsSync(join(root, 'oclif.manifest.json')) || statSync(built).mtimeMs < newest(join(root, 'src'))) {
    // Others' unfinished files may not type-check; tsc still emits, and only our command is run.
    spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'ignore' });
    spawnSync('node', ['scripts/manifest.mjs'], { cwd: root, stdio: 'ignore' });
  }
  dir = mkdtempSync(join(tmpdir(), 'mnchk-cmd-'));
}, 180_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('check: bad input and unreachable clusters', () => {
  it.each([
    [['--tolerance', '2'], /invalid --tolerance: 2/, /fraction/],
    [['--tolerance', 'lots'], /invalid --tolerance: "lots" is not a number/, /0\.2/],
    [['--duration', '0'], /invalid --duration: 0/, /seconds/],
    [['--pairs', 'mesh'], /Expected --pairs=mesh to be one of: all, ring, star/, /--help/],
    [['--expect-gbps', '-3'], /invalid --expect-gbps: -3/, /Gbit\/s/],
  ])('%j exits 2 with the error and a hint, before contacting any cluster', async (args, msg, hint) => {
    const r = await cli([...args, '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).toMatch(hint);
    expect(r.stdout).toBe('');
  });

  it('an unreachable API server exits 3', async () => {
    const { server, kubeconfig } = await cluster();
    await server.close();
    const r = await cli(['--kubeconfig', kubeconfig]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+/);
  });

  it('a cluster without our CRDs, or without networks, or an unknown --network: exit 2 naming what to do', async () => {
    const bare = await cluster({ crds: false });
    const noNet = await cluster({ network: false });
    const ok = await cluster();
    try {
      const r1 = await cli(['--kubeconfig', bare.kubeconfig]);
      expect(r1.code).toBe(2);
      expect(r1.stderr).toContain('kubectl-multinic is not installed there');
      expect(r1.stderr).toContain('hint: install it first: kubectl multinic install');
      const r2 = await cli(['--kubeconfig', noNet.kubeconfig]);
      expect(r2.code).toBe(2);
      expect(r2.stderr).toMatch(/no MultiNicNetwork on http:/);
      const r3 = await cli(['--kubeconfig', ok.kubeconfig, '--network', 'fabric,nope']);
      expect(r3.code).toBe(2);
      expect(r3.stderr).toContain('error: network "nope" not found');
      expect(r3.stderr).toContain('hint: networks: fabric');
      const r4 = await cli(['--kubeconfig', ok.kubeconfig, '--nodes', 'host-a']);
      expect(r4.code).toBe(2);
      expect(r4.stderr).toContain('check needs at least 2 hosts, found 1 (host-a)');
      // None of these created a pod.
      expect(ok.server.store.list('v1', 'Pod')).toEqual([]);
    } finally {
      await Promise.all([bare.server.close(), noNet.server.close(), ok.server.close()]);
    }
  });
});

describe.skipIf(!privileged.ok || !hasIperf3)(`check over real iperf3 pods (${privileged.reason || (hasIperf3 ? '' : 'needs iperf3')})`, () => {
  let server: ApiServer;
  let kubeconfig: string;
  let executor: PodExecutor | undefined;
  const schema = JSON.parse(readFileSync(join(root, 'schemas/checkreport.json'), 'utf8')) as JsonSchema;

  beforeAll(async () => {
    ({ server, kubeconfig } = await cluster());
  });
  afterEach(async () => {
    await executor?.stop();
    executor = undefined;
  });
  afterAll(async () => {
    await server?.close();
  });
  const pods = (): unknown[] => server.store.list('v1', 'Pod', 'default', { labelSelector: RUN_LABEL } as never);

  it('a healthy fabric: exit 0, -o json is a schema-valid CheckReport, JUnit written, progress on stderr, no pod left', async () => {
    executor = new PodExecutor({ server, prefix: 'mnchkc', cidr: sampleCidr(HOSTS) });
    executor.start();
    const junit = join(dir, 'check.xml');
    const r = await cli(['--kubeconfig', kubeconfig, '--duration', '1', '-o', 'json', '--junit-file', junit]);
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(validateSchema(schema, report)).toEqual([]);
    expect(report.summary).toMatchObject({ result: 'pass', total: 4, passed: 4, failed: 0 });
    expect(report.tests.every((t: { gbps: number }) => t.gbps > 0)).toBe(true);
    expect(Object.keys(report)).toEqual(['apiVersion', 'kind', 'metadata', 'networks', 'spec', 'summary', 'tests']);
    const xml = readFileSync(junit, 'utf8');
    expect(xml.match(/<testcase /g)).toHaveLength(4);
    expect(xml).not.toContain('<failure');
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^check \w+: 4 tests over 2 host pairs$/);
    expect(lines.filter((l) => /^\[\d\/4\] PASS fabric\/host-[ab]->host-[ab]\/nic[01]: \d+\.\d\d Gbit\/s/.test(l))).toHaveLength(4);
    expect(r.stderr).not.toContain('\u001b[');
    expect(pods()).toEqual([]);
  });

  it('a NIC with no path: exit 1, the table names the pairs, the NIC, the cause and the hint', async () => {
    executor = new PodExecutor({ server, prefix: 'mnchkc', cidr: sampleCidr(HOSTS), isolate: (h, nic) => h === 'host-a' && nic === 0 });
    executor.start();
    const r = await cli(['--kubeconfig', kubeconfig, '--duration', '1', '--test', '*/nic0']);
    expect(r.code).toBe(1);
    const out = r.stdout.split('\n');
    expect(out[0]).toMatch(/^FAIL: 2 tests, 0 passed, 2 failed in \d+\.\ds$/);
    expect(r.stdout).toContain('network fabric, nic0 (10.0.1.0/24): Gbit/s client -> server');
    expect(r.stdout).toMatch(/fabric\/host-a->host-b\/nic0 \[no-route\]: host-a -> host-b on nic0 \(eth1 -> eth1, 10\.0\.1\.0\/24\)/);
    expect(r.stdout).toContain('hint: on host host-a, `ip route show table fabric` (the table of `ip rule` "from 192.168.0.0/16") should hold `192.168.1.0/24 via 10.0.1.2 dev eth1`');
    expect(r.stdout).not.toContain('nic1');
    expect(pods()).toEqual([]);
  });

  it('Ctrl-C: the run stops, its pods are deleted, exit 130', async () => {
    executor = new PodExecutor({ server, prefix: 'mnchkc', cidr: sampleCidr(HOSTS) });
    executor.start();
    const ex = executor;
    let sawPods = 0;
    const r = await cli(['--kubeconfig', kubeconfig, '--duration', '20'], (c) => {
      const timer = setInterval(() => {
        // Interrupt once the first pair's servers run and its clients send.
        if (ex.started.length >= 3) {
          clearInterval(timer);
          sawPods = pods().length;
          c.kill('SIGINT');
        }
      }, 50);
      c.on('close', () => clearInterval(timer));
    });
    expect(sawPods).toBeGreaterThanOrEqual(3);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('interrupted: stopping and deleting the check pods');
    expect(r.stdout.split('\n')[0]).toMatch(/^INTERRUPTED: 4 tests, 0 passed, 0 failed, 4 skipped/);
    expect(pods()).toEqual([]);
  }, 60_000);
});
