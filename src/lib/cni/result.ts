// CNI results (CNI SPEC "Success"): decoding a delegate's result, merging one result per NIC into
// the single result of the attachment, and printing it in the config's cniVersion. Pure.
import type { AllocatedNic } from '../agent/protocol.js';
import { CniCode, CniError } from './errors.js';
import { ipsCarryVersion } from './version.js';

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
}

export interface CniIp {
  /** Address with prefix, e.g. 192.168.0.5/18. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
  [key: string]: unknown;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A result independent of version; `formatResult` renders it for one. */
export interface CniResult {
  interfaces: CniInterface[];
  ips: CniIp[];
  routes: CniRoute[];
  dns: CniDns;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(what: string, v: unknown): CniError {
  return new CniError(CniCode.Decode, `failed to decode result: ${what}, got ${JSON.stringify(v)}`);
}

/** Decodes a 0.3.0 .. 1.1.0 result (0.2.0's ip4/ip6 form is refused: we never ask for it). */
export function parseResult(v: unknown): CniResult {
  if (!isObject(v)) throw bad('result must be an object', v);
  const interfaces: CniInterface[] = [];
  for (const i of (v['interfaces'] ?? []) as unknown[]) {
    if (!isObject(i) || typeof i['name'] !== 'string') throw bad('interfaces[] needs a name', i);
    const out: CniInterface = { name: i['name'] };
    if (typeof i['mac'] === 'string' && i['mac'] !== '') out.mac = i['mac'];
    if (typeof i['mtu'] === 'number' && i['mtu'] > 0) out.mtu = i['mtu'];
    if (typeof i['sandbox'] === 'string' && i['sandbox'] !== '') out.sandbox = i['sandbox'];
    interfaces.push(out);
  }
  const ips: CniIp[] = [];
  for (const ip of (v['ips'] ?? []) as unknown[]) {
    if (!isObject(ip) || typeof ip['address'] !== 'string') throw bad('ips[] needs an address', ip);
    const out: CniIp = { address: ip['address'] };
    if (typeof ip['gateway'] === 'string' && ip['gateway'] !== '') out.gateway = ip['gateway'];
    if (typeof ip['interface'] === 'number') out.interface = ip['interface'];
    ips.push(out);
  }
  const routes: CniRoute[] = [];
  for (const r of (v['routes'] ?? []) as unknown[]) {
    if (!isObject(r) || typeof r['dst'] !== 'string') throw bad('routes[] needs a dst', r);
    const out: CniRoute = { ...r, dst: r['dst'] };
    if (typeof r['gw'] !== 'string' || r['gw'] === '') delete out.gw;
    routes.push(out);
  }
  const dns: CniDns = isObject(v['dns']) ? { ...(v['dns'] as CniDns) } : {};
  return { interfaces, ips, routes, dns };
}

/**
 * Merges per-NIC results, in NIC order, into one: interfaces concatenated, each IP's `interface`
 * re-based onto the merged list, routes de-duplicated (dst+gw), DNS lists unioned.
 */
export function mergeResults(parts: CniResult[]): CniResult {
  const out: CniResult = { interfaces: [], ips: [], routes: [], dns: {} };
  const seenRoutes = new Set<string>();
  for (const part of parts) {
    const base = out.interfaces.length;
    out.interfaces.push(...part.interfaces);
    for (const ip of part.ips) out.ips.push(ip.interface === undefined ? { ...ip } : { ...ip, interface: ip.interface + base });
    for (const r of part.routes) {
      const key = `${r.dst} ${r.gw ?? ''}`;
      if (!seenRoutes.has(key)) {
        seenRoutes.add(key);
        out.routes.push(r);
      }
    }
    const d = part.dns;
    for (const k of ['nameservers', 'search', 'options'] as const) {
      const add = d[k];
      if (add?.length) out.dns[k] = [...new Set([...(out.dns[k] ?? []), ...add])];
    }
    if (d.domain && !out.dns.domain) out.dns.domain = d.domain;
  }
  return out;
}

/** The result JSON in `cniVersion`: before 1.0.0 every IP carries `version: "4"|"6"`. */
export function formatResult(r: CniResult, cniVersion: string): Record<string, unknown> {
  const withVersion = ipsCarryVersion(cniVersion);
  return {
    cniVersion,
    interfaces: r.interfaces,
    ips: r.ips.map((ip) => (withVersion ? { version: ip.address.includes(':') ? '6' : '4', ...ip } : ip)),
    routes: r.routes,
    dns: r.dns,
  };
}

/**
 * The part of an attachment's result that belongs to one NIC, as that NIC's delegate produced it:
 * its interface (index 0), its IPs, and `routes` (the NIC's routes). Used as the delegate's
 * prevResult for CHECK and DEL. Undefined when the result has no interface of that name.
 */
export function sliceForNic(r: CniResult, podInterface: string, routes: CniRoute[]): CniResult | undefined {
  const idx = r.interfaces.findIndex((i) => i.name === podInterface);
  const iface = r.interfaces[idx];
  if (!iface) return undefined;
  return {
    interfaces: [iface],
    ips: r.ips.filter((ip) => ip.interface === idx).map((ip) => ({ ...ip, interface: 0 })),
    routes,
    dns: {},
  };
}

/** The routes a NIC's static IPAM installs: the agent's routes, `gw` defaulting to the NIC gateway. */
export function nicRoutes(nic: AllocatedNic): CniRoute[] {
  return nic.routes.map((r) => {
    const gw = r.gw ?? nic.gateway;
    return gw ? { dst: r.dst, gw } : { dst: r.dst };
  });
}
