// Properties of the planner over random inventories, for IPv4 and IPv6: blocks never overlap, all
// lie inside the subnet, none starts inside a large exclude, and re-planning with hosts added and
// removed never moves a host that stayed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HostInterface } from '../../../src/lib/crds/types.gen.js';
import { containsCidr, formatCidr, formatIp, overlaps, parseCidr, subnetAt, type Cidr } from '../../../src/lib/net/ip.js';
import { planNetwork, type PlanResult } from '../../../src/lib/plan/index.js';
import { host, network } from './fixtures.js';

interface Family {
  name: string;
  subnet: string;
  /** NIC network k and host i's address on it. */
  nic: (k: number, i: number) => [string, string];
}

const families: Family[] = [
  { name: 'IPv4', subnet: '10.128.0.0/12', nic: (k, i) => [`172.16.${k}.0/24`, `172.16.${k}.${i + 1}`] },
  { name: 'IPv6', subnet: 'fd00:abcd::/40', nic: (k, i) => [`fd10:${k.toString(16)}::/64`, `fd10:${k.toString(16)}::${(i + 1).toString(16)}`] },
];

function inventory(f: Family, hostIds: readonly number[], nicsOf: (i: number) => readonly number[]): HostInterface[] {
  return hostIds.map((i) =>
    host(
      `node-${i}`,
      nicsOf(i).map((k) => {
        const [net, ip] = f.nic(k, i);
        return f.name === 'IPv4' ? [`eth${k}`, net, ip] : [`eth${k}`, '10.9.9.0/24', `10.9.9.${(i % 250) + 1}`, { netAddressV6: net, hostIPv6: ip }];
      }),
    ),
  );
}

/** All pod blocks of a plan with who owns them. */
function blocks(r: PlanResult): Array<{ who: string; c: Cidr }> {
  return r.cidr.spec.cidr.flatMap((e) => e.hosts.map((h) => ({ who: `${h.hostName}@${e.netAddress}`, c: parseCidr(h.podCIDR) })));
}
const indexes = (r: PlanResult): Map<string, number> => new Map(r.cidr.spec.cidr.flatMap((e) => e.hosts.map((h) => [`${h.hostName}@${e.netAddress}`, h.hostIndex] as const)));

const arbLayout = fc.record({
  interfaceBlock: fc.integer({ min: 1, max: 3 }),
  hostBlock: fc.integer({ min: 2, max: 5 }),
  nicCount: fc.integer({ min: 1, max: 2 }),
  // Which hosts (of 0..39) exist, and which NIC networks each has (bitmask over nicCount).
  hosts: fc.uniqueArray(fc.integer({ min: 0, max: 39 }), { minLength: 1, maxLength: 30 }),
  nicMask: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 40, maxLength: 40 }),
  // Excludes as (interface index, host index, extra prefix bits): large (pod block or bigger) and small.
  excludes: fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: -2, max: 3 })), { maxLength: 4 }),
});

for (const f of families) {
  describe(`planNetwork properties (${f.name})`, () => {
    const subnet = parseCidr(f.subnet);
    const build = (l: { interfaceBlock: number; hostBlock: number; nicCount: number; excludes: Array<[number, number, number]> }) => {
      const pod = subnet.prefix + l.interfaceBlock + l.hostBlock;
      const excl = l.excludes.map(([i, h, extra]) => {
        const vlan = subnetAt(subnet, l.interfaceBlock, i % 2 ** l.interfaceBlock);
        const block = subnetAt(vlan, l.hostBlock, h % 2 ** l.hostBlock);
        const c: Cidr = { family: block.family, base: block.base, prefix: Math.max(pod + extra, subnet.prefix + 1) };
        return { ...c, base: (c.base >> BigInt((f.name === 'IPv4' ? 32 : 128) - c.prefix)) << BigInt((f.name === 'IPv4' ? 32 : 128) - c.prefix) };
      });
      return { net: network({ subnet: f.subnet, interfaceBlock: l.interfaceBlock, hostBlock: l.hostBlock, excludeCIDRs: excl.map(formatCidr) }), excl, pod };
    };
    const nicsFor = (mask: readonly number[], count: number) => (i: number) => [0, 1].filter((k) => k < count && ((mask[i] ?? 1) & (1 << k)) !== 0);

    it('blocks never overlap, lie inside their interface block and the subnet, and never start inside a large exclude', () => {
      fc.assert(
        fc.property(arbLayout, (l) => {
          const { net, excl, pod } = build(l);
          const r = planNetwork({ network: net, inventory: inventory(f, l.hosts, nicsFor(l.nicMask, l.nicCount)) });
          const bs = blocks(r);
          for (const e of r.cidr.spec.cidr) {
            const vlan = parseCidr(e.vlanCIDR);
            expect(containsCidr(subnet, vlan)).toBe(true);
            for (const h of e.hosts) expect(containsCidr(vlan, parseCidr(h.podCIDR))).toBe(true);
            for (const x of excl) if (x.prefix <= vlan.prefix) expect(containsCidr(x, vlan)).toBe(false);
          }
          const sorted = [...bs].sort((a, b) => (a.c.base < b.c.base ? -1 : 1));
          for (let k = 1; k < sorted.length; k++) expect(overlaps(sorted[k - 1]!.c, sorted[k]!.c), `${sorted[k - 1]!.who} vs ${sorted[k]!.who}`).toBe(false);
          for (const b of bs) {
            expect(b.c.prefix).toBe(pod);
            for (const x of excl) if (x.prefix <= pod) expect(containsCidr(x, b.c), `${b.who} ${formatCidr(b.c)} in ${formatCidr(x)}`).toBe(false);
          }
          // Every host NIC is placed or named as unplaced, never silently dropped.
          const nicTotal = l.hosts.reduce((s, i) => s + nicsFor(l.nicMask, l.nicCount)(i).length, 0);
          expect(bs.length + r.unplaced.length).toBe(nicTotal);
        }),
        { numRuns: 150 },
      );
    });

    it('with `only`, a host gets exactly its share of the full plan: entries, pools and unplaced NICs (what an agent claims)', () => {
      fc.assert(
        fc.property(arbLayout, fc.uniqueArray(fc.integer({ min: 0, max: 39 }), { maxLength: 30 }), (l, second) => {
          const { net } = build(l);
          const nics = nicsFor(l.nicMask, l.nicCount);
          // Over a previous plan too: kept indexes, hosts gone, hosts new.
          const previous = planNetwork({ network: net, inventory: inventory(f, l.hosts, nics) }).cidr;
          const inv = inventory(f, second.length ? second : l.hosts, nics);
          const full = planNetwork({ network: net, inventory: inv, previous });
          for (const h of inv) {
            const me = h.spec.hostName;
            const mine = planNetwork({ network: net, inventory: inv, previous, only: me });
            expect(mine.cidr.spec.config).toEqual(full.cidr.spec.config);
            expect(mine.cidr.spec.cidr).toEqual(full.cidr.spec.cidr.map((e) => ({ ...e, hosts: e.hosts.filter((x) => x.hostName === me) })));
            expect(mine.pools).toEqual(full.pools.filter((p) => p.hostName === me));
            expect(mine.unplaced).toEqual(full.unplaced.filter((u) => u.hostName === me));
          }
        }),
        { numRuns: 100 },
      );
    });

    it('re-planning with hosts added and removed never moves a host that stayed, and fills the lowest free index', () => {
      fc.assert(
        fc.property(arbLayout, fc.uniqueArray(fc.integer({ min: 0, max: 39 }), { maxLength: 30 }), (l, second) => {
          const { net } = build({ ...l, excludes: l.excludes });
          const nics = nicsFor(l.nicMask, l.nicCount);
          const first = planNetwork({ network: net, inventory: inventory(f, l.hosts, nics) });
          const again = planNetwork({ network: net, inventory: inventory(f, second, nics), previous: first.cidr });
          const before = indexes(first);
          const after = indexes(again);
          for (const [who, idx] of after) if (before.has(who)) expect(idx, who).toBe(before.get(who));
          // The new hosts got the lowest indexes that were neither kept nor excluded: nothing below
          // a new host's index is free-and-usable unless it is excluded.
          for (const e of again.cidr.spec.cidr) {
            const used = new Set(e.hosts.map((h) => h.hostIndex));
            const fresh = e.hosts.filter((h) => !before.has(`${h.hostName}@${e.netAddress}`));
            const maxFresh = Math.max(-1, ...fresh.map((h) => h.hostIndex));
            const vlan = parseCidr(e.vlanCIDR);
            for (let i = 0; i < maxFresh; i++) {
              if (used.has(i)) continue;
              const blk = subnetAt(vlan, l.hostBlock, i);
              const excluded = build(l).excl.some((x) => x.prefix <= blk.prefix && containsCidr(x, blk));
              expect(excluded, `free index ${i} below new host index ${maxFresh} on ${e.netAddress} (${formatIp(blk.family, blk.base)})`).toBe(true);
            }
          }
        }),
        { numRuns: 150 },
      );
    });
  });
}
