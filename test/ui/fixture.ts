// Fixed cluster snapshots for the TUI tests, built the way the cluster gets them: the network is
// validated and planned by the real planner over an inventory of HostInterfaces, and IPPools are
// the planned pools; the knobs then break one thing at a time (a NIC down, a route missing...).
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import type { CIDR, HostInterface, IPPool, MultiNicNetwork } from '../../src/lib/crds/types.gen.js';
import type { NodeDiagnostics } from '../../src/lib/diagnostics/types.js';
import type { DoctorSnapshot } from '../../src/lib/doctor/types.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { validateNetwork } from '../../src/lib/network.js';
import { planNetwork } from '../../src/lib/plan/index.js';
import type { ClusterData } from '../../src/lib/ui/model.js';

export interface LabShape {
  hosts: number;
  nics: number;
  name?: string;
}

const hostName = (h: number): string => `host${h}`;

export function labData(o: LabShape): ClusterData {
  const name = o.name ?? 'multi-nic-sample';
  const masterNets = Array.from({ length: o.nics }, (_, i) => `10.0.${i + 1}.0/24`);
  const hostBlock = o.hosts > 32 ? 7 : 6;
  const doc = {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'MultiNicNetwork',
    metadata: { name },
    spec: {
      subnet: '192.168.0.0/16',
      ipam: JSON.stringify({ type: 'multi-nic-ipam', hostBlock, interfaceBlock: 2, vlanMode: 'l3' }),
      multiNICIPAM: true,
      masterNets,
      plugin: { cniVersion: '0.3.0', type: 'macvlan', args: { mode: 'bridge' } },
      attachPolicy: { strategy: 'none' },
    },
  };
  const hostInterfaces: HostInterface[] = Array.from({ length: o.hosts }, (_, h) => ({
    apiVersion: 'multinic.fms.io/v1',
    kind: 'HostInterface',
    metadata: {
      name: hostName(h + 1),
      resourceVersion: '1',
      annotations: { 'multinic.fms.io/routes': JSON.stringify({ [name]: { cidr: 'fixture', routes: (o.hosts - 1) * o.nics, ok: true } }) },
    },
    spec: {
      hostName: hostName(h + 1),
      interfaces: masterNets.map((net, i) => ({
        interfaceName: `eth${i + 1}`,
        netAddress: net,
        hostIP: `10.0.${i + 1}.${h + 1}`,
        vendor: '15b3',
        product: '1017',
        pciAddress: `0000:0${i}:00.0`,
        numaNode: i % 2,
        speed: 100000,
        mtu: 9000,
        state: 'up',
      })),
    },
    status: { agentVersion: '0.1.0', lastSeen: '2026-12-02T10:00:00Z' },
  }));
  const plan = planNetwork({ network: validateNetwork({ source: 'fixture', value: doc }), inventory: hostInterfaces });
  const cidr: CIDR = { ...plan.cidr, metadata: { ...plan.cidr.metadata, name } };
  const ippools: IPPool[] = plan.pools.map((p) => ({
    apiVersion: 'multinic.fms.io/v1',
    kind: 'IPPool',
    metadata: { name: p.name },
    spec: { podCIDR: p.podCIDR, vlanCIDR: p.vlanCIDR, netAttachDef: name, hostName: p.hostName, interfaceName: p.interfaceName, excludes: [], allocations: [] },
  }));
  const network = {
    ...doc,
    status: {
      configStatus: 'Success',
      routeStatus: 'Success',
      message: '',
      hosts: hostInterfaces.map((h) => ({ hostName: h.spec.hostName, ready: true, routes: (o.hosts - 1) * o.nics })),
    },
  } as unknown as MultiNicNetwork;
  const nodes: KubeObject[] = hostInterfaces.map((h) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: h.spec.hostName }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }));
  const daemonSets: KubeObject[] = [
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'multinic-agent', namespace: 'multinic-system' },
      spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'multinic-agent' } } },
      status: { desiredNumberScheduled: o.hosts, numberReady: o.hosts },
    },
  ];
  return { snapshot: { networks: [network], cidrs: [cidr], ippools, hostInterfaces, nodes, daemonSets }, pods: [] };
}

/** A running pod on `host` with one interface per NIC of the network, its addresses allocated in the pools. */
export function withPod(d: ClusterData, pod: string, host: string): ClusterData {
  const net = d.snapshot.networks[0]?.metadata.name ?? '';
  const pools = d.snapshot.ippools.filter((p) => p.spec.hostName === host);
  const entries = pools.map((p, i) => {
    const base = p.spec.podCIDR.split('/')[0]!.split('.').map(Number);
    const address = `${base[0]}.${base[1]}.${base[2]}.${(base[3] ?? 0) + 2}`;
    return { pool: p, address, ifc: `net1-${i}` };
  });
  const ippools = d.snapshot.ippools.map((p) => {
    const e = entries.find((x) => x.pool === p);
    return e ? { ...p, spec: { ...p.spec, allocations: [...p.spec.allocations, { pod, namespace: 'default', index: 2, address: e.address, interface: e.ifc }] } } : p;
  });
  const status = entries.map((e) => ({ name: `default/${net}`, interface: e.ifc, ips: [e.address], dns: {} }));
  const p: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod, namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/network-status': JSON.stringify(status) } },
    spec: { nodeName: host },
    status: { phase: 'Running' },
  };
  return { snapshot: { ...d.snapshot, ippools }, pods: [...d.pods, p] };
}

/** The agent on `host` publishes kernel truth; `down` NICs are down, `missing` routes gone (on `missingDev`). */
export function withDiagnostics(d: ClusterData, host: string, o: { down?: string[]; missing?: Array<{ dst: string; via: string; dev: string }> } = {}): ClusterData {
  const net = d.snapshot.networks[0]?.metadata.name ?? '';
  const hostInterfaces = d.snapshot.hostInterfaces.map((hi) => {
    if (hi.spec.hostName !== host) return hi;
    const diag: NodeDiagnostics = {
      version: 1,
      observedAt: '2026-12-02T10:00:05Z',
      agentVersion: '0.1.0',
      networks: [{ network: net, table: net, vlanMode: 'l3', desiredRoutes: 0, missingRoutes: o.missing ?? [], foreignRoutes: [], rulePresent: true }],
      sysctls: { forwardingNeeded: true, ipv4Forward: 1 },
      nics: hi.spec.interfaces.map((i) => {
        const down = o.down?.includes(i.interfaceName) ?? false;
        return { name: i.interfaceName, netAddress: i.netAddress, operState: down ? 'down' : 'up', adminUp: !down, carrier: !down, mtu: i.mtu ?? 1500, addresses: [`${i.hostIP}/24`], networks: [net] };
      }),
      binaries: [],
      journal: { ok: true, allocations: 0 },
      allocations: [],
      repairs: [],
    };
    return { ...hi, status: { ...hi.status, diagnostics: diag } } as HostInterface;
  });
  return { ...d, snapshot: { ...d.snapshot, hostInterfaces } };
}

/** What status data alone shows when a NIC's link goes down: the agent's discovery drops it. */
export function withNicUndiscovered(d: ClusterData, host: string, nic: string): ClusterData {
  const hostInterfaces = d.snapshot.hostInterfaces.map((hi) => (hi.spec.hostName === host ? { ...hi, spec: { ...hi.spec, interfaces: hi.spec.interfaces.filter((i) => i.interfaceName !== nic) } } : hi));
  return { ...d, snapshot: { ...d.snapshot, hostInterfaces } };
}

export const emptyCluster = (): ClusterData => ({ snapshot: { networks: [], cidrs: [], ippools: [], hostInterfaces: [], nodes: [], daemonSets: [] }, pods: [] });

/** After the agents re-plan for a NIC gone from `host`: the CIDR no longer has the host's block on that NIC network. */
export function withBlockGone(d: ClusterData, host: string, nic: string): ClusterData {
  const gone = withNicUndiscovered(d, host, nic);
  const cidrs = gone.snapshot.cidrs.map((c) => ({ ...c, spec: { ...c.spec, cidr: c.spec.cidr.map((e) => ({ ...e, hosts: e.hosts.filter((h) => !(h.hostName === host && h.interfaceName === nic)) })) } }));
  return { ...gone, snapshot: { ...gone.snapshot, cidrs } };
}

/** The doctor's snapshot over this data (no probe made: what the agents last published). */
export function doctorSnapshotOf(d: ClusterData): DoctorSnapshot {
  return {
    ...d.snapshot,
    now: '2026-12-02T10:00:10Z',
    cliVersion: '0.1.0',
    crds: CRDS as unknown as KubeObject[],
    allDaemonSets: d.snapshot.daemonSets,
    nads: [],
    namespaces: [{ name: 'default', phase: 'Active' }],
    pods: d.pods,
    events: [],
    probes: [],
  };
}

/** `d` with a DRA ResourceClaim (allocated, reserved for `pod`) holding `nics` of `host`, and the host's slice. */
export function withClaim(d: ClusterData, host: string, nics: string[], claim: string, pod: string): ClusterData {
  const slice = { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: `${host}-multinic.fms.io` }, spec: { driver: 'multinic.fms.io', nodeName: host, pool: { name: host, generation: 1, resourceSliceCount: 1 }, devices: nics.map((n) => ({ name: n, attributes: { interfaceName: { string: n } } })) } };
  const rc = {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: { name: claim, namespace: 'default' },
    spec: { devices: { requests: [{ name: 'nics', exactly: { deviceClassName: 'multi-nic-sample.multinic.fms.io', count: nics.length } }] } },
    status: { allocation: { devices: { results: nics.map((n) => ({ request: 'nics', driver: 'multinic.fms.io', pool: host, device: n })) } }, reservedFor: [{ resource: 'pods', name: pod, uid: `u-${pod}` }] },
  };
  return { ...d, snapshot: { ...d.snapshot, draClaims: [...(d.snapshot.draClaims ?? []), rc], draSlices: [...(d.snapshot.draSlices ?? []), slice] } as ClusterData['snapshot'] };
}
