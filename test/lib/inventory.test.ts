import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { nicsOf, parseInventory } from '../../src/lib/inventory.js';
import { parseManifests } from '../../src/lib/manifest.js';
import { NetworkInputError } from '../../src/lib/network.js';
import { host } from './plan/fixtures.js';

const hostsYaml = readFileSync(new URL('../../examples/hosts.yaml', import.meta.url), 'utf8');
const a = host('a', [['eth1', '10.0.1.0/24', '10.0.1.1', { mtu: 9000, speed: 100000 }]]);
const b = host('b', [['eth1', '10.0.1.0/24', '10.0.1.2'], ['eth2', '10.0.2.0/24', '10.0.2.2', { netAddressV6: 'fd00:2::/64', hostIPv6: 'fd00:2::2' }]]);

describe('parseInventory: accepted shapes', () => {
  it.each([
    ['examples/hosts.yaml (v1 List)', hostsYaml, ['host1', 'host2']],
    ['multi-document YAML', `${stringify(a)}---\n${stringify(b)}`, ['a', 'b']],
    ['kubectl get -o yaml (HostInterfaceList with metadata)', stringify({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterfaceList', metadata: { resourceVersion: '12' }, items: [a, b] }), ['a', 'b']],
    ['JSON List', JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [b] }), ['b']],
    ['empty documents are skipped', `---\n${stringify(a)}---\n---\n`, ['a']],
  ])('%s', (_n, text, names) => {
    expect(parseInventory(parseManifests(text, 'hosts.yaml')).map((h) => h.spec.hostName)).toEqual(names);
  });
});

describe('parseInventory: bad input', () => {
  const bad = (name: string, hi: unknown, field: string, msg: RegExp): [string, string, string, RegExp] => [name, stringify({ apiVersion: 'v1', kind: 'List', items: [hi] }), field, msg];
  it.each([
    bad('a MultiNicNetwork instead of HostInterfaces', { apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', metadata: { name: 'n' }, spec: {} }, 'kind', /expected a HostInterface, got MultiNicNetwork "n"/),
    bad('netAddress that is not a network', host('x', [['eth1', '10.0.1.0/33', '10.0.1.1']]), 'spec.interfaces[0].netAddress', /prefix must be an integer 0-32/),
    bad('netAddress with host bits', host('x', [['eth1', '10.0.1.7/24', '10.0.1.7']]), 'spec.interfaces[0].netAddress', /did you mean 10\.0\.1\.0\/24/),
    bad('hostIP outside netAddress', host('x', [['eth1', '10.0.1.0/24', '10.0.2.1']]), 'spec.interfaces[0].hostIP', /10\.0\.2\.1 is not inside netAddress 10\.0\.1\.0\/24/),
    bad('hostIP that is not an address', host('x', [['eth1', '10.0.1.0/24', 'ten']]), 'spec.interfaces[0].hostIP', /not an IPv4 or IPv6 address/),
    bad('interface name longer than Linux allows', host('x', [['a-very-long-interface', '10.0.1.0/24', '10.0.1.1']]), 'spec.interfaces[0].interfaceName', /at most 15 characters/),
    bad('negative MTU', host('x', [['eth1', '10.0.1.0/24', '10.0.1.1', { mtu: -1 }]]), 'spec.interfaces[0].mtu', /greater than or equal to 0/),
  ])('%s', (_n, text, field, msg) => {
    let err: NetworkInputError | undefined;
    try {
      parseInventory(parseManifests(text, 'hosts.yaml'));
    } catch (e) {
      err = e as NetworkInputError;
    }
    expect(err).toBeInstanceOf(NetworkInputError);
    expect(err?.field).toBe(field);
    expect(err?.message).toMatch(/^hosts\.yaml#1\.items\[0\] \(/);
    expect(err?.message).toMatch(msg);
  });
  it('rejects a host described twice, naming both documents', () => {
    expect(() => parseInventory(parseManifests(`${stringify(a)}---\n${stringify(a)}`, 'h.yaml'))).toThrow(/h\.yaml#2 .*host "a" is already described by h\.yaml#1/);
  });
});

describe('nicsOf', () => {
  it('gives IPv4 NICs from netAddress/hostIP with mtu and speed', () => {
    expect(nicsOf([a, b], 4).map((n) => `${n.hostName}/${n.interfaceName} ${n.hostIP} ${n.mtu} ${n.speed}`)).toEqual(['a/eth1 10.0.1.1 9000 100000', 'b/eth1 10.0.1.2 undefined undefined', 'b/eth2 10.0.2.2 undefined undefined']);
  });
  it('gives IPv6 NICs from netAddressV6/hostIPv6 only', () => {
    expect(nicsOf([a, b], 6).map((n) => `${n.hostName}/${n.interfaceName} ${n.hostIP} ${n.net.prefix}`)).toEqual(['b/eth2 fd00:2::2 64']);
  });
  it('skips NICs without a network and tolerates unnormalised ones (agent input)', () => {
    const h = { ...host('c', []), spec: { hostName: 'c', interfaces: [{ interfaceName: 'lo' }, { interfaceName: 'eth1', netAddress: '10.0.1.9/24', hostIP: '10.0.1.9' }, { interfaceName: 'eth2', netAddress: 'garbage' }] } };
    expect(nicsOf([h], 4).map((n) => `${n.interfaceName} ${n.net.base}`)).toEqual([`eth1 ${(10n << 24n) + (1n << 8n)}`]);
  });
});
