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
 * A marker that frames the outputs of several commands in one process's stdout. It is random, so
 * nothing a command prints (an interface name, a pod's route) can forge one.
 */
export function frameMark(prefix: string): string {
  return `${prefix}-${process.getBuiltinModule('node:crypto').randomBytes(12).toString('hex')}`;
}

/**
 * The sections of a stdout that a shell framed as `\n<mark> BEGIN\n<body>\n<mark> END <code>\n`, in
 * order. A section whose END is missing (the shell stopped, or a cap cut it) has no `code`, and
 * its body is all that came.
 */
export function readFrames(stdout: string, mark: string): Array<{ body: string; code?: string }> {
  return stdout.split(`\n${mark} BEGIN\n`).slice(1).map((sec) => {
    const end = sec.lastIndexOf(`\n${mark} END `);
    return end < 0 ? { body: sec } : { body: sec.slice(0, end), code: sec.slice(end + mark.length + 6).trim() };
  });
}

/** What one `ip` command word may be in ipJsonMany: options, objects, table ids, prefixes. */
const IP_WORD = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$|^-[A-Za-z0-9]{1,16}$/;

// One shell runs each command (its words are one argv item, split by the shell with globbing off)
// and frames its output with a marker and its exit code (readFrames).
const IP_MANY_SCRIPT = `m=$1; shift; set -f
for c do
  printf '\\n%s BEGIN\\n' "$m"
  ip -json $c 2>&1
  printf '\\n%s END %s\\n' "$m" "$?"
done
`;

/**
 * `ip -json` of several commands in one process, in order: each answer is its parsed output, or the
 * CommandError it failed with (the others are unaffected; ipAnswer throws it). A `spawn()` from the
 * agent blocks its event loop for the fork of a ~90 MB process; one shell that forks each `ip`
 * costs that once. The words are code's own (options, objects, table numbers), checked against
 * IP_WORD; anything else is refused before a process starts. Rejects only when the shell itself
 * fails.
 */
export async function ipJsonMany<T = unknown>(cmds: string[][], netns?: NetnsRef, opts: { maxBytes?: number } = {}): Promise<Array<T[] | CommandError>> {
  for (const c of cmds) {
    const bad = c.find((w) => !IP_WORD.test(w));
    if (c.length === 0 || bad !== undefined) throw new Error(`ipJsonMany: ${JSON.stringify(bad ?? '')} in ip ${c.join(' ')} is not an ip command word`);
  }
  const mark = frameMark('mnip');
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024 * Math.max(1, cmds.length);
  const { stdout } = await run('sh', ['-c', IP_MANY_SCRIPT, 'sh', mark, ...cmds.map((c) => c.join(' '))], { netns, maxBytes });
  const frames = readFrames(stdout, mark);
  return cmds.map((c, i) => {
    const argv = inNetns(netns, 'ip', ['-json', ...c]);
    const f = frames[i];
    if (f?.code === undefined) return new CommandError(argv, null, 'no answer from its shell');
    const body = f.body.trim();
    const code = Number(f.code);
    if (code !== 0) return new CommandError(argv, Number.isInteger(code) ? code : null, body, '');
    try {
      return body ? (JSON.parse(body) as T[]) : [];
    } catch (e) {
      return new CommandError(argv, 0, `printed what is not JSON: ${(e as Error).message}`, body.slice(0, 300));
    }
  });
}

/** One ipJsonMany answer: its output, or the CommandError it failed with, thrown. */
export function ipAnswer<T>(x: T[] | CommandError): T[] {
  if (x instanceof CommandError) throw x;
  return x;
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
