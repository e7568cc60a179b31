import { describe, expect, it } from 'vitest';
import {
  AlreadyAllocatedError,
  InvalidPoolError,
  NotInRangeError,
  PoolAllocator,
  PoolExhaustedError,
  compilePool,
  nextAddress,
} from '../../../src/lib/ipam/allocator.js';
import type { PoolSpec } from '../../../src/lib/ipam/types.js';
import { formatIp, parseIp } from '../../../src/lib/net/ip.js';

function pool(podCIDR: string, more: Partial<PoolSpec> = {}): PoolSpec {
  return {
    name: `net-${podCIDR.replace(/[/:]/g, '-')}`,
    network: 'net',
    hostName: 'host-a',
    interfaceName: 'eth1',
    podCIDR,
    vlanCIDR: more.vlanCIDR ?? podCIDR,
    excludes: [],
    reserved: [],
    ...more,
  };
}

const range = (prefix: string, from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

interface Row {
  name: string;
  spec: PoolSpec;
  allocated?: string[];
  cursor?: string;
  want: string;
}

describe('nextAddress', () => {
  const rows: Row[] = [
    { name: 'fresh IPv4 pool starts after the network address', spec: pool('10.0.0.0/24'), want: '10.0.0.1' },
    {
      name: 'continues after the cursor',
      spec: pool('10.0.0.0/24'),
      allocated: range('10.0.0.', 1, 5),
      cursor: '10.0.0.5',
      want: '10.0.0.6',
    },
    {
      name: 'a freed address is not handed out again at once',
      spec: pool('10.0.0.0/24'),
      allocated: ['10.0.0.1', '10.0.0.3'],
      cursor: '10.0.0.3',
      want: '10.0.0.4',
    },
    {
      name: 'skips allocated addresses after the cursor',
      spec: pool('10.0.0.0/24'),
      allocated: ['10.0.0.1', '10.0.0.3', '10.0.0.4', '10.0.0.5'],
      cursor: '10.0.0.1',
      want: '10.0.0.2',
    },
    {
      name: 'wraps to the lowest free address at the end of the block',
      spec: pool('10.0.0.0/29'),
      allocated: ['10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'],
      cursor: '10.0.0.6',
      want: '10.0.0.1',
    },
    {
      name: 'wraps into a gap in the middle (upstream lost an allocation here)',
      spec: pool('10.0.0.0/26'),
      allocated: ['10.0.0.1', '10.0.0.2', ...range('10.0.0.', 4, 62)],
      cursor: '10.0.0.62',
      want: '10.0.0.3',
    },
    {
      name: 'the second-to-last address is usable (upstream never used it)',
      spec: pool('10.0.0.0/26'),
      allocated: range('10.0.0.', 1, 61),
      cursor: '10.0.0.61',
      want: '10.0.0.62',
    },
    {
      name: 'excluded CIDR at the start of the block is skipped',
      spec: pool('10.0.0.0/28', { excludes: ['10.0.0.0/30'] }),
      want: '10.0.0.4',
    },
    {
      name: 'exclude without prefix is one address',
      spec: pool('10.0.0.0/28', { excludes: ['10.0.0.1'] }),
      want: '10.0.0.2',
    },
    {
      name: 'excludes outside the block are ignored, overlapping ones clipped',
      spec: pool('10.0.0.0/28', { excludes: ['10.9.0.0/16', '10.0.0.0/27'] }),
      allocated: [],
      want: 'exhausted',
    },
    {
      name: 'exclude in the middle is jumped over after the cursor',
      spec: pool('10.0.0.0/24', { excludes: ['10.0.0.8/29'] }),
      allocated: range('10.0.0.', 1, 7),
      cursor: '10.0.0.7',
      want: '10.0.0.16',
    },
    {
      name: 'reserved gateway (macvlan L3 shim) is never handed out',
      spec: pool('10.0.0.0/24', { reserved: ['10.0.0.1'] }),
      want: '10.0.0.2',
    },
    {
      name: 'cursor on the broadcast address wraps to the start',
      spec: pool('10.0.0.0/24'),
      cursor: '10.0.0.255',
      want: '10.0.0.1',
    },
    {
      name: 'cursor outside the block (spec changed) starts at the beginning',
      spec: pool('10.0.0.0/24'),
      cursor: '10.9.9.9',
      want: '10.0.0.1',
    },
    { name: '/30 hands out .1 first', spec: pool('10.0.0.0/30'), want: '10.0.0.1' },
    {
      name: '/30 hands out .2 second (both inner addresses usable)',
      spec: pool('10.0.0.0/30'),
      allocated: ['10.0.0.1'],
      cursor: '10.0.0.1',
      want: '10.0.0.2',
    },
    { name: '/31 has no usable addresses', spec: pool('10.0.0.0/31'), want: 'exhausted' },
    { name: '/32 has no usable addresses', spec: pool('10.0.0.7/32'), want: 'exhausted' },
    {
      name: 'exhausted /29',
      spec: pool('10.0.0.0/29'),
      allocated: range('10.0.0.', 1, 6),
      cursor: '10.0.0.2',
      want: 'exhausted',
    },
    { name: 'fresh IPv6 /64 skips the subnet-router anycast address', spec: pool('fd00:1::/64'), want: 'fd00:1::1' },
    {
      name: 'IPv6 continues after the cursor',
      spec: pool('fd00:1::/64'),
      allocated: ['fd00:1::1', 'fd00:1::2'],
      cursor: 'fd00:1::2',
      want: 'fd00:1::3',
    },
    {
      name: 'IPv6 wraps from the last address of a /64',
      spec: pool('fd00:1::/64'),
      allocated: ['fd00:1::ffff:ffff:ffff:ffff', 'fd00:1::1'],
      cursor: 'fd00:1::ffff:ffff:ffff:ffff',
      want: 'fd00:1::2',
    },
    {
      name: 'IPv6 exclude of half a /64 is jumped in one step',
      spec: pool('fd00:1::/64', { excludes: ['fd00:1::/65'] }),
      want: 'fd00:1:0:0:8000::',
    },
    {
      name: 'IPv6 /126 has three usable addresses (no broadcast)',
      spec: pool('fd00:1::/126'),
      allocated: ['fd00:1::1', 'fd00:1::2'],
      cursor: 'fd00:1::2',
      want: 'fd00:1::3',
    },
    {
      name: 'IPv6 /126 exhausted',
      spec: pool('fd00:1::/126'),
      allocated: ['fd00:1::1', 'fd00:1::2', 'fd00:1::3'],
      want: 'exhausted',
    },
  ];

  it.each(rows)('$name', ({ spec, allocated, cursor, want }) => {
    if (want === 'exhausted') {
      expect(() => nextAddress(spec, allocated ?? [], cursor)).toThrow(PoolExhaustedError);
    } else {
      expect(nextAddress(spec, allocated ?? [], cursor)).toBe(want);
    }
  });
});

describe('compilePool usable counts', () => {
  const rows: Array<{ name: string; spec: PoolSpec; usable: bigint }> = [
    { name: '/24 has 254 (upstream: 253)', spec: pool('10.0.0.0/24'), usable: 254n },
    { name: '/26 has 62 (upstream: 61)', spec: pool('10.0.0.0/26'), usable: 62n },
    { name: '/30 has 2', spec: pool('10.0.0.0/30'), usable: 2n },
    { name: '/31 has 0', spec: pool('10.0.0.0/31'), usable: 0n },
    { name: 'exclude /30 and a reserved address inside it count once', spec: pool('10.0.0.0/24', { excludes: ['10.0.0.0/30'], reserved: ['10.0.0.2'] }), usable: 251n },
    { name: 'exclude covering the broadcast counts only usable addresses', spec: pool('10.0.0.0/24', { excludes: ['10.0.0.252/30'] }), usable: 251n },
    { name: 'IPv6 /64 has 2^64 - 1', spec: pool('fd00::/64'), usable: (1n << 64n) - 1n },
  ];
  it.each(rows)('$name', ({ spec, usable }) => {
    expect(compilePool(spec).usable).toBe(usable);
  });
});

describe('errors', () => {
  it('PoolExhaustedError names the pool, its block and its usable size', () => {
    const spec = pool('10.0.0.0/29', { name: 'net-a-10.0.0.0-29' });
    let err: unknown;
    try {
      nextAddress(spec, range('10.0.0.', 1, 6), '10.0.0.6');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PoolExhaustedError);
    const e = err as PoolExhaustedError;
    expect(e.pool).toBe('net-a-10.0.0.0-29');
    expect(e.usable).toBe(6n);
    expect(e.code).toBe('PoolExhausted');
    expect(e.message).toContain('"net-a-10.0.0.0-29" (10.0.0.0/29)');
    expect(e.message).toContain('all 6 usable addresses');
    expect(e.hint).toMatch(/hostBlock/);
  });

  it('a /31 pool says it has no usable addresses rather than "all 0"', () => {
    expect(() => nextAddress(pool('10.0.0.0/31'), [])).toThrow(/has no usable addresses/);
  });

  const notInRange: Array<{ name: string; spec: PoolSpec; addr: string; reason: RegExp }> = [
    { name: 'network address', spec: pool('10.0.0.0/24'), addr: '10.0.0.0', reason: /network address/ },
    { name: 'broadcast address', spec: pool('10.0.0.0/24'), addr: '10.0.0.255', reason: /broadcast address/ },
    { name: 'outside the block', spec: pool('10.0.0.0/24'), addr: '10.0.1.1', reason: /outside the pod block/ },
    { name: 'excluded', spec: pool('10.0.0.0/24', { excludes: ['10.0.0.16/28'] }), addr: '10.0.0.20', reason: /excluded or reserved/ },
    { name: 'reserved', spec: pool('10.0.0.0/24', { reserved: ['10.0.0.1'] }), addr: '10.0.0.1', reason: /excluded or reserved/ },
    { name: 'other family', spec: pool('10.0.0.0/24'), addr: 'fd00::1', reason: /not an IPv4 address/ },
  ];
  it.each(notInRange)('NotInRangeError: $name', ({ spec, addr, reason }) => {
    expect(() => nextAddress(spec, [addr])).toThrow(NotInRangeError);
    expect(() => nextAddress(spec, [addr])).toThrow(reason);
  });

  it('AlreadyAllocatedError names the holder and changes nothing', () => {
    const a = new PoolAllocator(compilePool(pool('10.0.0.0/24')));
    a.take(parseIp('10.0.0.9').addr, 'pod default/a');
    expect(() => a.take(parseIp('10.0.0.9').addr, 'pod default/b')).toThrow(AlreadyAllocatedError);
    expect(() => a.take(parseIp('10.0.0.9').addr, 'pod default/b')).toThrow(/10\.0\.0\.9 .* already allocated to pod default\/a/);
    expect(a.holderOf(parseIp('10.0.0.9').addr)).toBe('pod default/a');
    expect(a.allocated).toBe(1);
    // Taking it again for the same holder is a no-op, not an error.
    a.take(parseIp('10.0.0.9').addr, 'pod default/a');
    expect(a.allocated).toBe(1);
  });

  const invalid: Array<{ name: string; spec: PoolSpec; msg: RegExp }> = [
    { name: 'podCIDR with host bits', spec: pool('10.0.0.5/24'), msg: /did you mean 10\.0\.0\.0\/24/ },
    { name: 'podCIDR not CIDR', spec: pool('banana'), msg: /podCIDR/ },
    { name: 'podCIDR outside vlanCIDR', spec: pool('10.1.0.0/24', { vlanCIDR: '10.0.0.0/18' }), msg: /not inside vlanCIDR 10\.0\.0\.0\/18/ },
    { name: 'reserved outside the block', spec: pool('10.0.0.0/24', { reserved: ['10.0.1.1'] }), msg: /reserved address 10\.0\.1\.1 is outside/ },
    { name: 'exclude of the other family', spec: pool('10.0.0.0/24', { excludes: ['fd00::/64'] }), msg: /IPv6 but the pool is IPv4/ },
    { name: 'exclude not an address', spec: pool('10.0.0.0/24', { excludes: ['10.0.0.300/30'] }), msg: /exclude/ },
  ];
  it.each(invalid)('InvalidPoolError: $name', ({ spec, msg }) => {
    expect(() => compilePool(spec)).toThrow(InvalidPoolError);
    expect(() => compilePool(spec)).toThrow(msg);
  });
});

describe('PoolAllocator at scale', () => {
  it('finds the one free address of a nearly full /16 and then reports exhaustion', () => {
    const a = new PoolAllocator(compilePool(pool('10.1.0.0/16')));
    const hole = parseIp('10.1.77.7').addr;
    for (let i = 0; i < 65534; i++) {
      const next = a.next();
      a.take(next, `h${i}`);
    }
    expect(a.free).toBe(0n);
    a.release(hole);
    a.cursor = parseIp('10.1.200.0').addr;
    expect(formatIp(4, a.next())).toBe('10.1.77.7');
    a.take(hole, 'again');
    expect(() => a.next()).toThrow(PoolExhaustedError);
  });

  it('hands out 10,000 distinct IPv6 addresses in order from a /64 without scanning it', () => {
    const a = new PoolAllocator(compilePool(pool('fd00:2::/64')));
    const seen = new Set<bigint>();
    for (let i = 0; i < 10_000; i++) {
      const n = a.next();
      a.take(n, `h${i}`);
      seen.add(n);
    }
    expect(seen.size).toBe(10_000);
    expect(formatIp(6, a.cursor as bigint)).toBe('fd00:2::2710');
  });
});
