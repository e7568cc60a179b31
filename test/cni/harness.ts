// Shared by the CNI tests: run the BUILT plugin (bin/multi-nic) the way a runtime does, with CNI_*
// in the environment and the config on stdin, optionally inside a "host" netns. Asynchronous on
// purpose: the fake agent serves from the test's own event loop.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/**
 * MULTINIC_CNI_BIN runs every CNI test against another build of the plugin, such as the shipped
 * self-contained executable (scripts/build-cni.sh); by default, the TypeScript build via bin/.
 */
const binOverride = process.env['MULTINIC_CNI_BIN'];
export const pluginBin = binOverride || `${repoRoot}bin/multi-nic`;
export const builtMain = binOverride || `${repoRoot}dist/cni/main.js`;
export const isBuilt = existsSync(builtMain);
export const notBuiltReason = binOverride
  ? `needs the executable MULTINIC_CNI_BIN names (${binOverride}): build it with scripts/build-cni.sh`
  : `needs the built plugin (${builtMain}): run \`npx tsc -p tsconfig.build.json\``;

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

/** Runs the plugin once; never rejects on a non-zero exit. */
export function runPlugin(o: RunPluginOptions): Promise<PluginRun> {
  const bin = o.bin ?? pluginBin;
  const argv = o.hostNetns ? ['ip', 'netns', 'exec', o.hostNetns, bin] : [bin];
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_COMMAND: o.command };
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
