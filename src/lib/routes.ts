// Host L3 routes of a network (docs/design.md §3.2): on each host, one policy table named after the network
// with a rule `from <subnet> lookup <table>`, and per NIC network a route to every other host's pod
// block via that host's NIC address on the matching local NIC. Pure; `plan --routes` prints it and
// the agent installs it.
import type { CIDR } from './crds/types.gen.js';

export interface HostRoute {
  /** Destination: another host's pod block. */
  dst: string;
  /** That host's address on the same NIC network. */
  via: string;
  /** The local NIC on that network. */
  dev: string;
  /** Policy routing table name (= network name). */
  table: string;
}

export interface HostRoutes {
  hostName: string;
  routes: HostRoute[];
}

export interface RoutePlan {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'RoutePlan';
  network: string;
  /** The rule's source: the network's subnet (empty in host-subnet mode: no rule). */
  subnet: string;
  hosts: HostRoutes[];
}

/** The routes one host needs for a network, sorted by destination. */
export function routesForHost(cidr: CIDR, hostName: string): HostRoute[] {
  const table = cidr.spec.config.name || cidr.metadata.name || '';
  const out: HostRoute[] = [];
  for (const entry of cidr.spec.cidr) {
    const local = entry.hosts.find((h) => h.hostName === hostName);
    if (!local) continue;
    for (const other of entry.hosts) {
      if (other.hostName === hostName) continue;
      out.push({ dst: other.podCIDR, via: other.hostIP, dev: local.interfaceName, table });
    }
  }
  return out.sort((a, b) => (a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0));
}

/** The routes of every host of a network, hosts sorted by name. */
export function routePlan(cidr: CIDR): RoutePlan {
  const names = new Set<string>();
  for (const e of cidr.spec.cidr) for (const h of e.hosts) names.add(h.hostName);
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'RoutePlan',
    network: cidr.spec.config.name || cidr.metadata.name || '',
    subnet: cidr.spec.config.subnet,
    hosts: [...names].sort().map((hostName) => ({ hostName, routes: routesForHost(cidr, hostName) })),
  };
}
