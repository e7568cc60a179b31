// Bundles the standalone agent entry (src/agent/bin.ts) into one ESM file so kernel tests can run
// the real agent inside a network namespace (`ip netns exec H node agent.mjs ...`): Node cannot
// setns() in-process, and the repo's dist/ may not be built while tests run. The file is named by
// its content hash, so parallel test files share it and runs leave one file per source version.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function bundleAgent(): Promise<string> {
  const res = await build({
    entryPoints: [new URL('../../../src/agent/bin.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    outfile: 'agent.mjs',
    logLevel: 'error',
    // The --kube mode (and @kubernetes/client-node, 15 MB of source) is loaded lazily by main.ts;
    // file-state agents never import it, so the bundle leaves it out.
    external: ['./kube/index.js'],
    // CommonJS dependencies (ipaddr.js) may call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __mnagRequire } from 'node:module'; const require = __mnagRequire(import.meta.url);" },
  });
  const code = res.outputFiles[0]?.contents as Uint8Array;
  const dir = join(tmpdir(), `mnag-bundle-${createHash('sha256').update(code).digest('hex').slice(0, 16)}`);
  const outfile = join(dir, 'agent.mjs');
  if (!existsSync(outfile)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${outfile}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, outfile);
  }
  return outfile;
}
