// Discovery documents (legacy, unaggregated): /api, /apis, /apis/<group>, /api/v1 and
// /apis/<group>/<version>. kubectl 1.32 first asks for aggregated discovery
// (`application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`); answering with plain
// `application/json` makes it fall back to these, which is what client-go does against servers
// without aggregated discovery.
import { createHash } from 'node:crypto';
import { compareVersions, VERBS, type Registry, type ResourceType } from './registry.js';

export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-multinic-lab',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export function apiVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function apiGroup(name: string, versions: string[]): object {
  const vs = [...versions].sort(compareVersions).map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

export function apiGroupList(registry: Registry): object {
  const groups = [...registry.groups()].sort(([a], [b]) => a.localeCompare(b)).map(([name, vs]) => apiGroup(name, vs));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function apiGroupDoc(registry: Registry, group: string): object | undefined {
  const vs = registry.groups().get(group);
  return vs ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, vs) } : undefined;
}

const storageVersionHash = (t: ResourceType): string => createHash('sha256').update(`${t.group}/${t.version}/${t.kind}`).digest('base64').slice(0, 11);

export function apiResourceList(registry: Registry, group: string, version: string): object | undefined {
  const types = registry.inGroupVersion(group, version);
  if (types.length === 0) return undefined;
  const resources: object[] = [];
  for (const t of types.sort((a, b) => a.plural.localeCompare(b.plural))) {
    const r: Record<string, unknown> = { name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: VERBS, storageVersionHash: storageVersionHash(t) };
    if (t.shortNames.length) r.shortNames = t.shortNames;
    if (t.categories.length) r.categories = t.categories;
    resources.push(r);
    if (t.subresources.includes('status')) resources.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
    if (t.subresources.includes('log')) resources.push({ name: `${t.plural}/log`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get'] });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}
