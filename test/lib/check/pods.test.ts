import { describe, expect, it } from 'vitest';
import { networkFromCidr, planCheck } from '../../../src/lib/check/plan.js';
import { NETWORKS_ANNOTATION, NETWORK_STATUS_ANNOTATION, claimNetworkAddress, clientPod, nicClaimTemplate, podClaimName, podName, podNetworkAddress, podProblem, serverPod } from '../../../src/lib/check/pods.js';
import { allocateClaim } from '../../../src/lib/dra/allocate.js';
import { networkDeviceClass, nodeSlice } from '../../../src/lib/dra/slices.js';
import type { ResourceClaim, ResourceClaimTemplate } from '../../../src/lib/dra/types.js';
import { nodeAllowed } from '../../../src/lab/dra.js';
import { OPTS, sampleCidr } from './sample.js';

const t = planCheck([networkFromCidr('fabric', sampleCidr(), [])], OPTS).tests.find((x) => x.id === 'fabric/host-a->host-b/nic1')!;
const params = { runId: 'r1x9', namespace: 'team', image: 'img:1', duration: 5, parallel: 2 };

describe('check pods', () => {
  it('server: pinned to the server host and its NIC via masters, one-off iperf3 on the test port', () => {
    const p = serverPod(t, 3, params);
    expect(p.metadata?.name).toBe('mnchk-r1x9-3-s');
    expect(p.metadata?.namespace).toBe('team');
    expect(p.spec?.nodeName).toBe('host-b');
    expect(JSON.parse(p.metadata?.annotations?.[NETWORKS_ANNOTATION] ?? '')).toEqual([{ name: 'fabric', namespace: 'team', interface: 'net1', 'cni-args': { masters: ['eth2'] } }]);
    expect(p.spec?.containers[0]).toMatchObject({ image: 'img:1', command: ['iperf3'], args: ['-s', '-p', String(t.port), '-1', '--forceflush'] });
    expect(p.spec?.restartPolicy).toBe('Never');
  });

  it('client: pinned to the client host and NIC, bound to the pod NIC, JSON output', () => {
    const p = clientPod(t, 3, '192.168.65.7', params, 2);
    expect(p.metadata?.name).toBe('mnchk-r1x9-3-c-2');
    expect(p.spec?.nodeName).toBe('host-a');
    expect(JSON.parse(p.metadata?.annotations?.[NETWORKS_ANNOTATION] ?? '')[0]['cni-args']).toEqual({ masters: ['eth2'] });
    expect(p.spec?.containers[0]?.args).toEqual(['-c', '192.168.65.7', '-p', String(t.port), '-t', '5', '-P', '2', '-J', '--connect-timeout', '5000', '--bind-dev', 'net1-0']);
  });

  it('pod names are DNS-1123 labels', () => {
    for (const n of [podName('abcde', 0, 'server'), podName('abcde', 9999, 'client', 3)]) expect(n).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
  });

  it('reads the address from Multus network-status: <ns>/<net> or <net>, IPv4 first', () => {
    const pod = (status: unknown) => ({ metadata: { annotations: { [NETWORK_STATUS_ANNOTATION]: JSON.stringify(status) } } });
    const status = [
      { name: 'cbr0', interface: 'eth0', ips: ['10.244.1.5'], default: true },
      { name: 'team/fabric', interface: 'net1-0', ips: ['fd00::5', '192.168.65.5'], mac: '02:00:00:00:00:01' },
    ];
    expect(podNetworkAddress(pod(status), 'team', 'fabric')).toEqual({ address: '192.168.65.5', interface: 'net1-0' });
    expect(podNetworkAddress(pod([{ name: 'fabric', interface: 'net1-0', ips: ['fd00::5'] }]), 'team', 'fabric')).toEqual({ address: 'fd00::5', interface: 'net1-0' });
    expect(podNetworkAddress(pod([{ name: 'team/fabric', interface: 'net1-0', ips: [] }]), 'team', 'fabric')).toBeUndefined();
    expect(podNetworkAddress(pod(status), 'other', 'fabric')).toBeUndefined();
    expect(podNetworkAddress({ metadata: { annotations: { [NETWORK_STATUS_ANNOTATION]: '{not json' } } }, 'team', 'fabric')).toBeUndefined();
    expect(podNetworkAddress({ metadata: {} }, 'team', 'fabric')).toBeUndefined();
  });

  it('reads both network-status forms: the merged entry of Multus v4.0.2 and one entry per interface', () => {
    const pod = (status: unknown) => ({ metadata: { annotations: { [NETWORK_STATUS_ANNOTATION]: JSON.stringify(status) } } });
    // Multus v4.0.2 collapses a 2-NIC result into one entry naming only the last interface.
    const merged = [{ name: 'team/fabric', interface: 'net1-1', ips: ['192.168.1.47', '192.168.65.47'], mac: '02:00:00:00:00:02', dns: {} }];
    expect(podNetworkAddress(pod(merged), 'team', 'fabric')).toEqual({ address: '192.168.1.47' });
    const perInterface = [
      { name: 'team/fabric', interface: 'net1-0', ips: ['192.168.1.47'], dns: {} },
      { name: 'team/fabric', interface: 'net1-1', ips: ['192.168.65.47'], dns: {} },
    ];
    expect(podNetworkAddress(pod(perInterface), 'team', 'fabric')).toEqual({ address: '192.168.1.47', interface: 'net1-0' });
    // A check pod (one NIC by masters) gets the same answer from either form.
    const one = [{ name: 'team/fabric', interface: 'net1-0', ips: ['192.168.65.5'], dns: {} }];
    expect(podNetworkAddress(pod(one), 'team', 'fabric')).toEqual({ address: '192.168.65.5', interface: 'net1-0' });
  });

  it('says why a pod is not running', () => {
    expect(podProblem({ status: { phase: 'Failed', reason: 'CNIError', message: 'multi-nic: no NIC eth9' } })).toBe('CNIError: multi-nic: no NIC eth9');
    expect(podProblem({ status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'node x not found' }] } })).toBe('PodScheduled=False (Unschedulable): node x not found');
    expect(podProblem({ status: { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff', message: 'no such image' } } }] } })).toBe('waiting: ImagePullBackOff no such image');
    expect(podProblem({ status: { phase: 'Running' } })).toBeUndefined();
  });
});

describe('check pods --via claim', () => {
  const claimParams = { ...params, via: 'claim' as const };

  it('server and client get their NIC from a template claim, pinned to their host by node affinity, no nodeName or masters', () => {
    const s = serverPod(t, 3, claimParams);
    expect(s.metadata?.name).toBe('mnchk-r1x9-3-s');
    expect(s.spec?.nodeName).toBeUndefined();
    expect(s.spec?.affinity).toEqual({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['host-b'] }] }] } } });
    expect(s.spec?.resourceClaims).toEqual([{ name: 'nic', resourceClaimTemplateName: 'mnchk-r1x9-3-s' }]);
    expect(s.spec?.containers[0]?.resources).toEqual({ claims: [{ name: 'nic' }] });
    expect(JSON.parse(s.metadata?.annotations?.[NETWORKS_ANNOTATION] ?? '')).toEqual([{ name: 'fabric', namespace: 'team', interface: 'net1' }]);
    const c = clientPod(t, 3, '192.168.65.7', claimParams, 2);
    expect(c.metadata?.name).toBe('mnchk-r1x9-3-c-2');
    // Every attempt claims from the one client template.
    expect(c.spec?.resourceClaims).toEqual([{ name: 'nic', resourceClaimTemplateName: 'mnchk-r1x9-3-c' }]);
    expect(c.spec?.containers[0]?.args?.slice(-2)).toEqual(['--bind-dev', 'net1-0']);
  });

  it("the template asks for one device of the network's DeviceClass with the NIC's interfaceName; the allocator picks exactly that NIC on the host", () => {
    const tpl = nicClaimTemplate(t, 3, 'server', claimParams) as unknown as ResourceClaimTemplate;
    expect(tpl.metadata).toMatchObject({ name: 'mnchk-r1x9-3-s', namespace: 'team', labels: { 'multinic.fms.io/check-run': 'r1x9', 'multinic.fms.io/check-role': 'server' } });
    expect(tpl.spec.spec.devices?.requests).toEqual([{ name: 'nic', exactly: { deviceClassName: 'fabric.multinic.fms.io', count: 1, selectors: [{ cel: { expression: 'device.attributes["multinic.fms.io"].interfaceName == "eth2"' } }] } }]);
    // Against two hosts' slices with the same NIC names, on the node the pod's affinity allows.
    const nics = [{ interfaceName: 'eth1', netAddress: '10.0.1.0/24' }, { interfaceName: 'eth2', netAddress: '10.0.2.0/24' }];
    const slices = ['host-a', 'host-b'].map((node) => nodeSlice({ node, nics, networksOf: () => ['fabric'], generation: 1 }));
    const classes = new Map([['fabric.multinic.fms.io', networkDeviceClass('fabric')]]);
    const pod = serverPod(t, 3, claimParams);
    const node = ['host-a', 'host-b'].find((h) => nodeAllowed(pod as never, h));
    expect(node).toBe('host-b');
    const a = allocateClaim({ spec: tpl.spec.spec, nodes: [node!], slices, classes, inUse: new Set() });
    expect(a.ok && a.results.map((r) => `${r.pool}/${r.device}`)).toEqual(['host-b/eth2']);
  });

  it('refuses a NIC name that is not an interface name instead of pasting it into CEL', () => {
    const bad = { ...t, serverNic: { ...t.serverNic!, interfaceName: 'eth2" || true || "' } };
    expect(() => nicClaimTemplate(bad, 3, 'server', claimParams)).toThrow(/NIC "eth2" \|\| true \|\| "" of host-b \(network fabric\) is not a valid interface name/);
    expect(() => nicClaimTemplate({ ...t, clientNic: { ...t.clientNic!, interfaceName: 'a'.repeat(16) } }, 3, 'client', claimParams)).toThrow(/not a valid interface name/);
  });

  it("reads the address from the claim's status.devices (our driver's networkData, IPv4 first, no prefix length) and the claim from the pod", () => {
    const claim = (devices: unknown[]): ResourceClaim => ({ metadata: { name: 'c1', namespace: 'team' }, spec: {}, status: { devices } } as unknown as ResourceClaim);
    expect(claimNetworkAddress(claim([
      { driver: 'gpu.example.com', pool: 'host-b', device: 'gpu0', networkData: { interfaceName: 'x', ips: ['10.9.9.9/24'] } },
      { driver: 'multinic.fms.io', pool: 'host-b', device: 'eth2', networkData: { interfaceName: 'net1-0', ips: ['fd00::5/64', '192.168.65.5/26'], hardwareAddress: '02:00:00:00:00:01' } },
    ]))).toEqual({ address: '192.168.65.5', interface: 'net1-0' });
    expect(claimNetworkAddress(claim([{ driver: 'multinic.fms.io', pool: 'host-b', device: 'eth2', conditions: [] }]))).toBeUndefined();
    expect(claimNetworkAddress(undefined)).toBeUndefined();
    expect(podClaimName({ metadata: {}, status: { resourceClaimStatuses: [{ name: 'other', resourceClaimName: 'x' }, { name: 'nic', resourceClaimName: 'mnchk-r1x9-3-s-nic-abcde' }] } })).toBe('mnchk-r1x9-3-s-nic-abcde');
    expect(podClaimName({ metadata: {}, status: {} })).toBeUndefined();
  });
});
