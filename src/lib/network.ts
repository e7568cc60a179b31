// Parsing and validation of user network definitions (MultiNicNetwork, DeviceClass): first the CRD
// schema exactly as the API server would apply it, then the semantic rules a schema cannot express
// (address families, bit budget, overlaps). Every failure is a NetworkInputError naming the
// document, the field and the fix; nothing half-validated escapes. Pure.
import type { DeviceClass, HostInterface, IPPool, MultiNicNetwork } from './crds/types.gen.js';
import { isObject, ManifestError, type ManifestDoc } from './manifest.js';
import {
  AddressParseError,
  compareCidr,
  containsCidr,
  familyBits,
  formatCidr,
  overlaps,
  parseCidr,
  parseIp,
  type Cidr,
  type Family,
} from './net/ip.js';
import { interfaceIndexCapacity } from './net/blocks.js';
import { nicsOf, type Nic } from './inventory.js';
import { checkObject, NetworkInputError } from './objects.js';

/** The error every network input check throws (defined with the generic object checks). */
export { NetworkInputError } from './objects.js';

export const MULTI_NIC_IPAM = 'multi-nic-ipam';

/** The attach modes of spec.ipam `vlanMode` ('' = the plugin's own default). */
export const VLAN_MODES = ['', 'l2', 'l3', 'l3s'] as const;
export type VlanMode = (typeof VLAN_MODES)[number];

/** The `ipam` JSON string of a MultiNicNetwork, typed. Block fields are only meaningful for multi-nic-ipam. */
export interface IpamConfig {
  type: string;
  hostBlock: number;
  interfaceBlock: number;
  excludeCIDRs: string[];
  vlanMode: VlanMode;
  /** Every other key as given (e.g. `routes`, or a delegated single-NIC IPAM's settings). */
  extra: Record<string, unknown>;
}

/** A MultiNicNetwork that passed schema and semantic validation, with its addresses parsed. */
export interface ValidatedNetwork {
  source: string;
  name: string;
  resource: MultiNicNetwork;
  ipam: IpamConfig;
  /** Address family of the pod addresses (and of the NIC networks used for them). */
  family: Family;
  /** Undefined in host-subnet mode (empty `subnet`). */
  subnet: Cidr | undefined;
  masterNets: Cidr[];
  /** Parsed `excludeCIDRs` (a bare address counts as a single-address network), sorted. */
  excludes: Cidr[];
}

/** Validates a DeviceClass document. */
export function validateDeviceClass(doc: ManifestDoc): DeviceClass {
  return checkObject(doc, 'DeviceClass') as unknown as DeviceClass;
}

/** The MultiNicNetworks and DeviceClasses of -f documents, validated, for plan and apply alike. */
export interface NetworkManifests {
  /** Both kinds in document order (apply writes them in it). */
  objects: Array<{ kind: 'MultiNicNetwork'; network: ValidatedNetwork } | { kind: 'DeviceClass'; deviceClass: DeviceClass }>;
  networks: ValidatedNetwork[];
  deviceClasses: DeviceClass[];
  /** Documents of any other kind, for the command to refuse in its own words. */
  others: ManifestDoc[];
}

/**
 * Validates every MultiNicNetwork and DeviceClass document (validateNetwork, validateDeviceClass)
 * and refuses a network name given twice, naming both documents. Other kinds are returned, not judged.
 */
export function parseNetworkManifests(docs: readonly ManifestDoc[]): NetworkManifests {
  const out: NetworkManifests = { objects: [], networks: [], deviceClasses: [], others: [] };
  const seen = new Map<string, string>();
  for (const d of docs) {
    const kind = isObject(d.value) ? d.value.kind : undefined;
    if (kind === 'MultiNicNetwork') {
      const n = validateNetwork(d);
      const other = seen.get(n.name);
      if (other) throw new ManifestError(n.source, `MultiNicNetwork "${n.name}" is also defined in ${other}`, 'give each network a distinct metadata.name');
      seen.set(n.name, n.source);
      out.networks.push(n);
      out.objects.push({ kind, network: n });
    } else if (kind === 'DeviceClass') {
      const dc = validateDeviceClass(d);
      out.deviceClasses.push(dc);
      out.objects.push({ kind, deviceClass: dc });
    } else out.others.push(d);
  }
  return out;
}

/**
 * Longest MultiNicNetwork name whose CIDRClaim names (`<network>.i<k>.h<h>`, src/lib/cluster/claim-objects.ts)
 * still fit a Kubernetes object name (253 characters).
 */
export const MAX_NETWORK_NAME = 253 - '.i999.h99999999'.length;

/**
 * Validates a MultiNicNetwork document: schema, then the `ipam` JSON, then address rules that need
 * no inventory (see validateNetworkForInventory for the rest).
 */
export function validateNetwork(doc: ManifestDoc): ValidatedNetwork {
  const obj = checkObject(doc, 'MultiNicNetwork');
  const resource = obj as unknown as MultiNicNetwork;
  const name = resource.metadata.name ?? '';
  const at = `${doc.source} (MultiNicNetwork "${name}")`;
  const fail = (field: string, problem: string, hint: string): never => {
    throw new NetworkInputError(at, field, problem, hint);
  };

  if (name.length > MAX_NETWORK_NAME) {
    fail('metadata.name', `is ${name.length} characters; the agents' CIDRClaim names (<network>.i<k>.h<h>) need it to be at most ${MAX_NETWORK_NAME}`, `use a name of at most ${MAX_NETWORK_NAME} characters`);
  }
  const ipam = parseIpam(resource.spec.ipam, fail);
  const spec = resource.spec;
  const subnetText = (spec.subnet ?? '').trim();
  let subnet: Cidr | undefined;
  if (subnetText !== '') subnet = parseNet(subnetText, 'spec.subnet', fail);

  const masterNets = (spec.masterNets ?? []).map((t, i) => parseNet(t, `spec.masterNets[${i}]`, fail));
  const family: Family = subnet?.family ?? masterNets[0]?.family ?? 4;
  const fam = (f: Family): string => (f === 4 ? 'IPv4' : 'IPv6');
  masterNets.forEach((m, i) => {
    if (m.family !== family) {
      fail(`spec.masterNets[${i}]`, `${formatCidr(m)} is ${fam(m.family)} but ${subnet ? 'spec.subnet' : 'spec.masterNets[0]'} is ${fam(family)}`, `use ${fam(family)} NIC networks only: pod addresses and the NIC networks they are routed over must be one family`);
    }
  });
  const seen = new Map<string, number>();
  const order = masterNets.map((m, i) => ({ m, i })).sort((a, b) => compareCidr(a.m, b.m));
  for (let k = 1; k < order.length; k++) {
    const a = order[k - 1];
    const b = order[k];
    if (a && b && overlaps(a.m, b.m)) {
      const [x, y] = a.i < b.i ? [a, b] : [b, a];
      fail(`spec.masterNets[${y.i}]`, `${formatCidr(y.m)} overlaps spec.masterNets[${x.i}] ${formatCidr(x.m)}`, 'list each NIC network once; remove or narrow one of the two entries');
    }
  }
  for (const [i, m] of masterNets.entries()) seen.set(formatCidr(m), i);

  if (subnet) {
    for (const [i, m] of masterNets.entries()) {
      if (overlaps(subnet, m)) fail('spec.subnet', `${formatCidr(subnet)} overlaps the NIC network spec.masterNets[${i}] ${formatCidr(m)}`, 'pick a pod subnet that no host NIC network uses');
    }
  }

  const excludes: Cidr[] = [];
  if (ipam.type === MULTI_NIC_IPAM) {
    ipam.excludeCIDRs.forEach((t, i) => {
      const field = `spec.ipam.excludeCIDRs[${i}]`;
      const c = parseExclude(t, field, fail);
      if (c.family !== family) fail(field, `${t} is ${fam(c.family)} but the network is ${fam(family)}`, 'exclude addresses of the pod subnet only');
      if (subnet && !containsCidr(subnet, c)) fail(field, `${t} is not inside spec.subnet ${formatCidr(subnet)}`, `exclude only ranges inside ${formatCidr(subnet)}, or remove the entry`);
      excludes.push(c);
    });
    excludes.sort(compareCidr);

    const bits = familyBits(family);
    if (subnet) {
      const podBits = bits - subnet.prefix - ipam.interfaceBlock - ipam.hostBlock;
      if (podBits < 2) {
        fail('spec.ipam', `subnet prefix /${subnet.prefix} + interfaceBlock ${ipam.interfaceBlock} + hostBlock ${ipam.hostBlock} leaves ${Math.max(podBits, 0)} pod address bits; at least 2 are needed`, `lower hostBlock or interfaceBlock (they sum to at most ${bits - subnet.prefix - 2}), or use a larger subnet`);
      }
      const cap = interfaceIndexCapacity(subnet, ipam.interfaceBlock, excludes, masterNets.length);
      if (masterNets.length > cap) {
        const why = cap < 2 ** Math.min(ipam.interfaceBlock, 30) ? ` (${2 ** Math.min(ipam.interfaceBlock, 30) - cap} interface blocks are excluded by excludeCIDRs)` : '';
        fail('spec.masterNets', `${masterNets.length} NIC networks but interfaceBlock ${ipam.interfaceBlock} gives only ${cap} interface blocks${why}`, `raise interfaceBlock to ${Math.ceil(Math.log2(masterNets.length))} or more in spec.ipam, or list fewer masterNets`);
      }
    } else {
      for (const [i, m] of masterNets.entries()) {
        if (bits - m.prefix - ipam.hostBlock < 2) {
          fail('spec.ipam', `host-subnet mode: NIC network spec.masterNets[${i}] ${formatCidr(m)} with hostBlock ${ipam.hostBlock} leaves fewer than 2 pod address bits`, `lower hostBlock to at most ${Math.max(bits - m.prefix - 2, 0)}`);
        }
      }
    }
  }
  return { source: doc.source, name, resource, ipam, family, subnet, masterNets, excludes };
}

/**
 * The rules that need the host inventory: the pod subnet must not overlap a host NIC network, and
 * (empty masterNets) every discovered NIC network needs an interface block; host-subnet mode needs
 * pod bits in every NIC network. Throws NetworkInputError (exit 2).
 */
export function validateNetworkForInventory(net: ValidatedNetwork, hosts: readonly HostInterface[], nics: readonly Nic[] = nicsOf(hosts, net.family)): void {
  if (net.ipam.type !== MULTI_NIC_IPAM) return;
  const at = `${net.source} (MultiNicNetwork "${net.name}")`;
  const distinct = new Map<string, Cidr>();
  for (const n of nics) distinct.set(n.key, n.net);
  if (net.subnet) {
    const subnet = net.subnet;
    // Thousands of NICs share a few networks: decide each network once; the first NIC on an
    // overlapping one is named.
    const bad = new Set([...distinct].filter(([, c]) => overlaps(subnet, c)).map(([k]) => k));
    const n = bad.size > 0 ? nics.find((x) => bad.has(x.key)) : undefined;
    if (n) {
      throw new NetworkInputError(at, 'spec.subnet', `${formatCidr(subnet)} overlaps NIC network ${n.key} of ${n.hostName}/${n.interfaceName}`, 'pick a pod subnet that no host NIC network uses (pods and hosts would shadow each other)');
    }
    if (net.masterNets.length === 0) {
      const cap = interfaceIndexCapacity(net.subnet, net.ipam.interfaceBlock, net.excludes, distinct.size);
      if (distinct.size > cap) {
        const list = [...distinct.values()].sort(compareCidr).map(formatCidr);
        throw new NetworkInputError(at, 'spec.masterNets', `empty, so every NIC network in the inventory is used: ${distinct.size} (${list.slice(0, 8).join(', ')}${list.length > 8 ? ', ...' : ''}) but interfaceBlock ${net.ipam.interfaceBlock} gives only ${cap} interface blocks`, `list the NIC networks to use in spec.masterNets, or raise interfaceBlock to ${Math.ceil(Math.log2(distinct.size))} in spec.ipam`);
      }
    }
  } else if (net.masterNets.length === 0) {
    const bits = familyBits(net.family);
    for (const c of distinct.values()) {
      if (bits - c.prefix - net.ipam.hostBlock < 2) {
        throw new NetworkInputError(at, 'spec.ipam', `host-subnet mode: NIC network ${formatCidr(c)} with hostBlock ${net.ipam.hostBlock} leaves fewer than 2 pod address bits`, `lower hostBlock to at most ${Math.max(bits - c.prefix - 2, 0)}`);
      }
    }
  }
}

type Fail = (field: string, problem: string, hint: string) => never;

function parseNet(text: string, field: string, fail: Fail): Cidr {
  try {
    return parseCidr(text);
  } catch (e) {
    const reason = e instanceof AddressParseError ? e.message : String(e);
    return fail(field, reason, 'write a network in CIDR notation with host bits zero, e.g. 192.168.0.0/16 or fd00:10::/48');
  }
}

function parseExclude(text: unknown, field: string, fail: Fail): Cidr {
  if (typeof text !== 'string') return fail(field, `must be a string, got ${JSON.stringify(text)}`, 'write excludes as strings such as "192.168.0.64/26"');
  if (!text.includes('/')) {
    try {
      const ip = parseIp(text);
      return { family: ip.family, base: ip.addr, prefix: familyBits(ip.family) };
    } catch {
      return fail(field, `"${text}" is not an address or a network`, 'write an address (192.168.0.5) or a network (192.168.0.64/26)');
    }
  }
  return parseNet(text, field, fail);
}

const isVlanMode = (v: unknown): v is VlanMode => (VLAN_MODES as readonly unknown[]).includes(v);

/** How to fix a network in the cluster whose spec.ipam a reader cannot use. */
const clusterIpamFix = (network: string): string => `fix spec.ipam in the network's manifest and re-apply it (kubectl multinic apply -f FILE checks it first), or kubectl edit multinicnetwork ${network}`;

/**
 * Decodes the spec.ipam of a MultiNicNetwork read from the cluster (the agent, status, doctor,
 * the NAD renderer): the JSON object as given (`raw`, for whoever passes it on unchanged) and its
 * typed config, with the same keys, defaults and vlanMode list as validateNetwork, read leniently
 * (see ipamValue). The one place a cluster reader parses spec.ipam. Throws an Error naming the
 * network, the field, what is wrong and how to fix it.
 */
export function decodeIpam(network: string, text: string): { raw: Record<string, unknown>; config: IpamConfig } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`MultiNicNetwork "${network}": spec.ipam is not valid JSON (${(e as Error).message}): ${clusterIpamFix(network)}`, { cause: e });
  }
  const config = ipamValue(
    raw,
    (field, problem) => {
      throw new Error(`MultiNicNetwork "${network}": ${field} ${problem}: ${clusterIpamFix(network)}`);
    },
    false,
  );
  return { raw: raw as Record<string, unknown>, config };
}

/** decodeIpam's typed config. Throws as decodeIpam does. */
export function parseIpamConfig(network: string, text: string): IpamConfig {
  return decodeIpam(network, text).config;
}

/**
 * parseIpamConfig for readers that show what they can: undefined when spec.ipam does not parse
 * (not JSON, not an object, an unknown vlanMode). Such a network is named, with the parser's
 * message, by the leader's NAD render (the network's configStatus) and the agents' reports.
 */
export function ipamConfigOf(net: MultiNicNetwork): IpamConfig | undefined {
  try {
    return parseIpamConfig(net.metadata.name ?? '', net.spec.ipam);
  } catch {
    return undefined;
  }
}

function parseIpam(text: string, fail: Fail): IpamConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail('spec.ipam', `is not valid JSON: ${(e as Error).message}`, 'write spec.ipam as a JSON string, e.g. {"type":"multi-nic-ipam","hostBlock":6,"interfaceBlock":2,"vlanMode":"l3"}');
  }
  return ipamValue(raw, fail);
}

/**
 * The rules of spec.ipam over its decoded JSON value. `strict` (validateNetwork, what apply enforces)
 * refuses a missing type, missing or malformed blocks and a non-list excludeCIDRs; a reader of
 * objects already in the cluster (strict false: the agent, status) takes them as upstream does
 * (type '', blocks 0 or Number(...), excludes as strings). vlanMode is checked in both.
 */
function ipamValue(raw: unknown, fail: Fail, strict = true): IpamConfig {
  if (!isObject(raw)) return fail('spec.ipam', `must be a JSON object, got ${Array.isArray(raw) ? 'an array' : JSON.stringify(raw)}`, 'write spec.ipam as a JSON object with a "type" key');
  const { type, hostBlock, interfaceBlock, excludeCIDRs, vlanMode, ...extra } = raw;
  const vm = vlanMode ?? '';
  if (!strict) {
    if (!isVlanMode(vm)) return fail('spec.ipam.vlanMode', `${JSON.stringify(vm)} is not one of l2, l3, l3s`, 'use one of "l2", "l3", "l3s"');
    return {
      type: String(type ?? ''),
      hostBlock: Number(hostBlock ?? 0),
      interfaceBlock: Number(interfaceBlock ?? 0),
      excludeCIDRs: Array.isArray(excludeCIDRs) ? excludeCIDRs.map(String) : [],
      vlanMode: vm,
      extra,
    };
  }
  if (typeof type !== 'string' || type === '') return fail('spec.ipam.type', 'Required value (a non-empty string)', `set "type": "${MULTI_NIC_IPAM}" (or another IPAM plugin's type)`);
  const isMulti = type === MULTI_NIC_IPAM;
  const block = (v: unknown, key: string): number => {
    if (v === undefined) {
      if (isMulti) fail(`spec.ipam.${key}`, `Required value for ${MULTI_NIC_IPAM}`, `add "${key}": <bits> to spec.ipam (e.g. hostBlock 6, interfaceBlock 2)`);
      return 0;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      return fail(`spec.ipam.${key}`, `must be a non-negative integer (a number of bits), got ${JSON.stringify(v)}`, `set "${key}" to a whole number of bits such as ${key === 'hostBlock' ? 6 : 2}`);
    }
    if (v > 128) return fail(`spec.ipam.${key}`, `must be at most 128 bits, got ${v}`, `set "${key}" to a small number of bits such as ${key === 'hostBlock' ? 6 : 2}`);
    return v;
  };
  const hb = block(hostBlock, 'hostBlock');
  const ib = block(interfaceBlock, 'interfaceBlock');
  let excl: string[] = [];
  if (excludeCIDRs !== undefined && excludeCIDRs !== null) {
    if (!Array.isArray(excludeCIDRs)) return fail('spec.ipam.excludeCIDRs', `must be a list of CIDRs, got ${JSON.stringify(excludeCIDRs)}`, 'write "excludeCIDRs": ["192.168.0.64/26"]');
    excl = excludeCIDRs as string[];
  }
  if (!isVlanMode(vm)) return fail('spec.ipam.vlanMode', `unsupported value ${JSON.stringify(vlanMode)}`, 'use one of "l2", "l3", "l3s"');
  return { type, hostBlock: hb, interfaceBlock: ib, excludeCIDRs: excl, vlanMode: vm, extra };
}

/**
 * The pod subnet of a MultiNicNetwork as the overlap rule sees it: only multi-nic-ipam networks
 * with a subnet get a policy rule `from <subnet> lookup <table>` on every host, so only they can
 * conflict. Undefined for every other network (and for a spec too broken to read: validation
 * reports that elsewhere).
 */
export function ruleSubnet(net: MultiNicNetwork): Cidr | undefined {
  const type = ipamConfigOf(net)?.type;
  const text = (net.spec.subnet ?? '').trim();
  if (type !== MULTI_NIC_IPAM || text === '') return undefined;
  try {
    return parseCidr(text, { strict: false });
  } catch {
    return undefined;
  }
}

/**
 * Refuses networks of `file` whose pod subnet overlaps another one's: earlier in the files, or
 * (`cluster`) a MultiNicNetwork already in the cluster under another name (one of the same name is
 * the object being updated). Their policy rules would send each other's traffic into the wrong
 * table. Throws NetworkInputError naming both networks and both subnets (exit 2).
 */
export function checkSubnetOverlaps(file: readonly ValidatedNetwork[], cluster: readonly MultiNicNetwork[] = []): void {
  const names = new Set(file.map((n) => n.name));
  const seen: Array<{ name: string; subnet: Cidr; where: string }> = [];
  for (const c of [...cluster].sort(byCreation)) {
    const name = c.metadata.name ?? '';
    const subnet = ruleSubnet(c);
    if (subnet && !names.has(name)) seen.push({ name, subnet, where: 'already in the cluster' });
  }
  for (const n of file) {
    if (n.ipam.type !== MULTI_NIC_IPAM || !n.subnet) continue;
    const other = seen.find((s) => overlaps(s.subnet, n.subnet as Cidr));
    if (other) {
      throw new NetworkInputError(
        `${n.source} (MultiNicNetwork "${n.name}")`,
        'spec.subnet',
        `${formatCidr(n.subnet)} overlaps subnet ${formatCidr(other.subnet)} of MultiNicNetwork "${other.name}" (${other.where}): both networks' policy rules would claim the addresses they share`,
        `give "${n.name}" a subnet that no other network uses (kubectl get multinicnetworks -o custom-columns=NAME:.metadata.name,SUBNET:.spec.subnet lists them), or change "${other.name}" first`,
      );
    }
    seen.push({ name: n.name, subnet: n.subnet, where: `defined in ${n.source}` });
  }
}

/** One network refused because its subnet overlaps that of a network created before it. */
export interface SubnetOverlapRefusal {
  network: string;
  subnet: string;
  /** The earliest-created network it overlaps. */
  other: string;
  otherSubnet: string;
  message: string;
}

/**
 * Which networks in the cluster are refused for overlapping subnets (the agents' and the leader's
 * rule, for objects that bypassed `apply`'s check): of two overlapping networks the one created
 * later (creationTimestamp, then name) is refused, whatever else it overlaps, so adding a network
 * never takes routes away from one that was there first. A network's subnet is the one its rule
 * uses: its CIDR's `config.subnet` (frozen when the CIDR was made) when `cidrSubnets` has one,
 * else spec.subnet. Deleted (terminating) networks are ignored. Keyed by network name.
 */
export function subnetOverlapRefusals(networks: readonly MultiNicNetwork[], cidrSubnets: ReadonlyMap<string, string> = new Map()): Map<string, SubnetOverlapRefusal> {
  const out = new Map<string, SubnetOverlapRefusal>();
  const earlier: Array<{ name: string; subnet: Cidr }> = [];
  for (const n of [...networks].filter((x) => !x.metadata.deletionTimestamp).sort(byCreation)) {
    const name = n.metadata.name ?? '';
    let subnet = ruleSubnet(n);
    const frozen = cidrSubnets.get(name);
    if (subnet && frozen !== undefined) subnet = frozen.trim() === '' ? undefined : tryParse(frozen);
    if (!subnet) continue;
    const other = earlier.find((e) => overlaps(e.subnet, subnet));
    if (other) {
      const s = formatCidr(subnet);
      const o = formatCidr(other.subnet);
      out.set(name, {
        network: name,
        subnet: s,
        other: other.name,
        otherSubnet: o,
        message: `subnet ${s} overlaps subnet ${o} of MultiNicNetwork "${other.name}", which was created first: this network is refused (no address plan, no routes, no pod attachments) until one of the two subnets changes`,
      });
    }
    earlier.push({ name, subnet });
  }
  return out;
}

function tryParse(text: string): Cidr | undefined {
  try {
    return parseCidr(text, { strict: false });
  } catch {
    return undefined;
  }
}

/** Oldest first; equal timestamps (second resolution) by name, so every agent decides alike. */
function byCreation(a: MultiNicNetwork, b: MultiNicNetwork): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = a.metadata.name ?? '';
  const nb = b.metadata.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * How a network attaches pods on the host: plugin type, its `mode` arg and the ipam vlanMode. A
 * change of any of them changes the links new pods get (and, into or out of macvlan L3, which
 * address the host's shim holds), while running pods keep the links they were given.
 */
export function attachMode(net: MultiNicNetwork): string {
  const vlanMode = ipamConfigOf(net)?.vlanMode;
  const mode = (net.spec.plugin.args as Record<string, unknown> | undefined)?.mode;
  return [net.spec.plugin.type, typeof mode === 'string' && mode ? `mode ${mode}` : '', vlanMode ? `vlanMode ${vlanMode}` : ''].filter(Boolean).join(' ');
}

/**
 * `apply`'s rule for an update that changes a network's attach mode while pods hold addresses in
 * it (the network's IPPools): returned as a refusal unless forced. Undefined when the mode is
 * unchanged or nothing is allocated.
 */
export function liveModeChange(next: ValidatedNetwork, live: MultiNicNetwork, pools: readonly IPPool[]): { message: string; hint: string } | undefined {
  const from = attachMode(live);
  const to = attachMode(next.resource);
  if (from === to) return undefined;
  const held = pools.filter((p) => p.spec.netAttachDef === next.name).flatMap((p) => p.spec.allocations.map((a) => ({ ...a, host: p.spec.hostName })));
  if (held.length === 0) return undefined;
  const pods = [...new Set(held.map((a) => `${a.namespace}/${a.pod}`))].sort();
  const hosts = new Set(held.map((a) => a.host)).size;
  return {
    message:
      `${next.source} (MultiNicNetwork "${next.name}"): changes the attach mode from ${from} to ${to} while ${pods.length} pod(s) on ${hosts} host(s) hold addresses in it ` +
      `(${pods.slice(0, 5).join(', ')}${pods.length > 5 ? `, +${pods.length - 5} more` : ''}): running pods keep their ${from} links, new pods would get ${to} links on the same NICs, ` +
      'and a pod holding the address the new mode gives the host (the macvlan L3 shim gateway) keeps that host\'s pool NotReady until the pod is gone',
    hint: `delete the pods attached to "${next.name}" first, or apply with --force to change the mode anyway (the agents refuse new pods on a NIC whose gateway a pod holds, naming the pod)`,
  };
}
