// `agent --kube` flags, and what the IPAM wrapper reports to the cluster (Events on exhaustion).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAgentArgs } from '../../../src/agent/cli.js';
import type { KubeAgent } from '../../../src/agent/kube/index.js';
import { PoolExhaustedError } from '../../../src/lib/ipam/allocator.js';
import { UserError } from '../../../src/lib/errors.js';
import { FakeIpam } from '../../fakes/ipam.js';
import { AGENT_NS, agentFor, createNode, testCluster, type TestCluster } from './helpers.js';

describe('parseAgentArgs --kube', () => {
  it('takes the namespace from -n, else $POD_NAMESPACE, else multinic-system; --gc-grace in seconds', () => {
    const base = ['--kube', '--node', 'n1', '--data-dir', '/d'];
    expect(parseAgentArgs([...base, '-n', 'x', '--kubeconfig', '/k', '--context', 'c', '--gc-grace', '1.5'], {}).kube).toEqual({ namespace: 'x', kubeconfig: '/k', context: 'c', gcGraceMs: 1500 });
    expect(parseAgentArgs(base, { POD_NAMESPACE: 'from-env' }).kube).toEqual({ namespace: 'from-env' });
    expect(parseAgentArgs(base, {}).kube).toEqual({ namespace: 'multinic-system' });
    expect(parseAgentArgs(base, {}).stateFile).toBeUndefined();
    expect(parseAgentArgs([...base, '--max-connections', '64'], {}).maxConnections).toBe(64);
    expect(parseAgentArgs(base, {}).maxConnections).toBeUndefined();
  });
  it.each([
    [['--node', 'n', '--data-dir', '/d'], 'a state source is required: --kube (the Kubernetes API) or --state-file FILE'],
    [['--kube', '--state-file', 's', '--node', 'n', '--data-dir', '/d'], '--state-file and --kube are exclusive: pick one state source'],
    [['--kube', '--node', 'n', '--data-dir', '/d', '--gc-grace', '1m'], '--gc-grace must be a number of seconds, got "1m"'],
    [['--kube', '--node', 'n', '--data-dir', '/d', '--max-connections', '0'], '--max-connections must be a whole number >= 1, got "0"'],
  ])('rejects %j', (argv, msg) => {
    expect(() => parseAgentArgs(argv, {})).toThrow(UserError);
    expect(() => parseAgentArgs(argv, {})).toThrow(msg);
  });
});

describe('attachIpam', () => {
  let c: TestCluster;
  let a: KubeAgent | undefined;
  beforeEach(async () => {
    c = await testCluster();
  });
  afterEach(async () => {
    await a?.stop();
    await c.close();
  });

  it('an exhausted pool fails the ADD as before and records a PoolExhausted Event on the IPPool', async () => {
    createNode(c, 'a');
    a = await agentFor(c, 'a');
    const fake = new FakeIpam();
    const ipam = a.attachIpam(fake);
    fake.failNextAllocate = new PoolExhaustedError('net-192.168.0.0-30', '192.168.0.0/30', 2n);
    const pool = { name: 'net-192.168.0.0-30', network: 'net', hostName: 'a', interfaceName: 'eth1', podCIDR: '192.168.0.0/30', vlanCIDR: '192.168.0.0/18', excludes: [], reserved: [] };
    await expect(ipam.allocate([{ pool, key: { podUID: 'u', containerID: 'c', interface: 'net1-0' }, podName: 'p', namespace: 'default' }])).rejects.toThrow(PoolExhaustedError);
    await a.events.drain();
    const ev = c.server.store.list('v1', 'Event', AGENT_NS).find((e) => (e as { reason?: string }).reason === 'PoolExhausted') as { message?: string; type?: string; involvedObject?: { kind?: string; name?: string } } | undefined;
    expect(ev).toMatchObject({ type: 'Warning', involvedObject: { kind: 'IPPool', name: 'net-192.168.0.0-30' } });
    expect(ev?.message).toBe('IP pool "net-192.168.0.0-30" (192.168.0.0/30) is exhausted: all 2 usable addresses are allocated');
  });
});
