// Decoding of the Kubernetes protobuf request bodies kubectl sends from its typed clients
// (`kubectl create namespace|configmap|secret|serviceaccount`): the `k8s\0` envelope
// (runtime.Unknown) around the generated k8s.io/api message. Only these kinds are understood, by
// their field numbers in k8s.io/api/core/v1/generated.proto and apimachinery's ObjectMeta; the
// caller answers 415 for anything else (client-go then has no fallback, so the message says to use
// `kubectl apply -f`). Responses are always JSON, which every client accepts.
import type { KubeObject } from '../../lib/k8s/meta.js';

export const PROTOBUF = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

interface Field {
  no: number;
  /** Varint fields as bigint, length-delimited as bytes. */
  value: bigint | Buffer;
}

function varint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = varint(buf, pos);
    pos = p1;
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [v, p2] = varint(buf, pos);
      pos = p2;
      out.push({ no, value: v });
    } else if (wire === 2) {
      const [len, p2] = varint(buf, pos);
      const end = p2 + Number(len);
      if (end > buf.length) throw new Error('truncated field');
      out.push({ no, value: buf.subarray(p2, end) });
      pos = end;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const str = (v: bigint | Buffer): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
/** proto2 optional strings arrive set-but-empty when the Go field was ""; JSON omits those. */
const optStr = (v: bigint | Buffer | undefined): string | undefined => (v === undefined || str(v) === '' ? undefined : str(v));
const bytes = (v: bigint | Buffer): Buffer => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));

function map(fs: Field[], no: number, asBytes = false): Record<string, string> | undefined {
  const entries = fs.filter((f) => f.no === no);
  if (entries.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const kv = fields(bytes(e.value));
    const k = kv.find((f) => f.no === 1);
    const v = kv.find((f) => f.no === 2);
    out[k ? str(k.value) : ''] = v ? (asBytes ? bytes(v.value).toString('base64') : str(v.value)) : '';
  }
  return out;
}

function strings(fs: Field[], no: number): string[] | undefined {
  const v = fs.filter((f) => f.no === no).map((f) => str(f.value));
  return v.length ? v : undefined;
}

function one(fs: Field[], no: number): bigint | Buffer | undefined {
  return fs.filter((f) => f.no === no).pop()?.value;
}

function setIf(o: Record<string, unknown>, key: string, v: unknown): void {
  if (v !== undefined) o[key] = v;
}

function objectMeta(buf: Buffer): Record<string, unknown> {
  const fs = fields(buf);
  const m: Record<string, unknown> = {};
  const s = (no: number, key: string): void => setIf(m, key, optStr(one(fs, no)));
  s(1, 'name');
  s(2, 'generateName');
  s(3, 'namespace');
  s(5, 'uid');
  s(6, 'resourceVersion');
  setIf(m, 'labels', map(fs, 11));
  setIf(m, 'annotations', map(fs, 12));
  const owners = fs.filter((f) => f.no === 13).map((f) => {
    const o = fields(bytes(f.value));
    const r: Record<string, unknown> = {};
    for (const [no, key] of [[5, 'apiVersion'], [1, 'kind'], [3, 'name'], [4, 'uid']] as const) setIf(r, key, optStr(one(o, no)));
    if (one(o, 6) !== undefined) r.controller = one(o, 6) === 1n;
    if (one(o, 7) !== undefined) r.blockOwnerDeletion = one(o, 7) === 1n;
    return r;
  });
  if (owners.length) m.ownerReferences = owners;
  setIf(m, 'finalizers', strings(fs, 14));
  return m;
}

type Decoder = (fs: Field[]) => Record<string, unknown>;

const DECODERS: Record<string, Decoder> = {
  'v1/Namespace': (fs) => {
    const o: Record<string, unknown> = {};
    const spec = one(fs, 2);
    if (spec !== undefined) o.spec = { finalizers: strings(fields(bytes(spec)), 1) ?? [] };
    return o;
  },
  'v1/ConfigMap': (fs) => {
    const o: Record<string, unknown> = {};
    setIf(o, 'data', map(fs, 2));
    setIf(o, 'binaryData', map(fs, 3, true));
    if (one(fs, 4) !== undefined) o.immutable = one(fs, 4) === 1n;
    return o;
  },
  'v1/Secret': (fs) => {
    const o: Record<string, unknown> = {};
    setIf(o, 'data', map(fs, 2, true));
    setIf(o, 'type', optStr(one(fs, 3)));
    setIf(o, 'stringData', map(fs, 4));
    if (one(fs, 5) !== undefined) o.immutable = one(fs, 5) === 1n;
    return o;
  },
  'v1/ServiceAccount': (fs) => {
    const o: Record<string, unknown> = {};
    const pulls = fs.filter((f) => f.no === 3).map((f) => ({ name: str(one(fields(bytes(f.value)), 1) ?? Buffer.alloc(0)) }));
    if (pulls.length) o.imagePullSecrets = pulls;
    if (one(fs, 4) !== undefined) o.automountServiceAccountToken = one(fs, 4) === 1n;
    return o;
  },
};

/** What the envelope says it holds, for error messages. */
export interface ProtobufKind {
  apiVersion: string;
  kind: string;
}

/**
 * Decodes a protobuf request body to the JSON object it stands for. Returns `{ unsupported }`
 * naming the kind when it is not one we decode; throws on a malformed body.
 */
export function decodeProtobuf(body: Buffer): { object: KubeObject } | { unsupported: ProtobufKind } {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw new Error('missing the k8s protobuf envelope prefix');
  const unknown = fields(body.subarray(4));
  const typeMeta = fields(bytes(one(unknown, 1) ?? Buffer.alloc(0)));
  const apiVersion = str(one(typeMeta, 1) ?? Buffer.alloc(0));
  const kind = str(one(typeMeta, 2) ?? Buffer.alloc(0));
  const decode = DECODERS[`${apiVersion}/${kind}`];
  if (!decode) return { unsupported: { apiVersion, kind } };
  const raw = fields(bytes(one(unknown, 2) ?? Buffer.alloc(0)));
  const meta = one(raw, 1);
  return { object: { apiVersion, kind, metadata: meta ? objectMeta(bytes(meta)) : {}, ...decode(raw) } as KubeObject };
}
