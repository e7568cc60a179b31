// Multus conventions, as plain data: the pod annotation that selects networks and the v4
// `network-status` annotation written back. Used by the lab node runner (which plays Multus), by
// `check` and by the agent's leak GC.

export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
export const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';
/** Deprecated plural form still written by Multus v3 (upstream reads only this one). */
export const NETWORKS_STATUS_ANNOTATION_DEPRECATED = 'k8s.v1.cni.cncf.io/networks-status';

/** One entry of the networks annotation (Multus "NetworkSelectionElement"). */
export interface NetworkSelection {
  name: string;
  namespace?: string;
  interface?: string;
  'cni-args'?: Record<string, unknown>;
  ips?: string[];
  mac?: string;
}

/**
 * Parses the networks annotation: either a JSON list of selections or Multus' short form
 * `[ns/]name[@ifname], …`. Throws an Error naming the problem.
 */
export function parseNetworksAnnotation(value: string): NetworkSelection[] {
  const text = value.trim();
  if (!text) return [];
  if (text.startsWith('[') || text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      const at = jsonErrorAt(text);
      const where = at ? ` at line ${at.line} column ${at.column} (position ${at.offset})` : '';
      throw new Error(`${NETWORKS_ANNOTATION} is not valid JSON${where}: ${(e as Error).message}`, { cause: e });
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    return list.map((el, i) => {
      if (!el || typeof el !== 'object' || typeof (el as { name?: unknown }).name !== 'string' || !(el as { name: string }).name) {
        throw new Error(`${NETWORKS_ANNOTATION}[${i}] needs a "name" string`);
      }
      return el as NetworkSelection;
    });
  }
  return text.split(',').map((part) => {
    const p = part.trim();
    const m = /^(?:([a-z0-9-]+)\/)?([a-z0-9.-]+)(?:@([A-Za-z0-9_.-]+))?$/.exec(p);
    if (!m) throw new Error(`${NETWORKS_ANNOTATION}: "${p}" is not [namespace/]name[@interface]`);
    return { name: m[2] as string, ...(m[1] ? { namespace: m[1] } : {}), ...(m[3] ? { interface: m[3] } : {}) };
  });
}

/**
 * Where the first JSON syntax error in `text` is (0-based offset, 1-based line and column), by a
 * small recursive-descent scan: V8's JSON.parse names the position for some errors and not for
 * others ("Unexpected token 'e', ... is not valid JSON"), and a user fixing an annotation by hand
 * needs it every time. Undefined when `text` is valid JSON.
 */
export function jsonErrorAt(text: string): { offset: number; line: number; column: number } | undefined {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const lit = (w: string) => {
    for (const ch of w) {
      if (text[i] !== ch) fail();
      i++;
    }
  };
  const str = () => {
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined || c < ' ') fail();
      if (c === '"') return void i++;
      if (c === '\\') {
        i++;
        const e = text[i];
        if (e === 'u') {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) {
              i += k;
              fail();
            }
          }
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail();
      } else i++;
    }
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m || !m[0] || m[0] === '-') fail();
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    }
    if (c === '"') return str();
    if (c === 't') return lit('true');
    if (c === 'f') return lit('false');
    if (c === 'n') return lit('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return num();
    fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return undefined;
  } catch (e) {
    if (typeof e !== 'number') throw e;
    const before = text.slice(0, e);
    const line = before.split('\n').length;
    return { offset: e, line, column: e - before.lastIndexOf('\n') };
  }
}

/** One entry of the v4 network-status annotation. */
export interface NetworkStatusEntry {
  name: string;
  interface?: string;
  ips?: string[];
  mac?: string;
  default?: boolean;
  dns?: Record<string, unknown>;
}

/** The subset of a CNI result (any version 0.3.0+) network-status is built from. */
export interface CniResultLike {
  interfaces?: Array<{ name: string; mac?: string; sandbox?: string }>;
  ips?: Array<{ address: string; interface?: number }>;
  dns?: Record<string, unknown>;
}

/**
 * The network-status entry Multus v4.0.2 writes for one attachment (its `CreateNetworkStatus`): ONE
 * entry per delegate result however many interfaces it has, `interface` and `mac` those of the last
 * pod-side (sandbox) interface, `ips` every address of the result in result order, `dns` always
 * present. The lab runner writes exactly this; readers must also accept the one-entry-per-interface
 * form of later Multus versions (see {@link networkAddresses}).
 */
export function networkStatusFromResult(network: string, result: CniResultLike): NetworkStatusEntry {
  const last = (result.interfaces ?? []).filter((i) => i.sandbox).pop();
  const ips = (result.ips ?? []).map((ip) => ip.address.split('/')[0] as string);
  // Key order as Multus' Go struct marshals it, so the annotation text matches byte for byte.
  return {
    name: network,
    ...(last ? { interface: last.name } : {}),
    ...(ips.length ? { ips } : {}),
    ...(last?.mac ? { mac: last.mac } : {}),
    dns: result.dns ?? {},
  };
}

/** One address a network-status lists for a network. */
export interface NetworkAddress {
  /** Without prefix length. */
  address: string;
  /**
   * The pod interface holding it, when the entry says so unambiguously: its only address, or one
   * address per IP family (a dual-stack interface). Undefined for a merged multi-interface entry
   * (Multus v4.0.2), whose `interface` names only the last of them.
   */
  interface?: string;
}

/** Whether an entry name (`ns/net`, or the bare `net` older Multus writes) denotes `namespace/network`. */
export function entryNamesNetwork(entry: string, network: string, namespace?: string): boolean {
  if (namespace === undefined) return entry === network || entry.endsWith(`/${network}`);
  return entry === `${namespace}/${network}` || entry === network;
}

/**
 * Every address the entries list for one network, in order, from either form Multus writes: one
 * merged entry per attachment (v4.0.2) or one entry per interface (later versions). `namespace`
 * undefined matches the network in any namespace.
 */
export function networkAddresses(entries: readonly NetworkStatusEntry[], network: string, namespace?: string): NetworkAddress[] {
  const out: NetworkAddress[] = [];
  for (const e of entries) {
    if (!entryNamesNetwork(e.name, network, namespace) || !Array.isArray(e.ips)) continue;
    const ips = e.ips.filter((ip): ip is string => typeof ip === 'string' && ip !== '').map((ip) => ip.replace(/\/\d+$/, ''));
    const v6 = ips.filter((ip) => ip.includes(':')).length;
    const single = typeof e.interface === 'string' && e.interface !== '' && v6 <= 1 && ips.length - v6 <= 1;
    for (const address of ips) out.push(single ? { address, interface: e.interface as string } : { address });
  }
  return out;
}

/**
 * Reads the network-status annotation (v4, else the deprecated plural). Undefined when absent or
 * unreadable, so callers can tell "no evidence" from "no attachments" (leak GC relies on it).
 */
export function readNetworkStatus(annotations: Record<string, string> | undefined): NetworkStatusEntry[] | undefined {
  const raw = annotations?.[NETWORK_STATUS_ANNOTATION] ?? annotations?.[NETWORKS_STATUS_ANNOTATION_DEPRECATED];
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    if (!Array.isArray(v)) return undefined;
    return v.filter((e): e is NetworkStatusEntry => !!e && typeof e === 'object' && typeof (e as NetworkStatusEntry).name === 'string');
  } catch {
    return undefined;
  }
}

/** `K8S_POD_NAMESPACE=…;K8S_POD_NAME=…` as Multus passes CNI_ARGS. */
export function cniArgsFor(pod: { namespace: string; name: string; uid: string; containerID: string }): string {
  return [
    'IgnoreUnknown=true',
    `K8S_POD_NAMESPACE=${pod.namespace}`,
    `K8S_POD_NAME=${pod.name}`,
    `K8S_POD_INFRA_CONTAINER_ID=${pod.containerID}`,
    `K8S_POD_UID=${pod.uid}`,
  ].join(';');
}
