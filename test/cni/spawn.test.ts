// src/cni/spawn.ts's runBinary gives the same answer on Node (execFile) and on Bun (Bun.spawn, what
// the shipped plugin runs): output, exit status, a child that never reads its stdin, the time
// limit, the output cap, a signal, an absent binary. The Bun side runs under the Bun the shipped
// plugin is built with (scripts/build-cni.sh's version, from scripts/npm-fetch.sh's cache).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bunSkip, runOnBun, shippedBun } from '../helpers/bun.js';
import { runSpawnCases, type SpawnAnswer } from './spawn-cases.js';

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

  it.skipIf(!shippedBun)(`on Bun: the same answers ${bunSkip}`, () => {
    const onBun = JSON.parse(runOnBun('test/cni/spawn-cases.ts', [mkdtempSync(join(dir, 'bun-'))])) as SpawnAnswer[];
    const shape = (xs: SpawnAnswer[]) => xs.map(({ ms: _ms, ...rest }) => rest);
    expect(shape(onBun)).toEqual(shape(onNode));
    expect(onBun.find((a) => a.name === 'timeout')?.ms).toBeLessThan(3000);
  });
});
