// The agent's socket server (src/lib/agent/protocol.ts): HTTP+JSON on a unix socket, mode 0600, no
// TCP listener. Versioned paths; every non-2xx answer is an AgentErrorBody. A stale socket file (no
// one listening) is removed at start; a live one is an error, never stolen.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentError, type AgentCore } from './core.js';
import type { CniVerb } from './metrics.js';

/**
 * Largest request body. The biggest real requests are far below it: an ADD for 8 NICs with every
 * field at its longest is under 2 KiB, and a GC listing 600 attachments about 50 KiB
 * (test/agent/server.test.ts). With DEFAULT_MAX_CONNECTIONS open at once, bodies held in memory
 * stay within 32 MiB.
 */
export const MAX_BODY_BYTES = 64 << 10;
/**
 * Largest GC body: a runtime lists every valid attachment of the network on the node (about 85 bytes
 * each), so 64 KiB would refuse a node past ~750 attachments. 2 MiB holds ~24,000. GC bodies are read
 * one at a time, so the socket's worst case is 32 MiB of other bodies plus one GC body.
 */
export const MAX_GC_BODY_BYTES = 2 << 20;
/** An over-limit body is read and dropped up to this much so the 413 reaches the client (not a reset). */
const MAX_DISCARD = 16 << 20;
export const DEFAULT_MAX_CONNECTIONS = 512;

export interface AgentServerOptions {
  socketPath: string;
  core: AgentCore;
  /** GET /v1/state body. */
  state: () => unknown;
  /** Deadline (ms) for receiving a whole request, headers and body (default 10 s). */
  requestTimeoutMs?: number;
  /** Deadline (ms) for receiving the headers, counted from the connection or the previous request (default 5 s). */
  headersTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this (ms; default 5 s). */
  keepAliveTimeoutMs?: number;
  /**
   * Open connections at most (default 512, `--max-connections`); more are closed at once, and the
   * CNI reports "try again later". Logged when hit.
   */
  maxConnections?: number;
  /** Largest request body (bytes; default MAX_BODY_BYTES, 64 KiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** Largest GC request body (bytes; default MAX_GC_BODY_BYTES, 2 MiB, never below maxBodyBytes). */
  maxGcBodyBytes?: number;
  /**
   * Told of every answered CNI request (allocate, release, lookup, gc): the wire code ('OK' or the
   * AgentError code) and the seconds from arrival to answer. Metrics (src/agent/metrics.ts); must be cheap.
   */
  onRequest?: (verb: CniVerb, code: string, seconds: number) => void;
  log?: (event: Record<string, unknown>) => void;
}

export interface AgentServer {
  readonly socketPath: string;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), removes the socket file. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Per-connection deadlines: the headers within `headersMs` and the whole request within `requestMs`,
 * counted from the connection (then from the end of the previous answer on a kept-alive one). When a
 * deadline passes, the verdict waits for setImmediate, i.e. until the event loop has read what the
 * socket holds: the server's own stall never counts against a client whose request was there in time;
 * a client that is slow itself (silent, trickling) is still closed at its deadline.
 */
function requestDeadlines(headersMs: number, requestMs: number) {
  type Conn = { req?: IncomingMessage; timers: NodeJS.Timeout[] };
  const conns = new WeakMap<Socket, Conn>();
  const arm = (socket: Socket, conn: Conn, ms: number, expired: () => boolean) => {
    const t = setTimeout(() => setImmediate(() => expired() && socket.destroy()), ms);
    t.unref();
    conn.timers.push(t);
  };
  const clear = (conn: Conn) => {
    for (const t of conn.timers.splice(0)) clearTimeout(t);
  };
  const awaitRequest = (socket: Socket, conn: Conn) => {
    clear(conn);
    conn.req = undefined;
    arm(socket, conn, headersMs, () => conn.req === undefined && !socket.destroyed);
    arm(socket, conn, requestMs, () => (conn.req === undefined || !conn.req.complete) && !socket.destroyed);
  };
  return {
    connected(socket: Socket): void {
      const conn: Conn = { timers: [] };
      conns.set(socket, conn);
      awaitRequest(socket, conn);
      socket.once('close', () => clear(conn));
    },
    started(req: IncomingMessage, res: ServerResponse): void {
      const socket = req.socket;
      const conn = conns.get(socket);
      if (!conn) return;
      conn.req = req;
      // The answer is ours to make: only the request's own deadline runs until it is complete.
      req.once('end', () => clear(conn));
      res.once('finish', () => {
        if (!socket.destroyed) awaitRequest(socket, conn);
      });
    },
  };
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
  const requestTimeout = opts.requestTimeoutMs ?? 10_000;
  const headersTimeout = Math.min(requestTimeout, opts.headersTimeoutMs ?? 5_000);
  const maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const maxGcBody = Math.max(maxBody, opts.maxGcBodyBytes ?? MAX_GC_BODY_BYTES);
  // The header and request deadlines are ours (deadlines()), not Node's: Node's checker measures
  // from the accept and runs before the loop reads what is waiting, so an agent stalled longer than a
  // deadline (a loaded node, the UML guest) cut well-behaved clients whose whole request had been
  // sitting in the socket (408, or a reset when it closed with the request unread).
  const server: Server = createServer(
    {
      requestTimeout: 0,
      headersTimeout: 0,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
    },
    (req, res) => {
      deadlines.started(req, res);
      const p = handle(req, res).finally(() => inflight.delete(p));
      inflight.add(p);
    },
  );
  const deadlines = requestDeadlines(headersTimeout, requestTimeout);
  server.on('connection', deadlines.connected);
  server.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  // Connections over the cap are dropped by Node ('drop'); say so once per burst, not per connection.
  let dropped = 0;
  let dropTimer: NodeJS.Timeout | undefined;
  server.on('drop', () => {
    dropped++;
    if (dropTimer) return;
    opts.log?.({ level: 'warn', msg: 'agent socket connection limit reached: closing new connections until some end', maxConnections: server.maxConnections, hint: 'raise --max-connections if the CNI legitimately needs more at once' });
    dropTimer = setTimeout(() => {
      if (dropped > 1) opts.log?.({ level: 'warn', msg: 'agent socket connections closed at the limit', dropped, maxConnections: server.maxConnections });
      dropped = 0;
      dropTimer = undefined;
    }, 10_000);
    dropTimer.unref();
  });

  let gcTurn: Promise<void> = Promise.resolve();
  async function gc(body: unknown): Promise<unknown> {
    const out = await core.gc(body);
    if (out.released > 0) opts.log?.({ level: 'info', msg: 'CNI GC released addresses', network: (body as { network?: unknown }).network, released: out.released });
    return out;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let status = 200;
    let code = 'OK';
    let verb: CniVerb | undefined;
    try {
      const path = (req.url ?? '/').split('?')[0];
      let out: unknown;
      if (req.method === 'GET' && path === '/v1/healthz') out = { apiVersion: 'v1', status: 'ok' };
      else if (req.method === 'GET' && path === '/v1/state') out = opts.state();
      else if (path === '/v1/allocate' || path === '/v1/release' || path === '/v1/lookup' || path === '/v1/gc') {
        verb = path.slice(4) as CniVerb;
        if (req.method !== 'POST') throw Object.assign(new AgentError('InvalidRequest', `${path} takes POST, not ${req.method}`), { httpStatus: 405 });
        if (path === '/v1/gc') {
          // One GC body is read and handled at a time (others wait, their bytes left in the socket):
          // bodies held stay within the connection budget plus one MAX_GC_BODY_BYTES.
          const prev = gcTurn;
          let done!: () => void;
          gcTurn = new Promise<void>((r) => (done = r));
          try {
            await prev;
            out = await gc(await readJson(req, maxGcBody));
          } finally {
            done();
          }
        } else {
          const body = await readJson(req, maxBody);
          out =
            path === '/v1/allocate' ? await core.allocate(body)
            : path === '/v1/release' ? await core.release(body)
            : await core.lookup(body);
        }
      } else throw new AgentError('NotFound', `no such endpoint: ${req.method} ${path} (the agent serves /v1/allocate, /v1/release, /v1/lookup, /v1/gc, /v1/healthz, /v1/state)`);
      send(res, 200, out);
    } catch (e) {
      const err = e instanceof AgentError ? e : new AgentError('Internal', (e as Error).message ?? String(e));
      status = (e as { httpStatus?: number }).httpStatus ?? err.status;
      code = err.code;
      // After a 413 the connection is not reused (the body was dropped, not parsed).
      if (status === 413) res.setHeader('connection', 'close');
      send(res, status, err.body());
      if (!(e instanceof AgentError)) opts.log?.({ level: 'error', msg: 'internal error', error: (e as Error).stack ?? String(e) });
    } finally {
      if (verb && opts.onRequest) opts.onRequest(verb, code, Number(process.hrtime.bigint() - started) / 1e9);
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
      // The path goes first, so a client that comes now finds no socket (the CNI waits for the next
      // agent) instead of queueing; then one turn of the loop accepts what is already queued, since
      // closing the listener with connections in its queue resets them (ECONNRESET) and a rolling
      // upgrade's last requests would be lost. (libuv also unlinks the path when the listener closes.)
      await unlink(socketPath).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await Promise.allSettled([...inflight]);
      server.closeIdleConnections();
      await closed;
      clearTimeout(timer);
      clearTimeout(dropTimer);
    },
  };
}

function tooLarge(limit: number): AgentError {
  return Object.assign(new AgentError('InvalidRequest', `request body larger than ${limit} bytes`, 'the agent takes JSON requests of at most that size'), { httpStatus: 413 });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Reads and drops the rest of a body (up to MAX_DISCARD) so the answer is read by a client still
 * sending: closing on unread data makes the kernel reset the connection, and the client loses the
 * 413. A body that never ends is cut by the request timeout.
 */
function discard(req: IncomingMessage, already: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = already;
    const done = () => {
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      resolve();
    };
    const onData = (c: Buffer) => {
      seen += c.length;
      if (seen > MAX_DISCARD) {
        req.pause();
        done();
      }
    };
    if (req.complete) return resolve();
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.resume();
  });
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    if (declared <= MAX_DISCARD) await discard(req, 0);
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  // Listeners, not for-await: leaving a for-await early destroys the request (and the socket).
  const over = await new Promise<boolean>((resolve, reject) => {
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) return void chunks.push(c);
      cleanup();
      resolve(true);
    };
    const onEnd = () => {
      cleanup();
      resolve(false);
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onClose = () => {
      cleanup();
      reject(new AgentError('InvalidRequest', 'the client closed the connection before sending the whole body'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
  if (over) {
    await discard(req, size);
    throw tooLarge(limit);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AgentError('InvalidRequest', `request body is not JSON: ${(e as Error).message}`);
  }
}
