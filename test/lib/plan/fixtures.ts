// Builders for planner tests: a MultiNicNetwork document from a few fields, and HostInterfaces from
// a compact `host: [[ifname, net, ip, extra?]...]` table.
import type { HostInterface, InterfaceInfo } from '../../../src/lib/crds/types.gen.js';
import { validateNetwork, type ValidatedNetwork } from '../../../src/lib/network.js';

export interface NetOpts {
  name?: string;
  subnet?: string;
  hostBlock?: number;
  interfaceBlock?: number;
  excludeCIDRs?: string[];
  masterNets?: string[];
  vlanMode?: string;
}

export function networkDoc(o: NetOpts = {}): Record<string, unknown> {
  const ipam: Record<string, unknown> = { type: 'multi-nic-ipam', hostBlock: o.hostBlock ?? 6, interfaceBlock: o.interfaceBlock ?? 2, vlanMode: o.vlanMode ?? 'l3' };
  if (o.excludeCIDRs) ipam.excludeCIDRs = o.excludeCIDRs;
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'MultiNicNetwork',
    metadata: { name: o.name ?? 'net' },
    spec: {
      subnet: o.subnet ?? '192.168.0.0/16',
      ipam: JSON.stringify(ipam),
      multiNICIPAM: true,
      plugin: { cniVersion: '0.3.0', type: 'ipvlan', args: { mode: 'l3' } },
      ...(o.masterNets ? { masterNets: o.masterNets } : {}),
    },
  };
}

export function network(o: NetOpts = {}): ValidatedNetwork {
  return validateNetwork({ source: 'test.yaml#1', value: networkDoc(o) });
}

export type NicRow = [ifname: string, netAddress: string, hostIP: string, extra?: Partial<InterfaceInfo>];

export function host(name: string, nics: NicRow[]): HostInterface {
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'HostInterface',
    metadata: { name },
    spec: { hostName: name, interfaces: nics.map(([interfaceName, netAddress, hostIP, extra]) => ({ interfaceName, netAddress, hostIP, ...extra })) },
  };
}

/** `n` hosts named h000.. with one NIC per network in `nets` (IPv4 /24s: host i gets .i+1). */
export function fleet(n: number, nets: string[], first = 0): HostInterface[] {
  const out: HostInterface[] = [];
  for (let i = first; i < first + n; i++) {
    out.push(host(`h${String(i).padStart(3, '0')}`, nets.map((c, k) => [`eth${k}`, c, c.replace(/0\/\d+$/, String(i + 1))])));
  }
  return out;
}
