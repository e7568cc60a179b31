import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClaimCollisionError, cidrFingerprint, duplicateClaims, mergeOwnClaim, removeHosts } from '../../../src/lib/cluster/claim.js';
import type { CIDRSpec, CidrEntry, HostInterfaceInfo } from '../../../src/lib/crds/types.gen.js';

const config: CIDRSpec['config'] = { name: 'net', type: 'ipvlan', subnet: '192.168.0.0/16', masterNets: ['10.0.1.0/24', '10.0.2.0/24'], hostBlock: 6, interfaceBlock: 2, vlanMode: 'l3' };
const host = (hostName: string, hostIndex: number, nic = 0): HostInterfaceInfo => ({
  hostName,
  hostIndex,
  interfaceName: `eth${nic + 1}`,
  hostIP: `10.0.${nic + 1}.${hostIndex + 10}`,
  podCIDR: `192.168.${nic * 64 + hostIndex}.0/24`,
});
const entry = (nic: number, hosts: HostInterfaceInfo[]): CidrEntry => ({ netAddress: `10.0.${nic + 1}.0/24`, interfaceIndex: nic, vlanCIDR: `192.168.${nic * 64}.0/18`, hosts });
const spec = (...cidr: CidrEntry[]): CIDRSpec => ({ config, cidr });

describe('mergeOwnClaim', () => {
  const rows: Array<{ name: string; current: CIDRSpec | undefined; planned: CIDRSpec; me: string; want: CIDRSpec; changed: boolean }> = [
    {
      name: 'no CIDR yet: our entries only, even when the plan places others',
      current: undefined,
      planned: spec(entry(0, [host('a', 0), host('b', 1)]), entry(1, [host('a', 0, 1), host('b', 1, 1)])),
      me: 'b',
      want: spec(entry(0, [host('b', 1)]), entry(1, [host('b', 1, 1)])),
      changed: true,
    },
    {
      name: 'others kept verbatim, ours inserted in index order',
      current: spec(entry(0, [host('a', 0), host('c', 2)])),
      planned: spec(entry(0, [host('a', 0), host('b', 1), host('c', 2)])),
      me: 'b',
      want: spec(entry(0, [host('a', 0), host('b', 1), host('c', 2)])),
      changed: true,
    },
    {
      name: 'already claimed exactly: no write',
      current: spec(entry(0, [host('a', 0), host('b', 1)])),
      planned: spec(entry(0, [host('a', 0), host('b', 1)])),
      me: 'b',
      want: spec(entry(0, [host('a', 0), host('b', 1)])),
      changed: false,
    },
    {
      name: 'our NIC went away: our entry removed, the emptied entry dropped',
      current: spec(entry(0, [host('a', 0), host('b', 1)]), entry(1, [host('b', 1, 1)])),
      planned: spec(entry(0, [host('a', 0), host('b', 1)])),
      me: 'b',
      want: spec(entry(0, [host('a', 0), host('b', 1)])),
      changed: true,
    },
    {
      name: 'plan disagrees about another host: the server copy wins for it',
      current: spec(entry(0, [host('a', 5)])),
      planned: spec(entry(0, [host('a', 0), host('b', 1)])),
      me: 'b',
      want: spec(entry(0, [host('b', 1), host('a', 5)])),
      changed: true,
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const got = mergeOwnClaim(r.current, r.planned, r.me);
      expect(got.spec).toEqual(r.want);
      expect(got.changed).toBe(r.changed);
      expect(duplicateClaims(got.spec)).toEqual([]);
    });
  }

  it('keeps the config frozen at creation', () => {
    const current = { config: { ...config, hostBlock: 8 }, cidr: [] };
    expect(mergeOwnClaim(current, spec(entry(0, [host('a', 0)])), 'a').spec.config.hostBlock).toBe(8);
  });

  it('refuses a host index another host holds', () => {
    const current = spec(entry(0, [host('a', 1)]));
    expect(() => mergeOwnClaim(current, spec(entry(0, [host('b', 1)])), 'b')).toThrow(ClaimCollisionError);
    expect(() => mergeOwnClaim(current, spec(entry(0, [host('b', 1)])), 'b')).toThrow('host index 1 on 10.0.1.0/24 is already held by a');
  });

  it('refuses a new entry on an interface index another network holds', () => {
    const current = spec(entry(0, [host('a', 0)]));
    const other: CidrEntry = { ...entry(1, [host('b', 0, 1)]), interfaceIndex: 0 };
    expect(() => mergeOwnClaim(current, spec(other), 'b')).toThrow(ClaimCollisionError);
  });

  // The protocol the agents run: read (spec, version) → plan lowest free index from the read → merge
  // own → CAS. Any interleaving of reads and writes of N hosts ends with distinct indexes for all.
  it('CAS rounds in any interleaving never claim an index twice', () => {
    const planFrom = (cur: CIDRSpec | undefined, me: string): CIDRSpec => {
      const hosts = cur?.cidr[0]?.hosts ?? [];
      const existing = hosts.find((h) => h.hostName === me);
      const used = new Set(hosts.map((h) => h.hostIndex));
      let idx = 0;
      while (used.has(idx)) idx++;
      return spec(entry(0, [...hosts.filter((h) => h.hostName !== me), existing ?? host(me, idx)]));
    };
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.array(fc.nat(), { minLength: 1, maxLength: 200 }), (n, schedule) => {
        let server: { spec: CIDRSpec | undefined; version: number } = { spec: undefined, version: 0 };
        const names = Array.from({ length: n }, (_, i) => `h${i}`);
        const reads = new Map<string, { spec: CIDRSpec | undefined; version: number }>();
        const done = new Set<string>();
        const step = (me: string): void => {
          const read = reads.get(me);
          if (!read) return void reads.set(me, server);
          reads.delete(me);
          const m = mergeOwnClaim(read.spec, planFrom(read.spec, me), me);
          if (!m.changed) return void done.add(me);
          if (read.version !== server.version) return; // 409: re-read next turn
          server = { spec: m.spec, version: server.version + 1 };
        };
        for (const s of schedule) step(names[s % n]!);
        for (let round = 0; round < 4 * n && done.size < n; round++) for (const me of names) step(me);
        expect(done.size).toBe(n);
        expect(duplicateClaims(server.spec!)).toEqual([]);
        expect(server.spec!.cidr[0]!.hosts.map((h) => h.hostIndex).sort()).toEqual(names.map((_, i) => i));
      }),
    );
  });
});

describe('removeHosts', () => {
  it('removes departed hosts everywhere and drops entries left empty', () => {
    const s = spec(entry(0, [host('a', 0), host('b', 1)]), entry(1, [host('b', 1, 1)]));
    const got = removeHosts(s, new Set(['b', 'zz']));
    expect(got.removed).toEqual(['b']);
    expect(got.spec).toEqual(spec(entry(0, [host('a', 0)])));
  });
  it('changes nothing when every host is live', () => {
    const s = spec(entry(0, [host('a', 0)]));
    expect(removeHosts(s, new Set()).spec).toEqual(s);
  });
});

describe('duplicateClaims / cidrFingerprint', () => {
  it('finds a host index held twice and a host listed twice', () => {
    expect(duplicateClaims(spec(entry(0, [host('a', 0), host('b', 0), host('b', 3)])))).toEqual([
      '10.0.1.0/24: host index 0 held by a and b',
      '10.0.1.0/24: b listed twice',
    ]);
  });
  it('fingerprint changes with entries, not with key order', () => {
    const a = spec(entry(0, [host('a', 0)]));
    const reordered = { cidr: [{ hosts: [{ ...host('a', 0) }], vlanCIDR: '192.168.0.0/18', interfaceIndex: 0, netAddress: '10.0.1.0/24' }], config };
    expect(cidrFingerprint(reordered)).toBe(cidrFingerprint(a));
    expect(cidrFingerprint(spec(entry(0, [host('a', 1)])))).not.toBe(cidrFingerprint(a));
  });
});
