import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import {
  AddressParseError,
  cidrSize,
  compareCidr,
  containsCidr,
  formatCidr,
  formatIp,
  networkOf,
  overlaps,
  parseCidr,
  parseIp,
  parseIpWithPrefix,
  subnetAddressFormatter,
  subnetAt,
  subnetIndexOf,
  tryParseCidr,
  usableRange,
} from '../../../src/lib/net/ip.js';

describe('parseCidr / formatCidr', () => {
  it.each([
    ['IPv4', '192.168.0.0/16', '192.168.0.0/16'],
    ['IPv4 /0', '0.0.0.0/0', '0.0.0.0/0'],
    ['IPv4 /32', '10.1.2.3/32', '10.1.2.3/32'],
    ['IPv6 compressed on output (RFC 5952)', 'fd00:0:0:0:0:0:0:0/48', 'fd00::/48'],
    ['IPv6 upper case to lower case', 'FD00:ABCD::/32', 'fd00:abcd::/32'],
    ['IPv6 longest zero run compressed, first on a tie', 'fd00:0:0:1:0:0:0:0/128', 'fd00:0:0:1::/128'],
    ['surrounding spaces', ' 10.0.0.0/8 ', '10.0.0.0/8'],
  ])('%s', (_n, text, want) => {
    expect(formatCidr(parseCidr(text))).toBe(want);
  });
  it.each([
    ['no prefix', '10.0.0.0', /CIDR notation/],
    ['prefix too long', '10.0.0.0/33', /integer 0-32/],
    ['IPv6 prefix too long', 'fd00::/129', /integer 0-128/],
    ['octet out of range', '256.0.0.0/8', /address part/],
    ['short IPv4', '10.0/16', /address part/],
    ['host bits set', '10.0.0.1/8', /did you mean 10\.0\.0\.0\/8/],
    ['zone id', 'fe80::1%eth0/64', /address part/],
    ['negative prefix', '10.0.0.0/-1', /integer/],
  ])('rejects %s', (_n, text, msg) => {
    expect(() => parseCidr(text)).toThrow(AddressParseError);
    expect(() => parseCidr(text)).toThrow(msg);
  });
  it('non-strict parsing clears host bits', () => {
    expect(formatCidr(parseCidr('10.0.1.7/24', { strict: false }))).toBe('10.0.1.0/24');
    expect(tryParseCidr('bogus')).toBeUndefined();
  });
  it('parseIpWithPrefix keeps the host part', () => {
    expect(parseIpWithPrefix('192.168.0.5/18')).toEqual({ family: 4, addr: (192n << 24n) + (168n << 16n) + 5n, prefix: 18 });
  });
  it('parseIp rejects IPv4 in ambiguous or short notations', () => {
    expect(() => parseIp('010.1.1.1')).toThrow(AddressParseError); // leading zero: octal to some parsers, so ambiguous
    expect(() => parseIp('0x0a.1.1.1')).toThrow(AddressParseError);
    expect(() => parseIp('10.1')).toThrow(AddressParseError);
  });
});

describe('block arithmetic', () => {
  const s16 = parseCidr('192.168.0.0/16');
  it.each([
    ['interface block 1 of 2 bits', s16, 2, 1, '192.168.64.0/18'],
    ['host block 1 of 6 bits in vlan 0', parseCidr('192.168.0.0/18'), 6, 1, '192.168.1.0/24'],
    ['host block 1 in vlan 1', parseCidr('192.168.64.0/18'), 6, 1, '192.168.65.0/24'],
    ['zero bits is the parent', s16, 0, 0, '192.168.0.0/16'],
    ['IPv6 block', parseCidr('fd00:10::/48'), 16, 0x1234, 'fd00:10:0:1234::/64'],
  ])('subnetAt: %s', (_n, parent, bits, i, want) => {
    const c = subnetAt(parent, bits, i);
    expect(formatCidr(c)).toBe(want);
    expect(subnetIndexOf(parent, bits, c)).toBe(i);
  });
  it('contains and overlaps respect family and bounds', () => {
    expect(containsCidr(s16, parseCidr('192.168.255.0/24'))).toBe(true);
    expect(containsCidr(s16, parseCidr('192.169.0.0/24'))).toBe(false);
    expect(containsCidr(parseCidr('192.168.0.0/24'), s16)).toBe(false);
    expect(overlaps(parseCidr('192.168.0.0/24'), s16)).toBe(true);
    expect(overlaps(parseCidr('192.167.255.0/24'), s16)).toBe(false);
    expect(overlaps(parseCidr('::/0'), parseCidr('0.0.0.0/0'))).toBe(false);
  });
  it('compareCidr orders numerically, IPv4 before IPv6', () => {
    const list = ['10.0.10.0/24', 'fd00::/64', '9.0.0.0/8', '10.0.9.0/24', '10.0.9.0/25'].map((t) => parseCidr(t));
    expect(list.sort(compareCidr).map(formatCidr)).toEqual(['9.0.0.0/8', '10.0.9.0/24', '10.0.9.0/25', '10.0.10.0/24', 'fd00::/64']);
  });
  it('networkOf masks an address', () => {
    const a = parseIp('10.1.2.3');
    expect(formatCidr(networkOf(a.family, a.addr, 16))).toBe('10.1.0.0/16');
  });
});

describe('usableRange', () => {
  it.each([
    ['IPv4 /24: all but network and broadcast', '192.168.0.0/24', '192.168.0.1', '192.168.0.254', 254n],
    ['IPv4 /30', '10.0.0.0/30', '10.0.0.1', '10.0.0.2', 2n],
    ['IPv4 /31 has none', '10.0.0.0/31', undefined, undefined, 0n],
    ['IPv6 /64: all but the subnet-router anycast address', 'fd00::/64', 'fd00::1', 'fd00::ffff:ffff:ffff:ffff', 2n ** 64n - 1n],
    ['IPv6 /127', 'fd00::/127', 'fd00::1', 'fd00::1', 1n],
  ])('%s', (_n, text, first, last, count) => {
    const c = parseCidr(text);
    const r = usableRange(c);
    expect(r.count).toBe(count);
    if (first !== undefined && last !== undefined) {
      expect(formatIp(c.family, r.first)).toBe(first);
      expect(formatIp(c.family, r.last)).toBe(last);
      expect(r.last - r.first + 1n).toBe(count);
    }
  });
});

describe('properties', () => {
  const v4 = fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 32 }));
  it('IPv4 text round-trips through parse/format', () => {
    fc.assert(
      fc.property(v4, ([a, p]) => {
        const c = networkOf(4, BigInt(a), p);
        expect(parseCidr(formatCidr(c))).toEqual(c);
      }),
    );
  });
  it('IPv6 text round-trips and the sub-blocks of a split tile the parent', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), fc.integer({ min: 0, max: 120 }), fc.integer({ min: 1, max: 8 }), (a, p, bits) => {
        const c = networkOf(6, a, p);
        expect(parseCidr(formatCidr(c))).toEqual(c);
        const first = subnetAt(c, bits, 0);
        const last = subnetAt(c, bits, 2 ** bits - 1);
        expect(containsCidr(c, first) && containsCidr(c, last)).toBe(true);
        expect(cidrSize(first) * BigInt(2 ** bits)).toBe(cidrSize(c));
        expect(last.base + cidrSize(last)).toBe(c.base + cidrSize(c));
      }),
    );
  });
  // parseIp/formatIp have hand-written fast paths (see ip.ts); they must agree with ipaddr.js.
  it('formatIp agrees with ipaddr.js RFC 5952 output (IPv6) and dotted quads (IPv4)', () => {
    const groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(groups, (g) => {
        const addr = g.reduce((v, x) => (v << 16n) | BigInt(x), 0n);
        const bytes = g.flatMap((x) => [x >> 8, x & 255]);
        expect(formatIp(6, addr)).toBe(new ipaddr.IPv6(bytes).toRFC5952String());
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => {
        expect(formatIp(4, BigInt(n))).toBe(ipaddr.fromByteArray([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]).toString());
      }),
    );
  });
  // The planner formats one pod block per host per NIC through subnetAddressFormatter; it must
  // give the text formatCidr(subnetAt(...)) gives, for any parent, split and index.
  it('subnetAddressFormatter gives the address text of subnetAt for IPv4 and IPv6', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 16 }), fc.nat(), (a, p, b, r) => {
        const bits = Math.min(b, 32 - p);
        const parent = networkOf(4, BigInt(a), p);
        const i = r % 2 ** bits;
        expect(`${subnetAddressFormatter(parent, bits)(i)}/${p + bits}`).toBe(formatCidr(subnetAt(parent, bits, i)));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), fc.integer({ min: 0, max: 127 }), fc.integer({ min: 0, max: 60 }), fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), (a, p, b, r) => {
        const bits = Math.min(b, 128 - p);
        const parent = networkOf(6, a, p);
        const i = Number(r % 2n ** BigInt(Math.min(bits, 53)));
        expect(`${subnetAddressFormatter(parent, bits)(i)}/${p + bits}`).toBe(formatCidr(subnetAt(parent, bits, i)));
      }),
      { numRuns: 3000 },
    );
  });
  it('subnetAddressFormatter refuses an index outside the split', () => {
    expect(subnetAddressFormatter(parseCidr('10.0.0.0/24'), 2)(3)).toBe('10.0.0.192');
    expect(() => subnetAddressFormatter(parseCidr('10.0.0.0/24'), 2)(4)).toThrow(/subnet index 4 out of range 0-3/);
    expect(() => subnetAddressFormatter(parseCidr('fd00::/64'), 8)(-1)).toThrow(RangeError);
    expect(() => subnetAddressFormatter(parseCidr('fd00::/64'), 8)(1.5)).toThrow(RangeError);
  });
  it('parseIp accepts exactly what ipaddr.js accepts as four-part decimal IPv4 or IPv6 without zone', () => {
    const chars = fc.constantFrom(...'0123456789abcdefABCDEF.:%x '.split(''));
    // Near-misses of the hex-and-colon form: 1-9 groups of 1-5 hex digits, "::" anywhere (or twice).
    const hexGroup = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'.split('')), minLength: 0, maxLength: 5 });
    const nearV6 = fc
      .tuple(fc.array(hexGroup, { minLength: 1, maxLength: 9 }), fc.integer({ min: -1, max: 9 }), fc.integer({ min: -1, max: 9 }))
      .map(([g, a, b]) => g.map((x, i) => (i === a || i === b ? `${x}:` : x)).join(':'));
    const text = fc.oneof(fc.string({ unit: chars, maxLength: 20 }), nearV6, nearV6, fc.ipV4(), fc.ipV6(), fc.ipV4Extended());
    fc.assert(
      fc.property(text, (t) => {
        const s = t.trim();
        const v4 = ipaddr.IPv4.isValidFourPartDecimal(s);
        const v6 = s.includes(':') && !s.includes('%') && ipaddr.IPv6.isValid(s);
        let got: ReturnType<typeof parseIp> | undefined;
        try {
          got = parseIp(t);
        } catch {
          got = undefined;
        }
        if (!v4 && !v6) expect(got, t).toBeUndefined();
        else {
          const bytes = ipaddr.parse(s).toByteArray();
          expect(got, t).toEqual({ family: v4 ? 4 : 6, addr: bytes.reduce((v, b) => (v << 8n) | BigInt(b), 0n) });
        }
      }),
      { numRuns: 3000 },
    );
  });
});
