// The Bun the shipped plugin is built with (scripts/build-cni.sh's bun_version), from
// scripts/npm-fetch.sh's cache (fetched from the npm registry like the build does), to run a
// test's cases file on the plugin's own runtime. In CI a Bun that cannot be had is a failure;
// elsewhere (no registry) `bunSkip` says why the Bun half is skipped.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const version = /^bun_version=(\S+)$/m.exec(readFileSync(join(root, 'scripts/build-cni.sh'), 'utf8'))?.[1];
const arch = process.arch === 'x64' ? 'x64-baseline' : 'aarch64';
const fetched = spawnSync('bash', ['scripts/npm-fetch.sh', `@oven/bun-linux-${arch}@${version}`, 'bin/bun'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
export const shippedBun = fetched.status === 0 ? fetched.stdout.trim() : undefined;
if (!shippedBun && process.env['CI']) throw new Error(`scripts/npm-fetch.sh could not fetch Bun ${version}: ${fetched.stderr}`);
export const bunSkip = shippedBun ? '' : `(skipped: Bun ${version} could not be fetched from the npm registry)`;

/** Runs `bun FILE ...args` from the repository root; throws with its stderr when it fails. */
export function runOnBun(file: string, args: string[]): string {
  const r = spawnSync(shippedBun as string, [join(root, file), ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`bun ${file} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}
