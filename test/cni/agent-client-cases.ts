// The agents test/cni/agent-client.test.ts puts behind real unix sockets, and what the CNI's agent
// client (src/cni/agent-client.ts) makes of each: run on Node by the test, and on Bun (what the
// shipped plugin runs) by `bun test/cni/agent-client-cases.ts DIR`, which writes the same outcomes
// to DIR/outcomes.json.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentRequestError, AgentUnavailableError, createAgentClient, type AgentClient } from '../../src/cni/agent-client.js';

export const key = { apiVersion: 'v1' as const, network: 'mnet', pod: { namespace: 'default', name: 'p', uid: 'u', containerID: 'c', ifName: 'net1' } };
/** An answer of 2,000 NICs (~100 kB): more than one read. */
export const big = { apiVersion: 'v1', nics: Array.from({ length: 2000 }, (_, i) => ({ index: i, master: `eth${i}`, address: `10.0.${i % 256}.1/24` })) };

export interface Outcome {
  name: string;
  value?: unknown;
  error?: { type: string; message: string; away?: boolean; status?: number; body?: unknown };
}

async function outcome(name: string, p: Promise<unknown>): Promise<Outcome> {
  try {
    return { name, value: await p };
  } catch (e) {
    const err = e as Error;
    return {
      name,
      error: {
        type: err.constructor.name,
        message: err.message,
        ...(e instanceof AgentUnavailableError ? { away: e.away } : {}),
        ...(e instanceof AgentRequestError ? { status: e.status, body: e.body } : {}),
      },
    };
  }
}

/** Starts every agent in `dir`, runs every case in order, stops them; `seen` gets what the echo agent received. */
export async function runClientCases(dir: string): Promise<{ outcomes: Outcome[]; seen: string[] }> {
  const servers: Array<HttpServer | NetServer> = [];
  const held: Socket[] = [];
  const listen = async (s: HttpServer | NetServer, name: string): Promise<string> => {
    const path = join(dir, name);
    servers.push(s);
    await new Promise<void>((r) => s.listen(path, () => r()));
    return path;
  };
  const client = (socketPath: string, timeoutMs?: number): AgentClient => createAgentClient({ socketPath, ...(timeoutMs ? { timeoutMs } : {}) });
  const seen: string[] = [];

  const plain = join(dir, 'plain-file');
  writeFileSync(plain, '');
  const silent = await listen(createNetServer((sock) => void held.push(sock)), 'silent.sock');
  const err = await listen(
    createHttpServer((req, res) => {
      if (req.url === '/v1/allocate') {
        res.writeHead(409, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ apiVersion: 'v1', code: 'PoolExhausted', message: 'pool p is full', hint: 'grow hostBlock' }));
      } else {
        res.writeHead(404);
        res.end();
      }
    }),
    'err.sock',
  );
  const garbage = await listen(createHttpServer((_req, res) => res.end('<html>proxy</html>')), 'garbage.sock');
  const echo = await listen(
    createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? '-'} ${body.length > 200 ? `${body.length} bytes` : body}`);
        res.end('{"apiVersion":"v1","released":0}');
      });
    }),
    'echo.sock',
  );
  const chunked = await listen(
    createHttpServer((req, res) => {
      if (req.url === '/v1/lookup') {
        const text = Buffer.from(JSON.stringify(big));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length });
        res.end(text);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }); // no length: chunked
      const text = Buffer.from('{"apiVersion":"v1","released":0,"note":"grüße ✓"}');
      res.write(text.subarray(0, 44)); // splits the multi-byte characters
      setTimeout(() => res.end(text.subarray(44)), 20);
    }),
    'chunked.sock',
  );
  // Never reads: destroying the socket with the request in its queue resets the client's end.
  const reset = await listen(createNetServer({ pauseOnConnect: true }, (sock) => void setTimeout(() => sock.destroy(), 20)), 'reset.sock');
  const closing = await listen(createNetServer((sock) => sock.resume().end()), 'closing.sock');
  const smtp = await listen(createNetServer((sock) => sock.resume().end('220 mail ESMTP\r\n\r\n')), 'smtp.sock');

  const outcomes: Outcome[] = [];
  for (const [name, p] of [
    ['missing', () => client(join(dir, 'none.sock')).allocate(key)],
    ['not-a-socket', () => client(plain).lookup(key)],
    ['silent', () => client(silent, 200).release(key)],
    ['error-status', () => client(err).allocate(key)],
    ['bodyless-404', () => client(err).gc({ apiVersion: 'v1', network: 'mnet', keep: [] })],
    ['not-json', () => client(garbage).lookup(key)],
    ['healthz', () => client(echo).healthz()],
    ['release', () => client(echo).release(key)],
    // A request larger than a socket takes at once (the rest goes when it drains).
    ['big-request', () => client(echo).gc({ apiVersion: 'v1', network: 'mnet', keep: Array.from({ length: 20000 }, (_, i) => ({ containerID: `container-${i}-${'x'.repeat(40)}`, ifName: 'net1' })) })],
    ['chunked', () => client(chunked).release(key)],
    ['big-answer', () => client(chunked).lookup(key)],
    ['reset', () => client(reset).lookup(key)],
    ['closed', () => client(closing).allocate(key)],
    ['not-http', () => client(smtp).lookup(key)],
  ] as const) {
    outcomes.push(await outcome(name, p()));
  }
  for (const sock of held) sock.destroy();
  for (const s of servers) {
    if ('closeAllConnections' in s) s.closeAllConnections();
    await new Promise((r) => s.close(() => r(null)));
  }
  return { outcomes, seen };
}

if ((import.meta as { main?: boolean }).main) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: bun test/cni/agent-client-cases.ts DIR');
  writeFileSync(join(dir, 'outcomes.json'), JSON.stringify(await runClientCases(dir)));
  process.exit(0);
}
