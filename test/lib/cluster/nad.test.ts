import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { effectiveMasterNets, nadConfig, planNads, pluginConfig, renderNad, targetNamespaces } from '../../../src/lib/cluster/nad.js';
import type { HostInterface, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';

const seed = (): MultiNicNetwork => {
  const n = parse(readFileSync(new URL('../../../examples/network.yaml', import.meta.url), 'utf8')) as MultiNicNetwork;
  n.metadata.uid = 'uid-1';
  return n;
};
const withSpec = (patch: Partial<MultiNicNetwork['spec']>): MultiNicNetwork => {
  const n = seed();
  n.spec = { ...n.spec, ...patch };
  return n;
};

describe('nadConfig', () => {
  it('matches upstream shape for the seed network, keys in upstream order', () => {
    const text = nadConfig(seed(), ['10.0.1.0/24', '10.0.2.0/24']);
    expect(text).toBe(
      '{"cniVersion":"0.3.0","name":"multi-nic-sample","type":"multi-nic","ipam":{"hostBlock":6,"interfaceBlock":2,"type":"multi-nic-ipam","vlanMode":"l3"},"dns":{},"plugin":{"cniVersion":"0.3.0","mode":"l3","type":"ipvlan"},"subnet":"192.168.0.0/16","masterNets":["10.0.1.0/24","10.0.2.0/24"],"multiNICIPAM":true,"daemonIP":"","daemonPort":11000}',
    );
  });
  it('omits multiNICIPAM when false and keeps macvlan l3 networks multi-nic typed', () => {
    const c = JSON.parse(nadConfig(withSpec({ multiNICIPAM: false, plugin: { cniVersion: '1.0.0', type: 'macvlan', args: { mode: 'bridge', mtu: '9000' } } }), []));
    expect(c.multiNICIPAM).toBeUndefined();
    expect(c.type).toBe('multi-nic');
    expect(c.plugin).toEqual({ cniVersion: '1.0.0', mode: 'bridge', mtu: 9000, type: 'macvlan' });
  });
  it('rejects a network whose ipam is not JSON, naming it', () => {
    expect(() => nadConfig(withSpec({ ipam: '{nope' }), [])).toThrow('MultiNicNetwork "multi-nic-sample": spec.ipam is not valid JSON');
  });
  it('renders no NAD for a network the agents cannot serve, naming the field and the fix', () => {
    for (const [ipam, what] of [
      ['{"type":"multi-nic-ipam","hostBlock":6,"interfaceBlock":2,"vlanMode":"l4"}', 'spec.ipam.vlanMode "l4" is not one of l2, l3, l3s'],
      ['["multi-nic-ipam"]', 'spec.ipam must be a JSON object, got an array'],
    ]) {
      expect(() => nadConfig(withSpec({ ipam }), [])).toThrow(`MultiNicNetwork "multi-nic-sample": ${what}: fix spec.ipam in the network's manifest and re-apply it (kubectl multinic apply -f FILE checks it first), or kubectl edit multinicnetwork multi-nic-sample`);
    }
  });
  it('passes a delegated IPAM\'s own keys through unchanged (no defaults added)', () => {
    const c = JSON.parse(nadConfig(withSpec({ ipam: '{"type":"host-local","ranges":[[{"subnet":"172.31.0.0/16"}]]}' }), []));
    expect(c.ipam).toEqual({ ranges: [[{ subnet: '172.31.0.0/16' }]], type: 'host-local' });
  });
});

describe('pluginConfig', () => {
  it.each([
    ['mellanox delegates to host-device', { cniVersion: '0.3.0', type: 'mellanox' as const }, { cniVersion: '0.3.0', type: 'host-device' }],
    ['sriov: numbers, booleans, renamed rate args, no policy args', { cniVersion: '0.3.0', type: 'sriov' as const, args: { vlan: '100', trust: 'true', minTxRate: '10', resourceName: 'x' } }, { cniVersion: '0.3.0', type: 'sriov', vlan: 100, trust: true, min_tx_rate: 10 }],
  ])('%s', (_n, plugin, want) => {
    expect(pluginConfig(withSpec({ plugin }))).toEqual(want);
  });
});

describe('targetNamespaces', () => {
  const all = [{ name: 'default', phase: 'Active' }, { name: 'team-a', phase: 'Active' }, { name: 'dying', phase: 'Terminating' }];
  it('all live namespaces when the list is empty', () => expect(targetNamespaces(seed(), all)).toEqual(['default', 'team-a']));
  it('only listed namespaces that exist', () => expect(targetNamespaces(withSpec({ namespaces: ['team-a', 'later', 'dying'] }), all)).toEqual(['team-a']));
});

describe('planNads', () => {
  const net = withSpec({ namespaces: ['a', 'b'] });
  it('creates missing, updates stale, deletes generated ones that left the list, never touches a user NAD', () => {
    const stale = renderNad(net, 'b', ['10.0.9.0/24']);
    stale.metadata.resourceVersion = '7';
    const leftover = renderNad(net, 'c', []);
    const user = { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'multi-nic-sample', namespace: 'd' }, spec: { config: '{}' } };
    const userInTarget = { ...user, metadata: { ...user.metadata, namespace: 'a' } };
    const plan = planNads(net, ['a', 'b'], ['10.0.1.0/24'], [stale, leftover, user, userInTarget]);
    expect(plan.create).toEqual([]);
    expect(plan.update.map((n) => [n.metadata.namespace, n.metadata.resourceVersion])).toEqual([['b', '7']]);
    expect(plan.delete).toEqual([{ namespace: 'c', name: 'multi-nic-sample' }]);
  });
  it('nothing to do when everything is in place', () => {
    const have = ['a', 'b'].map((ns) => renderNad(net, ns, ['10.0.1.0/24']));
    expect(planNads(net, ['a', 'b'], ['10.0.1.0/24'], have)).toEqual({ create: [], update: [], delete: [] });
  });
  it('renders label and controller ownerReference', () => {
    const n = renderNad(net, 'a', []);
    expect(n.metadata.labels).toEqual({ 'multi-nic-cni-generated': 'true' });
    expect(n.metadata.ownerReferences).toEqual([{ apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', name: 'multi-nic-sample', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
  });
});

describe('effectiveMasterNets', () => {
  const hi = (name: string, nets: string[]): HostInterface => ({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name }, spec: { hostName: name, interfaces: nets.map((n, i) => ({ interfaceName: `eth${i}`, netAddress: n })) } });
  it('discovered NIC networks sorted by address when the network lists none', () => {
    expect(effectiveMasterNets(seed(), undefined, [hi('a', ['10.0.2.0/24', '10.0.10.0/24']), hi('b', ['10.0.1.0/24', '10.0.2.0/24'])])).toEqual(['10.0.1.0/24', '10.0.2.0/24', '10.0.10.0/24']);
  });
  it('the network list wins', () => expect(effectiveMasterNets(withSpec({ masterNets: ['10.0.2.0/24'] }), undefined, [hi('a', ['10.0.1.0/24'])])).toEqual(['10.0.2.0/24']));
});
