// A small cluster as plain objects: 3 hosts x 2 NICs, network "fabric", as the agents would write it.
import type { CIDR, HostInterface, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import type { CheckOptions } from '../../../src/lib/check/types.js';

export const HOSTS = ['host-a', 'host-b', 'host-c'];

export function sampleCidr(hosts = HOSTS): CIDR {
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'CIDR',
    metadata: { name: 'fabric' },
    spec: {
      config: { name: 'fabric', type: 'macvlan', subnet: '192.168.0.0/16', masterNets: ['10.0.1.0/24', '10.0.2.0/24'], hostBlock: 6, interfaceBlock: 2, vlanMode: 'l3' },
      cidr: [1, 0].map((i) => ({
        netAddress: `10.0.${i + 1}.0/24`,
        interfaceIndex: i,
        vlanCIDR: `192.168.${i * 64}.0/18`,
        hosts: hosts.map((h, hi) => ({ hostIndex: hi, hostName: h, interfaceName: `eth${i + 1}`, hostIP: `10.0.${i + 1}.${hi + 1}`, podCIDR: `192.168.${i * 64 + hi}.0/24` })),
      })),
    },
  };
}

export function sampleHostInterfaces(opts: { physical?: boolean; speed?: number } = {}, hosts = HOSTS): HostInterface[] {
  return hosts.map((h, hi) => ({
    apiVersion: 'multinic.fms.io/v1',
    kind: 'HostInterface',
    metadata: { name: h },
    spec: {
      hostName: h,
      interfaces: [1, 2].map((i) => ({
        interfaceName: `eth${i}`,
        netAddress: `10.0.${i}.0/24`,
        hostIP: `10.0.${i}.${hi + 1}`,
        speed: opts.speed ?? 10000,
        ...(opts.physical ? { pciAddress: `0000:3b:00.${i}`, vendor: '15b3', product: '1019' } : {}),
      })),
    },
  }));
}

export function sampleNetwork(masterNets?: string[]): MultiNicNetwork {
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'MultiNicNetwork',
    metadata: { name: 'fabric' },
    spec: { subnet: '', ipam: '{"type":"multi-nic-ipam"}', plugin: { cniVersion: '1.0.0', type: 'macvlan' }, ...(masterNets ? { masterNets } : {}) },
  };
}

export const OPTS: CheckOptions = {
  networks: [],
  nodes: [],
  pairs: 'all',
  duration: 5,
  parallel: 1,
  concurrency: 2,
  tolerance: 0.2,
  image: 'networkstatic/iperf3',
  portBase: 5201,
  namespace: 'default',
  keepPods: false,
};
