// The light kubeconfig path: in-cluster service-account credentials and kubeconfig files whose
// credentials are plain (token, token file, client certificate, basic auth) become TLS options and
// an Authorization header here, without @kubernetes/client-node. Importing client-node loads its
// whole generated API: 0.6-0.8 s of every cluster command and ~69 MiB of the agent's RSS (measured,
// Node 20). Several KUBECONFIG files are merged here with client-go's rules (first definition and
// first current-context win), so `KUBECONFIG=a:b` picks the cluster kubectl picks. Anything else (exec
// plugins, auth providers, proxies, impersonation) answers a fallback carrying the merged document,
// which src/kube/client.ts hands to client-node.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ClusterUnreachableError, UserError } from '../lib/errors.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** What a request needs: where, how to trust it, and the credential (re-read when it is a file). */
export interface ResolvedKubeconfig {
  server: string;
  /** The context's namespace (or the service account's). */
  namespace?: string;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean; servername?: string };
  /** Authorization header value for the next request, if any. */
  authorization: () => string | undefined;
  /** Where it came from, for messages. */
  source: string;
}

interface NamedContext {
  name: string;
  context?: { cluster?: string; user?: string; namespace?: string };
}

/** Reads a token file, caching it for `ttlMs` (kubelet rotates projected tokens; clients re-read them). */
export function tokenFileReader(path: string, ttlMs = 60_000, now: () => number = Date.now): () => string {
  let cached: { at: number; token: string } | undefined;
  return () => {
    const t = now();
    if (!cached || t - cached.at >= ttlMs) cached = { at: t, token: readFileSync(path, 'utf8').trim() };
    return cached.token;
  };
}

/** In-cluster config (a pod with a service account), as client-go's rest.InClusterConfig. */
export function inClusterConfig(env: NodeJS.ProcessEnv, saDir = SERVICE_ACCOUNT_DIR): ResolvedKubeconfig {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const token = tokenFileReader(resolve(saDir, 'token'));
  let ca: Buffer | undefined;
  let namespace: string | undefined;
  try {
    token();
    ca = readFileSync(resolve(saDir, 'ca.crt'));
  } catch (e) {
    throw new ClusterUnreachableError(`in-cluster credentials unreadable in ${saDir}: ${(e as Error).message}`, {
      hint: 'the pod needs a service account token (automountServiceAccountToken: true), or pass --kubeconfig',
    });
  }
  try {
    namespace = readFileSync(resolve(saDir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    namespace = undefined;
  }
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ...(namespace ? { namespace } : {}),
    tls: { ca, rejectUnauthorized: true },
    authorization: () => `Bearer ${token()}`,
    source: 'in-cluster service account',
  };
}

const USER_KEYS = new Set(['token', 'tokenFile', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'username', 'password', 'extensions']);
const CLUSTER_KEYS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions']);
/** Fields holding a file path, resolved against the directory of the file that defines the entry (client-go's ResolvePaths). */
const CLUSTER_PATHS = ['certificate-authority'];
const USER_PATHS = ['client-certificate', 'client-key', 'tokenFile'];

/** One named entry and the kubeconfig file that defined it (relative paths are relative to that file). */
interface Defined<T> {
  value: T;
  file: string;
}

/**
 * Several kubeconfig files merged as client-go's ClientConfigLoadingRules.Load does for
 * KUBECONFIG=a:b: files in order, missing ones skipped; for clusters, users and contexts the FIRST file
 * to define a name wins; current-context is the first non-empty one. A name defined twice in one file
 * is an error (kubectl refuses such a file too).
 */
export interface MergedKubeconfig {
  /** The files read, in order. */
  files: string[];
  clusters: Map<string, Defined<Record<string, unknown>>>;
  users: Map<string, Defined<Record<string, unknown>>>;
  contexts: Map<string, Defined<NonNullable<NamedContext['context']>>>;
  currentContext: string;
}

function readKubeconfigDoc(path: string): Record<string, unknown> {
  try {
    const doc = (parse(readFileSync(path, 'utf8')) ?? {}) as Record<string, unknown>;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a YAML mapping');
    return doc;
  } catch (e) {
    throw new UserError(`cannot read kubeconfig ${path}: ${(e as Error).message}`, { hint: 'check the file is a valid kubeconfig (kubectl config view)' });
  }
}

/** Merges kubeconfig files (each must exist: the caller drops missing KUBECONFIG entries first). */
export function mergeKubeconfigs(paths: readonly string[]): MergedKubeconfig {
  const m: MergedKubeconfig = { files: [], clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: '' };
  for (const path of paths) {
    if (m.files.includes(path)) continue;
    const doc = readKubeconfigDoc(path);
    m.files.push(path);
    const add = <T>(key: string, field: string, into: Map<string, Defined<T>>): void => {
      const list = Array.isArray(doc[key]) ? (doc[key] as Array<Record<string, unknown>>) : [];
      const seen = new Set<string>();
      for (const e of list) {
        if (!e || typeof e.name !== 'string') continue;
        if (seen.has(e.name)) {
          throw new UserError(`cannot read kubeconfig ${path}: duplicate name "${e.name}" in ${key}`, { hint: `rename or remove one of the two ${key} entries named "${e.name}" (kubectl refuses this file too)` });
        }
        seen.add(e.name);
        if (!into.has(e.name)) into.set(e.name, { value: ((e[field] ?? {}) as T), file: path });
      }
    };
    add('clusters', 'cluster', m.clusters);
    add('users', 'user', m.users);
    add('contexts', 'context', m.contexts);
    const cur = doc['current-context'];
    if (!m.currentContext && typeof cur === 'string' && cur) m.currentContext = cur;
  }
  return m;
}

const withAbsolutePaths = (entry: Record<string, unknown>, keys: readonly string[], file: string): Record<string, unknown> => {
  const out = { ...entry };
  for (const k of keys) if (typeof out[k] === 'string' && out[k] !== '' && !isAbsolute(out[k] as string)) out[k] = resolve(dirname(file), out[k] as string);
  return out;
};

/**
 * The merged configuration as one kubeconfig document (relative paths made absolute), for client-node
 * when the entry needs it: client-node's own merge of KUBECONFIG lists differs from kubectl's.
 */
export function mergedDocument(m: MergedKubeconfig): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [...m.clusters].map(([name, d]) => ({ name, cluster: withAbsolutePaths(d.value, CLUSTER_PATHS, d.file) })),
    users: [...m.users].map(([name, d]) => ({ name, user: withAbsolutePaths(d.value, USER_PATHS, d.file) })),
    contexts: [...m.contexts].map(([name, d]) => ({ name, context: d.value })),
    'current-context': m.currentContext,
  };
}

/** Where a merged configuration came from, for messages: one path, or the list. */
const sourceOf = (m: MergedKubeconfig): string => (m.files.length === 1 ? (m.files[0] as string) : `KUBECONFIG=${m.files.join(':')}`);

/**
 * Resolves the merged `paths` for `context` (default: the merged current-context). `{fallback}` when
 * the entry needs client-node (exec or auth-provider credentials, proxy-url, impersonation, anything
 * unknown): it carries the merged document so client-node resolves exactly the same entry.
 */
export function loadKubeconfig(paths: readonly string[], context?: string): ResolvedKubeconfig | { fallback: Record<string, unknown> } {
  const m = mergeKubeconfigs(paths);
  const source = sourceOf(m);
  const ctxName = context ?? m.currentContext;
  const ctx = m.contexts.get(ctxName);
  if (context && !ctx) {
    throw new UserError(`context "${context}" not found in ${source}`, { hint: `available contexts: ${[...m.contexts.keys()].join(', ') || '(none)'}` });
  }
  const clusterDef = ctx?.value.cluster !== undefined ? m.clusters.get(ctx.value.cluster) : undefined;
  const cluster = clusterDef?.value;
  const server = typeof cluster?.server === 'string' ? cluster.server : '';
  if (!ctx || !clusterDef || !cluster || !server) {
    const why = ctxName && !ctx ? ` (its current-context "${ctxName}" is not defined)` : '';
    throw new ClusterUnreachableError(`kubeconfig ${source} has no current cluster${why}`, { hint: 'set a context: kubectl config use-context NAME' });
  }
  const userDef = ctx.value.user !== undefined ? m.users.get(ctx.value.user) : undefined;
  const user = userDef?.value ?? {};
  if (Object.keys(user).some((k) => !USER_KEYS.has(k)) || Object.keys(cluster).some((k) => !CLUSTER_KEYS.has(k))) {
    return { fallback: { ...mergedDocument(m), 'current-context': ctxName } };
  }

  const file = (p: unknown, definedIn: string): Buffer | undefined => {
    if (typeof p !== 'string' || p === '') return undefined;
    const abs = isAbsolute(p) ? p : resolve(dirname(definedIn), p);
    try {
      return readFileSync(abs);
    } catch (e) {
      throw new UserError(`cannot read kubeconfig ${definedIn}: ${abs}: ${(e as Error).message}`, { hint: 'fix the path in the kubeconfig (relative paths are relative to the kubeconfig file)' });
    }
  };
  const userFile = userDef?.file ?? clusterDef.file;
  const data = (d: unknown): Buffer | undefined => (typeof d === 'string' && d !== '' ? Buffer.from(d, 'base64') : undefined);
  const ca = data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority'], clusterDef.file);
  const cert = data(user['client-certificate-data']) ?? file(user['client-certificate'], userFile);
  const key = data(user['client-key-data']) ?? file(user['client-key'], userFile);
  const servername = typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined;

  let authorization: () => string | undefined = () => undefined;
  if (typeof user.token === 'string' && user.token) {
    const t = user.token;
    authorization = () => `Bearer ${t}`;
  } else if (typeof user.tokenFile === 'string' && user.tokenFile) {
    file(user.tokenFile, userFile); // unreadable: the same clear error as any other referenced file
    const read = tokenFileReader(isAbsolute(user.tokenFile) ? user.tokenFile : resolve(dirname(userFile), user.tokenFile));
    authorization = () => `Bearer ${read()}`;
  } else if (typeof user.username === 'string' && typeof user.password === 'string') {
    const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    authorization = () => basic;
  }
  return {
    server,
    ...(ctx.value.namespace ? { namespace: ctx.value.namespace } : {}),
    tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true, ...(servername ? { servername } : {}) },
    authorization,
    source,
  };
}

/** One kubeconfig file; 'fallback' when the entry needs client-node (see loadKubeconfig). */
export function loadKubeconfigFile(path: string, context?: string): ResolvedKubeconfig | 'fallback' {
  const r = loadKubeconfig([path], context);
  return 'fallback' in r ? 'fallback' : r;
}

/**
 * The current-context name of the kubeconfig kubectl would use (--kubeconfig, else $KUBECONFIG
 * merged as kubectl merges it, else ~/.kube/config), for display only; undefined when there is none
 * or it cannot be read (connect() reports those errors).
 */
export function contextName(o: { kubeconfig?: string; env: NodeJS.ProcessEnv }): string | undefined {
  const paths = o.kubeconfig ? [o.kubeconfig] : o.env.KUBECONFIG ? o.env.KUBECONFIG.split(':').filter((p) => p && existsSync(p)) : [join(o.env.HOME ?? homedir(), '.kube', 'config')];
  try {
    return mergeKubeconfigs(paths).currentContext || undefined;
  } catch {
    return undefined;
  }
}
