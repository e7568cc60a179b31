// Reconciling a host's policy routing to the desired set: pure diff from what `ip -json rule` and
// `ip -json route show table N` report to a list of operations. Only tables we own are ever read or
// changed, so foreign routes and rules are left alone by construction.
import { formatCidr, parseCidr, parseIp } from '../net/ip.js';

/** What one network needs in its table on this host. */
export interface DesiredTable {
  /** Table name (= network name) and id (from rt_tables). */
  name: string;
  id: number;
  /** Source of the rule `from <subnet> lookup <id>`; empty: no rule (host-subnet mode). */
  subnet: string;
  routes: Array<{ dst: string; via: string; dev: string }>;
}

/** `ip -json rule` entry (fields we read). */
export interface IpRule {
  priority?: number;
  src?: string;
  srclen?: number;
  table?: string | number;
  [k: string]: unknown;
}

/** `ip -json route show table N` entry (fields we read). */
export interface IpTableRoute {
  dst?: string;
  gateway?: string;
  dev?: string;
  type?: string;
  [k: string]: unknown;
}

export type RouteOp =
  | { op: 'rule-add'; src: string; table: number }
  | { op: 'rule-del'; src: string; table: number; priority?: number }
  | { op: 'route-replace'; table: number; dst: string; via: string; dev: string }
  | { op: 'route-del'; table: number; dst: string };

/** Normalises a destination as `ip` prints it ("10.0.0.5" is a /32, "default" is 0.0.0.0/0). */
export function normDst(dst: string | undefined): string {
  if (!dst || dst === 'default') return '0.0.0.0/0';
  if (dst.includes('/')) return formatCidr(parseCidr(dst, { strict: false }));
  const p = parseIp(dst);
  return formatCidr({ family: p.family, base: p.addr, prefix: p.family === 4 ? 32 : 128 });
}

/** The rule's table as a number (`ip` prints names for tables in rt_tables). */
export function ruleTableId(rule: IpRule, names: Record<string, number>): number | undefined {
  const t = rule.table;
  if (typeof t === 'number') return t;
  if (t === undefined) return undefined;
  if (/^\d+$/.test(t)) return Number(t);
  return names[t];
}

/**
 * Operations that bring one owned table and its rules to `want` (or, with `want` undefined, remove
 * the table's routes and rules: the network went away). Routes with the same destination but
 * another gateway or device are replaced. Empty list = already converged.
 */
export function diffTable(
  id: number,
  want: DesiredTable | undefined,
  actualRoutes: IpTableRoute[],
  actualRules: IpRule[],
  names: Record<string, number>,
): RouteOp[] {
  const ops: RouteOp[] = [];
  const rules = actualRules.filter((r) => ruleTableId(r, names) === id);
  const wantSrc = want && want.subnet ? formatCidr(parseCidr(want.subnet, { strict: false })) : undefined;
  let haveRule = false;
  for (const r of rules) {
    const src = r.src === undefined || r.src === 'all' ? undefined : normDst(r.srclen !== undefined ? `${r.src}/${r.srclen}` : r.src);
    if (src !== undefined && src === wantSrc && !haveRule) haveRule = true;
    else ops.push({ op: 'rule-del', src: src ?? 'all', table: id, ...(r.priority !== undefined ? { priority: r.priority } : {}) });
  }
  if (wantSrc && !haveRule) ops.push({ op: 'rule-add', src: wantSrc, table: id });

  const wantRoutes = new Map((want?.routes ?? []).map((r) => [normDst(r.dst), r]));
  const seen = new Set<string>();
  for (const r of actualRoutes) {
    const dst = normDst(r.dst);
    const w = wantRoutes.get(dst);
    if (!w || seen.has(dst)) {
      ops.push({ op: 'route-del', table: id, dst });
      continue;
    }
    seen.add(dst);
    if (r.gateway !== w.via || r.dev !== w.dev || (r.type !== undefined && r.type !== 'unicast')) {
      ops.push({ op: 'route-replace', table: id, dst, via: w.via, dev: w.dev });
    }
  }
  for (const [dst, w] of wantRoutes) if (!seen.has(dst)) ops.push({ op: 'route-replace', table: id, dst, via: w.via, dev: w.dev });
  return ops;
}

/**
 * Whether a route's fields can go into an `ip -batch` line: `via` an address, `dev` an interface
 * name. They come from the CIDR resource (other hosts' hostIP, this host's interfaceName), and a
 * newline in one would be a second batch command (`ip netns exec` runs programs).
 */
export function routeFieldsValid(r: { dst: string; via: string; dev: string }): boolean {
  try {
    normDst(r.dst);
    parseIp(r.via);
  } catch {
    return false;
  }
  return /^[^\s/:]{1,15}$/.test(r.dev) && r.dev !== '.' && r.dev !== '..' && /^[0-9A-Fa-f.:]+$/.test(r.via);
}

/** `ip -batch` lines for the operations (rules deleted first, routes before rules are added). */
export function routeOpsToBatch(ops: RouteOp[]): string[] {
  for (const o of ops) {
    if (o.op === 'route-replace' && !routeFieldsValid(o)) throw new Error(`refusing route ${JSON.stringify(o)}: "via" must be an address and "dev" an interface name`);
  }
  const rank = (o: RouteOp) => ({ 'rule-del': 0, 'route-del': 1, 'route-replace': 2, 'rule-add': 3 })[o.op];
  // No -4/-6 in batch lines (ip rejects options there): the family follows from the addresses.
  return [...ops].sort((a, b) => rank(a) - rank(b)).map((o) => {
    switch (o.op) {
      case 'rule-add':
        return `rule add from ${o.src} lookup ${o.table}`;
      case 'rule-del':
        return `rule del${o.priority !== undefined ? ` priority ${o.priority}` : ''}${o.src === 'all' ? '' : ` from ${o.src}`} lookup ${o.table}`;
      case 'route-replace':
        return `route replace ${o.dst} via ${o.via} dev ${o.dev} table ${o.table}`;
      case 'route-del':
        return `route del ${o.dst} table ${o.table}`;
    }
  });
}
