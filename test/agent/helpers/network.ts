// A test network shaped like the data-path setup: subnet 192.168.0.0/16, interfaceBlock 2,
// hostBlock 6, NIC networks 10.0.1.0/24 and 10.0.2.0/24, hosts h1..hN (host index i-1, NIC IP .i),
// written by hand as the planner would.
import type { AttachPolicy, CIDR, DeviceClass, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import type { AgentState, NetworkState, PodFacts } from '../../../src/agent/state.js';
import { stringify } from 'yaml';

export function testNetwork(opts: { name?: string; plugin?: 'macvlan' | 'ipvlan'; vlanMode?: string; strategy?: AttachPolicy['strategy']; target?: string } = {}): MultiNicNetwork {
  const name = opts.name ?? 'mnet';
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'MultiNicNetwork',
    metadata: { name },
    spec: {
      subnet: '192.168.0.0/16',
      ipam: JSON.stringify({ type: 'multi-nic-ipam', hostBlock: 6, interfaceBlock: 2, vlanMode: opts.vlanMode ?? 'l3' }),
      multiNICIPAM: true,
      plugin: { cniVersion: '1.0.0', type: opts.plugin ?? 'macvlan', args: { mode: 'bridge' } },
      attachPolicy: { strategy: opts.strategy ?? 'none', ...(opts.target ? { target: opts.target } : {}) },
      masterNets: ['10.0.1.0/24', '10.0.2.0/24'],
    },
  };
}

/** CIDR for `hosts` (names) each with NICs eth1 (10.0.1.0/24) and eth2 (10.0.2.0/24). */
export function testCidr(hosts: string[], name = 'mnet', nics: Array<{ dev: string; net: number }> = [{ dev: 'eth1', net: 1 }, { dev: 'eth2', net: 2 }]): CIDR {
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'CIDR',
    metadata: { name },
    spec: {
      config: { name, type: 'macvlan', subnet: '192.168.0.0/16', masterNets: nics.map((n) => `10.0.${n.net}.0/24`), hostBlock: 6, interfaceBlock: 2, vlanMode: 'l3' },
      cidr: nics.map((n, i) => ({
        netAddress: `10.0.${n.net}.0/24`,
        interfaceIndex: i,
        vlanCIDR: `192.168.${i * 64}.0/18`,
        hosts: hosts.map((h, hi) => ({ hostIndex: hi, hostName: h, interfaceName: n.dev, hostIP: `10.0.${n.net}.${hi + 1}`, podCIDR: `192.168.${i * 64 + hi}.0/24` })),
      })),
    },
  };
}

export function stateYaml(docs: Array<MultiNicNetwork | CIDR | DeviceClass>): string {
  return docs.map((d) => stringify(d)).join('---\n');
}

/** AgentState from objects in memory (unit tests of the core and server). */
export class StaticState implements AgentState {
  facts: PodFacts = { gpuNumaNodes: [], deviceIDs: [] };
  private listeners = new Set<() => void>();
  constructor(
    public nets: NetworkState[],
    public classes: Record<string, DeviceClass> = {},
  ) {}
  networks() {
    return this.nets;
  }
  network(name: string) {
    return this.nets.find((n) => n.network.metadata.name === name);
  }
  deviceClasses() {
    return this.classes;
  }
  async podFacts() {
    return this.facts;
  }
  onChange(l: () => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  changed() {
    for (const l of this.listeners) l();
  }
  close() {}
}
