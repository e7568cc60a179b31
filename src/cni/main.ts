// Entry point of the `multi-nic` CNI executable (bin/multi-nic): wires the real ports and runs one
// invocation. Imports node built-ins and our modules only: every pod attachment pays the startup.
import { existsSync } from 'node:fs';
import { createAgentClient } from './agent-client.js';
import { invokePlugin } from './plugin-exec.js';
import { deleteLink, readNetns } from './netns.js';
import { createHandlers } from './plugin.js';
import { dispatch, type CniIo } from './skel.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function main(): Promise<number> {
  const io: CniIo = {
    env: process.env,
    readStdin: () => readAll(process.stdin),
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  };
  const handlers = createHandlers({
    agent: (socketPath) => createAgentClient({ socketPath }),
    invoke: invokePlugin,
    readNetns,
    netnsExists: (p) => existsSync(p),
    deleteLink,
    log: (m) => process.stderr.write(`${m}\n`),
    parallel: process.env['MULTINIC_CNI_SEQUENTIAL'] !== '1',
  });
  return dispatch(io, handlers);
}

process.exitCode = await main();
