import { describe, expect, it } from 'vitest';
import { cniArgsFor, networkStatusFromResult, parseNetworksAnnotation, readNetworkStatus } from '../../src/lib/multus.js';

describe('parseNetworksAnnotation', () => {
  const rows: Array<{ name: string; value: string; want: unknown }> = [
    { name: 'short form, one network', value: 'multi-nic-sample', want: [{ name: 'multi-nic-sample' }] },
    { name: 'short form with namespace and interface', value: 'ns1/net-a@eth9, net-b', want: [{ name: 'net-a', namespace: 'ns1', interface: 'eth9' }, { name: 'net-b' }] },
    {
      name: 'JSON list with cni-args (the seed nics example)',
      value: '[{"name": "multi-nic-sample", "cni-args": {"nics": 1}}]',
      want: [{ name: 'multi-nic-sample', 'cni-args': { nics: 1 } }],
    },
    { name: 'JSON object (single selection)', value: '{"name": "n"}', want: [{ name: 'n' }] },
    { name: 'empty', value: '  ', want: [] },
  ];
  for (const r of rows) it(r.name, () => expect(parseNetworksAnnotation(r.value)).toEqual(r.want));

  it('rejects broken JSON, naming the annotation', () => expect(() => parseNetworksAnnotation('[{"name": ')).toThrow(/k8s.v1.cni.cncf.io\/networks is not valid JSON/));
  it('rejects a selection without a name', () => expect(() => parseNetworksAnnotation('[{"namespace": "x"}]')).toThrow(/\[0\] needs a "name"/));
  it('rejects an invalid short form', () => expect(() => parseNetworksAnnotation('Bad Name!')).toThrow(/not \[namespace\/\]name\[@interface\]/));
});

describe('networkStatusFromResult', () => {
  it('makes one entry per pod-side interface with its own addresses (Multus v4)', () => {
    const result = {
      interfaces: [
        { name: 'net1-0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/p' },
        { name: 'eth1', mac: '02:00:00:00:00:aa' },
        { name: 'net1-1', mac: '02:00:00:00:00:02', sandbox: '/run/netns/p' },
      ],
      ips: [
        { address: '192.168.0.5/18', interface: 0 },
        { address: '192.168.64.5/18', interface: 2 },
      ],
    };
    expect(networkStatusFromResult('default/multi-nic-sample', result)).toEqual([
      { name: 'default/multi-nic-sample', interface: 'net1-0', ips: ['192.168.0.5'], mac: '02:00:00:00:00:01', dns: {} },
      { name: 'default/multi-nic-sample', interface: 'net1-1', ips: ['192.168.64.5'], mac: '02:00:00:00:00:02', dns: {} },
    ]);
  });
});

describe('readNetworkStatus', () => {
  it('prefers the v4 key and falls back to the deprecated plural', () => {
    expect(readNetworkStatus({ 'k8s.v1.cni.cncf.io/networks-status': '[{"name":"old"}]' })).toEqual([{ name: 'old' }]);
    expect(readNetworkStatus({ 'k8s.v1.cni.cncf.io/network-status': '[{"name":"new"}]', 'k8s.v1.cni.cncf.io/networks-status': '[{"name":"old"}]' })).toEqual([{ name: 'new' }]);
  });
  it('tells absent or unreadable (undefined) from an empty list', () => {
    expect(readNetworkStatus({ 'k8s.v1.cni.cncf.io/network-status': 'nope' })).toBeUndefined();
    expect(readNetworkStatus({ 'k8s.v1.cni.cncf.io/network-status': '{"name":"x"}' })).toBeUndefined();
    expect(readNetworkStatus(undefined)).toBeUndefined();
    expect(readNetworkStatus({ 'k8s.v1.cni.cncf.io/network-status': '[]' })).toEqual([]);
    expect(readNetworkStatus({ 'k8s.v1.cni.cncf.io/network-status': '[{"name":"a"},{"nope":1}]' })).toEqual([{ name: 'a' }]);
  });
});

it('cniArgsFor carries what Multus passes', () => {
  expect(cniArgsFor({ namespace: 'ns', name: 'p', uid: 'u-1', containerID: 'c1' })).toBe(
    'IgnoreUnknown=true;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=u-1',
  );
});
