// The Kubernetes resources we read and write, as plain data: enough to build API paths without
// discovery round trips.

export interface ResourceRef {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const ref = (group: string, version: string, kind: string, plural: string, namespaced: boolean): ResourceRef => ({
  group,
  version,
  kind,
  plural,
  namespaced,
});

export const MULTINIC_GROUP = 'multinic.fms.io';
export const MULTINIC_API_VERSION = `${MULTINIC_GROUP}/v1`;

/** Every resource the product touches. */
export const R = {
  MultiNicNetwork: ref(MULTINIC_GROUP, 'v1', 'MultiNicNetwork', 'multinicnetworks', false),
  DeviceClass: ref(MULTINIC_GROUP, 'v1', 'DeviceClass', 'deviceclasses', false),
  HostInterface: ref(MULTINIC_GROUP, 'v1', 'HostInterface', 'hostinterfaces', false),
  CIDR: ref(MULTINIC_GROUP, 'v1', 'CIDR', 'cidrs', false),
  CIDRClaim: ref(MULTINIC_GROUP, 'v1', 'CIDRClaim', 'cidrclaims', false),
  IPPool: ref(MULTINIC_GROUP, 'v1', 'IPPool', 'ippools', false),
  NetworkAttachmentDefinition: ref('k8s.cni.cncf.io', 'v1', 'NetworkAttachmentDefinition', 'network-attachment-definitions', true),
  Namespace: ref('', 'v1', 'Namespace', 'namespaces', false),
  Node: ref('', 'v1', 'Node', 'nodes', false),
  Pod: ref('', 'v1', 'Pod', 'pods', true),
  ServiceAccount: ref('', 'v1', 'ServiceAccount', 'serviceaccounts', true),
  ConfigMap: ref('', 'v1', 'ConfigMap', 'configmaps', true),
  Service: ref('', 'v1', 'Service', 'services', true),
  Event: ref('', 'v1', 'Event', 'events', true),
  DaemonSet: ref('apps', 'v1', 'DaemonSet', 'daemonsets', true),
  Lease: ref('coordination.k8s.io', 'v1', 'Lease', 'leases', true),
  ClusterRole: ref('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
  ClusterRoleBinding: ref('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  Role: ref('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
  RoleBinding: ref('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
  PodMonitor: ref('monitoring.coreos.com', 'v1', 'PodMonitor', 'podmonitors', true),
  ServiceMonitor: ref('monitoring.coreos.com', 'v1', 'ServiceMonitor', 'servicemonitors', true),
  PrometheusRule: ref('monitoring.coreos.com', 'v1', 'PrometheusRule', 'prometheusrules', true),
  CustomResourceDefinition: ref('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false),
  // Dynamic Resource Allocation (resource.k8s.io/v1, docs/dra.md). Its DeviceClass is not ours above.
  ResourceSlice: ref('resource.k8s.io', 'v1', 'ResourceSlice', 'resourceslices', false),
  ResourceClaim: ref('resource.k8s.io', 'v1', 'ResourceClaim', 'resourceclaims', true),
  ResourceClaimTemplate: ref('resource.k8s.io', 'v1', 'ResourceClaimTemplate', 'resourceclaimtemplates', true),
  DraDeviceClass: ref('resource.k8s.io', 'v1', 'DeviceClass', 'deviceclasses', false),
} as const;

export const apiVersionOf = (r: ResourceRef): string => (r.group ? `${r.group}/${r.version}` : r.version);

/** The ResourceRef for an object's apiVersion/kind, when it is one we know. */
export function refFor(apiVersion: string | undefined, kind: string | undefined): ResourceRef | undefined {
  return Object.values(R).find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

/** `/api/v1/namespaces/ns/pods/name/log`-style path for a resource, object and subresource. */
export function resourcePath(r: ResourceRef, opts: { namespace?: string; name?: string; subresource?: string } = {}): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespaced && opts.namespace ? `/namespaces/${encodeURIComponent(opts.namespace)}` : '';
  const name = opts.name ? `/${encodeURIComponent(opts.name)}` : '';
  const sub = opts.subresource ? `/${opts.subresource}` : '';
  return `${base}${ns}/${r.plural}${name}${sub}`;
}
