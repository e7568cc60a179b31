// What the stand-in serves: the built-in resource types we and kubectl use, plus whatever applied
// CustomResourceDefinitions define. A type is addressed by (group, version, plural); objects are
// stored per (group, plural) so every served version of a CRD sees the same objects (conversion
// strategy None: only apiVersion changes between versions, as with kube's None converter).
import type { JsonSchema } from '../../lib/k8s/schema.js';
import type { KubeObject } from '../../lib/k8s/meta.js';
import type { StatusCause } from './errors.js';
import { DRA_TYPES } from './dra.js';

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  /** Built-ins only: computes the cell where a JSONPath cannot (pod READY `1/2`). */
  value?: (obj: KubeObject) => unknown;
}

interface PodLike {
  spec?: { containers?: unknown[] };
  status?: { containerStatuses?: Array<{ ready?: boolean; restartCount?: number }> };
}
const podReady = (o: KubeObject): string => {
  const p = o as PodLike;
  return `${(p.status?.containerStatuses ?? []).filter((c) => c.ready).length}/${(p.spec?.containers ?? []).length}`;
};
const podRestarts = (o: KubeObject): number => ((o as PodLike).status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Subresources by name: `status`, `log`. */
  subresources: string[];
  /** Field paths usable in fieldSelector besides metadata.name / metadata.namespace. */
  selectableFields: string[];
  /** Whether metadata.generation is maintained (spec-bearing types). */
  generation: boolean;
  /** Validation schema (CRDs: the version's openAPIV3Schema). */
  schema?: JsonSchema;
  /** Extra table columns between Name and Age (CRDs: additionalPrinterColumns). */
  columns: PrinterColumn[];
  /** Name of the CRD that defines this type; undefined for built-ins. */
  crd?: string;
  /** Built-ins only: type-specific validation of an object about to be stored (`old` on updates). */
  admit?: (obj: KubeObject, old: KubeObject | undefined) => StatusCause[];
}

export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const apiVersionOf = (t: Pick<ResourceType, 'group' | 'version'>): string => (t.group ? `${t.group}/${t.version}` : t.version);
export const storageKey = (t: Pick<ResourceType, 'group' | 'plural'>): string => `${t.group}/${t.plural}`;

type BuiltinSpec = Partial<ResourceType> & Pick<ResourceType, 'group' | 'version' | 'plural' | 'kind'>;

function builtin(s: BuiltinSpec): ResourceType {
  return {
    singular: s.kind.toLowerCase(),
    listKind: `${s.kind}List`,
    namespaced: true,
    shortNames: [],
    categories: [],
    subresources: [],
    selectableFields: [],
    generation: false,
    columns: [],
    ...s,
  };
}

/** The built-ins (docs/design.md §4): enough for the agent, the lab node runner, install and kubectl. */
export const BUILTINS: readonly ResourceType[] = [
  builtin({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, shortNames: ['ns'], subresources: ['status'], selectableFields: ['status.phase'], columns: [{ name: 'Status', type: 'string', jsonPath: '.status.phase' }] }),
  builtin({ group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, shortNames: ['no'], subresources: ['status'], selectableFields: ['spec.unschedulable'] }),
  builtin({
    group: '', version: 'v1', plural: 'pods', kind: 'Pod', shortNames: ['po'], categories: ['all'], subresources: ['status', 'log'],
    selectableFields: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
    columns: [
      { name: 'Ready', type: 'string', jsonPath: '', value: podReady },
      { name: 'Status', type: 'string', jsonPath: '.status.phase' },
      { name: 'Restarts', type: 'integer', jsonPath: '', value: podRestarts },
      { name: 'IP', type: 'string', jsonPath: '.status.podIP', priority: 1 },
      { name: 'Node', type: 'string', jsonPath: '.spec.nodeName', priority: 1 },
    ],
  }),
  builtin({ group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', shortNames: ['sa'] }),
  builtin({ group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', shortNames: ['cm'] }),
  builtin({ group: '', version: 'v1', plural: 'services', kind: 'Service', shortNames: ['svc'], categories: ['all'] }),
  builtin({ group: '', version: 'v1', plural: 'secrets', kind: 'Secret', selectableFields: ['type'] }),
  builtin({
    group: '', version: 'v1', plural: 'events', kind: 'Event', shortNames: ['ev'],
    selectableFields: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
    columns: [{ name: 'Type', type: 'string', jsonPath: '.type' }, { name: 'Reason', type: 'string', jsonPath: '.reason' }, { name: 'Object', type: 'string', jsonPath: '.involvedObject.name' }, { name: 'Message', type: 'string', jsonPath: '.message' }],
  }),
  builtin({ group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', shortNames: ['ds'], categories: ['all'], subresources: ['status'], generation: true }),
  builtin({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false }),
  builtin({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false }),
  builtin({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', kind: 'Role' }),
  builtin({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding' }),
  builtin({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' }),
  builtin({
    group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false,
    shortNames: ['crd', 'crds'], categories: ['api-extensions'], subresources: ['status'], generation: true,
    columns: [{ name: 'Created At', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
  }),
  ...DRA_TYPES,
];

/** The subset of a CRD object the registry reads. */
interface CrdVersion {
  name: string;
  served?: boolean;
  storage?: boolean;
  schema?: { openAPIV3Schema?: JsonSchema };
  subresources?: { status?: object };
  additionalPrinterColumns?: PrinterColumn[];
  selectableFields?: { jsonPath: string }[];
}
export interface CrdSpec {
  group: string;
  scope: 'Namespaced' | 'Cluster';
  names: { plural: string; singular?: string; kind: string; listKind?: string; shortNames?: string[]; categories?: string[] };
  versions: CrdVersion[];
}

/** The types a CRD defines, one per served version. */
export function typesFromCrd(crd: KubeObject): ResourceType[] {
  const spec = crd.spec as CrdSpec;
  return spec.versions
    .filter((v) => v.served !== false)
    .map((v) => {
      const t: ResourceType = {
        group: spec.group,
        version: v.name,
        plural: spec.names.plural,
        singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
        kind: spec.names.kind,
        listKind: spec.names.listKind ?? `${spec.names.kind}List`,
        namespaced: spec.scope === 'Namespaced',
        shortNames: spec.names.shortNames ?? [],
        categories: spec.names.categories ?? [],
        subresources: v.subresources?.status ? ['status'] : [],
        selectableFields: (v.selectableFields ?? []).map((f) => f.jsonPath.replace(/^\./, '')),
        generation: true,
        columns: v.additionalPrinterColumns ?? [],
        crd: crd.metadata?.name ?? '',
      };
      if (v.schema?.openAPIV3Schema) t.schema = v.schema.openAPIV3Schema;
      return t;
    });
}

/** The mutable set of served types. */
export class Registry {
  private readonly types = new Map<string, ResourceType>();

  constructor() {
    for (const t of BUILTINS) this.add(t);
  }

  private static key(group: string, version: string, plural: string): string {
    return `${group}/${version}/${plural}`;
  }

  add(t: ResourceType): void {
    this.types.set(Registry.key(t.group, t.version, t.plural), t);
  }

  /** Drops every type defined by the named CRD. */
  removeCrd(crdName: string): void {
    for (const [k, t] of this.types) if (t.crd === crdName) this.types.delete(k);
  }

  /** Replaces the types of a CRD with those of its current spec. */
  setCrd(crd: KubeObject): void {
    this.removeCrd(crd.metadata?.name ?? '');
    for (const t of typesFromCrd(crd)) this.add(t);
  }

  get(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.get(Registry.key(group, version, plural));
  }

  /** By apiVersion + kind, as an object names its own type. */
  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    for (const t of this.types.values()) if (apiVersionOf(t) === apiVersion && t.kind === kind) return t;
    return undefined;
  }

  all(): ResourceType[] {
    return [...this.types.values()];
  }

  /** Group → served versions, core group excluded; the first version is the preferred one. */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const t of this.types.values()) {
      if (!t.group) continue;
      const vs = out.get(t.group) ?? [];
      if (!vs.includes(t.version)) vs.push(t.version);
      out.set(t.group, vs);
    }
    for (const vs of out.values()) vs.sort(compareVersions);
    return out;
  }

  inGroupVersion(group: string, version: string): ResourceType[] {
    return this.all().filter((t) => t.group === group && t.version === version);
  }
}

/** Kubernetes version priority: GA > beta > alpha, higher numbers first (v2 > v1 > v1beta2 > v1beta1). */
export function compareVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0];
    const stage = m[2] === 'alpha' ? 1 : m[2] === 'beta' ? 2 : 3;
    return [stage, Number(m[1]), Number(m[3] ?? 0)];
  };
  const [x, y] = [rank(a), rank(b)];
  for (let i = 0; i < 3; i++) if ((x[i] as number) !== (y[i] as number)) return (y[i] as number) - (x[i] as number);
  return a.localeCompare(b);
}
