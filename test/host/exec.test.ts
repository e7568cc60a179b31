// run()'s output cap: a command that prints more than maxBytes is stopped and rejected with an
// error that says so, instead of its output being held in the agent's memory.
import { describe, expect, it } from 'vitest';
import { CommandError, run } from '../../src/host/exec.js';

describe('run maxBytes', () => {
  it('rejects a command whose output exceeds maxBytes, naming the limit', async () => {
    const err = await run('head', ['-c', '300000', '/dev/zero'], { maxBytes: 64 * 1024 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as Error).message).toBe('head -c 300000 /dev/zero: printed more than 65536 bytes; stopped reading it (the cap keeps an unbounded output out of memory)');
  });

  it('returns an output within maxBytes whole', async () => {
    expect((await run('head', ['-c', '65536', '/dev/zero'], { maxBytes: 64 * 1024 })).stdout).toHaveLength(65536);
  });
});
