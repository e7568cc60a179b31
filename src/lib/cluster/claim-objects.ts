// Claims that scale (docs/scale.md; successor of the one-CIDR compare-and-swap in claim.ts): one
// small CIDRClaim object (deploy/crds/cidrclaims.yaml) per (network, interface index) and per
// (network, interface index, host index), whose NAME carries the indexes. Creating the object IS
// the claim: the API server's uniqueness of names makes AlreadyExists mean "taken", so no agent
// ever rewrites an object another agent owns and no shared object grows with the cluster. The
// network's CIDR keeps the frozen config and a bounded summary; the host entries readers see are a
// view assembled from the claims (cidrView). Pure.
import type { CIDR, CIDRClaim, CIDRSpec, CidrEntry, HostInterfaceInfo, PluginConfig } from '../crds/types.gen.js';
import type { OwnerReference } from '../k8s/meta.js';

export type { CIDRClaim, CIDRClaimSpec } from '../crds/types.gen.js';

export const CLAIM_NETWORK_LABEL = 'multinic.fms.io/network';
export const CLAIM_HOST_LABEL = 'multinic.fms.io/host';
/**
 * On a CIDR: its host entries live in CIDRClaims (the leader keeps spec.cidr[].hosts empty and a
 * summary in status). A CIDR without it is a legacy one whose entries are migrated to claims.
 */
export const CLAIMS_ANNOTATION = 'multinic.fms.io/host-entries';
export const CLAIMS_ANNOTATION_VALUE = 'cidrclaims';


/** `<network>.i<interface index>`: network names are DNS subdomains, so this one is too. */
export const interfaceClaimName = (network: string, interfaceIndex: number): string => `${network}.i${interfaceIndex}`;
/** `<network>.i<interface index>.h<host index>`. */
export const hostClaimName = (network: string, interfaceIndex: number, hostIndex: number): string => `${network}.i${interfaceIndex}.h${hostIndex}`;

/** The controller reference claims carry to their network's CIDR (Kubernetes GC removes them with it). */
export function cidrOwnerRef(cidr: CIDR): OwnerReference[] {
  if (!cidr.metadata.uid) return [];
  return [{ apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', name: cidr.metadata.name ?? '', uid: cidr.metadata.uid, controller: true, blockOwnerDeletion: true }];
}

/** Whether `v` can be a label value (63 characters at most, alphanumeric ends): network and node names may be longer. */
export const isLabelValue = (v: string): boolean => v.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v);

function meta(name: string, labels: Record<string, string>, owner: readonly OwnerReference[]): CIDRClaim['metadata'] {
  // A name too long for a label goes unlabelled: readers then filter on spec.network (listClaims).
  const fit = Object.fromEntries(Object.entries(labels).filter(([, v]) => isLabelValue(v)));
  return { name, labels: fit, ...(owner.length ? { ownerReferences: owner.map((r) => ({ ...r })) } : {}) };
}

function interfaceClaim(network: string, e: CidrEntry, owner: readonly OwnerReference[]): CIDRClaim {
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'CIDRClaim',
    metadata: meta(interfaceClaimName(network, e.interfaceIndex), { [CLAIM_NETWORK_LABEL]: network }, owner),
    spec: { network, netAddress: e.netAddress, interfaceIndex: e.interfaceIndex, vlanCIDR: e.vlanCIDR },
  };
}

function hostClaim(network: string, e: CidrEntry, h: HostInterfaceInfo, owner: readonly OwnerReference[]): CIDRClaim {
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'CIDRClaim',
    metadata: meta(hostClaimName(network, e.interfaceIndex, h.hostIndex), { [CLAIM_NETWORK_LABEL]: network, [CLAIM_HOST_LABEL]: h.hostName }, owner),
    spec: {
      network,
      netAddress: e.netAddress,
      interfaceIndex: e.interfaceIndex,
      vlanCIDR: e.vlanCIDR,
      hostIndex: h.hostIndex,
      hostName: h.hostName,
      interfaceName: h.interfaceName,
      hostIP: h.hostIP,
      podCIDR: h.podCIDR,
      ...(h.ippool ? { ippool: h.ippool } : {}),
    },
  };
}

/**
 * The claim objects that say what `spec` says: one per interface entry, one per host entry. With
 * `hostName`, only the interface claims of that host's entries and its own host claims (what one
 * agent creates). Also the migration: an existing CIDR's entries become claims with the same
 * indexes, so every host keeps its index. `owner`: the ownerReferences to give them (cidrOwnerRef).
 */
export function claimsFromCidr(network: string, spec: CIDRSpec, hostName?: string, owner: readonly OwnerReference[] = []): CIDRClaim[] {
  const out: CIDRClaim[] = [];
  for (const e of spec.cidr) {
    const hosts = hostName === undefined ? e.hosts : e.hosts.filter((h) => h.hostName === hostName);
    if (hostName !== undefined && hosts.length === 0) continue;
    out.push(interfaceClaim(network, e, owner));
    for (const h of hosts) out.push(hostClaim(network, e, h, owner));
  }
  return out;
}

/** The same index held for the same purpose: the same NIC network, and for a host claim the same host. */
export function sameHolder(a: CIDRClaim, b: CIDRClaim): boolean {
  return a.spec.netAddress === b.spec.netAddress && a.spec.interfaceIndex === b.spec.interfaceIndex && a.spec.hostIndex === b.spec.hostIndex && a.spec.hostName === b.spec.hostName;
}

/** Why a stored object cannot be a claim of `network` (its name does not carry what its spec says), or undefined. */
export function claimNameMismatch(c: CIDRClaim): string | undefined {
  const s = c.spec;
  const want = s.hostIndex === undefined ? interfaceClaimName(s.network, s.interfaceIndex) : hostClaimName(s.network, s.interfaceIndex, s.hostIndex);
  return c.metadata.name === want ? undefined : `CIDRClaim "${c.metadata.name ?? ''}" holds ${s.hostIndex === undefined ? `interface index ${s.interfaceIndex}` : `host index ${s.hostIndex} on interface index ${s.interfaceIndex}`} of "${s.network}" but its name must be "${want}"`;
}

/**
 * The CIDR view of a network's claims (others' networks are ignored): entries by interface index,
 * hosts by host index. An interface claim is needed for an entry; host claims under an interface
 * index whose interface claim names another NIC network are dropped (they cannot be honoured), and
 * so is an object whose name does not carry the indexes its spec says (not created by a claim).
 */
export function cidrFromClaims(network: string, config: PluginConfig, claims: readonly CIDRClaim[]): CIDRSpec {
  const entries = new Map<number, CidrEntry>();
  const mine = claims.filter((c) => c.spec.network === network && claimNameMismatch(c) === undefined);
  for (const c of mine) if (c.spec.hostIndex === undefined) entries.set(c.spec.interfaceIndex, { netAddress: c.spec.netAddress, interfaceIndex: c.spec.interfaceIndex, vlanCIDR: c.spec.vlanCIDR, hosts: [] });
  for (const c of mine) {
    const s = c.spec;
    if (s.hostIndex === undefined) continue;
    const e = entries.get(s.interfaceIndex);
    if (!e || e.netAddress !== s.netAddress) continue;
    e.hosts.push({ hostIndex: s.hostIndex, hostName: s.hostName ?? '', interfaceName: s.interfaceName ?? '', hostIP: s.hostIP ?? '', podCIDR: s.podCIDR ?? '', ...(s.ippool ? { ippool: s.ippool } : {}) });
  }
  const cidr = [...entries.values()].sort((a, b) => a.interfaceIndex - b.interfaceIndex);
  for (const e of cidr) e.hosts.sort((a, b) => a.hostIndex - b.hostIndex || (a.hostName < b.hostName ? -1 : 1));
  return { config, cidr };
}

/** The claims that belong to `cidr`: of its network, and owned by this CIDR (or by none: seeded before it had a uid). */
export function claimsOf(cidr: CIDR, claims: readonly CIDRClaim[]): CIDRClaim[] {
  const name = cidr.spec.config.name || (cidr.metadata.name ?? '');
  const uid = cidr.metadata.uid;
  return claims.filter((c) => {
    if (c.spec.network !== name) return false;
    const owner = c.metadata.ownerReferences?.find((r) => r.kind === 'CIDR');
    return !owner || !uid || owner.uid === uid;
  });
}

export interface CidrView {
  /** The CIDR as readers know it: its config, every host entry (claims, then legacy entries not yet migrated). */
  cidr: CIDR;
  /** Legacy host entries of the CIDR object no claim holds yet (what the migration still has to create). */
  unmigrated: number;
  /** Legacy entries dropped because a claim of another host holds their index (host@netAddress#index). */
  shadowed: string[];
}

/**
 * Assembles the view of one network from its CIDR object and its claims (claimsOf filters them):
 * the CIDR's config, entries from the interface claims (else the CIDR's own), and per entry the host
 * claims plus the CIDR's legacy host entries whose host holds no claim on that NIC network and whose
 * index no claim holds; entries without hosts are left out. The result has the upstream CIDR shape,
 * so every reader keeps working.
 */
export function cidrView(cidr: CIDR, claims: readonly CIDRClaim[]): CidrView {
  const network = cidr.spec.config.name || (cidr.metadata.name ?? '');
  const fromClaims = cidrFromClaims(network, cidr.spec.config, claimsOf(cidr, claims));
  const byIndex = new Map(fromClaims.cidr.map((e) => [e.interfaceIndex, e] as const));
  let unmigrated = 0;
  const shadowed: string[] = [];
  for (const legacy of cidr.spec.cidr) {
    let e = byIndex.get(legacy.interfaceIndex);
    if (!e) {
      e = { netAddress: legacy.netAddress, interfaceIndex: legacy.interfaceIndex, vlanCIDR: legacy.vlanCIDR, hosts: [] };
      byIndex.set(legacy.interfaceIndex, e);
    } else if (e.netAddress !== legacy.netAddress) {
      for (const h of legacy.hosts) shadowed.push(`${h.hostName}@${legacy.netAddress}#${h.hostIndex}`);
      continue;
    }
    const held = new Map(e.hosts.map((h) => [h.hostIndex, h.hostName] as const));
    const holders = new Set(e.hosts.map((h) => h.hostName));
    for (const h of legacy.hosts) {
      if (held.get(h.hostIndex) === h.hostName) continue; // migrated
      if (held.has(h.hostIndex) || holders.has(h.hostName)) {
        shadowed.push(`${h.hostName}@${legacy.netAddress}#${h.hostIndex}`);
        continue;
      }
      e.hosts.push({ ...h });
      held.set(h.hostIndex, h.hostName);
      holders.add(h.hostName);
      unmigrated++;
    }
  }
  // An entry no host holds is not shown (as a CIDR dropped it when its last host left); its
  // interface claim stays, so the planner (which reads the claims) keeps the index for that NIC network.
  const entries = [...byIndex.values()].filter((e) => e.hosts.length > 0).sort((a, b) => a.interfaceIndex - b.interfaceIndex);
  for (const e of entries) e.hosts.sort((a, b) => a.hostIndex - b.hostIndex || (a.hostName < b.hostName ? -1 : 1));
  return { cidr: { ...cidr, spec: { config: cidr.spec.config, cidr: entries } }, unmigrated, shadowed };
}

/** Views of every CIDR from one list of claims (grouped once: O(claims + entries)). */
export function cidrViews(cidrs: readonly CIDR[], claims: readonly CIDRClaim[]): CIDR[] {
  const byNetwork = new Map<string, CIDRClaim[]>();
  for (const c of claims) {
    let l = byNetwork.get(c.spec.network);
    if (!l) byNetwork.set(c.spec.network, (l = []));
    l.push(c);
  }
  return cidrs.map((c) => cidrView(c, byNetwork.get(c.spec.config.name || (c.metadata.name ?? '')) ?? []).cidr);
}

/** The bounded CIDR the leader keeps: config and interface entries, no host entries (those are claims). */
export function cidrSummarySpec(view: CIDRSpec): CIDRSpec {
  return { config: view.config, cidr: view.cidr.map((e) => ({ netAddress: e.netAddress, interfaceIndex: e.interfaceIndex, vlanCIDR: e.vlanCIDR, hosts: [] })) };
}
