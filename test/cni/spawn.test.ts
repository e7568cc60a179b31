// src/cni/spawn.ts's runBinary gives the same answer on Node (execFile) and on Bun (Bun.spawn, what
// the shipped plugin runs): output, exit status, a child that never reads its stdin, the time
// limit, the output cap, a signal, an absent binary. The Bun side runs under the Bun the shipped
// plugin is built with (scripts/build-cni.sh's version, from scripts/npm-fetch.sh's cache).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runSpawnCases, type SpawnAnswer } from './spawn-cases.js';

// Not from ./harness.js, whose import builds the shipped plugin.
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bunVersion = /^bun_version=(\S+)$/m.exec(readFileSync(join(repoRoot, 'scripts/build-cni.sh'), 'utf8'))?.[1];
const arch = process.arch === 'x64' ? 'x64-baseline' : 'aarch64';
const fetched = spawnSync('bash', ['scripts/npm-fetch.sh', `@oven/bun-linux-${arch}@${bunVersion}`, 'bin/bun'], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
const bun = fetched.status === 0 ? fetched.stdout.trim() : undefined;
// CI fetches it like the build does; elsewhere a machine without the registry skips the Bun half.
if (!bun && process.env['CI']) throw new Error(`scripts/npm-fetch.sh could not fetch Bun ${bunVersion}: ${fetched.stderr}`);

describe('runBinary (src/cni/spawn.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mncni-spawn-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let onNode: SpawnAnswer[];

  it('on Node: output, status, unread stdin, time limit, output cap, signal, absent binary', async () => {
    onNode = await runSpawnCases(join(dir));
    const by = Object.fromEntries(onNode.map((a) => [a.name, a]));
    expect(by['echo']).toMatchObject({ failed: false, stdout: '{"cniVersion":"1.0.0"}', stderr: 'to stderr ADD\n' });
    expect(by['error-json']).toMatchObject({ failed: true, killed: false, stdout: '{"code":7,"msg":"bad"}\n' });
    expect(by['no-stdin-read']).toMatchObject({ failed: false, stdout: 'ok\n' });
    expect(by['timeout']).toMatchObject({ failed: true, killed: true });
    expect(by['timeout']?.ms).toBeLessThan(3000);
    expect(by['over-cap']).toMatchObject({ failed: true, killed: false });
    expect(by['signal']).toMatchObject({ failed: true, killed: false });
    expect(by['absent']).toMatchObject({ failed: true, stdout: '' });
  });

  it.skipIf(!bun)(`on Bun${bun ? '' : ' (skipped: Bun could not be fetched from the npm registry)'}: the same answers`, () => {
    const bunDir = mkdtempSync(join(dir, 'bun-'));
    const r = spawnSync(bun as string, [join(repoRoot, 'test/cni/spawn-cases.ts'), bunDir], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const onBun = JSON.parse(r.stdout) as SpawnAnswer[];
    const shape = (xs: SpawnAnswer[]) => xs.map(({ ms: _ms, ...rest }) => rest);
    expect(shape(onBun)).toEqual(shape(onNode));
    expect(onBun.find((a) => a.name === 'timeout')?.ms).toBeLessThan(3000);
  });
});
