// The one way this codebase runs host commands and enters network namespaces (docs/conventions.md §11).
// Node cannot setns() safely in-process (the libuv thread pool shares the namespace), so namespace
// entry is always a child process: `ip -n NAME` for named namespaces, `nsenter --net=PATH` for paths
// such as CNI_NETNS. Uses node:child_process rather than execa: execa's import costs ~150 ms
// (measured: 141-160 ms vs 4-6 ms), which every CNI invocation would pay.
import { execFile, spawn } from 'node:child_process';

/** Where a command runs: the current namespace, a named one (/run/netns/NAME) or a netns path. */
export type NetnsRef = { name: string } | { path: string } | undefined;

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly code: number | null,
    readonly stderr: string,
    /** What the command printed before failing (CNI plugins write their error JSON to stdout). */
    readonly stdout = '',
  ) {
    super(`${argv.join(' ')}: ${stderr.trim() || `exit code ${code}`}`);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  netns?: NetnsRef;
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Cap on stdout and on stderr in bytes (default 64 MiB); past it the command is killed and rejected. */
  maxBytes?: number;
}

/** argv for running `cmd args` inside `netns`. */
export function inNetns(netns: NetnsRef, cmd: string, args: string[]): string[] {
  if (!netns) return [cmd, ...args];
  if ('name' in netns) {
    if (cmd === 'ip') return ['ip', '-n', netns.name, ...args];
    return ['ip', 'netns', 'exec', netns.name, cmd, ...args];
  }
  return ['nsenter', `--net=${netns.path}`, '--', cmd, ...args];
}

/** Runs a command to completion; rejects with CommandError on a non-zero exit. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const argv = inNetns(opts.netns, cmd, args);
  return new Promise((resolve, reject) => {
    const child = execFile(
      argv[0] as string,
      argv.slice(1),
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: opts.maxBytes ?? 64 * 1024 * 1024, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        if (err && (err as { code?: unknown }).code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          reject(new CommandError(argv, null, `printed more than ${opts.maxBytes ?? 64 * 1024 * 1024} bytes; stopped reading it (the cap keeps an unbounded output out of memory)`));
        } else if (err) {
          const code = typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
          reject(new CommandError(argv, code, stderr || err.message, stdout));
        } else resolve({ stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs `ip -json ARGS` and parses the output ([] when ip prints nothing). */
export async function ipJson<T = unknown>(args: string[], netns?: NetnsRef, opts: { maxBytes?: number } = {}): Promise<T[]> {
  const { stdout } = await run('ip', ['-json', ...args], { netns, ...opts });
  const text = stdout.trim();
  return text ? (JSON.parse(text) as T[]) : [];
}

/**
 * Runs many `ip` commands in one process (`ip -batch -`); with `force`, continues past failures
 * (`-force`) and reports the first error. One fork instead of N is what keeps route reconciles fast.
 */
export async function ipBatch(lines: string[], opts: { netns?: NetnsRef; force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  const args = [...(opts.force ? ['-force'] : []), '-batch', '-'];
  await run('ip', args, { netns: opts.netns, input: `${lines.join('\n')}\n` });
}

/** Starts a long-running process (e.g. `ip monitor`, iperf3) and returns it. */
export function start(cmd: string, args: string[], opts: { netns?: NetnsRef; env?: NodeJS.ProcessEnv } = {}) {
  const argv = inNetns(opts.netns, cmd, args);
  return spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
}
