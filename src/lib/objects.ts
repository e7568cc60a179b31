// Checks every object of ours passes before anything reads it (apiVersion, kind, metadata.name, the
// CRD schema exactly as the API server would apply it), and the error that names the document, the
// field and the fix. Shared by the network, inventory and previous-plan parsers. Pure.
import { CRDS } from './crds/crds.gen.js';
import { UserError } from './errors.js';
import { validateSchema, type FieldError, type JsonSchema } from './k8s/schema.js';
import { describeObject, isObject, type ManifestDoc } from './manifest.js';

export const GROUP_VERSION = 'multinic.fms.io/v1';

/** Bad user input in one document: `<source> (<Kind "name">): <field>: <problem>`, with a hint. Exit 2. */
export class NetworkInputError extends UserError {
  constructor(
    readonly source: string,
    readonly field: string,
    problem: string,
    hint: string,
  ) {
    super(`${source}: ${field ? `${field}: ` : ''}${problem}`, { hint });
    this.name = 'NetworkInputError';
  }
}

/** The OpenAPI schema of one of our CRD kinds, from the generated CRDS (the single source of truth). */
export function crdSchema(kind: string): JsonSchema {
  for (const crd of CRDS) {
    if (crd.spec.names.kind === kind) {
      const v = crd.spec.versions[0];
      if (v) return v.schema.openAPIV3Schema as unknown as JsonSchema;
    }
  }
  throw new Error(`no CRD for kind ${kind}`);
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Checks apiVersion, kind, metadata.name and the CRD schema of a document expected to be `kind`. */
export function checkObject(doc: ManifestDoc, kind: string): Record<string, unknown> {
  const v = doc.value;
  const at = `${doc.source} (${describeObject(v)})`;
  if (!isObject(v) || v.kind !== kind) {
    throw new NetworkInputError(at, 'kind', `expected a ${kind}, got ${describeObject(v)}`, `check that the file holds ${kind} objects (apiVersion: ${GROUP_VERSION}, kind: ${kind})`);
  }
  if (v.apiVersion !== GROUP_VERSION) {
    throw new NetworkInputError(at, 'apiVersion', `must be ${GROUP_VERSION}, got ${JSON.stringify(v.apiVersion ?? null)}`, `set apiVersion: ${GROUP_VERSION}`);
  }
  const meta = v.metadata;
  const name = isObject(meta) ? meta.name : undefined;
  if (typeof name !== 'string' || name === '') {
    throw new NetworkInputError(at, 'metadata.name', 'Required value', 'give the object a name under metadata.name');
  }
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw new NetworkInputError(at, 'metadata.name', `"${name}" is not a valid Kubernetes name`, 'use lower-case letters, digits, "-" and ".", starting and ending with a letter or digit');
  }
  const errs = validateSchema(crdSchema(kind), v);
  const first = errs[0];
  if (first) {
    const more = errs.length > 1 ? ` (and ${errs.length - 1} more: ${errs.slice(1, 4).map((e) => e.field).join(', ')})` : '';
    throw new NetworkInputError(at, first.field, `${first.message}${more}`, schemaHint(first));
  }
  return v;
}

function schemaHint({ field, reason }: FieldError): string {
  if (reason === 'FieldValueUnknown') return `remove ${field} or correct its spelling (see the CRD schema in deploy/crds/)`;
  if (field === 'spec.attachPolicy.strategy') return 'use one of none, devClass, topology, costOpt, perfOpt';
  if (field === 'spec.plugin.type') return 'use one of ipvlan, macvlan, sriov, host-device, aws-ipvlan, mellanox';
  if (field.startsWith('spec.subnet') || field.startsWith('spec.masterNets')) return 'write networks in CIDR notation, e.g. 192.168.0.0/16 or fd00:10::/48';
  if (field === 'spec.ipam') return 'set spec.ipam to a JSON string such as {"type":"multi-nic-ipam","hostBlock":6,"interfaceBlock":2}';
  return `fix ${field} as the CRD schema requires (see deploy/crds/)`;
}
