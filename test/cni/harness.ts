// Shared by the CNI tests: run the plugin AS SHIPPED (build/cni/multi-nic, the Bun-compiled
// executable scripts/build-cni.sh makes) the way a runtime does, with CNI_* in the environment and
// the config on stdin, optionally inside a "host" netns. Asynchronous on purpose: the fake agent
// serves from the test's own event loop.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** What the executable bundles (src/cni/main.ts's import graph, test/cni/imports.test.ts) and how it is built. */
const CNI_SOURCES = ['src/cni', 'src/lib/cni', 'src/lib/agent/protocol.ts', 'src/host/exec.ts', 'scripts/build-cni.sh'];
const SHIPPED = 'build/cni/multi-nic';

/**
 * Builds build/cni/multi-nic when it is missing or older than a file it bundles (about 1 s: the
 * Bun runtime is cached under build/cache/ after the first fetch). Under flock: test files load
 * this module in parallel workers, and the second waits, sees the fresh build and does nothing.
 * Undefined when the executable is current, else why it could not be built.
 */
function buildShipped(): string | undefined {
  const stale = `[ -x ${SHIPPED} ] && [ -z "$(find ${CNI_SOURCES.join(' ')} -newer ${SHIPPED} -print -quit)" ] || bash scripts/build-cni.sh --out ${SHIPPED}`;
  // flock(1) cannot create its lock file in a directory that is not there: in a fresh clone build/ is
  // not, and every CNI test was skipped as "did not build".
  mkdirSync(join(repoRoot, 'build'), { recursive: true });
  const r = spawnSync('flock', ['build/.cni-build.lock', 'bash', '-c', `mkdir -p build/cni && { ${stale}; }`], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status === 0) return undefined;
  return (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').slice(-3).join(' ');
}

/**
 * MULTINIC_CNI_BIN runs every CNI test against another build of the plugin (bin/multi-nic: the
 * TypeScript build on Node, from dist/). In the UML guest the default stays bin/multi-nic: the
 * guest runs the host's files read-only through hostfs, where building is slow and the Bun
 * executable is not the one the stage proves anything about (ipvlan in the kernel).
 */
const binOverride = process.env['MULTINIC_CNI_BIN'] || (process.env['MULTINIC_UML_GUEST'] === '1' ? `${repoRoot}bin/multi-nic` : undefined);
const buildProblem = binOverride ? undefined : buildShipped();
export const pluginBin = binOverride || `${repoRoot}${SHIPPED}`;
export const builtMain = binOverride ? (binOverride.endsWith('bin/multi-nic') ? `${repoRoot}dist/cni/main.js` : binOverride) : pluginBin;
// In CI a build that fails is a failure, not a reason to skip the whole CNI suite.
if (buildProblem !== undefined && process.env['CI']) throw new Error(`scripts/build-cni.sh did not build ${SHIPPED}: ${buildProblem}`);
export const isBuilt = existsSync(builtMain) && buildProblem === undefined;
export const notBuiltReason = buildProblem
  ? `needs the shipped executable ${SHIPPED}, which did not build (scripts/build-cni.sh: ${buildProblem})`
  : binOverride
    ? `needs ${builtMain} for MULTINIC_CNI_BIN=${binOverride}: build it (npx tsc -p tsconfig.build.json, or scripts/build-cni.sh)`
    : `needs the shipped executable ${SHIPPED}: run make cni`;

export interface PluginRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout decoded, or undefined when empty / not JSON. */
  json: Record<string, unknown> | undefined;
}

export interface RunPluginOptions {
  command: string;
  env?: Record<string, string | undefined>;
  /** Config object (JSON-encoded) or raw stdin text. */
  stdin?: unknown;
  /** Run inside this named netns (`ip netns exec`), as a runtime on that host would. */
  hostNetns?: string;
  bin?: string;
}

/**
 * Where this test process's plugin runs remember their delegates' VERSION answers (the shipped
 * default is the host's /var/lib/cni/multinic): one directory per process, so that what one suite
 * run remembers never changes what the next one sees. A test passes its own in `env` to look at it.
 */
let versionDir: string | undefined;
export function testVersionDir(): string {
  if (!versionDir) {
    const dir = mkdtempSync(join(tmpdir(), 'mncni-versions-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    versionDir = dir;
  }
  return versionDir;
}

/** Runs the plugin once; never rejects on a non-zero exit. */
export function runPlugin(o: RunPluginOptions): Promise<PluginRun> {
  const bin = o.bin ?? pluginBin;
  const argv = o.hostNetns ? ['ip', 'netns', 'exec', o.hostNetns, bin] : [bin];
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_COMMAND: o.command };
  if (!(o.env && 'MULTINIC_CNI_VERSION_DIR' in o.env)) env['MULTINIC_CNI_VERSION_DIR'] = testVersionDir();
  for (const [k, v] of Object.entries(o.env ?? {})) if (v !== undefined) env[k] = v;
  if (o.command === '') delete env['CNI_COMMAND'];
  const stdin = o.stdin === undefined ? '' : typeof o.stdin === 'string' ? o.stdin : JSON.stringify(o.stdin);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
    child.stdin.on('error', () => undefined); // the plugin may fail before reading stdin
    child.stdin.end(stdin);
  });
}

/** Runs a command and resolves stdout; rejects with stderr on failure (setup and read-back). */
export function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errText = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (errText += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: ${errText.trim() || code}`))));
  });
}

/** Same as sh but never rejects (cleanup). */
export async function shQuiet(cmd: string, args: string[]): Promise<void> {
  await sh(cmd, args).catch(() => undefined);
}

/** A multi-nic NAD config in upstream's shape (upstream.md §2.5), for tests to tweak. */
export function nadConfig(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'mnet',
    type: 'multi-nic',
    ipam: { type: 'multi-nic-ipam', hostBlock: 6, interfaceBlock: 2, vlanMode: 'l3' },
    dns: {},
    plugin: { cniVersion: '0.3.0', type: 'macvlan', mode: 'bridge' },
    subnet: '192.168.0.0/16',
    masterNets: ['10.0.1.0/24', '10.0.2.0/24'],
    multiNICIPAM: true,
    daemonIP: '',
    daemonPort: 11000,
    ...over,
  };
}
