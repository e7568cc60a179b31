#!/usr/bin/env node
// Generates src/lab/apiserver/proto-schema.gen.ts: the protobuf field table of the Kubernetes core
// kinds the API stand-in reads and writes as application/vnd.kubernetes.protobuf (Pod, Event,
// Namespace, ConfigMap, Secret, ServiceAccount and their lists, with every message they reach).
// Field numbers and wire types come from the generated.proto files; JSON names, omitempty, pointer
// and inline (embedded struct) from the Go struct tags in types.go, which is what the JSON form of
// the same object follows. Run by hand when Kubernetes adds fields:
//   node scripts/gen-k8s-proto.mjs <k8s.io/api checkout> <k8s.io/apimachinery checkout>
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [apiDir, machineryDir] = process.argv.slice(2);
if (!apiDir || !machineryDir) {
  process.stderr.write('usage: gen-k8s-proto.mjs <k8s.io/api dir> <k8s.io/apimachinery dir>\n');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src/lab/apiserver/proto-schema.gen.ts');

const ROOTS = ['v1.Pod', 'v1.PodList', 'v1.Event', 'v1.EventList', 'v1.Namespace', 'v1.NamespaceList', 'v1.ConfigMap', 'v1.Secret', 'v1.ServiceAccount'];
// Messages whose JSON form is not an object of their fields (custom MarshalJSON in Go).
const SPECIAL = {
  'meta.Time': 'time',
  'meta.MicroTime': 'microtime',
  'meta.FieldsV1': 'rawjson',
  'meta.Duration': 'duration',
  'resource.Quantity': 'quantity',
  'intstr.IntOrString': 'intorstring',
  'runtime.RawExtension': 'rawjson',
};
const PACKAGES = { 'k8s.io.api.core.v1': 'v1', 'k8s.io.apimachinery.pkg.apis.meta.v1': 'meta', 'k8s.io.apimachinery.pkg.api.resource': 'resource', 'k8s.io.apimachinery.pkg.util.intstr': 'intstr', 'k8s.io.apimachinery.pkg.runtime': 'runtime' };

/** message name → [{no, proto name, label, type, mapValue}] */
function parseProto(text, pkg) {
  const msgs = {};
  for (const m of text.matchAll(/^message (\w+) \{([\s\S]*?)^\}/gm)) {
    const body = m[2].replace(/\/\/.*$/gm, '');
    msgs[`${pkg}.${m[1]}`] = [...body.matchAll(/(optional|repeated|map<\s*string\s*,\s*([\w.]+)\s*>)\s*([\w.]*)\s+(\w+)\s*=\s*(\d+);/g)].map((f) => ({
      no: Number(f[5]),
      name: f[4],
      label: f[1].startsWith('map') ? 'map' : f[1],
      type: ref(f[1].startsWith('map') ? f[2] : f[3], pkg),
    }));
  }
  return msgs;
}

function ref(type, pkg) {
  if (['string', 'bytes', 'bool', 'int32', 'int64', 'uint32', 'uint64', 'double', 'float'].includes(type)) return type;
  if (type.startsWith('.')) {
    const i = type.lastIndexOf('.');
    const p = PACKAGES[type.slice(1, i)];
    if (!p) throw new Error(`unknown proto package in ${type}`);
    return `${p}.${type.slice(i + 1)}`;
  }
  return `${pkg}.${type}`;
}

/** struct name → protobuf field number → {json, omitempty, pointer, inline} from the Go tags. */
function parseGo(text, pkg) {
  const structs = {};
  for (const m of text.matchAll(/^type (\w+) struct \{([\s\S]*?)^\}/gm)) {
    const fields = {};
    for (const line of m[2].split('\n')) {
      const f = /^\s*(?:(\w+)\s+)?(\*?[\w.[\]*]+)\s+`([^`]*)`/.exec(line);
      if (!f) continue;
      const pb = /protobuf:"[a-z0-9]+,(\d+),/.exec(f[3]);
      if (!pb) continue;
      const js = /json:"([^"]*)"/.exec(f[3])?.[1] ?? '';
      const [jsonName, ...opts] = js.split(',');
      fields[Number(pb[1])] = { json: jsonName, omitempty: opts.includes('omitempty'), pointer: f[2].startsWith('*'), inline: jsonName === '' && (f[1] === undefined || opts.includes('inline')) };
    }
    structs[`${pkg}.${m[1]}`] = fields;
  }
  return structs;
}

const git = (dir, file) => readFileSync(join(dir, file), 'utf8');
const proto = {
  ...parseProto(git(apiDir, 'core/v1/generated.proto'), 'v1'),
  ...parseProto(git(machineryDir, 'pkg/apis/meta/v1/generated.proto'), 'meta'),
};
const go = {
  ...parseGo(git(apiDir, 'core/v1/types.go'), 'v1'),
  ...parseGo(git(machineryDir, 'pkg/apis/meta/v1/types.go'), 'meta'),
};

const seen = new Set();
const order = [];
const visit = (name) => {
  if (seen.has(name) || SPECIAL[name]) return;
  seen.add(name);
  const fields = proto[name];
  if (!fields) throw new Error(`no proto message ${name}`);
  order.push(name);
  for (const f of fields) if (!/^[a-z0-9]+$/.test(f.type)) visit(f.type);
};
ROOTS.forEach(visit);

const lines = [];
for (const name of order.sort()) {
  const tags = go[name] ?? {};
  const rows = proto[name].map((f) => {
    const t = tags[f.no];
    if (!t && !name.startsWith('meta.')) throw new Error(`${name} field ${f.no} (${f.name}) has no Go struct tag`);
    const type = SPECIAL[f.type] ?? f.type;
    const flags = [f.label === 'repeated' ? 'R' : f.label === 'map' ? 'M' : '', t?.pointer ? 'P' : '', t?.omitempty ? 'O' : '', t?.inline ? 'I' : ''].join('');
    return `[${f.no}, ${JSON.stringify(t?.json ?? f.name)}, ${JSON.stringify(type)}, ${JSON.stringify(flags)}]`;
  });
  lines.push(`  ${JSON.stringify(name)}: [${rows.join(', ')}],`);
}

const apiRev = process.env.K8S_API_REV ?? 'unknown';
const machineryRev = process.env.K8S_APIMACHINERY_REV ?? 'unknown';
writeFileSync(
  out,
  `// GENERATED by scripts/gen-k8s-proto.mjs from k8s.io/api ${apiRev} and k8s.io/apimachinery ${machineryRev}; do not edit.
// Each message: [field number, JSON name, type, flags]. Type: a proto scalar, another message, or a
// special JSON form (time, microtime, quantity, intorstring, rawjson, duration). Flags: R repeated,
// M map<string, type>, P Go pointer (zero values are meaningful), O omitempty, I inline (embedded:
// its fields appear at this level in JSON).
export type ProtoField = readonly [no: number, json: string, type: string, flags: string];

export const PROTO_MESSAGES: Readonly<Record<string, readonly ProtoField[]>> = {
${lines.join('\n')}
};
`,
);
process.stdout.write(`wrote ${out}: ${order.length} messages\n`);
