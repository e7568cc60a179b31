// Running one delegate binary: stdin in, stdout and stderr out, the exit status, a time limit and an
// output cap. The shipped plugin runs on Bun (scripts/build-cni.sh), where node:child_process is a
// compatibility layer that costs more than the delegate itself: a Bun executable that runs one
// /bin/true through execFile used 17 ms of CPU, through Bun.spawn 7.6 ms, against 6.4 ms running
// nothing (50 runs each, same hour). So on Bun it goes through Bun.spawn; on Node (bin/multi-nic,
// the Node SEA) through execFile. Both give the same answer for the same child.
import { execFile } from 'node:child_process';

export interface RunResult {
  /** Null when the child exited 0; else why not (`killed` when the time limit stopped it). */
  err: (Error & { killed?: boolean }) | null;
  stdout: string;
  stderr: string;
}

/** Output past this on stdout or stderr stops the child, as execFile's maxBuffer does. */
export const MAX_OUTPUT = 16 * 1024 * 1024;

interface BunSubprocess {
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  exited: Promise<number>;
  signalCode: string | null;
  kill(signal?: string): void;
}
interface BunRuntime {
  spawn(argv: string[], opts: { env: Record<string, string | undefined>; stdin: Uint8Array; stdout: 'pipe'; stderr: 'pipe' }): BunSubprocess;
}
const bun = (globalThis as { Bun?: BunRuntime }).Bun;

/** Runs `path` with no arguments; never rejects. */
export function runBinary(path: string, env: NodeJS.ProcessEnv, stdin: string, timeoutMs: number): Promise<RunResult> {
  return bun ? runWithBun(bun, path, env, stdin, timeoutMs) : runWithNode(path, env, stdin, timeoutMs);
}

function runWithNode(path: string, env: NodeJS.ProcessEnv, stdin: string, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(path, [], { env, timeout: timeoutMs, maxBuffer: MAX_OUTPUT }, (err, stdout, stderr) => resolve({ err, stdout, stderr }));
    // A delegate may exit without reading stdin (crash, bad env): its exit status tells, not EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(stdin);
  });
}

/** Reads a stream to text, its first MAX_OUTPUT bytes; `over` is called once when it goes past. */
async function readCapped(stream: ReadableStream<Uint8Array>, over: () => void): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_OUTPUT) {
      chunks.push(value.subarray(0, value.byteLength - (size - MAX_OUTPUT)));
      over();
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function runWithBun(b: BunRuntime, path: string, env: NodeJS.ProcessEnv, stdin: string, timeoutMs: number): Promise<RunResult> {
  let child: BunSubprocess;
  try {
    child = b.spawn([path], { env, stdin: Buffer.from(stdin), stdout: 'pipe', stderr: 'pipe' });
  } catch (e) {
    return { err: e as Error, stdout: '', stderr: '' };
  }
  let why: string | undefined;
  let killed = false;
  const stop = (reason: string) => {
    if (why !== undefined) return;
    why = reason;
    killed = reason === 'timeout';
    child.kill('SIGTERM');
  };
  const timer = setTimeout(() => stop('timeout'), timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([readCapped(child.stdout, () => stop('stdout maxBuffer length exceeded')), readCapped(child.stderr, () => stop('stderr maxBuffer length exceeded')), child.exited]);
    if (code === 0 && why === undefined) return { err: null, stdout, stderr };
    const how = why ?? (child.signalCode ? `killed by ${child.signalCode}` : `exit code ${code}`);
    return { err: Object.assign(new Error(`Command failed: ${path} (${how})`), { killed }), stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}
