// A validator for the structural OpenAPI v3 subset that CRD schemas use. Used by `plan`/`apply` to
// reject bad manifests before they reach a cluster, and by the API stand-in to answer 422 exactly
// where a kube-apiserver would. Pure.

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: readonly string[];
  enum?: readonly unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
  description?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
}

/** One violation, in kube-apiserver's wording: field path, reason, message. */
export interface FieldError {
  /** Path like `spec.plugin.type` or `spec.masterNets[1]`. */
  field: string;
  reason: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueTypeInvalid' | 'FieldValueUnknown';
  message: string;
}

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/**
 * Validates `value` against `schema`. Unknown fields are reported (strict, like kubectl's default
 * server-side field validation) unless the schema preserves them.
 */
export function validateSchema(schema: JsonSchema, value: unknown, path = ''): FieldError[] {
  const errs: FieldError[] = [];
  walk(schema, value, path, errs);
  return errs;
}

function walk(s: JsonSchema, v: unknown, path: string, errs: FieldError[]): void {
  const at = path || '<root>';
  if (v === undefined) return;
  if (s['x-kubernetes-int-or-string']) {
    if (typeof v !== 'string' && !Number.isInteger(v)) errs.push({ field: at, reason: 'FieldValueTypeInvalid', message: `must be an integer or a string, got ${typeName(v)}` });
    return;
  }
  switch (s.type) {
    case 'object': {
      if (typeName(v) !== 'object') {
        errs.push({ field: at, reason: 'FieldValueTypeInvalid', message: `must be an object, got ${typeName(v)}` });
        return;
      }
      const o = v as Record<string, unknown>;
      for (const r of s.required ?? []) {
        if (o[r] === undefined || o[r] === null) errs.push({ field: join(path, r), reason: 'FieldValueRequired', message: 'Required value' });
      }
      for (const [k, child] of Object.entries(o)) {
        const p = s.properties?.[k];
        if (p) walk(p, child, join(path, k), errs);
        else if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, child, join(path, k), errs);
        else if (s.properties && !s['x-kubernetes-preserve-unknown-fields'] && s.additionalProperties !== true) {
          errs.push({ field: join(path, k), reason: 'FieldValueUnknown', message: `unknown field "${k}"` });
        }
      }
      return;
    }
    case 'array': {
      if (!Array.isArray(v)) {
        errs.push({ field: at, reason: 'FieldValueTypeInvalid', message: `must be an array, got ${typeName(v)}` });
        return;
      }
      if (s.minItems !== undefined && v.length < s.minItems) errs.push({ field: at, reason: 'FieldValueInvalid', message: `must have at least ${s.minItems} items` });
      if (s.maxItems !== undefined && v.length > s.maxItems) errs.push({ field: at, reason: 'FieldValueInvalid', message: `must have at most ${s.maxItems} items` });
      if (s.items) v.forEach((item, i) => walk(s.items as JsonSchema, item, `${at}[${i}]`, errs));
      return;
    }
    case 'string':
      if (typeof v !== 'string') {
        errs.push({ field: at, reason: 'FieldValueTypeInvalid', message: `must be a string, got ${typeName(v)}` });
        return;
      }
      if (s.minLength !== undefined && v.length < s.minLength) errs.push({ field: at, reason: 'FieldValueInvalid', message: `must be at least ${s.minLength} characters long` });
      if (s.maxLength !== undefined && v.length > s.maxLength) errs.push({ field: at, reason: 'FieldValueInvalid', message: `must be at most ${s.maxLength} characters long` });
      if (s.pattern !== undefined && !new RegExp(s.pattern).test(v)) errs.push({ field: at, reason: 'FieldValueInvalid', message: `"${v}" does not match ${s.pattern}` });
      if (s.format === 'date-time' && Number.isNaN(Date.parse(v))) errs.push({ field: at, reason: 'FieldValueInvalid', message: `"${v}" is not an RFC 3339 date-time` });
      break;
    case 'integer':
    case 'number':
      if (typeof v !== 'number' || (s.type === 'integer' && !Number.isInteger(v))) {
        errs.push({ field: at, reason: 'FieldValueTypeInvalid', message: `must be ${s.type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}` });
        return;
      }
      if (s.minimum !== undefined && v < s.minimum) errs.push({ field: at, reason: 'FieldValueInvalid', message: `must be greater than or equal to ${s.minimum}` });
      if (s.maximum !== undefined && v > s.maximum) errs.push({ field: at, reason: 'FieldValueInvalid', message: `must be less than or equal to ${s.maximum}` });
      break;
    case 'boolean':
      if (typeof v !== 'boolean') errs.push({ field: at, reason: 'FieldValueTypeInvalid', message: `must be a boolean, got ${typeName(v)}` });
      break;
    default:
      break;
  }
  if (s.enum && !s.enum.includes(v)) {
    errs.push({ field: at, reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(v)}: supported values: ${s.enum.map((e) => JSON.stringify(e)).join(', ')}` });
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
