// `kubectl multinic ipam show`: blocks per host x NIC with used / capacity (the one capacity
// definition, poolCapacity in src/lib/plan/pools.ts) and, for -o wide|json, every allocation. Built
// from the same DoctorSnapshot as doctor and ipam check. Pure.
import { listPools } from '../plan/index.js';
import type { DoctorSnapshot } from './types.js';

export interface IpamAllocationRow {
  address: string;
  /** namespace/name */
  pod: string;
  podUID?: string;
  containerID?: string;
  interface?: string;
  /** The pod no longer exists (a leak until the agent's GC). */
  leaked: boolean;
}

export interface IpamPoolRow {
  network: string;
  node: string;
  nic: string;
  pool: string;
  podCIDR: string;
  used: number;
  /** Usable minus excludes minus reserved: what pods can get (decimal string, IPv6 blocks are huge). */
  capacity: string;
  excludes: string[];
  /** Addresses never handed out (the L3 shim gateway). */
  reserved: string[];
  allocations: IpamAllocationRow[];
}

export interface IpamReport {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'IpamReport';
  pools: IpamPoolRow[];
}

export function buildIpamReport(s: DoctorSnapshot, only: { network?: string; node?: string } = {}): IpamReport {
  const ippools = new Map(s.ippools.map((p) => [p.metadata.name ?? '', p]));
  const uids = new Set(s.pods.map((p) => p.metadata?.uid));
  const names = new Set(s.pods.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`));
  const pools: IpamPoolRow[] = [];
  for (const cidr of [...s.cidrs].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1))) {
    for (const p of listPools(cidr)) {
      if ((only.network && p.network !== only.network) || (only.node && p.hostName !== only.node)) continue;
      const allocs = [...(ippools.get(p.name)?.spec.allocations ?? [])].sort((a, b) => a.index - b.index);
      pools.push({
        network: p.network,
        node: p.hostName,
        nic: p.interfaceName,
        pool: p.name,
        podCIDR: p.podCIDR,
        used: allocs.length,
        capacity: p.capacity.toString(),
        excludes: p.excludes,
        reserved: p.reserved,
        allocations: allocs.map((a) => ({
          address: a.address,
          pod: `${a.namespace}/${a.pod}`,
          ...(a.podUID ? { podUID: a.podUID } : {}),
          ...(a.containerID ? { containerID: a.containerID } : {}),
          ...(a.interface ? { interface: a.interface } : {}),
          leaked: a.podUID ? !uids.has(a.podUID) : !names.has(`${a.namespace}/${a.pod}`),
        })),
      });
    }
  }
  return { apiVersion: 'multinic.fms.io/v1', kind: 'IpamReport', pools };
}
