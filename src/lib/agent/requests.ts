// Validation of the requests the agent's socket takes (protocol.ts): each request body is read into
// its typed request or refused with an InvalidRequest AgentError naming the field. Pure.
import { AgentError, type AllocateRequest, type GcRequest, type ReleaseRequest } from './protocol.js';

const IFNAME = /^[^\s/:]{1,13}$/;

function bad(message: string): AgentError {
  return new AgentError('InvalidRequest', message);
}

function str(o: Record<string, unknown>, key: string, where: string, required = true): string | undefined {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || (required && v === '')) throw bad(`${where}.${key} must be a non-empty string`);
  return v;
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(`${where} must be a JSON object`);
  return v as Record<string, unknown>;
}

/**
 * The pod of a request. Runtimes outside Kubernetes (podman, ctr --cni, cnitool) send no K8S_POD_*
 * in CNI_ARGS, so namespace, name and uid may be empty: the attachment is then keyed on the
 * container ID and ifName alone (unique on a node), and a release or lookup without a uid finds it.
 */
function validatePod(v: unknown): AllocateRequest['pod'] {
  const p = obj(v, 'pod');
  const pod = {
    namespace: str(p, 'namespace', 'pod', false) ?? '',
    name: str(p, 'name', 'pod', false) ?? '',
    uid: str(p, 'uid', 'pod', false) ?? '',
    containerID: str(p, 'containerID', 'pod') as string,
    ifName: str(p, 'ifName', 'pod') as string,
  };
  if (!IFNAME.test(pod.ifName)) throw bad(`pod.ifName "${pod.ifName}" is not a usable interface name (1-13 characters, no '/', ':' or spaces; pod interfaces are <ifName>-<i>)`);
  // CNI_NETNS, for the record: the agent only checks whether it still exists (lent NICs).
  const netns = str(p, 'netns', 'pod', false);
  if (netns !== undefined && netns !== '') {
    if (!/^\/[^\0]*$/.test(netns) || netns.split('/').includes('..')) throw bad(`pod.netns must be an absolute path without '..', got ${JSON.stringify(netns)}`);
    return { ...pod, netns };
  }
  return pod;
}

function validateHeader(o: Record<string, unknown>): string {
  if (o.apiVersion !== 'v1') throw bad(`apiVersion must be "v1", got ${JSON.stringify(o.apiVersion)}`);
  return str(o, 'network', 'request') as string;
}

/** Validates an AllocateRequest; every message names the field. */
export function validateAllocate(body: unknown): AllocateRequest {
  const o = obj(body, 'request');
  const network = validateHeader(o);
  const req: AllocateRequest = { apiVersion: 'v1', network, pod: validatePod(o.pod) };
  if (o.args !== undefined && o.args !== null) {
    const a = obj(o.args, 'args');
    const args: NonNullable<AllocateRequest['args']> & { master?: string[] } = {};
    if (a.nics !== undefined) {
      const n = typeof a.nics === 'string' && /^\d+$/.test(a.nics) ? Number(a.nics) : a.nics;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw bad(`args.nics must be a non-negative integer, got ${JSON.stringify(a.nics)}`);
      args.nics = n;
    }
    for (const key of ['masters', 'master'] as const) {
      const m = a[key];
      if (m === undefined) continue;
      const list = typeof m === 'string' ? [m] : m;
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw bad(`args.${key} must be a list of host NIC names`);
      args[key] = list as string[];
    }
    if (args.master && !args.masters) args.masters = args.master;
    delete args.master;
    if (a.class !== undefined) args.class = str(a, 'class', 'args') as string;
    if (a.target !== undefined) args.target = str(a, 'target', 'args') as string;
    req.args = args;
  }
  if (o.resourceName !== undefined) req.resourceName = str(o, 'resourceName', 'request', false) as string;
  if (o.deviceIDs !== undefined) {
    if (!Array.isArray(o.deviceIDs) || !o.deviceIDs.every((x) => typeof x === 'string')) throw bad('deviceIDs must be a list of PCI addresses');
    req.deviceIDs = o.deviceIDs as string[];
  }
  return req;
}

/** Validates a GcRequest: `keep` is the runtime's list of valid attachments (may be empty). */
export function validateGc(body: unknown): GcRequest {
  const o = obj(body, 'request');
  const network = validateHeader(o);
  if (!Array.isArray(o.keep)) throw bad('keep must be a list of {containerID, ifName} (the runtime\'s valid attachments; [] keeps none)');
  const keep = o.keep.map((k, i) => {
    const e = obj(k, `keep[${i}]`);
    return { containerID: str(e, 'containerID', `keep[${i}]`) as string, ifName: str(e, 'ifName', `keep[${i}]`) as string };
  });
  return { apiVersion: 'v1', network, keep };
}

/** Validates a ReleaseRequest / LookupRequest (only the key fields are required). */
export function validateRelease(body: unknown): ReleaseRequest {
  const o = obj(body, 'request');
  const network = validateHeader(o);
  return { apiVersion: 'v1', network, pod: validatePod(o.pod) };
}
