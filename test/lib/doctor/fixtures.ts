// A healthy DoctorSnapshot built by hand (2 hosts x 2 NICs, one macvlan L3 network, two running
// pods with one interface each), for the check tests to break one thing at a time.
import type { CIDR, HostInterface, IPPool, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import { renderNad } from '../../../src/lib/cluster/nad.js';
import { renderIPPool } from '../../../src/lib/cluster/ippool.js';
import { nicAddressing } from '../../../src/lib/agent/addressing.js';
import { parseIpamConfig } from '../../../src/lib/network.js';
import type { NodeDiagnostics } from '../../../src/lib/diagnostics/types.js';
import type { DoctorSnapshot } from '../../../src/lib/doctor/types.js';
import { withHash } from '../../../src/lib/install/apply.js';
import { renderInstall } from '../../../src/lib/install/render.js';
import type { KubeObject } from '../../../src/lib/k8s/meta.js';
import { validateNetwork } from '../../../src/lib/network.js';
import { planNetwork } from '../../../src/lib/plan/index.js';
import type { Allocation } from '../../../src/lib/ipam/types.js';

export const NOW = '2026-12-02T12:00:00.000Z';
export const VERSION = '0.1.0';
export const HOSTS = ['host1', 'host2'];

export function network(name = 'net-a', subnet = '192.168.0.0/16', hostBlock = 6): MultiNicNetwork {
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'MultiNicNetwork',
    metadata: { name, uid: `uid-${name}` },
    spec: {
      subnet,
      ipam: JSON.stringify({ type: 'multi-nic-ipam', hostBlock, interfaceBlock: 2, vlanMode: 'l3' }),
      multiNICIPAM: true,
      masterNets: ['10.0.1.0/24', '10.0.2.0/24'],
      plugin: { cniVersion: '0.3.0', type: 'macvlan', args: { mode: 'bridge' } },
      attachPolicy: { strategy: 'none' },
    },
    status: { configStatus: 'Success', routeStatus: 'Success', message: '', hosts: HOSTS.map((h) => ({ hostName: h, ready: true, routes: 2 })) },
  } as MultiNicNetwork;
}

export function hostInterface(host: string, i: number): HostInterface {
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'HostInterface',
    metadata: { name: host },
    spec: {
      hostName: host,
      interfaces: [
        { interfaceName: 'eth1', netAddress: '10.0.1.0/24', hostIP: `10.0.1.${i}`, mtu: 1500 },
        { interfaceName: 'eth2', netAddress: '10.0.2.0/24', hostIP: `10.0.2.${i}`, mtu: 1500 },
      ],
    },
    status: { agentVersion: VERSION, lastSeen: NOW },
  } as HostInterface;
}

export function pod(name: string, node: string, uid = `uid-${name}`, extra: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid, annotations: { 'k8s.v1.cni.cncf.io/networks': 'net-a', ...extra } }, spec: { nodeName: node }, status: { phase: 'Running' } };
}

// Kubelets label every node with its OS; the agent DaemonSet selects kubernetes.io/os=linux.
const node = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/os': 'linux' } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });

/** Diagnostics of a healthy host: routes and rule present, forwarding on, NICs up, binaries there, journal ok. */
export function diagnostics(host: string, allocations: NodeDiagnostics['allocations']): NodeDiagnostics {
  return {
    version: 1,
    observedAt: NOW,
    agentVersion: VERSION,
    networks: [{ network: 'net-a', table: 'net-a', vlanMode: 'l3', desiredRoutes: 2, missingRoutes: [], foreignRoutes: [], rulePresent: true, shims: [] }],
    sysctls: { ipv4Forward: 1, rpFilterAll: 0, rpFilter: { eth1: 2, eth2: 2 }, forwardingNeeded: true },
    nics: ['eth1', 'eth2'].map((n, k) => ({ name: n, netAddress: `10.0.${k + 1}.0/24`, operState: 'up', adminUp: true, carrier: true, mtu: 1500, addresses: [`10.0.${k + 1}.${HOSTS.indexOf(host) + 1}/24`], networks: ['net-a'] })),
    binaries: [
      { name: 'multi-nic', path: '/opt/cni/bin/multi-nic', present: true, executable: true, version: VERSION, neededBy: ['net-a'] },
      { name: 'macvlan', path: '/opt/cni/bin/macvlan', present: true, executable: true, neededBy: ['net-a'], kernelSupport: true },
    ],
    journal: { ok: true, allocations: allocations.length },
    allocations,
    repairs: [],
  };
}

/** The snapshot, healthy: every check passes. */
export function healthy(): DoctorSnapshot {
  const net = network();
  const his = HOSTS.map((h, i) => hostInterface(h, i + 1));
  const v = validateNetwork({ source: 'test', value: { apiVersion: net.apiVersion, kind: net.kind, metadata: { name: 'net-a' }, spec: net.spec } });
  const { cidr } = planNetwork({ network: v, inventory: his });
  const cidrObj: CIDR = { ...cidr, metadata: { name: 'net-a' } };
  const ipam = parseIpamConfig('net-a', net.spec.ipam);
  const pods = [pod('p1', 'host1'), pod('p2', 'host2')];
  const allocs: Allocation[] = [];
  const ippools: IPPool[] = [];
  for (const e of cidr.spec.cidr) {
    for (const h of e.hosts) {
      const a = nicAddressing(net, ipam, e, h);
      const mine = e.interfaceIndex === 0 ? pods.filter((p) => (p.spec as { nodeName: string }).nodeName === h.hostName) : [];
      const held: Allocation[] = mine.map((p) => ({ pool: a.pool.name, network: 'net-a', podUID: p.metadata!.uid!, containerID: `c-${p.metadata!.name}`, interface: 'net1-0', address: h.podCIDR.replace(/0\/24$/, '2'), index: 2, podName: p.metadata!.name!, namespace: 'default' }));
      allocs.push(...held);
      ippools.push(renderIPPool(a.pool, held));
    }
  }
  for (const p of pods) {
    const a = allocs.find((x) => x.podUID === p.metadata?.uid)!;
    p.metadata!.annotations!['k8s.v1.cni.cncf.io/network-status'] = JSON.stringify([{ name: 'default/net-a', interface: 'net1-0', ips: [a.address] }]);
  }
  for (const hi of his) {
    const mine = allocs.filter((a) => ippools.find((p) => p.metadata.name === a.pool)?.spec.hostName === hi.metadata.name);
    (hi.status as Record<string, unknown>).diagnostics = diagnostics(
      hi.metadata.name!,
      mine.map((a) => ({ network: 'net-a', pool: a.pool, address: a.address, pod: `default/${a.podName}`, podUID: a.podUID, containerID: a.containerID, podInterface: a.interface, state: 'present' as const })),
    );
  }
  const install = renderInstall({ version: VERSION });
  const ds = install.find((o) => o.kind === 'DaemonSet')!;
  ds.status = { desiredNumberScheduled: 2, numberReady: 2 };
  const multus: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'kube-multus-ds', namespace: 'kube-system' },
    spec: { template: { spec: { volumes: [{ name: 'cnibin', hostPath: { path: '/opt/cni/bin' } }] } } },
  };
  const nad = renderNad(net, 'default', ['10.0.1.0/24', '10.0.2.0/24']);
  return {
    networks: [net],
    cidrs: [cidrObj],
    ippools,
    hostInterfaces: his,
    nodes: HOSTS.map(node),
    daemonSets: [ds],
    now: NOW,
    cliVersion: VERSION,
    crds: install.filter((o) => o.kind === 'CustomResourceDefinition').map(withHash),
    allDaemonSets: [ds, multus],
    nads: [nad],
    namespaces: [{ name: 'default', phase: 'Active' }],
    pods,
    events: [],
    probes: HOSTS.map((h) => ({ node: h, nonce: 'n1', answered: true })),
  };
}

/** The diagnostics of `host` in `s` (for tests to break). */
export function diag(s: DoctorSnapshot, host: string): NodeDiagnostics {
  return (s.hostInterfaces.find((h) => h.metadata.name === host)!.status as { diagnostics: NodeDiagnostics }).diagnostics;
}
