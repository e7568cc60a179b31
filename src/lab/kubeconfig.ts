// A kubeconfig for the lab's API stand-in. The stand-in speaks plain HTTP; client-node refuses an
// http:// server unless the cluster entry says `insecure-skip-tls-verify: true`, so it does. The
// token is never checked by the stand-in; it is there because clients expect some credential.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';

export interface LabKubeconfigOptions {
  /** Cluster, user and context name (default `multinic-lab`). */
  name?: string;
  /** The context's default namespace (default `default`). */
  namespace?: string;
  token?: string;
}

/** The kubeconfig document (YAML text) for a server URL. */
export function kubeconfigYaml(url: string, opts: LabKubeconfigOptions = {}): string {
  const name = opts.name ?? 'multinic-lab';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name, user: { token: opts.token ?? 'multinic-lab-token' } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: opts.namespace ?? 'default' } }],
    'current-context': name,
    preferences: {},
  });
}

/** Writes the kubeconfig (mode 0600, parent directories created). */
export async function writeKubeconfig(path: string, url: string, opts: LabKubeconfigOptions = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, kubeconfigYaml(url, opts), { mode: 0o600 });
}
