// Claims that scale (proposed successor of the one-CIDR compare-and-swap in claim.ts): one small
// CIDRClaim object per (network, interface index) and per (network, interface index, host index),
// whose NAME carries the indexes. Creating the object IS the claim: the API server's uniqueness of
// names makes AlreadyExists mean "taken", so no agent ever rewrites an object another agent owns
// and no shared object grows with the cluster. The CIDR becomes a view assembled from the claims
// (cidrFromClaims). Pure.
import type { CIDRSpec, CidrEntry, HostInterfaceInfo, PluginConfig } from '../crds/types.gen.js';

export const CLAIM_NETWORK_LABEL = 'multinic.fms.io/network';
export const CLAIM_HOST_LABEL = 'multinic.fms.io/host';

/**
 * One index of a network's address plan. Without hostIndex it claims the interface index of a NIC
 * network (netAddress); with it, one host's pod block on that NIC network.
 */
export interface CIDRClaimSpec {
  network: string;
  netAddress: string;
  interfaceIndex: number;
  vlanCIDR: string;
  hostIndex?: number;
  hostName?: string;
  interfaceName?: string;
  hostIP?: string;
  podCIDR?: string;
  ippool?: string;
}

export interface CIDRClaim {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'CIDRClaim';
  metadata: { name: string; labels: Record<string, string>; resourceVersion?: string };
  spec: CIDRClaimSpec;
}

/** `<network>.i<interface index>`: network names are DNS subdomains, so this one is too. */
export const interfaceClaimName = (network: string, interfaceIndex: number): string => `${network}.i${interfaceIndex}`;
/** `<network>.i<interface index>.h<host index>`. */
export const hostClaimName = (network: string, interfaceIndex: number, hostIndex: number): string => `${network}.i${interfaceIndex}.h${hostIndex}`;

function interfaceClaim(network: string, e: CidrEntry): CIDRClaim {
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'CIDRClaim',
    metadata: { name: interfaceClaimName(network, e.interfaceIndex), labels: { [CLAIM_NETWORK_LABEL]: network } },
    spec: { network, netAddress: e.netAddress, interfaceIndex: e.interfaceIndex, vlanCIDR: e.vlanCIDR },
  };
}

function hostClaim(network: string, e: CidrEntry, h: HostInterfaceInfo): CIDRClaim {
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'CIDRClaim',
    metadata: { name: hostClaimName(network, e.interfaceIndex, h.hostIndex), labels: { [CLAIM_NETWORK_LABEL]: network, [CLAIM_HOST_LABEL]: h.hostName } },
    spec: { network, netAddress: e.netAddress, interfaceIndex: e.interfaceIndex, vlanCIDR: e.vlanCIDR, hostIndex: h.hostIndex, hostName: h.hostName, interfaceName: h.interfaceName, hostIP: h.hostIP, podCIDR: h.podCIDR, ippool: h.ippool },
  };
}

/**
 * The claim objects that say what `spec` says: one per interface entry, one per host entry. With
 * `hostName`, only the interface claims of that host's entries and its own host claims (what one
 * agent creates). Also the migration: an existing CIDR's entries become claims with the same
 * indexes, so every host keeps its index.
 */
export function claimsFromCidr(network: string, spec: CIDRSpec, hostName?: string): CIDRClaim[] {
  const out: CIDRClaim[] = [];
  for (const e of spec.cidr) {
    const hosts = hostName === undefined ? e.hosts : e.hosts.filter((h) => h.hostName === hostName);
    if (hostName !== undefined && hosts.length === 0) continue;
    out.push(interfaceClaim(network, e));
    for (const h of hosts) out.push(hostClaim(network, e, h));
  }
  return out;
}

/**
 * The CIDR view of a network's claims (others' networks are ignored): entries by interface index,
 * hosts by host index. An interface claim is needed for an entry; host claims under an interface
 * index whose interface claim names another NIC network are dropped (they cannot be honoured).
 */
export function cidrFromClaims(network: string, config: PluginConfig, claims: readonly CIDRClaim[]): CIDRSpec {
  const entries = new Map<number, CidrEntry>();
  const mine = claims.filter((c) => c.spec.network === network);
  for (const c of mine) if (c.spec.hostIndex === undefined) entries.set(c.spec.interfaceIndex, { netAddress: c.spec.netAddress, interfaceIndex: c.spec.interfaceIndex, vlanCIDR: c.spec.vlanCIDR, hosts: [] });
  for (const c of mine) {
    const s = c.spec;
    if (s.hostIndex === undefined) continue;
    const e = entries.get(s.interfaceIndex);
    if (!e || e.netAddress !== s.netAddress) continue;
    e.hosts.push({ hostIndex: s.hostIndex, hostName: s.hostName ?? '', interfaceName: s.interfaceName ?? '', hostIP: s.hostIP ?? '', podCIDR: s.podCIDR ?? '', ippool: s.ippool ?? '' });
  }
  const cidr = [...entries.values()].sort((a, b) => a.interfaceIndex - b.interfaceIndex);
  for (const e of cidr) e.hosts.sort((a, b) => a.hostIndex - b.hostIndex || (a.hostName < b.hostName ? -1 : 1));
  return { config, cidr };
}
