// The three patch formats kube-apiserver accepts on a PATCH, applied to a plain JSON object:
// - JSON merge patch (RFC 7386): objects merge recursively, `null` deletes, everything else replaces.
// - JSON patch (RFC 6902): add/remove/replace/move/copy/test with JSON pointers.
// - Strategic merge patch: a merge patch where the lists Kubernetes marks `patchStrategy: merge`
//   merge by their key (containers by `name`, ports by `containerPort`, ...) and the directives
//   kubectl's three-way patch emits (`$patch`, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`,
//   `$retainKeys`) are honoured. The merge keys come from a fixed table of the built-in fields we and
//   kubectl touch (see MERGE_KEYS); other lists are replaced, as for types without patch metadata.
import { badRequest, failure } from './errors.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

/** RFC 7386. Returns a new value; inputs are not modified. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v) as Json;
  }
  return out;
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid JSON pointer "${path}": must start with "/"`);
  return path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, tokens: string[], path: string): { parent: Json; key: string } {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(cur) ? cur[Number(t)] : isObject(cur) ? cur[t] : undefined;
    if (next === undefined) throw unprocessable(`doc is missing path: "${path}": missing value`);
    cur = next;
  }
  return { parent: cur, key: tokens[tokens.length - 1] ?? '' };
}

const unprocessable = (msg: string) => failure(422, 'Invalid', msg);

function getAt(doc: Json, path: string): Json {
  let cur: Json | undefined = doc;
  for (const t of pointer(path)) {
    cur = Array.isArray(cur) ? cur[t === '-' ? cur.length : Number(t)] : isObject(cur) ? cur[t] : undefined;
    if (cur === undefined) throw unprocessable(`doc is missing path: "${path}": missing value`);
  }
  return cur;
}

function arrayIndex(arr: Json[], key: string, path: string, forAdd: boolean): number {
  if (key === '-' && forAdd) return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(key)) throw unprocessable(`invalid array index "${key}" in "${path}"`);
  const i = Number(key);
  if (i > arr.length || (!forAdd && i === arr.length)) throw unprocessable(`array index ${i} out of bounds in "${path}"`);
  return i;
}

function addAt(doc: Json, path: string, value: Json): Json {
  const tokens = pointer(path);
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, true), 0, value);
  else if (isObject(parent)) parent[key] = value;
  else throw unprocessable(`doc is missing path: "${path}"`);
  return doc;
}

function removeAt(doc: Json, path: string): Json {
  const tokens = pointer(path);
  const { parent, key } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, false), 1);
  else if (isObject(parent) && key in parent) delete parent[key];
  else throw unprocessable(`Unable to remove nonexistent key: ${key}: missing value`);
  return doc;
}

const deepEqual = (a: unknown, b: unknown): boolean => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObject(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

/** RFC 6902, atomically: either every operation applies or a 422 names the one that failed. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch must be a JSON array of operations');
  let doc = clone(target) as Json;
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw badRequest(`invalid json patch operation ${JSON.stringify(raw)}`);
    const op = raw as unknown as JsonPatchOp;
    switch (op.op) {
      case 'add':
        doc = addAt(doc, op.path, clone(op.value) as Json);
        break;
      case 'remove':
        doc = removeAt(doc, op.path);
        break;
      case 'replace':
        getAt(doc, op.path);
        if (op.path === '') doc = clone(op.value) as Json;
        else doc = addAt(removeAt(doc, op.path), op.path, clone(op.value) as Json);
        break;
      case 'move': {
        const v = getAt(doc, op.from ?? '');
        doc = addAt(removeAt(doc, op.from ?? ''), op.path, v);
        break;
      }
      case 'copy':
        doc = addAt(doc, op.path, clone(getAt(doc, op.from ?? '')));
        break;
      case 'test':
        if (!deepEqual(getAt(doc, op.path), op.value)) throw unprocessable(`testing value ${op.path} failed: the value differs from ${JSON.stringify(op.value)}`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${String((op as { op: unknown }).op)}`);
    }
  }
  return doc;
}

/**
 * Merge keys of the built-in lists with `patchStrategy: merge` (from the k8s.io/api struct tags),
 * by field name. Primitive lists with a merge strategy (finalizers) are set-unions.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  ownerReferences: 'uid',
  conditions: 'type',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  resourceClaims: 'name',
};
const MERGE_PRIMITIVES = new Set(['finalizers']);

/** Strategic merge patch over `target`. Returns a new value. */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  return smpObject(isObject(target) ? target : {}, patch);
}

function smpObject(target: JsonObject, patch: JsonObject): JsonObject {
  if (patch.$patch === 'replace') {
    const rest = { ...patch };
    delete rest.$patch;
    return stripDirectives(rest) as JsonObject;
  }
  if (patch.$patch === 'delete') return {};
  let out: JsonObject = clone(target);
  const retain = patch.$retainKeys;
  if (Array.isArray(retain)) {
    out = Object.fromEntries(Object.entries(out).filter(([k]) => retain.includes(k)));
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$retainKeys' || k === '$patch' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(v)) out[field] = cur.filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (Array.isArray(v)) {
      out[k] = smpList(k, Array.isArray(cur) ? cur : [], v, patch[`$setElementOrder/${k}`]);
    } else if (isObject(v)) {
      out[k] = smpObject(isObject(cur) ? cur : {}, v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function smpList(field: string, target: Json[], patch: Json[], order: Json | undefined): Json[] {
  const key = MERGE_KEYS[field];
  if (MERGE_PRIMITIVES.has(field)) {
    const out = [...target];
    for (const v of patch) if (!out.some((x) => deepEqual(x, v))) out.push(v);
    return out;
  }
  if (!key) {
    // No patch metadata: the list is atomic, replaced whole (directives inside items are stripped).
    if (patch.length === 1 && isObject(patch[0]) && patch[0].$patch === 'replace') return [];
    return stripDirectives(patch) as Json[];
  }
  if (patch.some((p) => isObject(p) && p.$patch === 'replace')) {
    return stripDirectives(patch.filter((p) => !(isObject(p) && p.$patch === 'replace'))) as Json[];
  }
  const out: Json[] = target.map((t) => clone(t));
  for (const item of patch) {
    if (!isObject(item)) {
      out.push(item);
      continue;
    }
    const idx = out.findIndex((t) => isObject(t) && deepEqual(t[key], item[key]));
    if (item.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = smpObject(out[idx] as JsonObject, item);
    else out.push(stripDirectives(item));
  }
  if (Array.isArray(order)) {
    // `$setElementOrder/<list>` gives the final relative order of the items by key.
    const rank = (x: Json): number => {
      const i = order.findIndex((o) => isObject(o) && isObject(x) && deepEqual(o[key], x[key]));
      return i < 0 ? order.length : i;
    };
    out.sort((a, b) => rank(a) - rank(b));
  }
  return out;
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith('$')) continue;
    if (x === null) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}
