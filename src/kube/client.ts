// The real KubeApi: @kubernetes/client-node's KubeConfig for loading kubeconfig, contexts and
// credentials (exec plugins, tokens, client certs, CA), and a thin node:http(s) transport so we get
// status subresources, every patch type, server-side dry run and streaming watches uniformly.
// client-node is imported lazily, and only for credentials the light path (kubeconfig.ts) lacks.
import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parseDuration } from '../lib/duration.js';
import { ClusterUnreachableError, UserError } from '../lib/errors.js';
import { inClusterConfig, loadKubeconfig, type ResolvedKubeconfig } from './kubeconfig.js';
import { type ResourceRef, resourcePath } from '../lib/k8s/resources.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { ApiError, type KObject, type KubeApi, type ListOptions, type ObjectList, type WatchEvent, type WatchHandle, type WriteOptions } from './api.js';

export interface ConnectOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** kubectl-style duration: "30s", "1m", "500ms", "0" (no timeout). */
  requestTimeout?: string;
  /** Environment to read KUBECONFIG from (tests). */
  env?: NodeJS.ProcessEnv;
  /** Items per list page (default LIST_PAGE_SIZE; tests page small lists with less). */
  listPageSize?: number;
}

/**
 * Items per page of a list, as client-go's pager (k8s.io/client-go/tools/pager, defaultPageSize):
 * a list of 32,768 CIDRClaims is 66 requests of about 300 KB, not one response of 20 MB that the
 * API server builds in memory at once.
 */
export const LIST_PAGE_SIZE = 500;

/** kubectl's durations (src/lib/duration.ts), re-exported for the commands. */
export { parseDuration };

/**
 * The kubeconfig files kubectl would read: --kubeconfig alone, else every file of $KUBECONFIG that
 * exists (in order, duplicates once: client-go skips missing entries), else ~/.kube/config.
 * `tried` names what was looked at, for the error when nothing is there.
 */
export function kubeconfigFiles(opts: { kubeconfig?: string }, env: NodeJS.ProcessEnv): { files: string[]; tried: string } {
  if (opts.kubeconfig) return { files: existsSync(opts.kubeconfig) ? [opts.kubeconfig] : [], tried: opts.kubeconfig };
  if (env.KUBECONFIG) {
    const listed = [...new Set(env.KUBECONFIG.split(delimiter).filter(Boolean))];
    if (listed.length > 0) return { files: listed.filter((f) => existsSync(f)), tried: listed.join(delimiter) };
  }
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  return { files: existsSync(home) ? [home] : [], tried: home };
}

/**
 * Loads the kubeconfig exactly as kubectl would (--kubeconfig, then $KUBECONFIG merged with client-go's
 * rules, then ~/.kube/config, then in-cluster credentials) and returns a KubeApi. Refuses to fall back
 * silently to localhost:8080 when nothing is configured. Plain credentials take the light path
 * (src/kube/kubeconfig.ts); exec plugins and auth providers go through client-node's KubeConfig,
 * imported only then and handed the already merged document.
 */
export async function connect(opts: ConnectOptions = {}): Promise<KubeApi> {
  const env = opts.env ?? process.env;
  const { files, tried } = kubeconfigFiles(opts, env);
  const timeoutMs = opts.requestTimeout ? parseDuration(opts.requestTimeout) : 30_000;
  let light: ResolvedKubeconfig | { fallback: Record<string, unknown> };
  if (files.length === 0) {
    if (!(env.KUBERNETES_SERVICE_HOST && !opts.kubeconfig)) {
      throw new ClusterUnreachableError(`no kubeconfig found at ${tried}`, {
        hint: 'pass --kubeconfig PATH or set KUBECONFIG (for the local lab: kubectl multinic lab up, then use the kubeconfig it prints); plan can work offline with --inventory HOSTS.yaml',
      });
    }
    light = inClusterConfig(env);
  } else light = loadKubeconfig(files, opts.context);
  if (!('fallback' in light)) {
    const r = light;
    const base: https.RequestOptions = { ...r.tls };
    return new HttpKubeApi(r.server.replace(/\/+$/, ''), opts.namespace ?? r.namespace ?? 'default', base, timeoutMs, (): Record<string, string> => {
      const a = r.authorization();
      return a ? { Authorization: a } : {};
    }, opts.listPageSize);
  }
  return connectWithClientNode(opts, light.fallback, files.join(delimiter), timeoutMs);
}

/** The full credential semantics (exec plugins, auth providers, proxies) via client-node, over the merged document. */
async function connectWithClientNode(opts: ConnectOptions, doc: Record<string, unknown>, source: string, timeoutMs: number): Promise<KubeApi> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    kc.loadFromString(JSON.stringify(doc));
  } catch (e) {
    throw new UserError(`cannot read kubeconfig ${source}: ${(e as Error).message}`, { hint: 'check the file is a valid kubeconfig (kubectl config view)' });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new ClusterUnreachableError(`kubeconfig ${source} has no current cluster`, { hint: 'set a context: kubectl config use-context NAME' });
  }
  const ctxNs = kc.getContextObject(kc.getCurrentContext())?.namespace;
  const base: https.RequestOptions = {};
  try {
    await kc.applyToHTTPSOptions(base);
  } catch (e) {
    throw new ClusterUnreachableError(`cannot use cluster ${cluster.server}: ${(e as Error).message}`, {
      hint: 'an http:// server needs insecure-skip-tls-verify: true in its kubeconfig cluster entry',
    });
  }
  return new HttpKubeApi(cluster.server.replace(/\/+$/, ''), opts.namespace ?? ctxNs ?? 'default', base, timeoutMs, undefined, opts.listPageSize);
}

const PATCH_TYPES = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
} as const;

class HttpKubeApi implements KubeApi {
  private readonly url: URL;
  constructor(
    readonly server: string,
    readonly namespace: string,
    private readonly base: https.RequestOptions,
    private readonly timeoutMs: number,
    /** Per-request headers (a rotated token file is re-read). */
    private readonly auth: () => Record<string, string> = () => ({}),
    private readonly pageSize = LIST_PAGE_SIZE,
  ) {
    this.url = new URL(server);
  }

  private request(method: string, path: string, body?: unknown, contentType = 'application/json', timeoutMs = this.timeoutMs): Promise<{ status: number; text: string }> {
    const lib = this.url.protocol === 'http:' ? http : https;
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = lib.request(
        {
          ...this.base,
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          method,
          path: `${this.url.pathname.replace(/\/$/, '')}${path}`,
          headers: {
            ...(this.base.headers ?? {}),
            ...this.auth(),
            Accept: 'application/json',
            ...(payload !== undefined ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) } : {}),
          },
          timeout: timeoutMs || undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
      req.on('error', (e) => reject(this.transportError(e)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  private transportError(e: Error): Error {
    return new ClusterUnreachableError(`cannot reach the Kubernetes API at ${this.server}: ${e.message}`, {
      hint: 'check the cluster is up and the kubeconfig context points at it (kubectl cluster-info)',
    });
  }

  private async call<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const { status, text } = await this.request(method, path, body, contentType);
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : {}) as T;
    throw toApiError(status, text, this.server);
  }

  private query(params: Record<string, string | number | boolean | undefined>): string {
    const q = Object.entries(params)
      .filter(([, v]) => v !== undefined && v !== '' && v !== false)
      .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
    return q.length ? `?${q.join('&')}` : '';
  }

  private ns(r: ResourceRef, namespace: string | undefined): string | undefined {
    return r.namespaced ? (namespace ?? this.namespace) : undefined;
  }

  async version(): Promise<{ gitVersion?: string }> {
    return this.call('GET', '/version');
  }

  async get<T extends KObject = KubeObject>(r: ResourceRef, name: string, namespace?: string): Promise<T | undefined> {
    try {
      return await this.call<T>('GET', resourcePath(r, { namespace: this.ns(r, namespace), name }));
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  /**
   * Every object, read in pages of `pageSize` (limit/continue) from one snapshot: the result's
   * resourceVersion is the first page's, which every later page is served at. When the snapshot is
   * compacted away mid-list (410 Expired on a continue token) the list starts again from the first
   * page; if that expires too, one unpaged list follows, as client-go's pager with
   * FullListIfExpired does.
   */
  async list<T extends KObject = KubeObject>(r: ResourceRef, opts: ListOptions = {}): Promise<ObjectList<T>> {
    const path = resourcePath(r, { namespace: r.namespaced ? opts.namespace : undefined });
    const get = (limit: number | undefined, token: string | undefined) =>
      this.call<{ items?: T[]; metadata?: { resourceVersion?: string; continue?: string } }>(
        'GET',
        path + this.query({ labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit, continue: token }),
      );
    const apiVersion = r.group ? `${r.group}/${r.version}` : r.version;
    // Lists of built-in kinds omit apiVersion/kind on items; restore them so items can be written
    // back as they are. An item that has both (a custom resource) is kept as parsed: copying 65,000
    // objects of a 4,096 x 8 cluster was a second allocation of every one.
    const typed = (i: T): T => (i.apiVersion === apiVersion && i.kind === r.kind ? i : { apiVersion, kind: r.kind, ...i });
    const done = (items: T[], resourceVersion: string): ObjectList<T> => ({ items: items.map(typed), resourceVersion });
    for (let attempt = 0; attempt < 2; attempt++) {
      const items: T[] = [];
      let resourceVersion = '';
      let token: string | undefined;
      try {
        do {
          const res = await get(this.pageSize > 0 ? this.pageSize : undefined, token);
          for (const i of res.items ?? []) items.push(i);
          if (token === undefined) resourceVersion = res.metadata?.resourceVersion ?? '';
          token = res.metadata?.continue || undefined;
        } while (token);
        return done(items, resourceVersion);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 410 && token !== undefined)) throw e;
      }
    }
    const res = await get(undefined, undefined);
    return done(res.items ?? [], res.metadata?.resourceVersion ?? '');
  }

  async create<T extends KObject = KubeObject>(r: ResourceRef, obj: T, opts: WriteOptions = {}): Promise<T> {
    const path = resourcePath(r, { namespace: this.ns(r, obj.metadata?.namespace) });
    return this.call<T>('POST', path + this.query({ dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager ?? 'kubectl-multinic' }), obj);
  }

  async replace<T extends KObject = KubeObject>(r: ResourceRef, obj: T, opts: WriteOptions & { subresource?: 'status' } = {}): Promise<T> {
    const path = resourcePath(r, { namespace: this.ns(r, obj.metadata?.namespace), name: obj.metadata?.name, subresource: opts.subresource });
    return this.call<T>('PUT', path + this.query({ dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager ?? 'kubectl-multinic' }), obj);
  }

  async patch<T extends KObject = KubeObject>(
    r: ResourceRef,
    name: string,
    patch: unknown,
    opts: WriteOptions & { type?: 'merge' | 'json' | 'strategic'; namespace?: string; subresource?: 'status' } = {},
  ): Promise<T> {
    const path = resourcePath(r, { namespace: this.ns(r, opts.namespace), name, subresource: opts.subresource });
    return this.call<T>(
      'PATCH',
      path + this.query({ dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager ?? 'kubectl-multinic' }),
      patch,
      PATCH_TYPES[opts.type ?? 'merge'],
    );
  }

  async delete(r: ResourceRef, name: string, namespace?: string, opts: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan' } = {}): Promise<boolean> {
    try {
      await this.call('DELETE', resourcePath(r, { namespace: this.ns(r, namespace), name }) + this.query({ propagationPolicy: opts.propagationPolicy }));
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return false;
      throw e;
    }
  }

  async podLog(namespace: string, name: string, opts: { container?: string; tailLines?: number; limitBytes?: number } = {}): Promise<string> {
    const q = this.query({ container: opts.container, tailLines: opts.tailLines?.toString(), limitBytes: opts.limitBytes?.toString() });
    const { status, text } = await this.request('GET', resourcePath({ group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true }, { namespace, name, subresource: 'log' }) + q);
    if (status >= 200 && status < 300) return text;
    throw toApiError(status, text, this.server);
  }

  watch<T extends KObject = KubeObject>(
    r: ResourceRef,
    opts: ListOptions & { resourceVersion?: string; timeoutSeconds?: number },
    onEvent: (e: WatchEvent<T>) => void,
  ): WatchHandle {
    const lib = this.url.protocol === 'http:' ? http : https;
    const path =
      resourcePath(r, { namespace: r.namespaced ? opts.namespace : undefined }) +
      this.query({
        watch: 1,
        allowWatchBookmarks: true,
        resourceVersion: opts.resourceVersion,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        timeoutSeconds: opts.timeoutSeconds ?? 300,
      });
    let req: http.ClientRequest | undefined;
    let stopped = false;
    const done = new Promise<void>((resolve, reject) => {
      req = lib.request(
        {
          ...this.base,
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          method: 'GET',
          path: `${this.url.pathname.replace(/\/$/, '')}${path}`,
          headers: { ...(this.base.headers ?? {}), ...this.auth(), Accept: 'application/json' },
        },
        (res) => {
          if ((res.statusCode ?? 0) >= 300) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => reject(toApiError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), this.server)));
            return;
          }
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (!line) continue;
              try {
                onEvent(JSON.parse(line) as WatchEvent<T>);
              } catch (e) {
                req?.destroy(e as Error);
              }
            }
          });
          res.on('end', () => resolve());
          res.on('error', (e) => (stopped ? resolve() : reject(e)));
          res.on('aborted', () => resolve());
        },
      );
      req.on('error', (e) => (stopped ? resolve() : reject(this.transportError(e))));
      // A watch on a connection that went dead without a reset (a partition, a frozen server) would
      // wait forever: no byte for longer than the server's own timeout means the stream is gone.
      const idleMs = ((opts.timeoutSeconds ?? 300) + 10) * 1000;
      req.setTimeout(idleMs, () => req?.destroy(new Error(`watch stream silent for ${idleMs / 1000} s`)));
      req.end();
    });
    return {
      stop: () => {
        stopped = true;
        req?.destroy();
      },
      done,
    };
  }
}

function toApiError(status: number, text: string, server: string): Error {
  let body: { message?: string; reason?: string } = {};
  try {
    body = JSON.parse(text);
  } catch {
    /* not a Status */
  }
  if (status === 401 || status === 403) {
    return new ClusterUnreachableError(`the Kubernetes API at ${server} refused the request (${status} ${body.reason ?? ''}): ${body.message ?? text}`.trim(), {
      hint: 'check your credentials and RBAC (kubectl auth can-i ...)',
      httpStatus: status,
      apiMessage: body.message ?? text,
    });
  }
  return new ApiError(status, body.reason ?? String(status), body.message ?? (text || `HTTP ${status}`), body);
}
