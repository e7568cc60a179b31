// NetworkAttachmentDefinitions for a MultiNicNetwork (upstream.md §2.5): one per target namespace,
// name = network name, label multi-nic-cni-generated=true, a controller ownerReference to the
// network (so Kubernetes GC removes them with it), and the CNI config JSON in upstream's shape with
// `type: multi-nic`, so pods and tools written for upstream work unchanged. Pure.
import type { CIDRSpec, HostInterface, MultiNicNetwork } from '../crds/types.gen.js';
import type { KubeObject } from '../k8s/meta.js';
import { compareCidr, formatCidr, tryParseCidr, type Cidr } from '../net/ip.js';
import { decodeIpam } from '../network.js';
import { canonical } from './claim.js';

export const NAD_API_VERSION = 'k8s.cni.cncf.io/v1';
export const GENERATED_LABEL = 'multi-nic-cni-generated';
/** The CNI type every generated NAD names: our `multi-nic` plugin. */
export const CNI_TYPE = 'multi-nic';
/** Upstream writes a constant "0.3.0" as the NAD's cniVersion; every runtime accepts it. */
export const NAD_CNI_VERSION = '0.3.0';
/** Upstream's daemon port; kept in the config for tools that read it (our CNI uses the unix socket). */
export const UPSTREAM_DAEMON_PORT = 11000;

export interface NetworkAttachmentDefinition extends KubeObject {
  apiVersion: typeof NAD_API_VERSION;
  kind: 'NetworkAttachmentDefinition';
  metadata: NonNullable<KubeObject['metadata']> & { name: string; namespace: string };
  spec: { config: string };
}

/** Plugin args upstream passes as numbers / booleans rather than strings. */
const NUMERIC_ARGS = new Set(['mtu', 'vlan', 'vlanQoS', 'min_tx_rate', 'max_tx_rate']);
const BOOLEAN_ARGS = new Set(['spoofchk', 'trust']);
/** Upstream arg names that map to different config keys (its RemoveEmpty dropped them: bug 9.2.11). */
const ARG_RENAMES: Record<string, string> = { minTxRate: 'min_tx_rate', maxTxRate: 'max_tx_rate' };
/** sriov policy args the controller consumed itself; they are not delegate config keys. */
const POLICY_ARGS = new Set(['resourceName', 'priority', 'numVfs', 'isRdma', 'needVhostNet']);

/**
 * The main plugin block: `cniVersion`, `type` and exactly the keys given in `plugin.args` (as
 * upstream's RemoveEmpty keeps), typed as the delegate expects. `mellanox` delegates to host-device.
 */
export function pluginConfig(net: MultiNicNetwork): Record<string, unknown> {
  const p = net.spec.plugin;
  const type = p.type === 'mellanox' ? 'host-device' : p.type;
  const out: Record<string, unknown> = { cniVersion: p.cniVersion, type };
  for (const [rawKey, value] of Object.entries(p.args ?? {})) {
    if (p.type === 'sriov' && POLICY_ARGS.has(rawKey)) continue;
    const key = ARG_RENAMES[rawKey] ?? rawKey;
    if (NUMERIC_ARGS.has(key) && /^-?\d+$/.test(value.trim())) out[key] = Number(value);
    else if (BOOLEAN_ARGS.has(key) && /^(true|false)$/i.test(value.trim())) out[key] = value.trim().toLowerCase() === 'true';
    else out[key] = value;
  }
  if (p.capabilities && Object.keys(p.capabilities).length > 0) out.capabilities = p.capabilities;
  return sortKeys(out) as Record<string, unknown>;
}

/**
 * The NAD's `spec.config` text, keys in upstream's emitted order: cniVersion, name, type, ipam
 * (the user's JSON re-marshalled with sorted keys), dns, plugin, subnet, masterNets, multiNICIPAM
 * (omitted when false), daemonIP, daemonPort. `masterNets` is the effective list (the network's, or
 * the discovered NIC networks when it leaves it empty).
 */
export function nadConfig(net: MultiNicNetwork, masterNets: readonly string[]): string {
  const ipam = decodeIpam(net.metadata.name ?? '', net.spec.ipam).raw;
  const dns = net.spec.plugin.dns ?? {};
  const conf: Record<string, unknown> = {
    cniVersion: NAD_CNI_VERSION,
    name: net.metadata.name,
    type: CNI_TYPE,
    ipam: sortKeys(ipam),
    dns,
    plugin: pluginConfig(net),
    subnet: net.spec.subnet ?? '',
    masterNets: [...masterNets],
  };
  if (net.spec.multiNICIPAM) conf.multiNICIPAM = true;
  conf.daemonIP = '';
  conf.daemonPort = UPSTREAM_DAEMON_PORT;
  return JSON.stringify(conf);
}

/** Device-plugin resource annotations upstream puts on the NAD (sriov `resourceName`). */
export function nadAnnotations(net: MultiNicNetwork): Record<string, string> {
  const rn = net.spec.plugin.args?.resourceName;
  if (net.spec.plugin.type === 'sriov' && rn) return { 'k8s.v1.cni.cncf.io/resourceName': rn.includes('/') ? rn : `openshift.io/${rn}` };
  return {};
}

/** The NAD for one namespace. The network must carry its uid (it is read from the API). */
export function renderNad(net: MultiNicNetwork, namespace: string, masterNets: readonly string[]): NetworkAttachmentDefinition {
  const name = net.metadata.name ?? '';
  const annotations = nadAnnotations(net);
  return {
    apiVersion: NAD_API_VERSION,
    kind: 'NetworkAttachmentDefinition',
    metadata: {
      name,
      namespace,
      labels: { [GENERATED_LABEL]: 'true' },
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ownerReferences: [
        { apiVersion: net.apiVersion, kind: net.kind, name, uid: net.metadata.uid ?? '', controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: { config: nadConfig(net, masterNets) },
  };
}

export interface NamespaceFact {
  name: string;
  /** `status.phase`: Active or Terminating. */
  phase?: string;
}

/**
 * Namespaces that get the network's NAD: `spec.namespaces` (those that exist and are not
 * terminating), or every Active namespace when the list is empty. Sorted.
 */
export function targetNamespaces(net: MultiNicNetwork, namespaces: readonly NamespaceFact[]): string[] {
  const live = namespaces.filter((n) => n.phase !== 'Terminating').map((n) => n.name);
  const wanted = net.spec.namespaces ?? [];
  const out = wanted.length === 0 ? live : live.filter((n) => wanted.includes(n));
  return [...new Set(out)].sort();
}

/** Whether a NAD was generated for `net` (our label and an ownerReference to it). */
export function isGeneratedFor(nad: KubeObject, net: MultiNicNetwork): boolean {
  if (nad.metadata?.labels?.[GENERATED_LABEL] !== 'true') return false;
  const refs = nad.metadata.ownerReferences ?? [];
  return refs.some((r) => r.kind === 'MultiNicNetwork' && r.name === net.metadata.name && (!net.metadata.uid || r.uid === net.metadata.uid));
}

export interface NadPlan {
  create: NetworkAttachmentDefinition[];
  /** Desired objects carrying the existing resourceVersion, for PUT. */
  update: NetworkAttachmentDefinition[];
  /** Generated NADs in namespaces that left the target list. */
  delete: Array<{ namespace: string; name: string }>;
}

/**
 * What to write so that exactly the target namespaces hold the network's NAD. A NAD of the same
 * name that we did not generate (no label/ownerReference) is left alone: a user's NAD is never
 * overwritten nor deleted.
 */
export function planNads(net: MultiNicNetwork, targets: readonly string[], masterNets: readonly string[], existing: readonly KubeObject[]): NadPlan {
  const name = net.metadata.name ?? '';
  const byNs = new Map<string, KubeObject>();
  for (const o of existing) if (o.metadata?.name === name && o.metadata.namespace) byNs.set(o.metadata.namespace, o);
  const plan: NadPlan = { create: [], update: [], delete: [] };
  for (const ns of targets) {
    const want = renderNad(net, ns, masterNets);
    const have = byNs.get(ns);
    if (!have) plan.create.push(want);
    else if (!isGeneratedFor(have, net) && have.metadata?.labels?.[GENERATED_LABEL] !== 'true') continue;
    else if (!sameNad(have, want)) plan.update.push({ ...want, metadata: { ...want.metadata, resourceVersion: have.metadata?.resourceVersion } });
  }
  const keep = new Set(targets);
  for (const [ns, o] of byNs) if (!keep.has(ns) && isGeneratedFor(o, net)) plan.delete.push({ namespace: ns, name });
  plan.delete.sort((a, b) => (a.namespace < b.namespace ? -1 : 1));
  return plan;
}

function sameNad(have: KubeObject, want: NetworkAttachmentDefinition): boolean {
  const spec = (have as { spec?: { config?: string } }).spec;
  const owners = (have.metadata?.ownerReferences ?? []).map((r) => r.uid);
  const wantAnn = want.metadata.annotations ?? {};
  const haveAnn = have.metadata?.annotations ?? {};
  // Upstream compared configs after overwriting metadata (bug 9.2.10); we compare annotations too.
  const annOk = Object.entries(wantAnn).every(([k, v]) => haveAnn[k] === v);
  let sameConfig: boolean;
  try {
    sameConfig = spec?.config !== undefined && canonical(JSON.parse(spec.config)) === canonical(JSON.parse(want.spec.config));
  } catch {
    sameConfig = false;
  }
  return (
    sameConfig &&
    annOk &&
    have.metadata?.labels?.[GENERATED_LABEL] === 'true' &&
    owners.includes(want.metadata.ownerReferences?.[0]?.uid ?? '')
  );
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortKeys(o[k])]));
  }
  return v;
}

/**
 * The NIC networks a network uses, in interface-index order: `spec.masterNets`, else the CIDR's
 * (frozen at creation), else every IPv4/IPv6 NIC network on the hosts sorted by address (the CRD's
 * documented meaning of an empty list).
 */
export function effectiveMasterNets(net: MultiNicNetwork, cidr: CIDRSpec | undefined, hosts: readonly HostInterface[]): string[] {
  const own = net.spec.masterNets ?? [];
  if (own.length > 0) return [...own];
  if (cidr && cidr.config.masterNets.length > 0) return [...cidr.config.masterNets];
  const seen = new Map<string, Cidr>();
  for (const h of hosts) {
    for (const i of h.spec.interfaces) {
      const c = i.netAddress ? tryParseCidr(i.netAddress, { strict: false }) : undefined;
      if (c) seen.set(formatCidr(c), c);
    }
  }
  return [...seen.values()].sort(compareCidr).map(formatCidr);
}
