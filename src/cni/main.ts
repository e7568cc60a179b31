// Entry point of the `multi-nic` CNI executable (bin/multi-nic): wires the real ports and runs one
// invocation. Imports node built-ins and our modules only: every pod attachment pays the startup.
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { CniCode, CniError } from '../lib/cni/errors.js';
import { createAgentClient } from './agent-client.js';
import { createInvokePlugin, type InvokePlugin } from './plugin-exec.js';
import { deleteLink, readNetns } from './netns.js';
import { createHandlers } from './plugin.js';
import { dispatch, type CniIo } from './skel.js';
import { fileVersionMemory, versionDirFrom } from './version-memory.js';

/**
 * The runtime writes the config into a pipe and closes it: one blocking read is the fast path (no
 * stream machinery to load, ~5 ms of a pod attachment). A non-blocking stdin (EAGAIN) falls back
 * to the stream.
 */
async function readStdin(): Promise<string> {
  try {
    return readFileSync(0, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    return readAll(process.stdin);
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The agent socket must be a unix socket owned by root: its answers name the host NICs, interfaces
 * and addresses the plugin configures as root, and `agentSocket` comes from a network config that
 * a namespace user may write. A missing socket is left to the client (it says the agent is down).
 */
function checkAgentSocket(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket() || st.uid !== 0) {
    const what = st.isSocket() ? `a socket owned by uid ${st.uid}` : st.isSymbolicLink() ? 'a symbolic link' : 'not a socket';
    throw new CniError(CniCode.InvalidNetConf, `agent socket ${path} is ${what}, not the agent's (a unix socket owned by root)`, 'point agentSocket (or MULTINIC_AGENT_SOCKET) at the multinic agent\'s socket, /run/multinic/agent.sock by default');
  }
}

/**
 * MULTINIC_AGENT_WAIT_MS (0-600000): how long DEL waits for an away agent. Read when DEL asks, so
 * a bad value fails that DEL with the CNI error naming it (and nothing else).
 */
function agentWait(v: string | undefined): { agentWaitMs?: () => number } {
  if (v === undefined || v === '') return {};
  return {
    agentWaitMs: () => {
      if (!/^\d{1,6}$/.test(v) || Number(v) > 600_000) {
        throw new CniError(CniCode.InvalidEnv, `MULTINIC_AGENT_WAIT_MS "${v.slice(0, 40)}" is not a number of milliseconds from 0 to 600000`, 'unset it (DEL then waits up to 10 s for a restarting agent) or set a whole number of milliseconds');
      }
      return Number(v);
    },
  };
}

/**
 * The delegate runner, remembering delegates' VERSION answers on the host (src/cni/version-memory.ts)
 * so that an ADD or DEL does not ask a delegate VERSION again each time. A bad
 * MULTINIC_CNI_VERSION_DIR fails each delegate call with the CNI error naming it.
 */
function delegateRunner(v: string | undefined): InvokePlugin {
  const { dir, error } = versionDirFrom(v);
  if (error) {
    return () => Promise.reject(error);
  }
  return createInvokePlugin(dir ? fileVersionMemory(dir) : undefined);
}

export async function main(): Promise<number> {
  const io: CniIo = {
    env: process.env,
    readStdin,
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  };
  const handlers = createHandlers({
    agent: (socketPath) => {
      checkAgentSocket(socketPath);
      return createAgentClient({ socketPath });
    },
    invoke: delegateRunner(process.env['MULTINIC_CNI_VERSION_DIR']),
    readNetns,
    netnsExists: (p) => existsSync(p),
    deleteLink,
    // Measured alone against this path and removed (bench/cni/run.sh ab, 20 runs, load 5.5-6.8):
    // one `ip -batch` of every address and route after link-only delegates, ADD wall 1.40x / CPU
    // 0.89x of static IPAM per NIC; the delegate's VERSION probe started before the agent's
    // answer, ADD wall 1.10x / CPU 0.99x.
    log: (m) => process.stderr.write(`${m}\n`),
    parallel: process.env['MULTINIC_CNI_SEQUENTIAL'] !== '1',
    ...agentWait(process.env['MULTINIC_AGENT_WAIT_MS']),
  });
  return dispatch(io, handlers);
}

// Exit as soon as the answer is out: a natural exit tears the V8 heap down first (~5-10 ms of a pod
// attachment). Pipes are synchronous on Linux; the write callback covers the other cases.
const exitWith = (code: number) => {
  process.exitCode = code;
  process.stdout.write('', () => process.exit(code));
};
main().then(exitWith, (e: unknown) => {
  process.stderr.write(`multi-nic: ${(e as Error)?.stack ?? String(e)}\n`);
  exitWith(1);
});
