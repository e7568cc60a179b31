// Every check of the doctor's registry over hand-built snapshots: the healthy snapshot gives no
// finding at all, and each row breaks one thing and expects exactly the findings it names.
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../../../src/lib/doctor/registry.js';
import { runDoctor, summaryLine } from '../../../src/lib/doctor/report.js';
import type { DoctorSnapshot, Finding } from '../../../src/lib/doctor/types.js';
import type { IPPool } from '../../../src/lib/crds/types.gen.js';
import { diag, healthy, hostInterface, network } from './fixtures.js';

type Expect = { check?: string; severity?: Finding['severity']; where?: Finding['where']; seen?: string | RegExp; cause?: string | RegExp; fix?: string | RegExp };
type Row = { name: string; break: (s: DoctorSnapshot) => void; expect: Expect[]; groups?: Array<'cluster' | 'node' | 'network' | 'ipam' | 'pod'> };

const pool = (s: DoctorSnapshot, host: string, nic = 'eth1'): IPPool => s.ippools.find((p) => p.spec.hostName === host && p.spec.interfaceName === nic)!;

/** host2's slice (eth1, eth2) and a claim holding `devices` on host2 for pod default/trainer. */
const claimed = (s: DoctorSnapshot, devices: string[]): void => {
  s.draSlices = [{ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: 'host2-multinic.fms.io' }, spec: { driver: 'multinic.fms.io', nodeName: 'host2', pool: { name: 'host2', generation: 1, resourceSliceCount: 1 }, devices: ['eth1', 'eth2'].map((n) => ({ name: n, attributes: { interfaceName: { string: n }, state: { string: 'up' } } })) } }];
  s.draClaims = [{ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'trainer-nics-x1', namespace: 'default' }, spec: {}, status: { allocation: { devices: { results: devices.map((d) => ({ request: 'nics', driver: 'multinic.fms.io', pool: 'host2', device: d })) } }, reservedFor: [{ resource: 'pods', name: 'trainer', uid: 'u1' }] } }];
};

/** A health round on `host` at `at` (default: the snapshot's time): eth1 and eth2, one peer each, all well. */
const health = (s: DoctorSnapshot, host: string, at = s.now): NonNullable<ReturnType<typeof diag>['health']> => {
  const h = { observedAt: at, durationMs: 120, intervalSeconds: 60, nics: ['eth1', 'eth2'].map((nic) => ({ nic, allocability: [{ network: 'multi-nic-sample', outcome: 'ok' as const }], peers: 1, reachable: 1, unreachable: [] as string[], unreachableCount: 0 })) };
  diag(s, host).health = h;
  return h;
};

const ROWS: Row[] = [
  // continuous health
  { name: 'health rounds that found nothing: nothing to say', break: (s) => { health(s, 'host1'); health(s, 'host2'); }, expect: [] },
  {
    name: 'a NIC whose test attachment fails',
    break: (s) => (health(s, 'host2').nics[1]!.allocability[0] = { network: 'multi-nic-sample', outcome: 'failed', message: 'failed to macvlan ADD: failed to find plugin "macvlan" in CNI_PATH [/opt/cni/bin]' }),
    expect: [{ check: 'nic-health', severity: 'fail', where: { node: 'host2', nic: 'eth2', network: 'multi-nic-sample' }, seen: 'a test attachment on host2/eth2 for network multi-nic-sample failed: failed to macvlan ADD: failed to find plugin "macvlan" in CNI_PATH [/opt/cni/bin]', fix: /the CNI bin dir/ }],
  },
  {
    name: 'a NIC that is down fails its test attachment and reaches no peer',
    break: (s) => {
      const n = health(s, 'host1').nics[0]!;
      n.allocability[0] = { network: 'multi-nic-sample', outcome: 'failed', message: 'NIC eth1 is not up in the host: the agent attaches no pod to it' };
      Object.assign(n, { reachable: 0, unreachable: ['host2 10.0.1.2'], unreachableCount: 1 });
    },
    expect: [
      { check: 'nic-health', where: { node: 'host1', nic: 'eth1', network: 'multi-nic-sample' }, fix: 'ip link set eth1 up on host1 (check cabling; kubectl multinic doctor --node host1 shows the link)' },
      { check: 'nic-health', where: { node: 'host1', nic: 'eth1' }, seen: '1 of 1 peer(s) do not answer host1 over eth1: host2 10.0.1.2', cause: /nothing answers over eth1/ },
    ],
  },
  {
    name: 'some peers unreachable over a NIC (listed capped, counted)',
    break: (s) => Object.assign(health(s, 'host2').nics[0]!, { peers: 40, reachable: 28, unreachable: Array.from({ length: 10 }, (_, i) => `h${i} 10.0.1.${i + 10}`), unreachableCount: 12 }),
    expect: [{ check: 'nic-health', where: { node: 'host2', nic: 'eth1' }, seen: /^12 of 40 peer\(s\) do not answer host2 over eth1: h0 10\.0\.1\.10, .*h9 10\.0\.1\.19 \(\+2 more\)$/, fix: 'kubectl multinic doctor --node h0 for the peer\'s side; allow TCP to the metrics port (default 9417) on the NIC network' }],
  },
  { name: 'a health round older than three intervals', break: (s) => void health(s, 'host1', new Date(Date.parse(s.now) - 600_000).toISOString()), expect: [{ check: 'nic-health', severity: 'warn', where: { node: 'host1' }, seen: 'the newest health round on host1 is 10m old (interval 60s)' }] },
  // DRA: NICs held by claims
  {
    name: 'a claimed NIC set down',
    break: (s) => {
      claimed(s, ['eth1', 'eth2']);
      Object.assign(diag(s, 'host2').nics[1]!, { adminUp: false, operState: 'down', carrier: false });
    },
    expect: [
      { check: 'node-claims', severity: 'fail', where: { node: 'host2', nic: 'eth2', pod: 'default/trainer' }, seen: 'NIC eth2 on host2, held by claim default/trainer-nics-x1 for pod default/trainer, is down', fix: 'ip link set eth2 up on host2' },
      { check: 'node-links', where: { node: 'host2', nic: 'eth2' } },
    ],
  },
  {
    name: 'a claimed NIC gone from the slice',
    break: (s) => claimed(s, ['eth1', 'eth9']),
    expect: [{ check: 'node-claims', severity: 'fail', where: { node: 'host2', nic: 'eth9', pod: 'default/trainer' }, seen: "NIC eth9 on host2, held by claim default/trainer-nics-x1 for pod default/trainer, is no longer in the node's ResourceSlice", fix: /kubectl delete pod -n default trainer/ }],
  },
  { name: 'claimed NICs up: nothing to say', break: (s) => claimed(s, ['eth1', 'eth2']), expect: [] },
  {
    name: 'DRA claims the user may not list: a warning, not a failed doctor',
    break: (s) => (s.draUnreadable = ['resourceclaims: resourceclaims.resource.k8s.io is forbidden: User "dev" cannot list resource "resourceclaims"']),
    expect: [{ check: 'node-claims', severity: 'warn', seen: /^cannot list resourceclaims: .*forbidden/, fix: /kubectl auth can-i list resourceclaims\.resource\.k8s\.io/ }],
  },
  // cluster
  { name: 'a CRD missing', break: (s) => (s.crds = s.crds.filter((c) => c.metadata?.name !== 'ippools.multinic.fms.io')), expect: [{ check: 'crds', severity: 'fail', seen: 'CRD ippools.multinic.fms.io is not installed' }] },
  {
    name: 'a CRD from another version',
    break: (s) => {
      const c = s.crds[0]!;
      c.metadata = { ...c.metadata, annotations: { 'multinic.fms.io/applied-hash': 'old' }, labels: { 'app.kubernetes.io/version': '0.0.9' } };
    },
    expect: [{ check: 'crds', severity: 'warn', seen: /differs from the one kubectl-multinic 0\.1\.0 installs \(installed by 0\.0\.9\)/ }],
  },
  { name: 'no agent DaemonSet', break: (s) => (s.daemonSets = []), expect: [{ check: 'agent-daemonset', severity: 'fail', seen: /no agent DaemonSet/ }] },
  { name: 'an agent not ready', break: (s) => (s.daemonSets[0]!.status = { desiredNumberScheduled: 2, numberReady: 1 }), expect: [{ check: 'agent-daemonset', severity: 'fail', seen: /1\/2 agents ready/ }] },
  {
    name: 'a node with a taint the DaemonSet does not tolerate',
    break: (s) => {
      (s.daemonSets[0]!.spec as { template: { spec: { tolerations: unknown[] } } }).template.spec.tolerations = [];
      s.nodes[1]!.spec = { taints: [{ key: 'nvidia.com/gpu', effect: 'NoSchedule' }] };
    },
    expect: [{ check: 'agent-daemonset', severity: 'warn', where: { node: 'host2' }, seen: /taint nvidia\.com\/gpu:NoSchedule that the agent DaemonSet does not tolerate/ }],
  },
  { name: 'a ready node without HostInterface', break: (s) => (s.hostInterfaces = s.hostInterfaces.filter((h) => h.metadata.name !== 'host2')), expect: [{ check: 'agent-daemonset', where: { node: 'host2' }, seen: 'the agent on host2 has not published its HostInterface' }], groups: ['cluster'] },
  { name: 'agent version skew', break: (s) => { s.hostInterfaces[0]!.status!.agentVersion = '0.0.9'; diag(s, 'host1').agentVersion = '0.0.9'; }, expect: [{ check: 'agent-version', severity: 'warn', where: { node: 'host1' }, seen: 'agent 0.0.9 on host1; this CLI is 0.1.0' }, { check: 'node-binaries', severity: 'warn', seen: /version 0\.1\.0; the agent is 0\.0\.9/ }] },
  { name: 'no Multus at all', break: (s) => { s.allDaemonSets = s.daemonSets; for (const p of s.pods) delete p.metadata!.annotations!['k8s.v1.cni.cncf.io/network-status']; }, expect: [{ check: 'multus', severity: 'warn', seen: /no Multus DaemonSet .* and no pod carries a network-status annotation yet/ }], groups: ['cluster'] },
  { name: 'Multus outside Kubernetes (pods are attached): a note', break: (s) => (s.allDaemonSets = s.daemonSets), expect: [{ check: 'multus', severity: 'info' }] },
  {
    name: 'Multus with another CNI bin dir',
    break: (s) => ((s.allDaemonSets[1]!.spec as { template: { spec: { volumes: Array<{ hostPath: { path: string } }> } } }).template.spec.volumes[0]!.hostPath.path = '/var/lib/cni/bin'),
    expect: [{ check: 'multus', severity: 'fail', seen: 'Multus kube-system/kube-multus-ds uses CNI bin dir /var/lib/cni/bin; the agent installs multi-nic into /opt/cni/bin', fix: 'kubectl multinic install --cni-bin-dir /var/lib/cni/bin' }],
  },
  {
    name: 'an agent that publishes no diagnostics: a finding, not a crash',
    break: (s) => delete (s.hostInterfaces[1]!.status as Record<string, unknown>).diagnostics,
    expect: [{ check: 'agent-diagnostics', severity: 'warn', where: { node: 'host2' }, seen: 'agent on host2 publishes no diagnostics (version 0.1.0)' }],
    groups: ['cluster', 'node'],
  },
  { name: 'a newer diagnostics format', break: (s) => (diag(s, 'host2').version = 9), expect: [{ check: 'agent-diagnostics', seen: /diagnostics version 9, which this CLI \(reads ≤ 1\) cannot read/ }], groups: ['cluster', 'node'] },
  {
    name: 'an agent that does not answer the probe: its older diagnostics, with their age',
    break: (s) => {
      s.probes[0]!.answered = false;
      diag(s, 'host1').observedAt = '2026-12-02T11:55:00.000Z';
    },
    expect: [{ check: 'agent-diagnostics', severity: 'warn', where: { node: 'host1' }, seen: 'agent on host1 did not answer the probe; using its diagnostics from 5m ago (observed 2026-12-02T11:55:00.000Z)' }],
  },
  // node
  { name: 'a route missing', break: (s) => diag(s, 'host1').networks[0]!.missingRoutes.push({ dst: '192.168.1.0/24', via: '10.0.1.2', dev: 'eth1' }), expect: [{ check: 'node-routes', severity: 'fail', where: { network: 'net-a', node: 'host1', nic: 'eth1' }, seen: 'route 192.168.1.0/24 via 10.0.1.2 dev eth1 table net-a is missing on host1' }] },
  { name: 'a foreign route', break: (s) => diag(s, 'host1').networks[0]!.foreignRoutes.push({ dst: '192.168.9.0/24', via: '10.0.1.9', dev: 'eth1' }), expect: [{ check: 'node-routes', severity: 'warn', seen: /192\.168\.9\.0\/24 .* is not in the plan/ }] },
  { name: 'the rule missing', break: (s) => (diag(s, 'host2').networks[0]!.rulePresent = false), expect: [{ check: 'node-routes', severity: 'fail', where: { network: 'net-a', node: 'host2' }, seen: 'policy rule for network net-a (lookup net-a) is missing on host2' }] },
  { name: 'a shim without its gateway', break: (s) => diag(s, 'host2').networks[0]!.shims!.push({ nic: 'eth1', link: 'mn-shim1', up: true, gateway: '192.168.1.1', hasGateway: false }), expect: [{ check: 'node-routes', seen: /shim mn-shim1 on host2\/eth1 is up without its gateway 192\.168\.1\.1/ }] },
  {
    name: 'repairs: something fights the agent',
    break: (s) => diag(s, 'host1').repairs.push({ at: '2026-12-02T11:59:30.000Z', network: 'net-a', kind: 'route', what: '192.168.1.0/24 via 10.0.1.2 dev eth1 table net-a', count: 3 }),
    expect: [{ check: 'node-repairs', severity: 'warn', where: { node: 'host1', network: 'net-a' }, seen: 'the agent on host1 restored route 192.168.1.0/24 via 10.0.1.2 dev eth1 table net-a 3 times, last at 2026-12-02T11:59:30.000Z (30s ago)' }],
  },
  { name: 'ip_forward off on an L3 host', break: (s) => (diag(s, 'host2').sysctls.ipv4Forward = 0), expect: [{ check: 'node-sysctls', severity: 'fail', where: { node: 'host2' }, seen: 'net.ipv4.ip_forward=0 on host2, which carries L3 networks' }] },
  { name: 'ip_forward off where nothing needs it: fine', break: (s) => { diag(s, 'host2').sysctls.ipv4Forward = 0; diag(s, 'host2').sysctls.forwardingNeeded = false; }, expect: [] },
  { name: 'rp_filter strict on a NIC', break: (s) => (diag(s, 'host1').sysctls.rpFilter!.eth2 = 1), expect: [{ check: 'node-sysctls', severity: 'warn', where: { node: 'host1', nic: 'eth2' }, seen: 'net.ipv4.conf.eth2.rp_filter=1 (strict) on host1' }] },
  {
    name: 'a NIC down, naming host, NIC and networks',
    break: (s) => Object.assign(diag(s, 'host2').nics[0]!, { adminUp: false, operState: 'down', carrier: false }),
    expect: [{ check: 'node-links', severity: 'fail', where: { node: 'host2', nic: 'eth1' }, seen: 'NIC eth1 on host2 is down (operstate down); it carries net-a', fix: 'ip link set eth1 up on host2' }],
  },
  { name: 'a planned NIC not in the kernel', break: (s) => Object.assign(diag(s, 'host2').nics[1]!, { adminUp: false, carrier: false, operState: 'notpresent' }), expect: [{ check: 'node-links', severity: 'fail', where: { node: 'host2', nic: 'eth2' }, seen: 'NIC eth2 on host2 is not present in the kernel; the plan gives it blocks of net-a' }] },
  { name: 'a binary the agent could not run: named with the host path', break: (s) => Object.assign(diag(s, 'host1').binaries[0]!, { path: '/host/cni-bin/multi-nic', error: 'VERSION timed out' }), expect: [{ check: 'node-binaries', severity: 'warn', seen: '/opt/cni/bin/multi-nic on host1 could not be checked: VERSION timed out' }] },
  { name: 'no carrier', break: (s) => Object.assign(diag(s, 'host2').nics[1]!, { carrier: false, operState: 'lowerlayerdown' }), expect: [{ check: 'node-links', seen: /eth2 on host2 is up without carrier/ }] },
  { name: 'MTU mismatch across hosts', break: (s) => (diag(s, 'host2').nics[0]!.mtu = 9000), expect: [{ check: 'node-links', severity: 'warn', seen: 'MTU differs on NIC network 10.0.1.0/24: 1500 on host1/eth1; 9000 on host2/eth1' }] },
  { name: 'multi-nic missing', break: (s) => (diag(s, 'host1').binaries[0]!.present = false), expect: [{ check: 'node-binaries', severity: 'fail', where: { node: 'host1', network: 'net-a' }, seen: '/opt/cni/bin/multi-nic is missing on host1, needed by net-a' }] },
  { name: 'multi-nic not executable', break: (s) => (diag(s, 'host1').binaries[0]!.executable = false), expect: [{ check: 'node-binaries', seen: '/opt/cni/bin/multi-nic on host1 is not executable, needed by net-a' }] },
  { name: 'delegate missing', break: (s) => (diag(s, 'host2').binaries[1]!.present = false), expect: [{ check: 'node-binaries', severity: 'fail', seen: '/opt/cni/bin/macvlan is missing on host2, needed by net-a', fix: /containernetworking-plugins\) into \/opt\/cni\/bin on host2/ }] },
  { name: 'kernel lacks ipvlan', break: (s) => diag(s, 'host2').binaries.push({ name: 'ipvlan', path: '/opt/cni/bin/ipvlan', present: true, executable: true, neededBy: ['net-a'], kernelSupport: false }), expect: [{ check: 'node-binaries', seen: 'the kernel on host2 does not support ipvlan links, needed by net-a' }] },
  { name: 'journal damaged', break: (s) => Object.assign(diag(s, 'host1').journal, { ok: true, damaged: 2, message: 'bad checksum' }), expect: [{ check: 'node-journal', severity: 'warn', seen: 'IPAM journal on host1: 2 damaged records skipped (bad checksum)' }] },
  { name: 'journal duplicates', break: (s) => (diag(s, 'host1').journal.duplicates = [{ pool: 'p', address: '192.168.0.2', holders: ['default/p1', 'default/x'] }]), expect: [{ check: 'node-journal', severity: 'fail', seen: /192\.168\.0\.2 in pool p is held by 2 allocations/ }] },
  { name: 'a route lost inside a pod', break: (s) => Object.assign(diag(s, 'host1').allocations[0]!, { state: 'route-missing', detail: '192.168.0.0/18 via 192.168.0.1' }), expect: [{ check: 'pod-netns', severity: 'fail', where: { node: 'host1', network: 'net-a', pod: 'default/p1' }, seen: /net1-0 lost a route \(192\.168\.0\.0\/18 via 192\.168\.0\.1\)/ }] },
  // network
  { name: 'a NAD deleted', break: (s) => (s.nads = []), expect: [{ check: 'network-nads', severity: 'fail', where: { network: 'net-a' }, seen: 'NetworkAttachmentDefinition net-a is missing in namespace default' }] },
  {
    name: 'a NAD left in a namespace that left the list',
    break: (s) => {
      s.namespaces.push({ name: 'old', phase: 'Active' });
      s.networks[0]!.spec.namespaces = ['default'];
      s.nads.push({ ...s.nads[0]!, metadata: { ...s.nads[0]!.metadata, namespace: 'old' } } as never);
    },
    expect: [{ check: 'network-nads', severity: 'warn', seen: 'NetworkAttachmentDefinition net-a is left in namespace old, no longer in spec.namespaces' }],
  },
  { name: 'configStatus failed', break: (s) => Object.assign(s.networks[0]!.status!, { configStatus: 'ConfigFailed', message: 'bad plugin' }), expect: [{ check: 'network-status', seen: 'network net-a: configStatus is ConfigFailed: bad plugin' }] },
  { name: 'a host not reporting routes', break: (s) => (s.networks[0]!.status!.hosts![1]!.ready = false), expect: [{ check: 'network-status', where: { network: 'net-a', node: 'host2' }, seen: 'network net-a: host2: routes not reported' }] },
  {
    name: 'a host that does not fit names the hostBlock that would',
    break: (s) => {
      // hostBlock 1 gives 2 host blocks per NIC network; a third host joins (no CIDR claimed yet).
      s.networks[0] = network('net-a', '192.168.0.0/16', 1);
      s.hostInterfaces.push(hostInterface('host3', 3));
      s.nodes.push({ ...s.nodes[0]!, metadata: { name: 'host3' } });
      s.cidrs = [];
    },
    expect: [
      { check: 'network-host-fit', severity: 'fail', where: { network: 'net-a', node: 'host3', nic: 'eth1' }, seen: 'host3 does not fit network net-a on 10.0.1.0/24: hostBlock 1 gives 2 host blocks, 3 hosts have a NIC there', fix: /set "hostBlock": 2 in spec\.ipam/ },
      { check: 'network-host-fit', seen: /host3 does not fit network net-a on 10\.0\.2\.0\/24/ },
      { check: 'network-status', seen: /no CIDR yet/ },
    ],
    groups: ['network'],
  },
  {
    name: 'pool use at 85 % warns, exhausted fails (capacity 253: the L3 gateway is reserved)',
    break: (s) => {
      const fill = (p: IPPool, n: number) => (p.spec.allocations = Array.from({ length: n }, (_, i) => ({ pod: `x${i}`, namespace: 'default', index: i + 2, address: `${p.spec.podCIDR.split('.').slice(0, 3).join('.')}.${i + 2}`, podUID: 'uid-p1', interface: `net1-${i}` })));
      fill(pool(s, 'host1', 'eth2'), 216);
      fill(pool(s, 'host2', 'eth2'), 253);
    },
    expect: [
      { check: 'network-pool-use', severity: 'fail', where: { network: 'net-a', node: 'host2', nic: 'eth2' }, seen: 'pool net-a-192.168.65.0-24 (192.168.65.0/24) on host2/eth2: 253/253 addresses used (exhausted)' },
      { check: 'network-pool-use', severity: 'warn', seen: 'pool net-a-192.168.64.0-24 (192.168.64.0/24) on host1/eth2: 216/253 addresses used (85.3 %)' },
    ],
    groups: ['network'],
  },
  { name: 'overlapping subnets', break: (s) => s.networks.push(network('net-b', '192.168.128.0/17')), expect: [{ check: 'network-overlap', severity: 'fail', where: { network: 'net-b' }, seen: 'networks net-a (192.168.0.0/16) and net-b (192.168.128.0/17) overlap' }, { check: 'network-nads' }, { check: 'network-status' }], groups: ['network'] },
  {
    name: 'overlapping subnets: the network the agents refuse (created later) is named, whatever the names',
    break: (s) => {
      s.networks[0]!.metadata.creationTimestamp = '2026-12-02T11:00:00Z';
      const b = network('net-b', '192.168.128.0/17');
      b.metadata.creationTimestamp = '2026-12-01T00:00:00Z';
      s.networks.push(b);
    },
    expect: [{ check: 'network-overlap', severity: 'fail', where: { network: 'net-a' }, seen: 'networks net-b (192.168.128.0/17) and net-a (192.168.0.0/16) overlap' }, { check: 'network-nads' }, { check: 'network-status' }],
    groups: ['network'],
  },
  // ipam
  { name: 'an allocation leaked (pod gone)', break: (s) => (s.pods = s.pods.filter((p) => p.metadata?.name !== 'p2')), expect: [{ check: 'ipam-leaked', severity: 'warn', where: { network: 'net-a', node: 'host2', nic: 'eth1', pod: 'default/p2' }, seen: '192.168.1.2 in net-a-192.168.1.0-24 is held by pod default/p2 net1-0 (uid uid-p2), which no longer exists' }], groups: ['ipam'] },
  {
    name: 'one address held twice',
    break: (s) => {
      const p = pool(s, 'host1');
      p.spec.allocations.push({ ...p.spec.allocations[0]!, pod: 'p2', podUID: 'uid-p2' });
    },
    expect: [{ check: 'ipam-duplicate', severity: 'fail', seen: /address 192\.168\.0\.2 of network net-a is held 2 times/ }, { check: 'ipam-mirror' }],
    groups: ['ipam'],
  },
  { name: 'a pod interface with no allocation', break: (s) => (pool(s, 'host2').spec.allocations = []), expect: [{ check: 'ipam-unallocated', severity: 'fail', where: { network: 'net-a', pod: 'default/p2', node: 'host2' }, seen: 'pod default/p2 has 192.168.1.2 on net1-0 (network-status) but no IPPool allocation holds it' }, { check: 'ipam-mirror', seen: /1 allocation in host2's journal missing from its IPPools/ }], groups: ['ipam'] },
  { name: 'a node that did not answer the probe is not compared with its stale journal', break: (s) => { diag(s, 'host1').allocations = []; s.probes[0]!.answered = false; }, expect: [{ check: 'agent-diagnostics', where: { node: 'host1' } }], groups: ['cluster', 'ipam'] },
  { name: 'IPPool holds what the journal does not', break: (s) => (diag(s, 'host1').allocations = []), expect: [{ check: 'ipam-mirror', severity: 'warn', where: { node: 'host1' }, seen: /1 IPPool allocation on host1 not in its journal: 192\.168\.0\.2 \(default\/p1 net1-0/ }], groups: ['ipam'] },
  // A node with more allocations than its diagnostics list (allocationCount): unlisted mirror entries are no finding, a count above the journal's is.
  { name: 'a capped allocation list: IPPool entries it does not list are not called strays', break: (s) => { const d = diag(s, 'host1'); d.allocationCount = 501; d.allocations = []; }, expect: [], groups: ['ipam'] },
  {
    name: 'a capped allocation list: IPPools holding more than the journal\'s count',
    break: (s) => {
      diag(s, 'host1').allocationCount = 2;
      const p = pool(s, 'host1');
      for (const n of [7, 8]) p.spec.allocations.push({ ...p.spec.allocations[0]!, address: `192.168.0.${n}`, index: n, pod: `p${n}`, podUID: `uid-p${n}` });
    },
    // (p7 and p8 are no pods: the mirror's extra entries are leaks too.)
    expect: [{ check: 'ipam-mirror', severity: 'warn', where: { node: 'host1' }, seen: "host1's IPPools hold 3 allocations, 1 more than its journal's 2" }, { check: 'ipam-leaked', seen: /192\.168\.0\.7 .* default\/p7/ }, { check: 'ipam-leaked', seen: /192\.168\.0\.8 .* default\/p8/ }],
    groups: ['ipam'],
  },
];

function matches(f: Finding, e: Expect): boolean {
  return Object.entries(e).every(([k, v]) => {
    const got = (f as unknown as Record<string, unknown>)[k];
    if (v instanceof RegExp) return v.test(String(got));
    if (k === 'where') return JSON.stringify(Object.entries(got as object).sort()) === JSON.stringify(Object.entries(v as object).sort());
    return got === v;
  });
}

describe('doctor checks', () => {
  it('a healthy snapshot gives no finding, every check passes', () => {
    const r = runDoctor(healthy());
    expect(r.findings).toEqual([]);
    expect(r.healthy).toBe(true);
    expect(r.checks.every((c) => c.status === 'pass')).toBe(true);
    expect(summaryLine(r)).toBe('doctor: OK: 2 nodes, 1 network, 23 checks; 0 failed, 0 warnings, 0 notes, 2/2 agents answered the probe');
  });

  it('the registry ids are unique and every check is exercised below', () => {
    const ids = CHECKS.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    const covered = new Set(ROWS.flatMap((r) => r.expect.map((e) => e.check)).concat(POD_IDS));
    expect(ids.filter((id) => !covered.has(id))).toEqual([]);
  });

  it.each(ROWS)('$name', (row) => {
    const s = healthy();
    row.break(s);
    const r = runDoctor(s, row.groups ? { groups: row.groups } : {});
    const got = r.findings;
    for (const e of row.expect) expect(got.some((f) => matches(f, e)), `expected ${JSON.stringify(e)} in\n${JSON.stringify(got, null, 1)}`).toBe(true);
    expect(got.length, JSON.stringify(got, null, 1)).toBe(row.expect.length);
    expect(r.healthy).toBe(!got.some((f) => f.severity === 'fail'));
  });

  it('--network and --node keep findings about them and those about nothing in particular', () => {
    const s = healthy();
    diag(s, 'host1').networks[0]!.rulePresent = false;
    diag(s, 'host2').networks[0]!.rulePresent = false;
    s.daemonSets[0]!.status = { desiredNumberScheduled: 2, numberReady: 1 };
    const r = runDoctor(s, { node: 'host2' });
    expect(r.findings.map((f) => [f.check, f.where.node])).toEqual([['agent-daemonset', undefined], ['node-routes', 'host2']]);
    expect(runDoctor(s, { network: 'other' }).findings.map((f) => f.check)).toEqual(['agent-daemonset']);
  });

  it('warnings alone are healthy; --strict makes them unhealthy', () => {
    const s = healthy();
    diag(s, 'host1').sysctls.rpFilterAll = 1;
    expect(runDoctor(s).healthy).toBe(true);
    expect(runDoctor(s, { strict: true }).healthy).toBe(false);
    expect(summaryLine(runDoctor(s, { strict: true }))).toMatch(/^doctor: FAILED \(--strict: warnings\)/);
  });

  it('a check that throws is reported as its own failure, the others still run', () => {
    const boom = { id: 'boom', title: 'b', group: 'cluster' as const, severity: 'fail' as const, explain: '', run: () => { throw new Error('x'); } };
    const r = runDoctor(healthy(), { checks: [boom, ...CHECKS] });
    expect(r.findings).toEqual([expect.objectContaining({ check: 'boom', seen: 'check boom crashed: x' })]);
    expect(r.checks).toHaveLength(CHECKS.filter((c) => c.group !== 'pod').length + 1);
  });
});

// Covered in pod.test.ts.
const POD_IDS = ['pod-annotation', 'pod-network', 'pod-events', 'pod-attachments'];
