import { describe, expect, it } from 'vitest';
import { waitFor } from '../../src/cli/wait.js';
import { ClusterUnreachableError } from '../../src/lib/errors.js';

/** A poll that answers from a script, one entry a call (an Error entry is thrown), repeating the last. */
function scripted<T>(answers: Array<T | Error>): () => Promise<T> {
  let i = 0;
  return () => {
    const a = answers[Math.min(i++, answers.length - 1)] as T | Error;
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
  };
}
const base = { line: (v: number) => `at ${v}`, settled: (v: number) => v >= 3, intervalMs: 1, tty: false };

describe('waitFor', () => {
  it('polls until settled, one progress line per change', async () => {
    const notes: string[] = [];
    const r = await waitFor({ ...base, poll: scripted([1, 1, 2, 3]), timeoutMs: 60_000, note: (t) => notes.push(t) });
    expect(r).toEqual({ value: 3, outcome: 'settled' });
    expect(notes).toEqual(['at 1', 'at 2', 'at 3']);
  });

  it('stops at once on a terminal reason', async () => {
    const r = await waitFor({ ...base, poll: scripted([1, 2]), terminal: (v) => (v === 2 ? 'overlaps' : undefined), timeoutMs: 60_000, note: () => undefined });
    expect(r).toEqual({ value: 2, outcome: 'terminal', reason: 'overlaps' });
  });

  it('waits through an unreachable API, saying so', async () => {
    const notes: string[] = [];
    const down = new ClusterUnreachableError('cannot reach the Kubernetes API at https://x');
    const r = await waitFor({ ...base, poll: scripted<number>([down, down, 3]), timeoutMs: 60_000, note: (t) => notes.push(t) });
    expect(r.outcome).toBe('settled');
    expect(notes[0]).toBe('API unreachable, retrying until the timeout: cannot reach the Kubernetes API at https://x');
  });

  it('an API still unreachable at the deadline is the error; other errors are not retried', async () => {
    const down = new ClusterUnreachableError('down');
    await expect(waitFor({ ...base, poll: scripted<number>([down]), timeoutMs: 20, note: () => undefined })).rejects.toBe(down);
    const bug = new Error('bug');
    let calls = 0;
    await expect(waitFor({ ...base, poll: () => (calls++, Promise.reject(bug)), timeoutMs: 60_000, note: () => undefined })).rejects.toBe(bug);
    expect(calls).toBe(1);
  });

  it('times out with the last value', async () => {
    const r = await waitFor({ ...base, poll: scripted([1]), timeoutMs: 20, note: () => undefined });
    expect(r).toEqual({ value: 1, outcome: 'timeout' });
  });
});
