// Human views of a network's address plan, shared by `plan`, `apply` and `status`.
import type { CIDR } from '../../lib/crds/types.gen.js';
import type { PlannedPool, PlanWarning, UnplacedHost } from '../../lib/plan/index.js';
import { routePlan } from '../../lib/routes.js';
import { renderTable, type Column } from '../table.js';

/** One planned network: the CIDR `apply` would write, its pools, what did not fit, the warnings. */
export interface PlannedNetwork {
  name: string;
  cidr: CIDR;
  pools: PlannedPool[];
  unplaced: UnplacedHost[];
  warnings: PlanWarning[];
}

/** Pod-block capacity for humans: exact up to 7 digits, else scientific (IPv6 blocks). */
export function formatCount(n: bigint): string {
  const s = n.toString();
  return s.length <= 7 ? s : Number(n).toExponential(2).replace('e+', 'e');
}

/**
 * The hosts x NICs grid: one row per host, one column per NIC network, each cell the host's pod
 * block and its capacity; `cell` may decorate a cell (status adds pool use and route state);
 * `hostColumn` adds a last column with one cell per host (plan: the NICs claims hold).
 */
export function planTable(
  p: PlannedNetwork,
  wide: boolean,
  color: boolean,
  cell?: (pool: PlannedPool, base: string) => string,
  hostColumn?: { header: string; cell: (hostName: string) => string },
): string {
  const cfg = p.cidr.spec.config;
  const entries = p.cidr.spec.cidr;
  const head = `NETWORK ${p.name}: subnet ${cfg.subnet || '(host-subnet mode)'}, interfaceBlock ${cfg.interfaceBlock}, hostBlock ${cfg.hostBlock}, ${entries.length} NIC network(s), ${new Set(p.pools.map((x) => x.hostName)).size} host(s)\n`;
  if (entries.length === 0) return `${head}(no NIC networks)\n`;
  const columns: Column[] = [{ header: 'HOST' }, ...entries.map((e) => ({ header: `#${e.interfaceIndex} ${e.netAddress}${wide ? ` -> ${e.vlanCIDR}` : ''}` })), ...(hostColumn ? [{ header: hostColumn.header }] : [])];
  const byHost = new Map<string, Map<number, PlannedPool>>();
  for (const pool of p.pools) {
    let m = byHost.get(pool.hostName);
    if (!m) byHost.set(pool.hostName, (m = new Map()));
    m.set(pool.interfaceIndex, pool);
  }
  const rows = [...byHost.keys()].sort().map((h) => [
    h,
    ...entries.map((e) => {
      const pool = byHost.get(h)?.get(e.interfaceIndex);
      if (!pool) return '-';
      const base = `${pool.podCIDR} (${formatCount(pool.capacity)})`;
      const text = wide ? `${base} ${pool.interfaceName} ${pool.hostIP}` : base;
      return cell ? cell(pool, text) : text;
    }),
    ...(hostColumn ? [hostColumn.cell(h)] : []),
  ]);
  return head + renderTable(columns, rows, { color });
}

/** Every host's routes for the network, one row each. */
export function routesTable(p: Pick<PlannedNetwork, 'name' | 'cidr'>, color: boolean): string {
  const rp = routePlan(p.cidr);
  const rows = rp.hosts.flatMap((h) => h.routes.map((r) => [h.hostName, r.dst, r.via, r.dev, r.table]));
  const rule = rp.subnet ? `rule: from ${rp.subnet} lookup ${p.name}` : 'no rule (host-subnet mode)';
  return `NETWORK ${p.name}: ${rule}\n${renderTable([{ header: 'HOST' }, { header: 'DESTINATION' }, { header: 'VIA' }, { header: 'DEV' }, { header: 'TABLE' }], rows, { color })}`;
}
