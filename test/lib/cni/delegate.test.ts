import { describe, expect, it } from 'vitest';
import type { AllocatedNic } from '../../../src/lib/agent/protocol.js';
import { parseNetConf } from '../../../src/lib/cni/config.js';
import { checkAllocatedNics, checkIfName, delegateConfig } from '../../../src/lib/cni/delegate.js';
import { CniError } from '../../../src/lib/cni/errors.js';

const nic: AllocatedNic = {
  index: 1,
  podInterface: 'net1-1',
  master: 'eth2',
  netAddress: '10.0.2.0/24',
  address: '192.168.64.66/26',
  gateway: '192.168.64.65',
  routes: [{ dst: '192.168.64.0/18', gw: '192.168.64.65' }],
  vlanCIDR: '192.168.64.0/18',
  podCIDR: '192.168.64.64/26',
  pool: 'mnet-192.168.64.64-26',
};
const conf = (plugin: Record<string, unknown>, over: Record<string, unknown> = {}) =>
  parseNetConf(JSON.stringify({ cniVersion: '0.4.0', name: 'mnet', type: 'multi-nic', ipam: { type: 'multi-nic-ipam' }, multiNICIPAM: true, plugin, ...over }));

describe('delegateConfig', () => {
  it('macvlan: master, mode, mtu and the NIC address, gateway and routes as static IPAM, in the network cniVersion', () => {
    expect(delegateConfig(conf({ type: 'macvlan', mode: 'bridge', mtu: 9000, cniVersion: '0.3.0' }), nic)).toEqual({
      cniVersion: '0.4.0',
      name: 'mnet',
      type: 'macvlan',
      master: 'eth2',
      mode: 'bridge',
      mtu: 9000,
      ipam: { type: 'static', addresses: [{ address: '192.168.64.66/26', gateway: '192.168.64.65' }], routes: [{ dst: '192.168.64.0/18', gw: '192.168.64.65' }] },
    });
  });

  it('ipvlan l3 in l2 vlanMode: no gateway, no routes', () => {
    const l2: AllocatedNic = { ...nic, address: '192.168.64.66/18', routes: [] };
    delete l2.gateway;
    expect(delegateConfig(conf({ type: 'ipvlan', mode: 'l3' }), l2)['ipam']).toEqual({ type: 'static', addresses: [{ address: '192.168.64.66/18' }], routes: [] });
  });

  it('passes the user\'s single-NIC IPAM through when the agent gave no address', () => {
    const ipam = { type: 'host-local', ranges: [[{ subnet: '10.9.0.0/24' }]] };
    const c = conf({ type: 'macvlan' }, { ipam, multiNICIPAM: undefined });
    expect(delegateConfig(c, { ...nic, address: '' })['ipam']).toEqual(ipam);
  });

  it('the agent MTU applies only when the plugin sets none', () => {
    expect(delegateConfig(conf({ type: 'macvlan' }), { ...nic, mtu: 1450 })['mtu']).toBe(1450);
    expect(delegateConfig(conf({ type: 'macvlan', mtu: 9000 }), { ...nic, mtu: 1450 })['mtu']).toBe(9000);
  });

  it('sriov takes the VF PCI address as deviceID and keeps its own keys', () => {
    const c = delegateConfig(conf({ type: 'sriov', vlan: 100, spoofchk: 'off' }), { ...nic, pciAddress: '0000:3b:02.1' });
    expect(c).toMatchObject({ type: 'sriov', deviceID: '0000:3b:02.1', vlan: 100, spoofchk: 'off' });
    expect(c['master']).toBeUndefined();
  });

  it('sriov without a PCI address is a config error naming the NIC', () => {
    expect(() => delegateConfig(conf({ type: 'sriov' }), nic)).toThrow(/sriov NIC 2 \(eth2\) has no PCI address/);
  });

  it('host-device: pciBusID when known, else the device name', () => {
    expect(delegateConfig(conf({ type: 'host-device' }), { ...nic, pciAddress: '0000:3b:00.1' })).toMatchObject({ pciBusID: '0000:3b:00.1' });
    expect(delegateConfig(conf({ type: 'host-device' }), nic)).toMatchObject({ device: 'eth2' });
  });

  it('adds prevResult in the network version for CHECK/DEL', () => {
    const prev = { interfaces: [{ name: 'net1-1' }], ips: [{ address: '192.168.64.66/26', interface: 0 }], routes: [], dns: {} };
    expect(delegateConfig(conf({ type: 'macvlan' }), nic, prev)['prevResult']).toEqual({ cniVersion: '0.4.0', ...prev, ips: [{ version: '4', address: '192.168.64.66/26', interface: 0 }] });
  });
});

describe('checkIfName', () => {
  it.each([
    ['net1', 2, true],
    ['abcdefghijklm', 10, true],
    ['abcdefghijklm', 11, false],
    ['abcdefghijklmn', 1, false],
  ])('%s with %i NICs fits: %s', (name, n, ok) => {
    if (ok) expect(() => checkIfName(name, n)).not.toThrow();
    else expect(() => checkIfName(name, n)).toThrow(CniError);
  });
});

describe('checkAllocatedNics: names from the agent are checked before they reach a config or `ip`', () => {
  it('accepts what the agent answers', () => {
    expect(() => checkAllocatedNics('net1', [nic, { ...nic, index: 0, podInterface: 'net1-0', pciAddress: '0000:3b:00.1' }])).not.toThrow();
  });
  it.each([
    ['a pod interface that is not <ifName>-<index>', { podInterface: '../x' }, /pod interface "\.\.\/x" is not "net1-1"/],
    ['a master that is not an interface name', { master: 'eth2/../x' }, /master "eth2\/\.\.\/x" is not a valid interface name/],
    ['a PCI address that is a path', { pciAddress: '../../devices' }, /PCI address "\.\.\/\.\.\/devices" is not of the form/],
    ['a negative index', { index: -1 }, /index -1 is not a NIC position/],
  ])('refuses %s (code 100)', (_n, over, msg) => {
    try {
      checkAllocatedNics('net1', [{ ...nic, ...over }]);
      expect.unreachable();
    } catch (e) {
      expect((e as CniError).code).toBe(100);
      expect((e as CniError).message).toMatch(msg);
    }
  });
});
