// The agent process survives a promise rejection nobody handled (src/agent/cli.ts guardRejections):
// a real Node process with the guard installed rejects a promise and must keep running, logging the
// bug; the same process without the guard dies, as Node does by default (so the check can fail).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('agent process: unhandled rejections', () => {
  let dir: string;
  let script: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnh2-guard-'));
    script = join(dir, 'guard.mjs');
    const cli = new URL('../../src/agent/cli.ts', import.meta.url).pathname;
    const res = await build({
      stdin: {
        contents: `import { guardRejections } from ${JSON.stringify(cli)};
if (process.argv[2] === 'guarded') guardRejections();
void Promise.reject(new Error('a background API write failed'));
setTimeout(() => process.stdout.write('still serving'), 200);`,
        resolveDir: dir,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      external: ['./kube/index.js'],
      banner: { js: "import { createRequire as __mnh2Require } from 'node:module'; const require = __mnh2Require(import.meta.url);" },
      logLevel: 'error',
    });
    writeFileSync(script, res.outputFiles[0]?.contents as Uint8Array);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('with the guard: logs the rejection as a bug with its stack and keeps running', () => {
    const r = spawnSync(process.execPath, [script, 'guarded'], { encoding: 'utf8' });
    expect([r.status, r.stdout]).toEqual([0, 'still serving']);
    const line = JSON.parse(r.stderr.trim().split('\n')[0] as string) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'error', msg: 'BUG: unhandled promise rejection; the agent keeps serving' });
    expect(line.error).toMatch(/^Error: a background API write failed\n\s+at /);
  });

  it('without it, Node exits on the same rejection', () => {
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('a background API write failed');
  });
});
