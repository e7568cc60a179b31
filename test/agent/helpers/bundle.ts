// Bundles the standalone agent entry (src/agent/bin.ts) into one ESM file so kernel tests can run
// the real agent inside a network namespace (`ip netns exec H node agent.mjs ...`): Node cannot
// setns() in-process, and the repo's dist/ may not be built while tests run.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function bundleAgent(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mnag-bundle-'));
  // Removed when the test process exits (agents started from it are stopped by then).
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const outfile = join(dir, 'agent.mjs');
  await build({
    entryPoints: [new URL('../../../src/agent/bin.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'error',
    // The --kube mode (and @kubernetes/client-node, 15 MB of source) is loaded lazily by main.ts;
    // file-state agents never import it, so the bundle leaves it out.
    external: ['./kube/index.js'],
    // CommonJS dependencies (ipaddr.js) may call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __mnagRequire } from 'node:module'; const require = __mnagRequire(import.meta.url);" },
  });
  return outfile;
}
