// Client of the node agent's unix-socket API (src/lib/agent/protocol.ts) for the CNI plugin.
// Startup cost matters (every pod attachment runs a fresh process): Bun.connect on Bun, where the
// shipped plugin runs and node:net is a compatibility layer (a Bun executable that imports node:net
// used 9.0 ms of CPU doing nothing else, 11.8 ms making one request, against 5.4 and 6.8 ms with
// Bun.connect; 50 runs each); node:net on Node, imported only there.
import type {
  AgentErrorBody,
  GcRequest,
  GcResponse,
  AllocateRequest,
  AllocateResponse,
  LookupRequest,
  LookupResponse,
  ReleaseRequest,
  ReleaseResponse,
} from '../lib/agent/protocol.js';

/** The agent could not be reached at all (socket missing, refused, timed out). */
export class AgentUnavailableError extends Error {
  constructor(
    readonly socketPath: string,
    message: string,
    /**
     * The shape of an agent between two processes (a restart, a rolling upgrade): its socket is
     * missing, refuses, resets or closed without answering. False for a timeout or a permission error.
     */
    readonly away = false,
  ) {
    super(message);
    this.name = 'AgentUnavailableError';
  }
}

/** The agent answered with a non-2xx status and an AgentErrorBody. */
export class AgentRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: AgentErrorBody,
  ) {
    super(body.message);
    this.name = 'AgentRequestError';
  }
}

/** The calls the CNI makes (docs/conventions.md §4: narrow, named by role, with a fake in test/fakes). */
export interface AgentClient {
  readonly socketPath: string;
  allocate(req: AllocateRequest): Promise<AllocateResponse>;
  release(req: ReleaseRequest): Promise<ReleaseResponse>;
  lookup(req: LookupRequest): Promise<LookupResponse>;
  gc(req: GcRequest): Promise<GcResponse>;
  /** GET /v1/healthz: resolves when the agent serves (STATUS). */
  healthz(): Promise<unknown>;
}

export interface AgentClientOptions {
  socketPath: string;
  /** Per-request timeout; allocation fsyncs the journal, so leave room. */
  timeoutMs?: number;
}

/** Maps a socket error to what the operator should check. */
function unavailable(socketPath: string, err: NodeJS.ErrnoException): AgentUnavailableError {
  if (err.code === 'ENOENT') return new AgentUnavailableError(socketPath, `agent socket ${socketPath} missing: is the multinic agent running on this node?`, true);
  if (err.code === 'ECONNREFUSED') return new AgentUnavailableError(socketPath, `agent socket ${socketPath} refused the connection: the multinic agent is not listening (restarting?)`, true);
  // An agent that stops with our request unread (a rolling upgrade's old agent closing its socket,
  // connections still queued or unanswered) resets them: away as much as a refused connection.
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return new AgentUnavailableError(socketPath, `agent socket ${socketPath} reset the connection before answering: is the multinic agent restarting?`, true);
  if (err.code === 'EACCES') return new AgentUnavailableError(socketPath, `agent socket ${socketPath}: permission denied (the plugin must run as root)`);
  return new AgentUnavailableError(socketPath, `agent socket ${socketPath}: ${err.message}`);
}

interface RawResponse {
  status: number;
  body: string;
}

/**
 * Parses one HTTP/1.1 response from `buf`; undefined while incomplete (`eof`: no more bytes will
 * come, so a body without content-length ends here). Handles content-length and chunked bodies.
 */
export function parseResponse(buf: Buffer, eof: boolean): RawResponse | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  const rest = buf.subarray(headEnd + 4);
  const status = Number(m[1]);
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = rest.indexOf('\r\n', at);
      if (eol < 0) return undefined;
      const size = parseInt(rest.subarray(at, eol).toString('latin1'), 16);
      if (!Number.isFinite(size)) throw new Error('bad chunk size in the response');
      if (size === 0) return { status, body: Buffer.concat(parts).toString('utf8') };
      if (rest.length < eol + 2 + size + 2) return undefined;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  }
  const len = headers.get('content-length');
  if (len !== undefined) {
    const n = Number(len);
    return rest.length >= n ? { status, body: rest.subarray(0, n).toString('utf8') } : undefined;
  }
  return eof ? { status, body: rest.toString('utf8') } : undefined;
}

/**
 * One request on a fresh connection. A small HTTP/1.1 client on node:net rather than node:http:
 * every pod attachment starts a fresh process, and node:http costs ~5 ms more to load (measured
 * in the Node 24 executable) for a protocol that is ours at both ends.
 */
function call<T>(socketPath: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
  const data = body === undefined ? '' : JSON.stringify(body);
  const method = body === undefined ? 'GET' : 'POST';
  const head =
    `${method} ${path} HTTP/1.1\r\nhost: multinic-agent\r\nconnection: close\r\n` +
    (method === 'POST' ? `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(data)}\r\n` : '') +
    '\r\n';
  return new Promise<T>((resolve, reject) => {
    let chunks: Buffer[] = [];
    let settled = false;
    let hangUp = (): void => undefined;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      hangUp();
      fn();
    };
    const answer = (r: RawResponse) => {
      let parsed: unknown;
      try {
        parsed = r.body ? JSON.parse(r.body) : {};
      } catch {
        finish(() => reject(new Error(`agent ${socketPath} answered ${path} with status ${r.status} and a body that is not JSON: ${r.body.slice(0, 200)}`)));
        return;
      }
      if (r.status >= 200 && r.status < 300) {
        finish(() => resolve(parsed as T));
        return;
      }
      const b = parsed as Partial<AgentErrorBody>;
      const errBody: AgentErrorBody = {
        apiVersion: 'v1',
        code: typeof b.code === 'string' ? b.code : r.status === 404 ? 'NotFound' : 'Internal',
        message: typeof b.message === 'string' ? b.message : `HTTP ${r.status} on ${path}`,
        ...(typeof b.hint === 'string' ? { hint: b.hint } : {}),
      };
      finish(() => reject(new AgentRequestError(r.status, errBody)));
    };
    const tryParse = (eof: boolean) => {
      if (settled) return;
      const buf = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      chunks = [buf];
      let r: RawResponse | undefined;
      try {
        r = parseResponse(buf, eof);
      } catch (err) {
        finish(() => reject(new Error(`agent ${socketPath} answered ${path} with a malformed response: ${(err as Error).message}`)));
        return;
      }
      if (r) answer(r);
      else if (eof) finish(() => reject(new AgentUnavailableError(socketPath, `agent socket ${socketPath} closed the connection before answering ${path}: is the multinic agent restarting?`, true)));
    };
    const timer = setTimeout(() => {
      finish(() => reject(new AgentUnavailableError(socketPath, `agent socket ${socketPath} did not answer ${path} within ${timeoutMs} ms: is the multinic agent overloaded or stuck?`)));
    }, timeoutMs);
    const events: ConnEvents = {
      data: (c) => {
        chunks.push(c);
        tryParse(false);
      },
      eof: () => tryParse(true),
      error: (err) => finish(() => reject(unavailable(socketPath, err))),
    };
    dial(socketPath, Buffer.from(head + data), events).then(
      (h) => (settled ? h() : (hangUp = h)),
      (err: NodeJS.ErrnoException) => events.error(err),
    );
  });
}

/** What a connection tells its request: bytes, the end of them, or a socket error. */
interface ConnEvents {
  data(chunk: Buffer): void;
  eof(): void;
  error(err: NodeJS.ErrnoException): void;
}

interface BunSocket {
  write(data: Uint8Array): number;
  end(): void;
  terminate(): void;
}
interface BunRuntime {
  connect(opts: {
    unix: string;
    socket: {
      open(s: BunSocket): void;
      data(s: BunSocket, d: Uint8Array): void;
      drain(s: BunSocket): void;
      end(s: BunSocket): void;
      close(s: BunSocket): void;
      error(s: BunSocket, e: Error): void;
      connectError(s: BunSocket, e: Error): void;
    };
  }): Promise<BunSocket>;
}
const bun = (globalThis as { Bun?: BunRuntime }).Bun;

/** Connects to `socketPath`, sends `request` and reports to `ev`; resolves a hang-up function. */
function dial(socketPath: string, request: Buffer, ev: ConnEvents): Promise<() => void> {
  return bun ? dialBun(bun, socketPath, request, ev) : dialNode(socketPath, request, ev);
}

async function dialNode(socketPath: string, request: Buffer, ev: ConnEvents): Promise<() => void> {
  const { connect } = await import('node:net');
  const sock = connect(socketPath);
  sock.on('connect', () => sock.write(request));
  sock.on('data', (c: Buffer) => ev.data(c));
  sock.on('end', () => ev.eof());
  sock.on('close', () => ev.eof());
  sock.on('error', (err: NodeJS.ErrnoException) => ev.error(err));
  return () => sock.destroy();
}

function dialBun(b: BunRuntime, socketPath: string, request: Buffer, ev: ConnEvents): Promise<() => void> {
  let pending = request;
  // A socket's write takes what fits now; the rest goes on drain.
  const flush = (s: BunSocket) => {
    if (pending.length > 0) pending = pending.subarray(s.write(pending));
  };
  return b
    .connect({
      unix: socketPath,
      socket: {
        open: flush,
        drain: flush,
        data: (_s, d) => ev.data(Buffer.isBuffer(d) ? d : Buffer.from(d)),
        end: () => ev.eof(),
        close: () => ev.eof(),
        error: (_s, e) => ev.error(e as NodeJS.ErrnoException),
        connectError: (_s, e) => ev.error(e as NodeJS.ErrnoException),
      },
    })
    .then((s) => () => s.terminate());
}

export function createAgentClient(opts: AgentClientOptions): AgentClient {
  const t = opts.timeoutMs ?? 60_000;
  const s = opts.socketPath;
  return {
    socketPath: s,
    allocate: (req) => call(s, '/v1/allocate', req, t),
    release: (req) => call(s, '/v1/release', req, t),
    lookup: (req) => call(s, '/v1/lookup', req, t),
    gc: (req) => call(s, '/v1/gc', req, t),
    healthz: () => call(s, '/v1/healthz', undefined, Math.min(t, 5_000)),
  };
}
