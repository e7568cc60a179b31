import { describe, expect, it } from 'vitest';
import { networkFromCidr, planCheck } from '../../../src/lib/check/plan.js';
import { NETWORKS_ANNOTATION, NETWORK_STATUS_ANNOTATION, clientPod, podName, podNetworkAddress, podProblem, serverPod } from '../../../src/lib/check/pods.js';
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
