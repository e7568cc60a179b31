import { describe, expect, it } from 'vitest';
import { cniArgsFor, jsonErrorAt, networkAddresses, networkStatusFromResult, parseNetworksAnnotation, readNetworkStatus } from '../../src/lib/multus.js';

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

// The annotation real Multus v4.0.2 wrote for a 2-NIC multi-nic attachment (shared examples,
// observed under containerd 1.6), and the one-entry-per-interface form of later Multus versions.
const MERGED = [
  { name: 'cluster-primary', interface: 'eth0', ips: ['10.233.1.46'], default: true, dns: {} },
  { name: 'default/multi-nic-sample', interface: 'net1-1', ips: ['192.168.1.47', '192.168.65.47'], mac: '02:00:00:00:00:02', dns: {} },
];
const PER_INTERFACE = [
  { name: 'cluster-primary', interface: 'eth0', ips: ['10.233.1.46'], default: true, dns: {} },
  { name: 'default/multi-nic-sample', interface: 'net1-0', ips: ['192.168.1.47'], mac: '02:00:00:00:00:01', dns: {} },
  { name: 'default/multi-nic-sample', interface: 'net1-1', ips: ['192.168.65.47'], mac: '02:00:00:00:00:02', dns: {} },
];

describe('networkStatusFromResult', () => {
  const result = {
    interfaces: [
      { name: 'net1-0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/p' },
      { name: 'eth1', mac: '02:00:00:00:00:aa' },
      { name: 'net1-1', mac: '02:00:00:00:00:02', sandbox: '/run/netns/p' },
    ],
    ips: [
      { address: '192.168.1.47/18', interface: 0 },
      { address: '192.168.65.47/18', interface: 2 },
    ],
  };

  it('makes ONE entry for a multi-interface result, as Multus v4.0.2 does: last pod interface and mac, every address', () => {
    expect(networkStatusFromResult('default/multi-nic-sample', result)).toEqual(MERGED[1]);
    // Same text as Multus' Go struct marshals (key order name, interface, ips, mac, dns).
    expect(JSON.stringify(networkStatusFromResult('default/multi-nic-sample', result))).toBe(JSON.stringify(MERGED[1]));
  });

  it('a result without a pod-side interface or addresses still names the network, with dns', () => {
    expect(networkStatusFromResult('n', { interfaces: [{ name: 'eth1' }] })).toEqual({ name: 'n', dns: {} });
    expect(networkStatusFromResult('n', { interfaces: [{ name: 'net1-0', sandbox: '/x' }], ips: [{ address: 'fd00::5/64' }], dns: { nameservers: ['10.0.0.10'] } })).toEqual({
      name: 'n',
      interface: 'net1-0',
      ips: ['fd00::5'],
      dns: { nameservers: ['10.0.0.10'] },
    });
  });
});

describe('networkAddresses', () => {
  it('lists the same addresses from the merged (v4.0.2) and the per-interface form', () => {
    for (const form of [MERGED, PER_INTERFACE]) {
      expect(networkAddresses(form, 'multi-nic-sample').map((a) => a.address)).toEqual(['192.168.1.47', '192.168.65.47']);
      expect(networkAddresses(form, 'multi-nic-sample', 'default').map((a) => a.address)).toEqual(['192.168.1.47', '192.168.65.47']);
      expect(networkAddresses(form, 'multi-nic-sample', 'other')).toEqual([]);
    }
  });

  it('names the interface only where the entry says which one holds the address', () => {
    // Merged: "net1-1" is only the last interface, so neither address is attributed.
    expect(networkAddresses(MERGED, 'multi-nic-sample')).toEqual([{ address: '192.168.1.47' }, { address: '192.168.65.47' }]);
    expect(networkAddresses(PER_INTERFACE, 'multi-nic-sample')).toEqual([
      { address: '192.168.1.47', interface: 'net1-0' },
      { address: '192.168.65.47', interface: 'net1-1' },
    ]);
    // One interface, dual stack: one address per family is that interface's.
    expect(networkAddresses([{ name: 'ns/n', interface: 'net1-0', ips: ['192.168.0.5/18', 'fd00::5'] }], 'n')).toEqual([
      { address: '192.168.0.5', interface: 'net1-0' },
      { address: 'fd00::5', interface: 'net1-0' },
    ]);
  });

  it('bare network names (older Multus) match any namespace; "ns/net" only its own; junk ips are skipped', () => {
    expect(networkAddresses([{ name: 'n', ips: ['1.2.3.4'] }], 'n', 'team')).toEqual([{ address: '1.2.3.4' }]);
    expect(networkAddresses([{ name: 'x/n', ips: ['1.2.3.4'] }], 'n', 'team')).toEqual([]);
    expect(networkAddresses([{ name: 'ns/n', interface: 'net1-0', ips: [7, '', '1.2.3.4'] as never }], 'n')).toEqual([{ address: '1.2.3.4', interface: 'net1-0' }]);
    expect(networkAddresses([{ name: 'ns/n', ips: 'nope' as never }], 'n')).toEqual([]);
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

describe('jsonErrorAt', () => {
  it.each([
    ['[{"name": net-a}]', 11, 1, 12],
    ['[{"name": "a",}]', 14, 1, 15],
    ['[{"name": "a"}', 14, 1, 15],
    ['[\n  {"name" "a"}]', 12, 2, 11],
    ['[{"name": "a\\x"}]', 13, 1, 14],
    ['{"a": 01}', 7, 1, 8],
  ])('%j fails at offset %i (line %i column %i)', (text, offset, line, column) => {
    expect(jsonErrorAt(text)).toEqual({ offset, line, column });
    expect(() => JSON.parse(text)).toThrow();
  });
  it.each(['[]', '[{"name": "a", "cni-args": {"nics": 1, "x": [true, false, null, -1.5e3, "\\u00e9"]}}]', ' {"name":"n"} '])('valid %j: undefined', (text) => {
    expect(jsonErrorAt(text)).toBeUndefined();
  });
  it('the annotation error names line, column and position', () => {
    expect(() => parseNetworksAnnotation('[{"name": net-a}]')).toThrow(/is not valid JSON at line 1 column 12 \(position 11\): /);
  });
});
