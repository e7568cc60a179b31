// Address math for IPv4 and IPv6 on bigints. Pure; every planner, allocator and route function
// works in these terms and formats only at the edge.
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

/** A network: `base` is the network address (host bits zero), `prefix` its length. */
export interface Cidr {
  readonly family: Family;
  readonly base: bigint;
  readonly prefix: number;
}

/** An address with the prefix length it is configured with (e.g. 192.168.0.5/18). */
export interface IpWithPrefix {
  readonly family: Family;
  readonly addr: bigint;
  readonly prefix: number;
}

/** Thrown for text that is not an address or a network; `reason` is shown to the user. */
export class AddressParseError extends Error {
  constructor(readonly input: string, readonly reason: string) {
    super(`"${input}" is not ${reason}`);
    this.name = 'AddressParseError';
  }
}

export const familyBits = (f: Family): number => (f === 4 ? 32 : 128);

/** Parses one address, IPv4 dotted quad or IPv6 text; rejects IPv4-mapped forms and zone ids. */
export function parseIp(text: string): { family: Family; addr: bigint } {
  const s = text.trim();
  // IPv4 by hand: ipaddr.js's isValidFourPartDecimal throws and catches internally on every
  // non-IPv4 string, which made planning 4096 IPv6 hosts take seconds (bench/plan).
  const m = DOTTED_QUAD.exec(s);
  if (m) {
    const o = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
    if (o.every((x) => x <= 255)) return { family: 4, addr: BigInt(((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!) };
  }
  if (s.includes(':') && !s.includes('%')) {
    const fast = parseHexIpv6(s);
    if (fast !== undefined) return { family: 6, addr: fast };
    // Forms the fast path leaves alone (embedded IPv4, oddities): ipaddr.js decides.
    let b: number[] | undefined;
    try {
      b = ipaddr.IPv6.parse(s).toByteArray();
    } catch {
      b = undefined;
    }
    if (b) return { family: 6, addr: bytesToBig(b) };
  }
  throw new AddressParseError(text, 'an IPv4 or IPv6 address');
}

/**
 * Pure hex-and-colon IPv6 text (RFC 4291 §2.2 forms 1 and 2) to a bigint; undefined otherwise.
 * One pass over the characters into 16-bit groups (split and a regex per group cost a planner of
 * 4096 IPv6 hosts a quarter of its time).
 */
function parseHexIpv6(s: string): bigint | undefined {
  const head: number[] = [];
  const tail: number[] = [];
  let cur = head;
  let gap = false;
  let g = 0;
  let digits = 0;
  const len = s.length;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c === 58) {
      if (i + 1 < len && s.charCodeAt(i + 1) === 58) {
        if (gap) return undefined;
        if (digits > 0) cur.push(g);
        else if (i !== 0) return undefined;
        gap = true;
        cur = tail;
        i++;
        g = 0;
        digits = 0;
        continue;
      }
      if (digits === 0) return undefined;
      cur.push(g);
      g = 0;
      digits = 0;
      continue;
    }
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0 || ++digits > 4) return undefined;
    g = (g << 4) | d;
  }
  if (digits > 0) cur.push(g);
  else if (!(gap && (len === 2 || s.endsWith('::')))) return undefined;
  const n = head.length + tail.length;
  if (gap ? n > 7 : n !== 8) return undefined;
  let hi = 0n;
  for (let i = 0; i < 8; i++) {
    const x = i < head.length ? head[i]! : i >= 8 - tail.length ? tail[i - (8 - tail.length)]! : 0;
    hi = (hi << 16n) | BigInt(x);
  }
  return hi;
}

/** Four decimal octets without leading zeros (a leading zero means octal to some parsers). */
const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

function parsePrefixed(text: string): IpWithPrefix {
  const s = String(text).trim();
  const slash = s.indexOf('/');
  if (slash < 0) throw new AddressParseError(text, 'in CIDR notation (address/prefix, e.g. 192.168.0.0/16)');
  let ip: { family: Family; addr: bigint };
  try {
    ip = parseIp(s.slice(0, slash));
  } catch {
    throw new AddressParseError(text, 'in CIDR notation: the address part is not an IPv4 or IPv6 address');
  }
  const p = s.slice(slash + 1);
  const max = familyBits(ip.family);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
    throw new AddressParseError(text, `in CIDR notation: the prefix must be an integer 0-${max}`);
  }
  return { family: ip.family, addr: ip.addr, prefix: Number(p) };
}

/** Parses "a.b.c.d/p" or "x::/p" keeping the host part (interface addresses). */
export function parseIpWithPrefix(text: string): IpWithPrefix {
  return parsePrefixed(text);
}

/**
 * Parses a network in CIDR notation. With `strict` (the default) host bits must be zero, and the
 * error names the network the user probably meant.
 */
export function parseCidr(text: string, opts: { strict?: boolean } = {}): Cidr {
  const p = parsePrefixed(text);
  const base = maskBase(p.family, p.addr, p.prefix);
  if ((opts.strict ?? true) && base !== p.addr) {
    const meant = formatCidr({ family: p.family, base, prefix: p.prefix });
    throw new AddressParseError(text, `a network address: host bits are set (did you mean ${meant}?)`);
  }
  return { family: p.family, base, prefix: p.prefix };
}

export function tryParseCidr(text: string, opts: { strict?: boolean } = {}): Cidr | undefined {
  try {
    return parseCidr(text, opts);
  } catch {
    return undefined;
  }
}

function bytesToBig(bytes: number[]): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** Formats an address; IPv6 in RFC 5952 canonical form. */
export function formatIp(family: Family, addr: bigint): string {
  if (family === 4) return formatV4(Number(addr));
  const g = new Array<number>(8);
  // Four 32-bit words, each split in two: 4 bigint shifts instead of 8.
  for (let w = 3, v = addr; w >= 0; w--, v >>= 32n) {
    const x = Number(v & 0xffffffffn);
    g[2 * w] = x >>> 16;
    g[2 * w + 1] = x & 0xffff;
  }
  return formatGroups(g);
}

const formatV4 = (n: number): string => `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/**
 * Eight 16-bit groups as RFC 5952 §4 text: lower-case hex without leading zeros; the longest run
 * (first on a tie) of two or more zero groups becomes "::".
 */
function formatGroups(g: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return join16(g, 0, 8);
  return `${join16(g, 0, best)}::${join16(g, best + bestLen, 8)}`;
}

function join16(g: readonly number[], from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += i === from ? g[i]!.toString(16) : `:${g[i]!.toString(16)}`;
  return s;
}

/**
 * The address text of `subnetAt(parent, bits, index)` (`formatIp` of its base) for many sibling
 * blocks: the parent is decomposed once, so each call does number arithmetic only (a planner
 * formats one pod block per host per NIC network). `index` must be below 2^bits and 2^53; the
 * parent's host bits must be zero (as parseCidr and subnetAt leave them).
 */
export function subnetAddressFormatter(parent: Cidr, bits: number): (index: number) => string {
  const prefix = parent.prefix + bits;
  const shift = familyBits(parent.family) - prefix;
  const limit = 2 ** Math.min(bits, 53);
  if (parent.family === 4) {
    const base = Number(parent.base);
    const step = 2 ** shift;
    return (i) => {
      checkIndex(i, limit);
      return formatV4(base + i * step);
    };
  }
  const g0 = new Array<number>(8);
  for (let w = 3, v = parent.base; w >= 0; w--, v >>= 32n) {
    const x = Number(v & 0xffffffffn);
    g0[2 * w] = x >>> 16;
    g0[2 * w + 1] = x & 0xffff;
  }
  // Groups (0 = most significant) that the index bits [shift, shift + bits) touch.
  const touched: number[] = [];
  for (let j = 0; j < 8; j++) {
    const low = 112 - 16 * j;
    if (low < shift + bits && low + 16 > shift) touched.push(j);
  }
  const g = [...g0];
  return (i) => {
    checkIndex(i, limit);
    for (const j of touched) {
      const low = 112 - 16 * j;
      // The index's bits that land in group j; exact in doubles: scaling by powers of two, and the
      // parent's bits there are zero, so adding is OR-ing.
      const part = shift >= low ? (i * 2 ** (shift - low)) % 65536 : Math.floor(i / 2 ** (low - shift)) % 65536;
      g[j] = g0[j]! + part;
    }
    return formatGroups(g);
  };
}

function checkIndex(i: number, limit: number): void {
  if (!(Number.isInteger(i) && i >= 0 && i < limit)) throw new RangeError(`subnet index ${i} out of range 0-${limit - 1}`);
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.base)}/${c.prefix}`;
}

export function formatIpWithPrefix(a: IpWithPrefix): string {
  return `${formatIp(a.family, a.addr)}/${a.prefix}`;
}

function maskBase(family: Family, addr: bigint, prefix: number): bigint {
  const hostBits = BigInt(familyBits(family) - prefix);
  return (addr >> hostBits) << hostBits;
}

/** Number of addresses in the network. */
export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(familyBits(c.family) - c.prefix);
}

export function lastAddress(c: Cidr): bigint {
  return c.base + cidrSize(c) - 1n;
}

export function containsAddr(c: Cidr, family: Family, addr: bigint): boolean {
  return c.family === family && addr >= c.base && addr <= lastAddress(c);
}

/** True when `inner` lies entirely inside `outer`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && inner.prefix >= outer.prefix && containsAddr(outer, inner.family, inner.base);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base <= lastAddress(b) && b.base <= lastAddress(a);
}

/** The `index`-th sub-network of `parent` with `bits` more prefix bits. */
export function subnetAt(parent: Cidr, bits: number, index: number | bigint): Cidr {
  const prefix = parent.prefix + bits;
  const shift = BigInt(familyBits(parent.family) - prefix);
  return { family: parent.family, base: parent.base + (BigInt(index) << shift), prefix };
}

/** Index of `inner`'s network inside `parent` when split into `bits` more prefix bits. */
export function subnetIndexOf(parent: Cidr, bits: number, inner: Cidr): number {
  const shift = BigInt(familyBits(parent.family) - parent.prefix - bits);
  return Number((inner.base - parent.base) >> shift);
}

/** The network containing `addr` with the given prefix. */
export function networkOf(family: Family, addr: bigint, prefix: number): Cidr {
  return { family, base: maskBase(family, addr, prefix), prefix };
}

export function cidrEquals(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base === b.base && a.prefix === b.prefix;
}

export function compareCidr(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.base !== b.base) return a.base < b.base ? -1 : 1;
  return a.prefix - b.prefix;
}

/**
 * Usable host addresses in a pod block: all but the network address and, for IPv4, the broadcast
 * address. IPv6 has no broadcast, but we reserve the subnet-router anycast (first) address alike.
 */
export function usableRange(c: Cidr): { first: bigint; last: bigint; count: bigint } {
  const size = cidrSize(c);
  if (c.family === 4) {
    if (size <= 2n) return { first: c.base, last: c.base - 1n, count: 0n };
    return { first: c.base + 1n, last: c.base + size - 2n, count: size - 2n };
  }
  if (size <= 1n) return { first: c.base, last: c.base - 1n, count: 0n };
  return { first: c.base + 1n, last: c.base + size - 1n, count: size - 1n };
}
