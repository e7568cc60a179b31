// The CIDR view of a network from its CIDR object and its CIDRClaims: claims win, legacy host
// entries not yet migrated are kept, legacy entries a claim contradicts are reported, claims of an
// earlier CIDR of the same name (another uid) and objects whose name does not carry their indexes
// are ignored; the summary the leader keeps has no host entries.
import { describe, expect, it } from 'vitest';
import { cidrFromClaims, cidrOwnerRef, cidrSummarySpec, cidrView, cidrViews, claimNameMismatch, claimsFromCidr, hostClaimName, isLabelValue, type CIDRClaim } from '../../../src/lib/cluster/claim-objects.js';
import type { CIDR, CIDRSpec } from '../../../src/lib/crds/types.gen.js';

const CONFIG = { name: 'net', type: 'ipvlan', subnet: '192.168.0.0/16', masterNets: [], hostBlock: 6, interfaceBlock: 2 };
const host = (hostName: string, hostIndex: number, i = 0) => ({ hostIndex, hostName, interfaceName: `eth${i + 1}`, hostIP: `10.0.${i + 1}.${hostIndex + 1}`, podCIDR: `192.168.${i * 64 + hostIndex}.0/24`, ippool: `net-192.168.${i * 64 + hostIndex}.0-24` });
const entry = (i: number, hosts: ReturnType<typeof host>[]) => ({ netAddress: `10.0.${i + 1}.0/24`, interfaceIndex: i, vlanCIDR: `192.168.${i * 64}.0/18`, hosts });
const cidr = (spec: Partial<CIDRSpec> = {}, uid = 'cidr-uid'): CIDR => ({ apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', metadata: { name: 'net', uid }, spec: { config: CONFIG, cidr: [], ...spec } });
const stored = (cs: CIDRClaim[]): CIDRClaim[] => cs.map((c, i) => ({ ...c, metadata: { ...c.metadata, resourceVersion: String(i + 1) } }));

describe('claimsFromCidr / cidrFromClaims', () => {
  it('round-trips a CIDR spec through claims named by their indexes, owned by the CIDR', () => {
    const spec: CIDRSpec = { config: CONFIG, cidr: [entry(0, [host('a', 0), host('b', 3)]), entry(1, [host('a', 0, 1)])] };
    const claims = claimsFromCidr('net', spec, undefined, cidrOwnerRef(cidr()));
    expect(claims.map((c) => c.metadata.name)).toEqual(['net.i0', 'net.i0.h0', 'net.i0.h3', 'net.i1', 'net.i1.h0']);
    expect(claims.every((c) => c.metadata.ownerReferences?.[0]?.uid === 'cidr-uid' && c.metadata.ownerReferences[0].kind === 'CIDR')).toBe(true);
    expect(cidrFromClaims('net', CONFIG, claims)).toEqual(spec);
    // One host's share: the interface claims of its entries and its own host claims.
    expect(claimsFromCidr('net', spec, 'b').map((c) => c.metadata.name)).toEqual(['net.i0', 'net.i0.h3']);
  });

  it('ignores objects whose name does not carry the indexes they claim (not made by a create of that index)', () => {
    const [iface, h] = claimsFromCidr('net', { config: CONFIG, cidr: [entry(0, [host('a', 0)])] });
    const forged = { ...h!, metadata: { ...h!.metadata, name: hostClaimName('net', 0, 9) } };
    expect(claimNameMismatch(forged)).toMatch(/holds host index 0 on interface index 0 of "net" but its name must be "net.i0.h0"/);
    expect(cidrFromClaims('net', CONFIG, [iface!, forged]).cidr[0]!.hosts).toEqual([]);
  });

  it('labels only what fits a label value: a 100-character network name goes unlabelled', () => {
    const long = 'n'.repeat(100);
    expect(isLabelValue(long)).toBe(false);
    expect(isLabelValue('net-1.a_b')).toBe(true);
    const [c] = claimsFromCidr(long, { config: { ...CONFIG, name: long }, cidr: [entry(0, [])] });
    expect(c!.metadata.labels).toEqual({});
  });
});

describe('cidrView', () => {
  it('a CIDR in summary form plus its claims is the full CIDR; the summary drops host entries only', () => {
    const full: CIDRSpec = { config: CONFIG, cidr: [entry(0, [host('a', 0), host('b', 1)])] };
    const summary = cidrSummarySpec(full);
    expect(summary).toEqual({ config: CONFIG, cidr: [entry(0, [])] });
    const v = cidrView(cidr(summary), stored(claimsFromCidr('net', full, undefined, cidrOwnerRef(cidr()))));
    expect(v).toMatchObject({ unmigrated: 0, shadowed: [] });
    expect(v.cidr.spec).toEqual(full);
  });

  it('keeps legacy entries no claim holds yet (the migration has not reached them), claims first', () => {
    const legacy: CIDRSpec = { config: CONFIG, cidr: [entry(0, [host('a', 0), host('b', 1), host('c', 2)])] };
    // b migrated; a new host d claimed index 3.
    const claims = stored([...claimsFromCidr('net', legacy, 'b'), ...claimsFromCidr('net', { config: CONFIG, cidr: [entry(0, [host('d', 3)])] }, 'd')]);
    const v = cidrView(cidr(legacy), claims);
    expect(v.cidr.spec.cidr[0]!.hosts.map((h) => `${h.hostName}:${h.hostIndex}`)).toEqual(['a:0', 'b:1', 'c:2', 'd:3']);
    expect(v).toMatchObject({ unmigrated: 2, shadowed: [] });
  });

  it('reports a legacy entry a claim of another host holds (an old agent wrote it after the migration) and does not serve it', () => {
    const claims = stored(claimsFromCidr('net', { config: CONFIG, cidr: [entry(0, [host('a', 0)])] }));
    const v = cidrView(cidr({ cidr: [entry(0, [host('old', 0)])] }), claims);
    expect(v.cidr.spec.cidr[0]!.hosts.map((h) => h.hostName)).toEqual(['a']);
    expect(v.shadowed).toEqual(['old@10.0.1.0/24#0']);
  });

  it('ignores claims owned by an earlier CIDR of the same name (the network was deleted and made again)', () => {
    const spec: CIDRSpec = { config: CONFIG, cidr: [entry(0, [host('a', 0)])] };
    const old = stored(claimsFromCidr('net', spec, undefined, cidrOwnerRef(cidr({}, 'old-uid'))));
    expect(cidrView(cidr(), old).cidr.spec.cidr).toEqual([]);
    // cidrViews groups one list of claims by network.
    const other = stored(claimsFromCidr('other', { config: { ...CONFIG, name: 'other' }, cidr: [entry(0, [host('z', 5)])] }));
    const views = cidrViews([cidr()], [...stored(claimsFromCidr('net', spec, undefined, cidrOwnerRef(cidr()))), ...other]);
    expect(views.map((x) => x.spec.cidr[0]!.hosts.map((h) => h.hostName))).toEqual([['a']]);
  });
});
