import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/lib/errors.js';
import type { MultiNicNetwork } from '../../src/lib/crds/types.gen.js';
import { NetworkInputError, checkSubnetOverlaps, subnetOverlapRefusals, validateDeviceClass, validateNetwork, validateNetworkForInventory } from '../../src/lib/network.js';
import { host, networkDoc, type NetOpts } from './plan/fixtures.js';

type Doc = Record<string, unknown>;
const withSpec = (patch: Record<string, unknown>, o: NetOpts = {}): Doc => {
  const d = networkDoc(o);
  return { ...d, spec: { ...(d.spec as Doc), ...patch } };
};
const withIpam = (ipam: unknown): Doc => withSpec({ ipam: typeof ipam === 'string' ? ipam : JSON.stringify(ipam) });

interface Bad {
  name: string;
  doc: unknown;
  field: string;
  message: RegExp;
  hint: RegExp;
}

const bad: Bad[] = [
  { name: 'invalid subnet CIDR', doc: networkDoc({ subnet: '192.168.0.0/33' }), field: 'spec.subnet', message: /does not match|prefix/, hint: /CIDR/ },
  { name: 'subnet with host bits set', doc: networkDoc({ subnet: '192.168.1.0/16' }), field: 'spec.subnet', message: /did you mean 192\.168\.0\.0\/16/, hint: /host bits zero/ },
  { name: 'subnet that is not an address', doc: networkDoc({ subnet: '300.1.1.0/24' }), field: 'spec.subnet', message: /not an IPv4 or IPv6 address/, hint: /CIDR notation/ },
  { name: 'IPv4 subnet with IPv6 masterNets', doc: networkDoc({ masterNets: ['fd00::/64'] }), field: 'spec.masterNets[0]', message: /IPv6 but spec\.subnet is IPv4/, hint: /one family/ },
  { name: 'IPv6 subnet with an IPv4 exclude', doc: networkDoc({ subnet: 'fd00::/48', excludeCIDRs: ['10.0.0.0/24'] }), field: 'spec.ipam.excludeCIDRs[0]', message: /IPv4 but the network is IPv6/, hint: /pod subnet/ },
  { name: 'negative hostBlock', doc: networkDoc({ hostBlock: -1 }), field: 'spec.ipam.hostBlock', message: /non-negative integer.*-1/, hint: /whole number/ },
  { name: 'non-integer interfaceBlock', doc: networkDoc({ interfaceBlock: 1.5 }), field: 'spec.ipam.interfaceBlock', message: /non-negative integer.*1\.5/, hint: /whole number/ },
  { name: 'hostBlock given as a string', doc: withIpam({ type: 'multi-nic-ipam', hostBlock: '6', interfaceBlock: 2 }), field: 'spec.ipam.hostBlock', message: /"6"/, hint: /whole number/ },
  { name: 'missing hostBlock', doc: withIpam({ type: 'multi-nic-ipam', interfaceBlock: 2 }), field: 'spec.ipam.hostBlock', message: /Required/, hint: /hostBlock/ },
  { name: 'fewer than 2 pod bits', doc: networkDoc({ subnet: '192.168.0.0/16', interfaceBlock: 8, hostBlock: 7 }), field: 'spec.ipam', message: /leaves 1 pod address bits/, hint: /at most 14/ },
  { name: 'no pod bits at all (IPv6)', doc: networkDoc({ subnet: 'fd00::/64', interfaceBlock: 32, hostBlock: 40 }), field: 'spec.ipam', message: /leaves 0 pod address bits/, hint: /lower hostBlock/ },
  { name: 'more masterNets than 2^interfaceBlock', doc: networkDoc({ interfaceBlock: 1, masterNets: ['10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24'] }), field: 'spec.masterNets', message: /3 NIC networks but interfaceBlock 1 gives only 2/, hint: /raise interfaceBlock to 2/ },
  { name: 'excludes eat the interface blocks masterNets need', doc: networkDoc({ interfaceBlock: 1, excludeCIDRs: ['192.168.0.0/17'], masterNets: ['10.0.1.0/24', '10.0.2.0/24'] }), field: 'spec.masterNets', message: /gives only 1 interface blocks \(1 interface blocks are excluded/, hint: /interfaceBlock/ },
  { name: 'overlapping masterNets', doc: networkDoc({ masterNets: ['10.0.1.0/24', '10.0.0.0/16'] }), field: 'spec.masterNets[1]', message: /10\.0\.0\.0\/16 overlaps spec\.masterNets\[0\] 10\.0\.1\.0\/24/, hint: /once/ },
  { name: 'duplicate masterNets', doc: networkDoc({ masterNets: ['10.0.1.0/24', '10.0.1.0/24'] }), field: 'spec.masterNets[1]', message: /overlaps/, hint: /once/ },
  { name: 'exclude outside the subnet', doc: networkDoc({ excludeCIDRs: ['10.0.0.0/24'] }), field: 'spec.ipam.excludeCIDRs[0]', message: /not inside spec\.subnet 192\.168\.0\.0\/16/, hint: /inside 192\.168\.0\.0\/16/ },
  { name: 'exclude that is not an address', doc: networkDoc({ excludeCIDRs: ['nope'] }), field: 'spec.ipam.excludeCIDRs[0]', message: /not an address/, hint: /192\.168\.0\.5/ },
  { name: 'subnet overlapping a masterNets network', doc: networkDoc({ subnet: '10.0.0.0/8', masterNets: ['10.0.1.0/24'] }), field: 'spec.subnet', message: /overlaps the NIC network/, hint: /no host NIC network/ },
  { name: 'unknown strategy', doc: withSpec({ attachPolicy: { strategy: 'fastest' } }), field: 'spec.attachPolicy.strategy', message: /Unsupported value: "fastest"/, hint: /none, devClass, topology/ },
  { name: 'unknown plugin type', doc: withSpec({ plugin: { cniVersion: '0.3.0', type: 'bridge' } }), field: 'spec.plugin.type', message: /Unsupported value: "bridge"/, hint: /ipvlan, macvlan/ },
  { name: 'ipam that is not JSON', doc: withIpam('{type: multi-nic-ipam}'), field: 'spec.ipam', message: /not valid JSON/, hint: /JSON string/ },
  { name: 'ipam JSON that is not an object', doc: withIpam('[1,2]'), field: 'spec.ipam', message: /JSON object, got an array/, hint: /"type"/ },
  { name: 'ipam without type', doc: withIpam({ hostBlock: 6, interfaceBlock: 2 }), field: 'spec.ipam.type', message: /Required/, hint: /multi-nic-ipam/ },
  { name: 'unknown vlanMode', doc: withIpam({ type: 'multi-nic-ipam', hostBlock: 6, interfaceBlock: 2, vlanMode: 'l4' }), field: 'spec.ipam.vlanMode', message: /"l4"/, hint: /l2/ },
  { name: 'missing ipam', doc: withSpec({ ipam: undefined }), field: 'spec.ipam', message: /Required value/, hint: /JSON string/ },
  { name: 'unknown spec field (typo)', doc: withSpec({ subnett: '10.0.0.0/8' }), field: 'spec.subnett', message: /unknown field/, hint: /CRD schema/ },
  { name: 'not a MultiNicNetwork', doc: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, field: 'kind', message: /expected a MultiNicNetwork, got ConfigMap "x"/, hint: /kind: MultiNicNetwork/ },
  { name: 'a YAML scalar', doc: 'hello', field: 'kind', message: /got a string value/, hint: /MultiNicNetwork/ },
  { name: 'wrong apiVersion', doc: { ...networkDoc(), apiVersion: 'net.cogadvisor.io/v1' }, field: 'apiVersion', message: /must be multinic\.fms\.io\/v1/, hint: /apiVersion: multinic\.fms\.io\/v1/ },
  { name: 'missing name', doc: { ...networkDoc(), metadata: {} }, field: 'metadata.name', message: /Required/, hint: /metadata\.name/ },
  { name: 'invalid name', doc: { ...networkDoc(), metadata: { name: 'My_Net' } }, field: 'metadata.name', message: /not a valid Kubernetes name/, hint: /lower-case/ },
  // A valid DNS subdomain (253) too long for the agents' claim names <network>.i<k>.h<h>.
  { name: 'a name too long for its CIDRClaim names', doc: { ...networkDoc(), metadata: { name: `${'a'.repeat(62)}.${'b'.repeat(62)}.${'c'.repeat(62)}.${'d'.repeat(50)}` } }, field: 'metadata.name', message: /is 239 characters; .* at most 238/, hint: /at most 238/ },
];

describe('validateNetwork: bad input', () => {
  it.each(bad)('$name', ({ doc, field, message, hint }) => {
    let err: unknown;
    try {
      validateNetwork({ source: 'net.yaml#3', value: doc });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NetworkInputError);
    const e = err as NetworkInputError;
    expect(e).toBeInstanceOf(UserError);
    expect(e.exitCode).toBe(2);
    expect(e.field).toBe(field);
    expect(e.message.startsWith('net.yaml#3 (')).toBe(true);
    expect(e.message).toContain(`: ${field}: `);
    expect(e.message).toMatch(message);
    expect(e.hint).toMatch(hint);
  });
});

describe('validateNetwork: good input', () => {
  it.each([
    ['the seed network', networkDoc(), { family: 4, subnet: true, masters: 0 }],
    ['IPv6 with masterNets', networkDoc({ subnet: 'fd00:10::/48', interfaceBlock: 4, hostBlock: 12, masterNets: ['fd00:1::/64', 'fd00:2::/64'] }), { family: 6, subnet: true, masters: 2 }],
    ['host-subnet mode', networkDoc({ subnet: '', hostBlock: 2, masterNets: ['10.0.1.0/24'] }), { family: 4, subnet: false, masters: 1 }],
    ['another IPAM (no block fields needed)', withIpam({ type: 'whereabouts', range: '10.1.0.0/16' }), { family: 4, subnet: true, masters: 0 }],
  ])('%s', (_n, doc, want) => {
    const v = validateNetwork({ source: 's#1', value: doc });
    expect({ family: v.family, subnet: v.subnet !== undefined, masters: v.masterNets.length }).toEqual(want);
  });
  it('parses the ipam string into a typed config, keeping other keys', () => {
    const v = validateNetwork({ source: 's#1', value: withIpam({ type: 'multi-nic-ipam', hostBlock: 8, interfaceBlock: 2, excludeCIDRs: ['192.168.0.64/26', '192.168.0.5'], vlanMode: 'l3s', routes: [{ dst: '0.0.0.0/0' }] }) });
    expect(v.ipam).toEqual({ type: 'multi-nic-ipam', hostBlock: 8, interfaceBlock: 2, excludeCIDRs: ['192.168.0.64/26', '192.168.0.5'], vlanMode: 'l3s', extra: { routes: [{ dst: '0.0.0.0/0' }] } });
    expect(v.excludes.map((c) => c.prefix)).toEqual([32, 26]);
  });
});

describe('validateNetworkForInventory', () => {
  const inv = [host('a', [['eth1', '10.0.1.0/24', '10.0.1.1'], ['eth2', '10.0.2.0/24', '10.0.2.1'], ['eth3', '10.0.3.0/24', '10.0.3.1']])];
  it.each([
    ['subnet overlapping a host NIC network', { subnet: '10.0.0.0/16' }, 'spec.subnet', /overlaps NIC network 10\.0\.1\.0\/24 of a\/eth1/],
    ['empty masterNets and more NIC networks than 2^interfaceBlock (upstream loops forever)', { interfaceBlock: 1 }, 'spec.masterNets', /3 \(10\.0\.1\.0\/24, 10\.0\.2\.0\/24, 10\.0\.3\.0\/24\) but interfaceBlock 1 gives only 2/],
    ['host-subnet mode with no pod bits left in a NIC network', { subnet: '', hostBlock: 7 }, 'spec.ipam', /NIC network 10\.0\.1\.0\/24 with hostBlock 7/],
  ])('%s', (_n, opts, field, message) => {
    const net = validateNetwork({ source: 'n#1', value: networkDoc(opts) });
    let err: NetworkInputError | undefined;
    try {
      validateNetworkForInventory(net, inv);
    } catch (e) {
      err = e as NetworkInputError;
    }
    expect(err?.field).toBe(field);
    expect(err?.message).toMatch(message);
  });
  it('accepts the seed network over three NIC networks', () => {
    expect(() => validateNetworkForInventory(validateNetwork({ source: 'n#1', value: networkDoc() }), inv)).not.toThrow();
  });
});

describe('subnet overlaps between networks', () => {
  const v = (name: string, subnet: string, source = `f.yaml#${name}`) => validateNetwork({ source, value: networkDoc({ name, subnet }) });
  const live = (name: string, subnet: string, created: string, extra: Partial<MultiNicNetwork['metadata']> = {}): MultiNicNetwork => {
    const d = networkDoc({ name, subnet }) as unknown as MultiNicNetwork;
    return { ...d, metadata: { ...d.metadata, creationTimestamp: created, ...extra } };
  };
  const thrown = (f: () => void): NetworkInputError | undefined => {
    try {
      f();
    } catch (e) {
      return e as NetworkInputError;
    }
    return undefined;
  };

  it('refuses the later of two networks in one file, naming both networks and both subnets', () => {
    const err = thrown(() => checkSubnetOverlaps([v('a', '192.168.0.0/16'), v('b', '192.168.4.0/22')]));
    expect(err).toBeInstanceOf(NetworkInputError);
    expect(err?.field).toBe('spec.subnet');
    expect(err?.message).toBe('f.yaml#b (MultiNicNetwork "b"): spec.subnet: 192.168.4.0/22 overlaps subnet 192.168.0.0/16 of MultiNicNetwork "a" (defined in f.yaml#a): both networks\' policy rules would claim the addresses they share');
    expect(err?.hint).toMatch(/give "b" a subnet that no other network uses/);
  });

  it('refuses a network overlapping one already in the cluster under another name; its own old version does not count', () => {
    const err = thrown(() => checkSubnetOverlaps([v('b', '10.8.0.0/16')], [live('a', '10.0.0.0/12', '2026-01-01T00:00:00Z')]));
    expect(err?.message).toMatch(/10\.8\.0\.0\/16 overlaps subnet 10\.0\.0\.0\/12 of MultiNicNetwork "a" \(already in the cluster\)/);
    expect(() => checkSubnetOverlaps([v('a', '10.0.0.0/16')], [live('a', '10.0.0.0/12', '2026-01-01T00:00:00Z')])).not.toThrow();
  });

  it('accepts disjoint subnets, other families, networks without a subnet and single-NIC IPAM networks', () => {
    const hostSubnet = validateNetwork({ source: 'h#1', value: networkDoc({ name: 'hs', subnet: '' }) });
    const single = validateNetwork({ source: 's#1', value: { ...networkDoc({ name: 'single' }), spec: { ...(networkDoc().spec as Doc), ipam: JSON.stringify({ type: 'host-local' }) } } });
    expect(() => checkSubnetOverlaps([v('a', '192.168.0.0/17'), v('b', '192.168.128.0/17'), v('c', 'fd00::/48'), hostSubnet, single, v('d', '10.0.0.0/8')])).not.toThrow();
  });

  it('in the cluster, the later-created network of an overlapping pair is refused; ties by name; deleted ones ignored', () => {
    const refusals = subnetOverlapRefusals([
      live('zeta', '10.0.0.0/16', '2026-01-01T00:00:00Z'),
      live('alpha', '10.0.1.0/24', '2026-01-02T00:00:00Z'),
      live('beta', '10.0.128.0/17', '2026-01-01T00:00:00Z'),
      live('gone', '10.0.0.0/8', '2025-01-01T00:00:00Z', { deletionTimestamp: '2026-01-03T00:00:00Z' }),
      live('other', '172.16.0.0/16', '2026-01-05T00:00:00Z'),
    ]);
    expect([...refusals.keys()].sort()).toEqual(['alpha', 'zeta']);
    expect(refusals.get('zeta')).toMatchObject({ subnet: '10.0.0.0/16', other: 'beta', otherSubnet: '10.0.128.0/17' });
    expect(refusals.get('alpha')?.message).toBe('subnet 10.0.1.0/24 overlaps subnet 10.0.0.0/16 of MultiNicNetwork "zeta", which was created first: this network is refused (no address plan, no routes, no pod attachments) until one of the two subnets changes');
  });
});

describe('subnetOverlapRefusals with CIDRs', () => {
  const live = (name: string, subnet: string, created: string): MultiNicNetwork => {
    const d = networkDoc({ name, subnet }) as unknown as MultiNicNetwork;
    return { ...d, metadata: { ...d.metadata, creationTimestamp: created } };
  };
  it('judges a network by the subnet its CIDR froze, not a later edit of spec.subnet', () => {
    const nets = [live('a', '10.0.0.0/16', '2026-01-01T00:00:00Z'), live('b', '10.0.0.0/24', '2026-01-02T00:00:00Z')];
    expect([...subnetOverlapRefusals(nets).keys()]).toEqual(['b']);
    // b was planned as 10.9.0.0/16 before its spec was edited: its rule still uses that.
    expect([...subnetOverlapRefusals(nets, new Map([['b', '10.9.0.0/16']])).keys()]).toEqual([]);
    // a's CIDR froze 10.1.0.0/16 (spec edited since): b's 10.0.0.0/24 no longer meets it.
    expect([...subnetOverlapRefusals(nets, new Map([['a', '10.1.0.0/16']])).keys()]).toEqual([]);
  });
});

describe('validateDeviceClass', () => {
  const dc = (ids: unknown): unknown => ({ apiVersion: 'multinic.fms.io/v1', kind: 'DeviceClass', metadata: { name: 'highspeed' }, spec: { ids } });
  it('accepts PCI ids', () => {
    expect(validateDeviceClass({ source: 'd#1', value: dc([{ vendor: '15b3', products: ['1019'] }]) }).spec.ids).toHaveLength(1);
  });
  it('rejects a vendor id that is not 4 hex digits, naming the field', () => {
    expect(() => validateDeviceClass({ source: 'd#1', value: dc([{ vendor: 'mellanox', products: ['1019'] }]) })).toThrow(/d#1 \(DeviceClass "highspeed"\): spec\.ids\[0\]\.vendor: "mellanox" does not match/);
  });
});
