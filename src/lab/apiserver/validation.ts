// Admission-time checks the stand-in makes like kube-apiserver: object names, CRD definitions, and
// custom resources against their structural schema (pruning unknown fields, or rejecting them when
// the client asked for fieldValidation=Strict, as kubectl does by default).
import { validateSchema, type FieldError, type JsonSchema } from '../../lib/k8s/schema.js';
import type { KubeObject } from '../../lib/k8s/meta.js';
import type { StatusCause } from './errors.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Name rules: namespaces (and names used as DNS labels) are RFC 1123 labels, the rest subdomains. */
export function nameErrors(name: string, asLabel: boolean): StatusCause[] {
  if (asLabel) {
    if (name.length > 63 || !DNS1123_LABEL.test(name)) {
      return [{ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')` }];
    }
    return [];
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    return [{ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')` }];
  }
  return [];
}

export function toCauses(errs: readonly FieldError[]): StatusCause[] {
  return errs.map((e) => ({ reason: e.reason, field: e.field, message: e.message.startsWith('Required') ? e.message : `${reasonWord(e.reason)}${e.message}` }));
}

function reasonWord(r: FieldError['reason']): string {
  switch (r) {
    case 'FieldValueInvalid':
      return 'Invalid value: ';
    case 'FieldValueTypeInvalid':
      return 'Invalid value: ';
    case 'FieldValueNotSupported':
      return '';
    default:
      return '';
  }
}

/**
 * Removes fields the schema does not know (structural pruning), returning the paths removed.
 * `metadata`, `apiVersion` and `kind` at the root are never pruned (kube handles them itself).
 */
export function prune(schema: JsonSchema, value: unknown, path = '', root = true): string[] {
  const removed: string[] = [];
  if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.properties) return removed;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((v, i) => removed.push(...prune(schema.items as JsonSchema, v, `${path}[${i}]`, false)));
    return removed;
  }
  if (value === null || typeof value !== 'object') return removed;
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (root && (k === 'metadata' || k === 'apiVersion' || k === 'kind')) continue;
    const child = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    const p = path ? `${path}.${k}` : k;
    if (child) removed.push(...prune(child, o[k], p, false));
    else if (schema.additionalProperties === true || schema['x-kubernetes-preserve-unknown-fields']) continue;
    else if (schema.type === 'object' && (schema.properties || schema.additionalProperties === false)) {
      delete o[k];
      removed.push(p);
    }
  }
  return removed;
}

/** Schema violations of a custom resource (after pruning), as Status causes. */
export function schemaCauses(schema: JsonSchema, obj: KubeObject): StatusCause[] {
  const { metadata: _m, ...rest } = obj;
  const s: JsonSchema = { ...schema, properties: { ...schema.properties, metadata: { type: 'object' } } };
  return toCauses(validateSchema(s, rest).filter((e) => e.reason !== 'FieldValueUnknown'));
}

/** Structural checks of a CustomResourceDefinition (the parts we rely on to serve it). */
export function crdCauses(crd: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = crd.spec as Record<string, unknown> | undefined;
  const names = spec?.names as Record<string, unknown> | undefined;
  const versions = spec?.versions as Array<Record<string, unknown>> | undefined;
  const need = (ok: boolean, field: string, message = 'Required value'): void => {
    if (!ok) causes.push({ reason: 'FieldValueRequired', field, message });
  };
  need(typeof spec?.group === 'string' && spec.group !== '', 'spec.group');
  need(typeof names?.plural === 'string' && names.plural !== '', 'spec.names.plural');
  need(typeof names?.kind === 'string' && names.kind !== '', 'spec.names.kind');
  if (spec?.scope !== 'Namespaced' && spec?.scope !== 'Cluster') {
    causes.push({ reason: 'FieldValueNotSupported', field: 'spec.scope', message: `Unsupported value: ${JSON.stringify(spec?.scope)}: supported values: "Cluster", "Namespaced"` });
  }
  need(Array.isArray(versions) && versions.length > 0, 'spec.versions', 'Invalid value: must have exactly one version marked as storage version');
  if (Array.isArray(versions) && versions.filter((v) => v.storage === true).length !== 1) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.versions', message: 'Invalid value: must have exactly one version marked as storage version' });
  }
  const expected = `${String(names?.plural)}.${String(spec?.group)}`;
  if (crd.metadata?.name !== expected) {
    causes.push({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${crd.metadata?.name ?? ''}": must be spec.names.plural+"."+spec.group` });
  }
  return causes;
}
