// vitest globalSetup: builds dist/ (with the help bundle) and oclif.manifest.json once before any test file runs, when
// they are older than src/ (make test builds first, so this is usually a no-op). Test files must
// not build themselves: parallel builds race on dist/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
}

export default function setup(): void {
  const manifest = join(root, 'oclif.manifest.json');
  if (existsSync(manifest) && existsSync(join(root, 'dist', 'cli', 'oclif-help.cjs')) && statSync(manifest).mtimeMs >= newest(join(root, 'src'))) return;
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (tsc.status !== 0) process.stderr.write(`tsc reported errors (output still emitted):\n${tsc.stdout}`);
  const m = spawnSync('node', ['scripts/manifest.mjs'], { cwd: root, encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`oclif manifest failed: ${m.stderr}`);
  const h = spawnSync('node', ['scripts/build-help-bundle.mjs'], { cwd: root, encoding: 'utf8' });
  if (h.status !== 0) throw new Error(`help bundle failed: ${h.stderr}`);
}
