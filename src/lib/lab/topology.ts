// The lab's topology as plain data: N simulated hosts x M secondary NICs. Every name carries the
// lab's prefix so `lab down` can find (and only find) what a lab made, even after a crash.
//
//   root netns:  bridge <prefix>-mgmt 10.<200-249 by prefix>.0.1/16  ── API server, node runner, supervisor
//   host netns <prefix>-hN:  eth0 (mgmt, default route) + eth1..ethM (secondary NICs)
//   fabric netns <prefix>-fab: bridge fabI per NIC index; each host's ethI plugs into fabI
//
// The management NIC carries the default route, so discovery skips it exactly as it skips a real
// node's primary interface.

export interface LabOptions {
  prefix: string;
  hosts: number;
  nics: number;
  ipv6: boolean;
}

export interface LabNic {
  /** Name inside the host netns (eth1, eth2, …). */
  name: string;
  /** Peer name inside the fabric netns. */
  peer: string;
  fabric: string;
  ipv4: string;
  prefixLen: number;
  network: string;
  ipv6?: string;
  networkV6?: string;
}

export interface LabHost {
  name: string;
  netns: string;
  mgmtIp: string;
  /** Root-side veth of the management link. */
  mgmtPeer: string;
  nics: LabNic[];
}

export interface LabTopology {
  prefix: string;
  mgmtBridge: string;
  mgmtGateway: string;
  mgmtPrefixLen: number;
  fabricNetns: string;
  fabrics: Array<{ name: string; network: string; networkV6?: string }>;
  hosts: LabHost[];
}

export const LAB_LIMITS = { maxHosts: 200, maxNics: 16 } as const;

/** Validates options; returns an error message naming the flag, or undefined. */
export function checkLabOptions(o: LabOptions): string | undefined {
  if (!/^[a-z][a-z0-9]{1,5}$/.test(o.prefix)) return `--prefix "${o.prefix}" must be 2-6 lowercase letters/digits starting with a letter (it prefixes every interface name, max 15 chars)`;
  if (!Number.isInteger(o.hosts) || o.hosts < 1 || o.hosts > LAB_LIMITS.maxHosts) return `--hosts must be an integer 1-${LAB_LIMITS.maxHosts}, got ${o.hosts}`;
  if (!Number.isInteger(o.nics) || o.nics < 1 || o.nics > LAB_LIMITS.maxNics) return `--nics must be an integer 1-${LAB_LIMITS.maxNics}, got ${o.nics}`;
  return undefined;
}

/** The topology for the options (pure: same options, same names and addresses). */
/** Second octet of the lab's management network, derived from the prefix so two labs can coexist. */
export function mgmtOctet(prefix: string): number {
  let h = 0;
  for (const c of prefix) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 200 + (h % 50);
}

export function labTopology(o: LabOptions): LabTopology {
  const m = mgmtOctet(o.prefix);
  const fabrics = Array.from({ length: o.nics }, (_, i) => ({
    name: `fab${i + 1}`,
    network: `10.0.${i + 1}.0/24`,
    ...(o.ipv6 ? { networkV6: `fd00:0:${i + 1}::/64` } : {}),
  }));
  const hosts: LabHost[] = Array.from({ length: o.hosts }, (_, h) => {
    const n = h + 1;
    const name = `host${n}`;
    return {
      name,
      netns: `${o.prefix}-${name}`,
      mgmtIp: `10.${m}.${Math.floor((n + 9) / 250)}.${((n + 9) % 250) + 1}`,
      mgmtPeer: `${o.prefix}m${n}`,
      nics: fabrics.map((f, i) => ({
        name: `eth${i + 1}`,
        peer: `h${n}e${i + 1}`,
        fabric: f.name,
        ipv4: `10.0.${i + 1}.${n}`,
        prefixLen: 24,
        network: f.network,
        ...(o.ipv6 ? { ipv6: `fd00:0:${i + 1}::${n.toString(16)}`, networkV6: f.networkV6 } : {}),
      })),
    };
  });
  return {
    prefix: o.prefix,
    mgmtBridge: `${o.prefix}-mgmt`,
    mgmtGateway: `10.${m}.0.1`,
    mgmtPrefixLen: 16,
    fabricNetns: `${o.prefix}-fab`,
    fabrics,
    hosts,
  };
}
