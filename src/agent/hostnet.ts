// The HostNetwork port (style §4): the links, addresses, routes, rules and sysctls the agent reads
// and changes on its host. `IpHostNetwork` is the real adapter over iproute2 (src/host/exec.ts);
// test/fakes/hostnet.ts is the in-memory fake for unit tests of the reconcilers.
import { readFile, writeFile } from 'node:fs/promises';
import type { IpRule, IpTableRoute, RouteOp } from '../lib/agent/route-diff.js';
import { routeOpsToBatch } from '../lib/agent/route-diff.js';
import { ipBatch, ipJson, type NetnsRef } from '../host/exec.js';

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
}

/** Link operations (the shim's). Route/rule operations come from src/lib/agent/route-diff.ts. */
export type LinkOp =
  | { op: 'macvlan-add'; name: string; parent: string }
  | { op: 'link-up'; name: string }
  | { op: 'link-del'; name: string }
  | { op: 'addr-add'; dev: string; address: string }
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

export function linkOpToBatch(o: LinkOp): string {
  switch (o.op) {
    case 'macvlan-add':
      return `link add link ${o.parent} name ${o.name} type macvlan mode bridge`;
    case 'link-up':
      return `link set ${o.name} up`;
    case 'link-del':
      return `link del ${o.name}`;
    case 'addr-add':
      return `addr add ${o.address} dev ${o.dev}`;
    case 'addr-del':
      return `addr del ${o.address} dev ${o.dev}`;
  }
}

const isLinkOp = (o: NetOp): o is LinkOp => ['macvlan-add', 'link-up', 'link-del', 'addr-add', 'addr-del'].includes(o.op);

/** The real host network, in the agent's own namespace or `netns` (tests). */
export class IpHostNetwork implements HostNetwork {
  constructor(private readonly netns?: NetnsRef) {}

  rules(): Promise<IpRule[]> {
    return ipJson<IpRule>(['rule', 'show'], this.netns);
  }

  async routes(table: number): Promise<IpTableRoute[]> {
    try {
      return await ipJson<IpTableRoute>(['route', 'show', 'table', String(table)], this.netns);
    } catch (e) {
      // The kernel drops a table with its last route and then refuses to list it.
      if (/FIB table does not exist/.test((e as Error).message)) return [];
      throw e;
    }
  }

  async links(): Promise<HostLink[]> {
    type L = { ifname: string; ifindex: number; link?: string; flags?: string[]; linkinfo?: { info_kind?: string }; addr_info?: Array<{ local?: string; prefixlen?: number; scope?: string }> };
    const list = await ipJson<L>(['-d', 'addr', 'show'], this.netns);
    return list.map((l) => ({
      name: l.ifname,
      ifindex: l.ifindex,
      ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}),
      ...(l.link !== undefined ? { parent: l.link } : {}),
      up: (l.flags ?? []).includes('UP'),
      addresses: (l.addr_info ?? []).filter((a) => a.scope === 'global' && a.local).map((a) => `${a.local}/${a.prefixlen}`),
    }));
  }

  async apply(ops: NetOp[]): Promise<void> {
    // Route ops are ordered by routeOpsToBatch; link ops keep their order and come first (routes
    // may name a shim created here).
    const lines = [...ops.filter(isLinkOp).map(linkOpToBatch), ...routeOpsToBatch(ops.filter((o): o is RouteOp => !isLinkOp(o)))];
    await ipBatch(lines, { netns: this.netns });
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
