// resource.k8s.io/v1 (Dynamic Resource Allocation, GA in Kubernetes 1.34) as the stand-in serves it:
// ResourceSlice, ResourceClaim (+status), ResourceClaimTemplate and DeviceClass with the shapes of
// k8s.io/api/resource/v1 types.go (https://github.com/kubernetes/api/blob/master/resource/v1/types.go)
// and the validation rules of pkg/apis/resource/validation that our driver and the lab rely on:
// exactly one node selection per slice, exactly one value per attribute, at most 128 devices, a
// claim's spec immutable, status.devices only for allocated devices, networkData IPs in CIDR form.
// Deliberately not implemented: CEL compilation at admission, device taints, counters and
// consumable capacity semantics (stored as given), the allocation itself (kube-scheduler's job;
// the lab's allocator in src/lib/dra/allocate.ts plays it).
import { isIP } from 'node:net';
import type { JsonSchema } from '../../lib/k8s/schema.js';
import type { KubeObject } from '../../lib/k8s/meta.js';
import type { StatusCause } from './errors.js';
import type { ResourceType } from './registry.js';

const str = (maxLength?: number): JsonSchema => (maxLength ? { type: 'string', maxLength } : { type: 'string' });
const int: JsonSchema = { type: 'integer' };
const bool: JsonSchema = { type: 'boolean' };
const any: JsonSchema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
const obj = (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({ type: 'object', properties, ...(required.length ? { required } : {}) });
const arr = (items: JsonSchema, maxItems?: number): JsonSchema => ({ type: 'array', items, ...(maxItems !== undefined ? { maxItems } : {}) });
const map = (v: JsonSchema): JsonSchema => ({ type: 'object', additionalProperties: v });

const selectors = arr(obj({ cel: obj({ expression: str(10 * 1024) }, ['expression']) }, ['cel']), 32);
const opaque = obj({ driver: str(63), parameters: any }, ['driver', 'parameters']);
const tolerations = arr(any, 16);
const capacityRequests = obj({ requests: map({ 'x-kubernetes-int-or-string': true }) });

const subRequest = obj({ name: str(63), deviceClassName: str(253), selectors, allocationMode: { type: 'string', enum: ['ExactCount', 'All'] }, count: int, tolerations, capacity: capacityRequests }, ['name', 'deviceClassName']);
const exact = obj({ deviceClassName: str(253), selectors, allocationMode: { type: 'string', enum: ['ExactCount', 'All'] }, count: int, adminAccess: bool, tolerations, capacity: capacityRequests }, ['deviceClassName']);

/** ResourceClaimSpec (shared by ResourceClaim and ResourceClaimTemplate). */
const claimSpec = obj({
  devices: obj({
    requests: arr(obj({ name: str(63), exactly: exact, firstAvailable: arr(subRequest, 8) }, ['name']), 32),
    constraints: arr(obj({ requests: arr(str(63)), matchAttribute: str(), distinctAttribute: str() }), 32),
    config: arr(obj({ requests: arr(str(63)), opaque }), 32),
  }),
});

const condition = obj({ type: str(316), status: { type: 'string', enum: ['True', 'False', 'Unknown'] }, observedGeneration: int, lastTransitionTime: str(), reason: str(1024), message: str(32768) }, ['type', 'status', 'lastTransitionTime', 'reason', 'message']);

const claimStatus = obj({
  allocation: obj({
    devices: obj({
      results: arr(obj({ request: str(), driver: str(63), pool: str(252), device: str(63), adminAccess: bool, tolerations, bindingConditions: arr(str()), bindingFailureConditions: arr(str()), shareID: str(), consumedCapacity: map({ 'x-kubernetes-int-or-string': true }) }, ['request', 'driver', 'pool', 'device'])),
      config: arr(obj({ source: { type: 'string', enum: ['FromClass', 'FromClaim'] }, requests: arr(str()), opaque }, ['source'])),
    }),
    nodeSelector: any,
    allocationTimestamp: str(),
  }),
  reservedFor: arr(obj({ apiGroup: str(), resource: str(), name: str(), uid: str() }, ['resource', 'name', 'uid']), 256),
  devices: arr(obj({
    driver: str(63), pool: str(252), device: str(63), shareID: str(),
    conditions: arr(condition, 8),
    data: any,
    networkData: obj({ interfaceName: str(256), ips: arr(str(), 16), hardwareAddress: str(128) }),
  }, ['driver', 'pool', 'device'])),
});

const attribute = obj({ int, bool, string: str(64), version: str(64) });
const device = obj({
  name: str(63),
  attributes: map(attribute),
  capacity: map(obj({ value: { 'x-kubernetes-int-or-string': true }, requestPolicy: any }, ['value'])),
  consumesCounters: arr(any, 2),
  nodeName: str(), nodeSelector: any, allNodes: bool,
  taints: arr(any, 4),
  bindsToNode: bool, bindingConditions: arr(str(), 4), bindingFailureConditions: arr(str(), 4),
  allowMultipleAllocations: bool,
}, ['name']);

const sliceSpec = obj({
  driver: str(63),
  pool: obj({ name: str(252), generation: int, resourceSliceCount: { type: 'integer', minimum: 1 } }, ['name', 'generation', 'resourceSliceCount']),
  nodeName: str(253), nodeSelector: any, allNodes: bool, perDeviceNodeSelection: bool,
  devices: arr(device, 128),
  sharedCounters: arr(any, 8),
}, ['driver', 'pool']);

const top = (spec: JsonSchema, status?: JsonSchema, specRequired = true): JsonSchema => ({
  type: 'object',
  properties: { apiVersion: str(), kind: str(), metadata: { type: 'object' }, spec, ...(status ? { status } : {}) },
  ...(specRequired ? { required: ['spec'] } : {}),
});

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A QualifiedName of DRA: `[domain/]identifier`, the identifier a C identifier of at most 32 characters. */
export function qualifiedNameError(name: string): string | undefined {
  const i = name.indexOf('/');
  const domain = i >= 0 ? name.slice(0, i) : undefined;
  const id = i >= 0 ? name.slice(i + 1) : name;
  if (domain !== undefined && (domain.length > 63 || !DNS_SUBDOMAIN.test(domain))) return `the domain "${domain}" must be a DNS subdomain of at most 63 characters`;
  if (id.length > 32 || !C_IDENTIFIER.test(id)) return `the name "${id}" must be a C identifier of at most 32 characters`;
  return undefined;
}

interface Spec { [k: string]: unknown }
const specOf = (o: KubeObject | undefined): Spec => (o?.spec ?? {}) as Spec;
const cause = (field: string, message: string, reason = 'FieldValueInvalid'): StatusCause => ({ reason, field, message });

function sliceCauses(o: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const out: StatusCause[] = [];
  const s = specOf(o);
  const driver = String(s.driver ?? '');
  if (!DNS_SUBDOMAIN.test(driver)) out.push(cause('spec.driver', `Invalid value: "${driver}": a lowercase RFC 1123 subdomain`));
  const sel = ['nodeName', 'nodeSelector', 'allNodes', 'perDeviceNodeSelection'].filter((k) => s[k] !== undefined && s[k] !== false && s[k] !== '');
  if (sel.length !== 1) out.push(cause('spec', `Invalid value: exactly one of \`nodeName\`, \`nodeSelector\`, \`allNodes\`, \`perDeviceNodeSelection\` is required${sel.length ? `, got ${sel.join(', ')}` : ''}`, 'FieldValueRequired'));
  if (old) {
    for (const k of ['driver', 'nodeName'] as const) if (specOf(old)[k] !== s[k]) out.push(cause(`spec.${k}`, 'Invalid value: field is immutable'));
  }
  const names = new Set<string>();
  ((s.devices ?? []) as Array<{ name?: string; attributes?: Record<string, Record<string, unknown>> }>).forEach((d, i) => {
    const at = `spec.devices[${i}]`;
    const name = d.name ?? '';
    if (!DNS_LABEL.test(name)) out.push(cause(`${at}.name`, `Invalid value: "${name}": a lowercase RFC 1123 label`));
    if (names.has(name)) out.push(cause(`${at}.name`, `Duplicate value: "${name}"`, 'FieldValueDuplicate'));
    names.add(name);
    for (const [k, v] of Object.entries(d.attributes ?? {})) {
      const bad = qualifiedNameError(k);
      if (bad) out.push(cause(`${at}.attributes[${k}]`, `Invalid value: ${bad}`));
      const set = ['int', 'bool', 'string', 'version'].filter((t) => v[t] !== undefined);
      if (set.length !== 1) out.push(cause(`${at}.attributes[${k}]`, `Invalid value: exactly one value must be specified${set.length ? `, got ${set.join(', ')}` : ''}`));
    }
  });
  return out;
}

function isCidr(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const fam = isIP(m[1] as string);
  return fam !== 0 && Number(m[2]) <= (fam === 4 ? 32 : 128);
}

function claimCauses(o: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const out: StatusCause[] = [];
  if (old && JSON.stringify(old.spec ?? {}) !== JSON.stringify(o.spec ?? {})) out.push(cause('spec', 'Invalid value: field is immutable'));
  const requests = ((specOf(o).devices as { requests?: Array<{ name?: string; exactly?: unknown; firstAvailable?: unknown[] }> } | undefined)?.requests ?? []);
  requests.forEach((r, i) => {
    if (!DNS_LABEL.test(r.name ?? '')) out.push(cause(`spec.devices.requests[${i}].name`, `Invalid value: "${r.name ?? ''}": a lowercase RFC 1123 label`));
    if (Boolean(r.exactly) === Boolean(r.firstAvailable?.length)) out.push(cause(`spec.devices.requests[${i}]`, 'Invalid value: exactly one of `exactly` or `firstAvailable` is required', 'FieldValueRequired'));
  });
  const st = (o.status ?? {}) as { allocation?: { devices?: { results?: Array<{ driver: string; pool: string; device: string }> } }; devices?: Array<{ driver: string; pool: string; device: string; networkData?: { ips?: string[] } }> };
  const oldAlloc = (old?.status as { allocation?: unknown } | undefined)?.allocation;
  if (oldAlloc && st.allocation && JSON.stringify(oldAlloc) !== JSON.stringify(st.allocation)) out.push(cause('status.allocation', 'Invalid value: field is immutable'));
  const allocated = new Set((st.allocation?.devices?.results ?? []).map((r) => `${r.driver}/${r.pool}/${r.device}`));
  const seen = new Set<string>();
  (st.devices ?? []).forEach((d, i) => {
    const k = `${d.driver}/${d.pool}/${d.device}`;
    if (!allocated.has(k)) out.push(cause(`status.devices[${i}]`, `Invalid value: "${k}": must be an allocated device in the claim`));
    if (seen.has(k)) out.push(cause(`status.devices[${i}]`, `Duplicate value: "${k}"`, 'FieldValueDuplicate'));
    seen.add(k);
    (d.networkData?.ips ?? []).forEach((ip, j) => {
      if (!isCidr(ip)) out.push(cause(`status.devices[${i}].networkData.ips[${j}]`, `Invalid value: "${ip}": must be a valid address in CIDR form, (e.g. 10.9.8.7/24 or 2001:db8::1/64)`));
    });
  });
  return out;
}

const DRA = 'resource.k8s.io';
const base = { group: DRA, version: 'v1', shortNames: [] as string[], categories: [] as string[], subresources: [] as string[], selectableFields: [] as string[], generation: true };

/** The resource.k8s.io/v1 types, added to the stand-in's built-ins (src/lab/apiserver/registry.ts). */
export const DRA_TYPES: readonly ResourceType[] = [
  {
    ...base, plural: 'resourceslices', singular: 'resourceslice', kind: 'ResourceSlice', listKind: 'ResourceSliceList', namespaced: false,
    selectableFields: ['spec.nodeName', 'spec.driver'],
    schema: top(sliceSpec),
    columns: [
      { name: 'Node', type: 'string', jsonPath: '.spec.nodeName' },
      { name: 'Driver', type: 'string', jsonPath: '.spec.driver' },
      { name: 'Pool', type: 'string', jsonPath: '.spec.pool.name' },
    ],
    admit: sliceCauses,
  },
  {
    ...base, plural: 'resourceclaims', singular: 'resourceclaim', kind: 'ResourceClaim', listKind: 'ResourceClaimList', namespaced: true, subresources: ['status'],
    schema: top(claimSpec, claimStatus),
    columns: [{ name: 'State', type: 'string', jsonPath: '', value: (o) => claimState(o) }],
    admit: claimCauses,
  },
  {
    ...base, plural: 'resourceclaimtemplates', singular: 'resourceclaimtemplate', kind: 'ResourceClaimTemplate', listKind: 'ResourceClaimTemplateList', namespaced: true,
    schema: top(obj({ metadata: any, spec: claimSpec }, ['spec'])),
    columns: [],
  },
  {
    ...base, plural: 'deviceclasses', singular: 'deviceclass', kind: 'DeviceClass', listKind: 'DeviceClassList', namespaced: false,
    schema: top(obj({ selectors, config: arr(obj({ opaque }), 32), extendedResourceName: str(253) })),
    columns: [],
  },
];

/** kubectl's STATE column of a ResourceClaim: `pending`, `allocated`, `allocated,reserved`, `deleted`. */
function claimState(o: KubeObject): string {
  const st = (o.status ?? {}) as { allocation?: unknown; reservedFor?: unknown[] };
  const parts: string[] = [];
  if (o.metadata?.deletionTimestamp) parts.push('deleted');
  if (st.allocation) parts.push('allocated');
  else parts.push('pending');
  if (st.reservedFor?.length) parts.push('reserved');
  return parts.join(',');
}
