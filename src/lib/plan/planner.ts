// The address planner (docs/design.md §3.2, upstream.md §2.6/§3): carves a network's subnet into one
// interface block per NIC network and one pod block per host on it, for IPv4 and IPv6. The same
// function serves `plan` (fresh, or from a previous CIDR) and the agent (re-plan on every inventory
// change): existing indexes never move, new hosts take the lowest free index, departed hosts free
// theirs. Pure and O(hosts x NICs).
import type { CIDR, CidrEntry, HostInterface, HostInterfaceInfo, PluginConfig } from '../crds/types.gen.js';
import { nicsOf, type Nic } from '../inventory.js';
import { compareCidr, containsCidr, formatCidr, formatIp, subnetAddressFormatter, subnetAt, tryParseCidr, type Cidr } from '../net/ip.js';
import type { ValidatedNetwork } from '../network.js';
import { indexCount, lowestFreeIndex, tabuBy } from '../net/blocks.js';
import { ippoolName, poolsOf, type PlannedPool } from './pools.js';

export type PlanWarningCode =
  | 'NoNicNetworks'
  | 'SharedPodBlock'
  | 'ConfigChanged'
  | 'HostReindexed'
  | 'InterfaceReindexed'
  | 'NicWithoutAddress'
  | 'HostMissingNetwork'
  | 'SingleHostNetwork'
  | 'DuplicateHostIP'
  | 'DuplicateNicOnNetwork'
  | 'UncoveredNic'
  | 'MtuMismatch'
  | 'SpeedMismatch';

/** Something the user should know; never fatal. `network` names the MultiNicNetwork. */
export interface PlanWarning {
  code: PlanWarningCode;
  network: string;
  message: string;
}

/** A host NIC that got no pod block, and why. */
export interface UnplacedHost {
  hostName: string;
  interfaceName: string;
  netAddress: string;
  reason: string;
}

export interface PlanInput {
  network: ValidatedNetwork;
  inventory: readonly HostInterface[];
  /** The CIDR from the last plan: its interface and host indexes are kept. */
  previous?: CIDR | undefined;
  /** `nicsOf(inventory, network.family)` when the caller has it already (plan, checkPool and validation share one). */
  nics?: readonly Nic[] | undefined;
  /**
   * Plan every host but return only this host's entries, pools and unplaced NICs (an agent
   * claiming its own indexes). The indexes are the full plan's; what is left out is the output
   * for every other host, which at 4,096 hosts x 8 NICs was most of the cost of a claim.
   */
  only?: string;
}

export interface PlanResult {
  /** The CIDR resource `apply` (or the agent) writes. Entries by interfaceIndex, hosts by hostIndex. */
  cidr: CIDR;
  /** One per host per NIC network, sorted by host then interface index. */
  pools: PlannedPool[];
  /** Host NICs that did not fit (more hosts than hostBlock allows, after excludes). */
  unplaced: UnplacedHost[];
  warnings: PlanWarning[];
}

interface EntryPlan {
  net: Cidr;
  key: string;
  interfaceIndex: number;
  vlan: Cidr;
  /** The NIC each host has on this network, by host ordinal (Nic.host). */
  nics: (Nic | undefined)[];
}

const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const key = (c: Cidr): string => formatCidr(c);

/** Plans one network over an inventory; see the file comment for the stability contract. */
export function planNetwork(input: PlanInput): PlanResult {
  const { network: net, previous } = input;
  const { hostBlock, interfaceBlock } = net.ipam;
  const warnings: PlanWarning[] = [];
  const warn = (code: PlanWarningCode, message: string): void => {
    warnings.push({ code, network: net.name, message });
  };
  const unplaced: UnplacedHost[] = [];

  // NIC networks of the pool, in interface-index order of a fresh plan.
  const nics = input.nics ?? nicsOf(input.inventory, net.family);
  let pool: Cidr[];
  if (net.masterNets.length > 0) pool = net.masterNets;
  else {
    const distinct = new Map<string, Cidr>();
    for (const n of nics) distinct.set(n.key, n.net);
    pool = [...distinct.values()].sort(compareCidr);
  }
  if (pool.length === 0) warn('NoNicNetworks', `no IPv${net.family} NIC network in the inventory and no masterNets: nothing to plan`);

  const prevConfig = previous?.spec.config;
  if (prevConfig && previous && previous.spec.cidr.length > 0) {
    const now = net.subnet ? formatCidr(net.subnet) : '';
    const was = tryParseCidr(prevConfig.subnet, { strict: false });
    const wasText = was ? formatCidr(was) : prevConfig.subnet;
    if (wasText !== now || prevConfig.hostBlock !== hostBlock || prevConfig.interfaceBlock !== interfaceBlock) {
      warn('ConfigChanged', `the previous plan used subnet "${wasText}", interfaceBlock ${prevConfig.interfaceBlock}, hostBlock ${prevConfig.hostBlock}; now "${now}", ${interfaceBlock}, ${hostBlock}: indexes are kept but every block moves, so running pods keep stale addresses until restarted`);
    }
  }
  // Per-host state lives in arrays indexed by host ordinal: 32k NICs through name-keyed maps were
  // most of the planner's own time.
  let hostCount = 0;
  for (const n of nics) if (n.host >= hostCount) hostCount = n.host + 1;
  const prevEntries = new Map<string, CidrEntry>();
  for (const e of previous?.spec.cidr ?? []) {
    const c = tryParseCidr(e.netAddress, { strict: false });
    if (c) prevEntries.set(key(c), e);
  }

  // Interface indexes: previous ones first (when still valid), then the lowest free for the rest.
  const entries: EntryPlan[] = [];
  const usedIf = new Set<number>();
  const pending: Cidr[] = [];
  const vlanOf = (i: number, c: Cidr): Cidr => (net.subnet ? subnetAt(net.subnet, interfaceBlock, i) : c);
  const ifMax = net.subnet ? indexCount(interfaceBlock) : Number.MAX_SAFE_INTEGER;
  for (const c of pool) {
    const p = prevEntries.get(key(c));
    const i = p?.interfaceIndex;
    if (i !== undefined && Number.isInteger(i) && i >= 0 && i < ifMax && !usedIf.has(i) && !(net.subnet && tabuBy(vlanOf(i, c), net.excludes))) {
      usedIf.add(i);
      entries.push({ net: c, key: key(c), interfaceIndex: i, vlan: vlanOf(i, c), nics: new Array<Nic | undefined>(hostCount) });
    } else {
      if (p) warn('InterfaceReindexed', `NIC network ${key(c)} had interface index ${String(i)}, which the current configuration no longer allows; it gets a new one`);
      pending.push(c);
    }
  }
  let cursor = 0;
  for (const c of pending) {
    const i = net.subnet ? lowestFreeIndex(net.subnet, interfaceBlock, cursor, usedIf, net.excludes) : lowestFree(cursor, usedIf);
    if (i < 0) {
      // validateNetwork/validateNetworkForInventory reject this for user input; the agent may meet it.
      for (const n of nics) if (containsCidr(c, n.net)) unplaced.push({ hostName: n.hostName, interfaceName: n.interfaceName, netAddress: key(c), reason: `no free interface block: interfaceBlock ${interfaceBlock} allows ${ifMax} NIC networks` });
      continue;
    }
    usedIf.add(i);
    cursor = i + 1;
    entries.push({ net: c, key: key(c), interfaceIndex: i, vlan: vlanOf(i, c), nics: new Array<Nic | undefined>(hostCount) });
  }
  entries.sort((a, b) => a.interfaceIndex - b.interfaceIndex);

  // Assign NICs to entries: exact network match through a map, containment (a masterNets entry
  // wider than the NIC networks) through a scan of the few entries.
  const byKey = new Map(entries.map((e) => [e.key, e] as const));
  // The previous plan's NIC per host and network, built only if a host has two NICs on one network
  // (a re-plan of 4,096 x 8 spent a third of its own time making and looking up these keys).
  let prevIfName: Map<string, string> | undefined;
  const preferredOf = (e: EntryPlan, hostName: string): string | undefined => {
    if (!prevIfName) {
      prevIfName = new Map();
      for (const [k, pe] of prevEntries) for (const h of pe.hosts) prevIfName.set(`${k}|${h.hostName}`, h.interfaceName);
    }
    return prevIfName.get(`${e.key}|${hostName}`);
  };
  for (const n of nics) {
    const e = byKey.get(n.key) ?? entries.find((x) => containsCidr(x.net, n.net));
    if (!e) continue;
    if (!n.hostIP) {
      warn('NicWithoutAddress', `${n.hostName}/${n.interfaceName} on ${n.key} has no host address: it gets no pod block`);
      continue;
    }
    const cur = e.nics[n.host];
    if (!cur) {
      e.nics[n.host] = n;
      continue;
    }
    // A host with two NICs on one network: keep the one used before, else the lowest name.
    const preferred = preferredOf(e, n.hostName);
    if (cur.interfaceName !== preferred && (n.interfaceName === preferred || n.interfaceName < cur.interfaceName)) e.nics[n.host] = n;
  }

  // Host indexes per entry.
  const shared = hostBlock === 0;
  if (shared && nics.length > 0) warn('SharedPodBlock', `hostBlock 0: every host shares its NIC network's whole block, so pods on different hosts can get the same address unless addresses come from elsewhere`);
  const hostMax = indexCount(hostBlock);
  // Host names ranked once, so each entry takes its new hosts in name order without sorting names.
  const nameOf = new Array<string>(hostCount);
  for (const n of nics) nameOf[n.host] = n.hostName;
  // `only` (an agent's claim) ranks its one host instead of sorting every name (see below).
  const onlyOrdinal = input.only === undefined ? -1 : nameOf.indexOf(input.only);
  const byName: number[] = [];
  if (input.only === undefined || shared) {
    nameOf.forEach((_, o) => byName.push(o));
    byName.sort((a, b) => cmpStr(nameOf[a]!, nameOf[b]!));
  }
  let ordinalOf: Map<string, number> | undefined;
  const outEntries: CidrEntry[] = [];
  for (const e of entries) {
    const prev = prevEntries.get(e.key);
    const hosts: HostInterfaceInfo[] = [];
    const used = new Set<number>();
    const placed = new Uint8Array(hostCount);
    const podOf = (h: number): Cidr => subnetAt(e.vlan, hostBlock, h);
    const podAddress = subnetAddressFormatter(e.vlan, hostBlock);
    const podPrefix = `/${e.vlan.prefix + hostBlock}`;
    // ippoolName's text without re-reading the pod block's: `<network>-<address, ':' as '-'>-<prefix>`.
    const poolSuffix = `-${e.vlan.prefix + hostBlock}`;
    const v6 = e.vlan.family === 6;
    const excluded = (h: number): boolean => net.excludes.length > 0 && tabuBy(podOf(h), net.excludes) !== undefined;
    const add = (n: Nic, h: number): void => {
      if (input.only !== undefined && n.hostName !== input.only) return;
      const addr = podAddress(h);
      const pod = addr + podPrefix;
      const ippool = shared ? ippoolName(net.name, pod, n.hostName) : `${net.name}-${v6 ? addr.replaceAll(':', '-') : addr}${poolSuffix}`;
      // Keys in sorted order: -o json|yaml prints them so, without a copy (src/cli/output.ts sortK8s).
      hosts.push({ hostIP: n.hostIP, hostIndex: h, hostName: n.hostName, interfaceName: n.interfaceName, ippool, podCIDR: pod });
    };
    if (!shared) {
      for (const ph of prev?.hosts ?? []) {
        ordinalOf ??= new Map(nics.map((x) => [x.hostName, x.host] as const));
        const o = ordinalOf.get(ph.hostName);
        const n = o === undefined ? undefined : e.nics[o];
        if (!n || placed[n.host]) continue;
        const h = ph.hostIndex;
        if (Number.isInteger(h) && h >= 0 && h < hostMax && !used.has(h) && !excluded(h)) {
          used.add(h);
          add(n, h);
          placed[n.host] = 1;
        } else {
          warn('HostReindexed', `${n.hostName} had host index ${h} on ${e.key}, which the current configuration no longer allows; it gets a new pod block`);
        }
      }
    }
    if (input.only !== undefined && !shared) {
      // The fresh hosts of an entry take the free indexes in ascending order, in name order (the
      // loop below): the k-th of them by name gets the k-th free index. So one host's index needs
      // only how many fresh hosts sort before it, not every other host's index: at 4,096 hosts x 8
      // NICs that was a sort of the names and 32,768 index look-ups per claim.
      const n = onlyOrdinal < 0 ? undefined : e.nics[onlyOrdinal];
      if (n && !placed[onlyOrdinal]) {
        let k = 0;
        for (let o = 0; o < hostCount; o++) if (o !== onlyOrdinal && !placed[o] && e.nics[o] && nameOf[o]! < n.hostName) k++;
        const h = kthFreeIndex(e.vlan, hostBlock, k, used, net.excludes);
        if (h < 0) {
          unplaced.push({ hostName: n.hostName, interfaceName: n.interfaceName, netAddress: e.key, reason: `all ${hostMax} host indexes of hostBlock ${hostBlock} on ${e.key} are taken${net.excludes.length ? ' or excluded' : ''}; raise hostBlock` });
        } else {
          used.add(h);
          add(n, h);
        }
      }
    }
    let next = 0;
    for (const o of byName) {
      const n = e.nics[o];
      if (!n || placed[o]) continue;
      if (shared) {
        add(n, 0);
        continue;
      }
      const h = next < 0 ? -1 : lowestFreeIndex(e.vlan, hostBlock, next, used, net.excludes);
      if (h < 0) {
        next = -1;
        unplaced.push({ hostName: n.hostName, interfaceName: n.interfaceName, netAddress: e.key, reason: `all ${hostMax} host indexes of hostBlock ${hostBlock} on ${e.key} are taken${net.excludes.length ? ' or excluded' : ''}; raise hostBlock` });
        continue;
      }
      used.add(h);
      next = h + 1;
      add(n, h);
    }
    hosts.sort((a, b) => a.hostIndex - b.hostIndex || cmpStr(a.hostName, b.hostName));
    outEntries.push({ hosts, interfaceIndex: e.interfaceIndex, netAddress: e.key, vlanCIDR: formatCidr(e.vlan) });
  }

  const config: PluginConfig = {
    name: net.name,
    type: net.resource.spec.plugin.type,
    subnet: net.subnet ? formatCidr(net.subnet) : '',
    masterNets: pool.map(formatCidr),
    hostBlock,
    interfaceBlock,
    excludeCIDRs: net.excludes.map((c) => (c.prefix === (c.family === 4 ? 32 : 128) ? formatIp(c.family, c.base) : formatCidr(c))),
    ...(net.ipam.vlanMode ? { vlanMode: net.ipam.vlanMode } : {}),
  };
  const cidr: CIDR = { apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', metadata: { name: net.name }, spec: { config, cidr: outEntries } };
  unplaced.sort((a, b) => cmpStr(a.hostName, b.hostName) || cmpStr(a.netAddress, b.netAddress));
  const mine = input.only === undefined ? unplaced : unplaced.filter((u) => u.hostName === input.only);
  // The pools from the pod blocks as numbers: entry k of outEntries is entries[k].
  return { cidr, pools: poolsOf(cidr, (k, h) => subnetAt(entries[k]!.vlan, hostBlock, h.hostIndex)), unplaced: mine, warnings };
}

/**
 * The k-th (from 0) index of `parent` split by `bits` that is neither in `used` nor tabu, or -1
 * when there are not that many: what lowestFreeIndex called k + 1 times, each from the last + 1,
 * gives.
 */
function kthFreeIndex(parent: Cidr, bits: number, k: number, used: ReadonlySet<number>, excludes: readonly Cidr[]): number {
  const max = indexCount(bits);
  if (excludes.length === 0) {
    // Skip the used indexes at or below the candidate, in ascending order.
    let h = k;
    for (const u of [...used].sort((a, b) => a - b)) {
      if (u > h) break;
      h++;
    }
    return h < max ? h : -1;
  }
  let h = -1;
  for (let j = 0; j <= k; j++) {
    h = lowestFreeIndex(parent, bits, h + 1, used, excludes);
    if (h < 0) return -1;
  }
  return h;
}

function lowestFree(from: number, used: ReadonlySet<number>): number {
  let i = from;
  while (used.has(i)) i++;
  return i;
}
