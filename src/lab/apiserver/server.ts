// The HTTP front of the API stand-in (node:http only): routing of the Kubernetes REST paths,
// content negotiation (JSON; Table for kubectl's human output; protobuf bodies and answers for
// the core kinds protobuf.ts knows, watches excepted), watch and log streaming, fault
// injection. Semantics live in api.ts. Plain HTTP, no authentication: every request is allowed.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../../lib/k8s/meta.js';
import { Api, type DeleteOptions, type FieldValidation, type PatchType, type WatchOptions, type WriteOptions } from './api.js';
import { apiGroupDoc, apiGroupList, apiResourceList, apiVersions, VERSION_INFO } from './discovery.js';
import { ApiError, badRequest, bodyTooLarge, failure, methodNotAllowed, toStatus, unsupportedMediaType, type Status } from './errors.js';
import { Faults } from './faults.js';
import { decodeProtobuf, encodeProtobuf, PROTOBUF, ProtobufDecodeError, ProtobufEncodeError } from './protobuf.js';
import { openApiV2, openApiV3GroupVersion, openApiV3Root } from './openapi.js';
import { apiVersionOf, storageKey, type ResourceType } from './registry.js';
import { StoreHandle } from './handle.js';
import { toTable, type IncludeObject } from './table.js';

export interface ApiServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Events kept for watch resumption (default 2000); older resourceVersions get 410. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 5000 ms; kube uses ~1 min). */
  bookmarkIntervalMs?: number;
  /** Largest object a write may store, in bytes of JSON (default etcd's 1.5 MiB). */
  maxObjectBytes?: number;
  /** Namespaces that exist from the start (default: those of a fresh cluster; [] for none). */
  namespaces?: readonly string[];
}

export const INITIAL_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;

export interface ApiServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** In-process access with the same semantics as the HTTP API (tests, the lab). */
  readonly store: StoreHandle;
  readonly faults: Faults;
  /** Ends watches and log streams, closes connections; resolves when the port is free. */
  close(): Promise<void>;
}

const MAX_BODY = 3 * 1024 * 1024;
const DEFAULT_WATCH_TIMEOUT_S = 1800;

/** Starts the stand-in. Callers own the returned server and must close() it. */
export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const api = new Api({ ...(opts.historyLimit === undefined ? {} : { historyLimit: opts.historyLimit }), ...(opts.maxObjectBytes === undefined ? {} : { maxObjectBytes: opts.maxObjectBytes }) });
  const faults = new Faults(() => api.store.dropWatches());
  const nsType = api.typeOf('v1', 'Namespace');
  for (const name of opts.namespaces ?? INITIAL_NAMESPACES) api.create(nsType, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const sockets = new Set<Socket>();
  const streams = new Set<ServerResponse>();
  const ctx: Ctx = { api, faults, streams, bookmarkMs: opts.bookmarkIntervalMs ?? 5000, address: '' };
  const server = createServer((req, res) => {
    handle(ctx, req, res).catch((err: unknown) => sendError(res, err));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  ctx.address = `${host}:${port}`;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    store: new StoreHandle(api),
    faults,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        api.close();
        api.store.dropWatches();
        for (const r of streams) r.end();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}

interface Ctx {
  api: Api;
  faults: Faults;
  streams: Set<ServerResponse>;
  bookmarkMs: number;
  address: string;
}

function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private', ...headers });
  res.end(text);
}

const JSON_TYPES = new Set(['application/json', '*/*', 'application/*']);

/** The media types of an Accept header in order, without those given q=0. */
function accepted(req: IncomingMessage): Array<{ type: string; params: string[] }> {
  return (req.headers.accept ?? '')
    .split(',')
    .map((part) => {
      const [type = '', ...params] = part.split(';').map((x) => x.trim());
      return { type, params };
    })
    .filter((m) => m.type !== '' && !m.params.some((p) => /^q=0(\.0*)?$/.test(p)));
}

/**
 * Sends an API object (or list) in the encoding the client lists first, as kube-apiserver
 * picks: protobuf when that comes before any JSON type and the kind has a protobuf form here,
 * JSON otherwise. A client accepting only protobuf for an object without one gets 406.
 */
function sendObject(req: IncomingMessage, res: ServerResponse, code: number, body: KubeObject, headers: Record<string, string> = {}): void {
  const types = accepted(req);
  const first = types.find((m) => JSON_TYPES.has(m.type) || (m.type === PROTOBUF && m.params.length === 0));
  if (first?.type === PROTOBUF) {
    try {
      const buf = encodeProtobuf(body);
      res.writeHead(code, { 'Content-Type': PROTOBUF, 'Content-Length': buf.length, 'Cache-Control': 'no-cache, private', ...headers });
      res.end(buf);
      return;
    } catch (e) {
      if (!(e instanceof ProtobufEncodeError)) throw e;
      if (!types.some((m) => JSON_TYPES.has(m.type))) {
        return sendStatus(res, failure(406, 'NotAcceptable', `the stand-in cannot answer in ${PROTOBUF} here (${e.message}); accept application/json as well`).status);
      }
    }
  }
  sendJson(res, code, body, headers);
}

function sendStatus(res: ServerResponse, status: Status): void {
  const headers: Record<string, string> = {};
  if (status.details?.retryAfterSeconds !== undefined) headers['Retry-After'] = String(status.details.retryAfterSeconds);
  sendJson(res, status.code, status, headers);
}

function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (!(err instanceof ApiError)) process.stderr.write(`apiserver: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
  sendStatus(res, toStatus(err));
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readRawBody(req)).toString('utf8');
}

function readRawBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Past the limit the rest is drained, not kept, so the client reads the 413 instead of a reset.
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => (size > MAX_BODY ? reject(bodyTooLarge(MAX_BODY)) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/**
 * The body of a POST/PUT: JSON, or protobuf (client-go typed clients: kubectl, Multus, kubelet)
 * for the core kinds protobuf.ts decodes; a protobuf body with a field it does not know is a 400
 * naming the field. Other kinds and media types get 415 naming what to do instead.
 */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const ctype = (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim() ?? '';
  if (ctype === PROTOBUF) {
    const buf = await readRawBody(req);
    let decoded;
    try {
      decoded = decodeProtobuf(buf);
    } catch (e) {
      if (!(e instanceof ProtobufDecodeError)) throw e;
      throw badRequest(`the protobuf request body could not be decoded: ${e.message}`);
    }
    if ('unsupported' in decoded) {
      const { apiVersion, kind } = decoded.unsupported;
      throw failure(415, 'UnsupportedMediaType', `the stand-in API server reads ${kind} (${apiVersion}) only as JSON, not ${PROTOBUF} (it decodes protobuf for core/v1 Pod, Event, Namespace, ConfigMap, Secret and ServiceAccount); use \`kubectl apply -f\` (or create -f) with a manifest instead`);
    }
    return decoded.object;
  }
  if (ctype !== 'application/json' && ctype !== '*/*' && ctype !== '') {
    await readBody(req).catch(() => '');
    throw failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json (got ${ctype})`);
  }
  return parseJson(await readBody(req));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}

async function handle(ctx: Ctx, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const u = new URL(req.url ?? '/', 'http://stand-in');
  const fault = ctx.faults.take(method, `${u.pathname}${u.search}`);
  if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
  if (fault?.status) {
    await readBody(req).catch(() => '');
    sendStatus(res, fault.status);
    return;
  }
  const path = u.pathname.replace(/\/+$/, '') || '/';
  const { api } = ctx;
  switch (path) {
    case '/version':
      return sendJson(res, 200, VERSION_INFO);
    case '/healthz':
    case '/readyz':
    case '/livez':
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    case '/api':
      return sendJson(res, 200, apiVersions(ctx.address));
    case '/apis':
      return sendJson(res, 200, apiGroupList(api.registry));
    case '/openapi/v3':
      return sendJson(res, 200, openApiV3Root(api.registry));
    case '/openapi/v2': {
      const accept = req.headers.accept ?? '';
      if (accept && !/json|\*\/\*/.test(accept)) return sendStatus(res, failure(406, 'NotAcceptable', 'only application/json is served for /openapi/v2').status);
      return sendJson(res, 200, openApiV2(api.registry));
    }
  }
  if (path.startsWith('/openapi/v3/')) {
    const m = /^\/openapi\/v3\/(?:api\/(v[^/]+)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    const doc = m ? openApiV3GroupVersion(api.registry, m[2] ?? '', m[1] ?? m[3] ?? '') : undefined;
    if (!doc) return sendStatus(res, notFoundPath(path));
    return sendJson(res, 200, doc, u.searchParams.has('hash') ? { 'Cache-Control': 'public, immutable' } : {});
  }
  if (path.startsWith('/healthz/') || path.startsWith('/readyz/') || path.startsWith('/livez/')) {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('ok');
    return;
  }
  const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (seg[0] === 'api' && seg.length >= 2) {
    group = '';
    version = seg[1] ?? '';
    rest = seg.slice(2);
  } else if (seg[0] === 'apis' && seg.length >= 2) {
    group = seg[1] ?? '';
    if (seg.length === 2) {
      const doc = apiGroupDoc(api.registry, group);
      return doc ? sendJson(res, 200, doc) : sendStatus(res, notFoundPath(path));
    }
    version = seg[2] ?? '';
    rest = seg.slice(3);
  } else return sendStatus(res, notFoundPath(path));

  if (rest.length === 0) {
    const doc = apiResourceList(api.registry, group, version);
    return doc ? sendJson(res, 200, doc) : sendStatus(res, notFoundPath(path));
  }
  let watchPath = false;
  if (rest[0] === 'watch') {
    watchPath = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  const nsSub = group === '' && rest[0] === 'namespaces' && rest.length === 3 && ['status', 'finalize'].includes(rest[2] ?? '');
  if (rest[0] === 'namespaces' && rest.length >= 3 && !nsSub) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural = '', name, sub, ...extra] = rest;
  const t = api.registry.get(group, version, plural);
  if (!t || extra.length || (namespace !== undefined && !t.namespaced)) return sendStatus(res, notFoundPath(path));
  if (name !== undefined && t.namespaced && namespace === undefined) return sendStatus(res, notFoundPath(path));
  if (sub !== undefined && !t.subresources.includes(sub)) return sendStatus(res, notFoundPath(path));
  const q = u.searchParams;
  const ns = namespace ?? '';

  if (sub === 'log') {
    if (method !== 'GET') throw methodNotAllowed(`the server does not allow this method on the requested resource`);
    return serveLog(ctx, req, res, ns, name ?? '', q);
  }
  const write: WriteOptions = { dryRun: q.get('dryRun') === 'All', warnings: [] };
  const fv = q.get('fieldValidation');
  if (fv) {
    if (!['Strict', 'Warn', 'Ignore'].includes(fv)) throw badRequest(`fieldValidation must be one of Strict, Warn, Ignore (got "${fv}")`);
    write.fieldValidation = fv as FieldValidation;
  }
  const headersFor = (): Record<string, string> => (write.warnings?.length ? { Warning: write.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') } : {});
  const subresource = sub === 'status' ? 'status' : undefined;
  const wantsWatch = watchPath || q.get('watch') === 'true' || q.get('watch') === '1';

  switch (method) {
    case 'GET': {
      if (wantsWatch) {
        const fieldSelector = name === undefined ? q.get('fieldSelector') : [`metadata.name=${name}`, q.get('fieldSelector')].filter(Boolean).join(',');
        return serveWatch(ctx, req, res, t, namespace, { labelSelector: q.get('labelSelector') ?? '', fieldSelector: fieldSelector ?? '', resourceVersion: q.get('resourceVersion') ?? '' }, q);
      }
      const table = tableOptions(req, q);
      if (name === undefined) {
        const limitText = q.get('limit');
        const limit = limitText === null || limitText === '' ? 0 : Number(limitText);
        // kube-apiserver ignores a negative limit; a non-number is a 400 from its query decoder.
        if (!Number.isInteger(limit)) throw badRequest(`limit must be an integer (got "${limitText ?? ''}")`);
        const page = api.list(t, namespace, { labelSelector: q.get('labelSelector') ?? '', fieldSelector: q.get('fieldSelector') ?? '', limit: Math.max(0, limit), continue: q.get('continue') ?? '', shared: true });
        const { items, resourceVersion } = page;
        api.traffic.list(storageKey(t), items.length, limit > 0);
        const metadata = { resourceVersion, ...(page.continue ? { continue: page.continue } : {}), ...(page.remainingItemCount === undefined ? {} : { remainingItemCount: page.remainingItemCount }) };
        if (table) return sendJson(res, 200, toTable(t, items, { ...table, headers: true, resourceVersion, ...(page.continue ? { continue: page.continue } : {}) }));
        return sendObject(req, res, 200, { kind: t.listKind, apiVersion: apiVersionOf(t), metadata, items } as KubeObject);
      }
      const obj = api.get(t, ns, name);
      if (table) return sendJson(res, 200, toTable(t, [obj], { ...table, headers: true, resourceVersion: obj.metadata?.resourceVersion ?? '' }));
      return sendObject(req, res, 200, obj);
    }
    case 'POST': {
      if (name !== undefined) throw methodNotAllowed('the server does not allow this method on the requested resource');
      const created = api.create(t, ns, await readJsonBody(req), write);
      return sendObject(req, res, 201, created, headersFor());
    }
    case 'PUT': {
      if (name === undefined) throw methodNotAllowed('the server does not allow this method on the requested resource');
      const updated = api.update(t, ns, name, await readJsonBody(req), write, subresource);
      return sendObject(req, res, 200, updated, headersFor());
    }
    case 'PATCH': {
      if (name === undefined) throw methodNotAllowed('the server does not allow this method on the requested resource');
      const ctype = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
      const type = PATCH_TYPES[ctype];
      if (!type) throw unsupportedMediaType(ctype);
      const text = await readBody(req);
      let body: unknown;
      if (type === 'apply') {
        try {
          body = parseYaml(text);
        } catch (e) {
          throw badRequest(`error decoding YAML: ${(e as Error).message}`);
        }
      } else body = parseJson(text);
      const existed = type === 'apply' ? safeExists(api, t, ns, name) : true;
      const patched = api.patch(t, ns, name, type, body, write, subresource);
      return sendObject(req, res, existed ? 200 : 201, patched, headersFor());
    }
    case 'DELETE': {
      const text = await readBody(req);
      const body = (text.trim() ? parseJson(text) : {}) as { propagationPolicy?: string; orphanDependents?: boolean; preconditions?: DeleteOptions['preconditions']; dryRun?: string[] };
      const del: DeleteOptions = {};
      const policy = q.get('propagationPolicy') ?? body.propagationPolicy ?? (body.orphanDependents ? 'Orphan' : undefined);
      if (policy !== undefined && policy !== null) {
        if (!['Background', 'Foreground', 'Orphan'].includes(policy)) throw badRequest(`propagationPolicy must be Background, Foreground or Orphan (got "${policy}")`);
        del.propagationPolicy = policy as DeleteOptions['propagationPolicy'];
      }
      if (body.preconditions) del.preconditions = body.preconditions;
      if (write.dryRun || body.dryRun?.includes('All')) del.dryRun = true;
      if (name === undefined) {
        const items = api.deleteCollection(t, namespace, { labelSelector: q.get('labelSelector') ?? '', fieldSelector: q.get('fieldSelector') ?? '' }, del);
        return sendJson(res, 200, { kind: t.listKind, apiVersion: apiVersionOf(t), metadata: {}, items });
      }
      if (subresource) throw methodNotAllowed('the server does not allow this method on the requested resource');
      return sendObject(req, res, 200, api.delete(t, ns, name, del) as KubeObject);
    }
    default:
      throw methodNotAllowed(`the server does not allow this method on the requested resource`);
  }
}

const PATCH_TYPES: Record<string, PatchType> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+json': 'apply',
};

function safeExists(api: Api, t: ResourceType, ns: string, name: string): boolean {
  try {
    api.get(t, ns, name);
    return true;
  } catch {
    return false;
  }
}

function notFoundPath(path: string): Status {
  return failure(404, 'NotFound', `the server could not find the requested resource (${path})`, { causes: [{ reason: 'UnexpectedServerResponse', message: '404 page not found' }] }).status;
}

/** kubectl's human output asks for `application/json;as=Table;v=v1;g=meta.k8s.io`. */
function tableOptions(req: IncomingMessage, q: URLSearchParams): { include: IncludeObject } | undefined {
  const accept = req.headers.accept ?? '';
  const first = accept.split(',')[0] ?? '';
  if (!/as=Table/.test(first) || !/g=meta\.k8s\.io/.test(first)) return undefined;
  const inc = q.get('includeObject');
  return { include: inc === 'None' || inc === 'Object' ? inc : 'Metadata' };
}

/**
 * A watch stream: newline-delimited JSON events over a chunked response. Ends on timeoutSeconds,
 * client disconnect, server close or the dropWatches fault. A resourceVersion outside the history
 * window yields a single ERROR event carrying a 410 Status (as the watch cache answers).
 */
function serveWatch(ctx: Ctx, req: IncomingMessage, res: ServerResponse, t: ResourceType, namespace: string | undefined, opts: WatchOptions, q: URLSearchParams): void {
  const table = tableOptions(req, q);
  const key = storageKey(t);
  let headers = true;
  let cancel: (() => void) | undefined;
  let ended = false;
  const timers: NodeJS.Timeout[] = [];
  const finish = (): void => {
    if (ended) return;
    ended = true;
    cancel?.();
    for (const tm of timers) clearTimeout(tm);
    ctx.streams.delete(res);
    res.end();
  };
  const send = (type: string, object: unknown): void => {
    if (ended) return;
    let payload = object;
    if (table && type !== 'ERROR' && type !== 'BOOKMARK') {
      payload = toTable(t, [object as KubeObject], { ...table, headers });
      headers = false;
    }
    const line = `${JSON.stringify({ type, object: payload })}\n`;
    if (type !== 'ERROR' && type !== 'BOOKMARK') ctx.api.traffic.event(key, Buffer.byteLength(line));
    res.write(line);
  };
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  ctx.streams.add(res);
  req.on('close', finish);
  res.on('close', finish);
  const initialEvents = q.get('sendInitialEvents') === 'true';
  ctx.api.traffic.watch(key, Boolean(opts.labelSelector || opts.fieldSelector));
  try {
    cancel = ctx.api.watch(t, namespace, initialEvents ? { ...opts, resourceVersion: '' } : opts, (type, obj) => send(type, obj), finish);
  } catch (err) {
    send('ERROR', toStatus(err));
    finish();
    return;
  }
  const bookmark = (annotations?: Record<string, string>): void =>
    send('BOOKMARK', { kind: t.kind, apiVersion: apiVersionOf(t), metadata: { resourceVersion: String(ctx.api.store.resourceVersion), ...(annotations ? { annotations } : {}) } });
  if (initialEvents) bookmark({ 'k8s.io/initial-events-end': 'true' });
  if (q.get('allowWatchBookmarks') === 'true') {
    const iv = setInterval(() => bookmark(), ctx.bookmarkMs);
    timers.push(iv);
  }
  const timeoutS = Number(q.get('timeoutSeconds') ?? DEFAULT_WATCH_TIMEOUT_S);
  if (Number.isFinite(timeoutS) && timeoutS > 0) timers.push(setTimeout(finish, timeoutS * 1000));
}

/** pods/log: the buffered text (tailLines, limitBytes), then with follow=true every later append. */
function serveLog(ctx: Ctx, req: IncomingMessage, res: ServerResponse, ns: string, pod: string, q: URLSearchParams): void {
  const container = ctx.api.logContainer(ns, pod, q.get('container') ?? undefined);
  let text = ctx.api.readPodLog(ns, pod, container);
  const tail = q.get('tailLines');
  if (tail !== null) {
    const n = Number(tail);
    if (!Number.isInteger(n) || n < 0) throw badRequest(`tailLines must be a non-negative integer (got "${tail}")`);
    const lines = text.split(/(?<=\n)/);
    text = n === 0 ? '' : lines.slice(-n).join('');
  }
  const limit = q.get('limitBytes');
  if (limit !== null) text = Buffer.from(text).subarray(0, Number(limit)).toString('utf8');
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.write(text);
  if (q.get('follow') !== 'true') {
    res.end();
    return;
  }
  ctx.streams.add(res);
  const stop = ctx.api.followPodLog(ns, pod, container, (chunk) => {
    if (chunk === null) finish();
    else res.write(chunk);
  });
  function finish(): void {
    stop();
    ctx.streams.delete(res);
    res.end();
  }
  req.on('close', finish);
}
