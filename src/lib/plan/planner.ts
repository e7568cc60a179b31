// The address planner (design §3.2, upstream.md §2.6/§3): carves a network's subnet into one
// interface block per NIC network and one pod block per host on it, for IPv4 and IPv6. The same
// function serves `plan` (fresh, or from a previous CIDR) and the agent (re-plan on every inventory
// change): existing indexes never move, new hosts take the lowest free index, departed hosts free
// theirs. Pure and O(hosts x NICs).
import type { CIDR, CidrEntry, HostInterface, HostInterfaceInfo, PluginConfig } from '../crds/types.gen.js';
import { nicsOf, type Nic } from '../inventory.js';
import { compareCidr, containsCidr, formatCidr, formatIp, subnetAt, tryParseCidr, type Cidr } from '../net/ip.js';
import type { ValidatedNetwork } from '../network.js';
import { indexCount, lowestFreeIndex, tabuBy } from '../net/blocks.js';
import { ippoolName, listPools, type PlannedPool } from './pools.js';

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
  nics: Map<string, Nic>;
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
  const nics = nicsOf(input.inventory, net.family);
  let pool: Cidr[];
  if (net.masterNets.length > 0) pool = net.masterNets;
  else {
    const distinct = new Map<string, Cidr>();
    for (const n of nics) distinct.set(key(n.net), n.net);
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
      entries.push({ net: c, key: key(c), interfaceIndex: i, vlan: vlanOf(i, c), nics: new Map() });
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
    entries.push({ net: c, key: key(c), interfaceIndex: i, vlan: vlanOf(i, c), nics: new Map() });
  }
  entries.sort((a, b) => a.interfaceIndex - b.interfaceIndex);

  // Assign NICs to entries: exact network match through a map, containment (a masterNets entry
  // wider than the NIC networks) through a scan of the few entries.
  const byKey = new Map(entries.map((e) => [e.key, e] as const));
  const prevIfName = new Map<string, string>();
  for (const [k, e] of prevEntries) for (const h of e.hosts) prevIfName.set(`${k}|${h.hostName}`, h.interfaceName);
  for (const n of nics) {
    const e = byKey.get(key(n.net)) ?? entries.find((x) => containsCidr(x.net, n.net));
    if (!e) continue;
    if (!n.hostIP) {
      warn('NicWithoutAddress', `${n.hostName}/${n.interfaceName} on ${key(n.net)} has no host address: it gets no pod block`);
      continue;
    }
    const cur = e.nics.get(n.hostName);
    // A host with two NICs on one network: keep the one used before, else the lowest name.
    const preferred = prevIfName.get(`${e.key}|${n.hostName}`);
    if (!cur || (cur.interfaceName !== preferred && (n.interfaceName === preferred || n.interfaceName < cur.interfaceName))) {
      e.nics.set(n.hostName, n);
    }
  }

  // Host indexes per entry.
  const shared = hostBlock === 0;
  if (shared && nics.length > 0) warn('SharedPodBlock', `hostBlock 0: every host shares its NIC network's whole block, so pods on different hosts can get the same address unless addresses come from elsewhere`);
  const hostMax = indexCount(hostBlock);
  const outEntries: CidrEntry[] = [];
  for (const e of entries) {
    const prev = prevEntries.get(e.key);
    const hosts: HostInterfaceInfo[] = [];
    const used = new Set<number>();
    const placed = new Set<string>();
    const podOf = (h: number): Cidr => subnetAt(e.vlan, hostBlock, h);
    const add = (n: Nic, h: number): void => {
      const pod = formatCidr(podOf(h));
      hosts.push({ hostIndex: h, hostName: n.hostName, interfaceName: n.interfaceName, hostIP: n.hostIP, podCIDR: pod, ippool: ippoolName(net.name, pod, shared ? n.hostName : undefined) });
      placed.add(n.hostName);
    };
    if (!shared) {
      for (const ph of prev?.hosts ?? []) {
        const n = e.nics.get(ph.hostName);
        if (!n || placed.has(n.hostName)) continue;
        const h = ph.hostIndex;
        if (Number.isInteger(h) && h >= 0 && h < hostMax && !used.has(h) && !tabuBy(podOf(h), net.excludes)) {
          used.add(h);
          add(n, h);
        } else {
          warn('HostReindexed', `${n.hostName} had host index ${h} on ${e.key}, which the current configuration no longer allows; it gets a new pod block`);
        }
      }
    }
    const fresh = [...e.nics.values()].filter((n) => !placed.has(n.hostName)).sort((a, b) => cmpStr(a.hostName, b.hostName));
    let next = 0;
    for (const n of fresh) {
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
    outEntries.push({ netAddress: e.key, interfaceIndex: e.interfaceIndex, vlanCIDR: formatCidr(e.vlan), hosts });
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
  return { cidr, pools: listPools(cidr), unplaced, warnings };
}

function lowestFree(from: number, used: ReadonlySet<number>): number {
  let i = from;
  while (used.has(i)) i++;
  return i;
}
