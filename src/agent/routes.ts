// Host L3 routes of every network on this host (docs/design.md §3.2): one policy table per network, the rule
// `from <subnet> lookup <table>`, and the entries of src/lib/routes.ts routesForHost. Reconciles to
// the desired set in one `ip -batch`; idempotent (a converged host gets zero operations); touches
// only tables it owns (recorded in the data dir), so foreign routes, rules and rt_tables lines stay.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CIDR } from '../lib/crds/types.gen.js';
import { routesForHost } from '../lib/routes.js';
import { diffTable, routeFieldsValid, type DesiredTable, type RouteOp } from '../lib/agent/route-diff.js';
import { ensureTables, parseRtTables, removeTables, validTableName, type RtTableEntry } from '../lib/agent/rt-tables.js';
import type { HostNetwork } from './hostnet.js';

export const DEFAULT_RT_TABLES = '/etc/iproute2/rt_tables';

/** What this host wants for one network. */
export interface NetworkRoutes {
  network: string;
  subnet: string;
  routes: Array<{ dst: string; via: string; dev: string }>;
}

/** The desired routes of `hostName` for a network's CIDR (empty when the host is not in it). */
export function desiredRoutes(cidr: CIDR, hostName: string, localNics?: ReadonlySet<string>): NetworkRoutes {
  const network = cidr.spec.config.name || cidr.metadata.name || '';
  const routes = routesForHost(cidr, hostName)
    // A NIC that is gone cannot carry a route (`ip` would refuse the whole batch).
    .filter((r) => !localNics || localNics.has(r.dev))
    // An entry whose hostIP or interfaceName is not one (a hand-edited CIDR) must not reach `ip -batch`.
    .filter(routeFieldsValid)
    .map(({ dst, via, dev }) => ({ dst, via, dev }));
  return { network, subnet: cidr.spec.config.subnet, routes };
}

export interface RouteReconcileResult {
  /** Operations applied (0 when already converged). */
  ops: RouteOp[];
  tables: Record<string, number>;
  /** Tables removed because their network went away. */
  removed: string[];
  /** Networks whose name cannot be a routing table name (purely numeric): left without routes. */
  skipped: string[];
}

/** Table ownership, persisted so a network deleted while the agent was down is still cleaned up. */
interface Ownership {
  tables: RtTableEntry[];
}

export interface RouteReconcilerOptions {
  hostNet: HostNetwork;
  rtTablesPath?: string;
  /** File recording the tables we own; in memory only when absent. */
  ownershipPath?: string;
}

/** Serialises reconciles (one at a time) and remembers owned tables. */
export class RouteReconciler {
  private owned: RtTableEntry[] | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: RouteReconcilerOptions) {}

  /** Brings the host to exactly `want` (one entry per network this host has routes for). */
  reconcile(want: NetworkRoutes[]): Promise<RouteReconcileResult> {
    const next = this.chain.then(() => this.run(want));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async run(all: NetworkRoutes[]): Promise<RouteReconcileResult> {
    const want = all.filter((w) => validTableName(w.network));
    const skipped = all.filter((w) => !validTableName(w.network)).map((w) => w.network);
    const rtPath = this.opts.rtTablesPath ?? DEFAULT_RT_TABLES;
    const owned = await this.loadOwned();
    const rtText = (await readFile(rtPath, 'utf8').catch(() => '')) as string;
    const ensured = ensureTables(rtText, want.map((w) => w.network));
    if (ensured.added.length) await atomicWrite(rtPath, ensured.text);
    // Owned = recorded + newly added + names we want (an entry of our network's name that was there
    // before is ours from then on: upstream wrote the same lines).
    const wantEntries = want.map((w) => ({ id: ensured.ids[w.network] as number, name: w.network }));
    const allOwned = uniq([...owned, ...wantEntries]);
    await this.saveOwned(allOwned);

    const byId: Record<string, number> = Object.fromEntries(parseRtTables(ensured.text).map((e) => [e.name, e.id]));
    const rules = await this.opts.hostNet.rules();
    const ops: RouteOp[] = [];
    const gone: RtTableEntry[] = [];
    for (const entry of allOwned) {
      const w = want.find((x) => x.network === entry.name && ensured.ids[x.network] === entry.id);
      const desired: DesiredTable | undefined = w ? { name: w.network, id: entry.id, subnet: w.subnet, routes: w.routes } : undefined;
      if (!desired) gone.push(entry);
      const routes = await this.opts.hostNet.routes(entry.id);
      ops.push(...diffTable(entry.id, desired, routes, rules, byId));
    }
    if (ops.length) await this.opts.hostNet.apply(ops);
    if (gone.length) {
      const now = (await readFile(rtPath, 'utf8').catch(() => '')) as string;
      const text = removeTables(now, gone);
      if (text !== now) await atomicWrite(rtPath, text);
      await this.saveOwned(allOwned.filter((e) => !gone.includes(e)));
    }
    return { ops, tables: Object.fromEntries(wantEntries.map((e) => [e.name, e.id])), removed: gone.map((e) => e.name), skipped };
  }

  private async loadOwned(): Promise<RtTableEntry[]> {
    if (this.owned) return this.owned;
    const path = this.opts.ownershipPath;
    if (!path) return (this.owned = []);
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) return (this.owned = []);
    try {
      const o = JSON.parse(text) as Ownership;
      return (this.owned = Array.isArray(o.tables) ? o.tables.filter((t) => Number.isInteger(t.id) && typeof t.name === 'string') : []);
    } catch {
      return (this.owned = []);
    }
  }

  private async saveOwned(tables: RtTableEntry[]): Promise<void> {
    const same = JSON.stringify(tables) === JSON.stringify(this.owned);
    this.owned = tables;
    if (!same && this.opts.ownershipPath) await atomicWrite(this.opts.ownershipPath, `${JSON.stringify({ tables } satisfies Ownership, null, 2)}\n`);
  }
}

function uniq(list: RtTableEntry[]): RtTableEntry[] {
  const out: RtTableEntry[] = [];
  for (const e of list) if (!out.some((o) => o.id === e.id && o.name === e.name)) out.push(e);
  return out;
}

/** Write-then-rename so a reader (ip, another tool) never sees half a file. */
export async function atomicWrite(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.multinic-${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}
