// The Kubernetes protobuf encoding (application/vnd.kubernetes.protobuf) for the core kinds real
// clients send and ask for as protobuf: client-go's typed clients in kubectl (create namespace,
// configmap, secret, serviceaccount; events; port-forward's pod read), Multus (Pod get and
// pods/status update with the network-status annotation) and kubelet (pod status, Events).
//
// Wire format (https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding):
// the 4 bytes `k8s\0`, then a runtime.Unknown message {typeMeta{apiVersion, kind}, raw,
// contentEncoding, contentType} whose `raw` is the generated k8s.io/api message of the object.
// Messages are described by proto-schema.gen.ts (field numbers from generated.proto, JSON names
// and omitempty/pointer/inline from the Go struct tags), so an object converts to and from the
// same JSON the stand-in stores.
//
// Nothing is dropped silently: a body carrying a field the table does not know is refused
// (ProtobufDecodeError naming the field), and an object with a JSON key the table cannot encode is
// not answered in protobuf (ProtobufEncodeError; the server then answers JSON, which every client
// also accepts).
import type { KubeObject } from '../../lib/k8s/meta.js';
import { PROTO_MESSAGES, type ProtoField } from './proto-schema.gen.js';

export const PROTOBUF = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** A protobuf body that is malformed or carries something the stand-in cannot represent. */
export class ProtobufDecodeError extends Error {}
/** An object that has no protobuf form here (unknown kind, or a key outside the schema). */
export class ProtobufEncodeError extends Error {}

/** What the envelope says it holds, for error messages. */
export interface ProtobufKind {
  apiVersion: string;
  kind: string;
}

// ---- wire level -------------------------------------------------------------------------------

interface RawField {
  no: number;
  wire: number;
  /** Varint as bigint; length-delimited and fixed32/64 as bytes. */
  value: bigint | Buffer;
}

function readVarint(buf: Buffer, pos: number, path: string): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtobufDecodeError(`${path}: truncated varint`);
    const b = buf[pos++] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
  throw new ProtobufDecodeError(`${path}: varint longer than 10 bytes`);
}

function readFields(buf: Buffer, path: string): RawField[] {
  const out: RawField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = readVarint(buf, pos, path);
    pos = p1;
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (no === 0) throw new ProtobufDecodeError(`${path}: field number 0`);
    if (wire === 0) {
      const [v, p2] = readVarint(buf, pos, path);
      out.push({ no, wire, value: v });
      pos = p2;
    } else if (wire === 2) {
      const [len, p2] = readVarint(buf, pos, path);
      const end = p2 + Number(len);
      if (end > buf.length) throw new ProtobufDecodeError(`${path}: field ${no} is truncated`);
      out.push({ no, wire, value: buf.subarray(p2, end) });
      pos = end;
    } else if (wire === 1 || wire === 5) {
      const end = pos + (wire === 1 ? 8 : 4);
      if (end > buf.length) throw new ProtobufDecodeError(`${path}: field ${no} is truncated`);
      out.push({ no, wire, value: buf.subarray(pos, end) });
      pos = end;
    } else throw new ProtobufDecodeError(`${path}: field ${no} has wire type ${wire} (groups are not used by Kubernetes)`);
  }
  return out;
}

class Writer {
  private readonly parts: Buffer[] = [];

  varint(v: bigint): void {
    const bytes: number[] = [];
    let x = BigInt.asUintN(64, v);
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) b |= 0x80;
      bytes.push(b);
    } while (x !== 0n);
    this.parts.push(Buffer.from(bytes));
  }

  tag(no: number, wire: number): void {
    this.varint(BigInt((no << 3) | wire));
  }

  bytes(no: number, b: Buffer): void {
    this.tag(no, 2);
    this.varint(BigInt(b.length));
    this.parts.push(b);
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

// ---- schema level -----------------------------------------------------------------------------

const SCALARS = new Set(['string', 'bytes', 'bool', 'int32', 'int64']);
const NUMERIC = new Set(['bool', 'int32', 'int64']);

function schema(type: string): readonly ProtoField[] {
  const s = PROTO_MESSAGES[type];
  if (!s) throw new Error(`protobuf schema has no message ${type}`);
  return s;
}

const isZero = (v: unknown): boolean => v === '' || v === false || v === 0;

function utf8(b: Buffer): string {
  return b.toString('utf8');
}

/** Go's RFC 3339 forms of metav1.Time (seconds) and metav1.MicroTime (microseconds), in UTC. */
function rfc3339(seconds: bigint, nanos: bigint, micro: boolean): string {
  const d = new Date(Number(seconds) * 1000);
  const base = d.toISOString().slice(0, 19);
  return micro ? `${base}.${String(nanos / 1000n).padStart(6, '0')}Z` : `${base}Z`;
}

function decodeScalar(type: string, f: RawField, path: string): unknown {
  if (type === 'string' || type === 'bytes') {
    if (!Buffer.isBuffer(f.value) || f.wire !== 2) throw new ProtobufDecodeError(`${path}: expected a length-delimited ${type}`);
    return type === 'string' ? utf8(f.value) : f.value.toString('base64');
  }
  if (typeof f.value !== 'bigint') throw new ProtobufDecodeError(`${path}: expected a varint ${type}`);
  if (type === 'bool') return f.value !== 0n;
  const n = type === 'int32' ? BigInt.asIntN(32, f.value) : BigInt.asIntN(64, f.value);
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) throw new ProtobufDecodeError(`${path}: ${n} does not fit a JSON number exactly`);
  return Number(n);
}

function subFields(f: RawField, path: string): RawField[] {
  if (!Buffer.isBuffer(f.value) || f.wire !== 2) throw new ProtobufDecodeError(`${path}: expected an embedded message`);
  return readFields(f.value, path);
}

function lastOf(fs: RawField[], no: number): RawField | undefined {
  let r: RawField | undefined;
  for (const f of fs) if (f.no === no) r = f;
  return r;
}

/** Decodes one value of `type` (a scalar, a special form or a message); undefined = zero time. */
function decodeValue(type: string, f: RawField, path: string): unknown {
  if (SCALARS.has(type)) return decodeScalar(type, f, path);
  switch (type) {
    case 'time':
    case 'microtime': {
      const fs = subFields(f, path);
      strictFields(fs, [1, 2], path, type);
      const s = lastOf(fs, 1);
      const n = lastOf(fs, 2);
      const seconds = s ? BigInt.asIntN(64, s.value as bigint) : 0n;
      const nanos = n ? BigInt.asIntN(32, n.value as bigint) : 0n;
      if (seconds === 0n && nanos === 0n) return undefined;
      return rfc3339(seconds, nanos, type === 'microtime');
    }
    case 'quantity': {
      const fs = subFields(f, path);
      strictFields(fs, [1], path, type);
      const s = lastOf(fs, 1);
      return s ? decodeScalar('string', s, path) : '0';
    }
    case 'intorstring': {
      const fs = subFields(f, path);
      strictFields(fs, [1, 2, 3], path, type);
      const kind = lastOf(fs, 1);
      if (kind && kind.value === 1n) {
        const s = lastOf(fs, 3);
        return s ? decodeScalar('string', s, path) : '';
      }
      const i = lastOf(fs, 2);
      return i ? decodeScalar('int32', i, path) : 0;
    }
    case 'rawjson': {
      const fs = subFields(f, path);
      strictFields(fs, [1], path, type);
      const raw = lastOf(fs, 1);
      if (!raw || !Buffer.isBuffer(raw.value) || raw.value.length === 0) return undefined;
      try {
        return JSON.parse(utf8(raw.value)) as unknown;
      } catch {
        throw new ProtobufDecodeError(`${path}: raw JSON that does not parse`);
      }
    }
    default:
      if (type.includes('.')) return decodeMessage(type, subFields(f, path), path);
      throw new ProtobufDecodeError(`${path}: values of type ${type} are not supported`);
  }
}

function strictFields(fs: RawField[], allowed: number[], path: string, type: string): void {
  const bad = fs.find((f) => !allowed.includes(f.no));
  if (bad) throw new ProtobufDecodeError(`${path}: field ${bad.no} is not part of ${type}`);
}

/** Repeated scalars may arrive packed (one length-delimited run of varints). */
function unpack(type: string, f: RawField, path: string): RawField[] {
  if (!NUMERIC.has(type) || f.wire !== 2 || !Buffer.isBuffer(f.value)) return [f];
  const out: RawField[] = [];
  let pos = 0;
  while (pos < f.value.length) {
    const [v, p] = readVarint(f.value, pos, path);
    out.push({ no: f.no, wire: 0, value: v });
    pos = p;
  }
  return out;
}

function decodeMessage(type: string, fs: RawField[], path: string): Record<string, unknown> {
  const defs = schema(type);
  const byNo = new Map(defs.map((d) => [d[0], d]));
  const out: Record<string, unknown> = {};
  for (const f of fs) {
    const def = byNo.get(f.no);
    if (!def) {
      throw new ProtobufDecodeError(
        `${path}: field ${f.no} is not a field of ${type} in the stand-in's schema (a client built for a newer Kubernetes?); refused rather than dropped — regenerate src/lab/apiserver/proto-schema.gen.ts with scripts/gen-k8s-proto.mjs, or send JSON`,
      );
    }
    const [, json, ftype, flags] = def;
    const at = json ? `${path}.${json}` : path;
    if (flags.includes('M')) {
      const entry = subFields(f, at);
      strictFields(entry, [1, 2], at, 'a map entry');
      const k = lastOf(entry, 1);
      const v = lastOf(entry, 2);
      const key = k ? (decodeScalar('string', k, at) as string) : '';
      const map = (out[json] ??= {}) as Record<string, unknown>;
      map[key] = v ? decodeValue(ftype, v, `${at}[${key}]`) : SCALARS.has(ftype) ? (ftype === 'string' ? '' : ftype === 'bytes' ? '' : ftype === 'bool' ? false : 0) : {};
    } else if (flags.includes('R')) {
      const list = (out[json] ??= []) as unknown[];
      for (const one of unpack(ftype, f, at)) list.push(decodeValue(ftype, one, `${at}[${list.length}]`));
    } else if (flags.includes('I')) {
      Object.assign(out, decodeValue(ftype, f, at));
    } else {
      const v = decodeValue(ftype, f, at);
      if (v === undefined || (isZero(v) && flags.includes('O') && !flags.includes('P'))) delete out[json];
      else out[json] = v;
    }
  }
  return out;
}

// ---- encoding ---------------------------------------------------------------------------------

/** JSON keys a message (with its inline parts) can hold. */
function jsonKeys(type: string): Set<string> {
  const keys = new Set<string>();
  for (const [, json, ftype, flags] of schema(type)) {
    if (flags.includes('I')) for (const k of jsonKeys(ftype)) keys.add(k);
    else keys.add(json);
  }
  return keys;
}

function encodeValue(w: Writer, no: number, type: string, v: unknown, path: string): void {
  const fail = (what: string): never => {
    throw new ProtobufEncodeError(`${path}: ${what}`);
  };
  switch (type) {
    case 'string':
      if (typeof v !== 'string') fail(`expected a string, got ${typeof v}`);
      w.bytes(no, Buffer.from(v as string, 'utf8'));
      return;
    case 'bytes':
      if (typeof v !== 'string') fail('expected base64 bytes');
      w.bytes(no, Buffer.from(v as string, 'base64'));
      return;
    case 'bool':
      if (typeof v !== 'boolean') fail(`expected a boolean, got ${typeof v}`);
      w.tag(no, 0);
      w.varint(v ? 1n : 0n);
      return;
    case 'int32':
    case 'int64':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`expected an integer, got ${JSON.stringify(v)}`);
      if (type === 'int32' && ((v as number) > 2 ** 31 - 1 || (v as number) < -(2 ** 31))) fail(`${String(v)} does not fit int32`);
      w.tag(no, 0);
      w.varint(BigInt(v as number));
      return;
    case 'time':
    case 'microtime': {
      if (typeof v !== 'string') fail('expected an RFC 3339 time string');
      const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(v as string);
      const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
      if (!m || Number.isNaN(ms)) return fail(`"${String(v)}" is not an RFC 3339 time`);
      const sub = new Writer();
      sub.tag(1, 0);
      sub.varint(BigInt(Math.floor(ms / 1000)));
      // metav1.Time carries whole seconds only (its proto form drops nanos); MicroTime keeps µs.
      const nanos = type === 'microtime' && m[2] ? BigInt(m[2].padEnd(9, '0').slice(0, 6)) * 1000n : 0n;
      sub.tag(2, 0);
      sub.varint(nanos);
      w.bytes(no, sub.finish());
      return;
    }
    case 'quantity': {
      if (typeof v !== 'string' && typeof v !== 'number') fail('expected a quantity string');
      const sub = new Writer();
      sub.bytes(1, Buffer.from(String(v), 'utf8'));
      w.bytes(no, sub.finish());
      return;
    }
    case 'intorstring': {
      const sub = new Writer();
      if (typeof v === 'number' && Number.isInteger(v)) {
        sub.tag(1, 0);
        sub.varint(0n);
        sub.tag(2, 0);
        sub.varint(BigInt(v));
        sub.bytes(3, Buffer.alloc(0));
      } else if (typeof v === 'string') {
        sub.tag(1, 0);
        sub.varint(1n);
        sub.tag(2, 0);
        sub.varint(0n);
        sub.bytes(3, Buffer.from(v, 'utf8'));
      } else fail('expected an integer or a string');
      w.bytes(no, sub.finish());
      return;
    }
    case 'rawjson': {
      const sub = new Writer();
      sub.bytes(1, Buffer.from(JSON.stringify(v), 'utf8'));
      w.bytes(no, sub.finish());
      return;
    }
    default:
      if (!type.includes('.')) fail(`values of type ${type} are not supported`);
      if (!v || typeof v !== 'object' || Array.isArray(v)) fail(`expected an object for ${type}`);
      w.bytes(no, encodeMessage(type, v as Record<string, unknown>, path));
  }
}

function encodeMessage(type: string, obj: Record<string, unknown>, path: string): Buffer {
  const w = new Writer();
  const consumed = new Set<string>();
  const defs = [...schema(type)].sort((a, b) => a[0] - b[0]);
  for (const [no, json, ftype, flags] of defs) {
    if (flags.includes('I')) {
      // An embedded struct: its fields sit at this level in JSON; Go always writes it.
      const keys = jsonKeys(ftype);
      const part: Record<string, unknown> = {};
      for (const k of Object.keys(obj)) if (keys.has(k)) {
        part[k] = obj[k];
        consumed.add(k);
      }
      w.bytes(no, encodeMessage(ftype, part, path));
      continue;
    }
    consumed.add(json);
    const v = obj[json];
    const at = `${path}.${json}`;
    if (v === undefined || v === null) continue;
    if (flags.includes('M')) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new ProtobufEncodeError(`${at}: expected a map`);
      // Sorted keys, as the generated Go marshaller writes maps.
      for (const key of Object.keys(v).sort()) {
        const entry = new Writer();
        entry.bytes(1, Buffer.from(key, 'utf8'));
        const val = (v as Record<string, unknown>)[key];
        if (val !== null && val !== undefined) encodeValue(entry, 2, ftype, val, `${at}[${key}]`);
        w.bytes(no, entry.finish());
      }
    } else if (flags.includes('R')) {
      if (!Array.isArray(v)) throw new ProtobufEncodeError(`${at}: expected a list`);
      v.forEach((el, i) => encodeValue(w, no, ftype, el, `${at}[${i}]`));
    } else encodeValue(w, no, ftype, v, at);
  }
  const extra = Object.keys(obj).filter((k) => !consumed.has(k) && obj[k] !== undefined);
  if (extra.length) throw new ProtobufEncodeError(`${path}.${extra[0]} has no protobuf field in ${type}`);
  return w.finish();
}

// ---- envelope ---------------------------------------------------------------------------------

/** The schema message for an apiVersion/kind, when the stand-in has one. */
function messageFor(apiVersion: string, kind: string): string | undefined {
  if (apiVersion !== 'v1') return undefined;
  return PROTO_MESSAGES[`v1.${kind}`] ? `v1.${kind}` : undefined;
}

/** Whether objects of this kind can be read and answered as protobuf. */
export function protobufKind(apiVersion: string, kind: string): boolean {
  return messageFor(apiVersion, kind) !== undefined;
}

/**
 * Decodes a protobuf request body to the JSON object it stands for. Returns `{ unsupported }`
 * naming the kind when it has no schema here; throws ProtobufDecodeError on a malformed body or
 * one with fields the schema does not know.
 */
export function decodeProtobuf(body: Buffer): { object: KubeObject } | { unsupported: ProtobufKind } {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw new ProtobufDecodeError('missing the k8s protobuf envelope prefix ("k8s\\0")');
  const unknown = readFields(body.subarray(4), 'envelope');
  strictFields(unknown, [1, 2, 3, 4], 'envelope', 'runtime.Unknown');
  const tm = lastOf(unknown, 1);
  const typeMeta = tm ? readFields(tm.value as Buffer, 'envelope.typeMeta') : [];
  strictFields(typeMeta, [1, 2], 'envelope.typeMeta', 'runtime.TypeMeta');
  const text = (f: RawField | undefined, at: string): string => (f ? (decodeScalar('string', f, at) as string) : '');
  const apiVersion = text(lastOf(typeMeta, 1), 'envelope.typeMeta.apiVersion');
  const kind = text(lastOf(typeMeta, 2), 'envelope.typeMeta.kind');
  const encoding = text(lastOf(unknown, 3), 'envelope.contentEncoding');
  if (encoding !== '') throw new ProtobufDecodeError(`envelope: content encoding "${encoding}" is not supported (send it uncompressed)`);
  const type = messageFor(apiVersion, kind);
  if (!type) return { unsupported: { apiVersion, kind } };
  const raw = lastOf(unknown, 2);
  const fields = raw ? readFields(raw.value as Buffer, kind) : [];
  const decoded = decodeMessage(type, fields, kind);
  return { object: { apiVersion, kind, ...decoded } as KubeObject };
}

/**
 * Encodes an object (or a list, kind `<Kind>List`) as the k8s protobuf envelope. Throws
 * ProtobufEncodeError when the kind has no schema here or the object holds a key outside it.
 */
export function encodeProtobuf(obj: KubeObject): Buffer {
  const { apiVersion = '', kind = '', ...rest } = obj as KubeObject & Record<string, unknown>;
  const type = messageFor(apiVersion, kind);
  if (!type) throw new ProtobufEncodeError(`${kind} (${apiVersion}) has no protobuf form in the stand-in`);
  // List items carry no TypeMeta in protobuf (the envelope names the list kind only).
  if (Array.isArray(rest.items)) rest.items = rest.items.map((it: unknown) => {
    if (!it || typeof it !== 'object') return it;
    const { apiVersion: _a, kind: _k, ...item } = it as Record<string, unknown>;
    return item;
  });
  const raw = encodeMessage(type, rest, kind);
  const typeMeta = new Writer();
  typeMeta.bytes(1, Buffer.from(apiVersion, 'utf8'));
  typeMeta.bytes(2, Buffer.from(kind, 'utf8'));
  const env = new Writer();
  env.bytes(1, typeMeta.finish());
  env.bytes(2, raw);
  env.bytes(3, Buffer.alloc(0));
  env.bytes(4, Buffer.alloc(0));
  return Buffer.concat([MAGIC, env.finish()]);
}
