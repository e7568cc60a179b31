import { describe, expect, it } from 'vitest';
import { CniError } from '../../../src/lib/cni/errors.js';
import { formatResult, mergeResults, nicRoutes, parseResult, sliceForNic } from '../../../src/lib/cni/result.js';
import { compareVersions, supportsCheck, supportsStatusAndGc } from '../../../src/lib/cni/version.js';

// What the reference macvlan prints for one NIC with static IPAM (0.4.0 form, captured shape).
const nic0 = {
  cniVersion: '0.4.0',
  interfaces: [{ name: 'net1-0', mac: '6a:1f:00:00:00:01', sandbox: '/run/netns/p' }],
  ips: [{ version: '4', address: '192.168.0.66/26', gateway: '192.168.0.65', interface: 0 }],
  routes: [{ dst: '192.168.0.0/18', gw: '192.168.0.65' }],
  dns: { nameservers: ['10.96.0.10'] },
};
const nic1 = {
  cniVersion: '0.4.0',
  interfaces: [{ name: 'net1-1', mac: '6a:1f:00:00:00:02', sandbox: '/run/netns/p' }],
  ips: [{ version: '6', address: 'fd00::5/64', interface: 0 }],
  routes: [{ dst: '192.168.0.0/18', gw: '192.168.0.65' }, { dst: 'fd00:1::/48', gw: 'fd00::1' }],
  dns: { nameservers: ['10.96.0.10', '10.96.0.11'], search: ['svc'] },
};

describe('mergeResults', () => {
  it('concatenates interfaces, re-bases IP interface indexes, de-duplicates routes, unions DNS', () => {
    const m = mergeResults([parseResult(nic0), parseResult(nic1)]);
    expect(m.interfaces.map((i) => i.name)).toEqual(['net1-0', 'net1-1']);
    expect(m.ips).toEqual([
      { address: '192.168.0.66/26', gateway: '192.168.0.65', interface: 0 },
      { address: 'fd00::5/64', interface: 1 },
    ]);
    expect(m.routes).toEqual([{ dst: '192.168.0.0/18', gw: '192.168.0.65' }, { dst: 'fd00:1::/48', gw: 'fd00::1' }]);
    expect(m.dns).toEqual({ nameservers: ['10.96.0.10', '10.96.0.11'], search: ['svc'] });
  });

  it('re-bases when a delegate returns more than one interface (host + container side)', () => {
    const two = { interfaces: [{ name: 'veth1' }, { name: 'net1-0', sandbox: '/p' }], ips: [{ address: '10.0.0.2/24', interface: 1 }] };
    const m = mergeResults([parseResult(two), parseResult(nic1)]);
    expect(m.ips.map((i) => i.interface)).toEqual([1, 2]);
  });
});

describe('formatResult', () => {
  const merged = mergeResults([parseResult(nic0), parseResult(nic1)]);
  it.each([
    ['0.3.0', ['4', '6']],
    ['0.3.1', ['4', '6']],
    ['0.4.0', ['4', '6']],
    ['1.0.0', [undefined, undefined]],
    ['1.1.0', [undefined, undefined]],
  ])('cniVersion %s: ips[].version %j', (v, want) => {
    const out = formatResult(merged, v) as { cniVersion: string; ips: Array<{ version?: string }> };
    expect(out.cniVersion).toBe(v);
    expect(out.ips.map((i) => i.version)).toEqual(want);
  });
  it('round-trips through parseResult', () => {
    expect(parseResult(formatResult(merged, '0.4.0'))).toEqual(merged);
  });
});

describe('parseResult', () => {
  it.each([
    ['a string', 'x'],
    ['an interface without name', { interfaces: [{ mac: 'x' }] }],
    ['an IP without address', { ips: [{ interface: 0 }] }],
    ['a route without dst', { routes: [{ gw: '1.1.1.1' }] }],
  ])('refuses %s with code 6', (_n, v) => {
    expect(() => parseResult(v)).toThrow(CniError);
    try {
      parseResult(v);
    } catch (e) {
      expect((e as CniError).code).toBe(6);
    }
  });
});

describe('sliceForNic', () => {
  it('gives one NIC its interface at index 0 and only its IPs', () => {
    const m = mergeResults([parseResult(nic0), parseResult(nic1)]);
    expect(sliceForNic(m, 'net1-1', [])).toEqual({ interfaces: [nic1.interfaces[0]], ips: [{ address: 'fd00::5/64', interface: 0 }], routes: [], dns: {} });
    expect(sliceForNic(m, 'net1-7', [])).toBeUndefined();
  });
});

describe('nicRoutes', () => {
  it('defaults a route gateway to the NIC gateway (shim mode) and leaves on-link routes bare (l2)', () => {
    const base = { index: 0, podInterface: 'net1-0', master: 'eth1', netAddress: '', address: '', vlanCIDR: '', podCIDR: '', pool: '' };
    expect(nicRoutes({ ...base, gateway: '192.168.0.65', routes: [{ dst: '192.168.0.0/18' }, { dst: '10.9.0.0/16', gw: '192.168.0.1' }] })).toEqual([
      { dst: '192.168.0.0/18', gw: '192.168.0.65' },
      { dst: '10.9.0.0/16', gw: '192.168.0.1' },
    ]);
    expect(nicRoutes({ ...base, routes: [{ dst: '10.9.0.0/16' }] })).toEqual([{ dst: '10.9.0.0/16' }]);
  });
});

describe('versions', () => {
  it.each([
    ['0.3.0', '0.3.1', -1],
    ['0.10.0', '0.4.0', 1],
    ['1.0.0', '1.0.0', 0],
    ['1.1.0', '1.0.0', 1],
  ])('compare %s %s = %i', (a, b, want) => expect(compareVersions(a, b)).toBe(want));
  it('CHECK from 0.4.0, STATUS/GC from 1.1.0', () => {
    expect([supportsCheck('0.3.1'), supportsCheck('0.4.0'), supportsStatusAndGc('1.0.0'), supportsStatusAndGc('1.1.0')]).toEqual([false, true, false, true]);
  });
});
