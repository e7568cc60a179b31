// The agent's socket server (src/lib/agent/protocol.ts): HTTP+JSON on a unix socket, mode 0600, no
// TCP listener. Versioned paths; every non-2xx answer is an AgentErrorBody. A stale socket file (no
// one listening) is removed at start; a live one is an error, never stolen.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentError, type AgentCore } from './core.js';

const MAX_BODY = 1 << 20;

export interface AgentServerOptions {
  socketPath: string;
  core: AgentCore;
  /** GET /v1/state body. */
  state: () => unknown;
  /** Per-request deadline (ms) for reading the request and answering it. */
  requestTimeoutMs?: number;
  log?: (event: Record<string, unknown>) => void;
}

export interface AgentServer {
  readonly socketPath: string;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), removes the socket file. */
  close(graceMs?: number): Promise<void>;
}

/** True when something accepts connections on the socket. */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startAgentServer(opts: AgentServerOptions): Promise<AgentServer> {
  const { socketPath, core } = opts;
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o755 });
  const st = await lstat(socketPath).catch(() => undefined);
  if (st) {
    if (!st.isSocket()) throw new Error(`failed to listen on "${socketPath}": a file that is not a socket is in the way`);
    if (await listening(socketPath)) throw new Error(`failed to listen on "${socketPath}": another agent is serving it`);
    await unlink(socketPath);
  }
  const inflight = new Set<Promise<void>>();
  const server: Server = createServer((req, res) => {
    const p = handle(req, res).finally(() => inflight.delete(p));
    inflight.add(p);
  });
  server.requestTimeout = opts.requestTimeoutMs ?? 10_000;
  server.headersTimeout = Math.min(server.requestTimeout, 5_000);
  server.keepAliveTimeout = 5_000;

  async function gc(body: unknown): Promise<unknown> {
    const out = await core.gc(body);
    if (out.released > 0) opts.log?.({ level: 'info', msg: 'CNI GC released addresses', network: (body as { network?: unknown }).network, released: out.released });
    return out;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let status = 200;
    try {
      const path = (req.url ?? '/').split('?')[0];
      let out: unknown;
      if (req.method === 'GET' && path === '/v1/healthz') out = { apiVersion: 'v1', status: 'ok' };
      else if (req.method === 'GET' && path === '/v1/state') out = opts.state();
      else if (path === '/v1/allocate' || path === '/v1/release' || path === '/v1/lookup' || path === '/v1/gc') {
        if (req.method !== 'POST') throw Object.assign(new AgentError('InvalidRequest', `${path} takes POST, not ${req.method}`), { httpStatus: 405 });
        const body = await readJson(req);
        out =
          path === '/v1/allocate' ? await core.allocate(body)
          : path === '/v1/release' ? await core.release(body)
          : path === '/v1/lookup' ? await core.lookup(body)
          : await gc(body);
      } else throw new AgentError('NotFound', `no such endpoint: ${req.method} ${path} (the agent serves /v1/allocate, /v1/release, /v1/lookup, /v1/gc, /v1/healthz, /v1/state)`);
      send(res, 200, out);
    } catch (e) {
      const err = e instanceof AgentError ? e : new AgentError('Internal', (e as Error).message ?? String(e));
      status = (e as { httpStatus?: number }).httpStatus ?? err.status;
      // An unread body (413) would stall the connection: answer, then close it.
      if (status === 413) res.setHeader('connection', 'close');
      send(res, status, err.body());
      if (!(e instanceof AgentError)) opts.log?.({ level: 'error', msg: 'internal error', error: (e as Error).stack ?? String(e) });
    } finally {
      if (req.url !== '/v1/healthz') {
        opts.log?.({ level: 'debug', method: req.method, path: req.url, status, us: Number((process.hrtime.bigint() - started) / 1000n) });
      }
    }
  }

  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  await chmod(socketPath, 0o600);

  return {
    socketPath,
    async close(graceMs = 5_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await Promise.allSettled([...inflight]);
      server.closeIdleConnections();
      await closed;
      clearTimeout(timer);
      await unlink(socketPath).catch(() => undefined);
    },
  };
}

function tooLarge(): AgentError {
  return Object.assign(new AgentError('InvalidRequest', `request body larger than ${MAX_BODY} bytes`), { httpStatus: 413 });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AgentError('InvalidRequest', `request body is not JSON: ${(e as Error).message}`);
  }
}
