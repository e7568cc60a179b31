// The HostNetwork port (docs/conventions.md §4): the links, addresses, routes, rules and sysctls the agent reads
// and changes on its host. `IpHostNetwork` is the real adapter over iproute2 (src/host/exec.ts);
// test/fakes/hostnet.ts is the in-memory fake for unit tests of the reconcilers.
import { readFile, writeFile } from 'node:fs/promises';
import type { IpRule, IpTableRoute, RouteOp } from '../lib/agent/route-diff.js';
import { routeOpsToBatch } from '../lib/agent/route-diff.js';
import { batchIfNameProblem } from '../lib/cni/names.js';
import { ipAnswer, ipBatch, ipJson, ipJsonMany, run, type NetnsRef } from '../host/exec.js';

/** A link as the shim reconciler sees it. */
export interface HostLink {
  name: string;
  ifindex: number;
  kind?: string;
  /** Name of the parent (macvlan/vlan) as `ip` prints it (`link`), when in the same namespace. */
  parent?: string;
  up: boolean;
  /** Global addresses with prefix, e.g. 192.168.0.1/24. */
  addresses: string[];
  /** `ip link set ... alias`: host-device keeps a lent NIC's host name here while it is in a pod. */
  alias?: string;
  /** Link-layer address. */
  mac?: string;
  mtu?: number;
}

/** Link operations (the shim's). Route/rule operations come from src/lib/agent/route-diff.ts. */
export type LinkOp =
  | { op: 'macvlan-add'; name: string; parent: string }
  | { op: 'link-up'; name: string }
  | { op: 'link-down'; name: string }
  /** Renames a link (it must be down). */
  | { op: 'link-rename'; name: string; to: string }
  | { op: 'link-mtu'; name: string; mtu: number }
  | { op: 'link-del'; name: string }
  /** `nodad`: IPv6 without duplicate address detection (the address is known to be this host's). */
  | { op: 'addr-add'; dev: string; address: string; nodad?: boolean }
  | { op: 'addr-del'; dev: string; address: string };

export type NetOp = RouteOp | LinkOp;

export interface HostNetwork {
  rules(): Promise<IpRule[]>;
  routes(table: number): Promise<IpTableRoute[]>;
  links(): Promise<HostLink[]>;
  /** Applies in order, in one batch; stops at the first failure and rejects naming it. */
  apply(ops: NetOp[]): Promise<void>;
  /** Reads a sysctl such as net.ipv4.ip_forward (undefined when absent). */
  sysctl(key: string): Promise<string | undefined>;
  setSysctl(key: string, value: string): Promise<void>;
}

const ADDRESS = /^[0-9A-Fa-f:.]+\/\d{1,3}$/;

/**
 * One `ip -batch` line for a link operation. Names come from the host and from pods (a NIC
 * host-device returns under its pod name), so each is checked before it is interpolated: a name,
 * address or MTU that is not plainly one throws `refusing <op>: ...` and nothing is run.
 */
export function linkOpToBatch(o: LinkOp): string {
  const refuse = (what: string, why: string): never => {
    throw new Error(`refusing ${o.op}: ${what} ${why}`);
  };
  const name = (field: string, v: string) => {
    const bad = batchIfNameProblem(v);
    if (bad) refuse(`${field} ${JSON.stringify(v)}`, `is not an interface name ip -batch can take safely: it ${bad}`);
  };
  if ('name' in o) name('name', o.name);
  if (o.op === 'macvlan-add') name('parent', o.parent);
  if (o.op === 'link-rename') name('new name', o.to);
  if (o.op === 'addr-add' || o.op === 'addr-del') {
    name('device', o.dev);
    if (!ADDRESS.test(o.address)) refuse(`address ${JSON.stringify(o.address)}`, 'is not an address with a prefix length (e.g. 10.0.1.1/24)');
  }
  if (o.op === 'link-mtu' && !(Number.isInteger(o.mtu) && o.mtu > 0)) refuse(`mtu ${o.mtu}`, 'is not a positive integer');
  switch (o.op) {
    case 'macvlan-add':
      return `link add link ${o.parent} name ${o.name} type macvlan mode bridge`;
    case 'link-up':
      return `link set ${o.name} up`;
    case 'link-down':
      return `link set ${o.name} down`;
    case 'link-rename':
      return `link set ${o.name} name ${o.to}`;
    case 'link-mtu':
      return `link set ${o.name} mtu ${o.mtu}`;
    case 'link-del':
      return `link del ${o.name}`;
    case 'addr-add':
      return `addr add ${o.address} dev ${o.dev}${o.nodad ? ' nodad' : ''}`;
    case 'addr-del':
      return `addr del ${o.address} dev ${o.dev}`;
  }
}

export const LINK_OPS: readonly string[] = ['macvlan-add', 'link-up', 'link-down', 'link-rename', 'link-mtu', 'link-del', 'addr-add', 'addr-del'];
const isLinkOp = (o: NetOp): o is LinkOp => LINK_OPS.includes(o.op);

/** The real host network, in the agent's own namespace or `netns` (tests). */
export class IpHostNetwork implements HostNetwork {
  constructor(private readonly netns?: NetnsRef) {}

  /** IPv4 and IPv6 rules (`ip rule show` lists only IPv4). */
  async rules(): Promise<IpRule[]> {
    const both = await ipJsonMany<IpRule>([['-4', 'rule', 'show'], ['-6', 'rule', 'show']], this.netns);
    return both.flatMap(ipAnswer);
  }

  /** IPv4 and IPv6 routes of one table. */
  async routes(table: number): Promise<IpTableRoute[]> {
    const list = async (family: '-4' | '-6') => {
      try {
        return await ipJson<IpTableRoute>([family, 'route', 'show', 'table', String(table)], this.netns);
      } catch (e) {
        // The kernel drops a table with its last route and then refuses to list it.
        if (/FIB table does not exist/.test((e as Error).message)) return [];
        throw e;
      }
    };
    const [v4, v6] = await Promise.all([list('-4'), list('-6')]);
    return [...v4, ...v6];
  }

  async links(): Promise<HostLink[]> {
    type L = { ifname: string; ifindex: number; link?: string; ifalias?: string; address?: string; mtu?: number; flags?: string[]; linkinfo?: { info_kind?: string }; addr_info?: Array<{ local?: string; prefixlen?: number; scope?: string }> };
    const list = await ipJson<L>(['-d', 'addr', 'show'], this.netns);
    return list.map((l) => ({
      name: l.ifname,
      ifindex: l.ifindex,
      ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}),
      ...(l.link !== undefined ? { parent: l.link } : {}),
      up: (l.flags ?? []).includes('UP'),
      ...(l.ifalias ? { alias: l.ifalias } : {}),
      ...(l.address ? { mac: l.address } : {}),
      ...(l.mtu !== undefined ? { mtu: l.mtu } : {}),
      addresses: (l.addr_info ?? []).filter((a) => a.scope === 'global' && a.local).map((a) => `${a.local}/${a.prefixlen}`),
    }));
  }

  async apply(ops: NetOp[]): Promise<void> {
    // Route ops are ordered by routeOpsToBatch; link ops keep their order and come first (routes
    // may name a shim created here).
    // `ip rule` does not take the family from the address and batch lines cannot carry -6, so
    // IPv6 rules go in a second `ip -6 -batch` after everything else.
    const v6rule = (o: NetOp) => (o.op === 'rule-add' || o.op === 'rule-del') && o.src.includes(':');
    const routeOps = ops.filter((o): o is RouteOp => !isLinkOp(o));
    const lines = [...ops.filter(isLinkOp).map(linkOpToBatch), ...routeOpsToBatch(routeOps.filter((o) => !v6rule(o)))];
    await ipBatch(lines, { netns: this.netns });
    const v6 = routeOpsToBatch(routeOps.filter(v6rule));
    if (v6.length) await run('ip', ['-6', '-batch', '-'], { netns: this.netns, input: `${v6.join('\n')}\n` });
  }

  async sysctl(key: string): Promise<string | undefined> {
    if (this.netns) throw new Error('sysctl in another namespace: run the agent inside it');
    try {
      return (await readFile(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8')).trim();
    } catch {
      return undefined;
    }
  }

  async setSysctl(key: string, value: string): Promise<void> {
    if (this.netns) throw new Error('sysctl in another namespace: run the agent inside it');
    await writeFile(`/proc/sys/${key.replaceAll('.', '/')}`, `${value}\n`);
  }
}
