// The children test/cni/spawn.test.ts runs through src/cni/spawn.ts's runBinary on Node, and on Bun
// (`bun test/cni/spawn-cases.ts DIR` prints the same cases' answers as JSON), to compare the two.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBinary, type RunResult } from '../../src/cni/spawn.js';

export interface SpawnCase {
  name: string;
  script: string;
  stdin: string;
  timeoutMs: number;
}

export const spawnCases: SpawnCase[] = [
  { name: 'echo', script: 'cat; echo "to stderr $CNI_COMMAND" >&2', stdin: '{"cniVersion":"1.0.0"}', timeoutMs: 10_000 },
  { name: 'error-json', script: 'cat >/dev/null; echo \'{"code":7,"msg":"bad"}\'; exit 3', stdin: '{}', timeoutMs: 10_000 },
  { name: 'no-stdin-read', script: 'echo ok', stdin: 'x'.repeat(1 << 20), timeoutMs: 10_000 },
  { name: 'timeout', script: 'exec sleep 5', stdin: '', timeoutMs: 300 },
  { name: 'over-cap', script: 'head -c 17000000 /dev/zero', stdin: '', timeoutMs: 10_000 },
  { name: 'signal', script: 'kill -9 $$', stdin: '', timeoutMs: 10_000 },
];

export interface SpawnAnswer {
  name: string;
  failed: boolean;
  killed: boolean;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Writes each case's script into `dir` and runs them all (and one absent binary). */
export async function runSpawnCases(dir: string): Promise<SpawnAnswer[]> {
  const out: SpawnAnswer[] = [];
  const one = async (name: string, path: string, stdin: string, timeoutMs: number) => {
    const t0 = Date.now();
    const r: RunResult = await runBinary(path, { PATH: '/usr/bin:/bin', CNI_COMMAND: 'ADD' }, stdin, timeoutMs);
    out.push({ name, failed: r.err !== null, killed: Boolean(r.err?.killed), stdout: r.stdout.length > 100 ? `${r.stdout.length} bytes` : r.stdout, stderr: r.stderr, ms: Date.now() - t0 });
  };
  for (const c of spawnCases) {
    const path = join(dir, c.name);
    writeFileSync(path, `#!/bin/sh\n${c.script}\n`);
    chmodSync(path, 0o755);
    await one(c.name, path, c.stdin, c.timeoutMs);
  }
  await one('absent', join(dir, 'absent'), '', 10_000);
  return out;
}

if ((import.meta as { main?: boolean }).main) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: bun test/cni/spawn-cases.ts DIR');
  process.stdout.write(`${JSON.stringify(await runSpawnCases(dir))}\n`);
}
