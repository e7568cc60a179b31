// OpenAPI documents, as much as kubectl needs. kubectl 1.32 decides per GroupVersionKind whether
// the server validates fields itself by looking in /openapi/v3 for a PATCH operation tagged with
// `x-kubernetes-group-version-kind` that takes the `fieldValidation` query parameter; when it
// finds one it sends `fieldValidation=Strict` and skips client-side schema validation (which would
// need /openapi/v2 in protobuf). So every served type gets such paths. Component schemas are
// published for custom resources only: for built-ins kubectl then builds strategic merge patches
// from its compiled-in types, which carry the real merge keys.
import { createHash } from 'node:crypto';
import type { Registry, ResourceType } from './registry.js';

const gvPath = (group: string, version: string): string => (group ? `apis/${group}/${version}` : `api/${version}`);

/** `io.fms.multinic.v1.MultiNicNetwork`: kube's naming of a CRD's component schema. */
export const schemaName = (t: ResourceType): string => `${t.group.split('.').reverse().join('.')}.${t.version}.${t.kind}`;

const param = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
const WRITE_PARAMS = [
  param('dryRun', 'When present, indicates that modifications should not be persisted.'),
  param('fieldManager', 'A name associated with the actor or entity that is making these changes.'),
  param('fieldValidation', 'Ignore, Warn or Strict: how to treat unknown or duplicate fields.'),
];

function operations(t: ResourceType, item: boolean): Record<string, unknown> {
  const gvk = { group: t.group, version: t.version, kind: t.kind };
  const ref = t.crd ? { $ref: `#/components/schemas/${schemaName(t)}` } : { type: 'object' };
  const ok = { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } };
  const op = (action: string, params = WRITE_PARAMS) => ({ operationId: `${action}${t.kind}`, parameters: params, responses: ok, 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk });
  if (!item) return { get: op('list', []), post: op('post'), delete: op('deletecollection', []) };
  return {
    get: op('get', []),
    put: op('put'),
    // No strategic-merge-patch+json here on purpose: kubectl would then compute strategic patches
    // from these (partial) schemas; without it, it uses merge patches for custom resources and its
    // compiled-in types for built-ins. The server still accepts strategic merge patches.
    patch: { ...op('patch', [...WRITE_PARAMS, param('force', 'Force is going to "force" Apply requests.')]), requestBody: { content: { 'application/merge-patch+json': { schema: { type: 'object' } }, 'application/json-patch+json': { schema: { type: 'object' } }, 'application/apply-patch+yaml': { schema: { type: 'object' } } } } },
    delete: op('delete'),
  };
}

/** The OpenAPI v3 document of one group/version. */
export function openApiV3GroupVersion(registry: Registry, group: string, version: string): object | undefined {
  const types = registry.inGroupVersion(group, version);
  if (types.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  const base = `/${gvPath(group, version)}`;
  for (const t of types) {
    const coll = t.namespaced ? `${base}/namespaces/{namespace}/${t.plural}` : `${base}/${t.plural}`;
    paths[coll] = operations(t, false);
    paths[`${coll}/{name}`] = operations(t, true);
    if (t.subresources.includes('status')) paths[`${coll}/{name}/status`] = operations(t, true);
    if (t.namespaced) paths[`${base}/${t.plural}`] = { get: { operationId: `list${t.kind}ForAllNamespaces`, responses: { '200': { description: 'OK' } } } };
    if (t.crd && t.schema) schemas[schemaName(t)] = { ...t.schema, 'x-kubernetes-group-version-kind': [{ group: t.group, version: t.version, kind: t.kind }] };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas } };
}

const hash = (doc: object): string => createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase().slice(0, 128);

/** The /openapi/v3 index: one entry per served group/version, with a content hash. */
export function openApiV3Root(registry: Registry): object {
  const gvs = new Set(registry.all().map((t) => `${t.group}|${t.version}`));
  const paths: Record<string, unknown> = {};
  for (const gv of [...gvs].sort()) {
    const [group = '', version = ''] = gv.split('|');
    const doc = openApiV3GroupVersion(registry, group, version);
    if (doc) paths[gvPath(group, version)] = { serverRelativeURL: `/openapi/v3/${gvPath(group, version)}?hash=${hash(doc)}` };
  }
  return { paths };
}

/** A minimal Swagger 2.0 document (JSON only; protobuf requests get 406 and kubectl copes). */
export function openApiV2(registry: Registry): object {
  const paths: Record<string, unknown> = {};
  const definitions: Record<string, unknown> = {};
  for (const t of registry.all()) {
    const base = `/${gvPath(t.group, t.version)}`;
    const coll = t.namespaced ? `${base}/namespaces/{namespace}/${t.plural}` : `${base}/${t.plural}`;
    const gvk = { group: t.group, version: t.version, kind: t.kind };
    paths[`${coll}/{name}`] = {
      get: { operationId: `read${t.kind}`, 'x-kubernetes-group-version-kind': gvk, responses: { '200': { description: 'OK' } } },
      patch: { operationId: `patch${t.kind}`, 'x-kubernetes-group-version-kind': gvk, parameters: [{ name: 'fieldValidation', in: 'query', type: 'string', uniqueItems: true }], responses: { '200': { description: 'OK' } } },
    };
    if (t.crd && t.schema) definitions[schemaName(t)] = { ...t.schema, 'x-kubernetes-group-version-kind': [gvk] };
  }
  return { swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, definitions };
}
