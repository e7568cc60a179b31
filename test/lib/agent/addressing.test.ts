import { describe, expect, it } from 'vitest';
import type { CidrEntry, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import { nicAddressing, poolName, shimGateway, usesShim } from '../../../src/lib/agent/addressing.js';
import { parseIpamConfig } from '../../../src/lib/network.js';

const net = (type: 'macvlan' | 'ipvlan', vlanMode: string, extra: Record<string, unknown> = {}): MultiNicNetwork => ({
  apiVersion: 'multinic.fms.io/v1',
  kind: 'MultiNicNetwork',
  metadata: { name: 'mn' },
  spec: { subnet: '192.168.0.0/16', ipam: JSON.stringify({ type: 'multi-nic-ipam', hostBlock: 6, interfaceBlock: 2, vlanMode, ...extra }), plugin: { cniVersion: '0.3.0', type } },
});
const entry: CidrEntry = {
  netAddress: '10.0.2.0/24',
  interfaceIndex: 1,
  vlanCIDR: '192.168.64.0/18',
  hosts: [{ hostIndex: 2, hostName: 'h3', interfaceName: 'eth2', hostIP: '10.0.2.3', podCIDR: '192.168.66.0/24' }],
};
const host = entry.hosts[0]!;

describe('nicAddressing', () => {
  it('ipvlan l3: vlanCIDR prefix, no gateway, no shim, upstream pool name', () => {
    const n = net('ipvlan', 'l3');
    expect(nicAddressing(n, parseIpamConfig('mn', n.spec.ipam), entry, host)).toEqual({
      pool: { name: 'mn-192.168.66.0-24', network: 'mn', hostName: 'h3', interfaceName: 'eth2', podCIDR: '192.168.66.0/24', vlanCIDR: '192.168.64.0/18', excludes: [], reserved: [] },
      prefix: 18,
      routes: [],
      shim: false,
    });
  });

  it('macvlan l3: pod block prefix, shim gateway reserved, vlanCIDR routed via it', () => {
    const n = net('macvlan', 'l3');
    const a = nicAddressing(n, parseIpamConfig('mn', n.spec.ipam), entry, host);
    expect(a).toMatchObject({ prefix: 24, gateway: '192.168.66.1', routes: [{ dst: '192.168.64.0/18', gw: '192.168.66.1' }], shim: true });
    expect(a.pool.reserved).toEqual(['192.168.66.1']);
  });

  it('macvlan l2: on-link vlanCIDR like ipvlan', () => {
    const n = net('macvlan', 'l2');
    expect(nicAddressing(n, parseIpamConfig('mn', n.spec.ipam), entry, host)).toMatchObject({ prefix: 18, routes: [], shim: false });
  });

  it('the CIDR ippool name wins; excludes smaller than the block become pool excludes', () => {
    const n = net('ipvlan', 'l3', { excludeCIDRs: ['192.168.66.128/25', '192.168.0.0/20', '192.168.66.7/32'] });
    const a = nicAddressing(n, parseIpamConfig('mn', n.spec.ipam), entry, { ...host, ippool: 'custom-pool' });
    expect(a.pool.name).toBe('custom-pool');
    expect(a.pool.excludes).toEqual(['192.168.66.128/25', '192.168.66.7/32']);
  });

  it('IPv6 pool names replace colons', () => {
    expect(poolName('mn', 'fd00:10::/64')).toBe('mn-fd00-10---64');
    expect(shimGateway('fd00:10::/64')).toBe('fd00:10::1');
  });

  it('ipam config errors name the network and the field', () => {
    expect(() => parseIpamConfig('mn', '{')).toThrow(/MultiNicNetwork "mn": spec.ipam is not valid JSON \(.*\): fix spec.ipam in the network.s manifest/);
    expect(() => parseIpamConfig('mn', '{"vlanMode":"l4"}')).toThrow(/vlanMode "l4" is not one of l2, l3, l3s/);
    expect(() => parseIpamConfig('mn', '[]')).toThrow(/must be a JSON object/);
    expect([usesShim('macvlan', 'l3s'), usesShim('ipvlan', 'l3'), usesShim('macvlan', '')]).toEqual([true, false, false]);
  });
});
