// Client of the node agent's unix-socket API (src/lib/agent/protocol.ts) for the CNI plugin.
// node:http only (startup cost matters: every pod attachment runs a fresh process).
import { request } from 'node:http';
import type {
  AgentErrorBody,
  AllocateRequest,
  AllocateResponse,
  LookupRequest,
  LookupResponse,
  ReleaseRequest,
  ReleaseResponse,
} from '../lib/agent/protocol.js';

/**
 * GC request (CNI 1.1): release every allocation of `network` whose container ID + ifName is not in
 * `keep`. Not yet in protocol.ts; agents that lack it answer 404 and GC becomes a no-op.
 */
export interface GcRequest {
  apiVersion: 'v1';
  network: string;
  keep: Array<{ containerID: string; ifName: string }>;
}
export interface GcResponse {
  apiVersion: 'v1';
  released: number;
}

/** The agent could not be reached at all (socket missing, refused, timed out). */
export class AgentUnavailableError extends Error {
  constructor(
    readonly socketPath: string,
    message: string,
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

/** The calls the CNI makes (style §4: narrow, named by role, with a fake in test/fakes). */
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

function call<T>(socketPath: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
  const data = body === undefined ? '' : JSON.stringify(body);
  const method = body === undefined ? 'GET' : 'POST';
  return new Promise<T>((resolve, reject) => {
    const req = request(
      { socketPath, path, method, headers: method === 'GET' ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            reject(new Error(`agent ${socketPath} answered ${path} with status ${res.statusCode} and a body that is not JSON: ${text.slice(0, 200)}`));
            return;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(parsed as T);
          else {
            const b = parsed as Partial<AgentErrorBody>;
            const body: AgentErrorBody = {
              apiVersion: 'v1',
              code: typeof b.code === 'string' ? b.code : status === 404 ? 'NotFound' : 'Internal',
              message: typeof b.message === 'string' ? b.message : `HTTP ${status} on ${path}`,
              ...(typeof b.hint === 'string' ? { hint: b.hint } : {}),
            };
            reject(new AgentRequestError(status, body));
          }
        });
      },
    );
    req.setTimeout(timeoutMs, () => {
      req.destroy(new AgentUnavailableError(socketPath, `agent socket ${socketPath} did not answer ${path} within ${timeoutMs} ms: is the multinic agent overloaded or stuck?`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof AgentUnavailableError) reject(err);
      else if (err.code === 'ENOENT') reject(new AgentUnavailableError(socketPath, `agent socket ${socketPath} missing: is the multinic agent running on this node?`));
      else if (err.code === 'ECONNREFUSED') reject(new AgentUnavailableError(socketPath, `agent socket ${socketPath} refused the connection: the multinic agent is not listening (restarting?)`));
      else if (err.code === 'EACCES') reject(new AgentUnavailableError(socketPath, `agent socket ${socketPath}: permission denied (the plugin must run as root)`));
      else reject(new AgentUnavailableError(socketPath, `agent socket ${socketPath}: ${err.message}`));
    });
    req.end(data);
  });
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
