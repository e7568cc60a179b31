// One way for commands to wait (apply --wait, status --wait, install --wait): poll, show one progress
// line (rewritten in place on a TTY, one line per change otherwise), stop when settled, when the poll
// says waiting cannot help, or at the deadline. A briefly unreachable API is waited through: the line
// says so, and only an API still unreachable at the deadline is an error.
import { ClusterUnreachableError } from '../lib/errors.js';

export interface WaitOptions<T> {
  poll: () => Promise<T>;
  /** The progress line for a poll's value. */
  line: (value: T) => string;
  settled: (value: T) => boolean;
  /** A reason waiting cannot fix (stops at once), or undefined. */
  terminal?: (value: T) => string | undefined;
  timeoutMs: number;
  intervalMs?: number;
  /** Writes a line for humans (stderr). */
  note: (text: string) => void;
  tty?: boolean;
}

export interface WaitResult<T> {
  value: T;
  outcome: 'settled' | 'terminal' | 'timeout';
  /** Set with outcome terminal. */
  reason?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(o: WaitOptions<T>): Promise<WaitResult<T>> {
  const tty = o.tty ?? Boolean(process.stderr.isTTY);
  const t0 = Date.now();
  const deadline = t0 + o.timeoutMs;
  let last = '';
  const show = (line: string): void => {
    if (tty) process.stderr.write(`\r\x1b[2K${((Date.now() - t0) / 1000).toFixed(0)}s ${line}`);
    else if (line !== last) o.note(line);
    last = line;
  };
  const end = <R>(r: R): R => {
    if (tty && last) process.stderr.write('\n');
    return r;
  };
  for (;;) {
    let value: T;
    try {
      value = await o.poll();
    } catch (e) {
      if (!(e instanceof ClusterUnreachableError) || Date.now() >= deadline) {
        end(undefined);
        throw e;
      }
      show(`API unreachable, retrying until the timeout: ${e.message}`);
      await sleep(Math.min(o.intervalMs ?? 500, Math.max(0, deadline - Date.now())));
      continue;
    }
    show(o.line(value));
    if (o.settled(value)) return end({ value, outcome: 'settled' });
    const reason = o.terminal?.(value);
    if (reason !== undefined) return end({ value, outcome: 'terminal', reason });
    if (Date.now() >= deadline) return end({ value, outcome: 'timeout' });
    await sleep(Math.min(o.intervalMs ?? 500, Math.max(0, deadline - Date.now())));
  }
}
