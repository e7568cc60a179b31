// The light kubeconfig path: in-cluster service-account credentials and kubeconfig files whose
// credentials are plain (token, token file, client certificate, basic auth) become TLS options and
// an Authorization header here, without @kubernetes/client-node. Importing client-node loads its
// whole generated API: 0.6-0.8 s of every cluster command and ~69 MiB of the agent's RSS (measured,
// Node 20). Anything else (exec plugins, auth providers, proxies, impersonation, several KUBECONFIG
// files to merge) answers 'fallback' and src/kube/client.ts hands the file to client-node.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
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

interface NamedCluster {
  name: string;
  cluster?: Record<string, unknown>;
}
interface NamedUser {
  name: string;
  user?: Record<string, unknown>;
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

/**
 * Resolves `path` for `context` (default: its current-context). 'fallback' when the entry needs
 * client-node (exec or auth-provider credentials, proxy-url, impersonation, anything unknown).
 */
export function loadKubeconfigFile(path: string, context?: string): ResolvedKubeconfig | 'fallback' {
  let doc: Record<string, unknown>;
  try {
    doc = (parse(readFileSync(path, 'utf8')) ?? {}) as Record<string, unknown>;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a YAML mapping');
  } catch (e) {
    throw new UserError(`cannot read kubeconfig ${path}: ${(e as Error).message}`, { hint: 'check the file is a valid kubeconfig (kubectl config view)' });
  }
  const list = <T extends { name: string }>(key: string): T[] => (Array.isArray(doc[key]) ? (doc[key] as T[]).filter((x) => x && typeof x.name === 'string') : []);
  const contexts = list<NamedContext>('contexts');
  const ctxName = context ?? (typeof doc['current-context'] === 'string' ? (doc['current-context'] as string) : '');
  const ctx = contexts.find((c) => c.name === ctxName);
  if (context && !ctx) {
    throw new UserError(`context "${context}" not found in ${path}`, { hint: `available contexts: ${contexts.map((c) => c.name).join(', ') || '(none)'}` });
  }
  const cluster = list<NamedCluster>('clusters').find((c) => c.name === ctx?.context?.cluster)?.cluster;
  const server = typeof cluster?.server === 'string' ? cluster.server : '';
  if (!ctx || !cluster || !server) {
    throw new ClusterUnreachableError(`kubeconfig ${path} has no current cluster`, { hint: 'set a context: kubectl config use-context NAME' });
  }
  const user = list<NamedUser>('users').find((u) => u.name === ctx.context?.user)?.user ?? {};
  if (Object.keys(user).some((k) => !USER_KEYS.has(k)) || Object.keys(cluster).some((k) => !CLUSTER_KEYS.has(k))) return 'fallback';

  const base = dirname(path);
  const absolute = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const file = (p: unknown): Buffer | undefined => {
    if (typeof p !== 'string' || p === '') return undefined;
    const abs = absolute(p);
    try {
      return readFileSync(abs);
    } catch (e) {
      throw new UserError(`cannot read kubeconfig ${path}: ${abs}: ${(e as Error).message}`, { hint: 'fix the path in the kubeconfig (relative paths are relative to the kubeconfig file)' });
    }
  };
  const data = (d: unknown): Buffer | undefined => (typeof d === 'string' && d !== '' ? Buffer.from(d, 'base64') : undefined);
  const ca = data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']);
  const cert = data(user['client-certificate-data']) ?? file(user['client-certificate']);
  const key = data(user['client-key-data']) ?? file(user['client-key']);
  const servername = typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined;

  let authorization: () => string | undefined = () => undefined;
  if (typeof user.token === 'string' && user.token) {
    const t = user.token;
    authorization = () => `Bearer ${t}`;
  } else if (typeof user.tokenFile === 'string' && user.tokenFile) {
    file(user.tokenFile); // unreadable: the same clear error as any other referenced file
    const read = tokenFileReader(absolute(user.tokenFile));
    authorization = () => `Bearer ${read()}`;
  } else if (typeof user.username === 'string' && typeof user.password === 'string') {
    const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    authorization = () => basic;
  }
  return {
    server,
    ...(ctx.context?.namespace ? { namespace: ctx.context.namespace } : {}),
    tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true, ...(servername ? { servername } : {}) },
    authorization,
    source: path,
  };
}
